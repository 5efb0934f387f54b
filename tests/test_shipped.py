"""Evaluations shipped like runs: read from the store before the local cache, written into the
store by make store, pruned to what the notebooks used, compared by make reproduce; and
:func:`cclib.evaluations.memo`, whose key must see every change of what it computes."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cclib import evaluations, experiments, mixing, store
from cclib.spec import RunSpec

ROOT = Path(__file__).resolve().parent.parent
STORE_CLI = [sys.executable, str(ROOT / "paper-code" / "store.py")]
CALLS = []
SCALE = 3.0


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An empty store and local cache, and a log of what each evaluation read or computed."""
    shipped, local, log = tmp_path / "store", tmp_path / "cache", tmp_path / "evaluations.log"
    monkeypatch.setenv("CCLIB_STORE", str(shipped))
    monkeypatch.setenv("CCLIB_CACHE", str(local))
    monkeypatch.setenv("CCLIB_EVALUATIONS_LOG", str(log))
    monkeypatch.delenv("CCLIB_EVALUATIONS_INTO", raising=False)
    CALLS.clear()
    return shipped, local, log


def _words(log: Path) -> list[str]:
    return [line.split(" ", 1)[0] for line in log.read_text().splitlines()] if log.exists() else []


def _helper(x):
    return np.asarray(x) * 2.0


def squares(n, offset):
    squares.calls.append(n)  # an attribute, not a global the key would have to see
    return dict(values=_helper(np.arange(n) ** 2) + offset)


squares.calls = CALLS


def nested(n):
    return {"a": {"b c": np.arange(n), "d": {"e": np.float64(1.5)}}, "f": [1, 2]}


def test_memo_returns_nested_dicts_as_it_was_given_them(places):
    for _ in range(2):
        found = evaluations.memo("nested", nested, n=3)
        np.testing.assert_array_equal(found["a"]["b c"], [0, 1, 2])
        assert float(found["a"]["d"]["e"]) == 1.5 and found["f"].tolist() == [1, 2]
    assert _words(places[2]) == ["computed", "read"]


def reads_a_global(n):
    return dict(values=np.arange(n) * SCALE)


def test_memo_computes_once_then_reads(places):
    shipped, local, log = places
    first = evaluations.memo("squares", squares, n=4, offset=1.0)
    again = evaluations.memo("squares", squares, n=4, offset=1.0)
    np.testing.assert_array_equal(first["values"], [1.0, 3.0, 9.0, 19.0])
    np.testing.assert_array_equal(again["values"], first["values"])
    assert CALLS == [4] and _words(log) == ["computed", "read"]
    assert len(list(local.glob("memo-*.npz"))) == 1 and not shipped.exists()  # computed into the local cache
    evaluations.memo("squares", squares, n=4, offset=2.0)                       # another argument: another key
    assert CALLS == [4, 4]


def test_the_evaluation_seed_is_in_a_memo_key(places, monkeypatch):
    """$CCLIB_EVAL_SEED redraws every Monte-Carlo estimate a call makes without naming a seed: a
    memo computed under another seed is not served."""
    evaluations.memo("squares", squares, n=4, offset=1.0)
    monkeypatch.setenv("CCLIB_EVAL_SEED", "1")
    evaluations.memo("squares", squares, n=4, offset=1.0)
    assert CALLS == [4, 4]


def test_memo_is_keyed_on_the_source_of_the_function_and_its_helpers():
    sources, modules = evaluations._dependencies(squares)
    assert set(sources) == {f"{__name__}.squares", f"{__name__}._helper"} and modules == set()


def test_memo_sees_an_edited_helper(places):
    """The same memo, its helper edited between calls: recomputed; edited back (or only its
    comment edited): read."""
    code = "def helper(x):\n    return x + {k}  # {comment}\n\ndef f(n):\n    return dict(v=np.arange(n) + helper(1))\n"
    values = []
    for i, (k, comment) in enumerate(((1, "a"), (2, "a"), (2, "another comment"), (1, "a"))):
        path = places[0].parent / f"scratch_{i}.py"
        path.write_text(code.format(k=k, comment=comment))
        namespace = {"np": np, "__name__": "scratch"}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        values.append(evaluations.memo("edited", namespace["f"], n=2)["v"].tolist())
    assert values == [[2, 3], [3, 4], [3, 4], [2, 3]]
    assert _words(places[2]) == ["computed", "computed", "read", "read"]


def reads_an_attribute_named_like_a_global(box):
    return dict(values=np.arange(3) * box.SCALE)  # box.SCALE is not the global SCALE


def test_an_attribute_named_like_a_global_is_not_the_global(places):
    assert evaluations._dependencies(reads_an_attribute_named_like_a_global)[1] == set()


CLEAN = mixing.clean(n_instances=1)


def reads_a_cclib_object(n):
    return dict(values=np.arange(n) * CLEAN.n_instances)


