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
    if any(s.dense for s in streams):
        return dense_chunk(streams, CHUNK_STEPS, batch_size, n)
    parts = [s.next_chunk(CHUNK_STEPS) for s in streams]
    return sparse_chunk([part[1:] for part in parts], CHUNK_STEPS, batch_size, n, tables)


def dense_chunk(streams: Sequence, steps: int, batch_size: int, n: int) -> list[torch.Tensor]:
    """The next ``steps`` steps of K Bernoulli streams, any of them dense, as one (K, batch, n)
    tensor per step (a dense stream draws straight into its slice, a sparse one is scattered)."""
    x = torch.empty(steps, len(streams), batch_size, n)
    for k, stream in enumerate(streams):
        part = stream.next_chunk(steps, out=x[:, k])
        if part[0] == "sparse":
            _, position, value = part
            cells = torch.zeros(steps * batch_size * n)
            cells[position] = value
            x[:, k] = cells.view(steps, batch_size, n)
    return list(x.unbind(0))
