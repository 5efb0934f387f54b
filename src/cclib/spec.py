"""The run specification: one frozen, validated object that determines a trained run.

A :class:`RunSpec` holds K instances (one per seed) of one architecture trained on one kind of
label, input distribution, loss and optimiser. Everything that changes the trained numbers is a
field; a field that does not apply to the chosen kind cannot be set (``extra="forbid"`` on each
kind), and a wrong type or an out-of-range value is refused when the spec is built, with
pydantic's message naming the field and what it allows.

Values that may differ between instances (``sigma``, ``p``, ``steps``, the embedding width of the
embedding-like mixing) are given as one value or one per seed and stored as one per seed, and
``steps`` left out is stored as its default, so that one model has one spec (and one cache key)::

    RunSpec(seeds=[0, 1], mixing={"kind": "asymmetric", "sigma": 0.02}, inputs={"kind": "bernoulli", "p": 0.01})

Nested parts may be given as dicts (as above) or as the classes below.
"""
from __future__ import annotations

import json
from typing import Annotated, Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .task import default_steps

# strict: a string such as "0.02" is refused, not parsed; an int is a valid float
# sigma is a standard deviation (of the entries of M): non-negative
Sigma = Annotated[float, Field(strict=True, ge=0.0, le=10.0, allow_inf_nan=False)]
Probability = Annotated[float, Field(strict=True, gt=0.0, le=1.0, allow_inf_nan=False)]
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
    et al.'s model). Left at their defaults these fields are not in the spec's canonical form.
    """

    kind: Literal["mlp"] = "mlp"
    n_features: Count = 100
    d_mlp: Count = 50
    activation: Literal["relu", "gelu"] = "relu"
    bias: bool = False
    init_bounds: Literal["published", "textbook"] = "published"
    #: A factor on W_out's initial bound (Fig. 1: sqrt(n / d_embed) starts the MLP where the
    #: residual model's folded W_out starts).
    out_init_scale: Annotated[float, Field(strict=True, gt=0.0, le=10.0, allow_inf_nan=False)] = 1.0
    hidden_layers: Annotated[int, Field(strict=True, ge=1, le=4)] = 1
    skip: bool = False
    out_activation: Literal["none", "relu"] = "none"

    @model_validator(mode="after")
    def _fits(self):
        if self.d_mlp > self.n_features:
            raise ValueError(f"model.d_mlp must be at most n_features ({self.n_features}), got {self.d_mlp}")
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


Architecture = Annotated[Union[MLPArch, ResidualArch], Field(discriminator="kind")]


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
    lr: Annotated[float, Field(strict=True, gt=0.0, le=10.0, allow_inf_nan=False)] = 3e-3
    weight_decay: Annotated[float, Field(strict=True, ge=0.0, le=1.0, allow_inf_nan=False)] = 1e-2
    schedule: Literal["cosine"] = "cosine"


# --- the run --------------------------------------------------------------------------------

class RunSpec(_Frozen):
    """Everything that determines a trained run of K = len(seeds) instances.

    seeds: one non-negative int per instance; the instance's mixing matrix, embedding, initial
    weights and data stream are each drawn from their own stream derived from it.
    model: :class:`MLPArch` (default; a dict without ``kind`` means it) or :class:`ResidualArch`. mixing: one of the mixing kinds
    (default clean); must be left out for the residual model. inputs: :class:`Bernoulli` or
    :class:`OneActive`. target: 'relu' (the paper's labels ReLU(x) + x M^T) or 'abs' (y = |x|,
    Elhage et al.'s absolute-value task; clean mixing only). importance: per-feature loss weights
    (n_features non-negative floats), None for uniform. loss: :class:`Loss` (default MSE). optim: :class:`Optim`. init: another spec (same K and architecture) whose
    trained weights this run starts from.
    """

    seeds: tuple[Annotated[int, Field(ge=0, strict=True)], ...] = Field(min_length=1)
    model: Architecture = MLPArch()
    mixing: Optional[MixingSpec] = None
    inputs: InputSpec
    target: Literal["relu", "abs"] = "relu"
    importance: Optional[tuple[Annotated[float, Field(strict=True, ge=0.0, allow_inf_nan=False)], ...]] = None
    loss: Loss = Loss()
    optim: Optim = Optim()
    init: Optional["RunSpec"] = None

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
        if self.target != "relu" and not isinstance(self.mixing, CleanMixing):
            raise ValueError(f"target {self.target!r} needs the clean mixing and model kind 'mlp' "
                             f"(its labels are |x|, with no mixing term), got mixing {self.mixing}")
        if self.importance is not None and len(self.importance) != n:
            raise ValueError(f"importance must have one weight per feature ({n}), got {len(self.importance)}")
        if self.importance is not None and not any(self.importance):
            raise ValueError("importance must have at least one positive weight: with all weights 0 the "
                             "loss is exactly 0 and nothing is trained")
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
        skip and out_activation), which are left out at their defaults so that a spec's form does
        not change when a field is added."""
        return _without_later_defaults(json.loads(self.model_dump_json()))

    def replace(self, **fields) -> "RunSpec":
        """A new, validated spec with top-level ``fields`` replaced (nested parts as dicts or
        objects). The others keep their stored values: steps, for instance, stay as they are."""
        return RunSpec(**{**{name: getattr(self, name) for name in type(self).model_fields}, **fields})


#: Fields added after the paper's runs, and their defaults (left out of the canonical form).
LATER_DEFAULTS = {"loss": Loss().model_dump(), "target": "relu"}
LATER_MODEL_DEFAULTS = {"hidden_layers": 1, "skip": False, "out_activation": "none"}


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


RunSpec.model_rebuild()
