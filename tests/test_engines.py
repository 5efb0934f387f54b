"""One procedure, two engines: the general (autograd) engine defines it, the fast engine is a
checked optimisation of it, and a model the fast engine cannot compute exactly never reaches it."""
import json
import re

import numpy as np
import pytest
import torch
from torch import nn

from cclib import evaluate, experiments, mixing, reference, sweep
from cclib.data import OneActiveStream
from cclib.models import MLP
from cclib.spec import RunSpec
from cclib.train import train

K = 8
SEEDS = list(range(K))


def _pair(inputs, p, steps, engine):
    model = MLP(K, seeds=SEEDS)
    mix = mixing.random_mixing([0.02] * K, seeds=SEEDS)
    result = train(model, mix, inputs=inputs, p=p, steps=steps, seeds=SEEDS, engine=engine, workers=1)
    return model, result


@pytest.mark.parametrize("inputs, p", [("bernoulli", 0.01), ("one_active", None)])
def test_fast_and_general_engines_train_the_same_model(inputs, p):
    """Same spec and seeds, 500 steps, 8 instances: the same batches, so the same losses and
    weights up to float rounding. Measured: losses within 2e-6 relative; weights within 6e-4 of
    the largest weight (AdamW divides by sqrt(v), which magnifies rounding where gradients are
    near zero; after one step the weights agree to 1e-6)."""
    fast_model, fast = _pair(inputs, p, 500, "fast")
    general_model, general = _pair(inputs, p, 500, "general")
    assert fast.engine == "fast" and general.engine == "general"
    assert np.allclose(general.loss.numpy(), fast.loss.numpy(), rtol=2e-5, atol=0)
    for a, b in zip(fast_model.parameters(), general_model.parameters()):
        assert (a - b).abs().max() <= 2e-3 * a.abs().max()
    one_fast, _ = _pair(inputs, p, 1, "fast")
    one_general, _ = _pair(inputs, p, 1, "general")
    for a, b in zip(one_fast.parameters(), one_general.parameters()):
        assert (a - b).abs().max() <= 1e-5 * a.abs().max()


def test_one_active_samples_are_the_buckets_the_fast_engine_uses():
    draws = OneActiveStream(64, 10, seed=3).next_draws(2)
    x = OneActiveStream.samples(draws, 10)                                    # (2, 64, 10)
    buckets = OneActiveStream(64, 10, seed=3).next_chunk(2)                    # (2, 20)
    assert ((x != 0).sum(-1) == 1).all()
    pos, neg = x.clamp(min=0).square().sum(1), x.clamp(max=0).square().sum(1)
    assert torch.allclose(torch.cat([pos, neg], 1), buckets)


class GeluMLP(MLP):
    """The new user's experiment: a subclass that changes the activation in forward."""

    def forward(self, x):
        return nn.functional.gelu(x @ self.W_in) @ self.W_out


def test_a_subclass_that_overrides_forward_trains_as_itself():
    mix = mixing.random_mixing([0.02] * 2, seeds=[0, 1])
    relu, gelu = MLP(2, seeds=[0, 1]), GeluMLP(2, seeds=[0, 1])
    assert torch.equal(relu.W_in, gelu.W_in)
    a = train(relu, mix, p=0.05, steps=50, seeds=[0, 1])
    b = train(gelu, mix, p=0.05, steps=50, seeds=[0, 1])
    assert (a.engine, b.engine) == ("fast", "general")
    assert not torch.equal(relu.W_in, gelu.W_in)
    with pytest.raises(ValueError, match="engine='fast' cannot train this exactly: GeluMLP"):
        train(GeluMLP(2), mix, p=0.05, steps=5, seeds=[0, 1], engine="fast")
    # evaluated through its own forward: the loss differs from the ReLU twin with the same weights
    twin = MLP.from_weights(gelu.W_in, gelu.W_out)
    assert abs(evaluate.one_active_loss(gelu, mix)[0] - evaluate.one_active_loss(twin, mix)[0]) > 1e-3
    with pytest.raises(ValueError, match="positively homogeneous"):
        evaluate.one_active_errors(gelu, mix)


