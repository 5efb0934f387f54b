"""The paper's named runs, in one place, so that every notebook that uses a run trains or loads the
same models (Fig. 3 and Fig. 4 reuse Fig. 2's, Fig. 8 reuses Fig. 7's, Fig. 9 reuses Fig. 5b's).

Each function returns a configuration for :func:`cclib.experiments.trained`; ``quick=True`` gives
the 300-step smoke version of the same run. The settings are the published code's: step counts
per figure, the diagonal of M kept unless a figure says otherwise.
"""
from __future__ import annotations

import numpy as np

from .experiments import run_config

QUICK_STEPS = 300
#: Fig. 2's training probabilities.
SPARSITY_P = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)

#: Beyond the published 0.08, where the exactly-one-active sweep is cheap enough to go on.
SWEEP_EXTENSION = (0.09, 0.1, 0.12, 0.14, 0.16)


def sweep_sigmas(quick: bool = False, extended: bool = False) -> np.ndarray:
    """Fig. 5b's sigma grid: linspace(0, 0.08, 41) (9 points in quick mode), and with
    ``extended`` the larger sigmas of :data:`SWEEP_EXTENSION` after it."""
    grid = np.linspace(0, 0.08, 9 if quick else 41)
    return np.concatenate([grid, SWEEP_EXTENSION]) if extended else grid


def sparsity_regime(p: float, seeds: list[int], quick: bool = False) -> dict:
    """Fig. 2 (and 3, 4): random asymmetric M, sigma 0.02, zero diagonal, Bernoulli inputs at p,
    steps matched to 10,000 non-empty batches. One instance per seed."""
    return run_config(seeds=seeds, sigma=0.02, kind="asymmetric", zero_diagonal=True, p=p,
                      steps=QUICK_STEPS if quick else None)


def directions(seeds: list[int], quick: bool = False) -> dict:
    """Figs. 7 and 8: random asymmetric M, sigma 0.03, diagonal kept, p = 0.01, 20,000 steps.
    One instance per seed."""
    return run_config(seeds=seeds, sigma=0.03, kind="asymmetric", p=0.01,
                      steps=QUICK_STEPS if quick else 20_000)


def sigma_sweep(kind: str, inputs: str, seeds: list[int], quick: bool = False) -> dict:
    """Fig. 5b (and 9): one instance per (seed, sigma), seed-major; diagonal kept; 10,000 steps.

    inputs='bernoulli' trains at p = 0.01 (the published sweep, sigma up to 0.08); 'one_active'
    on exactly one active input per sample (the input distribution of Fig. 9's SNMF comparison),
    its grid extended to sigma = 0.16 so that the rise above naive can be seen.
    """
    sigmas = sweep_sigmas(quick, extended=inputs == "one_active")
    p = 0.01 if inputs == "bernoulli" else None
    return run_config(seeds=np.repeat(seeds, len(sigmas)), sigma=np.tile(sigmas, len(seeds)),
                      kind=kind, inputs=inputs, p=p, steps=QUICK_STEPS if quick else 10_000)


#: Fig. 12's embedding widths (beyond the paper), and the three of its quick version.
EMBED_WIDTHS = (100, 150, 200, 300, 500, 1000, 2000, 5000, 10_000)
EMBED_WIDTHS_QUICK = (100, 300, 1000)


def embed_width_seeds(width: int, seeds: list[int]) -> list[int]:
    """Fig. 12's seeds at one width: all of them up to 1000, the first alone beyond (the residual
    model's cost grows with the width: ~80 CPU-s per seed at 10,000)."""
    return list(seeds) if width <= 1000 else list(seeds[:1])


def embed_width(width: int, seeds: list[int], quick: bool = False) -> dict:
    """Fig. 12: Braun et al.'s residual model at embedding width ``width``. Bernoulli inputs at
    p = 0.01, 10,000 steps, one instance per seed."""
    return run_config(seeds=seeds, model="residual", d_embed=width, p=0.01,
                      steps=QUICK_STEPS if quick else 10_000)


def embed_width_mlp(widths: list[int], seeds: list[int], quick: bool = False) -> dict:
    """Fig. 12: the simplified MLP trained on the mixing -(W_E W_E^T - I) of the residual model
    with the same width and seed (the same W_E), one instance per (width, seed) pair: widths and
    seeds are given pair by pair. Bernoulli inputs at p = 0.01, 10,000 steps."""
    return run_config(seeds=seeds, kind="embedding", sign=-1, d_embed=widths, p=0.01,
                      steps=QUICK_STEPS if quick else 10_000)
