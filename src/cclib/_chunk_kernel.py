"""The compiled kernel that merges K instances' sparse Bernoulli draws into per-step batches.

:func:`cclib._batches.sparse_chunk` needs, for each of a chunk's steps, the cells of every
instance's multi-cell samples grouped by row and by bucket, the one-cell samples summed per
bucket, and two sums over the pairs of cells within a sample. Written as numpy array operations
(:func:`cclib.reference.merge_chunk_numpy`, kept as the reference the tests compare this kernel
with, array by array, and the benchmark times it against) that is some forty passes over a
chunk's ~260,000 cells (K = 8, p = 0.01), each allocating a fresh array; here it is two passes
of plain loops, compiled by numba.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(inline="always")
def _floor_div(x, d, inv_d):
    """x // d for 0 <= x < 2**52 and d >= 1 without the slow integer division: the float product
    x * (1 / d) truncated (in this range it is already the quotient but for rounding at the
    edges), then corrected by one either way if it is not."""
    q = np.int64(x * inv_d)
    if q * d > x:
        q -= 1
    elif (q + 1) * d <= x:
        q += 1
    return q


@numba.njit(cache=True)
def merge_chunk(position, value, inst_start, steps, batch_size, n, gt, gram):
    """Merge K instances' active cells (1-D position, value, instance-major; instance k's are
    [inst_start[k], inst_start[k + 1]), its positions increasing flat indices into a
    (steps, batch_size, n) block).

    Returns, for the whole chunk (per-step slices are given by the *_base arrays, which have
    steps + 1 entries):
    single (steps, K, 2n) float32: sum of v^2 per bucket over the one-cell samples;
    relu_sq (steps, K) float32: sum of relu(v)^2 over all cells;
    n_rows (steps,): rows per instance in the step's padded layout (at least 1);
    entry_base, row_base: where each step's entries and padded rows start;
    per entry of a multi-cell sample, step-major (step, instance, row, feature): cell k n + f,
    bucket k 2n + f + n [v < 0], value;
    row_offsets (padded rows): first entry of each row, counted from its step's first entry;
    row_t, value_t: padded row and value of the entries in bucket order (stable);
    bucket_offsets (steps, K 2n): first entry of each bucket, counted from its step's first entry;
    relu_z, z_sq (steps, K) float32 (summed in float64): relu(x) . x G^T and |x G^T|^2 summed over the batch, as
    sums over the pairs (a, b) of cells in one sample, a = b included: relu(v_a) v_b gt[f_b, f_a]
    and v_a v_b gram[f_a, f_b]. gt (K, n, n) is G^T and gram = gt gt^T; pass (K, 0, 0) arrays
    for the clean task (both sums are then 0).
    """
    k_count = inst_start.size - 1
    two_n = 2 * n
    single = np.zeros((steps, k_count, two_n), dtype=np.float64)
    relu_sq = np.zeros((steps, k_count), dtype=np.float64)
    m_entries = np.zeros((steps, k_count), dtype=np.int64)
    m_rows = np.zeros((steps, k_count), dtype=np.int64)
    relu_z = np.zeros((steps, k_count), dtype=np.float64)
    z_sq = np.zeros((steps, k_count), dtype=np.float64)
    mixing = gt.shape[1] > 0

    # pass 1: classify the samples, count what each (step, instance) will hold, and list the
    # multi-cell samples (first cell, cells, instance) for pass 2.
    # A cell's sample is position // n (step * batch_size + row), its feature the rest; the
    # quotients are taken by _floor_div (exact, ~10x faster than an integer division).
    total = position.size
    inv_n, inv_b = 1.0 / n, 1.0 / batch_size
    step = np.empty(total, dtype=np.int64)
    sample = np.empty(total, dtype=np.int64)
    feature = np.empty(total, dtype=np.int64)
    for a in range(total):
        q = _floor_div(position[a], n, inv_n)
        sample[a] = q
        feature[a] = position[a] - q * n
        step[a] = _floor_div(q, batch_size, inv_b)
    multi_first = np.empty(total // 2 + 1, dtype=np.int64)
    multi_cells = np.empty(total // 2 + 1, dtype=np.int64)
    multi_inst = np.empty(total // 2 + 1, dtype=np.int64)
    n_multi = 0
    for k in range(k_count):
        i, end = inst_start[k], inst_start[k + 1]
        while i < end:
            s, q = step[i], sample[i]
            j = i + 1
            while j < end and sample[j] == q:
                j += 1
            pos_sq = 0.0
            for a in range(i, j):
                x = max(value[a], 0.0)
                pos_sq += x * x
            relu_sq[s, k] += pos_sq
            c = j - i
            if c == 1:
                v = value[i]
                f = feature[i]
                single[s, k, f + n * (v < 0)] += v * v
                if mixing:
                    relu_z[s, k] += max(v, 0.0) * v * gt[k, f, f]
                    z_sq[s, k] += v * v * gram[k, f, f]
            else:
                m_entries[s, k] += c
                m_rows[s, k] += 1
                multi_first[n_multi], multi_cells[n_multi], multi_inst[n_multi] = i, c, k
                n_multi += 1
                if mixing:  # summed in locals, in the same order as into the arrays
                    rz, zz = relu_z[s, k], z_sq[s, k]
                    for a in range(i, j):
                        relu_v, v, f = max(value[a], 0.0), value[a], feature[a]
                        for b in range(i, j):
                            rz += relu_v * value[b] * gt[k, feature[b], f]
                            zz += v * value[b] * gram[k, f, feature[b]]
                    relu_z[s, k], z_sq[s, k] = rz, zz
            i = j

    n_rows = np.ones(steps, dtype=np.int64)
    for s in range(steps):
        for k in range(k_count):
            n_rows[s] = max(n_rows[s], m_rows[s, k])
    entry_base = np.zeros(steps + 1, dtype=np.int64)
    row_base = np.zeros(steps + 1, dtype=np.int64)
    entry_next = np.zeros((steps, k_count), dtype=np.int64)  # where (s, k)'s next entry goes
    for s in range(steps):
        e = entry_base[s]
        for k in range(k_count):
            entry_next[s, k] = e
            e += m_entries[s, k]
        entry_base[s + 1] = e
        row_base[s + 1] = row_base[s] + k_count * n_rows[s]

    total_e = entry_base[steps]
    cell = np.empty(total_e, dtype=np.int64)
    bucket = np.empty(total_e, dtype=np.int64)
    value_out = np.empty(total_e, dtype=np.float32)
    padded_row = np.empty(total_e, dtype=np.int64)
    row_offsets = np.empty(row_base[steps], dtype=np.int64)
    rank = np.zeros((steps, k_count), dtype=np.int64)

    # pass 2: write the multi-cell samples' entries, step-major
    for m in range(n_multi):
        i, k = multi_first[m], multi_inst[m]
        j, s = i + multi_cells[m], step[i]
        padded = k * n_rows[s] + rank[s, k]
        rank[s, k] += 1
        row_offsets[row_base[s] + padded] = entry_next[s, k] - entry_base[s]
        for a in range(i, j):
            e = entry_next[s, k]
            entry_next[s, k] += 1
            f, v = feature[a], value[a]
            cell[e] = k * n + f
            bucket[e] = k * two_n + f + n * (v < 0)
            value_out[e] = v
            padded_row[e] = padded
    # an instance's rows beyond its own count are empty: they start where its entries end
    for s in range(steps):
        for k in range(k_count):
            for r in range(rank[s, k], n_rows[s]):
                row_offsets[row_base[s] + k * n_rows[s] + r] = entry_next[s, k] - entry_base[s]

    # the entries of each step in bucket order: a counting sort, stable
    n_buckets = k_count * two_n
    bucket_offsets = np.zeros((steps, n_buckets), dtype=np.int64)
    row_t = np.empty(total_e, dtype=np.int64)
    value_t = np.empty(total_e, dtype=np.float32)
    for s in range(steps):
        counts = np.zeros(n_buckets, dtype=np.int64)
        for e in range(entry_base[s], entry_base[s + 1]):
            counts[bucket[e]] += 1
        start = 0
        for b in range(n_buckets):
            bucket_offsets[s, b] = start
            start += counts[b]
        cursor = bucket_offsets[s].copy()
        for e in range(entry_base[s], entry_base[s + 1]):
            pos = entry_base[s] + cursor[bucket[e]]
            cursor[bucket[e]] += 1
            row_t[pos] = padded_row[e]
            value_t[pos] = value_out[e]

    return (single.astype(np.float32), relu_sq.astype(np.float32), n_rows, entry_base, row_base,
            cell, bucket, value_out, row_offsets, row_t, value_t,
            bucket_offsets, relu_z.astype(np.float32), z_sq.astype(np.float32))
