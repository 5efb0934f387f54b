"""Training: one procedure, two engines.

The procedure (the published code's, :class:`cclib.task.Procedure`): AdamW (lr 3e-3, weight
decay 1e-2, betas (0.9, 0.999), eps 1e-8), cosine annealing of the learning rate to zero over
each instance's own number of steps, batch 2048, loss = mean squared error over batch and
features (all-zero samples included in the mean; :func:`cclib.task.loss`, which also has 'l4'),
each feature's error weighted by its importance if one is given.

:func:`train` (or :mod:`cclib.experiments` for a spec) checks a call once, builds its
:class:`~cclib.task.Procedure`, chooses the engine once and hands both to it:

* the **general** engine (:mod:`cclib.general`) is the definition: autograd through
  ``model(x)``, any model that follows the protocol of :mod:`cclib.models`, any activation,
  biases, importance weights, any torch device;
* the **fast** engine (:mod:`cclib.fast`) is a checked optimisation of it for the cases it
  supports: cclib's own :class:`~cclib.models.MLP` (ReLU, no biases) and
  :class:`~cclib.models.ResidualMLP`, uniform importance, the MSE, on the CPU. It reads the same data
  streams, and the tests hold its weights to the general engine's up to float rounding.

``engine='auto'`` (the default, or $CCLIB_ENGINE) takes the fast engine exactly when it supports
the call and the general one otherwise; ``engine='fast'`` refuses, with the reason, a call it
does not support. A model is never trained as something else.

A call becomes a plan of tasks (:func:`plan_training`); :func:`cclib.parallel.run_plans` runs the
tasks of many plans together on the active joblib backend (every core by default, or a Dask
cluster) and reports each run the moment its last task ends. The numbers do not depend on where
or on how many workers the tasks ran. :func:`cclib.reference.train_reference` is the straightforward
version, kept for tests and benchmarks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from . import _env
from ._checks import check_choice, check_int, check_probabilities, check_range, check_seeds, resolve_device
from ._types import PerInstance, Seeds
from .fast import FastPlan, refusal
from .general import GeneralPlan
from .mixing import Mixing
from .models import check_own_labels, check_protocol
from .parallel import run_plans
from .spec import RunSpec
from .task import INPUTS, LOSSES, Model, Procedure, check_importance, check_target, default_steps

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
    check_range("lr", lr)
    check_range("weight_decay", weight_decay)


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


def choose_engine(engine: str | None, model: Model, device: torch.device, procedure: Procedure) -> str:
    """'fast' or 'general' for a call (see the module docstring); engine None means $CCLIB_ENGINE,
    else 'auto'. Whether the fast engine can train the call is :func:`cclib.fast.refusal`'s rule."""
    engine = check_choice("engine", engine if engine is not None else _env.get("CCLIB_ENGINE") or "auto", ENGINES)
    reason = refusal(model, device, procedure)
    if engine == "fast" and reason is not None:
        raise ValueError(f"engine='fast' cannot train this exactly: {reason}. Use engine='general' "
                         "(or 'auto', which chooses it)")
    if engine == "auto":
        return "fast" if reason is None else "general"
    return engine


def make_plan(model: Model, mixing: Mixing, procedure: Procedure, engine: str, device: torch.device):
    """The plan of tasks (:class:`FastPlan` or :class:`GeneralPlan`) that trains ``model`` by
    ``procedure`` on the engine already chosen (:func:`choose_engine`); nothing is trained yet."""
    if engine == "general":
        return GeneralPlan(model, mixing, procedure, device)
    return FastPlan(model, mixing, procedure)


