import numpy as np
import pytest
import torch

from cclib import analysis, baselines, evaluate, mixing
from cclib.models import MLP


def test_semi_nmf_is_nonnegative_and_monotone():
    mix = mixing.random_mixing([0.02, 0.04], seeds=[0, 1])
    fit = baselines.semi_nmf(mix, max_iter=300)
    assert torch.all(fit.model.W_in >= 0)
    errors = fit.errors.numpy()
    assert np.all(np.diff(errors, axis=0) <= 1e-9)       # never increases
    assert np.all(errors[-1] < errors[0])


def test_label_orientation_beats_published_for_asymmetric_m():
    mix = mixing.random_mixing([0.02, 0.03], seeds=[0, 1])
    label = baselines.semi_nmf(mix, orientation="label", max_iter=500)
    published = baselines.semi_nmf(mix, orientation="published", max_iter=500)
    assert np.all(evaluate.one_active_loss(label.model, mix) < evaluate.one_active_loss(published.model, mix))


def test_orientations_agree_for_symmetric_m():
    mix = mixing.random_mixing(0.02, seeds=[0], symmetric=True)
    a = baselines.target_map(mix, "label")
    b = baselines.target_map(mix, "published")
    assert torch.allclose(a, b)


def test_naive_offset_at_zero_is_naive():
    assert torch.equal(baselines.naive_offset([0.0]).W_out, baselines.naive().W_out)


def test_svd_baseline_reconstructs_at_full_rank():
    mix = mixing.random_mixing(0.05, seeds=[0])
    model = baselines.svd_baseline(mix, d_mlp=100)
    t = analysis.linear_map(model)[0]             # column convention: I + M
    assert torch.allclose(t, torch.eye(100, dtype=torch.float64) + mix.matrix()[0].double(), atol=1e-4)


def test_linear_map_and_alignment_of_an_exact_model():
    mix = mixing.random_mixing(0.03, seeds=[0])
    model = baselines.svd_baseline(mix, d_mlp=100)
    al = analysis.alignment(model, mix)
    assert np.allclose(al.cos_svd, 1, atol=1e-4)
    assert np.all(np.diff(al.eigenvalues) <= 0) and np.all(np.diff(al.singular_values) <= 0)


def test_entry_fit_recovers_a_planted_line():
    mix = mixing.random_mixing(0.03, seeds=[0], zero_diagonal=False)
    w_in = torch.eye(100)[None]
    m = mix.matrix()[0]
    model = MLP.from_weights(w_in, (0.5 * torch.eye(100) + 2 * m.T)[None])
    fit = analysis.entry_fit(model, mix)
    assert fit.offdiag_slope == pytest.approx(2, rel=1e-4) and fit.offdiag_corr > 0.999
    assert fit.diag_intercept == pytest.approx(0.5, abs=1e-4)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="orientation must be one of 'label', 'published'"):
        baselines.semi_nmf(mixing.clean(), orientation="rows")
    with pytest.raises(ValueError, match="d_mlp must be an integer in \\[1, 100\\], got 101"):
        baselines.semi_nmf(mixing.clean(), d_mlp=101)


def test_projected_gradient_semi_nmf_is_nonnegative_and_near_the_multiplicative_fit():
    mix = mixing.random_mixing(0.02, seeds=[0])
    pg = baselines.semi_nmf_projected_gradient(mix, steps=1500)
    mu = baselines.semi_nmf(mix, max_iter=1500)
    assert torch.all(pg.model.W_in >= 0)
    assert pg.errors[-1, 0] < pg.errors[0, 0]
    assert abs(pg.errors[-1, 0].item() - mu.errors[-1, 0].item()) < 0.02


def test_naive_offset_optimum_is_the_minimum_of_the_closed_form():
    import numpy as np
    for p in (0.001, 0.01, 0.1, 1.0):
        best, loss = baselines.naive_offset_optimum(p)
        grid = np.linspace(0.5 * best, 1.5 * best, 2001)
        assert abs(grid[np.argmin(baselines.naive_offset_loss(grid, p))] - best) <= 1e-3 * best
        assert loss < baselines.naive_loss() and loss == baselines.naive_offset_loss(best, p)
    assert 3e-4 < baselines.naive_offset_optimum(0.001)[0] < 4e-4   # below Fig. 10's grid (0.002)
