"""What a run starts from, built from its spec: the untrained model and the labels' mixing.

From each instance's seed s the mixing matrix, the embedding, the initial weights and the data
stream are drawn from separate, fixed streams, so an instance is reproducible on its own.

The architectures a spec can name are :data:`BUILDERS`, one builder per ``model.kind`` ('mlp',
'residual'); :func:`add_architecture` adds one (its fields, a pydantic class, and its builder) so
that runs of it train, cache and load through :func:`cclib.experiments.trained` like the paper's.

This module and :mod:`cclib.train` (with what they import) are the code a trained run's numbers
depend on: :func:`cclib.sweep.run_code` keys a run on them and nothing else (and on
:mod:`cclib.constructions` only for a run that starts from a construction; and on the modules of
an added architecture, :func:`outside_code`).
"""
from __future__ import annotations

import hashlib
import inspect
import sys
from typing import Any, Callable

import torch

from . import spec as _spec
from .mixing import Mixing, build as mixing_of_kind, embedding_matrix, embedding_mixing, low_rank_mixing
from .models import MLP, DeepMLP, ResidualMLP
from .spec import CleanMixing, EmbeddingMixing, LowRankMixing, MLPArch, ResidualArch, RunSpec
from .task import Model

MIXING_SEED, EMBED_SEED = 10_000, 20_000


def build_mixing(spec: RunSpec) -> Mixing:
    """The labels' mixing of ``spec``, one matrix per instance (for the residual model: the
    mixing -(W_E W_E^T - I) that its MLP block sees)."""
    n, seeds, mix = spec.model.n_features, list(spec.seeds), spec.mixing
    if isinstance(spec.model, ResidualArch):
        return embedding_mixing(_embedding(n, spec.model.d_embed, seeds), sign=-1)
    if isinstance(mix, EmbeddingMixing):
        if len(set(mix.d_embed)) == 1:
            return embedding_mixing(_embedding(n, mix.d_embed[0], seeds), mix.sign)
        patterns = [embedding_mixing(_embedding(n, w, [s]), mix.sign).pattern[0]
                    for s, w in zip(seeds, mix.d_embed)]                   # one width per instance
        return Mixing(torch.stack(patterns), torch.ones(len(seeds)))
    if isinstance(mix, CleanMixing):
        return Mixing(torch.zeros(len(seeds), n, n), torch.zeros(len(seeds)))
    mseeds = [MIXING_SEED + s for s in seeds]
    if isinstance(mix, LowRankMixing):
        return low_rank_mixing(list(mix.sigma), mix.rank, n, mseeds, spectrum=mix.spectrum,
                               trainable_sigma=mix.trainable_sigma)
    return mixing_of_kind(mix.kind, list(mix.sigma), n, mseeds, zero_diagonal=mix.zero_diagonal,
                          trainable_sigma=mix.trainable_sigma)


def _embedding(n: int, width: int, seeds: list[int]) -> torch.Tensor:
    return embedding_matrix(n, width, [EMBED_SEED + s for s in seeds])


def build_model(spec: RunSpec) -> Model:
    """The untrained model of ``spec`` (its initial weights): an architecture only, whatever the
    target (the task's, :data:`cclib.task.TARGETS`), built by the builder of its ``model.kind``
    (:data:`BUILDERS`)."""
    return BUILDERS[spec.model.kind](spec.model, list(spec.seeds))


def _residual(arch: ResidualArch, seeds: list[int]) -> Model:
    return ResidualMLP(_embedding(arch.n_features, arch.d_embed, seeds), arch.d_mlp, seeds, arch.init_bounds)


def _mlp(arch: MLPArch, seeds: list[int]) -> Model:
    if arch.start == "split_steiner_codes":
        return _from_construction(arch, len(seeds))
    plain = arch.hidden_layers == 1 and not arch.skip and arch.out_activation == "none"
    if plain:
        model = MLP(len(seeds), arch.n_features, arch.d_mlp, seeds, arch.init_bounds,
                    activation=arch.activation, bias=arch.bias, out_init_scale=arch.out_init_scale)
    else:
        model = DeepMLP(len(seeds), arch.n_features, arch.d_mlp, seeds, hidden_layers=arch.hidden_layers,
                        skip=arch.skip, out_activation=arch.out_activation, bias=arch.bias,
                        activation=arch.activation, init_bounds=arch.init_bounds)
    with torch.no_grad():
        if arch.init_scale != 1.0:  # every weight's draw (the biases and the skip start at 0)
            for name, param in model.named_parameters():
                if name.startswith(("W_", "hidden.")):
                    param.mul_(arch.init_scale)
        if arch.out_bias_init != 0.0:
            model.b_out.fill_(arch.out_bias_init)
    return model


