"""The run specification: one frozen, validated object that determines a trained run.

A :class:`RunSpec` holds K instances (one per seed) of one architecture trained on one kind of
label, input distribution, loss and optimiser. Everything that changes the trained numbers is a
field; a field that does not apply to the chosen kind cannot be set (``extra="forbid"`` on each
kind), and a wrong type or an out-of-range value is refused when the spec is built with a
:class:`SpecError` that names each field and what it allows (a misspelt field: the one it was
probably meant to be, and the fields allowed there).

Values that may differ between instances (``sigma``, ``p``, ``steps``, the embedding width of the
embedding-like mixing) are given as one value or one per seed and stored as one per seed, and
``steps`` left out is stored as its default, so that one model has one spec (and one cache key)::

    RunSpec(seeds=[0, 1], mixing={"kind": "asymmetric", "sigma": 0.02}, inputs={"kind": "bernoulli", "p": 0.01})

Nested parts may be given as dicts (as above) or as the classes below.
"""
from __future__ import annotations

import difflib
import json
import typing
from typing import Annotated, Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._checks import field_range
from .task import TARGETS, check_importance, default_steps, target_of

# strict: a string such as "0.02" is refused, not parsed; an int is a valid float
# sigma is a standard deviation (of the entries of M): non-negative
Sigma = Annotated[float, Field(strict=True, allow_inf_nan=False, **field_range("sigma"))]
Probability = Annotated[float, Field(strict=True, allow_inf_nan=False, **field_range("p"))]
Count = Annotated[int, Field(strict=True, ge=1)]


