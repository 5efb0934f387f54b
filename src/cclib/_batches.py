"""One training step's batch for K instances, merged from the instances' own data streams.

Each instance draws its inputs from its own stream (:mod:`cclib.data`), CHUNK_STEPS steps at a
time; the functions here merge the K streams' chunk into one batch per step, in the form the
gradient kernels of :mod:`cclib._grads` take:

* :func:`sparse_chunk` — one instance's sparse Bernoulli draws into :class:`SparseBatch` (active
  cells only; a sparse Bernoulli run trains each instance in its own shard);
* :func:`dense_chunk` — dense (K, batch, n) blocks, when any instance draws densely;
* :func:`draw_batches` — one chunk of every stream, in whichever form applies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

CHUNK_STEPS = 16  # steps drawn per stream call; part of an instance's random stream, keep fixed


@dataclass
class SparseBatch:
    """One step's sparse Bernoulli batch of one instance: its non-empty samples only.

    Each active cell is an entry with a value v, a feature (its row of W_in or G^T) and a
    *bucket* feature + n [v < 0] (feature and sign). The non-empty samples are compacted into
    rows 0 .. n_rows - 1. Entries grouped by row feed the forward pass, entries grouped by bucket
    the backward pass; both are bags for :func:`torch.nn.functional.embedding_bag`. The *pairs*
    are the ordered pairs (a, b) of distinct entries in one row: |x G^T|^2 and relu(x) . x G^T
    are sums over the entries (a = b) and over them.
    """

    n_rows: int
    feature: torch.Tensor         # (E,) grouped by row
    bucket: torch.Tensor          # (E,)
    value: torch.Tensor           # (E,)
    row_cell: torch.Tensor        # (E,) row * n + feature: the entry's place in a (rows, n) block
    row_offsets: torch.Tensor     # (n_rows,) first entry of each row
    row: torch.Tensor             # (E,) grouped by bucket
    bucket_value: torch.Tensor    # (E,)
    bucket_offsets: torch.Tensor  # (2n,) first entry of each bucket
    relu_sq: torch.Tensor         # (1,) sum of relu(v)^2: the batch's |relu(x)|^2
    pair_cell: torch.Tensor       # (P,) feature_b * n + feature_a, over pairs a != b
    pair_relu_v: torch.Tensor     # (P,) relu(v_a) v_b
    pair_vv: torch.Tensor         # (P,) v_a v_b


def _exclusive_cumsum(counts: np.ndarray) -> np.ndarray:
    return np.cumsum(counts) - counts


def sparse_chunk(step: torch.Tensor, row: torch.Tensor, feature: torch.Tensor, value: torch.Tensor,
                 steps: int, batch_size: int, n: int) -> list[SparseBatch]:
    """One instance's sparse chunk (active cells as 1-D step, row, feature, value, sorted by
    (step, row, feature)) as one :class:`SparseBatch` per step, computed for the whole chunk at
    once and then sliced. The index arithmetic is numpy's (several times faster than torch's on
    these 1-D integer arrays)."""
    step, row, feature, v = step.numpy(), row.numpy(), feature.numpy(), value.numpy()
    e = v.size
    sample = step * batch_size + row
    starts_row = np.ones(e, dtype=bool)
    starts_row[1:] = sample[1:] != sample[:-1]
    row_id = np.cumsum(starts_row) - 1                                     # compact row, chunk-wide
    row_start = np.flatnonzero(starts_row)                                 # (R,)
    row_len = np.diff(row_start, append=e)
    step_edges = np.arange(steps + 1)
    entry_bounds = np.searchsorted(step, step_edges)                       # entries are step-sorted
    row_bounds = np.searchsorted(step[row_start], step_edges)
    rank = row_id - row_bounds[step]                                       # row within its step
    relu_sq = np.diff(np.concatenate([[0.0], np.cumsum(np.square(np.maximum(v, 0)), dtype=np.float64)])
                      [entry_bounds]).astype(np.float32)

    # every ordered pair (a, b != a) of entries in one row: a repeated once per other entry
    reps = row_len[row_id] - 1
    pair_a = np.repeat(np.arange(e), reps)
    first = row_start[row_id[pair_a]]
    other = np.arange(pair_a.size) - np.repeat(np.cumsum(reps) - reps, reps)  # 0 .. row length - 2
    pair_b = first + other + (other >= pair_a - first)                     # skipping a itself
    pair_cell = feature[pair_b] * n + feature[pair_a]
    va, vb = v[pair_a], v[pair_b]
    pair_relu_v, pair_vv = np.maximum(va, 0) * vb, va * vb
    pair_bounds = np.searchsorted(pair_a, entry_bounds)

    bucket = feature + n * (v < 0)
    bucket_key = step * (2 * n) + bucket
    by_bucket = np.argsort(bucket_key.astype(np.uint16 if steps * 2 * n <= 1 << 16 else np.int64),
                           kind="stable")
    bucket_start = _exclusive_cumsum(np.bincount(bucket_key, minlength=steps * 2 * n))
    row_t, value_t = rank[by_bucket], v[by_bucket]
    row_cell = rank * n + feature
    row_offsets = row_start - entry_bounds[step[row_start]]
    t = torch.from_numpy
    feature_t, bucket_t, value_all, row_cell_t = t(feature), t(bucket), value, t(row_cell)
    row_offsets_t, row_t, value_t, bucket_start_t = t(row_offsets), t(row_t), t(value_t), t(bucket_start)
    relu_sq_t, pair_cell_t, pair_relu_v_t, pair_vv_t = t(relu_sq), t(pair_cell), t(pair_relu_v), t(pair_vv)
    batches = []
    for s in range(steps):
        lo, hi = int(entry_bounds[s]), int(entry_bounds[s + 1])
        r0, r1 = int(row_bounds[s]), int(row_bounds[s + 1])
        p0, p1 = int(pair_bounds[s]), int(pair_bounds[s + 1])
        batches.append(SparseBatch(
            n_rows=max(1, r1 - r0), feature=feature_t[lo:hi], bucket=bucket_t[lo:hi],
            value=value_all[lo:hi], row_cell=row_cell_t[lo:hi], row_offsets=row_offsets_t[r0:r1],
            row=row_t[lo:hi], bucket_value=value_t[lo:hi],
            bucket_offsets=bucket_start_t[s * 2 * n:(s + 1) * 2 * n] - lo, relu_sq=relu_sq_t[s:s + 1],
            pair_cell=pair_cell_t[p0:p1], pair_relu_v=pair_relu_v_t[p0:p1], pair_vv=pair_vv_t[p0:p1]))
    return batches


def draw_batches(streams: Sequence, inputs: str, batch_size: int, n: int) -> list:
    """The next CHUNK_STEPS steps' batches of K streams (one per instance): for inputs
    'one_active' (K, 2n) bucket weights, for 'bernoulli' a dense (K, batch, n) tensor per step
    when any instance draws densely, else (K = 1) a :class:`SparseBatch`."""
    if inputs == "one_active":
        return list(torch.stack([s.next_chunk(CHUNK_STEPS) for s in streams], 1).unbind(0))
    parts = [s.next_chunk(CHUNK_STEPS) for s in streams]
    if any(part[0] == "dense" for part in parts):
        return dense_chunk(parts, CHUNK_STEPS, batch_size, n)
    if len(parts) != 1:
        raise ValueError(f"sparse Bernoulli batches are built for one instance at a time, got {len(parts)}")
    return sparse_chunk(*parts[0][1:], CHUNK_STEPS, batch_size, n)


def dense_chunk(parts: Sequence[tuple], steps: int, batch_size: int, n: int) -> list[torch.Tensor]:
    """K instances' chunks, any of them dense, as one (K, batch, n) tensor per step."""
    x = torch.zeros(steps, len(parts), batch_size, n)
    for k, part in enumerate(parts):
        if part[0] == "dense":
            x[:, k] = part[1]
        else:
            _, step, row, feat, value = part
            x[step, k, row, feat] = value
    return list(x.unbind(0))
