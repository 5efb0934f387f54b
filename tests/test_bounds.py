"""The exact floor of cclib.bounds: its closed form at M = 0, Eckart-Young against a fitted
rank-d matrix, and no model or baseline below it."""
import numpy as np
import pytest
import torch

from cclib import analysis, baselines, bounds, evaluate, mixing
from cclib.models import MLP


def test_floor_at_m_zero_is_the_naive_loss():
    clean = mixing.clean(n_instances=2)
    assert np.allclose(bounds.rank_floor(clean, 50), 1 / 12, rtol=0, atol=1e-15)
    # with an output bias: the labels' covariance, (n - d) / (6n) - 1 / (16n), a gain of 1/1600
    assert np.allclose(bounds.rank_floor(clean, 50, output_bias=True), 50 / 600 - 1 / 1600, rtol=0, atol=1e-15)
    assert np.allclose(bounds.rank_floor(clean, 30), 70 / 600, rtol=0, atol=1e-15)
    assert np.allclose(bounds.positive_half_loss(clean, 50), 1 / 12, rtol=0, atol=1e-15)


def test_targets_are_the_labels_of_the_one_active_inputs():
    m = mixing.random_mixing(0.05, 20, seeds=[3])
    t = bounds.one_active_label_rows(m)
    from cclib.task import labels
    x = torch.cat([torch.eye(20), -torch.eye(20)])[None].double()
    assert torch.allclose(labels(x, m.matrix().double()), t, atol=1e-12)


