"""The general engine: the training procedure's definition, for any model on any torch device.

Each step, for all K instances in one batched computation:

    x  = the step's inputs, (K, batch, n), from each instance's own stream
    y  = ReLU(x) + x M^T                      (M = |sigma| G, sigma trained if asked;
                                               model.labels(x) for a model with labels of its own)
    L_k = mean over batch and features of importance_j (model(x) - y)_kbj^2
    grads = autograd of sum_k L_k;  AdamW with instance k's cosine learning rate

It reads the same per-instance streams as the fast engine (:mod:`cclib.data`), drawn in the same
chunks, so one spec and one seed give the same batches in both, and the same trained weights up
to float rounding. The batches are drawn on the CPU and moved to the device step by step.

A model follows the protocol in :mod:`cclib.models`: ``forward`` maps (K, batch, n) to
(K, batch, n), every parameter has the instance dimension first, and it has ``n_instances`` and
``n_features``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ._adamw import adamw_step, cosine_lr
from ._batches import CHUNK_STEPS
from ._threads import single_threaded
from .data import BernoulliStream, OneActiveStream, targets
from .mixing import Mixing
from .models import set_parameters


class _Inputs:
    """Each step's dense (K, batch, n) inputs from K streams, drawn CHUNK_STEPS at a time."""

    def __init__(self, inputs: str, probs: list, batch_size: int, n: int, seeds: list[int]):
        self.inputs, self.batch_size, self.n = inputs, batch_size, n
        if inputs == "bernoulli":
            self.streams = [BernoulliStream(q, batch_size, n, s) for q, s in zip(probs, seeds)]
        else:
            self.streams = [OneActiveStream(batch_size, n, s) for s in seeds]

    def chunk(self):
        """Yield the next CHUNK_STEPS steps' inputs, one (K, batch, n) tensor at a time."""
        b, n = self.batch_size, self.n
        if self.inputs == "one_active":
            draws = torch.stack([s.next_draws(CHUNK_STEPS) for s in self.streams], 1)  # (c, K, b)
            for step in draws:
                yield OneActiveStream.samples(step, n)
            return
        parts = [s.next_chunk(CHUNK_STEPS) for s in self.streams]
        cells = b * n
        bounds = [None if part[0] == "dense" else
                  torch.searchsorted(part[1], torch.arange(CHUNK_STEPS + 1) * cells).tolist()
                  for part in parts]
        for i in range(CHUNK_STEPS):
            x = torch.zeros(len(parts), cells)
            for k, (part, bound) in enumerate(zip(parts, bounds)):
                if part[0] == "dense":
                    x[k] = part[1][i].reshape(-1)
                else:
                    lo, hi = bound[i], bound[i + 1]
                    x[k, part[1][lo:hi] - i * cells] = part[2][lo:hi]
            yield x.view(len(parts), b, n)


@single_threaded
def train_general(model: nn.Module, mixing: Mixing, *, inputs: str, probs: list, steps: list[int],
                  batch_size: int, lr: float, weight_decay: float, seeds: list[int],
                  importance: torch.Tensor | None, device: torch.device,
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Train ``model`` in place (it ends on the device it started on); arguments as validated by
    :func:`cclib.train.train`. Returns the (max steps, K) loss history and sigma (K,)."""
    k, n = model.n_instances, model.n_features
    home = next(model.parameters()).device
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    train_sigma = mixing.trainable_sigma
    sigma = mixing.sigma.detach().clone().float().to(device)
    pattern = mixing.pattern.float().to(device)
    if train_sigma:
        params.append(sigma.requires_grad_())
    clean = not train_sigma and not torch.any(sigma != 0)
    weight = None if importance is None else importance.float().to(device)
    moments = [(torch.zeros_like(p).reshape(k, -1), torch.zeros_like(p).reshape(k, -1)) for p in params]
    total = max(steps)
    steps_t = torch.tensor(steps, dtype=torch.float64)
    history = torch.full((total, k), float("nan"))
    data = _Inputs(inputs, probs, batch_size, n, seeds)
    try:
        with tqdm(total=total, disable=not progress, desc="train (general)", unit="step",
                  leave=False, mininterval=10) as bar:
            for t0 in range(0, total, CHUNK_STEPS):
                for i, x in enumerate(data.chunk()):
                    t = t0 + i
                    if t >= total:
                        break
                    x = x.to(device)
                    y = targets(model, x, None if clean else sigma.abs()[:, None, None] * pattern)
                    err = (model(x) - y).square()
                    if weight is not None:
                        err = err * weight
                    loss = err.mean((1, 2))
                    grads = torch.autograd.grad(loss.sum(), params)
                    lrs = cosine_lr(lr, t, steps_t).float().to(device)[:, None]      # (K, 1)
                    with torch.no_grad():
                        for p, g, (m1, m2) in zip(params, grads, moments):
                            adamw_step(p.view(k, -1), g.reshape(k, -1), m1, m2, lrs, weight_decay, t + 1)
                    history[t] = loss.detach().cpu()
                bar.update(min(CHUNK_STEPS, total - t0))
    finally:
        model.to(home)
    done = torch.arange(total)[:, None] < steps_t[None, :]
    history[~done] = float("nan")
    return history.numpy(), sigma.detach().cpu().numpy()


class GeneralPlan:
    """A general-engine training call as one task (the whole run): on the CPU it may run in any
    worker process; on another device it runs in this process (``local``)."""

    engine = "general"

    def __init__(self, model, mixing: Mixing, settings: dict, importance, device: torch.device):
        self.model, self.mixing, self.steps = model, mixing, settings["steps"]
        self.local = device.type != "cpu"
        self.shards = [list(range(model.n_instances))]  # one task: the whole run
        self.tasks = [(_train_general_task, (model, mixing, settings, importance, device))]
        self.costs = [max(self.steps) * model.n_instances]

    def finish(self, results: list) -> tuple[torch.Tensor, Mixing]:
        """Write the trained parameters into the model (in place); the (max steps, K) loss
        history and the mixing after training."""
        params, loss, sigma = results[0]
        with torch.no_grad():
            for param, trained in zip(self.model.parameters(), params):
                param.copy_(torch.from_numpy(trained))
        return (torch.from_numpy(loss),
                Mixing(self.mixing.pattern, torch.from_numpy(sigma), self.mixing.trainable_sigma))


def _train_general_task(model, mixing, settings, importance, device, progress=False, start=None):
    """Train a (possibly copied) model with the general engine, from the parameters ``start`` if
    given (the trained run it starts from); its parameters, loss history and sigma as numpy
    arrays (they may cross a process boundary)."""
    if start is not None:
        set_parameters(model, start)
    loss, sigma = train_general(model, mixing, importance=importance, device=device, progress=progress,
                                **settings)
    return [t.detach().cpu().numpy().copy() for t in model.parameters()], loss, sigma
