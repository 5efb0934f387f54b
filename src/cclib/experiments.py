"""Train-or-load from a :class:`~cclib.spec.RunSpec`, so notebooks share trained models via the cache.

From each instance's seed s the mixing matrix, the embedding, the initial weights and the data
stream are drawn from separate, fixed streams, so an instance is reproducible on its own.

A trained run is cached under its spec's canonical form and the engine and device kind that
computed it (see :mod:`cclib.cache`); :meth:`Trained.save` and :func:`load_run` write and read a
run in a folder of your choice (npz and JSON, no pickle).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import cache
from ._types import Model, Numbers
from .evaluate import LossCurve
from .mixing import Mixing, build, embedding_matrix, embedding_mixing, low_rank_mixing
from .models import MLP, ResidualMLP
from .spec import CleanMixing, EmbeddingMixing, LowRankMixing, ResidualArch, RunSpec
from .train import choose_engine, check_importance, resolve_device, train

MIXING_SEED, EMBED_SEED = 10_000, 20_000


@dataclass
class Trained:
    """model: the trained K instances; mixing: the labels' mixing (learned sigma if trainable);
    loss: (steps, K) minibatch loss history; spec: what produced it; compute: the engine and
    device kind that computed it."""

    model: torch.nn.Module
    mixing: Mixing
    loss: np.ndarray
    spec: RunSpec
    compute: dict

    def __repr__(self) -> str:
        return (f"Trained({type(self.model).__name__}, K={self.spec.n_instances}, "
                f"steps={max(self.spec.steps)}, engine={self.compute['engine']!r}, "
                f"device={self.compute['device']!r})")

    def key(self) -> dict:
        """What names this run in a cache key: its spec and how it was computed."""
        return dict(spec=self.spec.canonical(), compute=self.compute)

    def save(self, folder: str | Path) -> Path:
        """Write the run to ``folder`` (created; must not exist): ``weights.npz`` (parameters by
        name, loss history, sigma) and ``run.json`` (spec and compute). Written to a temporary
        folder and renamed, so an interrupted save leaves nothing behind."""
        folder = Path(folder)
        if folder.exists():
            raise FileExistsError(f"folder {str(folder)!r} exists; save writes a new folder")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        try:
            arrays = {f"param.{name}": t.detach().cpu().numpy() for name, t in self.model.named_parameters()}
            np.savez(tmp / "weights.npz", loss=self.loss, sigma=self.mixing.sigma.numpy(), **arrays)
            (tmp / "run.json").write_text(json.dumps(dict(spec=self.spec.canonical(), compute=self.compute),
                                                     indent=1))
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder


def load_run(folder: str | Path) -> Trained:
    """A run written by :meth:`Trained.save`, rebuilt from its spec and weights (no pickle)."""
    folder = Path(folder)
    info = json.loads((folder / "run.json").read_text())
    spec = RunSpec.model_validate(info["spec"])
    with np.load(folder / "weights.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    model = build_model(spec)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(torch.from_numpy(arrays[f"param.{name}"]))
    return Trained(model, _with_sigma(build_mixing(spec), arrays["sigma"]), arrays["loss"], spec, info["compute"])


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
    """The untrained model of ``spec`` (its initial weights)."""
    arch, seeds = spec.model, list(spec.seeds)
    if isinstance(arch, ResidualArch):
        return ResidualMLP(_embedding(arch.n_features, arch.d_embed, seeds), arch.d_mlp, seeds,
                           arch.init_bounds)
    return MLP(len(seeds), arch.n_features, arch.d_mlp, seeds, arch.init_bounds,
               activation=arch.activation, bias=arch.bias)


def compute_context(spec: RunSpec, engine: str | None = None, device: str | None = None) -> dict:
    """How ``spec`` would be trained: the engine :func:`cclib.train.choose_engine` picks and the
    device kind (both part of the cache key: they change the numbers' last digits)."""
    dev = resolve_device(device)
    model = build_model(spec)
    weight = check_importance(spec.importance, spec.model.n_features)
    return dict(engine=choose_engine(engine, model, dev, weight), device=dev.type)


def _with_sigma(mixing: Mixing, sigma: np.ndarray) -> Mixing:
    return Mixing(mixing.pattern, torch.from_numpy(np.asarray(sigma)), mixing.trainable_sigma)


def trained(spec: RunSpec, *, engine: str | None = None, device: str | None = None,
            progress: bool = False, folder: Path | None = None) -> Trained:
    """The trained models of ``spec``, from the cache (``folder``, default :func:`cache.default_dir`)
    or trained now and stored. engine, device: as for :func:`cclib.train.train` (defaults
    $CCLIB_ENGINE and $CCLIB_DEVICE); a run computed by another engine or on another kind of
    device is another cache entry."""
    if not isinstance(spec, RunSpec):
        raise TypeError(f"spec must be a cclib.spec.RunSpec, got {type(spec).__name__}")
    compute = compute_context(spec, engine, device)

    def run():
        model = build_model(spec)
        if spec.init is not None:
            start = trained(spec.init, engine=engine, device=device, progress=progress, folder=folder)
            with torch.no_grad():
                for own, theirs in zip(model.parameters(), start.model.parameters()):
                    own.copy_(theirs)
        optim = spec.optim
        result = train(model, build_mixing(spec), inputs=spec.inputs.kind,
                       p=list(spec.inputs.p) if spec.inputs.kind == "bernoulli" else None,
                       steps=spec.steps, batch_size=optim.batch_size, lr=optim.lr,
                       weight_decay=optim.weight_decay, seeds=list(spec.seeds),
                       importance=spec.importance, progress=progress, engine=compute["engine"],
                       device=device)
        arrays = {f"param_{i}": t.detach().numpy() for i, t in enumerate(model.parameters())}
        return dict(arrays, sigma=result.mixing.sigma.numpy(), loss=result.loss.numpy())

    arrays = cache.cached("trained", dict(spec=spec.canonical(), compute=compute), run, folder)
    model = build_model(spec)
    with torch.no_grad():
        for i, param in enumerate(model.parameters()):
            param.copy_(torch.from_numpy(arrays[f"param_{i}"]))
    return Trained(model, _with_sigma(build_mixing(spec), arrays["sigma"]), arrays["loss"], spec, compute)


def cached_curve(what: dict, model: Model, mixing: Mixing, p_eval: Numbers, samples_per_k: int = 4096,
                 seed: int | None = None, folder: Path | None = None) -> LossCurve:
    """:func:`cclib.evaluate.loss_curve` of any model, cached under ``what`` (a JSON-able dict
    that names the model, e.g. its run's :meth:`Trained.key`) and the evaluation's settings (the
    default device, on which it computes, is in every key: :func:`cclib.cache.config_key`)."""
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
    return cached_curve(dict(run=run.key()), run.model, run.mixing, p_eval, samples_per_k, seed, folder)
