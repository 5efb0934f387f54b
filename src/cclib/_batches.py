"""One training step's batch for K instances, merged from the instances' own data streams.

Each instance draws its inputs from its own stream (:mod:`cclib.data`), CHUNK_STEPS steps at a
time; the functions here merge the K streams' chunk into one batch per step, in the form the
gradient kernels of :mod:`cclib._grads` take:

* :func:`sparse_chunk` — sparse Bernoulli draws into :class:`SparseBatch` (active cells only);
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


def sparse_chunk(parts: Sequence[tuple[torch.Tensor, ...]], steps: int, batch_size: int, n: int) -> list[SparseBatch]:
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
            n_rows=int(n_rows[s]), cell=cell[lo:hi], bucket=bucket[lo:hi], value=value[lo:hi],
            row_cell=row[lo:hi] * n + feature[lo:hi], row_offsets=row_start[r0:r1] - lo,
            row=row_t[lo:hi], bucket_value=value_t[lo:hi],
            bucket_offsets=bucket_start[b0:b0 + k * 2 * n] - lo, relu_sq=relu_sq[:, s]))
    return batches


def draw_batches(streams: Sequence, inputs: str, batch_size: int, n: int) -> list:
    """The next CHUNK_STEPS steps' batches of K streams (one per instance): for inputs
    'one_active' (K, 2n) bucket weights, for 'bernoulli' a :class:`SparseBatch` or, when any
    instance draws densely, a dense (K, batch, n) tensor per step."""
    if inputs == "one_active":
        return list(torch.stack([s.next_chunk(CHUNK_STEPS) for s in streams], 1).unbind(0))
    parts = [s.next_chunk(CHUNK_STEPS) for s in streams]
    if any(part[0] == "dense" for part in parts):
        return dense_chunk(parts, CHUNK_STEPS, batch_size, n)
    return sparse_chunk([part[1:] for part in parts], CHUNK_STEPS, batch_size, n)


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
