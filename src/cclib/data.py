"""Inputs (the labels and the loss are in :mod:`cclib.task`).

Two kinds of sampler live here:

* plain dense samplers (:func:`sample_bernoulli`, :func:`sample_one_active`), one uniform number per
  input cell, used by the reference trainer, the tests and anyone who wants a batch to look at;
* per-instance *streams* (:func:`streams`), which both engines train on. A stream draws many
  steps at once from its own generator, so an instance's data depend only on its own seed and
  probability, never on which other instances share a run.

Feature values are uniform on [-1, 1] when active and exactly 0 otherwise.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from ._checks import check_int, check_range

#: From this probability on a Bernoulli stream draws a dense (steps, batch, n) block; below it,
#: it draws only the positions of active cells (geometric gaps), ~1/p times fewer numbers. (The
#: sparse step is ~1.8x faster than the dense one at p = 0.05 and as fast at 0.1.)
DENSE_SAMPLING_P = 0.1


def sample_bernoulli(batch_size: int, n_features: int, p: float,
                     generator: torch.Generator | None = None) -> Float[Tensor, "batch n"]:
    """(batch, n): each cell active with probability p, active values ~ U[-1, 1]."""
    check_int("batch_size", batch_size)
    check_int("n_features", n_features)
    check_range("p", p)
    active = torch.rand(batch_size, n_features, generator=generator) < p
    values = torch.rand(batch_size, n_features, generator=generator) * 2 - 1
    return values * active


def sample_one_active(batch_size: int, n_features: int,
                      generator: torch.Generator | None = None) -> Float[Tensor, "batch n"]:
    """(batch, n): exactly one feature per row, chosen uniformly, with value ~ U[-1, 1]."""
    check_int("batch_size", batch_size)
    n = check_int("n_features", n_features)
    idx = torch.randint(0, n, (batch_size,), generator=generator)
    vals = torch.rand(batch_size, generator=generator) * 2 - 1
    x = torch.zeros(batch_size, n)
    x[torch.arange(batch_size), idx] = vals
    return x


def steps_for(p: float, n_features: int = 100, non_empty_batches: int = 10_000) -> int:
    """Steps that give ``non_empty_batches`` batches' worth of non-empty samples at probability p,
    truncated as the published code does: 105,033 at p = 0.001, 15,773 at p = 0.01."""
    check_range("p", p)
    return int(non_empty_batches / (1 - (1 - p) ** n_features))


class BernoulliStream:
    """Bernoulli(p) inputs for one instance, drawn ``chunk`` steps at a time.

    ``next_chunk(c)`` returns either ``("sparse", position, value)``: 1-D tensors, the active
    cells' flat indices into a (c, batch, n) block, increasing, and their values; or
    ``("dense", x)`` with x of shape (c, batch, n).
    """

    def __init__(self, p: float, batch_size: int, n_features: int, seed: int):
        self.p = check_range("p", p)
        self.batch_size = check_int("batch_size", batch_size)
        self.n_features = check_int("n_features", n_features)
        self.dense = self.p >= DENSE_SAMPLING_P
        if self.dense:  # numpy's PCG64 fills large float32 blocks faster than torch's generator
            self.numpy_rng = np.random.default_rng(int(seed))
            # the block drawn into when next_chunk writes into `out`, kept between calls (13 MB
            # at 16 steps x 2048 x 100)
            self._scratch = None
        else:
            self.generator = torch.Generator().manual_seed(int(seed))

    def next_chunk(self, steps: int, out: Tensor | None = None) -> tuple:
        """The next ``steps`` steps' batches, in the form the class docstring gives. out: a
        (steps, batch, n) float32 tensor (any strides) that a dense stream writes its block into
        and returns (a sparse stream ignores it), saving the allocation and a copy."""
        b, n, p = self.batch_size, self.n_features, self.p
        if self.dense:
            shape = (steps, b, n)
            if out is not None and (self._scratch is None or self._scratch.shape != shape):
                self._scratch = np.empty(shape, dtype=np.float32)
            u = torch.from_numpy(self.numpy_rng.random(
                shape, dtype=np.float32, out=None if out is None else self._scratch))
            # One uniform per cell: u < p marks it active, and then 1 - 2u/p is uniform on
            # (-1, 1]; for u >= p it is <= -1, which the threshold sets to 0. (Both in place.)
            value = torch.add(torch.ones(()), u, alpha=-2.0 / p, out=u)
            torch.nn.functional.threshold(value, -1.0, 0.0, inplace=True)
            return ("dense", value if out is None else out.copy_(value))
        g = self.generator
        cells = steps * b * n
        mean = cells * p
        gaps = torch.empty(int(mean + 6 * math.sqrt(mean) + 16)).geometric_(p, generator=g)
        pos = torch.cumsum(gaps.to(torch.int64), 0) - 1
        while pos[-1] < cells:  # rare: draw more gaps until the chunk is covered
            more = torch.empty(int(mean * 0.1 + 16)).geometric_(p, generator=g)
            pos = torch.cat([pos, pos[-1] + torch.cumsum(more.to(torch.int64), 0)])
        pos = pos[:int(torch.searchsorted(pos, cells))]  # gaps >= 1: pos increases strictly
        value = torch.rand(pos.numel(), generator=g) * 2 - 1
        return ("sparse", pos, value)


class OneActiveStream:
    """Exactly-one-active inputs for one instance, summarised per step as bucket weights.

    With one active feature i of value v, the squared error is v^2 times a quantity that depends
    only on (i, sign v). So a batch enters the loss only through
    ``S[i, s] = sum of v^2 over the samples whose active feature is i with sign s``.
    ``next_chunk(c)`` returns S of shape (c, 2n): columns 0..n-1 for v > 0, n..2n-1 for v < 0.
    """

    def __init__(self, batch_size: int, n_features: int, seed: int):
        self.batch_size = check_int("batch_size", batch_size)
        self.n_features = check_int("n_features", n_features)
        self.numpy_rng = np.random.default_rng(int(seed))

    def next_draws(self, steps: int) -> torch.Tensor:
        """The next ``steps`` steps' draws, (steps, batch) float64 on [0, 2n): one per sample.

        Its integer part is the sample's bucket (feature, sign), uniform over the 2n buckets; its
        fractional part, independent of it, is |v| (uniform on [0, 1), with ~45 bits to spare).
        """
        return torch.from_numpy(self.numpy_rng.random((steps, self.batch_size))) * (2 * self.n_features)

    def next_chunk(self, steps: int) -> torch.Tensor:
        """The next ``steps`` steps' bucket weights, (steps, 2n)."""
        u = self.next_draws(steps)
        bucket = u.floor()
        magnitude = (u - bucket).float()
        weights = torch.zeros(steps, 2 * self.n_features)
        return weights.scatter_add_(1, bucket.long(), magnitude * magnitude)

    @staticmethod
    def samples(draws: torch.Tensor, n_features: int) -> torch.Tensor:
        """The samples behind draws (..., batch) of :meth:`next_draws`: (..., batch, n) inputs with
        the same float32 |v| that :meth:`next_chunk` squares."""
        bucket = draws.floor()
        magnitude = (draws - bucket).float()
        bucket = bucket.long()
        value = torch.where(bucket < n_features, magnitude, -magnitude)
        x = torch.zeros(*draws.shape, n_features)
        return x.scatter_(-1, (bucket % n_features)[..., None], value[..., None])


def streams(inputs: str, probs: list, batch_size: int, n_features: int, seeds: list[int]) -> list:
    """One stream per instance: :class:`BernoulliStream` (p of ``probs``) or, for inputs
    'one_active', :class:`OneActiveStream`, each from its own seed."""
    if inputs == "bernoulli":
        return [BernoulliStream(q, batch_size, n_features, s) for q, s in zip(probs, seeds)]
    return [OneActiveStream(batch_size, n_features, s) for s in seeds]
