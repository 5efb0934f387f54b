"""Training: one procedure, two engines.

The procedure (the published code's): AdamW (lr 3e-3, weight decay 1e-2, betas (0.9, 0.999),
eps 1e-8), cosine annealing of the learning rate to zero over each instance's own number of
steps, batch 2048, loss = mean squared error over batch and features (all-zero samples included
in the mean), each feature's error weighted by its importance if one is given.

:func:`train` runs it on one of two engines:

* the **general** engine (:mod:`cclib.general`) is the definition: autograd through
  ``model(x)``, any model that follows the protocol of :mod:`cclib.models`, any activation,
  biases, importance weights, any torch device;
* the **fast** engine (below) is a checked optimisation of it for the cases it supports: cclib's
  own :class:`~cclib.models.MLP` (ReLU, no biases) and :class:`~cclib.models.ResidualMLP`,
  uniform importance, on the CPU. It reads the same data streams, and the tests hold its
  weights to the general engine's up to float rounding.

``engine='auto'`` (the default, or $CCLIB_ENGINE) takes the fast engine exactly when it supports
the call and the general one otherwise; ``engine='fast'`` refuses, with the reason, a call it
does not support. A model is never trained as something else.

The fast engine's step, read top to bottom in :func:`_train_shard`: draw the batches
(:mod:`cclib._batches`), compute the loss and its hand-derived gradients (:mod:`cclib._grads`),
update with AdamW (:mod:`cclib._adamw`) at the cosine learning rate. Three exact shortcuts make it
fast:

* only the non-empty samples of a Bernoulli batch are computed (the others add 0 to the sum);
* sparse Bernoulli inputs are drawn as positions of active cells and the loss is taken in Gram
  form: gathers of W_in rows and (d x d) products instead of products with mostly-zero matrices;
* for exactly-one-active inputs the batch enters only through per-(feature, sign) sums of squared
  values (see :class:`cclib.data.OneActiveStream`), so a step is a few (2n x d) products.

The instances are split into shards by a fixed rule and the shards trained on the active joblib
backend (:mod:`cclib.parallel`: every core by default, or a Dask cluster); the numbers do not
depend on how many workers computed them.
:func:`cclib.reference.train_reference` is the straightforward version, kept for tests and
benchmarks.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from ._adamw import FlatAdamW
from ._batches import CHUNK_STEPS, SparseBatch, draw_batches, mixing_tables
from ._checks import check_choice, check_float, check_int, check_probabilities, check_seeds
from ._grads import grads_buckets, grads_dense, grads_sparse, one_active_targets
from ._threads import single_threaded
from ._types import Model, PerInstance, Seeds
from .data import BernoulliStream, OneActiveStream, steps_for
from .general import check_own_labels, check_protocol, train_general
from .mixing import Mixing
from .models import fast_supported
from .parallel import run_tasks, shard_plan

INPUTS = ("bernoulli", "one_active")
ENGINES = ("auto", "fast", "general")


@dataclass
class TrainResult:
    """loss: (max_steps, K) minibatch loss at each step (NaN after an instance's last step).
    steps: steps run per instance. mixing: the mixing after training (learned sigma if trainable).
    engine: the engine that trained it, 'fast' or 'general'.
    """

    loss: torch.Tensor
    steps: list[int]
    mixing: Mixing
    engine: str = "fast"

    def __repr__(self) -> str:
        last = self.loss[-1] if len(self.loss) else self.loss.new_zeros(0)
        return (f"TrainResult(K={self.loss.shape[1]}, steps={min(self.steps)}..{max(self.steps)}, "
                f"engine={self.engine!r}, final loss {float(last.nanmean()):.4g} (mean over instances), "
                f"sigma {self.mixing.sigma.abs().min().item():.4g}..{self.mixing.sigma.abs().max().item():.4g})")


def cosine_lr(lr: float, step: float | torch.Tensor, total: float | torch.Tensor) -> torch.Tensor:
    """Learning rate at 0-based ``step`` of ``total``: lr * (1 + cos(pi step / total)) / 2, and 0
    from step ``total`` on. step and total: numbers or broadcastable tensors; float64 result."""
    step = torch.as_tensor(step, dtype=torch.float64)
    total = torch.as_tensor(total, dtype=torch.float64)
    return torch.where(step < total, lr * 0.5 * (1 + torch.cos(math.pi * step / total)), 0.0)


def validate_common(model: Model, mixing: Mixing, batch_size: int, lr: float, weight_decay: float) -> None:
    """Raise a ValueError or TypeError naming the argument if the trainers' shared settings are
    out of range or the model and mixing do not fit each other."""
    check_protocol(model)
    if not isinstance(mixing, Mixing):
        raise TypeError(f"mixing must be a cclib.mixing.Mixing, got {type(mixing).__name__}")
    if mixing.n_instances != model.n_instances:
        raise ValueError(f"mixing has {mixing.n_instances} instances but the model has "
                         f"{model.n_instances}; they must match")
    if mixing.n_features != model.n_features:
        raise ValueError(f"mixing is for n_features={mixing.n_features} but the model has "
                         f"n_features={model.n_features}")
    check_own_labels(model, mixing)
    check_int("batch_size", batch_size)
    check_float("lr", lr, 0.0, 10.0, low_open=True)
    check_float("weight_decay", weight_decay, 0.0, 1.0)


def resolve_steps(steps: int | Sequence[int] | None, default: list[int], k: int) -> list[int]:
    """Steps per instance (K ints) from None (``default``), one int, or K ints."""
    if steps is None:
        return list(default)
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        return [check_int("steps", steps)] * k
    steps = list(steps)
    if len(steps) != k:
        raise ValueError(f"steps must be one int or one per instance ({k}), got {len(steps)}")
    return [check_int(f"steps[{i}]", s) for i, s in enumerate(steps)]


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device to compute on: ``device``, else $CCLIB_DEVICE, else 'cpu'. A device that
    torch does not know or that this machine lacks is refused with a ValueError naming it."""
    name = device if device is not None else os.environ.get("CCLIB_DEVICE") or "cpu"
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device such as 'cpu', 'cuda' or 'cuda:1'; "
                         f"got {name!r} ({err})") from None
    available = {"cpu": lambda: True, "cuda": torch.cuda.is_available,
                 "mps": lambda: torch.backends.mps.is_available()}.get(dev.type, lambda: False)
    if not available() or (dev.type == "cuda" and dev.index is not None
                           and dev.index >= torch.cuda.device_count()):
        raise ValueError(f"device {str(dev)!r} is not available on this machine")
    return dev