def _plain(value):
    """numpy scalars and arrays as Python numbers and lists (so that strict fields take them)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _numpy_to_python(cls, data):
        return _plain(data) if isinstance(data, dict) else data


# --- architecture ---------------------------------------------------------------------------

class MLPArch(_Frozen):
    """The paper's simplified model ``act(x W_in + b_in) W_out + b_out`` (biases only with ``bias``).

    Beyond the paper (general engine only): ``hidden_layers`` hidden layers of width ``d_mlp``
    (default 1), ``skip``: a trainable linear map from input to output added to the output (a
    (n, n) matrix S, starting at 0), ``out_activation``: 'relu' puts a ReLU on the output (Elhage
    et al.'s model).

    Other starts (Fig. 19): ``init_scale``, a factor on every weight's initial draw (the biases
    start at 0 whatever it is); ``out_bias_init``, the output bias's initial value (``bias``
    only); ``start``: 'random' (the draws) or 'split_steiner_codes', the hand-built network of
    :func:`cclib.constructions.code_network` on :func:`cclib.constructions.split_codes` (every
    instance starts from it; one hidden layer, biases, the output ReLU). Left at their defaults
    these fields are not in the spec's canonical form.
    """

    kind: Literal["mlp"] = "mlp"
    n_features: Count = 100
    d_mlp: Count = 50
    activation: Literal["relu", "gelu"] = "relu"
    bias: bool = False
    init_bounds: Literal["published", "textbook"] = "published"
    #: A factor on W_out's initial bound (Fig. 1: sqrt(n / d_embed) starts the MLP where the
    #: residual model's folded W_out starts).
    out_init_scale: Annotated[float, Field(strict=True, allow_inf_nan=False, **field_range("out_init_scale"))] = 1.0
    hidden_layers: Annotated[int, Field(strict=True, ge=1, le=4)] = 1
    skip: bool = False
    out_activation: Literal["none", "relu"] = "none"
    init_scale: Annotated[float, Field(strict=True, allow_inf_nan=False, **field_range("init_scale"))] = 1.0
    out_bias_init: Annotated[float, Field(strict=True, ge=-10.0, le=10.0, allow_inf_nan=False)] = 0.0
    start: Literal["random", "split_steiner_codes"] = "random"

    @model_validator(mode="after")
    def _fits(self):
        if self.d_mlp > self.n_features:
            raise ValueError(f"model.d_mlp must be at most n_features ({self.n_features}), got {self.d_mlp}")
        if self.out_bias_init != 0.0 and not self.bias:
            raise ValueError(f"model.out_bias_init needs bias=True (a model without biases has no output "
                             f"bias), got {self.out_bias_init}")
        if self.start != "random":
            fits = (self.bias and self.out_activation == "relu" and self.hidden_layers == 1 and not self.skip
                    and self.activation == "relu" and self.init_scale == 1.0 and self.out_bias_init == 0.0
                    and self.out_init_scale == 1.0)
            if not fits:
                raise ValueError(f"model.start {self.start!r} is a network with one ReLU hidden layer, biases "
                                 "and an output ReLU, and sets every weight: it needs bias=True, "
                                 "out_activation='relu', hidden_layers=1, skip=False, activation='relu' and "
                                 "init_scale, out_bias_init, out_init_scale at their defaults")
            from .constructions import split_code_order
            split_code_order(self.n_features, self.d_mlp)  # refuses sizes without the codes
        if self.out_init_scale != 1.0 and (self.hidden_layers > 1 or self.skip or self.out_activation != "none"):
            raise ValueError("model.out_init_scale must be 1.0 with hidden_layers > 1, skip or an "
                             f"out_activation (the paper's model only), got {self.out_init_scale}")
        return self


class ResidualArch(_Frozen):
    """Braun et al.'s residual model with a fixed random embedding of width ``d_embed``; its labels
    are its own, x + ReLU(x), so a run of it takes no ``mixing``."""

    kind: Literal["residual"]
    n_features: Count = 100
    d_mlp: Count = 50
    d_embed: Count = 1000
    init_bounds: Literal["published", "textbook"] = "published"


class ArchitectureFields(_Frozen):
    """The base class of an added architecture's fields (:func:`cclib.build.add_architecture`):
    frozen, unknown fields refused. A subclass declares ``kind: Literal['its name']``,
    ``n_features`` and its own settings."""


#: The architectures a spec's ``model`` can be, by ``kind``: the paper's two, and those added by
#: :func:`cclib.build.add_architecture`.
ARCHITECTURES: dict[str, type[_Frozen]] = {"mlp": MLPArch, "residual": ResidualArch}


def _architecture():
    return Annotated[Union[tuple(ARCHITECTURES.values())], Field(discriminator="kind")]


Architecture = _architecture()


def add_architecture_fields(fields: type) -> str:
    """Add ``fields`` (a subclass of :class:`ArchitectureFields` with a one-value ``kind``
    Literal and ``n_features``) to the kinds a spec's ``model`` takes; return its kind. Use
    :func:`cclib.build.add_architecture`, which adds its builder with it."""
    if not (isinstance(fields, type) and issubclass(fields, ArchitectureFields)):
        raise TypeError(f"fields must be a subclass of cclib.spec.ArchitectureFields, got {fields!r}")
    kind_field = fields.model_fields.get("kind")
    kinds = typing.get_args(kind_field.annotation) if kind_field is not None else ()
    if kind_field is None or typing.get_origin(kind_field.annotation) is not Literal or len(kinds) != 1 \
            or not isinstance(kinds[0], str):
        raise ValueError(f"fields {fields.__name__} must declare kind: Literal['<its name>'], one string")
    if "n_features" not in fields.model_fields:
        raise ValueError(f"fields {fields.__name__} must declare n_features (the task's size)")
    kind = kinds[0]
    if kind in ARCHITECTURES:
        raise ValueError(f"kind {kind!r} is taken (architectures: {', '.join(map(repr, ARCHITECTURES))})")
    ARCHITECTURES[kind] = fields
    _rebuild()
    return kind


def remove_architecture_fields(kind: str) -> None:
    """Undo :func:`add_architecture_fields` (:func:`cclib.build.remove_architecture`)."""
    del ARCHITECTURES[kind]
    _rebuild()


def _rebuild() -> None:
    RunSpec.model_fields["model"].annotation = _architecture()
    RunSpec.model_rebuild(force=True)


# --- mixing ---------------------------------------------------------------------------------

class CleanMixing(_Frozen):
    """M = 0: labels ReLU(x)."""

    kind: Literal["clean"]


class RandomMixing(_Frozen):
    """Gaussian M with entries of standard deviation sigma; 'symmetric' mirrors the upper triangle."""

    kind: Literal["asymmetric", "symmetric"]
    sigma: Union[Sigma, tuple[Sigma, ...]]
    zero_diagonal: bool = False
    trainable_sigma: bool = False


class EmbeddingMixing(_Frozen):
    """M = sign (W_E W_E^T - I) of a random unit-row embedding of width d_embed (one per seed allowed)."""

    kind: Literal["embedding"]
    sign: Literal[-1, 1] = -1
    d_embed: Union[Count, tuple[Count, ...]] = 1000


class LowRankMixing(_Frozen):
    """Symmetric M of rank ``rank`` with a 'flat' or 'random' spectrum, scaled to entries of rms sigma."""

    kind: Literal["low_rank"]
    sigma: Union[Sigma, tuple[Sigma, ...]]
    rank: Count
    spectrum: Literal["flat", "random"] = "flat"
    trainable_sigma: bool = False


MixingSpec = Annotated[Union[CleanMixing, RandomMixing, EmbeddingMixing, LowRankMixing],
                       Field(discriminator="kind")]


# --- inputs, optimiser ----------------------------------------------------------------------

class Bernoulli(_Frozen):
    """Each feature active with probability p, active values uniform on [-1, 1]."""

    kind: Literal["bernoulli"]
    p: Union[Probability, tuple[Probability, ...]]


class OneActive(_Frozen):
    """Exactly one active feature per sample, uniform over features, value uniform on [-1, 1]."""

    kind: Literal["one_active"]


InputSpec = Annotated[Union[Bernoulli, OneActive], Field(discriminator="kind")]


class Loss(_Frozen):
    """The training loss (:func:`cclib.task.loss`): the mean over batch and features of
    importance x e(output - label), e(r) = r^2 for 'mse' (the paper's), r^4 for 'l4'."""

    kind: Literal["mse", "l4"] = "mse"


class Optim(_Frozen):
    """AdamW (betas (0.9, 0.999), eps 1e-8) with a cosine schedule to zero over each instance's
    steps."""

    steps: Union[None, Count, tuple[Count, ...]] = None
    batch_size: Count = 2048
    lr: Annotated[float, Field(strict=True, allow_inf_nan=False, **field_range("lr"))] = 3e-3
    weight_decay: Annotated[float, Field(strict=True, allow_inf_nan=False, **field_range("weight_decay"))] = 1e-2
    schedule: Literal["cosine"] = "cosine"


# --- the run --------------------------------------------------------------------------------

class RunSpec(_Frozen):
    """Everything that determines a trained run of K = len(seeds) instances.

    seeds: one non-negative int per instance; the instance's mixing matrix, embedding, initial
    weights and data stream are each drawn from their own stream derived from it.
    model: :class:`MLPArch` (default; a dict without ``kind`` means it), :class:`ResidualArch`, or an
    architecture added by :func:`cclib.build.add_architecture` (:data:`ARCHITECTURES`). mixing: one of the mixing kinds
    (default clean); must be left out for the residual model. inputs: :class:`Bernoulli` or
    :class:`OneActive`. target: a name in :data:`cclib.task.TARGETS`, 'relu' (the paper's labels
    ReLU(x) + x M^T) or 'abs' (y = |x|, Elhage et al.'s absolute-value task; clean mixing only).
    importance: per-feature loss weights
    (n_features non-negative floats), None for uniform. loss: :class:`Loss` (default MSE). optim: :class:`Optim`. init: another spec (same K and architecture) whose
    trained weights this run starts from.
    """

    seeds: tuple[Annotated[int, Field(ge=0, strict=True)], ...] = Field(min_length=1)
    model: Architecture = MLPArch()
    mixing: Optional[MixingSpec] = None
    inputs: InputSpec
    target: str = "relu"
    importance: Optional[tuple[Annotated[float, Field(strict=True, ge=0.0, allow_inf_nan=False)], ...]] = None
    loss: Loss = Loss()
    optim: Optim = Optim()
    init: Optional["RunSpec"] = None

    def __init__(self, **fields):
        try:
            super().__init__(**fields)
        except ValidationError as err:  # pydantic's own words, less its internal tags and union noise
            raise SpecError(_explain(err)) from None

    @field_validator("target")
    @classmethod
    def _known_target(cls, value):
        target_of(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _mlp_by_default(cls, data):
        if isinstance(data, dict) and isinstance(data.get("model"), dict) and "kind" not in data["model"]:
            data = {**data, "model": {"kind": "mlp", **data["model"]}}
        return data

    @model_validator(mode="after")
    def _complete(self):
        k = len(self.seeds)
        n = self.model.n_features
        if isinstance(self.model, ResidualArch):
            if self.mixing is not None:
                raise ValueError("mixing must be left out for model kind 'residual': its labels are "
                                 "its own, x + ReLU(x) (the mixing its MLP sees is -(W_E W_E^T - I))")
        elif self.mixing is None:
            object.__setattr__(self, "mixing", CleanMixing(kind="clean"))
        target = TARGETS[self.target]
        if not target.mixing and not isinstance(self.mixing, CleanMixing):
            raise ValueError(f"target {self.target!r} needs the clean mixing and model kind 'mlp' "
                             f"(its labels are {target.formula}, with no mixing term), got mixing {self.mixing}")
        check_importance(self.importance, n)
        _broadcast(self, "inputs", "p", k)
        _broadcast(self, "mixing", "sigma", k)
        _broadcast(self, "mixing", "d_embed", k)
        if self.optim.steps is None:
            probs = self.inputs.p if isinstance(self.inputs, Bernoulli) else (None,) * k
            steps = tuple(default_steps(self.inputs.kind, list(probs), n))
            object.__setattr__(self, "optim", self.optim.model_copy(update={"steps": steps}))
        _broadcast(self, "optim", "steps", k)
        _refuse_twins(self)
        if self.init is not None and (len(self.init.seeds) != k or self.init.model != self.model):
            raise ValueError("init must be a spec with the same number of seeds and the same model "
                             f"(got {len(self.init.seeds)} seeds, model {self.init.model})")
        return self

    @property
    def n_instances(self) -> int:
        """K, the number of instances (one per seed)."""
        return len(self.seeds)

    @property
    def steps(self) -> list[int]:
        """Steps per instance."""
        return list(self.optim.steps)

    @property
    def model_steps(self) -> int:
        """The run's size: steps summed over instances (its cost is about proportional to it)."""
        return sum(self.optim.steps)

    def canonical(self) -> dict:
        """The JSON-able form the cache key hashes: every default filled in, except those of the
        fields added after the paper's runs (the loss, the target, and the model's hidden_layers,
        skip, out_activation, init_scale, out_bias_init and start), which are left out at their
        defaults so that a spec's form does
        not change when a field is added."""
        return _without_later_defaults(json.loads(self.model_dump_json()))

    def replace(self, **fields) -> "RunSpec":
        """A new, validated spec with top-level ``fields`` replaced (nested parts as dicts or
        objects). The others keep their stored values: steps, for instance, stay as they are."""
        return RunSpec(**{**{name: getattr(self, name) for name in type(self).model_fields}, **fields})


#: Fields added after the paper's runs, and their defaults (left out of the canonical form).
LATER_DEFAULTS = {"loss": Loss().model_dump(), "target": "relu"}
LATER_MODEL_DEFAULTS = {"hidden_layers": 1, "skip": False, "out_activation": "none", "init_scale": 1.0,
                        "out_bias_init": 0.0, "start": "random"}


def _without_later_defaults(form: dict) -> dict:
    for name, default in LATER_DEFAULTS.items():
        if form.get(name) == default:
            del form[name]
    if form["model"]["kind"] == "mlp":
        for name, default in LATER_MODEL_DEFAULTS.items():
            if form["model"].get(name) == default:
                del form["model"][name]
    if form.get("init") is not None:
        _without_later_defaults(form["init"])
    return form


def _broadcast(spec: RunSpec, part: str, field: str, k: int) -> None:
    """Store ``spec.<part>.<field>`` as K values (from one value or K)."""
    obj = getattr(spec, part)
    if obj is None or field not in type(obj).model_fields:
        return
    value = getattr(obj, field)
    values = value if isinstance(value, tuple) else (value,) * k
    if len(values) != k:
        raise ValueError(f"{part}.{field} must be one value or one per seed ({k}), got {len(values)}")
    object.__setattr__(spec, part, obj.model_copy(update={field: values}))


def _refuse_twins(spec: RunSpec) -> None:
    """Refuse two instances that would be the same model: the same seed and the same per-instance
    settings train the same numbers twice, and a spread over them is exactly 0. (A seed may repeat
    across a grid, as in a sweep over sigma: those instances differ.)"""
    columns = [spec.seeds] + [getattr(getattr(spec, part), field)
                              for part, field in (("inputs", "p"), ("mixing", "sigma"), ("mixing", "d_embed"),
                                                  ("optim", "steps"))
                              if getattr(spec, part) is not None and field in type(getattr(spec, part)).model_fields]
    seen: dict = {}
    for i, instance in enumerate(zip(*columns)):
        if instance in seen:
            raise ValueError(f"seeds: instances {seen[instance]} and {i} are the same model (seed {instance[0]}, "
                             "the same settings): give each instance its own seed or its own setting")
        seen[instance] = i


class SpecError(ValueError):
    """A spec that cannot be built: every problem on a line of its own, named by its field's path
    (``inputs.p``, ``model.n_features``) with what the field allows; an unknown field with the
    one it was probably meant to be and the fields allowed there."""


def _parts_of(annotation) -> list:
    """The spec parts (classes) a field's annotation may hold: one, several for a union, or none."""
    if isinstance(annotation, type) and issubclass(annotation, _Frozen):
        return [annotation]
    return [cls for arg in typing.get_args(annotation) for cls in _parts_of(arg)]


def _walk(loc: tuple) -> tuple[list, type | None]:
    """A pydantic error location as the path of field names and list indices a user wrote, without
    the discriminator and union-member tags pydantic puts between them; and the part class whose
    field the last name is (None where that is not known)."""
    path, cls, options = [], RunSpec, [RunSpec]
    for item in loc:
        if isinstance(item, int):
            path.append(item)
        elif cls is not None and item in cls.model_fields:
            path.append(item)
            options = _parts_of(cls.model_fields[item].annotation)
            cls = options[0] if len(options) == 1 else None
        else:  # a tag: which member of a union pydantic tried
            tagged = [c for c in options if "kind" in c.model_fields
                      and item in typing.get_args(c.model_fields["kind"].annotation)]
            cls = tagged[0] if tagged else cls
    return path, cls


def _union_noise(error: dict) -> bool:
    """An error of the union member that does not fit the value: "should be a valid tuple" for a
    number, "should be a valid number" for a list."""
    many = isinstance(error.get("input"), (list, tuple))
    return (error["type"] in ("tuple_type", "list_type") and not many) or \
        (error["type"] in ("float_type", "int_type") and many)


def _explain(err) -> str:
    """A ValidationError of a spec as one line per problem."""
    def located(e):
        if e["type"] != "extra_forbidden" or not e["loc"]:
            return _walk(tuple(e["loc"]))
        path, cls = _walk(tuple(e["loc"][:-1]))  # the unknown name is no field: keep it as written
        return [*path, e["loc"][-1]], cls

    errors = [(e, *located(e)) for e in err.errors()]
    unknown = {(tuple(path[:-1]), path[-1]) for e, path, _ in errors if e["type"] == "extra_forbidden" and path}
    problems = []
    for e, path, cls in errors:
        where = ".".join(str(p) for p in path) or "spec"
        if e["type"] == "extra_forbidden" and cls is not None and path:
            allowed = list(cls.model_fields)
            guess = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
            text = (f"unknown field {path[-1]!r}" + (f" (did you mean {guess[0]!r}?)" if guess else "")
                    + f"; the fields of {cls.__name__} are {', '.join(allowed)}")
        elif e["type"] == "missing" and path and any(
                parent == tuple(path[:-1]) and difflib.get_close_matches(str(path[-1]), [str(name)], n=1, cutoff=0.6)
                for parent, name in unknown):
            continue  # a misspelt field: said once, on the unknown field's line
        elif e["type"] == "value_error":
            text = e["msg"].removeprefix("Value error, ")
        else:
            shown = repr(e.get("input"))
            text = f"{e['msg']} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        problems.append((path, _union_noise(e), f"{where}: {text}"))
    # each member of a union reports: keep what the member that fits the value says, unless
    # nothing else was said about that field
    lines = [line for path, noise, line in problems if not noise or not any(
        not other_noise and other[:len(path)] == path for other, other_noise, _ in problems)]
    lines = list(dict.fromkeys(lines))
    return f"{len(lines)} problem{'s' * (len(lines) != 1)} in the spec:\n  " + "\n  ".join(lines)


RunSpec.model_rebuild()
