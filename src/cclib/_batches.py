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

from ._chunk_kernel import merge_chunk

CHUNK_STEPS = 16  # steps drawn per stream call; part of an instance's random stream, keep fixed


@dataclass
class SparseBatch:
    """One step's sparse Bernoulli batch for K instances, non-empty samples only.

    A sample with exactly one active cell (at p = 0.01 about 60% of the non-empty ones) enters
    the loss only through its (feature, sign) *bucket* and v^2, as in the exactly-one-active
    step: ``single`` (K, 2n) holds the sum of v^2 per bucket. The samples with two or more active
    cells are kept cell by cell. Each of their active cells is an entry with a value v, a *cell*
    k n + feature (its instance's row of W_in or G^T) and a bucket k 2n + feature + n [v < 0].
    These samples are compacted into n_rows rows per instance (row id k n_rows + r; an instance
    with fewer rows has empty ones). Entries grouped by row feed the forward pass, entries
    grouped by bucket the backward pass; both are bags for
    :func:`torch.nn.functional.embedding_bag`. relu_z and z_sq are the mixing's part of the
    labels' squared norm, summed over the batch (zero for the clean task).
    """

    single: torch.Tensor          # (K, 2n) sum of v^2 per bucket over the one-cell samples
    n_rows: int
    cell: torch.Tensor            # (E,) grouped by row
    bucket: torch.Tensor          # (E,)
    value: torch.Tensor           # (E,)
    row_offsets: torch.Tensor     # (K * n_rows,) first entry of each row
    row: torch.Tensor             # (E,) grouped by bucket
    bucket_value: torch.Tensor    # (E,)
    bucket_offsets: torch.Tensor  # (K * 2n,) first entry of each bucket
    relu_sq: torch.Tensor         # (K,) sum of relu(v)^2: the batch's |relu(x)|^2
    relu_z: torch.Tensor          # (K,) relu(x) . x G^T
    z_sq: torch.Tensor            # (K,) |x G^T|^2


def _exclusive_cumsum(counts: np.ndarray) -> np.ndarray:
    return np.cumsum(counts) - counts


def _stable_argsort(key: np.ndarray, bound: int) -> np.ndarray:
    """Stable argsort of non-negative int keys below ``bound`` (a radix sort when they fit 16 bits)."""
    return np.argsort(key.astype(np.uint16 if bound <= 1 << 16 else np.int64), kind="stable")


def _split_one_cell_samples(position: torch.Tensor, value: torch.Tensor, steps: int,
                            batch_size: int, n: int) -> tuple:
    """One instance's chunk split into its one-cell samples, summed per step into bucket weights
    (steps, 2n), the sum of relu(v)^2 per step (steps,), and the cells of the other samples
    (step, row, feature, value as numpy arrays, in the chunk's order)."""
    sample, feature = np.divmod(position.numpy(), n)
    step, row = np.divmod(sample, batch_size)
    v = value.numpy()
    new_sample = sample[1:] != sample[:-1]
    alone = np.ones(v.size, dtype=bool)
    alone[1:] &= new_sample
    alone[:-1] &= new_sample
    v_sq = v * v
    key = step * (2 * n) + feature + n * (v < 0)
    single = np.bincount(key[alone], v_sq[alone], steps * 2 * n).astype(np.float32).reshape(steps, 2 * n)
    kept = ~alone
    step, row, feature, v, v_sq = step[kept], row[kept], feature[kept], v[kept], v_sq[kept]
    relu_sq = single[:, :n].sum(1) + np.bincount(step, v_sq * (v > 0), steps)
    return single, relu_sq.astype(np.float32), step, row, feature, v


