"""docs/design.md's recipe, run: a new target is one entry of cclib.task.TARGETS, a new
architecture is a module that follows the protocol of cclib.models. Both are added here, in the
test, and go through the spec, the engines and the evaluations without touching cclib."""
import numpy as np
import pytest
import torch
from torch import nn

from cclib import evaluate, experiments, mixing, reference, task, train
from cclib.spec import RunSpec
from cclib.sweep import RunJob

SQUARE = task.Target(torch.square, positively_homogeneous=False, mixing=False, formula="x^2")


@pytest.fixture
def square(monkeypatch):
    """y = x^2 as a target, for this test only (the recipe's one entry)."""
    monkeypatch.setitem(task.TARGETS, "square", SQUARE)
    return "square"


class Quadratic(nn.Module):
    """A toy architecture, K instances: out = (x A)^2 B, A (K, n, d), B (K, d, n)."""

    def __init__(self, n_instances: int, n_features: int, d: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.A = nn.Parameter(torch.randn(n_instances, n_features, d, generator=g) / n_features ** 0.5)
        self.B = nn.Parameter(torch.randn(n_instances, d, n_features, generator=g) / d ** 0.5)
        self.n_instances, self.n_features = n_instances, n_features

    def forward(self, x):
        return (x @ self.A).square() @ self.B


def test_a_new_target_goes_through_the_spec_the_engine_choice_and_the_evaluations(square, tmp_path):
    spec = RunSpec(seeds=[0, 1], model=dict(n_features=12, d_mlp=6), target=square,
                   inputs=dict(kind="bernoulli", p=0.2), optim=dict(steps=300))
    job = RunJob(spec)
    assert job.engine == "general" and job.procedure.target == "square"
    with pytest.raises(ValueError, match="target 'square'"):
        train.choose_engine("fast", job.model, torch.device("cpu"), job.procedure)
    run = experiments.trained(spec, folder=tmp_path)
    history = run.loss
    assert np.all(history[-30:].mean(0) < 0.8 * history[:30].mean(0))      # it learns x^2
    # the exact one-active form would be wrong for x^2 (not homogeneous): it is sampled, and agrees
    # with plain sampling of the same labels
    assert not evaluate.exact_one_active(run.model, square)
    with pytest.raises(ValueError, match="positively homogeneous model and target"):
        evaluate.one_active_errors(run.model, run.mixing, target=square)
    loss, se = evaluate.expected_loss(run.model, run.mixing, 0.2, 4096, target=square)
    mc, mc_se = reference.monte_carlo_loss(run.model, run.mixing, 0.2, n_samples=200_000, seed=3, target=square)
    assert np.all(np.abs(loss - mc) < 4 * np.hypot(se, mc_se))
    relu, _ = evaluate.expected_loss(run.model, run.mixing, 0.2, 4096)
    assert np.all(np.abs(relu - loss) > 4 * se)                              # another task, another number


def test_a_new_architecture_trains_on_a_new_target_through_the_protocol(square):
    model = Quadratic(2, 10, 10)
    clean = mixing.clean(10, 2)
    before = evaluate.expected_loss(model, clean, 0.3, 1024, target=square)[0]
    result = train.train(model, clean, inputs="bernoulli", p=0.3, steps=400, seeds=[0, 1], lr=1e-2, target=square)
    assert result.engine == "general"
    after, se = evaluate.expected_loss(model, clean, 0.3, 1024, target=square)
    assert np.all(after < 0.2 * before)                                      # (x A)^2 B can be x^2
    with pytest.raises(ValueError, match="engine='fast' cannot train this exactly"):
        train.train(Quadratic(1, 10, 10), mixing.clean(10), p=0.3, steps=2, engine="fast")


def test_an_unknown_target_is_refused_where_it_enters():
    with pytest.raises(ValueError, match="target: target must be one of 'relu', 'abs', got 'cube'"):
        RunSpec(seeds=[0], target="cube", inputs=dict(kind="one_active"))
    with pytest.raises(ValueError, match="target must be one of"):
        train.train(Quadratic(1, 10, 10), mixing.clean(10), p=0.3, steps=2, target="cube")
    with pytest.raises(ValueError, match="target must be one of"):
        task.labels(torch.zeros(1, 2, 3), None, "cube")
