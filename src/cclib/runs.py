"""A run from its spec: the untrained model and the labels' mixing.

From each instance's seed s the mixing matrix, the embedding, the initial weights and the data
stream are drawn from separate, fixed streams, so an instance is reproducible on its own.

This module and :mod:`cclib.train` (with what they import) are the code a trained run's numbers
depend on: :func:`cclib.sweep.run_code` keys a run on them and nothing else (and on
:mod:`cclib.constructions` only for a run that starts from a construction).
"""
from __future__ import annotations

import torch

from .mixing import Mixing, build, embedding_matrix, embedding_mixing, low_rank_mixing
from .models import MLP, DeepMLP, ResidualMLP
from .spec import CleanMixing, EmbeddingMixing, LowRankMixing, ResidualArch, RunSpec
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
    return build(mix.kind, list(mix.sigma), n, mseeds, zero_diagonal=mix.zero_diagonal,
                 trainable_sigma=mix.trainable_sigma)


def _embedding(n: int, width: int, seeds: list[int]) -> torch.Tensor:
    return embedding_matrix(n, width, [EMBED_SEED + s for s in seeds])


def build_model(spec: RunSpec) -> Model:
    """The untrained model of ``spec`` (its initial weights): an architecture only, whatever the
    target (the task's, :data:`cclib.task.TARGETS`)."""
    arch, seeds = spec.model, list(spec.seeds)
    if isinstance(arch, ResidualArch):
        return ResidualMLP(_embedding(arch.n_features, arch.d_embed, seeds), arch.d_mlp, seeds,
                           arch.init_bounds)
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


def _from_construction(arch, k: int) -> DeepMLP:
    """K copies of the hand-built network ``arch.start`` names (:mod:`cclib.constructions`)."""
    from .constructions import code_network, split_codes
    built = code_network(*split_codes(arch.n_features, arch.d_mlp), arch.d_mlp)
    model = DeepMLP(k, arch.n_features, arch.d_mlp, bias=True, out_activation="relu")
    with torch.no_grad():
        for mine, theirs in zip(model.parameters(), built.parameters(), strict=True):
            mine.copy_(theirs.expand_as(mine))
    return model
