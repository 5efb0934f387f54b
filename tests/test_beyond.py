"""Beyond the paper (Figs. 17 and 18): the deeper, skip and output-ReLU models, the |x| task, the
floors they meet and the baselines of the absolute-value model."""
import numpy as np
import pytest
import torch
from scipy.optimize import isotonic_regression

from cclib import baselines, bounds, evaluate, mixing, models, runs, train
from cclib.experiments import RunKey
from cclib.spec import RunSpec


def _spec(**fields):
    return RunSpec(seeds=[0, 1], inputs=dict(kind="one_active"), optim=dict(steps=20), **fields)


def test_the_deep_model_computes_its_formula():
    model = models.DeepMLP(2, 12, 5, seeds=[3, 4], hidden_layers=2, skip=True, out_activation="relu", bias=True)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.5)
    x = torch.rand(2, 7, 12) * 2 - 1
    w1, w2 = model.hidden
    b1, b2 = model.hidden_bias
    h = torch.relu(torch.relu(x @ w1 + b1[:, None]) @ w2 + b2[:, None])
    expected = torch.relu(h @ model.W_out + model.b_out[:, None] + x @ model.S)
    assert torch.allclose(model(x), expected, atol=1e-6)


def test_one_hidden_layer_starts_where_the_papers_model_starts():
    deep, plain = models.DeepMLP(3, 20, 6, seeds=[0, 1, 2]), models.MLP(3, 20, 6, seeds=[0, 1, 2])
    assert torch.equal(deep.hidden[0], plain.W_in) and torch.equal(deep.W_out, plain.W_out)


def test_the_new_fields_leave_the_papers_spec_forms_alone():
    form = _spec().canonical()
    assert "target" not in form and not {"hidden_layers", "skip", "out_activation"} & set(form["model"])
    deep = _spec(model=dict(hidden_layers=2, skip=True)).canonical()
    assert deep["model"]["hidden_layers"] == 2 and deep["model"]["skip"] is True
    assert RunSpec(seeds=[0], inputs=dict(kind="bernoulli", p=0.1), target="abs").canonical()["target"] == "abs"


@pytest.mark.parametrize("fields, words", [
    (dict(target="abs", mixing=dict(kind="asymmetric", sigma=0.02)), "target 'abs' needs the clean mixing"),
    (dict(target="abs", model=dict(kind="residual")), "target 'abs' needs the clean mixing"),
    (dict(target="sine"), "target"),
    (dict(model=dict(hidden_layers=5)), "hidden_layers"),
    (dict(model=dict(skip=True, out_init_scale=0.5)), "out_init_scale must be 1.0"),
    (dict(model=dict(out_activation="gelu")), "out_activation"),
])
def test_a_wrong_new_field_is_refused_with_its_name(fields, words):
    with pytest.raises(ValueError, match=words):
        _spec(**fields)


@pytest.mark.parametrize("fields, cls", [(dict(model=dict(hidden_layers=2)), models.DeepMLP),
                                         (dict(model=dict(skip=True)), models.DeepMLP),
                                         (dict(target="abs"), models.AbsMLP), ({}, models.MLP)])
def test_the_spec_builds_its_model_and_only_the_papers_goes_to_the_fast_engine(fields, cls):
    key = RunKey(_spec(**fields), None, None)
    assert type(key.model) is cls
    assert key.engine == ("fast" if cls is models.MLP else "general")
    if cls is not models.MLP:
        with pytest.raises(ValueError, match="engine='fast' cannot train this exactly"):
            train.choose_engine("fast", key.model, torch.device("cpu"), key.procedure)


def test_the_abs_model_is_trained_and_scored_on_abs_x():
    model = models.AbsMLP(1, 10, 4, seeds=[0], bias=True, out_activation="relu")
    x = torch.rand(1, 5, 10) * 2 - 1
    assert torch.equal(model.labels(x), x.abs())
    zero = models.AbsMLP(1, 10, 4, seeds=[0])
    with torch.no_grad():
        for param in zero.parameters():
            param.zero_()
    mix = zero.mixing()
    loss, _ = evaluate.expected_loss(zero, mix, 0.2, samples_per_k=512)
    assert loss[0] == pytest.approx(1 / 3, rel=0.05)                 # E|x|^2 / p = 1/3


def test_a_short_deep_run_trains_and_lowers_its_loss():
    result = train.train(models.DeepMLP(2, 20, 5, seeds=[0, 1], hidden_layers=2, skip=True),
                         mixing.random_mixing([0.0, 0.0], n_features=20, seeds=[0, 1]),
                         inputs="one_active", steps=300, seeds=[0, 1])
    assert np.all(result.loss[-20:].mean(0).numpy() < 0.7 * result.loss[:20].mean(0).numpy())


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
    model = models.MLP.from_weights(torch.randn(4, n, d, generator=g) * 0.3, torch.randn(4, d, n, generator=g) * 0.3)
    for mix in (clean, noisy):
        loss, se = evaluate.expected_loss(model, mixing.Mixing(mix.pattern.expand(4, -1, -1), mix.sigma.expand(4)),
                                          p, samples_per_k=2048)
        assert np.all(loss + 3 * se > bounds.bernoulli_floor(mix, d, p)[0])
    assert np.all(bounds.bernoulli_floor(noisy, d, p, output_bias=True) <= bounds.bernoulli_floor(noisy, d, p))


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
    assert np.allclose(runs.build_mixing(RunSpec(seeds=[0], inputs=dict(kind="one_active"),
                                                 model=dict(n_features=30, d_mlp=10))).matrix(), 0)


@pytest.mark.parametrize("kind", ["mse", "l4"])
def test_a_deep_homogeneous_models_one_active_loss_is_exact_and_agrees_with_sampling(kind):
    model = models.DeepMLP(2, 16, 6, seeds=[0, 1], hidden_layers=2, skip=True, out_activation="relu")
    with torch.no_grad():
        model.S.normal_(0, 0.3)
    mix = mixing.clean(16, 2)
    assert models.positively_homogeneous(model)
    assert not models.positively_homogeneous(models.DeepMLP(1, 16, 6, bias=True))
    exact = evaluate.one_active_loss(model, mix, kind=kind)
    x = torch.zeros(2, 1 << 17, 16)
    g = torch.Generator().manual_seed(0)
    x[:, torch.arange(1 << 17), torch.randint(0, 16, (1 << 17,), generator=g)] = torch.rand(1 << 17, generator=g) * 2 - 1
    with torch.no_grad():
        per_sample = ((model(x) - torch.relu(x)) ** (2 if kind == "mse" else 4)).sum(2).double()
    se = per_sample.std(1) / np.sqrt(x.shape[1])
    assert torch.all((per_sample.mean(1) - torch.as_tensor(exact)).abs() < 4 * se)


def test_the_built_naive_with_a_skip_sits_on_the_skip_floor():
    model = baselines.naive_skip(20, 8)
    clean = mixing.clean(20)
    assert evaluate.one_active_loss(model, clean)[0] == pytest.approx(bounds.skip_floor(clean, 8)[0], rel=1e-6)
    assert bounds.skip_floor(clean, 8)[0] == pytest.approx(bounds.rank_floor(clean, 8)[0] / 2)


@pytest.mark.parametrize("p", [0.0, 1.5, float("nan"), "0.5", True])
def test_the_bernoulli_floor_refuses_a_p_outside_0_1_naming_it(p):
    with pytest.raises((TypeError, ValueError), match="p must be"):
        bounds.bernoulli_floor(mixing.clean(10), 5, p)
