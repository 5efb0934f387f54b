"""The task written once (cclib.task): the loss kinds, where the spec and the engines take them, and
the package's structure (no import cycle, the environment read in one module, shapes checkable)."""
import ast
from pathlib import Path

import numpy as np
import pytest
import torch
from beartype import beartype
from jaxtyping import TypeCheckError, jaxtyped

from cclib import cache, evaluate, experiments, mixing, task
from cclib.models import MLP
from cclib.reference import monte_carlo_loss
from cclib.spec import RunSpec
from cclib.train import train

PACKAGE = Path(task.__file__).parent


def test_the_loss_kinds_are_the_mean_square_and_the_mean_fourth_power():
    gen = torch.Generator().manual_seed(0)
    out, y = torch.randn(3, 7, 5, generator=gen), torch.randn(3, 7, 5, generator=gen)
    r = out - y
    assert torch.equal(task.loss(out, y), r.square().mean((1, 2)))
    assert torch.allclose(task.loss(out, y, kind="l4"), (r ** 4).mean((1, 2)))
    weight = torch.tensor([0.0, 1.0, 2.0, 0.5, 1.0])
    assert torch.allclose(task.loss(out, y, weight), (r.square() * weight).mean((1, 2)))
    with pytest.raises(ValueError, match="loss kind must be one of 'mse', 'l4'"):
        task.loss(out, y, kind="l3")


def test_one_active_labels_are_the_labels_of_each_unit_input():
    n = 6
    mix = mixing.random_mixing([0.3], n_features=n, seeds=[1])
    rows = task.one_active_labels(mix.matrix().transpose(1, 2), n)
    eye = torch.eye(n)[None]
    assert torch.allclose(rows[:, :n], task.labels(eye, mix.matrix()))
    assert torch.allclose(rows[:, n:], task.labels(-eye, mix.matrix()))
    assert torch.equal(task.one_active_labels(None, n)[0], torch.cat([torch.eye(n), torch.zeros(n, n)]))


def test_the_default_loss_leaves_every_spec_key_as_it_was():
    base = dict(seeds=[0], inputs=dict(kind="bernoulli", p=0.01))
    plain, explicit = RunSpec(**base), RunSpec(**base, loss=dict(kind="mse"))
    assert "loss" not in plain.canonical() and plain.canonical() == explicit.canonical()
    l4 = RunSpec(**base, loss=dict(kind="l4"))
    assert l4.canonical()["loss"] == {"kind": "l4"}
    assert RunSpec.model_validate(l4.canonical()) == l4
    chained = RunSpec(**base, init=plain)
    assert "loss" not in chained.canonical()["init"]
    with pytest.raises(ValueError, match="loss.kind"):
        RunSpec(**base, loss=dict(kind="l3"))


def test_the_fast_engine_refuses_another_loss_and_auto_takes_the_general_one():
    model, mix = MLP(1, seeds=[0]), mixing.clean()
    with pytest.raises(ValueError, match="engine='fast' cannot train this exactly: loss 'l4'"):
        train(model, mix, p=0.05, steps=5, engine="fast", loss="l4")
    with pytest.raises(ValueError, match="loss must be one of"):
        train(model, mix, p=0.05, steps=5, loss="huber")
    spec = RunSpec(seeds=[0], inputs=dict(kind="bernoulli", p=0.05), loss=dict(kind="l4"), optim=dict(steps=5))
    assert experiments.compute_context(spec)["engine"] == "general"
    assert experiments.compute_context(spec.replace(loss=dict(kind="mse")))["engine"] == "fast"


def test_an_l4_run_trains_on_the_fourth_power():
    """Its first recorded loss is task.loss(kind='l4') of the untrained model on its first batch,
    and training lowers the L4 loss more than an MSE run of the same seed does."""
    steps = 300
    l4_model, mse_model = MLP(2, seeds=[0, 1]), MLP(2, seeds=[0, 1])
    first = MLP(2, seeds=[0, 1])
    l4 = train(l4_model, mixing.clean(n_instances=2), p=0.05, steps=steps, seeds=[0, 1], loss="l4")
    train(mse_model, mixing.clean(n_instances=2), p=0.05, steps=steps, seeds=[0, 1])
    assert l4.engine == "general"
    from cclib.data import streams
    from cclib.general import _inputs
    x = next(next(_inputs(streams("bernoulli", [0.05, 0.05], 2048, 100, [0, 1]), "bernoulli", 2048, 100)))
    with torch.no_grad():
        expected = task.loss(first(x), task.labels(x, None), kind="l4")
    assert torch.allclose(l4.loss[0], expected, rtol=1e-6)
    l4_after = evaluate.expected_loss(l4_model, mixing.clean(n_instances=2), 0.05, kind="l4")[0]
    mse_after = evaluate.expected_loss(mse_model, mixing.clean(n_instances=2), 0.05, kind="l4")[0]
    assert np.all(l4_after < mse_after)


