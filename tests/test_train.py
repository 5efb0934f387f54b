"""The fast trainer computes the paper's procedure: same loss, same gradients, same optimiser."""

import numpy as np
import pytest
import torch

from cclib import evaluate, mixing, task
from cclib.baselines import naive_loss
from cclib.data import BernoulliStream, sample_bernoulli, sample_one_active
from cclib.models import MLP, ResidualMLP
from cclib._adamw import adamw_step
from cclib._batches import mixing_tables, sparse_chunk
from cclib._chunk_kernel import merge_chunk
from cclib._grads import grads_buckets, grads_dense, grads_sparse
from cclib.fast import shard_plan
from cclib.reference import merge_chunk_numpy, train_reference
from cclib.train import train


def _autograd(model, mix, x, batch_size):
    """Reference loss and gradients (w.r.t. W_in, W_out, sigma) on a dense batch x (K, B, n): autograd
    of the task's one loss (cclib.task.loss) through the equivalent MLP. x may hold only the
    batch's non-empty samples (B < batch_size): the empty ones add 0 to the sum over the batch."""
    plain = MLP.from_weights(*model.effective_weights())
    sigma = mix.sigma.clone().requires_grad_()
    m = sigma.abs()[:, None, None] * mix.pattern
    loss = task.loss(plain(x), task.labels(x, m)) * (x.shape[1] / batch_size)
    loss.sum().backward()
    return loss.detach(), plain.W_in.grad, plain.W_out.grad, sigma.grad


def _bucket_weights(x):
    """One-active batches x (K, B, n) as bucket weights (K, 2n): sum of v^2 per (feature, sign)."""
    value = x.sum(2)
    bucket = x.abs().argmax(2) + x.shape[2] * (value < 0)
    return torch.zeros(x.shape[0], 2 * x.shape[2]).scatter_add_(1, bucket, value**2)


def _gt(mix):
    return mix.pattern.transpose(1, 2).contiguous()


@pytest.mark.parametrize("p", [0.005, 0.3])
def test_dense_and_sparse_paths_match_autograd(p):
    k, b = 3, 256
    model = MLP(k, seeds=[0, 1, 2])
    mix = mixing.random_mixing([0.02, 0.05, 0.03], seeds=[0, 1, 2], trainable_sigma=True)
    x = torch.stack([sample_bernoulli(b, 100, p, torch.Generator().manual_seed(i)) for i in range(k)])
    ref = _autograd(model, mix, x, b)
    w_in, w_out = model.effective_weights()
    dense = grads_dense(w_in.detach(), w_out.detach(), _gt(mix), mix.sigma.abs(), x, batch_size=b,
                        need_sigma_grad=True)
    # the same batch as flat active-cell lists, empty rows dropped
    parts = []
    for i in range(k):
        position = torch.nonzero(x[i].reshape(-1)).flatten()
        parts.append((position, x[i].reshape(-1)[position]))
    batch, = sparse_chunk(parts, 1, b, 100, mixing_tables(_gt(mix), k))
    assert batch.n_rows == max(1, int(((x != 0).sum(2) >= 2).sum(1).max()))  # samples of 2+ cells
    assert torch.allclose(batch.single.sum(1), (x * x * ((x != 0).sum(2, keepdim=True) == 1)).sum((1, 2)))
    sparse = grads_sparse(w_in.detach(), w_out.detach(), _gt(mix), mix.sigma.abs(), batch, batch_size=b,
                          need_sigma_grad=True)
    for got in (dense, sparse):
        assert torch.allclose(got[0], ref[0], rtol=1e-5)
        assert torch.allclose(got[1], ref[1], atol=1e-7, rtol=1e-4)
        assert torch.allclose(got[2], ref[2], atol=1e-7, rtol=1e-4)
        assert torch.allclose(got[3] * torch.sign(mix.sigma), ref[3], atol=1e-8, rtol=1e-4)


