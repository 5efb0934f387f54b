import time

import numpy as np
import pytest

from cclib import cache, evaluations, experiments, report, sweep
from cclib.spec import RunSpec

CODE = "test-code"  # a code fingerprint for entries that no cclib code computes


def test_roundtrip_and_key_depends_on_config(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.arange(5.0)}

    first = cache.cached("x", {"s": 1}, compute, tmp_path, code=CODE)
    again = cache.cached("x", {"s": 1}, compute, tmp_path, code=CODE)
    other = cache.cached("x", {"s": 2}, compute, tmp_path, code=CODE)
    by_other_code = cache.cached("x", {"s": 1}, compute, tmp_path, code="another")
    assert len(calls) == 3 and np.array_equal(first["a"], again["a"]) and np.array_equal(other["a"], first["a"])
    assert np.array_equal(by_other_code["a"], first["a"])
    assert cache.config_key({"s": 1}, CODE) != cache.config_key({"s": 2}, CODE)
    assert cache.config_key({"s": 1}, CODE) != cache.config_key({"s": 1}, "another")
    with pytest.raises(TypeError, match="code must be a code fingerprint"):
        cache.config_key({"s": 1}, None)


def test_equal_arrays_are_written_as_equal_bytes(tmp_path):
    """npz files carry no time stamp: the same numbers give the same store file, byte for byte."""
    arrays = {"param.W_in": np.arange(12, dtype=np.float32).reshape(3, 4), "loss": np.full(5, np.nan)}
    first = cache.npz_bytes(arrays)
    time.sleep(2.1)  # zip time stamps have a resolution of 2 s
    assert cache.npz_bytes(dict(arrays)) == first
    path = cache.save("x", {"s": 1}, arrays, tmp_path, code=CODE)
    assert path.read_bytes() == first
    with np.load(path, allow_pickle=False) as f:
        assert f.files == ["param.W_in", "loss"] and np.array_equal(f["param.W_in"], arrays["param.W_in"])


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta"])
def test_damaged_entry_is_reported_discarded_and_recomputed(tmp_path, capsys, damage):
    cache.save("x", {"s": 1}, {"a": np.arange(100.0)}, tmp_path, code=CODE)
    npz = next(tmp_path.glob("x-*.npz"))
    meta = next(tmp_path.glob("x-*.json"))
    if damage == "truncate":
        npz.write_bytes(npz.read_bytes()[:50])
    elif damage == "flip":
        raw = bytearray(npz.read_bytes())
        raw[-20] ^= 0xFF
        npz.write_bytes(bytes(raw))
    else:
        meta.write_text("{not json")
    assert cache.load("x", {"s": 1}, tmp_path, code=CODE) is None
    assert "discarding damaged entry" in capsys.readouterr().err
    assert not npz.exists()
    out = cache.cached("x", {"s": 1}, lambda: {"a": np.arange(100.0)}, tmp_path, code=CODE)
    assert np.array_equal(out["a"], np.arange(100.0))


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.atomic_write_bytes(tmp_path / "f.bin", b"x" * 1000)
    assert list(tmp_path.iterdir()) == []