class Tiny(nn.Module):
    """A module of one's own: a gated linear map, K instances."""

    def __init__(self, k, n=20, d=10):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.n_instances, self.n_features = k, n
        self.A = nn.Parameter(torch.randn(k, n, d, generator=g) * 0.3)
        self.B = nn.Parameter(torch.randn(k, d, n, generator=g) * 0.3)
        self.c = nn.Parameter(torch.zeros(k, n))

    def forward(self, x):
        h = x @ self.A
        return (h * torch.sigmoid(h)) @ self.B + self.c[:, None]


def test_a_custom_module_trains_and_evaluates():
    model = Tiny(2)
    mix = mixing.clean(20, 2)
    result = train(model, mix, p=0.1, steps=200, seeds=[0, 1], batch_size=256)
    assert result.engine == "general"
    assert np.nanmean(result.loss[-20:].numpy()) < np.nanmean(result.loss[:20].numpy())
    curve = evaluate.loss_curve(model, mix, [0.05, 0.5], 256)
    mc, se = reference.monte_carlo_loss(model, mix, 0.5, n_samples=40_000, seed=1)
    assert np.all(np.abs(curve.loss[:, 1] - mc) < 4 * np.hypot(se, curve.se[:, 1]))
    # its bias enters the all-zero input's error: e_0 > 0 and the curve counts it
    assert np.all(evaluate.zero_input_error(model, mix) > 0)


def test_biases_and_importance_go_to_the_general_engine_and_change_the_model():
    spec = dict(seeds=[0], mixing=dict(kind="asymmetric", sigma=0.02), inputs=dict(kind="bernoulli", p=0.05),
                optim=dict(steps=30, batch_size=256))
    plain = experiments.build_model(RunSpec(**spec))
    biased = RunSpec(**spec, model=dict(bias=True))
    weighted = RunSpec(**spec, importance=[1.0] * 50 + [0.0] * 50)
    assert experiments.compute_context(RunSpec(**spec))["engine"] == "fast"
    assert experiments.compute_context(biased)["engine"] == "general"
    assert experiments.compute_context(weighted)["engine"] == "general"
    mix = experiments.build_mixing(RunSpec(**spec))
    model = experiments.build_model(weighted)
    train(model, mix, p=0.05, steps=30, batch_size=256, seeds=[0], importance=weighted.importance)
    # features with zero importance get no gradient from the loss: their output columns only decay
    decayed = plain.W_out[:, :, 50:].detach() * np.prod([1 - 3e-3 * 1e-2 * 0.5 * (1 + np.cos(np.pi * t / 30))
                                                        for t in range(30)])
    assert torch.allclose(model.W_out[:, :, 50:], decayed, atol=1e-6)
    assert not torch.allclose(model.W_out[:, :, :50], plain.W_out[:, :, :50])


def test_bad_calls_name_their_parameter():
    model, mix = MLP(1), mixing.random_mixing(0.02)
    with pytest.raises(TypeError, match="steps must be an integer, got 100.0"):
        train(model, mix, p=0.01, steps=100.0)
    with pytest.raises(ValueError, match="engine must be one of 'auto', 'fast', 'general'"):
        train(model, mix, p=0.01, steps=1, engine="gpu")
    if not torch.cuda.is_available():  # where a GPU is there, there is nothing to refuse
        with pytest.raises(ValueError, match="device 'cuda' is not available"):
            train(model, mix, p=0.01, steps=1, device="cuda")
    with pytest.raises(ValueError, match="device must be a torch device"):
        train(model, mix, p=0.01, steps=1, device="tpu-9")
    with pytest.raises(ValueError, match="importance must be None or 100 finite non-negative"):
        train(model, mix, p=0.01, steps=1, importance=[1.0] * 99)
    with pytest.raises(ValueError, match="importance must have at least one positive weight"):
        train(model, mix, p=0.01, steps=1, importance=[0.0] * 100)
    with pytest.raises(ValueError, match="sigma must be a finite number in \\[0.0, 10.0\\], got -0.02"):
        mixing.random_mixing(-0.02)
    with pytest.raises(TypeError, match="sigma must be a number"):
        mixing.random_mixing("0.02")
    with pytest.raises(TypeError, match="sigma must be a number"):
        mixing.random_mixing(None)
    with pytest.raises(TypeError, match="p must be a number in \\(0, 1\\], got '0.01'"):
        evaluate.expected_loss(model, mix, "0.01")
    with pytest.raises(ValueError, match="x must have shape \\(n_instances=1, batch, n_features=100\\)"):
        model(torch.zeros(1, 4, 99))
    with pytest.raises(TypeError, match="model must have the attributes n_instances and n_features"):
        train(nn.Linear(3, 3), mix, p=0.01, steps=1)