@pytest.mark.parametrize("sigmas", [[0.02, 0.0], [0.03, 0.01], None])
def test_sparse_path_matches_autograd_at_every_step_of_a_chunk(sigmas):
    """Real streams, several steps merged across instances (and the clean task, no mixing)."""
    k, b, n = 2, 512, 100
    model = MLP(k, seeds=[7, 8])
    mix = (mixing.random_mixing(sigmas, seeds=[7, 8], trainable_sigma=True) if sigmas
           else mixing.clean(n_instances=k))
    gt = None if sigmas is None else _gt(mix)
    streams = [BernoulliStream(p, b, n, seed) for p, seed in ((0.01, 1), (0.03, 2))]
    parts = [s.next_chunk(3)[1:] for s in streams]
    batches = sparse_chunk(parts, 3, b, n, mixing_tables(gt, k))
    x_all = torch.zeros(k, 3 * b * n)  # the same draws as dense batches
    for i, (position, value) in enumerate(parts):
        x_all[i, position] = value
    x_all = x_all.view(k, 3, b, n).transpose(0, 1)
    w_in, w_out = model.effective_weights()
    for batch, x in zip(batches, x_all):
        ref = _autograd(model, mix, x, b)
        got = grads_sparse(w_in.detach(), w_out.detach(), gt, mix.sigma.abs(), batch, batch_size=b,
                          need_sigma_grad=True)
        assert torch.allclose(got[0], ref[0], rtol=1e-5)
        assert torch.allclose(got[1], ref[1], atol=1e-7, rtol=1e-4)
        assert torch.allclose(got[2], ref[2], atol=1e-7, rtol=1e-4)
        if sigmas:
            assert torch.allclose(got[3] * torch.sign(mix.sigma), ref[3], atol=1e-8, rtol=1e-4)


@pytest.mark.parametrize("p, k, clean", [(0.01, 3, False), (0.002, 2, False), (0.04, 2, True)])
def test_chunk_kernel_equals_the_numpy_version(p, k, clean):
    """The compiled merge and its numpy reference agree array by array: exactly for indices
    and bucket sums, to float rounding for the sums over pairs (summed in another order)."""
    b, n = 1024, 100
    parts = [BernoulliStream(p, b, n, seed).next_chunk(5)[1:] for seed in range(k)]
    gt = None if clean else _gt(mixing.random_mixing([0.03] * k, seeds=list(range(k))))
    tables = mixing_tables(gt, k)
    ref = merge_chunk_numpy(parts, 5, b, n, *tables)
    inst_start = np.concatenate([[0], np.cumsum([part[1].numel() for part in parts])])
    got = merge_chunk(*(np.concatenate([part[i].numpy() for part in parts]) for i in range(2)),
                      inst_start, 5, b, n, *tables)
    assert len(ref) == len(got) == 14
    for i, (x, y) in enumerate(zip(ref, got)):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape, i
        if i in (1, 12, 13):  # relu_sq, relu_z, z_sq
            assert np.allclose(x, y, rtol=1e-5, atol=1e-6), i
        else:
            assert np.array_equal(x, y), i
    if not clean:
        assert np.abs(got[13]).min() > 0  # the pair sums are not trivially zero


@pytest.mark.parametrize("k", [2, 20])  # 20 > BUCKET_GROUP: computed in groups of instances
def test_bucket_path_matches_autograd(k):
    b = 512
    model = MLP(k, seeds=list(range(3, 3 + k)))
    mix = mixing.random_mixing(np.linspace(0.01, 0.05, k), seeds=list(range(5, 5 + k)),
                               trainable_sigma=True)
    x = torch.stack([sample_one_active(b, 100, torch.Generator().manual_seed(i)) for i in range(k)])
    ref = _autograd(model, mix, x, b)
    w_in, w_out = model.effective_weights()
    got = grads_buckets(w_in.detach(), w_out.detach(), _gt(mix), mix.sigma.abs(), _bucket_weights(x),
                        batch_size=b, need_sigma_grad=True)
    assert torch.allclose(got[0], ref[0], rtol=1e-5)
    assert torch.allclose(got[1], ref[1], atol=1e-7, rtol=1e-4)
    assert torch.allclose(got[2], ref[2], atol=1e-7, rtol=1e-4)
    assert torch.allclose(got[3] * torch.sign(mix.sigma), ref[3], atol=1e-8, rtol=1e-4)


def test_bucket_path_without_mixing_in_groups_matches_autograd():
    k, b = 20, 256
    model = MLP(k, seeds=list(range(k)))
    mix = mixing.clean(n_instances=k)
    x = torch.stack([sample_one_active(b, 100, torch.Generator().manual_seed(i)) for i in range(k)])
    ref = _autograd(model, mix, x, b)
    w_in, w_out = model.effective_weights()
    got = grads_buckets(w_in.detach(), w_out.detach(), None, mix.sigma.abs(), _bucket_weights(x),
                        batch_size=b)
    for g, r in zip(got[:3], ref[:3]):
        assert torch.allclose(g, r, atol=1e-7, rtol=1e-4)


