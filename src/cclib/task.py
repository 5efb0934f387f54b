"""The task, written once: what a model is trained to output, how its error is scored, and the
procedure that trains it. The engines, evaluation, bounds and tests all call these functions.

* targets: the label function f of each target by name (:data:`TARGETS`: 'relu', the paper's,
  and 'abs', Elhage et al.'s |x|); a new target is one entry there;
* labels: y = f(x) + x M^T (:func:`labels`), or a model's own labels (:func:`targets`);
  for exactly-one-active inputs x = v e_i the ReLU label is |v| times a row of
  :func:`one_active_labels`;
* the loss (:func:`loss`): per instance, the mean over batch and features of
  importance_j * e(out - y), with e(r) = r^2 ('mse', the paper's) or r^4 ('l4');
* the procedure (:class:`Procedure`): inputs, steps, batch, AdamW's settings, importance and loss
  kind of one training call, already checked; :func:`cosine_lr` is its learning-rate schedule;
* the model protocol (:class:`Model`) that every engine and evaluation accepts.

Shapes are written K (instances), B (batch), n (features), d (hidden width).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Optional, Protocol, runtime_checkable

import torch
from jaxtyping import Float
from torch import Tensor

from .data import steps_for

#: The loss kinds: the error e(r) of one output coordinate.
LOSSES = ("mse", "l4")
#: 1 / E[|v|^q] = q + 1 for v ~ U[-1, 1] and the loss's power q: the exactly-one-active loss of a
#: positively homogeneous model (error on v e_i = |v| times its error on sign(v) e_i) is its error
#: on the unit inputs divided by this.
VALUE_MOMENT_DIVISOR = {"mse": 3.0, "l4": 5.0}
#: The input kinds.
INPUTS = ("bernoulli", "one_active")
#: Steps of an exactly-one-active run whose steps are not given (for Bernoulli inputs the default
#: is :func:`cclib.data.steps_for`: 10,000 non-empty batches).
ONE_ACTIVE_STEPS = 10_000


@dataclass(frozen=True)
class Target:
    """A label function: y = f(x) + x M^T, f applied to each coordinate.

    positively_homogeneous: f(c x) = c f(x) for c > 0, so that a positively homogeneous model's
    error on v e_i is |v| times its error on sign(v) e_i (what the exact exactly-one-active loss
    needs, :func:`cclib.evaluate.one_active_loss`). mixing: whether the labels may have the linear
    term x M^T (a target without it takes only the clean mixing)."""

    f: Callable[[Tensor], Tensor]
    positively_homogeneous: bool
    mixing: bool
    formula: str


#: The targets by name. Adding one here is all the task needs (see docs/design.md).
TARGETS = {
    "relu": Target(torch.relu, positively_homogeneous=True, mixing=True, formula="ReLU(x) + x M^T"),
    "abs": Target(torch.abs, positively_homogeneous=True, mixing=False, formula="|x|"),
}


def target_of(name: str) -> Target:
    """The :class:`Target` named ``name``; a ValueError naming ``target`` and the known names if
    there is none."""
    if name not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(map(repr, TARGETS))}, got {name!r}")
    return TARGETS[name]


@runtime_checkable
class Model(Protocol):
    """What cclib trains and evaluates: a torch module of K instances that maps inputs
    (K, B, n) to outputs (K, B, n), every parameter with the instance dimension first
    (:func:`cclib.models.check_protocol` checks it). A model with labels of its own (the residual
    model) also has ``labels(x)``."""

    n_instances: int
    n_features: int

    def __call__(self, x: Float[Tensor, "K B n"]) -> Float[Tensor, "K B n"]: ...

    def parameters(self) -> Iterator[torch.nn.Parameter]: ...


def labels(x: Float[Tensor, "K B n"], mixing_matrix: Optional[Float[Tensor, "K n n"]],
           target: str = "relu") -> Float[Tensor, "K B n"]:
    """y = f(x) + x M^T for the target's f (:data:`TARGETS`, default ReLU); M None for the clean
    task (M = 0)."""
    y = target_of(target).f(x)
    if mixing_matrix is not None:
        if not TARGETS[target].mixing:
            raise ValueError(f"target {target!r} takes no mixing term (its labels are "
                             f"{TARGETS[target].formula}): pass mixing_matrix=None")
        y = y + x @ mixing_matrix.transpose(-1, -2)
    return y


def targets(model: Model, x: Float[Tensor, "K B n"],
            mixing_matrix: Optional[Float[Tensor, "K n n"]], target: str = "relu") -> Float[Tensor, "K B n"]:
    """What ``model(x)`` is trained to output: ``model.labels(x)`` if the model has labels of its
    own (then ``target`` must be 'relu', the task its labels pose), else :func:`labels`."""
    if hasattr(model, "labels"):
        if target != "relu":
            raise ValueError(f"target must be 'relu' for {type(model).__name__}, whose labels are its "
                             f"own, got {target!r}")
        return model.labels(x)
    return labels(x, mixing_matrix, target)


def check_target(target: str, model: Model, mixing) -> None:
    """Raise a ValueError naming ``target`` unless it is one of :data:`TARGETS` that fits the model
    and the mixing (a :class:`cclib.mixing.Mixing`): a target without a mixing term takes the clean
    mixing only (M = 0, sigma fixed), and a model with labels of its own takes 'relu' only."""
    spec = target_of(target)
    if not spec.mixing and (mixing.trainable_sigma or bool(torch.any(mixing.matrix() != 0))):
        raise ValueError(f"target {target!r} takes the clean mixing only (its labels are {spec.formula}); "
                         "pass cclib.mixing.clean(n_features, n_instances)")
    if target != "relu" and hasattr(model, "labels"):
        raise ValueError(f"target must be 'relu' for {type(model).__name__}, whose labels are its own, "
                         f"got {target!r}")


def check_importance(importance, n: int) -> Optional[Tensor]:
    """Per-feature loss weights as the engines take them: float32 (n,), or None for uniform (for
    None and for all ones). A TypeError or ValueError naming ``importance`` unless it is None or
    n finite non-negative numbers, at least one positive."""
    if importance is None:
        return None
    try:
        w = torch.as_tensor(importance, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"importance must be None or {n} non-negative numbers, got {importance!r}") from None
    if w.numel() != n or not torch.all(torch.isfinite(w)) or torch.any(w < 0):
        raise ValueError(f"importance must be None or {n} finite non-negative numbers (one per "
                         f"feature), got {w.numel()} values")
    if not torch.any(w > 0):
        raise ValueError("importance must have at least one positive weight: with all weights 0 the loss "
                         "is exactly 0 and nothing is trained")
    return None if torch.all(w == 1) else w.float()


def one_active_labels(mixing_t: Optional[Float[Tensor, "K n n"]], n: int,
                      dtype: torch.dtype = torch.float32) -> Float[Tensor, "K 2*n n"]:
    """The label of each exactly-one-active case per unit |v|: row i is that of +e_i, I + M^T,
    row n + i that of -e_i, -M^T. mixing_t: M^T (K, n, n), or None for M = 0 (then K = 1)."""
    eye = torch.eye(n, dtype=dtype)[None]
    if mixing_t is None:
        return torch.cat([eye, torch.zeros_like(eye)], 1)
    mixing_t = mixing_t.to(dtype)
    return torch.cat([eye + mixing_t, torch.zeros_like(mixing_t) - mixing_t], 1)  # 0 - x: no -0.0


def error(residual: Float[Tensor, "*shape"], kind: str = "mse") -> Float[Tensor, "*shape"]:
    """e(r) of each output coordinate: r^2 for 'mse', r^4 for 'l4'."""
    if kind == "mse":
        return residual.square()
    if kind == "l4":
        return residual.square().square()
    raise ValueError(f"loss kind must be one of {', '.join(map(repr, LOSSES))}; got {kind!r}")


def loss(outputs: Float[Tensor, "K B n"], labels: Float[Tensor, "K B n"],
         importance: Optional[Float[Tensor, " n"]] = None, kind: str = "mse") -> Float[Tensor, " K"]:
    """The training loss of each instance: the mean over batch and features of
    importance_j * e(outputs - labels) (importance None: uniform)."""
    err = error(outputs - labels, kind)
    if importance is not None:
        err = err * importance
    return err.mean((1, 2))


def cosine_lr(lr: float, step: float | Tensor, total: float | Tensor) -> Tensor:
    """Learning rate at 0-based ``step`` of ``total``: lr * (1 + cos(pi step / total)) / 2, and 0
    from step ``total`` on. step and total: numbers or broadcastable tensors; float64 result."""
    step = torch.as_tensor(step, dtype=torch.float64)
    total = torch.as_tensor(total, dtype=torch.float64)
    return torch.where(step < total, lr * 0.5 * (1 + torch.cos(math.pi * step / total)), 0.0)


def default_steps(inputs: str, probs: list, n: int) -> list[int]:
    """Each instance's steps when none are given: 10,000 non-empty batches for Bernoulli(p)
    (:func:`cclib.data.steps_for`), :data:`ONE_ACTIVE_STEPS` for exactly-one-active inputs."""
    if inputs == "bernoulli":
        return [steps_for(q, n) for q in probs]
    return [ONE_ACTIVE_STEPS] * len(probs)


@dataclass(frozen=True)
class Procedure:
    """One training call's settings, checked where they entered (:class:`cclib.spec.RunSpec` or
    :func:`cclib.train.train`) and handed to the engines as they are.

    inputs: 'bernoulli' or 'one_active'; probs: each instance's p (None for one-active); steps,
    seeds: one per instance; importance: (n,) float32 weights, or None for uniform; loss: a kind
    of :data:`LOSSES`; target: a name in :data:`TARGETS`. AdamW: lr, weight_decay, betas (0.9,
    0.999), eps 1e-8; the learning rate follows :func:`cosine_lr` over each instance's own steps."""

    inputs: str
    probs: tuple
    steps: tuple[int, ...]
    seeds: tuple[int, ...]
    batch_size: int = 2048
    lr: float = 3e-3
    weight_decay: float = 1e-2
    importance: Optional[Tensor] = None
    loss: str = "mse"
    target: str = "relu"

    def select(self, index: list[int]) -> "Procedure":
        """The procedure of the instances ``index`` (a shard)."""
        return replace(self, probs=tuple(self.probs[i] for i in index),
                       steps=tuple(self.steps[i] for i in index), seeds=tuple(self.seeds[i] for i in index))
