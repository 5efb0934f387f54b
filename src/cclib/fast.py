"""The fast engine: a checked optimisation of the general engine (:mod:`cclib.general`) for the
cases it supports (:func:`refusal`, the one rule: cclib's own MLP with ReLU and no biases, and
the residual model; the ReLU target, uniform importance and the MSE; the CPU).

A step, read top to bottom in :func:`_train_shard`: draw the batches (:mod:`cclib._batches`),
compute the loss and its hand-derived gradients (:mod:`cclib._grads`), update with AdamW
(:mod:`cclib._adamw`) at the cosine learning rate. Three exact shortcuts make it fast:

* only the non-empty samples of a Bernoulli batch are computed (the others add 0 to the sum);
* sparse Bernoulli inputs are drawn as positions of active cells and the loss is taken in Gram
  form: gathers of W_in rows and (d x d) products instead of products with mostly-zero matrices;
* for exactly-one-active inputs the batch enters only through per-(feature, sign) sums of squared
  values (see :class:`cclib.data.OneActiveStream`), so a step is a few (2n x d) products.

The instances are split into shards by a fixed rule (:func:`shard_plan`), each
trained on one thread wherever it runs, so the numbers do not depend on how many workers
computed them.
"""
from __future__ import annotations

import numpy as np
import torch

from ._adamw import FlatAdamW
from ._batches import CHUNK_STEPS, SparseBatch, draw_batches, mixing_tables
from ._checks import check_choice
from ._grads import grads_buckets, grads_dense, grads_sparse, one_active_targets
from ._threads import single_threaded
from .data import streams
from .mixing import Mixing
from .models import closed_forms, set_parameters
from .task import Procedure, cosine_lr


MAX_SHARDS = 8
#: A shard holds at least this many instances (or all of a smaller run): per instance, both the
#: Bernoulli and the exactly-one-active step run ~1.4x faster on 8 instances than on 1.
MIN_SHARD = 8


def shard_plan(n_instances: int, inputs: str) -> list[list[int]]:
    """The instances of a K-instance run as contiguous shards of near-equal size: at most
    MAX_SHARDS of them, of at least MIN_SHARD instances each (one shard when K is smaller).
    ``inputs`` is part of the rule's signature so that it may differ by input kind; today it
    does not."""
    check_choice("inputs", inputs, ("bernoulli", "one_active"))
    n_shards = max(1, min(MAX_SHARDS, n_instances // MIN_SHARD))
    size, extra = divmod(n_instances, n_shards)
    bounds = [0]
    for s in range(n_shards):
        bounds.append(bounds[-1] + size + (s < extra))
    return [list(range(a, b)) for a, b in zip(bounds, bounds[1:])]


def refusal(model, device: torch.device, procedure: Procedure) -> str | None:
    """Why the fast engine cannot train ``model`` by ``procedure`` on ``device`` exactly, or None
    when it can: its gradients are hand-derived for the closed-form models
    (:func:`cclib.models.closed_forms`), the ReLU target, uniform importance and the MSE, and it
    runs on the CPU. :func:`cclib.train.choose_engine` and the scheduler's estimates ask this."""
    support = closed_forms(model)
    if not support:
        return support.reason
    if device.type != "cpu":
        return f"device {str(device)!r} (the fast engine runs on the CPU)"
    if procedure.target != "relu":
        return f"target {procedure.target!r} (the fast engine's labels are ReLU(x) + x M^T)"
    if procedure.importance is not None:
        return "a non-uniform importance weight"
    if procedure.loss != "mse":
        return f"loss {procedure.loss!r} (the fast engine's gradients are the MSE's)"
    return None


class FastPlan:
    """A fast-engine training call cut into shard tasks (:func:`shard_plan`):
    ``tasks`` ((function, args) pairs), ``costs`` (model-steps of each), and :meth:`finish`, which
    writes the shards' results into the model (in place). Many plans' tasks run together in
    :func:`cclib.parallel.run_plans`."""

    engine = "fast"
    local = False

    def __init__(self, model, mixing: Mixing, procedure: Procedure):
        reason = refusal(model, torch.device("cpu"), procedure)
        if reason is not None:
            raise ValueError(f"the fast engine cannot train this exactly: {reason} (cclib.train chooses "
                             "the general engine for it)")
        steps = list(procedure.steps)
        self.model, self.mixing, self.steps = model, mixing, steps
        self.shards = shard_plan(model.n_instances, procedure.inputs)
        self.tasks = [(_train_shard, (model.select(index), mixing.select(index), procedure.select(index)))
                      for index in self.shards]
        self.costs = [max(steps[i] for i in index) * len(index) for index in self.shards]

    def finish(self, results: list) -> tuple[torch.Tensor, Mixing]:
        """Write the shards' results into the model (in place); the (max steps, K) loss history
        and the mixing after training."""
        k, model, steps = self.model.n_instances, self.model, self.steps
        history = torch.full((max(steps), k), float("nan"))
        sigma = self.mixing.sigma.clone()
        with torch.no_grad():
            for index, (params, loss, shard_sigma) in zip(self.shards, results):
                for param, trained in zip(model.parameters(), params):
                    param[index] = torch.from_numpy(trained)
                history[:loss.shape[0], index] = torch.from_numpy(loss)
                sigma[index] = torch.from_numpy(shard_sigma)
        return history, Mixing(self.mixing.pattern, sigma, self.mixing.trainable_sigma)


@single_threaded
def _train_shard(model, mixing: Mixing, procedure: Procedure,
                 start: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Train one shard of instances, from the parameters ``start`` if given (the trained shard of
    the run it starts from); returns its trained parameters, its (max steps, K) loss history and
    its sigma (K,), as numpy arrays (they may cross a process boundary)."""
    if start is not None:
        set_parameters(model, start)
    inputs, batch_size, steps = procedure.inputs, procedure.batch_size, list(procedure.steps)
    k, n = model.n_instances, model.n_features
    sources = streams(inputs, list(procedure.probs), batch_size, n, list(procedure.seeds))

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
    optimizer = FlatAdamW(flat, grad, lr=procedure.lr, weight_decay=procedure.weight_decay,
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
        batches = draw_batches(sources, inputs, batch_size, n, tables)[:total - t0]
        lrs = cosine_lr(procedure.lr, torch.arange(t0, t0 + len(batches), dtype=torch.float64)[:, None],
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
