"""The general engine: the training procedure's definition, for any model on any torch device.

Each step, for all K instances in one batched computation:

    x  = the step's inputs, (K, batch, n), from each instance's own stream
    y  = f(x) + x M^T                         (the target's f, cclib.task.TARGETS; M = |sigma| G,
                                               sigma trained if asked; model.labels(x) for a
                                               model with labels of its own)
    L_k = task.loss(model(x), y, importance, kind)   (mean of importance_j e(model(x) - y)_kbj,
                                                      e(r) = r^2 or r^4: cclib.task)
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

from . import task
from ._adamw import adamw_step
from ._batches import CHUNK_STEPS, dense_chunk
from ._threads import single_threaded
from .data import OneActiveStream, streams
from .mixing import Mixing
from .models import set_parameters
from .task import Procedure


def _inputs(sources: list, inputs: str, batch_size: int, n: int):
    """Each chunk of CHUNK_STEPS steps in turn, as an iterator of dense (K, batch, n) inputs, one
    per step: the fast engine's draws (:func:`cclib._batches.dense_chunk`), written out."""
    while True:
        if inputs == "one_active":
            draws = torch.stack([s.next_draws(CHUNK_STEPS) for s in sources], 1)  # (c, K, b)
            yield (OneActiveStream.samples(step, n) for step in draws)
        else:
            yield iter(dense_chunk(sources, CHUNK_STEPS, batch_size, n))


@single_threaded
def train_general(model: nn.Module, mixing: Mixing, procedure: Procedure, device: torch.device,
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Train ``model`` in place by ``procedure`` on ``device`` (the model ends on the device it
    started on). Returns the (max steps, K) loss history and sigma (K,)."""
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
    weight = None if procedure.importance is None else procedure.importance.float().to(device)
    steps, lr = list(procedure.steps), procedure.lr
    moments = [(torch.zeros_like(p).reshape(k, -1), torch.zeros_like(p).reshape(k, -1)) for p in params]
    total = max(steps)
    steps_t = torch.tensor(steps, dtype=torch.float64)
    history = torch.full((total, k), float("nan"))
    chunks = _inputs(streams(procedure.inputs, list(procedure.probs), procedure.batch_size, n, list(procedure.seeds)),
                     procedure.inputs, procedure.batch_size, n)
    try:
        with tqdm(total=total, disable=not progress, desc="train (general)", unit="step",
                  leave=False, mininterval=10) as bar:
            for t0 in range(0, total, CHUNK_STEPS):
                for i, x in enumerate(next(chunks)):
                    t = t0 + i
                    if t >= total:
                        break
                    x = x.to(device)
                    y = task.targets(model, x, None if clean else sigma.abs()[:, None, None] * pattern,
                                     procedure.target)
                    loss = task.loss(model(x), y, weight, procedure.loss)
                    grads = torch.autograd.grad(loss.sum(), params)
                    lrs = task.cosine_lr(lr, t, steps_t).float().to(device)[:, None]      # (K, 1)
                    with torch.no_grad():
                        for p, g, (m1, m2) in zip(params, grads, moments):
                            adamw_step(p.view(k, -1), g.reshape(k, -1), m1, m2, lrs, procedure.weight_decay, t + 1)
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

    def __init__(self, model, mixing: Mixing, procedure: Procedure, device: torch.device):
        self.model, self.mixing, self.steps = model, mixing, list(procedure.steps)
        self.local = device.type != "cpu"
        self.shards = [list(range(model.n_instances))]  # one task: the whole run
        self.tasks = [(_train_general_task, (model, mixing, procedure, device))]
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


def _train_general_task(model, mixing, procedure, device, progress=False, start=None):
    """Train a (possibly copied) model with the general engine, from the parameters ``start`` if
    given (the trained run it starts from); its parameters, loss history and sigma as numpy
    arrays (they may cross a process boundary)."""
    if start is not None:
        set_parameters(model, start)
    loss, sigma = train_general(model, mixing, procedure, device, progress)
    return [t.detach().cpu().numpy().copy() for t in model.parameters()], loss, sigma