def test_a_spec_refuses_what_does_not_apply_and_keys_one_model_once():
    base = dict(seeds=[0, 1], inputs=dict(kind="bernoulli", p=0.01))
    for bad, field in [(dict(mixing=dict(kind="clean", sigma=0.02)), "mixing.sigma: unknown field 'sigma'; the fields of CleanMixing are kind"),
                       (dict(inputs=dict(kind="onehot")), "inputs"),
                       (dict(inputs=dict(kind="bernoulli", p=-1)), "inputs.p: Input should be greater than 0 (got -1)"),
                       (dict(optim=dict(steps=100.0)), "optim.steps"),
                       (dict(model=dict(activation="tanh")), "model.activation: Input should be 'relu' or 'gelu'"),
                       (dict(model=dict(out_init_scale=0.0)), "model.out_init_scale: Input should be greater than 0"),
                       (dict(mixing=dict(kind="asymmetric", sigma="0.02")), "mixing.sigma: Input should be a valid number (got '0.02')"),
                       (dict(model=dict(kind="residual"), mixing=dict(kind="clean")), "mixing must be left out"),
                       (dict(importance=[1.0] * 3), "importance must be None or 100 finite non-negative numbers (one per feature), got 3"),
                       (dict(seeds=[0, 1, 2], mixing=dict(kind="asymmetric", sigma=[0.1, 0.2])), "mixing.sigma"),
                       # degenerate: a negative standard deviation, a loss of exactly 0, two equal models
                       (dict(mixing=dict(kind="asymmetric", sigma=-0.02)), "mixing.sigma: Input should be greater than or equal to 0"),
                       (dict(importance=[0.0] * 100), "importance must have at least one positive weight"),
                       (dict(seeds=[3, 3]), "seeds: instances 0 and 1 are the same model (seed 3")]:
        with pytest.raises(ValueError, match=re.escape(field)):
            RunSpec(**{**base, **bad})
    with pytest.raises(ValueError, match="frozen"):
        RunSpec(**base).seeds = (3,)
    a = RunSpec(seeds=[0, 1], mixing=dict(kind="asymmetric", sigma=0.02), **{k: v for k, v in base.items() if k != "seeds"})
    b = RunSpec(seeds=np.array([0, 1]), mixing=dict(kind="asymmetric", sigma=[0.02, 0.02]),
                inputs=dict(kind="bernoulli", p=[0.01, 0.01]), optim=dict(steps=15_773))
    assert a == b and a.canonical() == b.canonical() and a.steps == [15_773, 15_773]
    # a seed may repeat across a grid: those instances differ in their setting
    RunSpec(seeds=[0, 0], mixing=dict(kind="asymmetric", sigma=[0.0, 0.02]), inputs=dict(kind="one_active"))