def test_residual_pullback_matches_autograd_through_the_embedding():
    w_e = mixing.embedding_matrix(100, 1000, seeds=[0])
    res = ResidualMLP(w_e, 50, seeds=[0])
    x = sample_bernoulli(128, 100, 0.05, torch.Generator().manual_seed(0))[None]
    loss = (res(x) - (x + torch.relu(x))).square().sum() / (128 * 100)
    loss.backward()
    w_in, w_out = res.effective_weights()
    mix = res.mixing()
    _, g_in, g_out, _ = grads_dense(w_in.detach(), w_out.detach(), _gt(mix), mix.sigma.abs(), x,
                                 batch_size=128)
    g_w_in, g_w_out = res.pullback(None, g_in, g_out)
    assert torch.allclose(g_w_in, res.W_in.grad, atol=1e-7, rtol=1e-3)
    assert torch.allclose(g_w_out, res.W_out.grad, atol=1e-7, rtol=1e-3)


def test_adamw_step_is_torch_adamw():
    torch.manual_seed(1)
    w = torch.randn(2, 30)
    param = torch.nn.Parameter(w.clone())
    opt = torch.optim.AdamW([param], lr=3e-3, weight_decay=1e-2)
    flat, m, v = w.clone(), torch.zeros_like(w), torch.zeros_like(w)
    for step in range(1, 6):
        g = torch.randn(2, 30)
        param.grad = g.clone()
        opt.step()
        adamw_step(flat, g, m, v, torch.full((2, 1), 3e-3), 1e-2, step)
    assert torch.allclose(flat, param.detach(), atol=1e-7)


@pytest.mark.parametrize("inputs, p", [("bernoulli", [0.01, 0.01, 0.01]),
                                       ("bernoulli", [0.002, 0.3, 0.05]),
                                       ("one_active", None)])
def test_instances_trained_together_equal_each_alone(inputs, p):
    seeds = [11, 12, 13]
    sig = [0.02, 0.03, 0.01]
    together = MLP(3, seeds=seeds)
    r = train(together, mixing.random_mixing(sig, seeds=seeds, trainable_sigma=True),
              inputs=inputs, p=p, steps=[40, 25, 40], seeds=seeds)
    for i in range(3):
        alone = MLP(1, seeds=[seeds[i]])
        r1 = train(alone, mixing.random_mixing(sig[i], seeds=[seeds[i]], trainable_sigma=True),
                   inputs=inputs, p=None if p is None else p[i], steps=[40, 25, 40][i], seeds=[seeds[i]])
        assert torch.allclose(together.W_in[i], alone.W_in[0], atol=1e-5)
        assert torch.allclose(together.W_out[i], alone.W_out[0], atol=1e-5)
        assert torch.allclose(r.mixing.sigma[i], r1.mixing.sigma[0], atol=1e-6)
        n = [40, 25, 40][i]
        assert torch.allclose(r.loss[:n, i], r1.loss[:n, 0], rtol=1e-4)
        assert torch.all(torch.isnan(r.loss[n:, i]))


def test_rerun_gives_identical_numbers():
    runs = []
    for _ in range(2):
        model = MLP(2, seeds=[0, 1])
        train(model, mixing.random_mixing([0.02, 0.02], seeds=[0, 1]), p=0.01, steps=30, seeds=[0, 1])
        runs.append(model.W_in.detach().clone())
    assert torch.equal(runs[0], runs[1])


def test_results_do_not_depend_on_the_callers_thread_count():
    """A single-instance dense run is where a threaded product would split its reduction."""
    weights = []
    before = torch.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        model = MLP(1, seeds=[0])
        train(model, mixing.random_mixing(0.02, seeds=[0]), p=1.0, steps=50, seeds=[0])
        assert torch.get_num_threads() == threads  # restored
        weights.append(model.W_in.detach().clone())
    torch.set_num_threads(before)
    assert torch.equal(weights[0], weights[1])


def test_fast_and_reference_trainers_reach_the_same_loss():
    """Different random draws, same procedure: after 1500 steps the two agree within noise."""
    mix = mixing.random_mixing(0.02, seeds=[0])
    fast, ref = MLP(1, seeds=[0]), MLP(1, seeds=[0])
    train(fast, mix, inputs="one_active", steps=1500, seeds=[1])
    train_reference(ref, mix, inputs="one_active", steps=1500, seeds=[1])
    a, b = evaluate.one_active_loss(fast, mix)[0], evaluate.one_active_loss(ref, mix)[0]
    assert abs(a - b) < 0.003, (a, b)