def test_trained_models_come_back_identical_from_the_cache(tmp_path):
    config = _spec(seeds=[0, 1], steps=20)
    fresh = experiments.trained(config, folder=tmp_path)
    loaded = experiments.trained(config, folder=tmp_path)
    for a, b in zip(fresh.model.parameters(), loaded.model.parameters()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    other = tmp_path / "other"
    again = experiments.trained(config, folder=other)   # from an empty cache: same numbers
    for a, b in zip(fresh.model.parameters(), again.model.parameters()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())


def test_notebook_parameters_are_checked(tmp_path):
    with pytest.raises(ValueError, match="mode must be one of 'paper', 'quick'; got 'fast'"):
        report.check_parameters("fast", 0, tmp_path / "out")
    with pytest.raises(ValueError, match="seed must be an integer in \\[0, inf\\], got -1"):
        report.check_parameters("paper", -1, tmp_path / "out")
    with pytest.raises(ValueError, match="out_dir's parent folder must exist"):
        report.check_parameters("paper", 0, tmp_path / "missing" / "out")


def test_claims_fail_loudly_only_when_unexpected(capsys):
    claims = report.Claims("paper")
    claims.paper.add("a", True)
    claims.paper.add("b", False, expected=False)
    claims.finish()
    claims.ours.add("c", False, detail="L/p 0.09")
    with pytest.raises(AssertionError, match="c: fails, expected holds \\(L/p 0.09\\)"):
        claims.finish()
    quick = report.Claims("quick")
    quick.ours.add("c", False)
    quick.finish()  # quick runs only report, and say so
    assert "verdicts are not meaningful" in capsys.readouterr().out


def test_a_claim_within_its_noise_of_the_threshold_is_inconclusive(capsys):
    claims = report.Claims("paper")
    assert claims.paper.compare("below naive", 0.0700, 0.0833, 0.001, above=False) == "holds"   # 13.3 sd
    assert claims.paper.compare("close call", 0.0820, 0.0833, 0.001, above=False) == "inconclusive"  # 1.3
    assert claims.ours.compare("above", 0.0700, 0.0833, 0.001, above=True) == "fails"          # -13.3
    margins = [row["margin"] for row in claims.as_list()]
    assert margins == pytest.approx([13.3, 1.3, -13.3])
    with pytest.raises(AssertionError, match="close call: inconclusive"):
        claims.finish()
    capsys.readouterr()
    claims.table()   # the numbers, for an unchecked cell: every verdict with its margin
    assert "margin +1.3 sd" in capsys.readouterr().out
    with pytest.raises(ValueError, match="noise must be a number > 0"):
        claims.paper.compare("no noise", 1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="expected must be one of"):
        claims.paper.add("typo", True, expected="hold")
    with pytest.raises(TypeError, match="say whose claim it is"):
        claims.add("nobody's", True)
    assert [row["source"] for row in claims.as_list()] == ["paper", "paper", "ours"]


def _hammer(folder, seed):
    import numpy as np
    from cclib import cache as c
    for i in range(30):
        c.save("shared", {"s": 1}, {"a": np.full(20_000, float(i % 3))}, folder, code="test")


def test_two_writers_at_once_leave_a_valid_entry(tmp_path):
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(tmp_path, s)) for s in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    hit = cache.load("shared", {"s": 1}, tmp_path, code=CODE)
    # the npz and its json may come from different writers, but every write of this entry
    # stores valid content, so a load either verifies or (on a mismatched pair) is discarded
    if hit is not None:
        assert hit["a"].shape == (20_000,) and len(set(hit["a"].tolist())) == 1
    assert not list(tmp_path.glob(".*.tmp"))


def test_cached_loss_curve_equals_a_direct_evaluation(tmp_path):
    from cclib import evaluate
    run = experiments.trained(_spec(seeds=[0], steps=10), folder=tmp_path)
    first = evaluations.loss_curve(run, [0.01, 0.5], 256, folder=tmp_path)
    again = evaluations.loss_curve(run, [0.01, 0.5], 256, folder=tmp_path)
    direct = evaluate.loss_curve(run.model, run.mixing, [0.01, 0.5], 256)
    assert np.array_equal(first.loss, direct.loss) and np.array_equal(again.loss, direct.loss)
    assert len(list(tmp_path.glob("curve-*.npz"))) == 1


def test_seed_noise_combines_the_seed_spread_with_an_estimation_error():
    per_seed = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])          # (seeds, points)
    assert np.allclose(report.seed_noise(per_seed), [2.0, 1e-12])
    assert np.allclose(report.seed_noise(per_seed, se=[0.0, 0.5]), [2.0, 0.5])
    assert np.allclose(report.seed_noise(per_seed[:1], se=[0.3, 0.4]), [0.3, 0.4])   # one seed: se only


def test_provenance_names_versions_and_no_path():
    made = report.provenance()
    assert made["torch"] and made["numpy"] and made["cpu"] and len(made["code_fingerprint"]) == 20
    assert "/" not in str(made["git_commit"])