def train(model: Model, mixing: Mixing, *, inputs: str = "bernoulli", p: PerInstance | None = None,
          steps: int | Sequence[int] | None = None, batch_size: int = 2048, lr: float = 3e-3,
          weight_decay: float = 1e-2, seeds: Seeds = 0, importance: Sequence[float] | None = None,
          loss: str = "mse", target: str = "relu", progress: bool = False, workers: int | None = None,
          engine: str | None = None, device: str | torch.device | None = None) -> TrainResult:
    """Train the K instances of ``model`` (in place) on labels f(x) + x M^T (f = ReLU by default).

    model: any module that follows the protocol (:class:`cclib.task.Model`). inputs: 'bernoulli'
    (p: float or K floats in (0, 1]) or 'one_active' (p must be None). steps: int or K ints;
    default: 10,000 non-empty batches for Bernoulli (:func:`steps_for`), 10,000 for one-active.
    seeds: the data seed of each instance (int s means s, s+1, ...). importance: n non-negative
    per-feature loss weights (default uniform). loss: 'mse' (default) or 'l4'
    (:func:`cclib.task.loss`). target: the labels' function, 'relu' (default: ReLU(x) + x M^T) or
    another of :data:`cclib.task.TARGETS` ('abs': |x|, clean mixing only). engine: 'auto', 'fast' or 'general' (default $CCLIB_ENGINE, else
    'auto'; see the module docstring). device: a torch device (default $CCLIB_DEVICE, else
    'cpu'); the model ends where it started.
    workers: worker processes the fast engine's shards run on (default: the active
    ``joblib.parallel_config``, else $CCLIB_WORKERS, else every core; :mod:`cclib.parallel`); the
    result does not depend on it. An instance's data and schedule depend only on its own seed and
    settings; its trained weights agree with a run of it alone up to float rounding (instances
    computed together in one product may round differently), which long runs can amplify.
    """
    workers = None if workers is None else check_int("workers", workers)
    plan = plan_training(model, mixing, inputs=inputs, p=p, steps=steps, batch_size=batch_size, lr=lr,
                         weight_decay=weight_decay, seeds=seeds, importance=importance, loss=loss,
                         target=target, engine=engine, device=device)
    history, trained_mixing = run_plans([plan], workers=workers, progress=progress)[0]
    return TrainResult(history, plan.steps, trained_mixing, plan.engine)


def plan_training(model: Model, mixing: Mixing, *, inputs: str = "bernoulli", p: PerInstance | None = None,
                  steps: int | Sequence[int] | None = None, batch_size: int = 2048, lr: float = 3e-3,
                  weight_decay: float = 1e-2, seeds: Seeds = 0, importance: Sequence[float] | None = None,
                  loss: str = "mse", target: str = "relu", engine: str | None = None,
                  device: str | torch.device | None = None):
    """The arguments of :func:`train` checked (here, once) and turned into a plan of tasks for
    :func:`run_plans`; nothing is trained yet."""
    check_choice("inputs", inputs, INPUTS)
    check_choice("loss", loss, LOSSES)
    validate_common(model, mixing, batch_size, lr, weight_decay)
    check_target(target, model, mixing)
    k, n = model.n_instances, model.n_features
    seeds = check_seeds("seeds", seeds, k)
    weight = check_importance(importance, n)
    if inputs == "bernoulli":
        if p is None:
            raise ValueError("p must be given for inputs='bernoulli': a float or K floats in (0, 1]")
        probs = check_probabilities("p", p, k).tolist()
    else:
        if p is not None:
            raise ValueError(f"p must be None for inputs='one_active' (p is 1/n_features), got {p!r}")
        probs = [None] * k
    steps = resolve_steps(steps, default_steps(inputs, probs, n), k)
    procedure = Procedure(inputs, tuple(probs), tuple(steps), tuple(seeds), batch_size, lr, weight_decay,
                          weight, loss, target)
    device = resolve_device(device)
    return make_plan(model, mixing, procedure, choose_engine(engine, model, device, procedure), device)


def procedure_of(spec: RunSpec) -> Procedure:
    """The :class:`Procedure` of a spec (validated when it was built; nothing is checked again)."""
    optim, bernoulli = spec.optim, spec.inputs.kind == "bernoulli"
    return Procedure(inputs=spec.inputs.kind, probs=tuple(spec.inputs.p) if bernoulli else (None,) * spec.n_instances,
                     steps=tuple(spec.steps), seeds=tuple(spec.seeds), batch_size=optim.batch_size, lr=optim.lr,
                     weight_decay=optim.weight_decay,
                     importance=check_importance(spec.importance, spec.model.n_features),
                     loss=spec.loss.kind, target=spec.target)
