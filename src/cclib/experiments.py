"""Train-or-load from a :class:`~cclib.spec.RunSpec`, so that notebooks share trained models.

A trained run is an entry of the cache (:mod:`cclib.cache`) keyed on its spec's canonical form,
the engine and device kind that computed it, and :func:`run_code`, the fingerprint of the code
that trains it. It is read from the store (``data/store/``, the paper's runs, committed) or the
local cache (``data/``), or trained and written to the local cache the moment it is done
(:func:`trained_many`). Loss curves (:func:`loss_curve`) and fits (:func:`semi_nmf_fit`) are
cached under their own code and the key of the run they read. :meth:`Trained.save` and
:func:`load_run` write and read a run in a folder of your choice, in the same layout.
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
from ._checks import check_choice, check_int, resolve_device
from ._types import Numbers
from .evaluate import LossCurve
from .mixing import Mixing
from .models import set_parameters
from .paper_runs import expected_seconds
from .parallel import chainable, run_plans
from .runs import build_mixing, build_model
from .spec import RunSpec
from .task import LOSSES, Model
from .train import choose_engine, make_plan, procedure_of

#: Each engine's module; a run's key covers its own engine's module, not the other's.
ENGINE_MODULES = {"fast": "fast", "general": "general"}


#: Modules that decide where and when a run's tasks run, never what they compute: the tests hold
#: a run's bits equal on 1 or 2 workers and on a Dask cluster (:mod:`cclib.parallel`).
SCHEDULING = ("parallel",)


def run_code(engine: str, package_dir: Path | None = None) -> str:
    """The fingerprint of the code that trains a run on ``engine`` ('fast' or 'general'):
    :mod:`cclib.runs` (the model and mixing from the spec) and :mod:`cclib.train` (the engine's
    choice and the plan) with every cclib module they import, the other engine's module left
    out, and :data:`SCHEDULING` (:func:`cclib.cache.code_fingerprint`). Evaluation, baselines,
    bounds, analysis, the scheduler and this module are not in it: editing them re-keys no
    trained run. package_dir: as for
    :func:`cclib.cache.code_fingerprint`."""
    if engine not in ENGINE_MODULES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINE_MODULES))}, got {engine!r}")
    others = [module for name, module in ENGINE_MODULES.items() if name != engine]
    return cache.code_fingerprint(("runs", "train"), stop=[*others, *SCHEDULING], package_dir=package_dir)


#: The code of a loss curve (:func:`cached_curve`) and of a semi-NMF fit (:func:`semi_nmf_fit`).
CURVE_CODE = ("evaluate",)
SNMF_CODE = ("runs", "baselines", "evaluate")


@dataclass
class Trained:
    """model: the trained K instances; mixing: the labels' mixing (learned sigma if trainable);
    loss: (steps, K) minibatch loss history; spec: what produced it; compute: the engine and
    device kind that computed it; code: the fingerprint of the code that trained it
    (:func:`run_code`)."""

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
    ``model`` and ``mixing`` if given (the spec's, built by :mod:`cclib.runs`), else into new ones."""
    model = build_model(spec) if model is None else model
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(torch.from_numpy(np.asarray(arrays[f"param.{name}"])))
    mixing = build_mixing(spec) if mixing is None else mixing
    mixing = Mixing(mixing.pattern, torch.from_numpy(np.asarray(arrays["sigma"])), mixing.trainable_sigma)
    return Trained(model, mixing, arrays["loss"], spec, compute, code)


def compute_context(spec: RunSpec, engine: str | None = None, device: str | None = None) -> dict:
    """How ``spec`` would be trained: the engine and the device kind (:class:`RunKey`)."""
    return RunKey(spec, engine, device).compute


def trained(spec: RunSpec, *, engine: str | None = None, device: str | None = None,
            progress: bool = False, folder: Path | None = None) -> Trained:
    """The trained models of ``spec``, from the store or the cache, or trained now and cached:
    :func:`trained_many` of one spec."""
    return trained_many([spec], engine=engine, device=device, progress=progress, folder=folder)[0]


class RunKey:
    """A run asked of :func:`trained_many`: its spec, its untrained model and mixing and its
    procedure (each built once, here), the engine and device it is computed on (chosen once,
    here), its code and its key."""

    def __init__(self, spec: RunSpec, engine: str | None, device: str | None):
        self.spec = spec
        self.model, self.mixing, self.procedure = build_model(spec), build_mixing(spec), procedure_of(spec)
        self.device = resolve_device(device)
        self.engine = choose_engine(engine, self.model, self.device, self.procedure)
        self.compute = dict(engine=self.engine, device=self.device.type)
        self.code = run_code(self.engine)
        self.config = dict(spec=spec.canonical(), compute=self.compute)
        self.key = cache.config_key(self.config, self.code)


