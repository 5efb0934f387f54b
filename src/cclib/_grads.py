"""Loss and hand-derived gradients of the simplified MLP for one step, K instances at once.

Three batch representations, one function each (all checked against autograd in the tests):

* :func:`grads_dense` — a dense (K, R, n) block of inputs (dense Bernoulli batches);
* :func:`grads_sparse` — the active cells of a sparse Bernoulli batch (:class:`SparseBatch`), in
  Gram form;
* :func:`grads_buckets` — exactly-one-active batches, summarised as per-(feature, sign) weights.

Every function takes effective weights w_in (K, n, d), w_out (K, d, n), the mixing pattern
transposed gt (K, n, n) or None (clean labels), and sigma_abs (K,), and returns
(loss (K,), grad_w_in (K, n, d), grad_w_out (K, d, n), grad_sigma_abs (K,) or None). The loss is
the sum of squared errors over the batch and the features divided by batch_size * n: the MSE of a
batch of batch_size samples, all-zero samples included.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ._batches import SparseBatch
from .task import one_active_labels

BUCKET_GROUP = 16  # instances per block in the exactly-one-active step
#: (loss (K,), grad_w_in (K, n, d), grad_w_out (K, d, n), grad_sigma_abs (K,) or None)
Grads = tuple[Tensor, Tensor, Tensor, Tensor | None]


def _relu_grad(grad: torch.Tensor, pre_activation: torch.Tensor) -> torch.Tensor:
    """grad where pre_activation > 0, else 0: ReLU's backward kernel, several times faster on a
    CPU than torch.where for these sizes."""
    return torch.ops.aten.threshold_backward(grad, pre_activation, 0.0)


def grads_dense(w_in: Tensor, w_out: Tensor, gt: Tensor | None, sigma_abs: Tensor, x: Tensor, *,
                batch_size: int, need_sigma_grad: bool = False,
                scaled_gt: Tensor | None = None) -> Grads:
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


def grads_sparse(w_in: Tensor, w_out: Tensor, gt: Tensor | None, sigma_abs: Tensor,
                 batch: SparseBatch, *, batch_size: int, need_sigma_grad: bool = False,
                 scaled_gt: Tensor | None = None) -> Grads:
    """A Bernoulli batch given as active cells (:class:`SparseBatch`), in Gram form.
    scaled_gt: optionally ``gt * sigma_abs`` (K, n, n) precomputed.

    With a = ReLU(h) for the non-empty rows, Q = W_out W_out^T (d x d) and c_r = W_out y_r^T,
    the summed error is sum_r (a_r Q a_r^T - 2 a_r . c_r + |y_r|^2). Nothing of size rows x n
    meets a weight matrix: h and c gather rows of small (2n x d) tables, the backward pass sums
    rows of a and of dL/dh into the 2n (feature, sign) buckets. Per instance and step that is
    about 2 R d^2 + 6 E d multiply-adds (R rows, E active cells), against R (5 n d + n^2) for
    the dense form: ~5x fewer at p = 0.01. Of |y_r|^2 = |relu(x_r)|^2 + 2 sigma relu(x_r) . z_r
    + sigma^2 |z_r|^2 with z_r = x_r G^T, the batch brings the sums of the last two (sums over
    the pairs of active cells of a sample, computed as the batch is built). One-cell samples
    enter through their bucket sums (see :class:`SparseBatch`). All-zero samples are left out
    (they add nothing to the summed error, only to the batch_size it is divided by).
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
    # One-cell samples: v e_f activates |v| u_b with u_b = ReLU(sign W_in[f]), the bucket's unit
    # activation, and c_r = v c_table[b]; summed per bucket they need only S_b = sum of v^2.
    h_unit = torch.cat([w_in, -w_in], 1)                                   # (K, 2n, d)
    u = torch.relu(h_unit)
    s = batch.single[:, :, None]
    signed_s = torch.cat([s[:, :n], -s[:, n:]], 1)                          # sign(v) v^2 per bucket
    ata = torch.baddbmm(ata, (u * s).transpose(1, 2), u)
    c3 = c_table.view(k, 2 * n, d)
    p_a = p_a + signed_s * u
    p_g = p_g + _relu_grad(torch.baddbmm(c3 * s, u * signed_s, q, beta=-1.0), h_unit)
    # sum_r a_r . c_r = sum over buckets of c_table . p_a; sum_r a_r Q a_r^T = <A^T A, Q>
    loss = (ata * q).sum((1, 2)) - 2 * (c3 * p_a).sum((1, 2)) + batch.relu_sq
    if gt is not None:  # |y|^2 beyond |relu(x)|^2, from the batch's sums over pairs of cells
        relu_z, z_sq = batch.relu_z, batch.z_sq
        loss = loss + sigma_abs * (2 * relu_z + sigma_abs * z_sq)
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


def one_active_targets(gt: Tensor | None, sigma_abs: Tensor, n: int) -> Tensor:
    """:func:`cclib.task.one_active_labels` of M^T = sigma G^T, (K or 1, 2n, n) float32."""
    return one_active_labels(None if gt is None else sigma_abs[:, None, None] * gt, n)


def grads_buckets(w_in: Tensor, w_out: Tensor, gt: Tensor | None, sigma_abs: Tensor,
                  weights: Tensor, *, batch_size: int, target: Tensor | None = None,
                  need_sigma_grad: bool = False) -> Grads:
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