def test_embedding_mixing_with_one_width_per_instance_matches_the_residual_models():
    """Fig. 12's MLPs: instance i gets the mixing of the residual model with its width and seed."""
    from cclib import paper_runs
    mlp = experiments.build_mixing(paper_runs.embed_width_mlp([100, 300, 300], [0, 0, 1]))
    assert np.array_equal(mlp.pattern[:1].numpy(), experiments.build_mixing(paper_runs.embed_width(100, [0])).pattern.numpy())
    assert np.array_equal(mlp.pattern[1:].numpy(), experiments.build_mixing(paper_runs.embed_width(300, [0, 1])).pattern.numpy())
    with pytest.raises(ValueError, match=r"model.d_embed: Input should be a valid integer \(got \[100, 300\]\)"):
        RunSpec(seeds=[0, 1], model=dict(kind="residual", d_embed=[100, 300]), inputs=dict(kind="one_active"))
    with pytest.raises(ValueError, match=r"mixing.d_embed must be one value or one per seed \(2\), got 3"):
        RunSpec(seeds=[0, 1], mixing=dict(kind="embedding", d_embed=[100, 200, 300]), inputs=dict(kind="one_active"))


def _spec(seeds, steps, **fields):
    return RunSpec(seeds=seeds, mixing=dict(kind="asymmetric", sigma=0.02),
                   inputs=dict(kind="bernoulli", p=0.05), optim=dict(steps=steps), **fields)


def test_the_thread_count_is_keyed_when_the_key_is_made(monkeypatch):
    """$CCLIB_THREADS set after import (say inside a notebook) still gives its results their own key."""
    monkeypatch.delenv("CCLIB_THREADS", raising=False)
    one = cache.config_key({"s": 1}, CODE)
    monkeypatch.setenv("CCLIB_THREADS", "2")
    assert cache.config_key({"s": 1}, CODE) != one


def test_a_run_is_keyed_by_its_engine(tmp_path):
    fast = experiments.trained(_spec([0], 5), folder=tmp_path)
    general = experiments.trained(_spec([0], 5), engine="general", folder=tmp_path)
    assert fast.compute == dict(engine="fast", device="cpu") and general.compute["engine"] == "general"
    assert fast.code == sweep.run_code("fast") != general.code == sweep.run_code("general")
    assert len(list(tmp_path.glob("trained-*.npz"))) == 2


def test_a_saved_run_loads_back_without_pickle(tmp_path):
    import torch
    run = experiments.trained(_spec([0, 1], 5, model=dict(activation="gelu", bias=True)), folder=tmp_path)
    run.save(tmp_path / "saved")
    with pytest.raises(FileExistsError, match="saved"):
        run.save(tmp_path / "saved")
    back = experiments.load_run(tmp_path / "saved")
    assert back.spec == run.spec and back.compute == run.compute and back.code == run.code
    assert np.array_equal(back.loss, run.loss)
    # one layout: the saved weights are the cache entry's arrays, byte for byte
    entry = sweep.RunJob(run.spec, None, None)
    npz, _ = cache.entry_paths("trained", entry.config, entry.code, tmp_path)
    assert (tmp_path / "saved" / "weights.npz").read_bytes() == npz.read_bytes()
    for (name, a), b in zip(run.model.named_parameters(), back.model.parameters()):
        assert torch.equal(a, b), name
    assert back.model.activation == "gelu" and back.model.bias
    # a state_dict needs no pickle either
    torch.save(run.model.state_dict(), tmp_path / "w.pt")
    state = torch.load(tmp_path / "w.pt", weights_only=True)
    assert set(state) == {"W_in", "W_out", "b_in", "b_out"}
    assert not list(tmp_path.glob(".saved*"))


def test_the_default_device_is_keyed_when_the_key_is_made(monkeypatch):
    """A computation given no device runs on $CCLIB_DEVICE: its results get that device's key."""
    monkeypatch.delenv("CCLIB_DEVICE", raising=False)
    cpu = cache.config_key({"s": 1}, CODE)
    monkeypatch.setenv("CCLIB_DEVICE", "cuda:0")
    assert cache.config_key({"s": 1}, CODE) != cpu
    monkeypatch.setenv("CCLIB_DEVICE", "cpu")
    assert cache.config_key({"s": 1}, CODE) == cpu