def test_device_runs_on_a_gpu_where_there_is_one():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    model, mix = MLP(2, seeds=[0, 1]), mixing.random_mixing([0.02] * 2, seeds=[0, 1])
    cpu_model = MLP(2, seeds=[0, 1])
    train(model, mix, p=0.05, steps=100, seeds=[0, 1], engine="general", device="cuda")
    train(cpu_model, mix, p=0.05, steps=100, seeds=[0, 1], engine="general")
    assert model.W_in.device.type == "cpu"
    assert torch.allclose(model.W_in, cpu_model.W_in, atol=1e-3)
    curve = evaluate.loss_curve(GeluMLP.from_weights(model.W_in, model.W_out), mix, [0.01], 512, device="cuda")
    assert np.isfinite(curve.loss).all()


def test_the_registry_names_each_paper_run_once_with_its_cost():
    from cclib import paper_runs
    runs = paper_runs.registry()
    keys = {json.dumps(spec.canonical(), sort_keys=True) for spec in runs.values()}
    assert len(keys) == len(runs) >= 20
    assert runs["sparsity_p0.001"].steps == [105_033] * 3 and runs["directions"].steps == [20_000] * 3
    assert all(sweep.expected_seconds(spec) > 0 for spec in runs.values())
    with pytest.raises(ValueError, match="engine must be one of 'fast', 'general'"):
        sweep.expected_seconds(runs["directions"], "gpu")
    quick = paper_runs.registry(quick=True)
    # every quick run takes QUICK_STEPS, except Fig. 6's pair: 500 steps each side of the switch
    assert {name for name, spec in quick.items() if max(spec.steps) != paper_runs.QUICK_STEPS} == \
        {"transplant_noisy", "transplant_clean"}
    assert quick["transplant_noisy"].steps == quick["transplant_clean"].steps == [500]
    # a run several figures use is one entry, listed for each of them
    assert "mixing_embed" not in runs and "equivalence_mlp_minus" in paper_runs.registry(figures=["fig05"])
    assert "equivalence_residual" in paper_runs.registry(figures=["fig12"])
    # Fig. 10's clean runs are four of Fig. 15's (three seeds each), trained once
    assert set(paper_runs.registry(figures=["fig10"])) < set(paper_runs.registry(figures=["fig15"]))
    # seed-major grids: instance i * len(grid) + j is seed i at grid point j
    sigma_sweep = runs["sweep_asymmetric_one_active"]
    grid = paper_runs.sweep_sigmas(extended=True)
    assert sigma_sweep.seeds[len(grid)] == 1 and sigma_sweep.mixing.sigma[len(grid) + 3] == grid[3]


def test_the_residual_model_trains_the_same_in_both_engines_on_its_own_labels():
    """Its output is trained against x + ReLU(x); the fast engine trains its folded MLP on the
    mixing -(W_E W_E^T - I). Measured after 200 steps: weights within 2e-6 of the largest."""
    from cclib.mixing import embedding_matrix
    from cclib.models import ResidualMLP
    w_e = embedding_matrix(100, 200, [0, 1])
    models = []
    for engine in ("fast", "general"):
        model = ResidualMLP(w_e, 50, [0, 1])
        train(model, model.mixing(), p=0.01, steps=200, seeds=[0, 1], engine=engine)
        models.append(model)
    for a, b in zip(*(m.parameters() for m in models)):
        assert (a - b).abs().max() <= 1e-4 * a.abs().max()
    foreign = mixing.random_mixing([0.02] * 2, seeds=[0, 1])
    with pytest.raises(ValueError, match="mixing must be the one ResidualMLP's own labels imply"):
        train(models[0], foreign, p=0.01, steps=1, seeds=[0, 1])
    with pytest.raises(ValueError, match="mixing must be the one ResidualMLP's own labels imply"):
        evaluate.one_active_loss(models[0], foreign)   # the closed form would score another task
    # the full residual computation scores the same as its folded MLP on the mixing
    exact = evaluate.loss_curve(models[0], models[0].mixing(), [0.01, 0.3], 512)
    mc, se = reference.monte_carlo_loss(models[0], models[0].mixing(), 0.3, n_samples=100_000, seed=2)
    assert np.all(np.abs(exact.loss[:, 1] - mc) < 4 * np.hypot(se, exact.se[:, 1]))
