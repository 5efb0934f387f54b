"""The runs of a sweep: each run asked for (:class:`RunJob`: its engine, its code, its key), what
it is expected to cost (:func:`expected_seconds`), and the scheduling that trains the missing
ones together (:func:`train_jobs`).

:func:`cclib.experiments.trained_many` looks each job up in the store and the local cache and
hands the missing ones here. Which worker trains a shard, and in which order, changes no trained
number (:mod:`cclib.parallel`; the tests hold a run's bits equal on 1 or 2 workers, on a Dask
cluster, and in a sweep against alone). So neither this module nor :mod:`cclib.parallel` is in any
run's key (:func:`run_code`). The one thing here that does reach a run's numbers is handing a run
that starts from another (``spec.init``) that run's trained weights: the test that a sweep equals
its runs trained one by one covers it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import cache
from ._checks import check_choice, resolve_device
from .build import build_mixing, build_model, outside_code
from .models import set_parameters
from .parallel import chainable, run_plans
from .spec import RunSpec
from .train import choose_engine, make_plan, procedure_of

#: The module of each engine's step loop (a run trained on one is not keyed on the other's).
ENGINE_MODULES = {"fast": "fast", "general": "general"}
#: Modules that decide where and when a run's tasks run, never what they compute.
SCHEDULING = ("parallel",)


#: Modules that build a run's start only for a spec that asks for it (``model.start``).
STARTS = ("constructions",)


def run_code(engine: str, package_dir: Path | None = None, start: str = "random") -> str:
    """The fingerprint of the code that trains a run on ``engine`` ('fast' or 'general'):
    :mod:`cclib.build` (the model and mixing from the spec) and :mod:`cclib.train` (the engine's
    choice and the plan) with every cclib module they import, the other engine's module left
    out, and :data:`SCHEDULING` (:func:`cclib.cache.code_fingerprint`); :data:`STARTS` only for a
    run whose ``start`` is not 'random' (for the others that code only checks a spec's sizes, it
    computes nothing they hold). Evaluation, baselines, bounds, analysis, this module and
    :mod:`cclib.experiments` are not in it: editing them re-keys no trained run. package_dir: as
    for :func:`cclib.cache.code_fingerprint`."""
    if engine not in ENGINE_MODULES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINE_MODULES))}, got {engine!r}")
    others = [module for name, module in ENGINE_MODULES.items() if name != engine]
    stop = [*others, *SCHEDULING, *(STARTS if start == "random" else ())]
    return cache.code_fingerprint(("build", "train"), stop=stop, package_dir=package_dir)


class RunJob:
    """A run asked for: its spec, its untrained model, mixing and procedure (each built once,
    here), the engine and device kind it is computed on (chosen once, here, by
    :func:`cclib.train.choose_engine`), the fingerprint of its code (:func:`run_code`; with an added
    architecture's own modules, :func:`cclib.build.outside_code`), its cache configuration
    (``config``) and its cache key (``key``)."""

    def __init__(self, spec: RunSpec, engine: str | None = None, device: str | None = None):
        self.spec = spec
        self.model, self.mixing, self.procedure = build_model(spec), build_mixing(spec), procedure_of(spec)
        self.device = resolve_device(device)
        self.engine = choose_engine(engine, self.model, self.device, self.procedure)
        self.compute = dict(engine=self.engine, device=self.device.type)
        self.code = run_code(self.engine, start=getattr(spec.model, "start", "random"))
        outside = outside_code(spec.model, self.model)
        if outside:  # an added architecture: its own modules' code too
            self.code = hashlib.sha256(f"{self.code} {outside}".encode()).hexdigest()[:20]
        self.config = dict(spec=spec.canonical(), compute=self.compute)
        self.key = cache.config_key(self.config, self.code)

    @property
    def seconds(self) -> float:
        """Its expected training time on one core (:func:`expected_seconds`)."""
        return expected_seconds(self.spec, self.engine)


#: Fast-engine training speed on one core of the reference machine (2-core Intel Xeon, torch
#: 2.13.0), in model-steps per second: Bernoulli inputs by p (interpolated in log p between these
#: points), exactly one active, and the residual model per 1000 embedding dimensions.
#: Measured with 8 instances on one worker (2026-11-30).
SPEED_BERNOULLI = {0.001: 1495.0, 0.003: 1451.0, 0.01: 839.0, 0.03: 419.0, 0.1: 155.0, 0.3: 135.0, 1.0: 139.0}
SPEED_ONE_ACTIVE = 3723.0
SPEED_RESIDUAL_PER_1000 = 462.0
#: The general engine (any run the fast engine cannot train: another loss, target or architecture),
#: model-steps per second on one core, from the Fig. 17 and 18 runs (3 instances, 2026-12-03).
SPEED_GENERAL = 300.0


def expected_seconds(spec: RunSpec, engine: str | None = None) -> float:
    """The expected training time of ``spec`` on one core of the reference machine: its model-steps
    divided by the speed measured for its input distribution on the fast engine
    (:data:`SPEED_BERNOULLI` and friends), or by :data:`SPEED_GENERAL` on the general engine.
    engine: the one it is trained on; None: the one :func:`cclib.train.choose_engine` chooses
    for it on the CPU with engine 'auto' (the rule that trains it, not read from the environment). A guide for planning, not a promise: runs of many instances
    are often faster per model-step."""
    if engine is None:  # the automatic choice on the CPU, whatever $CCLIB_ENGINE or $CCLIB_DEVICE say
        engine = choose_engine("auto", build_model(spec), torch.device("cpu"), procedure_of(spec))
    engine = check_choice("engine", engine, tuple(ENGINE_MODULES))
    if engine == "general":
        return spec.model_steps / SPEED_GENERAL
    if spec.model.kind == "residual":
        return spec.model_steps / SPEED_RESIDUAL_PER_1000 * spec.model.d_embed / 1000
    if spec.inputs.kind == "one_active":
        return spec.model_steps / SPEED_ONE_ACTIVE
    ps, speeds = np.log(list(SPEED_BERNOULLI)), np.log(list(SPEED_BERNOULLI.values()))
    return float(sum(steps / np.exp(np.interp(np.log(p), ps, speeds))
                     for steps, p in zip(spec.optim.steps, spec.inputs.p)))


def train_jobs(jobs: dict[str, RunJob], starts: dict[str, str], start_models: dict[str, torch.nn.Module],
               on_trained: Callable[[str, torch.Tensor, object], None], *, workers: int | None = None,
               progress: bool = False, counts: dict | None = None) -> None:
    """Train every job of ``jobs`` (key -> job) as one sweep: the shards of all of them scheduled
    together, longest first (:func:`expected_seconds`), on the active joblib backend
    (:mod:`cclib.parallel`: every core here, or a Dask cluster under
    ``joblib.parallel_config(backend="dask")``); runs on a GPU train in this process, one after
    another.

    starts: a job's key -> the key of the run it starts from (``spec.init``); start_models: the
    trained model of each such run that is already done. A job whose start is done starts from its
    weights; a job whose start is in this sweep follows it, shard by shard in the same task where
    their shards line up (:func:`cclib.parallel.chainable`), else in a later wave. on_trained(key,
    loss history, trained mixing) is called as each run ends (its job's model holds the trained
    weights). counts: a dict whose numbers (tasks, CPU and wall seconds, runs trained) are added to."""
    missing = list(jobs)
    done = dict(start_models)
    while missing:
        # a wave: every run whose start is done, each followed by the runs that start from it
        # (a chain) where their shards line up
        plans, chains = {}, []
        for key in [k for k in missing if starts.get(k) is None or starts[k] in done]:
            job = jobs[key]
            if key in starts:
                set_parameters(job.model, [param.detach() for param in done[starts[key]].parameters()])
            plans[key] = make_plan(job.model, job.mixing, job.procedure, job.engine, job.device)
            chains.append([key])
        grown = True
        while grown:
            grown = False
            for chain in chains:
                after = [k for k in missing if k not in plans and starts.get(k) == chain[-1]]
                if not after:
                    continue
                job = jobs[after[0]]  # its start's weights arrive shard by shard (run_plans)
                plan = make_plan(job.model, job.mixing, job.procedure, job.engine, job.device)
                if chainable(plans[chain[-1]], plan):
                    plans[after[0]] = plan
                    chain.append(after[0])
                    grown = True
        keys = list(plans)

        def finished(index, result):
            key = keys[index]
            loss, trained_mixing = result
            on_trained(key, loss, trained_mixing)
            done[key] = jobs[key].model

        numbers: dict = {}
        run_plans([plans[k] for k in keys], workers=workers, progress=progress, stats=numbers,
                  speed=[jobs[k].seconds / jobs[k].spec.model_steps for k in keys],
                  chains=[[keys.index(k) for k in chain] for chain in chains], on_finish=finished,
                  desc=f"train {len(keys)} run{'s' * (len(keys) != 1)}")
        if counts is not None:
            for name, value in numbers.items():
                counts[name] = counts.get(name, 0) + value
            counts["trained"] = counts.get("trained", 0) + len(keys)
        missing = [key for key in missing if key not in done]
