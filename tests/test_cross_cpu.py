"""The check of a retrained run against the store holds on another CPU and catches real defects.

Another CPU is stood in for by what paper-code/cross_cpu.py measured the tolerances with: every
initial weight moved by one ulp, and this machine's other kernels (torch's scalar path, MKL's
compatible path). The defects are bugs a change of the training code could bring in.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cclib import experiments, paper_runs, store
from cclib.spec import RunSpec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "paper-code"))
import cross_cpu  # noqa: E402

#: Long enough that every check applies (EARLY_STEPS, a final 10%), short enough for a unit test.
SPEC = RunSpec(seeds=[0, 1, 2], mixing=dict(kind="asymmetric", sigma=0.02), inputs=dict(kind="bernoulli", p=0.01),
               optim=dict(steps=400))


def _train(variant: str, folder: Path, spec: RunSpec = SPEC):
    with cross_cpu.variant(variant):
        return experiments.trained_many([spec], folder=folder, workers=1)[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return _train("none", tmp_path_factory.mktemp("ref"))


@pytest.mark.parametrize("variant", ["ulp-1", "ulp-2"])
def test_an_honest_retrain_with_other_rounding_passes(reference, tmp_path, variant):
    fresh = _train(variant, tmp_path)
    result = store.compare(reference, fresh)
    assert not result["identical"], "the perturbation must change the run, or it tests nothing"
    assert result["judged_by"] == "the first steps and the final loss"
    assert result["ok"], result


def test_a_retrain_on_other_kernels_passes(reference, tmp_path):
    """The same training in a process on torch's scalar kernels and MKL's compatible path."""
    script = (f"import sys; sys.path.insert(0, {str(ROOT / 'paper-code')!r}); import cross_cpu, test_cross_cpu as t; "
              f"from pathlib import Path; t._train('none', Path({str(tmp_path)!r}))")
    env = dict(os.environ, **cross_cpu.ISA_ENV, PYTHONPATH=str(ROOT / "tests"))
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=600)
    fresh = experiments.trained_many([SPEC], folder=tmp_path, workers=1)[0]   # read back, not retrained
    result = store.compare(reference, fresh)
    assert not result["identical"] and result["ok"], result


@pytest.mark.parametrize("defect", cross_cpu.DEFECTS)
def test_each_deliberate_defect_fails_the_check(reference, tmp_path, defect):
    fresh = _train(defect, tmp_path)
    result = store.compare(reference, fresh)
    assert not result["ok"], f"{defect} passed: {result}"
    # caught early, by far: the defect moves the first steps hundreds of times more than allowed
    assert result["early_rel"] > 30 * store.EARLY_REL, result["early_rel"]


def test_a_run_that_cannot_be_judged_is_never_passed(reference, tmp_path):
    """No seed spread and a start from another run: no check applies, so a difference fails."""
    one = RunSpec(seeds=[0], mixing=dict(kind="clean"), inputs=dict(kind="bernoulli", p=0.01),
                  optim=dict(steps=120),
                  init=RunSpec(seeds=[0], mixing=dict(kind="asymmetric", sigma=0.02),
                               inputs=dict(kind="bernoulli", p=0.01), optim=dict(steps=200)))
    a = experiments.trained_many([one], folder=tmp_path / "a", workers=1)[0]
    b = _train("ulp-1", tmp_path / "b", one)
    result = store.compare(a, b)
    assert not result["identical"] and not result["judged"] and not result["ok"]
    assert "nothing" in result["judged_by"]


def test_the_tolerances_are_the_committed_measurement():
    """cclib.store's constants are what paper-code/cross_cpu.py derived from its measurement, and
    in that measurement every honest retrain of the sample passed and every defect was caught."""
    data = json.loads((ROOT / "paper-code" / "results" / "cross_cpu.json").read_text())
    derived = data["derived"]
    assert (store.EARLY_STEPS, store.EARLY_REL, store.FINAL_SD) == \
        (data["early_steps"], derived["early_rel"], derived["final_sd"])
    assert data["sample"] == list(paper_runs.REPRODUCE_SAMPLE)
    assert set(data["honest"]) >= {"isa"} and sum(v.startswith("ulp-") for v in data["honest"]) >= 3
    for variant, runs in data["honest_pass"].items():
        assert all(runs.values()), f"an honest retrain ({variant}) failed: {runs}"
    for defect, runs in data["detection"].items():
        assert any(r["caught"] for r in runs.values()), f"{defect} was not caught by the sample"
    # the tolerance sits well above the largest honest move and well below the least caught defect
    assert derived["early_rel"] >= 5 * derived["largest_honest_early_rel"]
    assert derived["final_sd"] > derived["largest_honest_final_sd"]


def test_every_sampled_run_can_be_judged():
    """make test's sample: every run has a check that applies (a seed spread or its own start)."""
    runs = paper_runs.registry()
    spreads_from = set(store.SPREAD_OF)
    for name in paper_runs.REPRODUCE_SAMPLE:
        spec = runs[name]
        assert spec.init is None or spec.n_instances > 1 or name in spreads_from, name
