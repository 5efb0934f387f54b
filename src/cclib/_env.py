"""The environment variables cclib reads, all here, each read when it is needed (not at import).

CCLIB_DEVICE    the torch device to compute on when a call names none (default 'cpu')
CCLIB_ENGINE    the training engine when a call names none: 'auto', 'fast' or 'general'
CCLIB_WORKERS   local worker processes a training sweep runs on (default: every core)
CCLIB_THREADS   threads one computation uses (default 1; see cclib._threads)
CCLIB_EVAL_SEED the seed of the Monte-Carlo evaluations when a call names none (default 0)
CCLIB_CACHE     the local cache's folder (default: the checkout's data/)
CCLIB_STORE     the store's folder (default: the checkout's data/store/)
CCLIB_CACHE_ONLY  '1': a run that is not stored or cached is refused instead of trained
CCLIB_ALLOW_MODIFIED  '1': make store, make notebooks, make reproduce and make bench run on
                uncommitted code, their results marked unpublishable (cclib.report)
CCLIB_EVALUATIONS_INTO  'store': computed evaluations are written into the store (make store),
                not the local cache (cclib.evaluations)
CCLIB_EVALUATIONS_LOG   a file to which each evaluation appends one line: 'read' or 'computed'
                and its file's name
"""
from __future__ import annotations

import os

VARIABLES = ("CCLIB_DEVICE", "CCLIB_ENGINE", "CCLIB_WORKERS", "CCLIB_THREADS", "CCLIB_EVAL_SEED",
             "CCLIB_CACHE", "CCLIB_STORE", "CCLIB_CACHE_ONLY", "CCLIB_ALLOW_MODIFIED",
             "CCLIB_EVALUATIONS_INTO", "CCLIB_EVALUATIONS_LOG")


def get(name: str) -> str | None:
    """The value of the variable ``name`` (one of :data:`VARIABLES`), None when unset or empty."""
    if name not in VARIABLES:
        raise ValueError(f"name must be one of {', '.join(VARIABLES)}; got {name!r}")
    return os.environ.get(name) or None
