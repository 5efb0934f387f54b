"""The store of trained runs: read before the cache, filled with what it lacks, checked by
make test, compared with retrained runs; and a sweep that keeps every run it finished."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cclib import cache, experiments, paper_runs, store, sweep
from cclib.sweep import RunJob
from cclib.spec import RunSpec

ROOT = Path(__file__).resolve().parent.parent
STORE_CLI = [sys.executable, str(ROOT / "paper-code" / "store.py")]


def _spec(seeds, steps=20, **fields):
    return RunSpec(seeds=seeds, mixing=dict(kind="asymmetric", sigma=0.02), inputs=dict(kind="one_active"),
                   optim=dict(steps=steps), **fields)


@pytest.fixture
def small_registry(monkeypatch):
    """A registry of three small runs, one started from another's weights."""
    first = _spec([0, 1, 2])
    runs = {"a": first, "b": _spec([3], steps=30), "c": _spec([0, 1, 2], steps=10, init=first).replace(
        mixing=dict(kind="clean"))}
    monkeypatch.setattr(paper_runs, "registry", lambda seed=0, quick=False, figures=None: dict(runs))
    return runs


def test_fill_trains_what_the_store_lacks_and_nothing_else(tmp_path, small_registry, monkeypatch):
    place = tmp_path / "store"
    assert store.status(place).missing == ["a", "b", "c"]
    stats = {}
    after = store.fill(place, progress=False, stats=stats)
    assert (after.present, after.missing, stats["trained"]) == (["a", "b", "c"], [], 3)
    entry = (place / f"{cache.entry_paths('trained', store.keys()['a'].config, store.keys()['a'].code, place)[1].name}")
    assert '"trained_by"' in entry.read_text() and '"cpu"' in entry.read_text()
    # nothing to do the second time; an entry of an earlier key is removed
    (place / "trained-0123456789abcdef0123.npz").write_bytes(b"old")
    assert len(store.status(place).unused) == 1
    stats = {}
    store.fill(place, progress=False, stats=stats)
    assert stats["trained"] == 0 and store.status(place).unused == []
    # a changed spec is a new key: exactly that run is missing
    small_registry["b"] = _spec([3], steps=31)
    assert store.status(place).missing == ["b"]


def test_runs_are_read_from_the_store_before_the_cache(tmp_path, monkeypatch):
    place, local = tmp_path / "store", tmp_path / "cache"
    spec = _spec([0])
    stored = experiments.trained(spec, folder=place)
    monkeypatch.setenv("CCLIB_STORE", str(place))
    monkeypatch.setenv("CCLIB_CACHE", str(local))
    monkeypatch.setenv("CCLIB_CACHE_ONLY", "1")  # nothing may be trained
    again = experiments.trained(spec)
    assert np.array_equal(again.model.W_in.detach(), stored.model.W_in.detach())
    assert not local.exists() or not list(local.iterdir())
    # a damaged store entry is reported and kept (it is committed), never served
    npz, meta = cache.entry_paths("trained", sweep.RunJob(spec, None, None).config,
                                  sweep.run_code("fast"), place)
    npz.write_bytes(npz.read_bytes()[:-10])
    with pytest.raises(RuntimeError, match="CCLIB_CACHE_ONLY is set and 1 stored run.s. are damaged, not missing") as err:
        experiments.trained(spec)
    assert npz.name in str(err.value) and "git checkout -- " in str(err.value)
    assert npz.exists() and meta.exists()


def test_a_damaged_store_entry_is_retrained_only_with_a_plain_warning(tmp_path, monkeypatch, capfd):
    place, local = tmp_path / "store", tmp_path / "cache"
    spec = _spec([0])
    stored = experiments.trained(spec, folder=place)
    monkeypatch.setenv("CCLIB_STORE", str(place))
    monkeypatch.setenv("CCLIB_CACHE", str(local))
    monkeypatch.delenv("CCLIB_CACHE_ONLY", raising=False)
    npz, _ = cache.entry_paths("trained", sweep.RunJob(spec, None, None).config,
                               sweep.run_code("fast"), place)
    data = bytearray(npz.read_bytes())
    data[200:216] = bytes(16)   # 16 bytes flipped in the middle
    npz.write_bytes(bytes(data))
    capfd.readouterr()
    again = experiments.trained(spec)
    err = capfd.readouterr().err
    assert "WARNING: 1 stored run(s) are damaged, not missing" in err and npz.name in err
    assert f"Retraining it now into {local}" in err and "=" * 78 in err
    assert np.array_equal(again.model.W_in.detach(), stored.model.W_in.detach())   # the same numbers
    assert npz.read_bytes() == bytes(data)   # the store is left as it is, for git to restore