#: The builder of each architecture, by ``model.kind``: ``builder(arch, seeds)`` is the untrained
#: model of K = len(seeds) instances, instance k drawn from seeds[k] alone.
BUILDERS: dict[str, Callable[[Any, list[int]], Model]] = {"mlp": _mlp, "residual": _residual}
BUILT_IN = tuple(BUILDERS)


def add_architecture(fields: type, builder: Callable[[Any, list[int]], Model]) -> str:
    """Make a new architecture a kind that a spec's ``model`` can name; return its kind.

    fields: a subclass of :class:`cclib.spec.ArchitectureFields` (frozen, unknown fields refused)
    that declares ``kind``, a one-value ``Literal`` (its name), ``n_features`` and its own
    settings. builder: ``builder(arch, seeds)`` returns its untrained model of K = len(seeds)
    instances (the protocol of :mod:`cclib.models`), instance k drawn from seeds[k] alone. Its runs
    train on the general engine (the fast one computes only the classes
    :func:`cclib.models.closed_forms` names) on the spec's mixing, inputs, target and loss, and are
    cached and read back by :func:`cclib.experiments.trained` like the paper's.

    Their key holds the source of the modules that define ``fields``, ``builder`` and the model's
    classes (:func:`outside_code`), read when it is first needed (``fields``' and ``builder``'s
    now) and kept for this process, as cclib's own code is: edit the module, then restart (or
    :func:`remove_architecture`, reload and add it again). Code those modules import from
    elsewhere is not followed: keep an architecture in one module. A kind that exists is refused
    (ValueError naming it)."""
    if not callable(builder) or getattr(builder, "__module__", None) is None:
        raise TypeError(f"builder must be a function (arch, seeds) -> model defined in a module, got "
                        f"{type(builder).__name__}")
    kind = _spec.add_architecture_fields(fields)
    BUILDERS[kind] = builder
    try:
        for owner in (fields, builder):
            _source(kind, owner.__module__)
    except ValueError:
        remove_architecture(kind)
        raise
    return kind


def remove_architecture(kind: str) -> None:
    """Undo :func:`add_architecture` for ``kind`` (the paper's two, 'mlp' and 'residual', stay)."""
    if kind in BUILT_IN or kind not in BUILDERS:
        added = sorted(set(BUILDERS) - set(BUILT_IN))
        raise ValueError(f"kind must be an added architecture ({', '.join(map(repr, added)) or 'none'}), got {kind!r}")
    _spec.remove_architecture_fields(kind)
    del BUILDERS[kind]
    _SOURCES.pop(kind, None)


def outside_code(arch: Any, model: Model) -> str:
    """The fingerprint of the code outside cclib that builds and runs an added architecture
    (:func:`add_architecture`): the source of the modules that define ``arch``'s class, its
    builder and the model's classes, all but cclib's and :data:`KEYED_LIBRARIES` (whose code is
    in every key already: cclib's by :func:`cclib.sweep.run_code`, the libraries' by their
    versions). '' for the paper's architectures."""
    if arch.kind in BUILT_IN:
        return ""
    owners = [type(arch), BUILDERS[arch.kind], *type(model).__mro__]
    names = sorted({o.__module__ for o in owners} - {None})
    digest = hashlib.sha256()
    for name in names:
        if name.split(".")[0] not in KEYED_LIBRARIES:
            digest.update(name.encode() + b"\0" + _source(arch.kind, name).encode() + b"\0")
    return digest.hexdigest()[:20]


_SOURCES: dict[str, dict[str, str]] = {}  # kind -> module -> its source, as first read


def _source(kind: str, module: str) -> str:
    sources = _SOURCES.setdefault(kind, {})
    if module not in sources:
        try:
            sources[module] = inspect.getsource(sys.modules[module])
        except (KeyError, TypeError, OSError):
            raise ValueError(f"model kind {kind!r} uses code of {module!r}, whose source cclib cannot read: "
                             "define an added architecture in a module (a .py file), so that its runs are "
                             "keyed on its code") from None
    return sources[module]


#: Modules whose code a run's key holds already: cclib's own (by their source) and the libraries
#: whose versions every key holds (:func:`cclib.cache.library_versions`), and Python's builtins.
KEYED_LIBRARIES = ("cclib", "builtins", "torch", "numpy", "scipy", "numba")


def _from_construction(arch, k: int) -> DeepMLP:
    """K copies of the hand-built network ``arch.start`` names (:mod:`cclib.constructions`)."""
    from .constructions import code_network, split_codes
    built = code_network(*split_codes(arch.n_features, arch.d_mlp), arch.d_mlp)
    model = DeepMLP(k, arch.n_features, arch.d_mlp, bias=True, out_activation="relu")
    with torch.no_grad():
        for mine, theirs in zip(model.parameters(), built.parameters(), strict=True):
            mine.copy_(theirs.expand_as(mine))
    return model
