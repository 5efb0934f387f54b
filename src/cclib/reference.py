"""The straightforward versions the tests hold the fast code to and the benchmarks time it
against; no trained run or cached result is computed by this module, so it is in no key.

* :func:`train_reference`: what :func:`cclib.train.train` computes, one instance at a time, a
  dense uniform draw for every input cell, dense products, autograd, torch.optim.AdamW and a
  cosine LambdaLR;
* :func:`monte_carlo_loss`: plain Monte Carlo of the loss per feature, against
  :func:`cclib.evaluate.loss_curve`'s stratified estimator;
* :func:`merge_chunk_numpy`: the sparse batch merge as numpy array operations, against the
  compiled :func:`cclib._chunk_kernel.merge_chunk`.
"""
from __future__ import annotations

from typing import Sequence

import torch

import numpy as np

from ._adamw import BETAS, EPS
from ._checks import check_choice, check_probabilities, check_seeds
from ._threads import single_threaded
from ._types import PerInstance, Seeds
from .data import sample_bernoulli, sample_one_active
from .evaluate import check_pair
from .mixing import Mixing
from .models import MLP, ResidualMLP
from .task import INPUTS, TARGETS, Model, cosine_lr, default_steps, loss, targets
from .train import TrainResult, resolve_steps, validate_common


def reference_loss(model: Model, mixing: Mixing | None, x: torch.Tensor) -> torch.Tensor:
    """Plain autograd-able loss on a dense batch x (K, B, n): per-instance MSE, (K,).

    A residual model is scored on its own labels x + ReLU(x) (``mixing`` is then ignored).
    """
    return loss(model(x), targets(model, x, mixing.matrix()))


def train_reference(model: Model, mixing: Mixing, *, inputs: str = "bernoulli",
                    p: PerInstance | None = None, steps: int | Sequence[int] | None = None,
                    batch_size: int = 2048, lr: float = 3e-3, weight_decay: float = 1e-2,
                    seeds: Seeds = 0) -> TrainResult:
    """The straightforward trainer: one instance at a time, a dense uniform draw for every input
    cell, dense products, autograd, torch.optim.AdamW and a cosine LambdaLR.

    Same procedure as :func:`cclib.train.train` (different random draws), kept for tests and
    benchmarks.
    """
    check_choice("inputs", inputs, INPUTS)
    validate_common(model, mixing, batch_size, lr, weight_decay)
    if type(model) not in (MLP, ResidualMLP):
        raise TypeError(f"train_reference trains cclib's own MLP and ResidualMLP, one instance at a "
                        f"time; {type(model).__name__} is another module: train it with "
                        "cclib.train.train (engine 'general')")
    k, n = model.n_instances, model.n_features
    seeds = check_seeds("seeds", seeds, k)
    probs = check_probabilities("p", p, k).tolist() if inputs == "bernoulli" else [1.0 / n] * k
    steps = resolve_steps(steps, default_steps(inputs, probs, n), k)
    history = torch.full((max(steps), k), float("nan"))
    sigmas = mixing.sigma.clone()
    for i in range(k):
        gen = torch.Generator().manual_seed(seeds[i])
        single = model.select([i])
        one = mixing.select([i])
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
            value = reference_loss(single, one, x)[0]
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            sched.step()
            history[step, i] = value.detach()
        with torch.no_grad():
            for param, own in zip(model.parameters(), single.parameters()):
                param[i] = own[0]
        sigmas[i] = one.sigma.detach()[0]
    return TrainResult(history, steps, Mixing(mixing.pattern, sigmas, mixing.trainable_sigma))


@single_threaded
@torch.no_grad()
def monte_carlo_loss(model: Model, mixing: Mixing, p: float, n_samples: int = 1_000_000,
                     seed: int = 0, batch: int = 65_536, target: str = "relu") -> tuple[np.ndarray, np.ndarray]:
    """Plain Monte-Carlo loss per feature at p from fresh Bernoulli samples: (mean (K,), se (K,)).

    The straightforward estimator (the paper's), kept to check :func:`loss_curve`; any model,
    through ``model(x)``.
    """
    check_pair(model, mixing, target)
    p = float(check_probabilities("p", p)[0])
    m = mixing.matrix().float() if TARGETS[target].mixing else None
    n, k = model.n_features, model.n_instances
    gen = torch.Generator().manual_seed(int(seed))
    sums = torch.zeros(k, dtype=torch.float64)
    sq = torch.zeros_like(sums)
    done = 0
    while done < n_samples:
        b = min(batch, n_samples - done)
        active = torch.rand(b, n, generator=gen) < p
        x = (torch.rand(b, n, generator=gen) * 2 - 1) * active
        xs = x.expand(k, -1, -1)
        per = (model(xs) - targets(model, xs, m, target)).square().sum(2).double() / (n * p)
        sums += per.sum(1)
        sq += per.square().sum(1)
        done += b
    mean = sums / n_samples
    var = sq / n_samples - mean**2
    return mean.numpy(), (var * n_samples / (n_samples - 1) / n_samples).sqrt().numpy()


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
