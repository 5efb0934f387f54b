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
