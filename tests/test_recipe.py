"""docs/design.md's recipe, run: a new target is one entry of cclib.task.TARGETS, a new
architecture is a module that follows the protocol of cclib.models, and made a kind of the spec by
cclib.build.add_architecture. Both are added here, in the test, and go through the spec, the
engines, the train-or-load layer and the evaluations without touching cclib."""
from typing import Literal

import numpy as np
import pytest
import torch
from torch import nn

from cclib import build, evaluate, experiments, mixing, reference, sweep, task, train
from cclib.spec import ArchitectureFields, RunSpec, SpecError
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


class QuadraticFields(ArchitectureFields):
    """The toy architecture as a kind of the spec's model."""

    kind: Literal["quadratic"]
    n_features: int = 10
    d: int = 10


def _quadratic(arch: QuadraticFields, seeds: list[int]) -> Quadratic:
    return Quadratic(len(seeds), arch.n_features, arch.d, seed=seeds[0])


@pytest.fixture
def quadratic():
    """The toy architecture added to the spec's kinds for this test only."""
    kind = build.add_architecture(QuadraticFields, _quadratic)
    yield kind
    build.remove_architecture(kind)


def test_a_new_architecture_trains_caches_and_loads_through_experiments_trained(quadratic, square, tmp_path):
    spec = RunSpec(seeds=[0, 1], model=dict(kind=quadratic, n_features=10, d=10), target=square,
                   inputs=dict(kind="bernoulli", p=0.3), optim=dict(steps=400, lr=1e-2))
    assert spec.canonical()["model"] == dict(kind="quadratic", n_features=10, d=10)
    job = RunJob(spec)
    assert job.engine == "general" and isinstance(job.model, Quadratic)
    # its key holds this module's code (where the architecture is), besides cclib's
    assert job.code != sweep.run_code("general") and build.outside_code(spec.model, job.model)
    run = experiments.trained(spec, folder=tmp_path)
    assert len(list(tmp_path.glob("trained-*.npz"))) == 1 and isinstance(run.model, Quadratic)
    assert np.all(run.loss[-30:].mean(0) < 0.2 * run.loss[:30].mean(0))       # it learns x^2
    stats = {}
    again, = experiments.trained_many([spec], folder=tmp_path, stats=stats)    # read back, not trained
    assert stats["trained"] == 0 and stats["cached"] == 1
    assert all(torch.equal(a, b) for a, b in zip(run.model.parameters(), again.model.parameters()))
    # neither the toy model nor x^2 is positively homogeneous: the one-active loss is sampled
    assert not evaluate.exact_one_active(run.model, square) and not evaluate.exact_one_active(run.model, "relu")
    with pytest.raises(ValueError, match="positively homogeneous model and target"):
        evaluate.one_active_errors(run.model, run.mixing, target="relu")
    with pytest.raises(ValueError, match="cannot train this exactly"):
        experiments.trained(spec, engine="fast", folder=tmp_path)


def test_an_added_architecture_is_one_kind_among_the_known_and_can_be_taken_away(quadratic):
    with pytest.raises(ValueError, match="kind 'quadratic' is taken"):
        build.add_architecture(QuadraticFields, _quadratic)
    with pytest.raises(SpecError, match="model.d: Input should be a valid integer"):
        RunSpec(seeds=[0], model=dict(kind=quadratic, d="ten"), inputs=dict(kind="one_active"))
    with pytest.raises(TypeError, match="fields must be a subclass of cclib.spec.ArchitectureFields"):
        build.add_architecture(Quadratic, _quadratic)
    with pytest.raises(ValueError, match="kind must be an added architecture"):
        build.remove_architecture("mlp")
    build.remove_architecture(quadratic)
    with pytest.raises(SpecError, match="'quadratic' found using 'kind' does not match any of the expected tags: "
                                        "'mlp', 'residual'"):
        RunSpec(seeds=[0], model=dict(kind=quadratic), inputs=dict(kind="one_active"))
    build.add_architecture(QuadraticFields, _quadratic)                       # for the fixture's teardown


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


TOY_MODULE = '''
from typing import Literal
import torch
from torch import nn
from cclib.spec import ArchitectureFields

class Fields(ArchitectureFields):
    kind: Literal["toy_module"]
    n_features: int = 6

class Linear(nn.Module):
    def __init__(self, k, n, seed):
        super().__init__()
        self.W = nn.Parameter(torch.randn(k, n, n, generator=torch.Generator().manual_seed(seed)) * SCALE)
        self.n_instances, self.n_features = k, n

    def forward(self, x):
        return x @ self.W

def builder(arch, seeds):
    return Linear(len(seeds), arch.n_features, seeds[0])

SCALE = 0.1
'''


def test_an_edit_of_the_architectures_module_re_keys_its_runs_and_code_without_a_source_is_refused(tmp_path, monkeypatch):
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(tmp_path))
    spec_of = dict(seeds=[0], model=dict(kind="toy_module"), inputs=dict(kind="one_active"), optim=dict(steps=5))
    codes = []
    for scale in ("0.1", "0.2"):
        (tmp_path / "toy_arch.py").write_text(TOY_MODULE.replace("SCALE = 0.1", f"SCALE = {scale}"))
        sys.modules.pop("toy_arch", None)
        importlib.invalidate_caches()
        toy = importlib.import_module("toy_arch")
        kind = build.add_architecture(toy.Fields, toy.builder)
        try:
            codes.append(RunJob(RunSpec(**spec_of)).code)
        finally:
            build.remove_architecture(kind)
    sys.modules.pop("toy_arch", None)
    assert codes[0] != codes[1]                                 # SCALE is read by the model: another key
    made = {"__name__": "made_in_exec"}
    exec(TOY_MODULE.replace("toy_module", "made_in_exec"), made)   # no module file behind it
    with pytest.raises(ValueError, match="whose source cclib cannot read"):
        build.add_architecture(made["Fields"], made["builder"])
    with pytest.raises(SpecError, match="does not match any of the expected tags"):
        RunSpec(**dict(spec_of, model=dict(kind="made_in_exec")))    # refused, so not left half-added