def trained_many(specs: Sequence[RunSpec], *, engine: str | None = None, device: str | None = None,
                 progress: bool = False, folder: Path | None = None, workers: int | None = None,
                 stats: dict | None = None, record: dict | None = None) -> list[Trained]:
    """The trained models of every spec, in order: read from the store or the local cache, or
    trained now as one sweep.

    Where runs are read: ``folder`` alone if given; else the store (:func:`cclib.cache.store_dir`)
    and then the local cache (:func:`cclib.cache.default_dir`). Where they are written: ``folder``
    if given, else the local cache; each run the moment its last task ends, so an interrupted
    sweep keeps every run finished before it.

    The shards of all runs to train are scheduled together, longest first
    (:func:`cclib.paper_runs.expected_seconds`), on the active joblib backend
    (:mod:`cclib.parallel`: every core here, or a Dask cluster under
    ``joblib.parallel_config(backend="dask")``); runs on a GPU train in this process, one after
    another. A run started from another (``spec.init``) follows it shard by shard in the same
    task when their shards line up (:func:`cclib.parallel.chainable`), else after it. Only this
    process reads and writes the cache. engine, device: as for :func:`cclib.train.train` (defaults
    $CCLIB_ENGINE and $CCLIB_DEVICE); a run computed by another engine or on another kind of
    device is another entry. progress: one bar over the sweep's model-steps, with its ETA.
    workers: as for :func:`cclib.train.train`. stats: a dict that receives the sweep's numbers
    (runs asked for, found stored and trained; the training tasks' CPU and wall seconds).
    record: more to write into each trained run's JSON (e.g. the machine that trained it).

    With $CCLIB_CACHE_ONLY=1 a run that is not stored is refused (RuntimeError) instead of
    trained: how ``make figures`` and ``make test`` check that the notebooks train nothing.
    """
    workers = None if workers is None else check_int("workers", workers)
    specs = list(specs)
    for i, spec in enumerate(specs):
        if not isinstance(spec, RunSpec):
            raise TypeError(f"specs[{i}] must be a cclib.spec.RunSpec, got {type(spec).__name__}")
    entries: dict[str, RunKey] = {}
    starts: dict[str, str] = {}  # a run -> the run it starts from

    def enter(spec):
        entry = RunKey(spec, engine, device)
        if entry.key not in entries:
            entries[entry.key] = entry
            if spec.init is not None:
                starts[entry.key] = enter(spec.init)
        return entry.key

    wanted = [enter(spec) for spec in specs]
    reads = [Path(folder)] if folder is not None else [d for d in (cache.store_dir(), cache.default_dir()) if d]
    write = Path(folder) if folder is not None else cache.default_dir()
    done: dict[str, Trained] = {}
    damaged: dict[str, tuple[Path, str]] = {}  # a run -> its damaged committed entry (kept, never served)
    for key, entry in entries.items():
        for place in reads:
            found: list = []
            arrays = cache.load("trained", entry.config, place, code=entry.code,
                                discard=place == write, damaged=found)
            if found and place != write:
                damaged[key] = found[0]
            if arrays is not None:
                done[key] = from_arrays(entry.spec, entry.compute, entry.code, arrays, entry.model, entry.mixing)
                break
    missing = [key for key in entries if key not in done]
    counts = dict(runs=len(entries), cached=len(done), trained=0, tasks=0, task_cpu_seconds=0.0,
                  wall_seconds=0.0)
    broken = [key for key in missing if key in damaged]
    if missing and (_env.get("CCLIB_CACHE_ONLY") or "0") != "0":
        absent = [key for key in missing if key not in damaged]
        parts = []
        if broken:
            parts.append(_damaged_text(broken, damaged, entries))
        if absent:
            parts.append(f"{len(absent)} run(s) are not stored (read from {', '.join(map(str, reads))}), "
                         f"e.g. {entries[absent[0]].spec.canonical()}")
        raise RuntimeError("CCLIB_CACHE_ONLY is set and " + "; and ".join(parts))
    if broken:  # said plainly, not in one line among many: this retrains what the store should hold
        text = (f"{_damaged_text(broken, damaged, entries)}.\nRetraining {'it' if len(broken) == 1 else 'them'} "
                f"now into {write} (about {sum(expected_seconds(entries[k].spec) for k in broken) / 60:.1f} "
                f"core-minutes); the store stays as it is until restored.")
        bar = "=" * 78
        print(f"\n{bar}\ncclib: WARNING: {text}\n{bar}\n", file=sys.stderr, flush=True)
    while missing:
        # a wave: every run whose start is done, each followed by the runs that start from it
        # (a chain) where their shards line up
        plans, chains = {}, []
        for key in [k for k in missing if starts.get(k) is None or starts[k] in done]:
            entry = entries[key]
            if key in starts:  # it starts from the trained weights of another run
                set_parameters(entry.model, [param.detach() for param in done[starts[key]].model.parameters()])
            plans[key] = make_plan(entry.model, entry.mixing, entry.procedure, entry.engine, entry.device)
            chains.append([key])
        grown = True
        while grown:
            grown = False
            for chain in chains:
                after = [k for k in missing if k not in plans and starts.get(k) == chain[-1]]
                if not after:
                    continue
                entry = entries[after[0]]  # its start's weights arrive shard by shard (run_plans)
                plan = make_plan(entry.model, entry.mixing, entry.procedure, entry.engine, entry.device)
                if chainable(plans[chain[-1]], plan):
                    plans[after[0]] = plan
                    chain.append(after[0])
                    grown = True
        keys = list(plans)

        def store(p, result):
            key = keys[p]
            entry = entries[key]
            loss, trained_mixing = result
            run = Trained(entry.model, trained_mixing, loss.numpy(), entry.spec, entry.compute, entry.code)
            cache.save("trained", entry.config, run.arrays(), write, code=entry.code, info=record)
            done[key] = run

        numbers: dict = {}
        run_plans([plans[k] for k in keys], workers=workers, progress=progress, stats=numbers,
                  speed=[expected_seconds(entries[k].spec) / entries[k].spec.model_steps for k in keys],
                  chains=[[keys.index(k) for k in chain] for chain in chains], on_finish=store,
                  desc=f"train {len(keys)} run{'s' * (len(keys) != 1)}")
        for name, value in numbers.items():
            counts[name] += value
        counts["trained"] += len(keys)
        missing = [key for key in missing if key not in done]
    if stats is not None:
        stats.update(counts)
    return [done[key] for key in wanted]


