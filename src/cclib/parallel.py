"""Where and when training tasks run: on the active joblib backend, in an order of our choosing.

A run is cut into tasks by its engine (the fast engine's fixed shard rule,
:func:`cclib.fast.shard_plan`, looks only at K and the input kind, never at the machine; the
general engine's run is one task). Each task is trained on one thread by the same code wherever
it runs: in this process, in a joblib/loky worker process on this machine, or on a Dask worker
elsewhere. So the trained numbers do not depend on where, in which order or on how many workers
they were computed (tests compare every bit for 1 and 2 workers and for a Dask cluster); only the
wall time does. That is why this module is in no trained run's key (:mod:`cclib.cache`): it
decides where and when, never what.

* :func:`run_tasks`: any function over a list of tasks, longest first, each result reported as
  it ends;
* :func:`run_plans`: the tasks of many training plans together, with one progress bar; each run
  reported the moment its last task ends, and a run started from another run's weights
  following it task by task (:func:`chainable`).

Where the tasks run is joblib's configuration, as for scikit-learn:

* by default, loky worker processes on this machine, as many as $CCLIB_WORKERS (default: every
  core this process may use). loky starts workers that do not re-run the caller's ``__main__``
  (scripts without a main guard and notebooks work), keeps them for later calls, and stops them
  if the caller dies or is interrupted;
* ``with joblib.parallel_config(n_jobs=4):`` four of them;
* ``with joblib.parallel_config(backend="dask"):`` with a ``dask.distributed.Client`` made
  before: the workers of that Dask cluster (``pip install -e ".[cluster]"``; README).

The threading backend is refused: a task sets torch's thread count, which is one setting for the
whole process, so tasks side by side in threads would change each other's arithmetic.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Callable, Sequence

import joblib
from joblib.parallel import get_active_backend
from tqdm import tqdm

from . import _env


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count() -> int:
    """Local worker processes to train on: $CCLIB_WORKERS, else :func:`cpu_count`."""
    value = _env.get("CCLIB_WORKERS")
    if value is None:
        return cpu_count()
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ValueError(f"CCLIB_WORKERS must be an integer in [1, inf], got {value!r}")
    return workers


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


def chainable(first, then) -> bool:
    """Whether plan ``then`` (a run that starts from the weights ``first`` trains) can follow
    ``first`` task by task: both cut the instances into the same shards, so that each of
    ``then``'s tasks needs only the same task of ``first``."""
    return first.shards == then.shards and first.local == then.local