def test_memo_refuses_what_its_key_could_not_see(places):
    with pytest.raises(TypeError, match="reads the global 'SCALE'"):
        evaluations.memo("scaled", reads_a_global, n=3)
    with pytest.raises(TypeError, match="reads the global 'CLEAN', a cclib Mixing"):  # an instance, not code
        evaluations.memo("object", reads_a_cclib_object, n=3)
    with pytest.raises(TypeError, match="not a lambda"):
        evaluations.memo("l", lambda n: dict(v=np.arange(n)), n=3)

    def inner(n):
        return dict(v=np.arange(n) * SCALE_LOCAL)
    SCALE_LOCAL = 2.0
    with pytest.raises(TypeError, match="is a closure"):
        evaluations.memo("closure", inner, n=3)
    with pytest.raises(TypeError, match="a memo's arguments must be"):
        evaluations.memo("squares", squares, n=object(), offset=0.0)


def test_evaluations_are_read_from_the_store_first_and_shipped_into_it(places, monkeypatch):
    shipped, local, log = places
    monkeypatch.setenv("CCLIB_EVALUATIONS_INTO", "store")
    evaluations.memo("squares", squares, n=3, offset=0.0)          # computed into the store
    assert len(list(shipped.glob("memo-*.npz"))) == 1 and not local.exists()
    monkeypatch.delenv("CCLIB_EVALUATIONS_INTO")
    evaluations.memo("squares", squares, n=3, offset=0.0)          # read from the store
    assert CALLS == [3] and _words(log) == ["computed", "read"] and not local.exists()
    # an entry computed into the local cache before is shipped as it is
    evaluations.memo("squares", squares, n=5, offset=0.0)
    assert len(list(local.glob("memo-*.npz"))) == 1
    monkeypatch.setenv("CCLIB_EVALUATIONS_INTO", "store")
    evaluations.memo("squares", squares, n=5, offset=0.0)
    assert CALLS == [3, 5] and len(store.evaluation_entries(shipped)) == 2
    monkeypatch.setenv("CCLIB_EVALUATIONS_INTO", "elsewhere")
    with pytest.raises(ValueError, match="CCLIB_EVALUATIONS_INTO must be"):
        evaluations.memo("squares", squares, n=3, offset=0.0)


def test_a_loss_curve_is_keyed_on_its_run_and_shipped(places, monkeypatch):
    shipped, local, log = places
    spec = RunSpec(seeds=[0], mixing=dict(kind="asymmetric", sigma=0.02), inputs=dict(kind="one_active"),
                   optim=dict(steps=20))
    run = experiments.trained(spec, folder=local / "runs")
    monkeypatch.setenv("CCLIB_EVALUATIONS_INTO", "store")
    curve = evaluations.loss_curve(run, [0.01, 0.1], 256)
    monkeypatch.delenv("CCLIB_EVALUATIONS_INTO")
    again = evaluations.loss_curve(run, [0.01, 0.1], 256)
    np.testing.assert_array_equal(curve.loss, again.loss)
    assert _words(log) == ["computed", "read"] and len(list(shipped.glob("curve-*.npz"))) == 1
    other = experiments.trained(spec.replace(optim=dict(steps=21)), folder=local / "runs")
    evaluations.loss_curve(other, [0.01, 0.1], 256)                # another run: another key
    assert _words(log)[-1] == "computed"


def test_prune_keeps_exactly_what_was_used_and_compare_finds_a_change(places, monkeypatch):
    shipped, local, log = places
    monkeypatch.setenv("CCLIB_EVALUATIONS_INTO", "store")
    for n in (2, 3, 4):
        evaluations.memo("squares", squares, n=n, offset=0.0)
    entries = store.evaluation_entries(shipped)
    used = {entries[0].name, entries[2].name}
    removed = store.prune_evaluations(used, shipped)
    assert [p.name for p in removed] == [entries[1].name] and {p.name for p in store.evaluation_entries(shipped)} == used
    assert not entries[1].with_suffix(".json").exists()
    fresh = local / entries[0].name
    local.mkdir(exist_ok=True)
    fresh.write_bytes(entries[0].read_bytes())
    assert store.compare_evaluation(entries[0], fresh) == dict(identical=True, largest_rel=0.0)
    with np.load(entries[0]) as f:
        values = {k: f[k] for k in f.files}
    values["values"] = values["values"] * (1 + 1e-6)
    np.savez(fresh.with_suffix(""), **values)
    moved = store.compare_evaluation(entries[0], fresh)
    assert not moved["identical"] and 0 < moved["largest_rel"] < 2e-6


def test_check_names_a_damaged_shipped_evaluation(tmp_path):
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(store.folder(), copy)
    entries = store.evaluation_entries(copy)
    if not entries:
        pytest.skip("the store ships no evaluation yet")
    npz = entries[len(entries) // 2]
    npz.write_bytes(npz.read_bytes()[:-10])
    done = subprocess.run(STORE_CLI + ["check"], env=dict(os.environ, CCLIB_STORE=str(copy)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and npz.name in done.stderr and "git checkout -- " in done.stderr