def merge_chunk_numpy(parts: Sequence[tuple[torch.Tensor, ...]], steps: int, batch_size: int,
                      n: int, gt: np.ndarray, gram: np.ndarray) -> tuple:
    """:func:`cclib._chunk_kernel.merge_chunk`'s result, written as numpy array operations: the
    straightforward version the tests check the compiled kernel against and the benchmark times
    it against. parts: K instances' (position, value) tensors, as the streams give them."""
    k = len(parts)
    split = [_split_one_cell_samples(*part, steps, batch_size, n) for part in parts]
    single = np.stack([s[0] for s in split], 1)                            # (steps, K, 2n)
    relu_sq = np.stack([s[1] for s in split], 1)                           # (steps, K)
    inst = np.repeat(np.arange(k), [s[2].size for s in split])
    step, row, feature, v = (np.concatenate([s[2 + i] for s in split]) for i in range(4))
    # step-major order (step, instance, row, feature): a stable sort on (step, instance)
    group = step * k + inst
    order = _stable_argsort(group, steps * k)
    group, step, inst, row, feature, v = (x[order] for x in (group, step, inst, row, feature, v))
    sample = group * batch_size + row
    e = v.size

    starts_row = np.ones(e, dtype=bool)
    starts_row[1:] = sample[1:] != sample[:-1]
    row_id = np.cumsum(starts_row) - 1                                     # compact row, chunk-wide
    row_start = np.flatnonzero(starts_row)                                 # (R,)
    row_len = np.diff(row_start, append=e)
    group_rows = np.searchsorted(group[row_start], np.arange(steps * k + 1))
    rank = row_id - group_rows[group]                                      # row within (step, instance)
    n_rows = np.maximum(np.diff(group_rows).reshape(steps, k).max(1), 1)   # (steps,)
    padded = inst * n_rows[step] + rank                                    # row id within its step
    row_base = np.concatenate([[0], np.cumsum(k * n_rows)])                # padded rows before a step
    row_counts = np.bincount(row_base[step] + padded, minlength=int(row_base[-1]))
    row_offsets = _exclusive_cumsum(row_counts)
    entry_bounds = np.searchsorted(step, np.arange(steps + 1))             # entries are step-sorted

    # relu(x) . z and |z|^2: sums over ordered pairs (a, b) of cells in one sample; the
    # one-cell samples' (a = b) from their bucket sums, the others' pair by pair
    relu_z, z_sq = np.zeros((steps, k)), np.zeros((steps, k))
    if gt.shape[1] > 0:
        gt_diag, gram_diag = np.diagonal(gt, 0, 1, 2), np.diagonal(gram, 0, 1, 2)   # (K, n)
        relu_z += (single[:, :, :n] * gt_diag).sum(2)
        z_sq += ((single[:, :, :n] + single[:, :, n:]) * gram_diag).sum(2)
        reps = row_len[row_id]
        pair_a = np.repeat(np.arange(e), reps)
        first = row_start[row_id[pair_a]]
        pair_b = first + np.arange(pair_a.size) - np.repeat(np.cumsum(reps) - reps, reps)
        va, vb, fa, fb, pk = v[pair_a], v[pair_b], feature[pair_a], feature[pair_b], inst[pair_a]
        where = step[pair_a] * k + pk
        relu_z += np.bincount(where, np.maximum(va, 0) * vb * gt[pk, fb, fa], steps * k).reshape(steps, k)
        z_sq += np.bincount(where, va * vb * gram[pk, fa, fb], steps * k).reshape(steps, k)

    cell = inst * n + feature
    bucket = cell + inst * n + n * (v < 0)
    bucket_key = step * (k * 2 * n) + bucket
    by_bucket = _stable_argsort(bucket_key, steps * k * 2 * n)
    bucket_start = _exclusive_cumsum(np.bincount(bucket_key, minlength=steps * k * 2 * n))
    row_t, value_t = padded[by_bucket], v[by_bucket]
    row_offsets = row_offsets - entry_bounds[np.repeat(np.arange(steps), k * n_rows)]
    bucket_offsets = bucket_start.reshape(steps, k * 2 * n) - entry_bounds[:-1, None]
    return (single, relu_sq, n_rows, entry_bounds, row_base, cell, bucket, v, row_offsets, row_t,
            value_t, bucket_offsets, relu_z.astype(np.float32), z_sq.astype(np.float32))