def check_importance(importance, n: int) -> torch.Tensor | None:
    """Per-feature loss weights as a float tensor (n,), or None for uniform (also for all ones)."""
    if importance is None:
        return None
    try:
        w = torch.as_tensor(importance, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"importance must be None or {n} non-negative numbers, got {importance!r}") from None
    if w.numel() != n or not torch.all(torch.isfinite(w)) or torch.any(w < 0):
        raise ValueError(f"importance must be None or {n} finite non-negative numbers (one per "
                         f"feature), got {w.numel()} values")
    return None if torch.all(w == 1) else w.float()


def choose_engine(engine: str | None, model, device: torch.device, importance) -> str:
    """'fast' or 'general' for a call (see the module docstring); engine None means $CCLIB_ENGINE,
    else 'auto'."""
    engine = check_choice("engine", engine if engine is not None else
                          os.environ.get("CCLIB_ENGINE") or "auto", ENGINES)
    reason = fast_supported(model)
    if reason is None and device.type != "cpu":
        reason = f"device {str(device)!r} (the fast engine runs on the CPU)"
    if reason is None and importance is not None:
        reason = "a non-uniform importance weight"
    if engine == "fast" and reason is not None:
        raise ValueError(f"engine='fast' cannot train this exactly: {reason}. Use engine='general' "
                         "(or 'auto', which chooses it)")
    if engine == "auto":
        return "fast" if reason is None else "general"
    return engine


def train(model: Model, mixing: Mixing, *, inputs: str = "bernoulli", p: PerInstance | None = None,
          steps: int | Sequence[int] | None = None, batch_size: int = 2048, lr: float = 3e-3,
          weight_decay: float = 1e-2, seeds: Seeds = 0, importance: Sequence[float] | None = None,
          progress: bool = False, workers: int | None = None, engine: str | None = None,
          device: str | torch.device | None = None) -> TrainResult:
    """Train the K instances of ``model`` (in place) on labels ReLU(x) + x M^T.

    model: any module that follows the protocol of :mod:`cclib.models`. inputs: 'bernoulli'
    (p: float or K floats in (0, 1]) or 'one_active' (p must be None). steps: int or K ints;
    default: 10,000 non-empty batches for Bernoulli (:func:`steps_for`), 10,000 for one-active.
    seeds: the data seed of each instance (int s means s, s+1, ...). importance: n non-negative
    per-feature loss weights (default uniform). engine: 'auto', 'fast' or 'general' (default
    $CCLIB_ENGINE, else 'auto'; see the module docstring). device: a torch device (default
    $CCLIB_DEVICE, else 'cpu'); the model ends where it started.
    workers: worker processes the fast engine's shards run on (default: the active
    ``joblib.parallel_config``, else $CCLIB_WORKERS, else every core; :mod:`cclib.parallel`); the
    result does not depend on it. An instance's data and schedule depend only on its own seed and
    settings; its trained weights agree with a run of it alone up to float rounding (instances
    computed together in one product may round differently), which long runs can amplify.
    """
    workers = None if workers is None else check_int("workers", workers)
    plan = plan_training(model, mixing, inputs=inputs, p=p, steps=steps, batch_size=batch_size, lr=lr,
                         weight_decay=weight_decay, seeds=seeds, importance=importance, engine=engine,
                         device=device)
    return run_plans([plan], workers=workers, progress=progress)[0]


