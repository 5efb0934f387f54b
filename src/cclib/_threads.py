"""Single-threaded computation, so that results do not depend on the machine's core count.

A multi-threaded matrix product may split its reduction across threads, which changes the order
of the float additions; over thousands of training steps that changes the trained model. cclib
therefore trains and evaluates on one thread (restoring the caller's setting afterwards) and gets
its parallelism from processes: training shards on several worker processes (cclib.parallel) and
several notebooks at once (paper-code/make_figures.py --jobs).

$CCLIB_THREADS overrides the count: a way to perturb the arithmetic as another machine would,
and see that the conclusions do not hang on the last digits (it is part of the cache key).
"""
from __future__ import annotations

import functools
from typing import Callable

import torch

from . import _env


def compute_threads() -> int:
    """Threads cclib computes on: $CCLIB_THREADS, else 1."""
    return int(_env.get("CCLIB_THREADS") or "1")


def single_threaded(fn: Callable) -> Callable:
    """Run ``fn`` with torch.set_num_threads(compute_threads()), restoring the count afterwards."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = torch.get_num_threads()
        torch.set_num_threads(compute_threads())
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapper
