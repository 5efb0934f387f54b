"""Baselines under the L4 loss: the exact loss of a linear map against sampling it, the fitted
best linear map, the hand-built sparse codes, the largest error."""
import numpy as np
import pytest
import torch

from cclib import baselines, evaluate, mixing


@pytest.mark.parametrize("kind", ["mse", "l4"])
@pytest.mark.parametrize("p", [None, 0.05, 0.3])
def test_the_exact_loss_of_a_linear_map_equals_sampling_it(kind, p):
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 20, 8, generator=g) * 0.3, torch.randn(2, 8, 20, generator=g) * 0.3
    model = baselines.LinearMap(a, b)
    mix = mixing.random_mixing([0.05, 0.1], n_features=20, seeds=[1, 2])
    exact = baselines.linear_loss(model.matrix().detach(), p, kind, mix).numpy()
    if p is None:
        sampled = evaluate.one_active_loss(model, mix, samples=1 << 18, kind=kind)
        assert np.allclose(exact, sampled, rtol=0.02)
    else:
        curve = evaluate.loss_curve(model, mix, [p], samples_per_k=4096, kind=kind)
        assert np.all(np.abs(exact - curve.loss[:, 0]) < 5 * curve.se[:, 0] + 1e-6)


def test_the_mse_of_half_the_identity_on_d_features_is_the_naive_loss_halved():
    """Under the MSE the linear map x/2 on d features loses E[(ReLU x - x/2)^2] = p/12 on each
    of them and p/6 on the others."""
    n, d = 100, 50
    maps = torch.zeros(1, n, n)
    maps[0, torch.arange(d), torch.arange(d)] = 0.5
    expected = (d / 12 + (n - d) / 6) / n
    assert baselines.linear_loss(maps, None).item() == pytest.approx(expected, rel=1e-6)
    assert baselines.linear_loss(maps, 0.01).item() == pytest.approx(expected, rel=1e-6)


def test_the_fitted_linear_map_is_stationary_and_beats_its_start_under_l4():
    fit = baselines.best_linear(10, None, "l4", n_features=20, seeds=[0, 1], iters=1500, lr=1e-2)
    start = baselines.best_linear(10, None, "l4", n_features=20, seeds=[0, 1], iters=0)
    loss = baselines.linear_loss(fit.matrix().detach(), None, "l4")
    assert torch.all(loss < baselines.linear_loss(start.matrix().detach(), None, "l4") * 0.99)
    a, b = fit.A.detach().double().requires_grad_(), fit.B.detach().double().requires_grad_()
    baselines.linear_loss(a @ b, None, "l4").double().sum().backward()
    assert float(torch.cat([a.grad.flatten(), b.grad.flatten()]).abs().max()) < 1e-4


def test_sparse_codes_read_every_feature_and_only_positive_inputs():
    model = baselines.sparse_codes(20, 10, per_feature=3, seeds=[0])
    assert torch.all(model.W_in >= 0) and torch.all((model.W_in > 0).sum(2) == 3)
    largest = evaluate.largest_error(model, mixing.clean(20))
    naive = evaluate.largest_error(baselines.naive(20, 10), mixing.clean(20))
    assert naive[0] == pytest.approx(1.0) and largest[0] < 1.0


@pytest.mark.parametrize("kind", ["mse", "l4"])
@pytest.mark.parametrize("p", [None, 0.05, 0.3])
def test_the_exact_loss_of_a_storage_map_equals_sampling_it(kind, p):
    """ReLU(x) read through L: built as a ReLU model with W_in = I (h = ReLU(x)) and W_out = L."""
    from cclib.models import MLP
    g = torch.Generator().manual_seed(2)
    maps = torch.randn(2, 20, 20, generator=g) * 0.2 + torch.eye(20) * 0.7
    model = MLP.from_weights(torch.eye(20).expand(2, -1, -1).contiguous(), maps)
    exact = baselines.storage_loss(maps, p, kind).numpy()
    clean = mixing.clean(20, 2)
    if p is None:
        assert np.allclose(exact, evaluate.one_active_loss(model, clean, kind=kind), rtol=1e-5)
    else:
        curve = evaluate.loss_curve(model, clean, [p], samples_per_k=4096, kind=kind)
        assert np.all(np.abs(exact - curve.loss[:, 0]) < 5 * curve.se[:, 0] + 1e-6)


def test_no_linear_map_of_any_rank_goes_below_one_eightieth_by_l4_on_one_active_input():
    """The own output's term alone: min over c of ((c - 1)^4 + c^4) / 10 = 1/80, at c = 1/2. A
    full-rank map reaches it (L = I / 2); fitted and random maps stay above it."""
    half = torch.eye(20)[None] * 0.5
    assert baselines.linear_loss(half, None, "l4").item() == pytest.approx(1 / 80, rel=1e-6)
    fit = baselines.best_linear(20, None, "l4", n_features=20, seeds=[0], iters=500, lr=1e-2)
    assert baselines.linear_loss(fit.matrix().detach(), None, "l4").item() >= 1 / 80 - 1e-7
    g = torch.Generator().manual_seed(3)
    assert torch.all(baselines.linear_loss(torch.randn(5, 20, 20, generator=g) * 0.3, None, "l4") > 1 / 80)


def test_the_l4_rank_floor_agrees_with_an_independent_optimisation():
    """bounds.l4_rank_floor (Adam on storage_loss from projections) against L-BFGS on a
    hand-written objective from Gaussian factors, 8 starts: within 1%, and neither below the other
    by more (a local search gives upper estimates; two methods that agree bound the gap between
    them, not to the true minimum). At d = n the floor is 0; at d = 0 it is 1/10."""
    from cclib import bounds
    n, d = 12, 5
    floor = bounds.l4_rank_floor(n, d, seeds=[0, 1, 2], iters=4000)
    best = np.inf
    for seed in range(8):
        g = torch.Generator().manual_seed(100 + seed)
        a = (torch.randn(n, d, generator=g, dtype=torch.float64) * 0.3).requires_grad_()
        b = (torch.randn(d, n, generator=g, dtype=torch.float64) * 0.3).requires_grad_()
        opt = torch.optim.LBFGS([a, b], max_iter=2000, tolerance_grad=1e-12, tolerance_change=1e-15,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            value = ((a @ b - torch.eye(n, dtype=torch.float64)) ** 4).sum() / (10 * n)
            value.backward()
            return value
        opt.step(closure)
        with torch.no_grad():
            best = min(best, float(((a @ b - torch.eye(n, dtype=torch.float64)) ** 4).sum() / (10 * n)))
    assert floor == pytest.approx(best, rel=0.01)
    assert bounds.l4_rank_floor(n, n, seeds=[0], iters=0) == pytest.approx(0, abs=1e-12)
    assert baselines.storage_loss(torch.zeros(1, n, n), None, "l4").item() == pytest.approx(1 / 10)


def test_the_l4_read_out_of_sparse_codes_beats_the_least_squares_one_and_refuses_negative_codes():
    codes = baselines.sparse_codes(20, 10, per_feature=3, seeds=[0]).W_in.detach()
    fitted = baselines.l4_readout(codes, iters=1000, lr=1e-2)
    pinv = torch.linalg.pinv(codes.double())
    assert baselines.storage_loss(codes.double() @ fitted.double(), None, "l4").item() < \
        0.8 * baselines.storage_loss(codes.double() @ pinv, None, "l4").item()
    with pytest.raises(ValueError, match="codes must be non-negative"):
        baselines.l4_readout(-codes)