def test_floor_is_the_best_rank_d_fit():
    """A rank-d matrix fitted by gradient descent reaches the floor and goes no lower."""
    m = mixing.random_mixing(0.1, 12, seeds=[1])
    t = bounds.one_active_label_rows(m)[0]
    d = 4
    torch.manual_seed(0)
    a = torch.randn(24, d, dtype=torch.float64, requires_grad=True)
    b = torch.randn(d, 12, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([a, b], max_iter=2000, tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = (a @ b - t).square().sum()
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    fitted = float((a @ b - t).detach().square().sum()) / (6 * 12)
    floor = float(bounds.rank_floor(m, d)[0])
    assert floor * (1 - 1e-12) <= fitted < floor * (1 + 1e-6)  # L-BFGS gets within 1e-6, never below
    # and a random rank-d matrix is worse
    worse = float((torch.randn(24, d, dtype=torch.float64) @ torch.randn(d, 12, dtype=torch.float64)
                   - t).square().sum()) / 72
    assert worse > floor


def test_no_model_or_baseline_below_the_floor():
    m = mixing.random_mixing([0.0, 0.02, 0.05], 100, seeds=[0, 1, 2])
    floor = bounds.rank_floor(m, 50)
    torch.manual_seed(0)
    models = [MLP(3, 100, 50), baselines.naive(n_instances=3), baselines.svd_baseline(m),
              baselines.semi_nmf(m, max_iter=200).model]
    for model in models:
        assert np.all(evaluate.one_active_loss(model, m) >= floor - 1e-7)
    # the positive half is the loss of one rank-d output matrix, so it is never below the floor
    assert np.all(bounds.positive_half_loss(m, 50) >= floor)


def test_naive_loss_on_noisy_labels_matches_the_evaluator():
    for zero_diagonal in (True, False):
        m = mixing.random_mixing([0.02, 0.05], 100, seeds=[0, 1], zero_diagonal=zero_diagonal)
        exact = bounds.naive_loss_on(m, 50)
        naive = baselines.naive(n_instances=2)
        assert np.allclose(evaluate.one_active_loss(naive, m), exact, rtol=1e-5)
        curve = evaluate.loss_curve(naive, m, [0.01, 0.5], samples_per_k=2048)
        assert np.all(np.abs(curve.loss - exact[:, None]) < 4 * curve.se + 1e-6)
    assert bounds.naive_loss_on(mixing.clean(), 50)[0] == pytest.approx(1 / 12)


def test_bad_width_is_refused():
    with pytest.raises(ValueError, match="d_mlp"):
        bounds.rank_floor(mixing.clean(), 101)


def test_regime_measures_of_the_naive_model():
    r = analysis.regime_measures(baselines.naive_offset([0.0, 0.01]))
    assert list(r.strong) == [50, 50]
    assert np.allclose(r.offset, [0.0, 0.01])
    assert r.top_share[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="regime_measures"):
        analysis.regime_measures(MLP(1, 100, 50, activation="gelu"))
    assert analysis.subspace_energy(np.eye(4)[:, :2], np.eye(4)[:, :3]) == pytest.approx(1.0)
    assert analysis.top_energy_share(np.diag([2.0, 1.0]), 1) == pytest.approx(0.8)


def test_the_bias_floor_is_the_least_loss_of_any_hidden_layer_of_width_d():
    """The covariance floor with a bias is sharp over all hidden layers: h = the labels' projection
    on the top d eigenvectors of their covariance reaches it (on the quadrature inputs, for which
    the bound is exact), at M = 0 and at a random M; the naive layer stays above it."""
    x, prob = bounds.one_active_quadrature(20)
    for m in (mixing.clean(20), mixing.random_mixing(0.1, 20, seeds=[2])):
        labels = torch.relu(x) + x @ m.matrix()[0].double().T
        mean = (labels * prob[:, None]).sum(0)
        cov = ((labels - mean) * prob[:, None]).T @ (labels - mean)
        top = torch.linalg.eigh(cov).eigenvectors[:, -8:]
        floor = bounds.rank_floor(m, 8, output_bias=True)[0]
        assert bounds.least_readout_loss(labels @ top, labels, prob) == pytest.approx(floor, rel=1e-9)
        assert bounds.least_readout_loss(torch.relu(x[:, :8]), labels, prob) > floor + 1e-4


def _random_gaps(n, d, trials, width=None):
    """(least loss - floor) of random networks with the best read-out: plain, with a skip, with
    random importance weights, on clean one-active labels (the check Fig. 17 shows)."""
    x, prob = bounds.one_active_quadrature(n)
    y = torch.relu(x)
    clean = mixing.clean(n)
    floor, skip = bounds.rank_floor(clean, d, output_bias=True)[0], bounds.skip_floor(clean, d, output_bias=True)[0]
    gen = torch.Generator().manual_seed(0)
    gaps = {"plain": [], "skip": [], "importance": []}
    for t in range(trials):
        depth, act = 1 + t % 3, list(bounds.RANDOM_ACTIVATIONS)[(t // 3) % 4]
        h = bounds.random_network(x, width or d, depth, act, gen, near_naive=[0.0, 0.01, 0.1, 0.3][(t // 3) % 4] if depth == 1 else 0.0)
        gaps["plain"].append(bounds.least_readout_loss(h, y, prob) - floor)
        gaps["skip"].append(bounds.least_readout_loss(torch.cat([h, x], 1), y, prob) - skip)
        w = torch.rand(n, generator=gen, dtype=torch.float64)
        gaps["importance"].append(bounds.least_readout_loss(h, y, prob, w) - float(torch.sort(w).values[:n - d - 1].sum()) / (6 * n))
    return gaps


def test_no_random_network_with_its_best_read_out_is_below_its_floor():
    """Fig. 17's check, guarded here: depth 1-3, four activations, some near the naive layer; the
    floors hold to float64 rounding (1e-9 on sums of 640 terms)."""
    for name, gaps in _random_gaps(20, 8, 36).items():
        assert min(gaps) > -1e-9, name


def test_the_random_network_check_fails_when_the_floor_is_of_the_wrong_width():
    """The check can fail: networks two neurons wider than the floor's width go below it."""
    gaps = _random_gaps(20, 8, 12, width=10)
    assert min(gaps["plain"]) < -1e-3 and min(gaps["skip"]) < -1e-3


def test_the_naive_layer_with_a_skip_reaches_the_skip_floor_at_any_mixing():
    """S = M^T + diag(0 kept, 1/2 ignored) on the naive hidden layer: the skip floor (n - d) / (12n)
    at a random M, so a mixing matrix brings no gain once a skip is trainable."""
    m = mixing.random_mixing([0.05, 0.2], 20, seeds=[4, 5])
    model = baselines.naive_skip(20, 8, mixing=m)
    assert np.allclose(evaluate.one_active_loss(model, m), bounds.skip_floor(m, 8), rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="mixing must be"):
        baselines.naive_skip(20, 8, mixing=mixing.clean(21))


def test_the_skip_floor_is_reached_at_half_the_identity_plus_the_mixing_and_not_below():
    """The tail energy of the residual rows [I + M^T - S; S - M^T] is (n - r) / 2 at
    S = M^T + I/2 and larger at any other S (the Gram matrix is I/2 + 2 A^T A)."""
    n, r = 12, 5
    mix = mixing.random_mixing([0.3], n_features=n, seeds=[7])
    mt = mix.matrix()[0].double().T
    eye = torch.eye(n, dtype=torch.float64)

    def tail(s):
        rows = torch.cat([eye + mt - s, s - mt])
        return torch.linalg.svdvals(rows)[r:].square().sum().item()

    floor = bounds.skip_floor(mix, r)[0] * 6 * n
    assert tail(mt + eye / 2) == pytest.approx(floor, rel=1e-12)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        assert tail(mt + eye / 2 + 0.1 * torch.randn(n, n, generator=g, dtype=torch.float64)) > floor


def test_the_bernoulli_floor_is_below_every_model_and_equals_naive_with_constants_at_m_0():
    n, d, p = 30, 10, 0.05
    clean = mixing.random_mixing([0.0], n_features=n, seeds=[0])
    floor = bounds.bernoulli_floor(clean, d, p)[0]
    assert floor == pytest.approx((n - d) / n * (1 / 6 - p / 16), rel=1e-12)
    noisy = mixing.random_mixing([0.1], n_features=n, seeds=[3])
    g = torch.Generator().manual_seed(0)
    model = MLP.from_weights(torch.randn(4, n, d, generator=g) * 0.3, torch.randn(4, d, n, generator=g) * 0.3)
    for mix in (clean, noisy):
        loss, se = evaluate.expected_loss(model, mixing.Mixing(mix.pattern.expand(4, -1, -1), mix.sigma.expand(4)),
                                          p, samples_per_k=2048)
        assert np.all(loss + 3 * se > bounds.bernoulli_floor(mix, d, p)[0])
    assert np.all(bounds.bernoulli_floor(noisy, d, p, output_bias=True) <= bounds.bernoulli_floor(noisy, d, p))


def test_the_built_naive_with_a_skip_sits_on_the_skip_floor():
    model = baselines.naive_skip(20, 8)
    clean = mixing.clean(20)
    assert evaluate.one_active_loss(model, clean)[0] == pytest.approx(bounds.skip_floor(clean, 8)[0], rel=1e-6)
    assert bounds.skip_floor(clean, 8)[0] == pytest.approx(bounds.rank_floor(clean, 8)[0] / 2)


@pytest.mark.parametrize("p", [0.0, 1.5, float("nan"), "0.5", True])
def test_the_bernoulli_floor_refuses_a_p_outside_0_1_naming_it(p):
    with pytest.raises((TypeError, ValueError), match="p must be"):
        bounds.bernoulli_floor(mixing.clean(10), 5, p)
