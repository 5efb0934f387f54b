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
from typing import Sequence

import numpy as np
import torch

from . import cache
from ._checks import check_int
from ._types import Model, Numbers
from .evaluate import LossCurve
from .mixing import Mixing, build, embedding_matrix, embedding_mixing, low_rank_mixing
from .models import MLP, ResidualMLP
from .paper_runs import expected_seconds
from .spec import CleanMixing, EmbeddingMixing, LowRankMixing, ResidualArch, RunSpec
from .train import check_importance, choose_engine, plan_training, resolve_device, run_plans

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
               activation=arch.activation, bias=arch.bias, out_init_scale=arch.out_init_scale)


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
    or trained now and stored: :func:`trained_many` of one spec."""
    return trained_many([spec], engine=engine, device=device, progress=progress, folder=folder)[0]


def trained_many(specs: Sequence[RunSpec], *, engine: str | None = None, device: str | None = None,
                 progress: bool = False, folder: Path | None = None,
                 workers: int | None = None, stats: dict | None = None) -> list[Trained]:
    """The trained models of every spec, in order: from the cache, or trained now as one sweep
    and stored.

    The shards of all runs to train are scheduled together, longest first
    (:func:`cclib.paper_runs.expected_seconds`), on the active joblib
    backend (:mod:`cclib.parallel`: every core here, or a Dask cluster under
    ``joblib.parallel_config(backend="dask")``); runs on a GPU train in this process, one after
    another. A run started from another (``spec.init``) trains after it. Only this process reads
    and writes the cache. engine, device: as for :func:`cclib.train.train` (defaults
    $CCLIB_ENGINE and $CCLIB_DEVICE); a run computed by another engine or on another kind of device
    is another cache entry. progress: one bar over the sweep's model-steps, with its ETA.
    workers: as for :func:`cclib.train.train`. stats: a dict that receives the sweep's numbers
    (runs asked for, found in the cache and trained; the training tasks' CPU and wall seconds,
    summed over the rounds a run's ``init`` needs).

    With $CCLIB_CACHE_ONLY=1 a run that is not in the cache is refused (RuntimeError) instead of
    trained: how ``make figures`` checks that the notebooks train nothing its sweep did not.
    """
    workers = None if workers is None else check_int("workers", workers)
    specs = list(specs)
    for i, spec in enumerate(specs):
        if not isinstance(spec, RunSpec):
            raise TypeError(f"specs[{i}] must be a cclib.spec.RunSpec, got {type(spec).__name__}")
    entries = {}  # a run's cache config, as JSON text -> (its spec, the config)

    def config(spec):
        entry = dict(spec=spec.canonical(), compute=compute_context(spec, engine, device))
        key = json.dumps(entry, sort_keys=True)
        entries[key] = (spec, entry)
        return key

    wanted = [config(spec) for spec in specs]
    todo = list(dict.fromkeys(wanted))
    starts = {}  # a run -> the run it starts from
    stack = list(todo)
    while stack:  # the runs they start from, and theirs
        key = stack.pop()
        init = entries[key][0].init
        if init is not None:
            starts[key] = config(init)
            if starts[key] not in todo:
                todo.append(starts[key])
                stack.append(starts[key])
    done: dict[str, Trained] = {}
    counts = dict(runs=len(todo), cached=0, trained=0, tasks=0, task_cpu_seconds=0.0, wall_seconds=0.0)
    while todo:  # in rounds: a run trains once the run it starts from is done
        ready = [key for key in todo if key not in starts or starts[key] in done]
        todo = [key for key in todo if key not in ready]
        missing = []
        for key in ready:
            spec, entry = entries[key]
            arrays = cache.load("trained", entry, folder)
            if arrays is None:
                missing.append(key)
            else:
                done[key] = _from_arrays(spec, entry["compute"], arrays)
        if missing and os.environ.get("CCLIB_CACHE_ONLY", "") not in ("", "0"):
            raise RuntimeError(f"CCLIB_CACHE_ONLY is set and {len(missing)} run(s) are not in the cache "
                               f"(folder {str(folder or cache.default_dir())!r}), e.g. "
                               f"{entries[missing[0]][0].canonical()}")
        models = [_untrained(entries[key][0], done.get(starts.get(key))) for key in missing]
        plans = [_plan(entries[key][0], model, engine, device) for key, model in zip(missing, models)]
        numbers: dict = {}
        speed = [expected_seconds(entries[key][0]) / entries[key][0].model_steps for key in missing]
        results = run_plans(plans, workers=workers, progress=progress, stats=numbers, speed=speed,
                            desc=f"train {len(plans)} run{'s' * (len(plans) != 1)}") if plans else []
        for name, value in numbers.items():
            counts[name] += value
        counts["cached"] += len(ready) - len(missing)
        counts["trained"] += len(missing)
        for key, model, result in zip(missing, models, results):
            spec, entry = entries[key]
            arrays = {f"param_{i}": t.detach().numpy() for i, t in enumerate(model.parameters())}
            arrays = dict(arrays, sigma=result.mixing.sigma.numpy(), loss=result.loss.numpy())
            cache.save("trained", entry, arrays, folder)
            done[key] = _from_arrays(spec, entry["compute"], arrays)
    if stats is not None:
        stats.update(counts)
    return [done[key] for key in wanted]


def _untrained(spec: RunSpec, start: Trained | None) -> Model:
    """The model of ``spec`` before training: its initial weights, or those of ``start``, the
    trained run it starts from (``spec.init``)."""
    model = build_model(spec)
    if start is not None:
        with torch.no_grad():
            for own, theirs in zip(model.parameters(), start.model.parameters()):
                own.copy_(theirs)
    return model


def _plan(spec: RunSpec, model: Model, engine: str | None, device: str | None):
    optim = spec.optim
    return plan_training(model, build_mixing(spec), inputs=spec.inputs.kind,
                         p=list(spec.inputs.p) if spec.inputs.kind == "bernoulli" else None,
                         steps=spec.steps, batch_size=optim.batch_size, lr=optim.lr,
                         weight_decay=optim.weight_decay, seeds=list(spec.seeds),
                         importance=spec.importance, engine=engine, device=device)


def _from_arrays(spec: RunSpec, compute: dict, arrays: dict) -> Trained:
    model = build_model(spec)
    with torch.no_grad():
        for i, param in enumerate(model.parameters()):
            param.copy_(torch.from_numpy(np.asarray(arrays[f"param_{i}"])))
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
