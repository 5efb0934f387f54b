"""Both cores, the same numbers: a run's instances split into shards by a fixed rule.

A run of K instances is cut into contiguous shards by :func:`shard_plan`, which looks only at K
and the input kind, never at the machine. Each shard is trained on one thread, by the same code,
whether the shards run one after another in this process or side by side in worker processes
(:func:`run_shards`). So the trained numbers do not depend on the number of workers (a test
trains one run with 1 and with 2 workers and compares every bit); only the wall time does.

$CCLIB_WORKERS sets the number of worker processes (default: every core this process may use).
paper-code/make_figures.py sets it to cores // jobs for each notebook, so that notebooks running
side by side do not oversubscribe the cores.
"""
from __future__ import annotations

import atexit
import importlib
import os
import pickle
import selectors
import subprocess
import sys
import traceback
from typing import Callable, Sequence

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
    """Worker processes to train on: $CCLIB_WORKERS, else :func:`cpu_count`."""
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


class _Worker:
    """A Python process running :func:`_serve`: it reads (function, args) pickles on its stdin and
    writes (ok, result or traceback) pickles on its stdout. Plain subprocesses rather than
    multiprocessing: those re-import the caller's __main__ in each worker (a script without an
    ``if __name__ == "__main__"`` guard would train again there), or fork a process that may have
    used OpenMP threads, which can hang."""

    def __init__(self):
        env = dict(os.environ, CCLIB_WORKERS="1")  # a worker never starts workers of its own
        self.process = subprocess.Popen([sys.executable, "-m", "cclib._workers"], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(self, fn: Callable, args: tuple) -> None:
        pickle.dump((fn.__module__, fn.__qualname__, args), self.process.stdin, protocol=5)
        self.process.stdin.flush()

    def receive(self):
        try:
            ok, value = pickle.load(self.process.stdout)
        except EOFError:
            raise RuntimeError(f"a cclib worker process (pid {self.process.pid}) ended unexpectedly "
                               f"(exit code {self.process.poll()}); its error is on stderr") from None
        if not ok:
            raise RuntimeError(f"a cclib worker process failed:\n{value}")
        return value

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            self.process.stdin.close()
        self.process.wait()


_pool: list[_Worker] = []


def _shutdown(kill: bool = False) -> None:
    while _pool:
        _pool.pop().stop(kill)


atexit.register(_shutdown)


def run_shards(fn: Callable, tasks: Sequence[tuple], costs: Sequence[float], workers: int,
               on_done: Callable[[int], None] | None = None) -> list:
    """[fn(*task) for task in tasks], computed on up to ``workers`` processes (here, in order,
    when workers is 1 or there is one task). ``fn`` must be a module-level function. Tasks start
    in decreasing ``costs`` so that the longest do not come last; on_done(i) is called as task i
    finishes. The worker processes are kept for later calls (each costs ~2 s to start)."""
    if workers <= 1 or len(tasks) <= 1:
        results = []
        for i, task in enumerate(tasks):
            results.append(fn(*task))
            if on_done is not None:
                on_done(i)
        return results
    workers = min(workers, len(tasks))
    while len(_pool) < workers:
        _pool.append(_Worker())
    queue = sorted(range(len(tasks)), key=lambda i: -costs[i])
    results: list = [None] * len(tasks)
    running = {}
    try:
        with selectors.DefaultSelector() as selector:
            for worker in _pool[:workers]:
                if queue:
                    i = queue.pop(0)
                    worker.send(fn, tasks[i])
                    running[worker] = i
                    selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
            while running:
                for key, _ in selector.select():
                    worker = key.data
                    i = running.pop(worker)
                    results[i] = worker.receive()
                    if on_done is not None:
                        on_done(i)
                    if queue:
                        j = queue.pop(0)
                        worker.send(fn, tasks[j])
                        running[worker] = j
                    else:
                        selector.unregister(worker.process.stdout)
    except BaseException:
        _shutdown(kill=True)  # interrupted or failed: no worker is left computing a stale task
        raise
    return results


def _exit_with_parent() -> None:
    """Stop this worker within a second of its parent's death, even in the middle of a task."""
    import threading
    import time

    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _serve() -> None:
    """The worker's loop: answer each (module, function, args) pickle on stdin until it closes."""
    _exit_with_parent()
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the task prints goes to stderr, not into the answers
    while True:
        try:
            module, name, args = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        try:
            fn = importlib.import_module(module)
            for part in name.split("."):
                fn = getattr(fn, part)
            answer = (True, fn(*args))
        except Exception:
            answer = (False, traceback.format_exc())
        pickle.dump(answer, out, protocol=5)
        out.flush()


if __name__ == "__main__":
    _serve()
