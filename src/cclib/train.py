"""Training: the paper's procedure, fast.

The procedure (the published code's): AdamW (lr 3e-3, weight decay 1e-2, betas (0.9, 0.999),
eps 1e-8), cosine annealing of the learning rate to zero over each instance's own number of
steps, batch 2048,
loss = mean squared error over batch and features (all-zero samples included in the mean).

:func:`train` computes exactly that for K instances at once, with three exact shortcuts:

* only the non-empty samples of a Bernoulli batch are computed (the others add 0 to the sum);
* sparse Bernoulli inputs are drawn as positions of active cells, and the loss is taken in Gram
  form (:func:`grads_sparse`): gathers of W_in rows and (d x d) products instead of products
  with mostly-zero (rows x n) matrices;
* for exactly-one-active inputs the batch enters only through per-(feature, sign) sums of squared
  values (see :class:`cclib.data.OneActiveStream`), so a step is a few (2n x d) products.

Gradients are derived by hand (checked against autograd in the tests) and AdamW runs on one flat
(K, n_params) buffer. :func:`train_reference` is the straightforward version, kept for tests and
benchmarks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ._threads import single_threaded
from ._checks import check_choice, check_float, check_int, check_probabilities, check_seeds
from .data import BernoulliStream, OneActiveStream, labels, sample_bernoulli, sample_one_active, steps_for
from .mixing import Mixing
from .models import MLP, ResidualMLP

INPUTS = ("bernoulli", "one_active")
BETAS = (0.9, 0.999)
EPS = 1e-8
CHUNK_STEPS = 16  # steps drawn per stream call; part of an instance's random stream, keep fixed
BUCKET_GROUP = 16  # instances per block in the exactly-one-active step
DENSE_ROWS = 400  # below this many non-empty rows in a step, a dense block beats the Gram form
FUSED_MIN_PARAMS = 1 << 17  # below this, the fused optimizer's fixed overhead costs more than it saves


@dataclass
class TrainResult:
    """loss: (max_steps, K) minibatch MSE at each step (NaN after an instance's last step).
    steps: steps run per instance. mixing: the mixing after training (learned sigma if trainable).
    """

    loss: torch.Tensor
    steps: list[int]
    mixing: Mixing


def cosine_lr(lr: float, step, total) -> torch.Tensor:
    """Learning rate at 0-based ``step`` of ``total``: lr * (1 + cos(pi step / total)) / 2, and 0
    from step ``total`` on. step and total: numbers or broadcastable tensors; float64 result."""
    step = torch.as_tensor(step, dtype=torch.float64)
    total = torch.as_tensor(total, dtype=torch.float64)
    return torch.where(step < total, lr * 0.5 * (1 + torch.cos(math.pi * step / total)), 0.0)


# --------------------------------------------------------------------------------------------
# Loss and hand-derived gradients for the three batch representations. Every function takes
# effective weights w_in (K, n, d), w_out (K, d, n), the mixing pattern transposed gt (K, n, n) or
# None, and sigma_abs (K,), and returns (loss (K,), grad_w_in, grad_w_out, grad_sigma_abs (K,)).
# The loss is the sum of squared errors over batch and features divided by batch_size * n.
# --------------------------------------------------------------------------------------------

def _relu_grad(grad, pre_activation):
    """grad where pre_activation > 0, else 0: ReLU's backward kernel, several times faster on a
    CPU than torch.where for these sizes."""
    return torch.ops.aten.threshold_backward(grad, pre_activation, 0.0)


def grads_dense(w_in, w_out, gt, sigma_abs, x, batch_size, need_sigma_grad=False, scaled_gt=None):
    """x: (K, R, n) dense inputs (R <= batch_size rows; missing rows are all-zero samples).
    scaled_gt: optionally ``gt * sigma_abs`` precomputed (when sigma is fixed).

    Scales are folded into the small (K, d, n)-sized results rather than the (K, R, n) tensors,
    which is where the time goes on a CPU.
    """
    n = x.shape[-1]
    scale = 2.0 / (batch_size * n)
    h = x @ w_in
    a = torch.relu(h)
    if gt is None:
        diff = a @ w_out
    else:  # out - x (sigma G)^T in one product
        if scaled_gt is None:
            scaled_gt = gt * sigma_abs[:, None, None]
        diff = torch.baddbmm(a @ w_out, x, scaled_gt, alpha=-1.0)
    diff.sub_(torch.relu(x))
    loss = torch.linalg.vector_norm(diff, dim=(1, 2)).square() / (batch_size * n)
    g_w_out = (a.transpose(1, 2) @ diff).mul_(scale)
    g_h = _relu_grad(diff @ w_out.transpose(1, 2), h)
    g_w_in = (x.transpose(1, 2) @ g_h).mul_(scale)
    g_sigma = None
    if need_sigma_grad and gt is not None:
        g_sigma = -scale * ((x.transpose(1, 2) @ diff) * gt).sum((1, 2))
    return loss, g_w_in, g_w_out, g_sigma


def grads_sparse(w_in, w_out, gt, sigma_abs, batch: SparseBatch, batch_size,
                 need_sigma_grad=False, scaled_gt=None):
    """A Bernoulli batch given as active cells (:class:`SparseBatch`), in Gram form.

    With a = ReLU(h) for the non-empty rows, Q = W_out W_out^T (d x d) and c_r = W_out y_r^T,
    the summed error is sum_r (a_r Q a_r^T - 2 a_r . c_r + |y_r|^2). Nothing of size rows x n
    meets a weight matrix: h and c gather rows of small (2n x d) tables, the backward pass sums
    rows of a and of dL/dh into the 2n (feature, sign) buckets. Per instance and step that is
    about 2 R d^2 + 6 E d multiply-adds (R rows, E active cells), against R (5 n d + n^2) for
    the dense form: ~5x fewer at p = 0.01. |y_r|^2 needs z = x G^T, E n more additions, done
    only for the loss value and the sigma gradient. All-zero samples are left out (they add
    nothing to the summed error, only to the batch_size it is divided by).
    """
    k, n, d = w_in.shape
    scale = 2.0 / (batch_size * n)
    bag = torch.nn.functional.embedding_bag
    w_out_t = w_out.transpose(1, 2)                                        # (K, n, d)
    q = w_out @ w_out_t                                                    # (K, d, d)
    if gt is None:
        c_table = torch.cat([w_out_t, torch.zeros_like(w_out_t)], 1)
    else:
        if scaled_gt is None:
            scaled_gt = gt * sigma_abs[:, None, None]
        mixed = scaled_gt @ w_out_t        # (K, n, d): rows of (W_out M)^T, y = relu(x) + x M^T
        c_table = torch.cat([w_out_t + mixed, mixed], 1)
    c_table = c_table.reshape(k * 2 * n, d)
    h = bag(batch.cell, w_in.reshape(k * n, d), batch.row_offsets, mode="sum",
            per_sample_weights=batch.value)
    c = bag(batch.bucket, c_table, batch.row_offsets, mode="sum", per_sample_weights=batch.value)
    a = torch.relu(h)
    a3 = a.view(k, -1, d)
    g_h = _relu_grad(torch.baddbmm(c.view(k, -1, d), a3, q, beta=-1.0).view(-1, d), h)  # (aQ - c)
    ata = a3.transpose(1, 2) @ a3                                          # (K, d, d)
    p_a = bag(batch.row, a, batch.bucket_offsets, mode="sum", per_sample_weights=batch.bucket_value)
    p_g = bag(batch.row, g_h, batch.bucket_offsets, mode="sum", per_sample_weights=batch.bucket_value)
    p_a, p_g = p_a.view(k, 2 * n, d), p_g.view(k, 2 * n, d)
    # sum_r a_r . c_r = sum over buckets of c_table . p_a; sum_r a_r Q a_r^T = <A^T A, Q>
    loss = (ata * q).sum((1, 2)) - 2 * (c_table.view(k, 2 * n, d) * p_a).sum((1, 2)) + batch.relu_sq
    if gt is not None:
        z = bag(batch.cell, gt.reshape(k * n, n), batch.row_offsets, mode="sum",
                per_sample_weights=batch.value)                             # x G^T, (K R, n)
        z_sq = torch.linalg.vector_norm(z.view(k, -1), dim=1).square()
        instance = torch.div(batch.cell, n, rounding_mode="floor")
        relu_z = torch.zeros(k).index_add_(0, instance, torch.relu(batch.value) * z.view(-1)[batch.row_cell])
        loss = loss + sigma_abs * (2 * relu_z + sigma_abs * z_sq)          # |y|^2 beyond |relu(x)|^2
    loss = loss / (batch_size * n)
    g_w_in = (p_g[:, :n] + p_g[:, n:]).mul_(scale)
    a_t_y = p_a[:, :n]                                                     # relu(X)^T A
    if gt is not None:
        g_x_t_a = gt.transpose(1, 2) @ (p_a[:, :n] + p_a[:, n:])           # G X^T A
        a_t_y = a_t_y + sigma_abs[:, None, None] * g_x_t_a
    g_w_out = (ata @ w_out - a_t_y.transpose(1, 2)).mul_(scale)
    g_sigma = None
    if need_sigma_grad and gt is not None:
        g_sigma = -scale * ((w_out_t * g_x_t_a).sum((1, 2)) - relu_z - sigma_abs * z_sq)
    return loss, g_w_in, g_w_out, g_sigma


def one_active_targets(gt, sigma_abs, n):
    """Label per unit |v| for each (feature, sign) bucket, (K or 1, 2n, n): rows i < n are
    e_i + M^T[i] (v > 0), rows n + i are -M^T[i] (v < 0)."""
    target = torch.zeros(1, 2 * n, n)
    target[0, :n] = torch.eye(n)
    if gt is None:
        return target
    return target + sigma_abs[:, None, None] * torch.cat([gt, -gt], 1)


def grads_buckets(w_in, w_out, gt, sigma_abs, weights, batch_size, target=None,
                  need_sigma_grad=False):
    """Exactly-one-active batches as bucket weights (K, 2n): sum of v^2 per (feature, sign).

    The output for input v e_i is |v| * ReLU(sign(v) W_in[i]) W_out, so with
    ``target = one_active_targets(...)`` the batch's summed squared error is
    sum_b S_b ||out_b - target_b||^2.
    """
    k = w_in.shape[0]
    if target is None:
        target = one_active_targets(gt, sigma_abs, w_in.shape[1])
    if k <= BUCKET_GROUP:
        return _grads_buckets(w_in, w_out, gt, sigma_abs, weights, batch_size, target, need_sigma_grad)
    # Many instances: a group at a time keeps the (group, 2n, n) intermediates in cache (~1.6x
    # faster at 123 instances); every instance's numbers are computed the same way.
    parts = [_grads_buckets(w_in[s], w_out[s], None if gt is None else gt[s], sigma_abs[s], weights[s],
                            batch_size, target if target.shape[0] == 1 else target[s], need_sigma_grad)
             for s in (slice(a, a + BUCKET_GROUP) for a in range(0, k, BUCKET_GROUP))]
    return tuple(None if parts[0][i] is None else torch.cat([p[i] for p in parts]) for i in range(4))


def _grads_buckets(w_in, w_out, gt, sigma_abs, weights, batch_size, target, need_sigma_grad):
    k, n, _ = w_in.shape
    scale = 2.0 / (batch_size * n)
    h = torch.cat([w_in, -w_in], 1)                      # (K, 2n, d): unit input +e_i, then -e_i
    a = torch.relu(h)
    diff = torch.baddbmm(target.expand(k, -1, -1), a, w_out, beta=-1.0)   # out - target, (K, 2n, n)
    row_sq = torch.linalg.vector_norm(diff, dim=2).square()               # (K, 2n)
    loss = (weights * row_sq).sum(1) / (batch_size * n)
    # The bucket weights S scale d loss / d out row by row; they are applied to the (2n, d)-sized
    # factors rather than to the (2n, n) error.
    s = (weights * scale)[:, :, None]
    g_w_out = (a * s).transpose(1, 2) @ diff
    g_h = _relu_grad((diff @ w_out.transpose(1, 2)).mul_(s), h)
    g_sigma = None
    if need_sigma_grad and gt is not None:
        g_sigma = -((diff * s) * torch.cat([gt, -gt], 1)).sum((1, 2))
    return loss, g_h[:, :n] - g_h[:, n:], g_w_out, g_sigma


# --------------------------------------------------------------------------------------------
# Combining the per-instance streams of one chunk into per-step batches.
# --------------------------------------------------------------------------------------------

@dataclass
class SparseBatch:
    """One step's Bernoulli batch for K instances, non-empty samples only, in two orders.

    Each active cell is an entry with a value v, a *cell* k n + feature (its instance's row of
    W_in or G) and a *bucket* k 2n + feature + n [v < 0] (instance, feature and sign). The
    non-empty samples are compacted into n_rows rows per instance (row id k n_rows + r). Entries
    grouped by row feed the forward pass, entries grouped by bucket the backward pass; both are
    bags for :func:`torch.nn.functional.embedding_bag`.
    """

    n_rows: int
    cell: torch.Tensor            # (E,) grouped by row
    bucket: torch.Tensor          # (E,)
    value: torch.Tensor           # (E,)
    row_cell: torch.Tensor        # (E,) row id * n + feature: the entry's place in a (rows, n) block
    row_offsets: torch.Tensor     # (K * n_rows,) first entry of each row
    row: torch.Tensor             # (E,) grouped by bucket
    bucket_value: torch.Tensor    # (E,)
    bucket_offsets: torch.Tensor  # (K * 2n,) first entry of each bucket
    relu_sq: torch.Tensor         # (K,) sum of relu(v)^2: the batch's |relu(x)|^2


def _exclusive_cumsum(counts):
    return torch.cumsum(counts, 0) - counts


def _stable_order(key: torch.Tensor, bound: int) -> torch.Tensor:
    """Stable argsort of non-negative int keys below ``bound`` (numpy's radix sort when they fit
    16 bits: ~3x faster than torch.sort here)."""
    if bound <= 1 << 16:
        dtype = np.uint8 if bound <= 1 << 8 else np.uint16
        return torch.from_numpy(np.argsort(key.numpy().astype(dtype), kind="stable"))
    return torch.sort(key, stable=True).indices


def _sparse_chunk(parts, steps, batch_size, n) -> list[SparseBatch]:
    """Merge K instances' sparse chunks (step, row, feature, value; each sorted) into one
    :class:`SparseBatch` per step."""
    k = len(parts)
    lengths = torch.tensor([p[0].numel() for p in parts])
    instance = torch.repeat_interleave(torch.arange(k), lengths)
    step, row, feature, value = (torch.cat([p[i] for p in parts]) for i in range(4))
    group = instance * steps + step                      # instance-major (instance, step) groups
    n_groups = k * steps
    pos = torch.relu(value)
    relu_sq = torch.bincount(group, pos * pos, n_groups).float().view(k, steps)
    # compact each (instance, step)'s non-empty rows to 0, 1, 2, ...
    uniq, inverse = torch.unique_consecutive(group * batch_size + row, return_inverse=True)
    uniq_group = uniq // batch_size
    rows_per_group = torch.bincount(uniq_group, minlength=n_groups)
    rank = (torch.arange(uniq.numel()) - _exclusive_cumsum(rows_per_group)[uniq_group])[inverse]
    n_rows = rows_per_group.view(k, steps).amax(0).clamp_min(1)          # (steps,)

    # Reorder the entries step-major (step, instance, row, feature): one shift per group.
    per_group = torch.bincount(group, minlength=n_groups).view(k, steps)
    step_start = _exclusive_cumsum(per_group.sum(0))                       # (steps,)
    inst_start = _exclusive_cumsum(per_group)                              # (K, steps)
    shift = step_start[None] + inst_start - _exclusive_cumsum(per_group.reshape(-1)).view(k, steps)
    dest = shift.reshape(-1)[group] + torch.arange(value.numel())
    step_major = torch.empty_like(dest)
    step_major[dest] = torch.arange(value.numel())
    step, instance, feature, value, rank = (t[step_major] for t in (step, instance, feature, value, rank))
    row = instance * n_rows[step] + rank                                   # row id within its step
    cell = instance * n + feature
    bucket = cell + instance * n + n * (value < 0)
    row_base = _exclusive_cumsum(k * n_rows)
    row_start = _exclusive_cumsum(torch.bincount(row_base[step] + row, minlength=int((k * n_rows).sum())))
    bucket_key = step * (k * 2 * n) + bucket
    by_bucket = _stable_order(bucket_key, steps * k * 2 * n)
    bucket_start = _exclusive_cumsum(torch.bincount(bucket_key, minlength=steps * k * 2 * n))
    row_t, value_t = row[by_bucket], value[by_bucket]
    bounds = step_start.tolist() + [value.numel()]
    batches = []
    for s, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        r0, r1 = int(row_base[s]), int(row_base[s] + k * n_rows[s])
        b0 = s * k * 2 * n
        batches.append(SparseBatch(
            int(n_rows[s]), cell[lo:hi], bucket[lo:hi], value[lo:hi], row[lo:hi] * n + feature[lo:hi], row_start[r0:r1] - lo, row_t[lo:hi], value_t[lo:hi],
            bucket_start[b0:b0 + k * 2 * n] - lo, relu_sq[:, s]))
    return batches


def _dense_chunk(parts, steps, batch_size, n):
    x = torch.zeros(steps, len(parts), batch_size, n)
    for k, part in enumerate(parts):
        if part[0] == "dense":
            x[:, k] = part[1]
        else:
            _, step, row, feat, value = part
            x[step, k, row, feat] = value
    return list(x.unbind(0))


# --------------------------------------------------------------------------------------------

def _validate_common(model, mixing, batch_size, lr, weight_decay):
    if not isinstance(mixing, Mixing):
        raise TypeError(f"mixing must be a cclib.mixing.Mixing, got {type(mixing).__name__}")
    if mixing.n_instances != model.n_instances:
        raise ValueError(f"mixing has {mixing.n_instances} instances but the model has "
                         f"{model.n_instances}; they must match")
    if mixing.n_features != model.n_features:
        raise ValueError(f"mixing is for n_features={mixing.n_features} but the model has "
                         f"n_features={model.n_features}")
    check_int("batch_size", batch_size)
    check_float("lr", lr, 0.0, 10.0, low_open=True)
    check_float("weight_decay", weight_decay, 0.0, 1.0)


def _resolve_steps(steps, default, k):
    if steps is None:
        return list(default)
    if isinstance(steps, int) and not isinstance(steps, bool):
        return [check_int("steps", steps)] * k
    steps = list(steps)
    if len(steps) != k:
        raise ValueError(f"steps must be one int or one per instance ({k}), got {len(steps)}")
    return [check_int(f"steps[{i}]", s) for i, s in enumerate(steps)]


@single_threaded
def train(model, mixing: Mixing, *, inputs: str = "bernoulli", p=None, steps=None,
          batch_size: int = 2048, lr: float = 3e-3, weight_decay: float = 1e-2, seeds=0,
          progress: bool = False) -> TrainResult:
    """Train the K instances of ``model`` (in place) on labels ReLU(x) + x M^T.

    inputs: 'bernoulli' (p: float or K floats in (0, 1]) or 'one_active' (p must be None).
    steps: int or K ints; default: 10,000 non-empty batches for Bernoulli (:func:`steps_for`),
    10,000 for one-active. seeds: the data seed of each instance (int s means s, s+1, ...). An instance's
    data and schedule depend only on its own seed and settings, never on the other instances;
    its trained weights agree with a run of it alone up to float rounding (batched products and
    the fused optimizer used for large runs may round differently), which long runs can amplify.
    """
    check_choice("inputs", inputs, INPUTS)
    _validate_common(model, mixing, batch_size, lr, weight_decay)
    k, n = model.n_instances, model.n_features
    seeds = check_seeds("seeds", seeds, k)
    if inputs == "bernoulli":
        if p is None:
            raise ValueError("p must be given for inputs='bernoulli': a float or K floats in (0, 1]")
        probs = check_probabilities("p", p, k).tolist()
        steps = _resolve_steps(steps, [steps_for(q, n) for q in probs], k)
        streams = [BernoulliStream(q, batch_size, n, s) for q, s in zip(probs, seeds)]
    else:
        if p is not None:
            raise ValueError(f"p must be None for inputs='one_active' (p is 1/n_features), got {p!r}")
        steps = _resolve_steps(steps, [10_000] * k, k)
        streams = [OneActiveStream(batch_size, n, s) for s in seeds]

    # One flat (K, P) buffer holds every trainable number; views give each parameter its shape.
    params = [t.detach() for t in model.parameters()]
    train_sigma = mixing.trainable_sigma
    pieces = [t.reshape(k, -1) for t in params] + ([mixing.sigma[:, None]] if train_sigma else [])
    flat = torch.cat(pieces, 1).float().contiguous()
    sizes = [piece.shape[1] for piece in pieces]
    offsets = [0] + list(torch.cumsum(torch.tensor(sizes), 0).tolist())
    views = [flat[:, a:b].view_as(t) for a, b, t in zip(offsets, offsets[1:], params)]
    sigma_view = flat[:, -1] if train_sigma else mixing.sigma.abs()
    grad = torch.zeros_like(flat)
    gt = mixing.pattern.transpose(1, 2).contiguous().float()
    if not train_sigma and not torch.any(mixing.sigma != 0):
        gt = None  # clean task: skip the mixing term altogether

    # With one schedule for all instances and many parameters, torch's fused AdamW kernel does the
    # update (4x faster than elementwise ops, but ~0.3 ms of fixed Python overhead per step);
    # otherwise _adamw_step, which also takes a per-instance (K, 1) learning rate.
    fused = None
    if len(set(steps)) == 1 and flat.numel() >= FUSED_MIN_PARAMS:
        fused = torch.optim.AdamW([flat], lr=lr, betas=BETAS, eps=EPS, weight_decay=weight_decay,
                                  fused=True)
        flat.grad = grad
    else:
        exp_avg, exp_avg_sq = torch.zeros_like(flat), torch.zeros_like(flat)
    fixed_target = None
    scaled_gt = None if train_sigma or gt is None else gt * sigma_view.abs()[:, None, None]
    total = max(steps)
    steps_t = torch.tensor(steps, dtype=torch.float64)
    history = torch.full((total, k), float("nan"))
    # plain text bar, redrawn every 10 s at most: an executed notebook keeps each redraw
    bar = tqdm(total=total, disable=not progress, desc="train", unit="step", leave=False,
               mininterval=10)
    t = 0
    while t < total:
        # Streams always draw whole chunks (the tail of the last one is unused), so an
        # instance's numbers never depend on how long the other instances run.
        c = min(CHUNK_STEPS, total - t)
        if inputs == "one_active":
            batches = list(torch.stack([s.next_chunk(CHUNK_STEPS) for s in streams], 1).unbind(0))
        else:
            parts = [s.next_chunk(CHUNK_STEPS) for s in streams]
            if any(part[0] == "dense" for part in parts):
                batches = _dense_chunk(parts, CHUNK_STEPS, batch_size, n)
            else:
                batches = _sparse_chunk([part[1:] for part in parts], CHUNK_STEPS, batch_size, n)
        batches = batches[:c]
        tt = torch.arange(t, t + c, dtype=torch.float64)[:, None]
        lrs = cosine_lr(lr, tt, steps_t).float()[:, :, None]                   # (c, K, 1)
        for i, batch in enumerate(batches):
            sigma_abs = sigma_view.abs()
            w_in, w_out = model.effective_weights(views)
            if inputs == "one_active":
                if train_sigma or fixed_target is None:
                    fixed_target = one_active_targets(gt, sigma_abs, n)
                loss, g_in, g_out, g_sig = grads_buckets(w_in, w_out, gt, sigma_abs, batch,
                                                         batch_size, fixed_target, train_sigma)
            elif isinstance(batch, torch.Tensor):
                loss, g_in, g_out, g_sig = grads_dense(w_in, w_out, gt, sigma_abs, batch,
                                                       batch_size, train_sigma, scaled_gt)
            elif batch.n_rows * k <= DENSE_ROWS:
                x = torch.zeros(k * batch.n_rows * n)
                x[batch.row_cell] = batch.value
                loss, g_in, g_out, g_sig = grads_dense(w_in, w_out, gt, sigma_abs, x.view(k, -1, n),
                                                       batch_size, train_sigma, scaled_gt)
            else:
                loss, g_in, g_out, g_sig = grads_sparse(w_in, w_out, gt, sigma_abs, batch,
                                                        batch_size, train_sigma, scaled_gt)
            history[t + i] = loss
            for view_grad, g in zip(model.pullback(views, g_in, g_out),
                                    [grad[:, a:b] for a, b in zip(offsets, offsets[1:])]):
                g.copy_(view_grad.reshape(k, -1))
            if train_sigma:
                grad[:, -1] = g_sig * torch.sign(sigma_view)
            if fused is not None:
                fused.param_groups[0]["lr"] = float(lrs[i, 0])
                fused.step()
            else:
                _adamw_step(flat, grad, exp_avg, exp_avg_sq, lrs[i], weight_decay, t + i + 1)
        t += c
        bar.update(c)
    bar.close()

    done = torch.arange(total)[:, None] < torch.tensor(steps)[None, :]
    history[~done] = float("nan")
    with torch.no_grad():
        for param, view in zip(model.parameters(), views):
            param.copy_(view)
    sigma = flat[:, -1].clone() if train_sigma else mixing.sigma.clone()
    return TrainResult(history, steps, Mixing(mixing.pattern, sigma, train_sigma))


def _adamw_step(param, grad, exp_avg, exp_avg_sq, lr, weight_decay, step):
    """torch.optim.AdamW's update, with a per-instance learning rate lr of shape (K, 1)."""
    beta1, beta2 = BETAS
    param.mul_(1 - lr * weight_decay)
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2 ** step)).add_(EPS)
    param.sub_((lr / (1 - beta1 ** step)) * exp_avg / denom)


