"""What every figure notebook does first: check its papermill parameters, set the plotting style,
and derive the settings that follow from its mode."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import plotting, report
from .evaluate import p_grid
from .paper_runs import paper_seeds


@dataclass(frozen=True)
class Setup:
    """out: the output folder (created); quick: mode 'quick' (a smoke run); seeds: the seeds of the
    multi-seed runs (:func:`cclib.paper_runs.paper_seeds`); p_eval: the evaluation grid (100
    log-spaced p from 1e-3 to 1, 20 in quick mode); samples: Monte-Carlo draws per stratum of a
    loss curve (4096, 512 in quick mode)."""

    out: Path
    quick: bool
    seeds: list[int]
    p_eval: np.ndarray
    samples: int


def setup(mode: str, seed: int, out_dir: str | Path | None) -> Setup:
    """Check a notebook's parameters (:func:`cclib.report.check_parameters`), set the style, and
    return its :class:`Setup`."""
    out = report.check_parameters(mode, seed, out_dir)
    plotting.use_style()
    quick = mode == "quick"
    return Setup(out, quick, paper_seeds(seed, quick), p_grid(20 if quick else 100), 512 if quick else 4096)