def mixing_tables(gt: torch.Tensor | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """gt = G^T (K, n, n) and gt gt^T as float32 numpy arrays for the chunk kernels; (K, 0, 0)
    arrays for the clean task (gt None)."""
    if gt is None:
        empty = np.zeros((k, 0, 0), dtype=np.float32)
        return empty, empty
    gt = gt.float().contiguous()
    return gt.numpy(), (gt @ gt.transpose(1, 2)).contiguous().numpy()


def sparse_chunk(parts: Sequence[tuple[torch.Tensor, ...]], steps: int, batch_size: int, n: int,
                 tables: tuple[np.ndarray, np.ndarray]) -> list[SparseBatch]:
    """K instances' sparse chunks (active cells as 1-D position, value, see
    :class:`cclib.data.BernoulliStream`) merged into one :class:`SparseBatch` per step by the
    compiled kernel (computed for the whole chunk at once, then sliced per step).
    tables: :func:`mixing_tables`."""
    inst_start = np.concatenate([[0], np.cumsum([part[1].numel() for part in parts])]).astype(np.int64)
    position, value = (np.concatenate([part[i].numpy() for part in parts]) for i in range(2))
    merged = merge_chunk(position, value, inst_start, steps, batch_size, n, *tables)
    return batches_from_merged(merged, steps)


def batches_from_merged(merged: tuple, steps: int) -> list[SparseBatch]:
    """Slice a merged chunk (see :func:`cclib._chunk_kernel.merge_chunk`) into its steps."""
    (single, relu_sq, n_rows, entry_base, row_base, cell, bucket, value, row_offsets, row_t,
     value_t, bucket_offsets, relu_z, z_sq) = (
        torch.from_numpy(np.asarray(x)) for x in merged)
    entry_base, row_base, n_rows = (x.tolist() for x in (entry_base, row_base, n_rows))
    batches = []
    for s in range(steps):
        lo, hi = entry_base[s], entry_base[s + 1]
        r0, r1 = row_base[s], row_base[s + 1]
        batches.append(SparseBatch(
            single=single[s], n_rows=n_rows[s], cell=cell[lo:hi], bucket=bucket[lo:hi],
            value=value[lo:hi], row_offsets=row_offsets[r0:r1], row=row_t[lo:hi], bucket_value=value_t[lo:hi],
            bucket_offsets=bucket_offsets[s], relu_sq=relu_sq[s], relu_z=relu_z[s], z_sq=z_sq[s]))
    return batches


def draw_batches(streams: Sequence, inputs: str, batch_size: int, n: int,
                 tables: tuple[np.ndarray, np.ndarray]) -> list:
    """The next CHUNK_STEPS steps' batches of K streams (one per instance): for inputs
    'one_active' (K, 2n) bucket weights, for 'bernoulli' a dense (K, batch, n) tensor per step
    when any instance draws densely, else a :class:`SparseBatch` (tables: :func:`mixing_tables`)."""
    if inputs == "one_active":
        return list(torch.stack([s.next_chunk(CHUNK_STEPS) for s in streams], 1).unbind(0))
    parts = [s.next_chunk(CHUNK_STEPS) for s in streams]
    if any(part[0] == "dense" for part in parts):
        return dense_chunk(parts, CHUNK_STEPS, batch_size, n)
    return sparse_chunk([part[1:] for part in parts], CHUNK_STEPS, batch_size, n, tables)


def dense_chunk(parts: Sequence[tuple], steps: int, batch_size: int, n: int) -> list[torch.Tensor]:
    """K instances' chunks, any of them dense, as one (K, batch, n) tensor per step."""
    x = torch.zeros(steps, len(parts), batch_size, n)
    for k, part in enumerate(parts):
        if part[0] == "dense":
            x[:, k] = part[1]
        else:
            _, position, value = part
            cells = torch.zeros(steps * batch_size * n)
            cells[position] = value
            x[:, k] = cells.view(steps, batch_size, n)
    return list(x.unbind(0))