def plan_training(model: Model, mixing: Mixing, *, inputs: str = "bernoulli", p: PerInstance | None = None,
                  steps: int | Sequence[int] | None = None, batch_size: int = 2048, lr: float = 3e-3,
                  weight_decay: float = 1e-2, seeds: Seeds = 0, importance: Sequence[float] | None = None,
                  engine: str | None = None, device: str | torch.device | None = None):
    """The arguments of :func:`train` checked and turned into a plan of tasks for :func:`run_plans`
    (a :class:`FastPlan` or a :class:`GeneralPlan`); nothing is trained yet."""
    check_choice("inputs", inputs, INPUTS)
    validate_common(model, mixing, batch_size, lr, weight_decay)
    k, n = model.n_instances, model.n_features
    seeds = check_seeds("seeds", seeds, k)
    weight = check_importance(importance, n)
    device = resolve_device(device)
    engine = choose_engine(engine, model, device, weight)
    if inputs == "bernoulli":
        if p is None:
            raise ValueError("p must be given for inputs='bernoulli': a float or K floats in (0, 1]")
        probs = check_probabilities("p", p, k).tolist()
        steps = resolve_steps(steps, [steps_for(q, n) for q in probs], k)
    else:
        if p is not None:
            raise ValueError(f"p must be None for inputs='one_active' (p is 1/n_features), got {p!r}")
        probs = [None] * k
        steps = resolve_steps(steps, [10_000] * k, k)

    settings = dict(inputs=inputs, probs=probs, steps=steps, seeds=seeds, batch_size=batch_size,
                    lr=lr, weight_decay=weight_decay)
    if engine == "general":
        return GeneralPlan(model, mixing, settings, weight, device)
    return FastPlan(model, mixing, settings)


def run_plans(plans: list, workers: int | None = None, progress: bool = False,
              desc: str = "train", stats: dict | None = None,
              speed: Sequence[float] | None = None) -> list[TrainResult]:
    """Run the tasks of many training plans (:class:`FastPlan`, :class:`GeneralPlan`) together:
    those that may run anywhere on the active joblib backend, largest first
    (:func:`cclib.parallel.run_tasks`), then those that must run in this process (a GPU's) one
    after another; one bar over all of their expected work, with the runs finished so far and an
    ETA. Returns each plan's TrainResult. ``speed``: each plan's expected seconds per model-step
    (default: equal), to start the longest tasks first. ``stats``, if given, receives the tasks'
    count, their CPU seconds (``task_cpu_seconds``) and the wall seconds (``wall_seconds``)."""
    single = sum(len(plan.tasks) for plan in plans) == 1  # then here, with the engine's own bar
    anywhere = [(p, t) for p, plan in enumerate(plans) if not (plan.local or single)
                for t in range(len(plan.tasks))]
    here = [(p, t) for p, plan in enumerate(plans) if plan.local or single for t in range(len(plan.tasks))]
    results = [[None] * len(plan.tasks) for plan in plans]
    left = [len(plan.tasks) for plan in plans]
    work = [[c * (1.0 if speed is None else speed[p]) for c in plan.costs] for p, plan in enumerate(plans)]
    cpu, started = [0.0], time.perf_counter()
    # plain text bar over the expected work, redrawn every 10 s at most (an executed notebook keeps
    # each redraw): the share done, the runs finished, the time so far and the ETA
    with tqdm(total=sum(map(sum, work)), disable=not progress, desc=desc, leave=False, mininterval=10,
              bar_format="{desc}: {percentage:3.0f}%|{bar:20}| {postfix} [{elapsed}<{remaining}]") as bar:
        def finished(p, t, seconds):
            cpu[0] += seconds
            left[p] -= 1
            bar.set_postfix_str(f"{sum(n == 0 for n in left)}/{len(plans)} runs", refresh=False)
            bar.update(work[p][t])

        bar.set_postfix_str(f"0/{len(plans)} runs", refresh=False)
        done = run_tasks(_call, [plans[p].tasks[t] for p, t in anywhere], [work[p][t] for p, t in anywhere],
                         workers, on_done=lambda i, seconds: finished(*anywhere[i], seconds))
        for (p, t), result in zip(anywhere, done):
            results[p][t] = result
        for p, t in here:
            fn, args = plans[p].tasks[t]
            start = time.process_time()
            results[p][t] = fn(*args) if fn is _train_shard else fn(*args, progress=progress and len(here) == 1)
            finished(p, t, time.process_time() - start)
    if stats is not None:
        stats.update(tasks=len(anywhere) + len(here), task_cpu_seconds=cpu[0],
                     wall_seconds=time.perf_counter() - started)
    return [plan.finish(result) for plan, result in zip(plans, results)]