def test_the_exact_one_active_l4_loss_equals_sampling_it():
    model, mix = MLP(2, seeds=[3, 4]), mixing.random_mixing([0.05, 0.1], seeds=[3, 4])
    exact = evaluate.one_active_loss(model, mix, kind="l4")

    class Same(MLP):  # a subclass is evaluated through model(x), by sampling
        pass

    sampled = evaluate.one_active_loss(Same.from_weights(*model.effective_weights()), mix, samples=1 << 18,
                                       kind="l4")
    assert np.allclose(exact, sampled, rtol=0.02)
    assert np.all(exact != evaluate.one_active_loss(model, mix))  # not the MSE


def test_an_l4_loss_curve_agrees_with_plain_monte_carlo():
    model, mix = MLP(1, seeds=[5]), mixing.random_mixing([0.05], seeds=[5])
    p = 0.1
    curve = evaluate.loss_curve(model, mix, [p], samples_per_k=2048, kind="l4")
    gen = torch.Generator().manual_seed(9)
    total, count = torch.zeros(1, dtype=torch.float64), 200_000
    with torch.no_grad():
        for _ in range(count // 20_000):
            active = torch.rand(20_000, 100, generator=gen) < p
            x = ((torch.rand(20_000, 100, generator=gen) * 2 - 1) * active)[None]
            total += task.error(model(x) - task.labels(x, mix.matrix()), "l4").sum((1, 2)).double()
    mc = (total / count / (100 * p)).numpy()
    assert abs(curve.loss[0, 0] - mc[0]) < 0.03 * mc[0]
    # the MSE default is unchanged: the plain Monte Carlo twin still agrees with it
    mse = evaluate.loss_curve(model, mix, [p], samples_per_k=2048)
    mean, se = monte_carlo_loss(model, mix, p, n_samples=100_000, seed=2)
    assert abs(mse.loss[0, 0] - mean[0]) < 5 * np.hypot(se[0], mse.se[0, 0])


def test_the_shapes_in_the_task_signatures_are_checked():
    loss = jaxtyped(typechecker=beartype)(task.loss)
    out = torch.zeros(2, 3, 4)
    assert loss(out, out).shape == (2,)
    with pytest.raises(TypeCheckError):
        loss(out, torch.zeros(2, 3, 5))               # labels of another n
    with pytest.raises(TypeCheckError):
        loss(out, out, torch.ones(5))                 # an importance per feature: n = 4
    labels = jaxtyped(typechecker=beartype)(task.one_active_labels)
    assert labels(torch.zeros(1, 4, 4), 4).shape == (1, 8, 4)
    with pytest.raises(TypeCheckError):
        labels(torch.zeros(1, 4, 3), 4)


def test_no_import_cycle_among_the_modules():
    modules = cache.modules_of(PACKAGE)
    for name, path in sorted(modules.items()):
        imported = cache._imports(path.read_bytes(), name, modules, is_package=path.name == "__init__.py")
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}  # run first, not imported by it
        others = cache.module_closure(imported - {name} - ancestors)
        assert name not in others, f"{name} imports itself through {others}"


def test_the_environment_is_read_in_one_module():
    readers = []
    for path in sorted(cache.modules_of(PACKAGE).values()):
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") \
                    and isinstance(node.value, ast.Name) and node.value.id == "os":
                readers.append(path.name)
    assert set(readers) <= {"_env.py"}, readers


def test_the_shapes_in_the_evaluation_signatures_are_checked():
    from cclib import baselines, bounds
    from cclib.models import MLP as Plain

    checked = {name: jaxtyped(typechecker=beartype)(fn) for name, fn in dict(
        one_active_errors=evaluate.one_active_errors, one_active_loss=evaluate.one_active_loss,
        largest_error=evaluate.largest_error, rank_floor=bounds.rank_floor,
        one_active_label_rows=bounds.one_active_label_rows, forward=Plain.forward,
        expected_loss=evaluate.expected_loss).items()}
    model, mix = baselines.naive(n_instances=2), mixing.clean(n_instances=2)
    assert checked["one_active_errors"](model, mix).shape == (2, 200)
    assert checked["one_active_loss"](model, mix).shape == (2,)
    assert checked["largest_error"](model, mix).shape == (2,)
    assert checked["rank_floor"](mix, 50).shape == (2,)
    assert checked["one_active_label_rows"](mix).shape == (2, 200, 100)
    assert checked["expected_loss"](model, mix, 0.1, 64)[0].shape == (2,)
    assert checked["forward"](model, torch.zeros(2, 3, 100)).shape == (2, 3, 100)
    with pytest.raises(TypeCheckError):
        checked["forward"](model, torch.zeros(2, 3))
