"""Beyond the paper (Figs. 17-19): the deeper, skip and output-ReLU models and the |x| task, as
specs, as models, on the engines and under the exact one-active evaluation."""
import numpy as np
import pytest
import torch

from cclib import build, constructions, evaluate, mixing, models, task, train
from cclib.spec import RunSpec
from cclib.sweep import RunJob


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
                                         (dict(target="abs"), models.MLP), ({}, models.MLP)])
def test_the_spec_builds_its_model_and_only_the_papers_goes_to_the_fast_engine(fields, cls):
    key = RunJob(_spec(**fields), None, None)
    assert type(key.model) is cls                       # an architecture, whatever the target
    papers = cls is models.MLP and "target" not in fields
    assert key.engine == ("fast" if papers else "general")
    if not papers:
        with pytest.raises(ValueError, match="engine='fast' cannot train this exactly"):
            train.choose_engine("fast", key.model, torch.device("cpu"), key.procedure)


def test_the_abs_target_is_trained_and_scored_on_abs_x():
    x = torch.rand(1, 5, 10) * 2 - 1
    assert torch.equal(task.labels(x, None, "abs"), x.abs())
    zero = models.DeepMLP(1, 10, 4, seeds=[0], bias=True, out_activation="relu")
    with torch.no_grad():
        for param in zero.parameters():
            param.zero_()
    mix = mixing.clean(10)
    loss, _ = evaluate.expected_loss(zero, mix, 0.2, samples_per_k=512, target="abs")
    assert loss[0] == pytest.approx(1 / 3, rel=0.05)                 # E|x|^2 / p = 1/3
    relu, _ = evaluate.expected_loss(zero, mix, 0.2, samples_per_k=512)
    assert relu[0] == pytest.approx(1 / 6, rel=0.05)                 # E ReLU(x)^2 / p = 1/6: another task
    with pytest.raises(ValueError, match="target 'abs' takes the clean mixing only"):
        evaluate.expected_loss(zero, mixing.random_mixing(0.1, n_features=10), 0.2, target="abs")
    with pytest.raises(ValueError, match="target must be one of 'relu', 'abs', got 'square'"):
        evaluate.one_active_loss(zero, mix, target="square")


def test_a_short_deep_run_trains_and_lowers_its_loss():
    result = train.train(models.DeepMLP(2, 20, 5, seeds=[0, 1], hidden_layers=2, skip=True),
                         mixing.random_mixing([0.0, 0.0], n_features=20, seeds=[0, 1]),
                         inputs="one_active", steps=300, seeds=[0, 1])
    assert np.all(result.loss[-20:].mean(0).numpy() < 0.7 * result.loss[:20].mean(0).numpy())


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


def test_the_starts_of_fig19_are_spec_fields_that_build_the_model_they_name():
    base = dict(bias=True, out_activation="relu")
    plain = build.build_model(_spec(model=base, target="abs"))
    scaled = build.build_model(_spec(model=dict(base, init_scale=0.1, out_bias_init=0.2), target="abs"))
    for a, b in zip(plain.parameters(), scaled.parameters()):
        assert a.shape == b.shape
    assert torch.equal(scaled.hidden[0], plain.hidden[0] * 0.1) and torch.equal(scaled.W_out, plain.W_out * 0.1)
    assert torch.all(scaled.b_out == 0.2) and torch.all(scaled.hidden_bias[0] == 0)
    built = build.build_model(_spec(model=dict(base, start="split_steiner_codes"), target="abs"))
    net = constructions.code_network(*constructions.split_codes(100, 50), 50)
    assert all(torch.equal(mine, theirs.expand_as(mine)) for mine, theirs in zip(built.parameters(), net.parameters()))
    # the defaults leave a spec's canonical form (its key) as it was
    assert "init_scale" not in _spec(model=base).canonical()["model"]
    with pytest.raises(ValueError, match="needs bias=True"):
        _spec(model=dict(out_bias_init=0.1))
    with pytest.raises(ValueError, match="model.start 'split_steiner_codes' is a network"):
        _spec(model=dict(start="split_steiner_codes"))
    with pytest.raises(ValueError, match="d_mlp must be at least 50"):
        _spec(model=dict(base, d_mlp=40, start="split_steiner_codes"))