# --------------------------------------------------------------------------------------------

def reference_loss(model, mixing: Mixing | None, x: torch.Tensor) -> torch.Tensor:
    """Plain autograd-able loss on a dense batch x (K, B, n): per-instance MSE, (K,).

    A residual model is scored on its own labels x + ReLU(x) (``mixing`` is then ignored).
    """
    if isinstance(model, ResidualMLP):
        y = x + torch.relu(x)
    else:
        y = labels(x, mixing.matrix())
    return (model(x) - y).square().mean((1, 2))


def train_reference(model, mixing: Mixing, *, inputs: str = "bernoulli", p=None, steps=None,
                    batch_size: int = 2048, lr: float = 3e-3, weight_decay: float = 1e-2,
                    seeds=0) -> TrainResult:
    """The straightforward trainer: one instance at a time, a dense uniform draw for every input
    cell, dense products, autograd, torch.optim.AdamW and a cosine LambdaLR.

    Same procedure as :func:`train` (different random draws), kept for tests and benchmarks.
    """
    check_choice("inputs", inputs, INPUTS)
    _validate_common(model, mixing, batch_size, lr, weight_decay)
    k, n = model.n_instances, model.n_features
    seeds = check_seeds("seeds", seeds, k)
    probs = check_probabilities("p", p, k).tolist() if inputs == "bernoulli" else [1.0 / n] * k
    default = [steps_for(q, n) for q in probs] if inputs == "bernoulli" else [10_000] * k
    steps = _resolve_steps(steps, default, k)
    history = torch.full((max(steps), k), float("nan"))
    sigmas = mixing.sigma.clone()
    for i in range(k):
        gen = torch.Generator().manual_seed(seeds[i])
        single = _one_instance(model, i)
        one = Mixing(mixing.pattern[i:i + 1], mixing.sigma[i:i + 1], mixing.trainable_sigma)
        trainable = list(single.parameters())
        if one.trainable_sigma:
            one.sigma = torch.nn.Parameter(one.sigma)
            trainable.append(one.sigma)
        opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay, betas=BETAS, eps=EPS)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s, total=steps[i]: float(cosine_lr(1.0, s, total)))
        for step in range(steps[i]):
            if inputs == "bernoulli":
                x = sample_bernoulli(batch_size, n, probs[i], gen)[None]
            else:
                x = sample_one_active(batch_size, n, gen)[None]
            loss = reference_loss(single, one, x)[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            history[step, i] = loss.detach()
        with torch.no_grad():
            for param, own in zip(model.parameters(), single.parameters()):
                param[i] = own[0]
        sigmas[i] = one.sigma.detach()[0]
    return TrainResult(history, steps, Mixing(mixing.pattern, sigmas, mixing.trainable_sigma))


def _one_instance(model, index):
    """A copy of instance ``index`` of ``model`` as a one-instance model of the same class."""
    if isinstance(model, ResidualMLP):
        single = ResidualMLP(model.W_E[index:index + 1], model.d_mlp)
    else:
        single = MLP(1, model.n_features, model.d_mlp)
    with torch.no_grad():
        for own, param in zip(single.parameters(), model.parameters()):
            own.copy_(param[index:index + 1])
    return single
