import numpy as np
import pytest
import torch

from cclib import baselines, evaluate, mixing, reference
from cclib.data import sample_one_active
from cclib.models import MLP


def test_naive_is_one_twelfth_exactly_and_by_sampling():
    model, clean = baselines.naive(), mixing.clean()
    assert evaluate.one_active_loss(model, clean)[0] == pytest.approx(1 / 12, rel=1e-6)
    assert baselines.naive_loss() == pytest.approx(1 / 12)
    mean, se = reference.monte_carlo_loss(model, clean, 0.05, n_samples=200_000, seed=1)
    assert abs(mean[0] - 1 / 12) < 3 * se[0]
    curve = evaluate.loss_curve(model, clean, [0.001, 0.1, 1.0], samples_per_k=2048)
    assert np.all(np.abs(curve.loss[0] - 1 / 12) < 3 * curve.se[0] + 1e-9)


def _sampled_one_active(model, mix, n=400_000, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = sample_one_active(n, 100, gen)
    w_in, w_out = model.effective_weights()
    with torch.no_grad():
        err = torch.relu(x @ w_in[0]) @ w_out[0] - torch.relu(x) - x @ mix.matrix()[0].T
    per = err.square().sum(1).double()  # L / p with p = 1/n is the summed squared error
    return per.mean().item(), per.std().item() / n**0.5


@pytest.mark.parametrize("symmetric", [False, True])
def test_exact_one_active_loss_matches_sampling(symmetric):
    model = MLP(1, seeds=[3])
    mix = mixing.random_mixing(0.05, seeds=[2], symmetric=symmetric)
    exact = evaluate.one_active_loss(model, mix)[0]
    mean, se = _sampled_one_active(model, mix)
    assert abs(exact - mean) < 3 * se, (exact, mean, se)


def test_stratified_curve_matches_plain_monte_carlo():
    model = MLP(2, seeds=[0, 1])
    mix = mixing.random_mixing([0.03, 0.03], seeds=[0, 1], symmetric=True)
    for p in (0.003, 0.05, 0.4):
        fast = evaluate.loss_curve(model, mix, [p], samples_per_k=2048, seed=5)
        mc, mc_se = reference.monte_carlo_loss(model, mix, p, n_samples=300_000, seed=6)
        se = np.sqrt(fast.se[:, 0] ** 2 + mc_se**2)
        assert np.all(np.abs(fast.loss[:, 0] - mc) < 3 * se), (p, fast.loss[:, 0], mc, se)


def test_naive_offset_closed_form_matches_the_evaluator():
    offsets = [0.0, 0.01, 0.02]
    model = baselines.naive_offset(offsets)
    curve = evaluate.loss_curve(model, mixing.clean(n_instances=3), [0.1, 1.0], samples_per_k=4096)
    exact = baselines.naive_offset_loss(np.array(offsets)[:, None], np.array([[0.1, 1.0]]))
    assert np.all(np.abs(curve.loss - exact) < 3 * curve.se + 1e-9)


def test_residual_model_evaluates_as_its_folded_mlp():
    from cclib.models import ResidualMLP
    res = ResidualMLP(mixing.embedding_matrix(100, 1000, seeds=[0]), seeds=[0])
    a = evaluate.one_active_loss(res, res.mixing())
    b = evaluate.one_active_loss(res.folded(), res.mixing())
    assert np.allclose(a, b, rtol=1e-5)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"p_eval must lie in \(0, 1\]"):
        evaluate.loss_curve(MLP(1), mixing.clean(), [0.0, 0.5])
    with pytest.raises(ValueError, match="samples_per_k must be an integer in \\[2, inf\\], got 1"):
        evaluate.loss_curve(MLP(1), mixing.clean(), [0.5], samples_per_k=1)
    with pytest.raises(ValueError, match="they must match"):
        evaluate.one_active_loss(MLP(2), mixing.clean())


def test_the_naive_models_loss_per_active_feature_is_a_twelfth_at_every_k():
    """Naive answers each active feature as it would alone (no interference): its summed error on k
    active features is k times the one-active 1/12, so per active feature 1/12 at every k."""
    ks = [1, 2, 4]
    mean, se = evaluate.loss_per_active(baselines.naive(), mixing.clean(), ks, samples_per_k=2048)
    assert mean.shape == se.shape == (1, 3) and np.all(se > 0)
    assert np.all(np.abs(mean[0] - 1 / 12) < 4 * se[0])
