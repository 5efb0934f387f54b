"""Parallel work on joblib's backends: real worker processes, the same bits, no worker left behind."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import joblib
import numpy as np
import pytest

from cclib import experiments, mixing
from cclib.parallel import run_tasks
from cclib.spec import RunSpec


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_errors_are_raised_and_the_workers_recover():
    with pytest.raises(ValueError, match="math domain error"):
        run_tasks(math.sqrt, [(4.0,), (-1.0,), (9.0,)], costs=[1, 1, 1], workers=2)
    assert run_tasks(math.sqrt, [(4.0,), (9.0,)], costs=[1, 1], workers=2) == [2.0, 3.0]


def test_tasks_run_in_two_worker_processes_and_report_each_as_it_ends():
    finished = []
    pids = run_tasks(_pid_after, [(1.0,)] * 4, costs=[1, 4, 2, 3], workers=2,
                     on_done=lambda i, result, cpu: finished.append(i))
    # in worker processes, not this one, more than one of them; loky may replace a worker between
    # two tasks (its memory-leak guard restarts a worker that grew, seen on CI), so not exactly two
    assert len(set(pids)) >= 2 and os.getpid() not in pids
    assert sorted(finished) == [0, 1, 2, 3]


def test_the_threading_backend_is_refused():
    with joblib.parallel_config(backend="threading"):
        with pytest.raises(ValueError, match="joblib backend 'threading'"):
            run_tasks(math.sqrt, [(4.0,), (9.0,)], costs=[1, 1])


def test_a_bad_worker_count_is_refused_where_it_enters(tmp_path):
    spec = RunSpec(seeds=[0], inputs=dict(kind="one_active"), optim=dict(steps=10))
    for bad, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError)):
        with pytest.raises(error, match="workers"):
            experiments.trained_many([spec], workers=bad, folder=tmp_path)
    assert not list(tmp_path.iterdir())  # refused before any training or cache entry


# A caller without a main guard: it starts two workers (a 16-instance run is two shards), and the
# workers must not re-run it (it would print twice, or recurse).
UNGUARDED = textwrap.dedent("""
    import os, time
    from cclib import mixing
    from cclib.models import MLP
    from cclib.parallel import run_tasks
    from cclib.train import train

    def pid_after(seconds):
        time.sleep(seconds)
        return os.getpid()

    seeds = list(range(16))
    result = train(MLP(16, seeds=seeds), mixing.clean(n_instances=16), p=0.01, steps=30, seeds=seeds,
                   workers=2)
    pids = run_tasks(pid_after, [(1.0,)] * 4, [1] * 4, workers=2)
    print("trained", result.loss.shape[0], "workers", len(set(pids) - {os.getpid()}))
