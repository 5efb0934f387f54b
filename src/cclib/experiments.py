"""Train-or-load from one JSON-able configuration, so notebooks share trained models via the cache.

A configuration is a dict (see :func:`run_config`). Seeds are per instance; from each seed s the
mixing matrix, the embedding, the initial weights and the data stream are drawn from separate,
fixed streams, so an instance is reproducible on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import cache
from ._checks import check_choice
from ._types import Model, Numbers, PerInstance, Seeds
from .evaluate import LossCurve
from .mixing import Mixing, build, embedding_matrix, embedding_mixing, low_rank_mixing
from .models import MLP, ResidualMLP
from .train import train

MIXING_SEED, EMBED_SEED = 10_000, 20_000


def run_config(*, seeds: Seeds, sigma: PerInstance = 0.0, kind: str = "asymmetric",
               inputs: str = "bernoulli", p: PerInstance | None = None,
               steps: int | Sequence[int] | None = None, zero_diagonal: bool = False, trainable_sigma: bool = False,
               sign: int = -1, rank: int | None = None, spectrum: str = "flat",
               model: str = "mlp", n_features: int = 100, d_mlp: int = 50,
               d_embed: int | Sequence[int] = 1000,
               batch_size: int = 2048, lr: float = 3e-3, weight_decay: float = 1e-2,
               init: dict | None = None, init_bounds: str = "published") -> dict:
    """A complete, normalised configuration for :func:`trained`: one instance per seed.

    sigma, p and steps may be scalars (shared) or one value per seed. kind: 'clean',
    'asymmetric', 'symmetric', 'embedding' or 'low_rank' (then ``rank``). model: 'mlp' or
    'residual' (the original model; its mixing is then the embedding's, sign -1). d_embed: the
    embedding width; for the MLP with kind 'embedding' it may be one width per seed. init: another
    configuration whose trained weights this run starts from (continued training).
    """
    seeds = [int(s) for s in np.atleast_1d(seeds)]
    k = len(seeds)

    def per_instance(name, value):
        if value is None:
            return None
        values = [float(v) for v in np.atleast_1d(value)]
        if len(values) == 1:
            values = values * k
        if len(values) != k:
            raise ValueError(f"{name} must be one value or one per seed ({k}), got {len(values)}")
        return values

    check_choice("kind", kind, ("clean", "asymmetric", "symmetric", "embedding", "low_rank"))
    check_choice("model", model, ("mlp", "residual"))
    check_choice("init_bounds", init_bounds, ("published", "textbook"))
    if isinstance(d_embed, (int, np.integer)):
        d_embed = int(d_embed)
    else:
        d_embed = [int(w) for w in d_embed]
        if len(d_embed) != k:
            raise ValueError(f"d_embed must be one width or one per seed ({k}), got {len(d_embed)}")
        if model == "residual":
            raise ValueError("d_embed must be one width for model='residual' (its instances share "
                             "one tensor of weights)")
    return dict(seeds=seeds, sigma=per_instance("sigma", sigma), kind=kind, inputs=inputs,
                p=per_instance("p", p),
                steps=None if steps is None else [int(s) for s in per_instance("steps", steps)],
                zero_diagonal=zero_diagonal, trainable_sigma=trainable_sigma, sign=sign,
                rank=rank, spectrum=spectrum, model=model, n_features=n_features, d_mlp=d_mlp,
                d_embed=d_embed, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                init=init, init_bounds=init_bounds)


@dataclass
class Trained:
    """model: trained K instances; mixing: the labels' mixing (learned sigma if trainable);
    loss: (steps, K) minibatch MSE history; config: what produced it."""

    model: torch.nn.Module
    mixing: Mixing
    loss: np.ndarray
    config: dict


def build_mixing(config: dict) -> Mixing:
    """The mixing of a :func:`run_config` configuration, one matrix per instance."""
    n, seeds = config["n_features"], config["seeds"]
    mseeds = [MIXING_SEED + s for s in seeds]
    if config["model"] == "residual" or config["kind"] == "embedding":
        sign = -1 if config["model"] == "residual" else config["sign"]
        widths = config["d_embed"]
        if isinstance(widths, int):
            return embedding_mixing(embedding_matrix(n, widths, [EMBED_SEED + s for s in seeds]), sign)
        patterns = [embedding_mixing(embedding_matrix(n, w, [EMBED_SEED + s]), sign).pattern[0]
                    for s, w in zip(seeds, widths)]                        # one width per instance
        return Mixing(torch.stack(patterns), torch.ones(len(seeds)))
    if config["kind"] == "low_rank":
        return low_rank_mixing(config["sigma"], config["rank"], n, mseeds,
                               spectrum=config["spectrum"], trainable_sigma=config["trainable_sigma"])
    if config["kind"] == "clean":
        return Mixing(torch.zeros(len(seeds), n, n), torch.zeros(len(seeds)))
    return build(config["kind"], config["sigma"], n, mseeds, zero_diagonal=config["zero_diagonal"],
                 trainable_sigma=config["trainable_sigma"])


def build_model(config: dict) -> Model:
    """The untrained model of a :func:`run_config` configuration (its initial weights)."""
    seeds = config["seeds"]
    if config["model"] == "residual":
        w_e = embedding_matrix(config["n_features"], config["d_embed"],
                               [EMBED_SEED + s for s in seeds])
        return ResidualMLP(w_e, config["d_mlp"], seeds, config["init_bounds"])
    return MLP(len(seeds), config["n_features"], config["d_mlp"], seeds, config["init_bounds"])


def _to_arrays(model, mixing, loss):
    arrays = {f"param_{i}": t.detach().numpy() for i, t in enumerate(model.parameters())}
    arrays.update(sigma=mixing.sigma.numpy(), loss=loss)
    return arrays


def trained(config: dict, progress: bool = False, folder: Path | None = None) -> Trained:
    """The trained models for ``config``, from the cache in data/ or trained now and stored."""

    def compute():
        model = build_model(config)
        mixing = build_mixing(config)
        if config["init"] is not None:
            start = trained(config["init"], progress, folder)
            with torch.no_grad():
                for own, theirs in zip(model.parameters(), start.model.parameters()):
                    own.copy_(theirs)
        result = train(model, mixing, inputs=config["inputs"], p=config["p"], steps=config["steps"],
                       batch_size=config["batch_size"], lr=config["lr"],
                       weight_decay=config["weight_decay"], seeds=config["seeds"], progress=progress)
        return _to_arrays(model, result.mixing, result.loss.numpy())

    arrays = cache.cached("trained", config, compute, folder)
    model = build_model(config)
    with torch.no_grad():
        for i, param in enumerate(model.parameters()):
            param.copy_(torch.from_numpy(arrays[f"param_{i}"]))
    mixing = build_mixing(config)
    mixing = Mixing(mixing.pattern, torch.from_numpy(arrays["sigma"]), mixing.trainable_sigma)
    return Trained(model, mixing, arrays["loss"], config)


def cached_curve(what: dict, model: Model, mixing: Mixing, p_eval: Numbers, samples_per_k: int = 4096,
                 seed: int | None = None, folder: Path | None = None) -> LossCurve:
    """:func:`cclib.evaluate.loss_curve` of any model, cached under ``what`` (a JSON-able dict
    that names the model, e.g. its configuration) and the evaluation's settings."""
    from .evaluate import default_seed, loss_curve as evaluate_curve

    seed = default_seed() if seed is None else seed
    key = dict(what, p_eval=[float(p) for p in np.asarray(p_eval)], samples_per_k=int(samples_per_k),
               seed=int(seed))

    def compute():
        c = evaluate_curve(model, mixing, p_eval, samples_per_k, seed)
        return dict(p_eval=c.p_eval, loss=c.loss, se=c.se)

    arrays = cache.cached("curve", key, compute, folder)
    return LossCurve(arrays["p_eval"], arrays["loss"], arrays["se"])


def loss_curve(run: Trained, p_eval: Numbers, samples_per_k: int = 4096, seed: int | None = None,
               folder: Path | None = None) -> LossCurve:
    """:func:`cclib.evaluate.loss_curve` of a trained run, cached alongside its weights."""
    return cached_curve(dict(run=run.config), run.model, run.mixing, p_eval, samples_per_k, seed, folder)