def run_plans(plans: list, workers: int | None = None, progress: bool = False,
              desc: str = "train", stats: dict | None = None,
              speed: Sequence[float] | None = None, chains: Sequence[Sequence[int]] = (),
              on_finish: Callable[[int, tuple], None] | None = None) -> list[tuple]:
    """Run the tasks of many training plans (:class:`~cclib.fast.FastPlan`,
    :class:`~cclib.general.GeneralPlan`) together: those that may run anywhere on the active
    joblib backend, largest first (:func:`run_tasks`), then those that must run in this process (a
    GPU's) one after another; one bar over all of their expected work, with the runs finished so
    far and an ETA. Returns what each plan's ``finish`` returns, (loss history, mixing after
    training), once its tasks' results are written into its model.

    speed: each plan's expected seconds per model-step (default: equal), to start the longest
    tasks first. chains: lists of plan indices [a, b, ...] in which each plan starts from the
    weights the one before it trains (:func:`chainable` must hold for each pair): task t of a
    chain trains task t of each of its plans in turn, in one worker, each from the parameters the
    one before it returned (its ``start``), so that a run starts as soon as the shard it starts
    from is trained. on_finish(p, result) is called in this process the moment plan p's last task
    ends (``cclib.experiments`` stores each run there, so an interrupted sweep keeps every run
    finished before it). stats, if given, receives the tasks' count, their CPU seconds
    (``task_cpu_seconds``) and the wall seconds (``wall_seconds``)."""
    chained = {p for chain in chains for p in chain}
    chains = [list(chain) for chain in chains] + [[p] for p in range(len(plans)) if p not in chained]
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            if not chainable(plans[a], plans[b]):
                raise ValueError(f"plans {a} and {b} cannot be chained: their shards differ")
    # one task per (chain, shard): the shard's task of each plan of the chain, in turn
    units = [(chain, t) for chain in chains for t in range(len(plans[chain[0]].tasks))]
    single = len(units) == 1  # then here, with the engine's own bar
    anywhere = [u for u, (chain, _) in enumerate(units) if not (plans[chain[0]].local or single)]
    here = [u for u, (chain, _) in enumerate(units) if plans[chain[0]].local or single]
    results = [[None] * len(plan.tasks) for plan in plans]
    finished_runs: list = [None] * len(plans)
    left = [len(plan.tasks) for plan in plans]
    work = [sum(plans[p].costs[t] * (1.0 if speed is None else speed[p]) for p in chain) for chain, t in units]
    cpu, started = [0.0], time.perf_counter()
    with _progress(sum(work), desc, progress) as bar:
        def finished(u, outputs, seconds):
            cpu[0] += seconds
            chain, t = units[u]
            for p, output in zip(chain, outputs):
                results[p][t] = output
                left[p] -= 1
                if left[p] == 0:
                    finished_runs[p] = plans[p].finish(results[p])
                    results[p] = None  # the shards' arrays now live in the model
                    if on_finish is not None:
                        on_finish(p, finished_runs[p])
            bar.set_postfix_str(f"{sum(n == 0 for n in left)}/{len(plans)} runs", refresh=False)
            bar.update(work[u])

        bar.set_postfix_str(f"0/{len(plans)} runs", refresh=False)
        tasks = [_chain_task([plans[p].tasks[units[u][1]] for p in units[u][0]]) for u in anywhere]
        run_tasks(_call, tasks, [work[u] for u in anywhere], workers,
                  on_done=lambda i, output, seconds: finished(anywhere[i], output, seconds))
        for u in here:
            chain, t = units[u]
            start = time.process_time()
            show = progress and single and plans[chain[0]].engine == "general"  # the engine's own bar
            outputs = _run_chain([plans[p].tasks[t] for p in chain], progress=show)
            finished(u, outputs, time.process_time() - start)
    if stats is not None:
        stats.update(tasks=len(units), task_cpu_seconds=cpu[0], wall_seconds=time.perf_counter() - started)
    return finished_runs


def _chain_task(tasks: list) -> tuple:
    """One (function, args) task that runs ``tasks`` in turn (:func:`_run_chain`)."""
    return (_run_chain, (tasks,))


def _run_chain(tasks: list, progress: bool = False) -> list:
    """Run training tasks (function, args) in turn, each from the trained parameters of the one
    before it: an engine's task takes them as ``start`` and returns its own first, (parameters,
    loss, sigma). The outputs of all of them."""
    outputs = []
    for fn, args in tasks:
        kwargs = dict(start=outputs[-1][0]) if outputs else {}
        if progress:
            kwargs["progress"] = True
        outputs.append(fn(*args, **kwargs))
    return outputs


def _progress(total: float, desc: str, show: bool):
    """The sweep's progress over its expected work: the share done, the runs finished, the time so
    far and the ETA. On a terminal a bar redrawn every 10 s at most (an executed notebook keeps
    each redraw); elsewhere (a log file, CI) one plain line a minute and one at the end."""
    bar_format = "{desc}: {percentage:3.0f}%|{bar:20}| {postfix} [{elapsed}<{remaining}]"
    if not show or sys.stderr.isatty() or "ipykernel" in sys.modules:
        return tqdm(total=total, disable=not show, desc=desc, leave=False, mininterval=10, bar_format=bar_format)
    return tqdm(total=total, desc=desc, file=_Lines(sys.stderr), mininterval=60, ascii=True,
                bar_format="{desc}: {percentage:3.0f}% of the expected work{postfix}, {elapsed} elapsed, "
                           "about {remaining} left")


class _Lines:
    """A file for tqdm that writes each redraw as a line of its own (no carriage returns)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def _call(fn, args):
    return fn(*args)


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
