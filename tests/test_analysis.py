"""The analysis functions compute what the model computes, or refuse it with the reason."""
import numpy as np
import pytest
import torch
from torch import nn

from cclib import analysis, bounds, evaluate, mixing
from cclib.models import MLP


class Custom(nn.Module):
    """A module that follows the protocol but is not cclib's MLP."""

    def __init__(self):
        super().__init__()
        self.n_instances, self.n_features = 1, 100
        g = torch.Generator().manual_seed(0)
        self.W = nn.Parameter(torch.randn(1, 100, 100, generator=g) * 0.1)

    def forward(self, x):
        return torch.tanh(x @ self.W)


def _direct(model, values):
    """Output i at input v e_i, by calling the model once per (i, v)."""
    out = torch.zeros(model.n_instances, model.n_features, len(values), dtype=torch.float64)
    with torch.no_grad():
        for j, v in enumerate(values):
            for i in range(model.n_features):
                x = torch.zeros(model.n_instances, 1, model.n_features)
                x[:, 0, i] = v
                out[:, i, j] = model(x)[:, 0, i].double()
    return out


@pytest.mark.parametrize("model", [MLP(2, 100, 50, seeds=[0, 1]), MLP(1, 100, 50, activation="gelu"),
                                   MLP(1, 100, 50, bias=True), Custom()], ids=["relu", "gelu", "bias", "custom"])
def test_responses_are_what_the_model_outputs(model):
    if getattr(model, "bias", False):
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name.startswith("b_"):
                    param.uniform_(-0.3, 0.3)  # biases that matter
    values = [-1.0, -0.25, 0.5, 1.0]
    assert torch.allclose(analysis.responses(model, values), _direct(model, values), atol=1e-5)


@pytest.mark.parametrize("model", [MLP(1, 100, 50, activation="gelu"), MLP(1, 100, 50, bias=True), Custom()],
                         ids=["gelu", "bias", "custom"])
def test_the_weight_readers_refuse_what_they_would_read_wrongly(model):
    mix = mixing.random_mixing(0.02)
    for call, name in [(lambda: analysis.linear_map(model), "linear_map"),
                       (lambda: analysis.feature_contributions(model), "feature_contributions"),
                       (lambda: analysis.entry_fit(model, mix), "linear_map"),
                       (lambda: analysis.alignment(model, mix), "linear_map"),
                       (lambda: analysis.regime_measures(model), "regime_measures")]:
        with pytest.raises(ValueError, match=f"{name} reads the weights of a bias-free ReLU MLP"):
            call()


def test_the_floors_take_the_width_they_bound():
    mix = mixing.clean(100)
    with pytest.raises(TypeError, match="d_mlp"):
        bounds.rank_floor(mix)
    with pytest.raises(TypeError, match="d_mlp"):
        bounds.naive_loss_on(mix)
    # the width is the model's: n = 200, d = 100 gives (n - d) / (6n), not the d = 50 floor
    wide = mixing.clean(200)
    assert bounds.rank_floor(wide, 100)[0] == pytest.approx(100 / 1200)


def test_the_exact_one_active_path_refuses_a_bad_device_too():
    model, mix = MLP(1), mixing.random_mixing(0.02)
    with pytest.raises(ValueError, match="device must be a torch device"):
        evaluate.one_active_loss(model, mix, device="banana")
    assert np.isfinite(evaluate.one_active_loss(model, mix, device="cpu")).all()


def test_first_crossing_interpolates_in_log_x_and_reports_no_crossing_as_infinite():
    from cclib import analysis
    x = np.array([0.001, 0.01, 0.1])
    # y - bound: -1 at 0.001, +1 at 0.01: halfway in log x
    assert analysis.first_crossing(x, [0.0, 2.0, 3.0], 1.0) == pytest.approx(np.sqrt(0.001 * 0.01))
    assert analysis.first_crossing(x, [2.0, 0.0, 3.0], 1.0) == -np.inf
    assert analysis.first_crossing(x, [0.0, 0.0, 0.0], 1.0) == np.inf
    with pytest.raises(ValueError, match="x must be an increasing"):
        analysis.first_crossing([0.01, 0.001], [0, 1], 0.5)


def test_effective_rank_is_the_exponential_of_the_singular_values_entropy():
    assert analysis.effective_rank(np.eye(7)) == pytest.approx(7, rel=1e-12)
    assert analysis.effective_rank(np.outer(np.arange(1, 6), np.ones(5))) == pytest.approx(1, rel=1e-9)
    q = np.array([0.5, 0.25, 0.25])                       # singular values 2, 1, 1 of a rotated diagonal
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    assert analysis.effective_rank(rotation @ np.diag([2.0, 1.0, 1.0]) @ rotation.T) == \
        pytest.approx(np.exp(-(q * np.log(q)).sum()), rel=1e-12)


def test_top_mass_is_the_share_of_absolute_mass_in_the_largest_entries():
    spike = np.full(10, -1 / 9)
    spike[3] = 9.0                                         # the largest 10%: one entry of mass 9 of 10
    assert analysis.top_mass(spike) == pytest.approx(0.9, rel=1e-12)
    sparse = np.zeros((10, 10))
    sparse[0, :10] = np.arange(1, 11)
    assert analysis.top_mass(sparse) == pytest.approx(1.0, rel=1e-12)   # 10% of the entries hold it all
    gaussian = np.random.default_rng(1).normal(size=(1000, 1000))
    assert analysis.top_mass(gaussian) == pytest.approx(0.259, abs=0.002)  # the docstring's dense value


def test_k_star_is_the_end_of_the_leading_run_below_the_bound_by_the_margin():
    ks, noise = [1, 2, 3, 4], [0.01] * 4
    assert analysis.k_star(ks, [0.00, 0.05, 0.30, 0.01], noise, 0.1) == 2      # not revived at k = 4
    assert analysis.k_star(ks, [0.09, 0.00, 0.00, 0.00], noise, 0.1) == 0      # within 2 noise at k = 1
    assert analysis.k_star(ks, [0.0] * 4, noise, 0.1) == 4
    assert analysis.k_star(ks, [0.09, 0.00, 0.00, 0.00], noise, 0.1, margin=0.5) == 4
    with pytest.raises(ValueError, match="ks must be increasing"):
        analysis.k_star([2, 1], [0, 0], [0, 0], 1)