@pytest.mark.parametrize("damage", ["flip", "truncate", "json"])
def test_check_reads_every_byte_and_names_the_damaged_file(tmp_path, damage):
    """store.py check on a copy of the store with one file damaged: exit 1, the file named, and
    the git command that restores it."""
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(store.folder(), copy)
    npz = sorted(copy.glob("trained-*.npz"))[5]
    if damage == "flip":
        data = bytearray(npz.read_bytes())
        data[len(data) // 2:len(data) // 2 + 16] = bytes(b ^ 0xFF for b in data[len(data) // 2:len(data) // 2 + 16])
        npz.write_bytes(bytes(data))
    elif damage == "truncate":
        npz.write_bytes(npz.read_bytes()[:npz.stat().st_size // 2])
    else:
        meta = npz.with_suffix(".json")
        meta.write_text(meta.read_text()[:100])
    env = dict(os.environ, CCLIB_STORE=str(copy))
    done = subprocess.run(STORE_CLI + ["check"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "1 store entry is damaged" in done.stderr and npz.name in done.stderr
    assert f"git checkout -- " in done.stderr and npz.with_suffix(".json").name in done.stderr
    assert ("checksum mismatch" if damage != "json" else "is unreadable") in done.stderr


def test_check_names_the_missing_runs_and_make_store(tmp_path):
    env = dict(os.environ, CCLIB_STORE=str(tmp_path / "empty"))
    done = subprocess.run(STORE_CLI + ["check"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    n = len(paper_runs.registry())
    assert f"{n} of {n} registry runs are not in" in done.stderr
    assert "make store" in done.stderr and "sparsity_p0.001" in done.stderr and "transplant_clean" in done.stderr


def test_the_committed_store_holds_every_registry_run():
    """What make test's first step checks, here too: a missing or stale run fails loudly."""
    found = store.status()
    assert found.missing == [], f"run `make store`: the store lacks {found.missing}"


def test_compare_is_exact_first_then_within_what_another_cpu_does(tmp_path):
    run = experiments.trained(_spec([0, 1, 2], steps=150), folder=tmp_path)
    same = store.compare(run, experiments.load_run(run.save(tmp_path / "copy")))
    assert same["identical"] and same["ok"] and same["weight_rel"] == 0 and same["loss_rel"] == 0
    spread = float(np.std(store.final_loss(run), ddof=1))
    assert same["spread"] == pytest.approx(spread) and spread > 0
    steps = run.loss.shape[0]
    # the final loss: within FINAL_SD seed spreads (the first steps untouched)
    for shift, ok in ((0.5, True), (1.5, False)):   # in units of FINAL_SD spreads
        moved = experiments.load_run(tmp_path / "copy")
        moved.loss = moved.loss.copy()
        moved.loss[store.EARLY_STEPS:] += shift * store.FINAL_SD * spread
        result = store.compare(run, moved)
        assert not result["identical"] and result["ok"] == ok and result["early_rel"] == 0
    # the first steps: within EARLY_REL relative (the final loss untouched)
    for factor, ok in ((0.5, True), (2.0, False)):
        moved = experiments.load_run(tmp_path / "copy")
        moved.loss = moved.loss.copy()
        moved.loss[:store.EARLY_STEPS] *= 1 + factor * store.EARLY_REL
        result = store.compare(run, moved)
        assert result["ok"] == ok and result["loss_rel"] == 0 and steps > store.EARLY_STEPS
    # one seed: judged by its first steps alone, and said so; with a stand-in's spread, by both
    one = experiments.trained(_spec([0], steps=150), folder=tmp_path)
    moved = experiments.load_run(one.save(tmp_path / "one"))
    moved.loss = moved.loss.copy()
    moved.loss[-10:] += 1e-3
    result = store.compare(one, moved)
    assert result["spread"] is None and result["allowed"] is None and result["judged_by"] == "the first steps"
    assert result["ok"]
    assert not store.compare(one, moved, spread=1e-7)["ok"] and store.compare(one, moved, spread=1.0)["ok"]


def test_a_one_seed_run_of_the_sample_borrows_the_spread_of_its_own_setting():
    runs = paper_runs.registry()
    for name in paper_runs.REPRODUCE_SAMPLE:
        spec = runs[name]
        if spec.n_instances > 1:
            continue
        assert name in store.SPREAD_OF, f"{name} has one seed and no stand-in for its spread"
        ref = runs[store.SPREAD_OF[name]]
        assert ref.n_instances >= 3 and ref.model == spec.model
        assert ref.mixing.kind == spec.mixing.kind and ref.inputs.kind == spec.inputs.kind
        def labels(s):
            return s.mixing.kind, getattr(s.mixing, "sigma", (0.0,))[0], getattr(s.mixing, "zero_diagonal", None)
        assert labels(ref) == labels(spec)
        assert set(ref.inputs.p) == set(spec.inputs.p) and set(ref.steps) == set(spec.steps)


def test_a_grid_has_no_seed_spread(tmp_path):
    grid = experiments.trained(RunSpec(seeds=[0, 0], mixing=dict(kind="asymmetric", sigma=[0.0, 0.05]),
                                       inputs=dict(kind="one_active"), optim=dict(steps=20)), folder=tmp_path)
    assert store.seed_spread(grid) is None


def test_the_sample_takes_every_path_the_paper_uses():
    runs = paper_runs.registry()
    sample = [runs[name] for name in paper_runs.REPRODUCE_SAMPLE]
    bernoulli = [s for s in sample if s.inputs.kind == "bernoulli"]
    paths = {
        "sparse Bernoulli": any(max(s.inputs.p) <= 0.01 for s in bernoulli),
        "dense Bernoulli": any(min(s.inputs.p) >= 0.5 for s in bernoulli),
        "one active": any(s.inputs.kind == "one_active" for s in sample),
        "residual model": any(s.model.kind == "residual" for s in sample),
        "embedding mixing": any(s.mixing is not None and s.mixing.kind == "embedding" for s in sample),
        "started from a run": any(s.init is not None and s.init in sample for s in sample),
        "trained sigma": any(getattr(s.mixing, "trainable_sigma", False) for s in sample),
        "general engine": any(RunJob(s, None, None).engine == "general" for s in sample),
    }
    assert all(paths.values()), [p for p, ok in paths.items() if not ok]
    # under ten minutes of the 2-core machine, by the registry's own cost model (one core each)
    assert sum(sweep.expected_seconds(s) for s in sample) < 2 * 300


INTERRUPTED = textwrap.dedent("""
    import sys
    from cclib import experiments
    from cclib.spec import RunSpec
    quick = RunSpec(seeds=[0], inputs=dict(kind="one_active"), optim=dict(steps=20))
    slow = RunSpec(seeds=[1], inputs=dict(kind="one_active"), optim=dict(steps=2_000_000))
    experiments.trained_many([slow, quick], folder=sys.argv[1], workers=2)
""")


def test_an_interrupted_sweep_keeps_every_run_it_finished(tmp_path):
    """Ctrl-C in the middle of a sweep: the run that had finished is stored (and loads), the
    unfinished one is not, and nothing half-written is left."""
    folder = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED, str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not list(folder.glob("trained-*.json")) and time.time() < deadline:
        time.sleep(0.2)
    assert list(folder.glob("trained-*.json")), "the quick run was never stored"
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    quick = RunSpec(seeds=[0], inputs=dict(kind="one_active"), optim=dict(steps=20))
    slow = RunSpec(seeds=[1], inputs=dict(kind="one_active"), optim=dict(steps=2_000_000))
    for spec, stored in ((quick, True), (slow, False)):
        key = sweep.RunJob(spec, None, None)
        assert (cache.load("trained", key.config, folder, code=key.code) is not None) == stored
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".npz"]   # no temporary files


def test_the_restore_command_names_the_committed_path():
    assert cache.restore_command([store.folder() / "trained-x.npz", store.folder() / "trained-x.json"]) == \
        "git checkout -- data/store/trained-x.npz data/store/trained-x.json"


def test_a_refill_after_a_code_change_compares_with_the_earlier_keys_and_can_copy_a_reproduction(
        tmp_path, small_registry, monkeypatch):
    place, reproduced = tmp_path / "store", tmp_path / "reproduce"
    store.fill(place, progress=False)
    old_code = sweep.run_code
    monkeypatch.setattr(sweep, "run_code", lambda *a, **k: old_code(*a, **k)[:-4] + "beef")  # a refactor
    assert store.status(place).missing == ["a", "b", "c"]
    earlier = store.earlier_entries(place)
    assert sorted(earlier) == ["a", "b", "c"]
    assert store.load_earlier("b", earlier["b"]).spec == small_registry["b"]
    # what make reproduce trains under the new keys; one run's numbers changed by the "refactor"
    runs = experiments.trained_many(list(small_registry.values()), engine=store.ENGINE, device=store.DEVICE,
                                    folder=reproduced)
    job = store.keys()["b"]
    changed = dict(runs[1].arrays(), sigma=runs[1].arrays()["sigma"] + 1.0)
    cache.save("trained", job.config, changed, reproduced, code=job.code)
    with pytest.raises(RuntimeError, match="does not hold run a whole"):
        store.fill(place, progress=False, source=tmp_path / "elsewhere")
    stats = {}
    after = store.fill(place, progress=False, stats=stats, source=reproduced)
    assert (after.present, after.unused, stats["copied"], stats["trained"]) == (["a", "b", "c"], [], 3, 0)
    assert stats["earlier"] == {"a": True, "b": False, "c": True}
    assert '"copied_from"' in cache.entry_paths("trained", job.config, job.code, place)[1].read_text()


def test_an_earlier_key_is_the_same_configuration_up_to_code_fingerprints(tmp_path):
    config = dict(run=dict(spec=dict(seeds=[0]), code="aaaa"), p_eval=[0.1])
    cache.save("curve", config, dict(x=np.zeros(2)), tmp_path, code="1111")
    cache.save("curve", dict(config, p_eval=[0.2]), dict(x=np.ones(2)), tmp_path, code="1111")
    index = store.earlier_index(tmp_path)
    found = store.earlier_of("curve", dict(run=dict(spec=dict(seeds=[0]), code="bbbb"), p_eval=[0.1]), index)
    assert found is not None and np.load(found)["x"].tolist() == [0.0, 0.0]
    assert store.earlier_of("snmf", config, index) is None                      # another kind
    assert store.earlier_of("curve", dict(config, p_eval=[0.3]), index) is None  # another computation