def _call(fn, args):
    return fn(*args)


class GeneralPlan:
    """A general-engine training call as one task (the whole run): on the CPU it may run in any
    worker process; on another device it runs in this process (``local``)."""

    def __init__(self, model, mixing: Mixing, settings: dict, importance, device: torch.device):
        self.model, self.mixing, self.steps = model, mixing, settings["steps"]
        self.local = device.type != "cpu"
        self.tasks = [(_train_general_task, (model, mixing, settings, importance, device))]
        self.costs = [max(self.steps) * model.n_instances]

    def finish(self, results: list) -> TrainResult:
        params, loss, sigma = results[0]
        with torch.no_grad():
            for param, trained in zip(self.model.parameters(), params):
                param.copy_(torch.from_numpy(trained))
        return TrainResult(torch.from_numpy(loss), self.steps,
                           Mixing(self.mixing.pattern, torch.from_numpy(sigma), self.mixing.trainable_sigma),
                           "general")


def _train_general_task(model, mixing, settings, importance, device, progress=False):
    """Train a (possibly copied) model with the general engine; its parameters, loss history
    and sigma as numpy arrays (they may cross a process boundary)."""
    loss, sigma = train_general(model, mixing, importance=importance, device=device, progress=progress,
                                **settings)
    return [t.detach().cpu().numpy().copy() for t in model.parameters()], loss, sigma


class FastPlan:
    """A fast-engine training call cut into shard tasks (:func:`cclib.parallel.shard_plan`):
    ``tasks`` ((function, args) pairs), ``costs`` (model-steps of each), and :meth:`finish`, which
    writes the shards' results into the model (in place) and returns the TrainResult. Many
    plans' tasks run together in :func:`run_plans`."""

    local = False

    def __init__(self, model, mixing: Mixing, settings: dict):
        probs, steps, seeds = settings["probs"], settings["steps"], settings["seeds"]
        self.model, self.mixing, self.steps = model, mixing, steps
        self.shards = shard_plan(model.n_instances, settings["inputs"])
        shared = {key: settings[key] for key in ("inputs", "batch_size", "lr", "weight_decay")}
        self.tasks = [(_train_shard, (model.select(index), mixing.select(index), [probs[i] for i in index],
                                      [steps[i] for i in index], [seeds[i] for i in index], shared))
                      for index in self.shards]
        self.costs = [max(steps[i] for i in index) * len(index) for index in self.shards]

    def finish(self, results: list) -> TrainResult:
        k, model, steps = self.model.n_instances, self.model, self.steps
        history = torch.full((max(steps), k), float("nan"))
        sigma = self.mixing.sigma.clone()
        with torch.no_grad():
            for index, (params, loss, shard_sigma) in zip(self.shards, results):
                for param, trained in zip(model.parameters(), params):
                    param[index] = torch.from_numpy(trained)
                history[:loss.shape[0], index] = torch.from_numpy(loss)
                sigma[index] = torch.from_numpy(shard_sigma)
        return TrainResult(history, steps, Mixing(self.mixing.pattern, sigma, self.mixing.trainable_sigma), "fast")


