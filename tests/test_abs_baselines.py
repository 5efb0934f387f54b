"""The baselines of the |x| task (Figs. 18, 19): the monotone bound (a), the bound (b) on more
non-monotone outputs than neurons, and the linear channel."""
import numpy as np
import pytest
import torch
from scipy.optimize import isotonic_regression

from cclib import baselines, build
from cclib.spec import RunSpec


@pytest.mark.parametrize("p", [0.003, 0.05, 0.5, 1.0])
def test_the_monotone_bound_is_the_isotonic_regression(p):
    """The least error of a non-decreasing response, found by isotonic regression on a fine grid
    of v with the point mass 1 - p at v = 0."""
    v = (np.arange(200_000) + 0.5) / 100_000 - 1
    x = np.concatenate([v[v < 0], [0.0], v[v > 0]])
    w = np.concatenate([np.full((v < 0).sum(), p / v.size), [max(1 - p, 1e-300)],
                        np.full((v > 0).sum(), p / v.size)])
    y = np.abs(x)
    fit = isotonic_regression(y, weights=w).x
    assert baselines.monotone_abs_loss([p])[0] == pytest.approx(np.sum(w * (y - fit) ** 2) / p, rel=1e-4)


def test_the_abs_naive_bound_is_the_monotone_bound_on_the_ignored_features():
    assert baselines.abs_nonmonotone_bound([0.01], 100, 50)[0] == pytest.approx(baselines.monotone_abs_loss([0.01])[0] / 2)
    with pytest.raises(ValueError, match="p must"):
        baselines.monotone_abs_loss([0.0])


def test_the_linear_channel_is_relu_of_a_linear_map_on_the_whole_cube():
    model = baselines.linear_channel(30, 10, out_bias=-0.2, seed=1)
    e = model.hidden[0][0].double()
    x = torch.randint(0, 2, (1, 256, 30)).double() * 2 - 1           # corners of the cube
    expected = torch.relu(x[0] @ e @ e.T - 0.2)
    assert torch.allclose(model(x.float())[0].double(), expected, atol=1e-4)
    assert np.allclose(build.build_mixing(RunSpec(seeds=[0], inputs=dict(kind="one_active"),
                                                 model=dict(n_features=30, d_mlp=10))).matrix(), 0)