""")


def test_a_script_without_a_main_guard_starts_two_workers(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text(UNGUARDED)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "trained 30 workers 2"


def test_a_jupyter_kernel_starts_two_workers():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(UNGUARDED)])
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert text.strip() == "trained 30 workers 2"


# Workers write their pid to a file, then compute for a long time.
LONG = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from cclib.parallel import run_tasks

    def work(folder):
        Path(folder, str(os.getpid())).touch()
        time.sleep(120)

    run_tasks(work, [(sys.argv[1],)] * 2, [1, 1], workers=2)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has ended
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "parent-killed"])
def test_no_worker_outlives_an_interrupted_or_killed_caller(tmp_path, sig):
    script = tmp_path / "long.py"
    script.write_text(LONG)
    pids = tmp_path / "pids"
    pids.mkdir()
    caller = subprocess.Popen([sys.executable, str(script), str(pids)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(list(pids.iterdir())) < 2:
        assert time.time() < deadline and caller.poll() is None, "the workers did not start"
        time.sleep(0.1)
    workers = [int(p.name) for p in pids.iterdir()]
    caller.send_signal(sig)
    caller.wait(timeout=60)
    deadline = time.time() + 20
    while any(_alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _specs(steps: int = 60) -> list[RunSpec]:
    many = RunSpec(seeds=list(range(16)), mixing=dict(kind="asymmetric", sigma=0.02),
                   inputs=dict(kind="bernoulli", p=[0.01] * 14 + [0.002, 0.3]), optim=dict(steps=steps))
    one_active = RunSpec(seeds=list(range(9)), mixing=dict(kind="symmetric", sigma=0.03),
                         inputs=dict(kind="one_active"), optim=dict(steps=steps))
    p01 = dict(kind="bernoulli", p=0.01)
    start = RunSpec(seeds=[3], mixing=dict(kind="asymmetric", sigma=0.02), inputs=p01, optim=dict(steps=steps))
    then = RunSpec(seeds=[4], mixing=dict(kind="clean"), inputs=p01, init=start, optim=dict(steps=steps))
    gelu = RunSpec(seeds=[0, 1], model=dict(activation="gelu", bias=True), mixing=dict(kind="clean"),
                   inputs=p01, optim=dict(steps=steps))
    return [many, then, one_active, many, gelu]


def _arrays(runs) -> list[np.ndarray]:
    return [a for run in runs for a in [*(p.detach().numpy() for p in run.model.parameters()),
                                       np.nan_to_num(run.loss, nan=-1.0), run.mixing.sigma.numpy()]]


def _same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_sweep_equals_its_runs_trained_one_by_one(tmp_path, monkeypatch):
    """A sweep on two workers (its shards scheduled together) gives every bit of each run trained
    alone on one worker; a run started from another trains after it; a repeated spec is
    trained once; a second sweep reads everything from the cache."""
    specs = _specs()
    sweep = experiments.trained_many(specs, folder=tmp_path / "sweep", workers=2)
    alone = [experiments.trained_many([s], folder=tmp_path / "alone", workers=1)[0] for s in specs]
    assert _same(_arrays(sweep), _arrays(alone))
    assert [run.compute["engine"] for run in sweep] == ["fast", "fast", "fast", "fast", "general"]
    assert len(list((tmp_path / "sweep").glob("trained-*.npz"))) == 5  # 4 distinct runs + the init
    monkeypatch.setenv("CCLIB_CACHE_ONLY", "1")
    assert _same(_arrays(experiments.trained_many(specs, folder=tmp_path / "sweep")), _arrays(sweep))
    with pytest.raises(RuntimeError, match="CCLIB_CACHE_ONLY is set and 1 run"):
        experiments.trained(_specs(steps=61)[2], folder=tmp_path / "sweep")


def test_a_sweep_on_a_dask_cluster_gives_the_same_bits(tmp_path):
    distributed = pytest.importorskip("distributed")
    specs = _specs()
    local = experiments.trained_many(specs, folder=tmp_path / "local", workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with joblib.parallel_config(backend="dask"):
            on_dask = experiments.trained_many(specs, folder=tmp_path / "dask")
            ran_on = run_tasks(_pid_after, [(1.0,)] * 4, [1] * 4)
        workers = client.run(os.getpid)  # the workers' pids, by address
    assert set(ran_on) == set(workers.values()) and len(workers) == 2 and os.getpid() not in ran_on
    assert _same(_arrays(on_dask), _arrays(local))


@pytest.mark.parametrize("build", [
    lambda: mixing.low_rank_mixing([0.01] * 3, 50, seeds=[0, 1, 2]),
    lambda: mixing.embedding_mixing(mixing.embedding_matrix(100, 1000, [0, 1])),
], ids=["low_rank", "embedding"])
def test_mixings_do_not_depend_on_the_callers_thread_count(build):
    """A mixing is built in whichever process calls the sweep (a notebook kernel, the runner,
    a script) with that process's torch threads; it must come out the same bits (a QR on two
    threads once changed Fig. 11's low-rank mixings, and so its numbers)."""
    import torch
    before = torch.get_num_threads()
    try:
        built = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            built.append(build().pattern)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(*built)
