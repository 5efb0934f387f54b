"""Train-or-load from a :class:`~cclib.spec.RunSpec`, so that notebooks share trained models.

A trained run is an entry of the cache (:mod:`cclib.cache`) keyed on its spec's canonical form,
the engine and device kind that computed it, and :func:`cclib.sweep.run_code`, the fingerprint of
the code that trains it. :func:`trained` (one spec) and :func:`trained_many` read it from the
store (``data/store/``, the paper's runs, committed) or the local cache (``data/``), or train the
missing ones as one sweep (:func:`cclib.sweep.train_jobs`) and write each to the local cache the
moment it is done. :meth:`Trained.save` and :func:`load_run` write and read a run in a folder of
your choice, in the same layout. Loss curves and fits computed from runs are
:mod:`cclib.evaluations`'.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import _env, cache
from ._checks import check_int
from .build import build_mixing, build_model
from .mixing import Mixing
from .spec import RunSpec
from .sweep import RunJob, train_jobs
from .task import Model


@dataclass
class Trained:
    """model: the trained K instances; mixing: the labels' mixing (learned sigma if trainable);
    loss: (steps, K) minibatch loss history; spec: what produced it; compute: the engine and
    device kind that computed it; code: the fingerprint of the code that trained it
    (:func:`cclib.sweep.run_code`)."""

    model: torch.nn.Module
    mixing: Mixing
    loss: np.ndarray
    spec: RunSpec
    compute: dict
    code: str

    def __repr__(self) -> str:
        return (f"Trained({type(self.model).__name__}, K={self.spec.n_instances}, "
                f"steps={max(self.spec.steps)}, engine={self.compute['engine']!r}, "
                f"device={self.compute['device']!r})")

    @property
    def target(self) -> str:
        """What it was trained to output (``spec.target``): evaluate it on the same
        (``target=run.target`` in :mod:`cclib.evaluate`)."""
        return self.spec.target

    def key(self) -> dict:
        """What names this run in the key of a result computed from it: its spec, how it was
        computed, and by which code."""
        return dict(spec=self.spec.canonical(), compute=self.compute, code=self.code)

    def arrays(self) -> dict[str, np.ndarray]:
        """The run's numbers as stored: ``param.<name>`` for each parameter, ``loss`` (steps, K)
        and ``sigma`` (K,)."""
        params = {f"param.{name}": t.detach().cpu().numpy() for name, t in self.model.named_parameters()}
        return dict(params, loss=np.asarray(self.loss), sigma=self.mixing.sigma.detach().cpu().numpy())

    def save(self, folder: str | Path) -> Path:
        """Write the run to ``folder`` (created; must not exist): ``weights.npz`` (:meth:`arrays`)
        and ``run.json`` (spec, compute, code). Written to a temporary folder and renamed, so an
        interrupted save leaves nothing behind."""
        folder = Path(folder)
        if folder.exists():
            raise FileExistsError(f"folder {str(folder)!r} exists; save writes a new folder")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        try:
            (tmp / "weights.npz").write_bytes(cache.npz_bytes(self.arrays()))
            (tmp / "run.json").write_text(json.dumps(self.key(), indent=1))
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder


def load_run(folder: str | Path) -> Trained:
    """A run written by :meth:`Trained.save`, rebuilt from its spec and weights (no pickle)."""
    folder = Path(folder)
    info = json.loads((folder / "run.json").read_text())
    with np.load(folder / "weights.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return from_arrays(RunSpec.model_validate(info["spec"]), info["compute"], info["code"], arrays)


def from_arrays(spec: RunSpec, compute: dict, code: str, arrays: dict[str, np.ndarray],
                model: Model | None = None, mixing: Mixing | None = None) -> Trained:
    """The run of ``spec`` whose numbers are ``arrays`` (:meth:`Trained.arrays`), written into
    ``model`` and ``mixing`` if given (the spec's, built by :mod:`cclib.build`), else into new ones."""
    model = build_model(spec) if model is None else model
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(torch.from_numpy(np.asarray(arrays[f"param.{name}"])))
    mixing = build_mixing(spec) if mixing is None else mixing
    mixing = Mixing(mixing.pattern, torch.from_numpy(np.asarray(arrays["sigma"])), mixing.trainable_sigma)
    return Trained(model, mixing, arrays["loss"], spec, compute, code)


def compute_context(spec: RunSpec, engine: str | None = None, device: str | None = None) -> dict:
    """How ``spec`` would be trained: the engine and the device kind (:class:`cclib.sweep.RunJob`)."""
    return RunJob(spec, engine, device).compute


def trained(spec: RunSpec, *, engine: str | None = None, device: str | None = None,
            progress: bool = False, folder: Path | None = None) -> Trained:
    """The trained models of ``spec``, from the store or the cache, or trained now and cached:
    :func:`trained_many` of one spec."""
    return trained_many([spec], engine=engine, device=device, progress=progress, folder=folder)[0]


def trained_many(specs: Sequence[RunSpec], *, engine: str | None = None, device: str | None = None,
                 progress: bool = False, folder: Path | None = None, workers: int | None = None,
                 stats: dict | None = None, record: dict | None = None) -> list[Trained]:
    """The trained models of every spec, in order: read from the store or the local cache, or
    trained now as one sweep (:func:`cclib.sweep.train_jobs`: every missing run's shards
    together, longest first, on the active joblib backend; a run started from another,
    ``spec.init``, after it or shard by shard with it).

    Where runs are read: ``folder`` alone if given; else the store (:func:`cclib.cache.store_dir`)
    and then the local cache (:func:`cclib.cache.default_dir`). Where they are written: ``folder``
    if given, else the local cache; each run the moment its last task ends, so an interrupted
    sweep keeps every run finished before it. Only this process reads and writes the cache.
    engine, device: as for :func:`cclib.train.train` (defaults $CCLIB_ENGINE and $CCLIB_DEVICE);
    a run computed by another engine or on another kind of device is another entry. progress:
    one bar over the sweep's model-steps, with its ETA. workers: as for
    :func:`cclib.train.train`. stats: a dict that receives the sweep's numbers (runs asked for,
    found stored and trained; the training tasks' CPU and wall seconds). record: more to write
    into each trained run's JSON (e.g. the machine that trained it).

    With $CCLIB_CACHE_ONLY=1 a run that is not stored is refused (RuntimeError) instead of
    trained: how ``make figures`` and ``make test`` check that the notebooks train nothing.
    """
    workers = None if workers is None else check_int("workers", workers)
    specs = list(specs)
    for i, spec in enumerate(specs):
        if not isinstance(spec, RunSpec):
            raise TypeError(f"specs[{i}] must be a cclib.spec.RunSpec, got {type(spec).__name__}")
    jobs: dict[str, RunJob] = {}
    starts: dict[str, str] = {}  # a run -> the run it starts from

    def enter(spec):
        job = RunJob(spec, engine, device)
        if job.key not in jobs:
            jobs[job.key] = job
            if spec.init is not None:
                starts[job.key] = enter(spec.init)
        return job.key

    wanted = [enter(spec) for spec in specs]
    reads = [Path(folder)] if folder is not None else [d for d in (cache.store_dir(), cache.default_dir()) if d]
    write = Path(folder) if folder is not None else cache.default_dir()
    done: dict[str, Trained] = {}
    damaged: dict[str, tuple[Path, str]] = {}  # a run -> its damaged committed entry (kept, never served)
    for key, job in jobs.items():
        for place in reads:
            found: list = []
            arrays = cache.load("trained", job.config, place, code=job.code,
                                discard=place == write, damaged=found)
            if found and place != write:
                damaged[key] = found[0]
            if arrays is not None:
                done[key] = from_arrays(job.spec, job.compute, job.code, arrays, job.model, job.mixing)
                break
    missing = [key for key in jobs if key not in done]
    counts = dict(runs=len(jobs), cached=len(done), trained=0, tasks=0, task_cpu_seconds=0.0,
                  wall_seconds=0.0)
    broken = [key for key in missing if key in damaged]
    if missing and (_env.get("CCLIB_CACHE_ONLY") or "0") != "0":
        absent = [key for key in missing if key not in damaged]
        parts = []
        if broken:
            parts.append(_damaged_text(broken, damaged, jobs))
        if absent:
            parts.append(f"{len(absent)} run(s) are not stored (read from {', '.join(map(str, reads))}), "
                         f"e.g. {jobs[absent[0]].spec.canonical()}")
        raise RuntimeError("CCLIB_CACHE_ONLY is set and " + "; and ".join(parts))
    if broken:  # said plainly, not in one line among many: this retrains what the store should hold
        text = (f"{_damaged_text(broken, damaged, jobs)}.\nRetraining {'it' if len(broken) == 1 else 'them'} "
                f"now into {write} (about {sum(jobs[k].seconds for k in broken) / 60:.1f} "
                f"core-minutes); the store stays as it is until restored.")
        bar = "=" * 78
        print(f"\n{bar}\ncclib: WARNING: {text}\n{bar}\n", file=sys.stderr, flush=True)

    def keep(key, loss, trained_mixing):
        job = jobs[key]
        run = Trained(job.model, trained_mixing, loss.numpy(), job.spec, job.compute, job.code)
        cache.save("trained", job.config, run.arrays(), write, code=job.code, info=record)
        done[key] = run

    if missing:
        train_jobs({key: jobs[key] for key in missing}, starts, {key: run.model for key, run in done.items()},
                   keep, workers=workers, progress=progress, counts=counts)
    if stats is not None:
        stats.update(counts)
    return [done[key] for key in wanted]


def _damaged_text(keys, damaged, jobs) -> str:
    files = [str(damaged[k][0]) + f" ({damaged[k][1]})" for k in keys]
    paths = [p for k in keys for p in (damaged[k][0], damaged[k][0].with_suffix(".json"))]
    return (f"{len(keys)} stored run(s) are damaged, not missing: {'; '.join(files)}. Restore the "
            f"committed files with `{cache.restore_command(paths)}`")