@single_threaded
def _train_shard(model, mixing: Mixing, probs: list, steps: list[int], seeds: list[int],
                 settings: dict) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Train one shard of instances; returns its trained parameters, its (max steps, K) loss
    history and its sigma (K,), as numpy arrays (they may cross a process boundary)."""
    inputs, batch_size = settings["inputs"], settings["batch_size"]
    k, n = model.n_instances, model.n_features
    if inputs == "bernoulli":
        streams = [BernoulliStream(q, batch_size, n, s) for q, s in zip(probs, seeds)]
    else:
        streams = [OneActiveStream(batch_size, n, s) for s in seeds]

    # One flat (K, P) buffer holds every trainable number; views give each parameter its shape.
    params = [t.detach() for t in model.parameters()]
    train_sigma = mixing.trainable_sigma
    pieces = [t.reshape(k, -1) for t in params] + ([mixing.sigma[:, None]] if train_sigma else [])
    flat = torch.cat(pieces, 1).float().contiguous()
    offsets = np.cumsum([0] + [piece.shape[1] for piece in pieces]).tolist()
    views = [flat[:, a:b].view_as(t) for a, b, t in zip(offsets, offsets[1:], params)]
    sigma_view = flat[:, -1] if train_sigma else mixing.sigma.abs()
    grad = torch.zeros_like(flat)
    grad_views = [grad[:, a:b] for a, b in zip(offsets, offsets[1:])]
    optimizer = FlatAdamW(flat, grad, lr=settings["lr"], weight_decay=settings["weight_decay"],
                          one_schedule=len(set(steps)) == 1)

    gt = mixing.pattern.transpose(1, 2).contiguous().float()
    if not train_sigma and not torch.any(mixing.sigma != 0):
        gt = None  # clean task: skip the mixing term altogether
    # with sigma fixed, sigma G^T and the one-active targets are computed once
    scaled_gt = None if train_sigma or gt is None else gt * sigma_view.abs()[:, None, None]
    tables = mixing_tables(gt, k) if inputs == "bernoulli" else None
    target = None
    if inputs == "one_active" and not train_sigma:
        target = one_active_targets(gt, sigma_view.abs(), n)

    total = max(steps)
    steps_t = torch.tensor(steps, dtype=torch.float64)
    history = torch.full((total, k), float("nan"))
    for t0 in range(0, total, CHUNK_STEPS):
        # Streams always draw whole chunks (the tail of the last one is unused), so an
        # instance's numbers never depend on how long the other instances run.
        batches = draw_batches(streams, inputs, batch_size, n, tables)[:total - t0]
        lrs = cosine_lr(settings["lr"], torch.arange(t0, t0 + len(batches), dtype=torch.float64)[:, None],
                        steps_t).float()[:, :, None]                           # (steps, K, 1)
        for i, batch in enumerate(batches):
            sigma_abs = sigma_view.abs()
            w_in, w_out = model.effective_weights(views)
            loss, g_in, g_out, g_sigma = _gradients(
                batch, w_in, w_out, gt, sigma_abs, batch_size=batch_size,
                need_sigma_grad=train_sigma, scaled_gt=scaled_gt, target=target)
            history[t0 + i] = loss
            for g, view_grad in zip(grad_views, model.pullback(views, g_in, g_out)):
                g.copy_(view_grad.reshape(k, -1))
            if train_sigma:
                grad[:, -1] = g_sigma * torch.sign(sigma_view)
            optimizer.step(lrs[i], t0 + i + 1)

    done = torch.arange(total)[:, None] < steps_t[None, :]
    history[~done] = float("nan")
    sigma = flat[:, -1] if train_sigma else mixing.sigma
    return [v.numpy().copy() for v in views], history.numpy(), sigma.numpy().copy()


def _gradients(batch, w_in, w_out, gt, sigma_abs, *, batch_size, need_sigma_grad, scaled_gt, target):
    """Loss and gradients of one step, by the kernel that fits the batch's form."""
    if isinstance(batch, SparseBatch):
        return grads_sparse(w_in, w_out, gt, sigma_abs, batch, batch_size=batch_size,
                            need_sigma_grad=need_sigma_grad, scaled_gt=scaled_gt)
    if batch.dim() == 2:  # exactly-one-active bucket weights, (K, 2n)
        if target is None:  # sigma is trained: targets change every step
            target = one_active_targets(gt, sigma_abs, w_in.shape[1])
        return grads_buckets(w_in, w_out, gt, sigma_abs, batch, batch_size=batch_size,
                             target=target, need_sigma_grad=need_sigma_grad)
    return grads_dense(w_in, w_out, gt, sigma_abs, batch, batch_size=batch_size,
                       need_sigma_grad=need_sigma_grad, scaled_gt=scaled_gt)
