"""Samplers. Statistical checks use |z| < 4.5 (two-sided false-alarm rate 7e-6 per check) and
Kolmogorov-Smirnov p > 1e-4, so the suite fails by chance less than once in ten thousand runs."""
import math

import pytest
import torch
from scipy import stats

from cclib import data

Z = 4.5


def _check_bernoulli(x, p):
    active = (x != 0).double()
    cells = active.numel()
    if p < 1:
        z = (active.sum().item() - cells * p) / math.sqrt(cells * p * (1 - p))
        assert abs(z) < Z, z
    values = x[x != 0].numpy()
    assert stats.kstest(values, stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-4


def _written_out(chunk: tuple, shape: tuple) -> torch.Tensor:
    """A BernoulliStream chunk as its dense (steps, batch, n) block."""
    if chunk[0] == "dense":
        return chunk[1]
    x = torch.zeros(shape).view(-1)
    x[chunk[1]] = chunk[2]
    return x.view(shape)


@pytest.mark.parametrize("p", [0.01, 0.3])
def test_dense_bernoulli_sampler(p):
    gen = torch.Generator().manual_seed(1)
    _check_bernoulli(data.sample_bernoulli(4096, 100, p, gen), p)


@pytest.mark.parametrize("p", [0.001, 0.02, 0.2, 1.0])
def test_bernoulli_stream_matches_the_distribution(p):
    stream = data.BernoulliStream(p, 512, 100, seed=3)
    chunk = stream.next_chunk(8)
    if chunk[0] == "sparse":
        _, position, value = chunk
        assert torch.all(position[1:] > position[:-1])
        assert not torch.any(value == 0)
    x = _written_out(chunk, (8, 512, 100))
    _check_bernoulli(x, p)
    if p == 1.0:
        assert torch.all(x != 0)


def test_same_seed_same_numbers():
    a = data.BernoulliStream(0.01, 256, 100, seed=9).next_chunk(4)
    b = data.BernoulliStream(0.01, 256, 100, seed=9).next_chunk(4)
    assert all(torch.equal(u, v) for u, v in zip(a[1:], b[1:]))
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert torch.equal(data.sample_bernoulli(64, 100, 0.1, g1), data.sample_bernoulli(64, 100, 0.1, g2))


def test_one_active_has_one_nonzero_per_row_uniform_values():
    x = data.sample_one_active(8192, 100, torch.Generator().manual_seed(2))
    assert torch.all((x != 0).sum(1) == 1)
    assert stats.kstest(x[x != 0].numpy(), stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-4
    counts = (x != 0).sum(0).numpy()
    assert stats.chisquare(counts).pvalue > 1e-4


def test_one_active_stream_bucket_sums():
    s = data.OneActiveStream(2048, 100, seed=5).next_chunk(200).double()  # (steps, 2n)
    # E[S_b] per step = batch * (1 / 2n) * E[v^2 | sign] = 2048 / 200 / 3
    mean = s.mean().item()
    se = s.std().item() / math.sqrt(s.numel())
    assert abs(mean - 2048 / 200 / 3) < Z * se
    assert torch.all(s >= 0)


def test_steps_follow_the_published_formula():
    # int(10_000 / (1 - (1 - p) ** 100)), truncated as the published code does (round would
    # give 15,774 at p = 0.01).
    assert data.steps_for(0.001) == 105_033
    assert data.steps_for(0.01) == 15_773
    assert data.steps_for(1.0) == 10_000
    assert 10_000 <= data.steps_for(0.05) <= 10_100


@pytest.mark.parametrize("call, message", [
    (lambda: data.sample_bernoulli(10, 100, 0.0), "p must be a finite number in (0.0, 1.0], got 0.0"),
    (lambda: data.sample_bernoulli(10, 100, 1.5), "p must be a finite number in (0.0, 1.0], got 1.5"),
    (lambda: data.sample_bernoulli(-1, 100, 0.5), "batch_size must be an integer in [1, inf], got -1"),
    (lambda: data.BernoulliStream(float("inf"), 10, 10, 0), "p must be a finite number"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)


def test_a_dense_stream_drawn_into_out_gives_the_same_numbers():
    """next_chunk(out=...) (what the engines' dense_chunk uses: the block is written into a
    strided slice of the batch tensor) continues the stream exactly as a fresh draw does, also
    when the chunk's length changes between calls."""
    fresh, into = data.BernoulliStream(0.3, 64, 10, seed=2), data.BernoulliStream(0.3, 64, 10, seed=2)
    for steps in (5, 5, 3):
        block = torch.full((steps, 2, 64, 10), float("nan"))
        kind, x = fresh.next_chunk(steps)
        kind_into, y = into.next_chunk(steps, out=block[:, 1])
        assert kind == kind_into == "dense" and y.data_ptr() == block[:, 1].data_ptr()
        assert torch.equal(x, block[:, 1]) and torch.all(block[:, 0].isnan())


def test_dense_chunk_writes_dense_and_sparse_streams():
    """dense_chunk, for streams of which any draws densely: each instance's slice is its own
    stream's chunk (a sparse one scattered into zeros), every cell written."""
    from cclib._batches import dense_chunk
    ps = (0.2, 0.01, 1.0)
    steps = dense_chunk([data.BernoulliStream(p, 32, 10, seed=s) for s, p in enumerate(ps)], 4, 32, 10)
    x = torch.stack(steps)                                                 # (4, K, 32, 10)
    for k, p in enumerate(ps):
        chunk = data.BernoulliStream(p, 32, 10, seed=k).next_chunk(4)
        assert torch.equal(x[:, k], _written_out(chunk, (4, 32, 10)))
