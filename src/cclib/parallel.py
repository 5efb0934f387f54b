"""Parallel work by configuration: shards of runs on the active joblib backend.

A run of K instances is cut into contiguous shards by :func:`shard_plan`, which looks only at K
and the input kind, never at the machine. Each shard is trained on one thread by the same code
wherever it runs: in this process, in a joblib/loky worker process on this machine, or on a Dask
worker elsewhere. So the trained numbers do not depend on where or on how many workers they were
computed (tests compare every bit for 1 and 2 workers and for a Dask cluster); only the wall time
does.

Where the shards run is joblib's configuration, as for scikit-learn:

* by default, loky worker processes on this machine, as many as $CCLIB_WORKERS (default: every
  core this process may use). loky starts workers that do not re-run the caller's ``__main__``
  (scripts without a main guard and notebooks work), keeps them for later calls, and stops them
  if the caller dies or is interrupted;
* ``with joblib.parallel_config(n_jobs=4):`` four of them;
* ``with joblib.parallel_config(backend="dask"):`` with a ``dask.distributed.Client`` made
  before: the workers of that Dask cluster (``pip install -e ".[cluster]"``; README).

The threading backend is refused: a shard sets torch's thread count, which is one setting for the
whole process, so shards side by side in threads would change each other's arithmetic.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Sequence

import joblib
from joblib.parallel import get_active_backend

from ._checks import check_choice

MAX_SHARDS = 8
#: A shard holds at least this many instances (or all of a smaller run): per instance, both the
#: Bernoulli and the exactly-one-active step run ~1.4x faster on 8 instances than on 1.
MIN_SHARD = 8


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count() -> int:
    """Local worker processes to train on: $CCLIB_WORKERS, else :func:`cpu_count`."""
    value = os.environ.get("CCLIB_WORKERS")
    if value is None or value == "":
        return cpu_count()
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ValueError(f"CCLIB_WORKERS must be an integer in [1, inf], got {value!r}")
    return workers


def shard_plan(n_instances: int, inputs: str) -> list[list[int]]:
    """The instances of a K-instance run as contiguous shards of near-equal size: at most
    MAX_SHARDS of them, of at least MIN_SHARD instances each (one shard when K is smaller).
    ``inputs`` is part of the rule's signature so that it may differ by input kind; today it
    does not."""
    check_choice("inputs", inputs, ("bernoulli", "one_active"))
    n_shards = max(1, min(MAX_SHARDS, n_instances // MIN_SHARD))
    size, extra = divmod(n_instances, n_shards)
    bounds = [0]
    for s in range(n_shards):
        bounds.append(bounds[-1] + size + (s < extra))
    return [list(range(a, b)) for a, b in zip(bounds, bounds[1:])]


def n_jobs(workers: int | None = None) -> int:
    """How many workers :func:`run_tasks` asks the active backend for: ``workers`` if given; else
    the n_jobs of the active ``joblib.parallel_config``; else :func:`worker_count` on the default
    (loky) backend, and all of the cluster (-1) on any other backend."""
    backend, active = get_active_backend()
    if type(backend).__name__ == "ThreadingBackend":
        raise ValueError("joblib backend 'threading' cannot train cclib shards side by side (torch's "
                         "thread count is one setting per process); use 'loky' (the default), "
                         "'multiprocessing', 'dask' or n_jobs=1")
    if workers is not None:
        return workers
    if active is not None:
        return active
    return worker_count() if type(backend).__name__ == "LokyBackend" else -1


def _timed(fn: Callable, args: tuple) -> tuple[object, float]:
    """fn(*args) and the CPU seconds this process spent on it."""
    start = time.process_time()
    result = fn(*args)
    return result, time.process_time() - start


def run_tasks(fn: Callable, tasks: Sequence[tuple], costs: Sequence[float], workers: int | None = None,
              on_done: Callable[[int, object, float], None] | None = None) -> list:
    """[fn(*task) for task in tasks], on the active joblib backend with :func:`n_jobs` workers
    (in this process, in order, when that is 1 or there is one task). Tasks start in decreasing
    ``costs``, so that the longest do not come last; ``on_done(i, result, cpu_seconds)`` is
    called in this process as task i finishes. ``fn`` and the tasks must pickle (loky uses cloudpickle, so
    functions defined in a notebook do)."""
    jobs = n_jobs(workers)
    if jobs == 1 or len(tasks) <= 1:
        results = []
        for i, task in enumerate(tasks):
            result, cpu = _timed(fn, task)
            results.append(result)
            if on_done is not None:
                on_done(i, result, cpu)
        return results
    order = sorted(range(len(tasks)), key=lambda i: -costs[i])
    # one task per dispatch, handed out in this order as workers free up (largest remaining first)
    parallel = joblib.Parallel(n_jobs=jobs, batch_size=1, return_as="generator_unordered")
    results: list = [None] * len(tasks)
    for i, (result, cpu) in parallel(joblib.delayed(_indexed)(i, fn, tasks[i]) for i in order):
        results[i] = result
        if on_done is not None:
            on_done(i, result, cpu)
    return results


def _indexed(i: int, fn: Callable, args: tuple) -> tuple[int, tuple[object, float]]:
    """A task as a worker runs it: its index, its result and its CPU seconds."""
    _exit_with_parent()
    return i, _timed(fn, args)


_watching = False


def _exit_with_parent() -> None:
    """In a worker process: end it within a second of its parent's death, even in the middle of
    a task (loky workers otherwise notice only when their task ends, minutes later)."""
    global _watching
    if _watching:
        return
    _watching = True
    import threading

    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="cclib-exit-with-parent").start()