def _damaged_text(keys, damaged, entries) -> str:
    files = [str(damaged[k][0]) + f" ({damaged[k][1]})" for k in keys]
    paths = [p for k in keys for p in (damaged[k][0], damaged[k][0].with_suffix(".json"))]
    return (f"{len(keys)} stored run(s) are damaged, not missing: {'; '.join(files)}. Restore the "
            f"committed files with `{cache.restore_command(paths)}`")


def cached_curve(what: dict, model: Model, mixing: Mixing, p_eval: Numbers, samples_per_k: int = 4096,
                 seed: int | None = None, folder: Path | None = None, kind: str = "mse") -> LossCurve:
    """:func:`cclib.evaluate.loss_curve` of any model, cached under ``what`` (a JSON-able dict
    that names the model, e.g. its run's :meth:`Trained.key`), the evaluation's settings and the
    evaluator's code (:data:`CURVE_CODE`; the default device, on which it computes, is in every
    key: :func:`cclib.cache.config_key`). kind: the loss it reports, 'mse' or 'l4'."""
    from .evaluate import default_seed, loss_curve as evaluate_curve

    seed = default_seed() if seed is None else seed
    check_choice("kind", kind, LOSSES)
    key = dict(what, p_eval=[float(p) for p in np.asarray(p_eval)], samples_per_k=int(samples_per_k),
               seed=int(seed), **({} if kind == "mse" else {"kind": kind}))

    def compute():
        c = evaluate_curve(model, mixing, p_eval, samples_per_k, seed, kind=kind)
        return dict(p_eval=c.p_eval, loss=c.loss, se=c.se)

    arrays = cache.cached("curve", key, compute, folder, code=cache.code_fingerprint(CURVE_CODE))
    return LossCurve(arrays["p_eval"], arrays["loss"], arrays["se"])


def loss_curve(run: Trained, p_eval: Numbers, samples_per_k: int = 4096, seed: int | None = None,
               folder: Path | None = None, kind: str = "mse") -> LossCurve:
    """:func:`cclib.evaluate.loss_curve` of a trained run, cached under the run's key. kind: 'mse'
    (default, the paper's measure, whatever the run trained on) or 'l4'; ``run.spec.loss.kind``
    is the loss it trained on."""
    return cached_curve(dict(run=run.key()), run.model, run.mixing, p_eval, samples_per_k, seed, folder, kind)


def semi_nmf_fit(spec: RunSpec, orientation: str = "label", solver: str = "mu", iters: int = 2000,
                 folder: Path | None = None) -> dict[str, np.ndarray]:
    """The semi-NMF baseline of the mixing of ``spec`` (:mod:`cclib.baselines`: solver 'mu',
    multiplicative updates, or 'pg', projected gradient; ``iters`` iterations), evaluated without
    training: ``loss``, its exact loss per feature on exactly-one-active inputs (K,), and
    ``error``, the fit's final relative error (K,). Cached under the spec's canonical form, the
    settings and the code of :data:`SNMF_CODE`."""
    from . import baselines
    from ._checks import check_choice
    from .evaluate import one_active_loss

    check_choice("solver", solver, ("mu", "pg"))
    check_choice("orientation", orientation, baselines.ORIENTATIONS)
    iters = check_int("iters", iters)

    def compute():
        mixing = build_mixing(spec)
        if solver == "mu":
            fit = baselines.semi_nmf(mixing, orientation=orientation, max_iter=iters)
        else:
            fit = baselines.semi_nmf_projected_gradient(mixing, orientation=orientation, steps=iters)
        return dict(loss=one_active_loss(fit.model, mixing), error=fit.errors[-1].numpy())

    config = dict(spec=spec.canonical(), orientation=orientation, solver=solver, iters=iters)
    return cache.cached("snmf", config, compute, folder, code=cache.code_fingerprint(SNMF_CODE))