def test_short_run_beats_naive_with_mixing_and_not_without():
    """p = 0.01: sigma = 0.02 beats naive at p_eval = 0.01, the clean task does not."""
    noisy, clean = MLP(1, seeds=[0]), MLP(1, seeds=[0])
    mix = mixing.random_mixing(0.02, seeds=[0])
    train(noisy, mix, p=0.01, steps=3000, seeds=[0])
    train(clean, mixing.clean(), p=0.01, steps=3000, seeds=[0])
    noisy_loss, noisy_se = evaluate.expected_loss(noisy, mix, 0.01)
    clean_loss, clean_se = evaluate.expected_loss(clean, mixing.clean(), 0.01)
    print(f"short runs, L/p at 0.01: sigma=0.02 {noisy_loss[0]:.4f}, clean {clean_loss[0]:.4f}")
    assert noisy_loss[0] + 3 * noisy_se[0] < naive_loss()
    assert clean_loss[0] - 3 * clean_se[0] > naive_loss() * 0.999


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(p=0.0), ValueError, "p must lie in (0, 1]"),
    (dict(p=[0.1, 0.2]), ValueError, "p must have one value per instance (1), got 2"),
    (dict(p=None), ValueError, "p must be given for inputs='bernoulli'"),
    (dict(p=0.1, inputs="gaussian"), ValueError, "inputs must be one of 'bernoulli', 'one_active'"),
    (dict(inputs="one_active", p=0.1), ValueError, "p must be None for inputs='one_active'"),
    (dict(p=0.1, steps=0), ValueError, "steps must be an integer in [1, inf], got 0"),
    (dict(p=0.1, lr=-1.0), ValueError, "lr must be a finite number in (0.0, 10.0]"),
    (dict(p=0.1, batch_size=0), ValueError, "batch_size must be an integer in [1, inf], got 0"),
])
def test_bad_input_is_named(kwargs, error, message):
    with pytest.raises(error) as err:
        train(MLP(1), mixing.clean(), **kwargs)
    assert message in str(err.value)


def test_mismatched_instances_are_refused():
    with pytest.raises(ValueError, match="mixing has 2 instances but the model has 1"):
        train(MLP(1), mixing.clean(n_instances=2), p=0.1, steps=1)


# ---- workers: the numbers do not depend on how many processes computed them ----------------

def _weights_and_loss(inputs, p, steps, workers):
    seeds = list(range(16))  # two shards
    model = MLP(16, seeds=seeds)
    result = train(model, mixing.random_mixing(np.linspace(0.0, 0.05, 16), seeds=seeds),
                   inputs=inputs, p=p, steps=steps, seeds=seeds, workers=workers)
    return model.W_in.detach(), model.W_out.detach(), result.loss


@pytest.mark.parametrize("inputs, p, steps", [
    ("bernoulli", [0.01] * 6 + [0.002, 0.3] + [0.01] * 8, [60] * 6 + [40] + [60] * 9),
    ("one_active", None, 60),
])
def test_train_workers_identical(inputs, p, steps):
    """train_bernoulli_workers_identical in benchmarks/results.json: 1 and 2 workers, every bit
    (sparse and dense Bernoulli inputs, different step counts, and exactly one active)."""
    assert len(shard_plan(16, inputs)) == 2
    one = _weights_and_loss(inputs, p, steps, workers=1)
    two = _weights_and_loss(inputs, p, steps, workers=2)
    for a, b in zip(one, two):
        assert torch.equal(a.nan_to_num(-1.0), b.nan_to_num(-1.0))


def test_shard_plan_is_contiguous_and_bounded():
    for k in (1, 3, 8, 16, 82, 138):
        for inputs in ("bernoulli", "one_active"):
            shards = shard_plan(k, inputs)
            assert sum(shards, []) == list(range(k))
            assert len(shards) <= 8
            sizes = [len(s) for s in shards]
            assert max(sizes) - min(sizes) <= 1
    assert len(shard_plan(16, "one_active")) == 2 and len(shard_plan(7, "bernoulli")) == 1
    assert [len(s) for s in shard_plan(82, "bernoulli")] == [11, 11] + [10] * 6


def test_bad_worker_count_is_named(monkeypatch):
    monkeypatch.setenv("CCLIB_WORKERS", "zero")
    with pytest.raises(ValueError, match=r"CCLIB_WORKERS must be an integer in \[1, inf\], got 'zero'"):
        train(MLP(2, seeds=[0, 1]), mixing.clean(n_instances=2), p=0.1, steps=1, seeds=[0, 1])


def test_floor_div_is_the_integer_quotient():
    """The chunk kernel's float-reciprocal quotient equals // at and around every multiple of
    the divisors it meets (n, batch_size) and at random points, up to 2**40."""
    from cclib._chunk_kernel import _floor_div
    rng = np.random.default_rng(0)
    for d in (1, 3, 7, 10, 100, 1000, 2048, 4096, 10_000, 12_345):
        q = np.concatenate([np.arange(0, 3000), rng.integers(0, 2**40 // d, 3000)])
        xs = np.concatenate([q * d - 1, q * d, q * d + 1, q * d + d - 1, rng.integers(0, 2**40, 2000)])
        for x in xs[xs >= 0].tolist():
            assert _floor_div(x, d, 1.0 / d) == x // d, (x, d)
