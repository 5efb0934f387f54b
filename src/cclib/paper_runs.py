"""The paper's runs, in one place: every run a figure notebook trains is built here, so that
notebooks that share a run train or load the same models (Figs. 3, 4 and 15 reuse Fig. 2's, Fig. 8
reuses Fig. 7's, Figs. 9, 12, 14 and 15 reuse Fig. 5b's, Figs. 10 and 15 share the clean runs),
and :func:`registry` lists them all for ``make figures`` to train as one sweep.

Each function returns a :class:`~cclib.spec.RunSpec` for :func:`cclib.experiments.trained`;
``quick=True`` gives the 300-step smoke version of the same run. The settings are the published
code's: step counts per figure, the diagonal of M kept unless a figure says otherwise.
:func:`registry` lists them by name.

Instances are laid out in one documented order wherever a run holds a grid: seed-major, i.e.
instance ``i * len(grid) + j`` is seed i at grid point j (:func:`grid_instances`), so that
``values.reshape(len(seeds), len(grid))`` recovers the grid.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .spec import RunSpec

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


def grid_instances(seeds: Sequence[int], grid: Sequence) -> tuple[list[int], list]:
    """One instance per (seed, grid point), seed-major: (the seeds, the grid values), each of
    length len(seeds) * len(grid)."""
    return ([int(s) for s in np.repeat(np.asarray(seeds), len(grid))],
            [v.item() if hasattr(v, "item") else v for v in np.tile(np.asarray(grid), len(seeds))])


def _optim(quick: bool, steps: int | None) -> dict:
    return dict(steps=QUICK_STEPS if quick else steps)


def sparsity_regime(p: float, seeds: list[int], quick: bool = False, embedding: bool = False) -> RunSpec:
    """Fig. 2 (and 3, 4): random asymmetric M, sigma 0.02, zero diagonal, Bernoulli inputs at p,
    steps matched to 10,000 non-empty batches. One instance per seed. ``embedding``: the paper's
    other variant, the embedding-like M = -(W_E W_E^T - I) of each seed's 1000-wide W_E (its
    diagonal is zero too)."""
    mix = dict(kind="embedding", sign=-1) if embedding else \
        dict(kind="asymmetric", sigma=0.02, zero_diagonal=True)
    return RunSpec(seeds=seeds, mixing=mix, inputs=dict(kind="bernoulli", p=p), optim=_optim(quick, None))


def clean_regime(p: float, seeds: list[int], quick: bool = False) -> RunSpec:
    """Fig. 15 (and 10): Fig. 2's run at p on clean labels (no mixing matrix). One instance per
    seed."""
    return RunSpec(seeds=seeds, mixing=dict(kind="clean"), inputs=dict(kind="bernoulli", p=p),
                   optim=_optim(quick, None))


def directions(seeds: list[int], quick: bool = False) -> RunSpec:
    """Figs. 7 and 8: random asymmetric M, sigma 0.03, diagonal kept, p = 0.01, 20,000 steps.
    One instance per seed."""
    return RunSpec(seeds=seeds, mixing=dict(kind="asymmetric", sigma=0.03),
                   inputs=dict(kind="bernoulli", p=0.01), optim=_optim(quick, 20_000))


def sigma_sweep(kind: str, inputs: str, seeds: list[int], quick: bool = False) -> RunSpec:
    """Fig. 5b (and 9): one instance per (seed, sigma), seed-major; diagonal kept; 10,000 steps.

    inputs='bernoulli' trains at p = 0.01 (the published sweep, sigma up to 0.08); 'one_active'
    on exactly one active input per sample (the input distribution of Fig. 9's SNMF comparison),
    its grid extended to sigma = 0.16 so that the rise above naive can be seen.
    """
    grid = sweep_sigmas(quick, extended=inputs == "one_active")
    all_seeds, sigmas = grid_instances(seeds, grid)
    data = dict(kind="bernoulli", p=0.01) if inputs == "bernoulli" else dict(kind=inputs)
    return RunSpec(seeds=all_seeds, mixing=dict(kind=kind, sigma=sigmas), inputs=data,
                   optim=_optim(quick, 10_000))


def sigma_sweep_more_seeds(kind: str, seed: int = 0, quick: bool = False) -> RunSpec | None:
    """Fig. 5b's Bernoulli sweep at the seeds of :func:`paper_seeds` after the first, on the whole
    published grid; None in quick mode (one seed). The published panel's
    one-seed run (:func:`sigma_sweep` with ``[seed]``, which Figs. 8, 9 and 12 reuse) stays a run
    of its own, so that these seeds add to it without retraining it."""
    more = paper_seeds(seed, quick)[1:]
    return sigma_sweep(kind, "bernoulli", more, quick) if more else None


#: Fig. 12's embedding widths (beyond the paper), and the three of its quick version.
EMBED_WIDTHS = (100, 150, 200, 300, 500, 1000, 2000, 5000, 10_000)
EMBED_WIDTHS_QUICK = (100, 300, 1000)


def embed_width(width: int, seeds: list[int], quick: bool = False) -> RunSpec:
    """Fig. 12: Braun et al.'s residual model at embedding width ``width``. Bernoulli inputs at
    p = 0.01, 10,000 steps, one instance per seed."""
    return RunSpec(seeds=seeds, model=dict(kind="residual", d_embed=width),
                   inputs=dict(kind="bernoulli", p=0.01), optim=_optim(quick, 10_000))


def embed_width_mlp(widths: list[int], seeds: list[int], quick: bool = False) -> RunSpec:
    """Fig. 12: the simplified MLP trained on the mixing -(W_E W_E^T - I) of the residual model
    with the same width and seed (the same W_E), one instance per (width, seed) pair: widths and
    seeds are given pair by pair. Bernoulli inputs at p = 0.01, 10,000 steps."""
    return RunSpec(seeds=seeds, mixing=dict(kind="embedding", sign=-1, d_embed=widths),
                   inputs=dict(kind="bernoulli", p=0.01), optim=_optim(quick, 10_000))


def paper_seeds(seed: int = 0, quick: bool = False) -> list[int]:
    """The seeds of the notebooks' multi-seed runs: ``seed`` and the next two (``seed`` alone in
    quick mode)."""
    return [seed] if quick else [seed, seed + 1, seed + 2]


def _p01(seeds: list[int], steps: int | None, **fields) -> RunSpec:
    return RunSpec(seeds=seeds, inputs=dict(kind="bernoulli", p=0.01), optim=dict(steps=steps), **fields)


def equivalence(seed: int = 0, quick: bool = False) -> dict[str, RunSpec]:
    """Fig. 1: the residual model and the MLP on its mixing with either sign, p = 0.01, 10,000
    steps, three seeds (two in quick mode)."""
    seeds, steps = [seed, seed + 1] if quick else paper_seeds(seed), QUICK_STEPS if quick else 10_000
    return {"residual": _p01(seeds, steps, model=dict(kind="residual")),
            "mlp_minus": _p01(seeds, steps, mixing=dict(kind="embedding", sign=-1)),
            "mlp_plus": _p01(seeds, steps, mixing=dict(kind="embedding", sign=+1))}


def equivalence_matched_init(seed: int = 0, quick: bool = False) -> RunSpec:
    """Fig. 1's minus-sign MLP run with W_out's initial bound scaled by sqrt(n / D), D the residual
    model's embedding width: the bound its folded W_out = W_out W_E^T starts from (its W_out has
    bound sqrt(6 / D); folding through W_E's unit rows keeps the entries' scale), so that the two
    start from the same scale in feature space."""
    runs = equivalence(seed, quick)
    residual, minus = runs["residual"].model, runs["mlp_minus"]
    return RunSpec(seeds=minus.seeds, mixing=minus.mixing, inputs=minus.inputs, optim=minus.optim,
                   model=dict(out_init_scale=math.sqrt(residual.n_features / residual.d_embed)))


def mixing_kinds(seed: int = 0, quick: bool = False) -> dict[str, RunSpec]:
    """Fig. 5a: the MLP at p = 0.01 on four kinds of mixing (the embedding's with either sign,
    none, random asymmetric or symmetric with a trained magnitude from sigma = 0.01), 10,000 steps."""
    seeds, steps = paper_seeds(seed, quick), QUICK_STEPS if quick else 10_000
    kinds = {"embed": dict(kind="embedding", sign=-1), "embed_plus": dict(kind="embedding", sign=+1),
             "clean": dict(kind="clean"),
             "asymmetric": dict(kind="asymmetric", sigma=0.01, trainable_sigma=True),
             "symmetric": dict(kind="symmetric", sigma=0.01, trainable_sigma=True)}
    return {name: _p01(seeds, steps, mixing=mix) for name, mix in kinds.items()}


def transplant(seed: int = 0, quick: bool = False) -> dict[str, RunSpec]:
    """Fig. 6: 10,000 steps on a random asymmetric M (sigma 0.02, seed ``seed``), then 10,000 more
    from those weights on clean labels (data seed ``seed + 1``); 500 + 500 in quick mode."""
    steps = 500 if quick else 10_000
    noisy = _p01([seed], steps, mixing=dict(kind="asymmetric", sigma=0.02))
    return {"noisy": noisy, "clean": _p01([seed + 1], steps, mixing=dict(kind="clean"), init=noisy)}


#: Fig. 10's training probabilities.
CLEAN_P = (0.001, 0.01, 0.1, 1.0)


def clean_runs(seed: int = 0, quick: bool = False) -> dict[float, RunSpec]:
    """Fig. 10: the MLP on clean labels at each p of :data:`CLEAN_P`, three seeds (one in quick
    mode), steps matched to 10,000 non-empty batches: Fig. 15's clean runs at these p."""
    return {p: clean_regime(p, paper_seeds(seed, quick), quick) for p in CLEAN_P}


#: Fig. 11's ranks of the mixing's shape ("full": a random symmetric G).
RANKS = (10, 20, 50, 100, "full")


def rank_runs(seed: int = 0, quick: bool = False) -> dict:
    """Fig. 11: exactly one active input, symmetric mixing of each rank of :data:`RANKS` with a
    trained magnitude from sigma = 0.01, 10,000 steps, three seeds (also in quick mode: the
    exact loss makes it cheap)."""
    def mixing(rank):
        return dict(kind="symmetric") if rank == "full" else dict(kind="low_rank", rank=rank)

    return {rank: RunSpec(seeds=[seed, seed + 1, seed + 2], inputs=dict(kind="one_active"),
                          mixing=dict(sigma=0.01, trainable_sigma=True, **mixing(rank)),
                          optim=_optim(quick, None)) for rank in RANKS}


def init_and_diagonal(seed: int = 0, quick: bool = False) -> dict[tuple[str, bool], RunSpec]:
    """Fig. 13: (init bounds, diagonal of M kept) -> the run: the published or textbook
    initialisation, sigma 0.02 asymmetric M with or without its diagonal, p = 0.01, 10,000
    steps, three seeds (also in quick mode)."""
    steps = QUICK_STEPS if quick else 10_000
    return {(bounds, diag): _p01([seed, seed + 1, seed + 2], steps, model=dict(init_bounds=bounds),
                                 mixing=dict(kind="asymmetric", sigma=0.02, zero_diagonal=not diag))
            for bounds in ("published", "textbook") for diag in (True, False)}


#: Fig. 16's input settings: exactly one active input (None), Bernoulli at 0.01 and 0.05.
L4_SETTINGS = (None, 0.01, 0.05)


def l4_runs(seed: int = 0, quick: bool = False) -> dict[tuple[str, str], RunSpec]:
    """Fig. 16 (beyond the paper): the plain 100 -> 50 -> 100 ReLU MLP on clean labels, trained on
    the L4 loss and, as its twin, on the MSE, for each input setting of :data:`L4_SETTINGS`; three
    seeds, the default steps. Keys (loss kind, setting name)."""
    seeds, runs = paper_seeds(seed, quick), {}
    for p in L4_SETTINGS:
        name = "one_active" if p is None else f"p{p:g}"
        inputs = dict(kind="one_active") if p is None else dict(kind="bernoulli", p=p)
        for kind in ("l4", "mse"):
            runs[kind, name] = RunSpec(seeds=seeds, mixing=dict(kind="clean"), inputs=inputs,
                                       loss=dict(kind=kind), optim=_optim(quick, None))
    return runs


#: Fig. 17's models (beyond the paper): each with a linear read-out of a 50-wide layer, trained on
#: clean labels and exactly one active input.
FLOOR_MODELS = {"two_layer": dict(hidden_layers=2), "trainable_skip": dict(skip=True)}


def floor_runs(seed: int = 0, quick: bool = False) -> dict[str, RunSpec]:
    """Fig. 17: a 100 -> 50 -> 50 -> 100 ReLU MLP and the paper's MLP with a trainable linear skip
    from input to output (:data:`FLOOR_MODELS`), clean labels, one active input, three seeds, the
    default steps."""
    seeds = paper_seeds(seed, quick)
    return {name: RunSpec(seeds=seeds, model=model, mixing=dict(kind="clean"), inputs=dict(kind="one_active"),
                          optim=_optim(quick, None)) for name, model in FLOOR_MODELS.items()}


#: Fig. 18's input densities: Elhage et al.'s absolute-value model at Bernoulli p.
ABS_P = (0.003, 0.01, 0.03, 0.1)


def abs_runs(seed: int = 0, quick: bool = False) -> dict[float, RunSpec]:
    """Fig. 18: Elhage et al.'s absolute-value model, out = ReLU(W_out ReLU(W_in x + b_in) + b_out),
    n = 100, d = 50, trained on y = |x| with Bernoulli(p) inputs for p in :data:`ABS_P`; three
    seeds, the default steps."""
    seeds = paper_seeds(seed, quick)
    return {p: RunSpec(seeds=seeds, model=dict(bias=True, out_activation="relu"), target="abs",
                       inputs=dict(kind="bernoulli", p=p), optim=_optim(quick, None)) for p in ABS_P}


#: Fig. 19's registered starts of the absolute-value model (the measurement behind them,
#: ``paper-code/abs_training.py``, screens more): the density they are trained at, where both beat
#: bound (b) in that screen, and the starts (:class:`cclib.spec.MLPArch`: init_scale, start).
ABS_START_P = 0.01
ABS_STARTS = {"init_scale_0.1": dict(init_scale=0.1), "steiner_start": dict(start="split_steiner_codes")}


def abs_start_runs(seed: int = 0, quick: bool = False) -> dict[str, RunSpec]:
    """Fig. 19: Fig. 18's model and recipe at p = :data:`ABS_START_P` from the other starts of
    :data:`ABS_STARTS`: every weight's initial draw times 0.1, and the split Steiner code network
    (:func:`cclib.constructions.code_network`); three seeds, the default steps."""
    seeds = paper_seeds(seed, quick)
    return {name: RunSpec(seeds=seeds, model=dict(bias=True, out_activation="relu", **start), target="abs",
                          inputs=dict(kind="bernoulli", p=ABS_START_P), optim=_optim(quick, None))
            for name, start in ABS_STARTS.items()}


def registry(seed: int = 0, quick: bool = False, figures: Sequence[str] | None = None) -> dict[str, RunSpec]:
    """Every run the figure notebooks train, by name, for the notebooks' ``seed`` and mode; with
    ``figures`` (e.g. ["fig05", "fig09"]) only the runs those notebooks use. It is what
    ``make figures`` trains as one sweep before it executes the notebooks, which must then find
    every run they use in the cache (the runner refuses any training in them: a run missing
    here, or listed for the wrong figure, fails there). A run that several figures use is listed
    once, under its first name (Fig. 1's residual run is also Fig. 12's at width 1000, and its
    MLP runs are Fig. 5a's embedding runs). Each spec's ``model_steps`` is its size;
    :func:`cclib.sweep.expected_seconds` its expected training time."""
    seeds = paper_seeds(seed, quick)
    runs: list[tuple[tuple[str, ...], str, RunSpec]] = []  # (figures that use it, name, spec)
    runs += [(("fig01",), f"equivalence_{k}", v) for k, v in equivalence(seed, quick).items()]
    runs.append((("fig01",), "equivalence_matched_init", equivalence_matched_init(seed, quick)))
    runs += [(("fig02", "fig03", "fig04", "fig15"), f"sparsity_p{p:g}", sparsity_regime(p, seeds, quick))
             for p in SPARSITY_P]
    runs += [(("fig02",), f"sparsity_embed_p{p:g}", sparsity_regime(p, seeds, quick, embedding=True))
             for p in SPARSITY_P]
    runs += [(("fig15", "fig17"), f"clean_p{p:g}", clean_regime(p, seeds, quick)) for p in SPARSITY_P]
    runs += [(("fig05",), f"mixing_{k}", v) for k, v in mixing_kinds(seed, quick).items()]
    for inputs, sweep_seeds in (("bernoulli", [seed]), ("one_active", seeds)):
        for kind in ("symmetric", "asymmetric"):
            users = {("symmetric", "bernoulli"): ("fig05", "fig12"),
                     ("asymmetric", "one_active"): ("fig05", "fig09", "fig14", "fig15"),
                     ("symmetric", "one_active"): ("fig05", "fig14"),
                     ("asymmetric", "bernoulli"): ("fig05", "fig08", "fig09")}.get((kind, inputs), ("fig05",))
            runs.append((users, f"sweep_{kind}_{inputs}", sigma_sweep(kind, inputs, sweep_seeds, quick)))
            more = sigma_sweep_more_seeds(kind, seed, quick) if inputs == "bernoulli" else None
            if more is not None:
                runs.append((("fig05",), f"sweep_{kind}_bernoulli_more_seeds", more))
    runs += [(("fig06",), f"transplant_{k}", v) for k, v in transplant(seed, quick).items()]
    runs.append((("fig07", "fig08"), "directions", directions(seeds, quick)))
    runs += [(("fig10",), f"clean_p{p:g}", v) for p, v in clean_runs(seed, quick).items()]
    runs += [(("fig11",), f"rank_{r}", v) for r, v in rank_runs(seed, quick).items()]
    widths = EMBED_WIDTHS_QUICK if quick else EMBED_WIDTHS
    runs += [(("fig12",), f"embed_width_{w}", embed_width(w, seeds, quick)) for w in widths]
    pairs = [(w, s) for w in widths for s in seeds]
    runs.append((("fig12",), "embed_width_mlp",
                 embed_width_mlp([w for w, _ in pairs], [s for _, s in pairs], quick)))
    runs.append((("fig13",), "mixing_embed", mixing_kinds(seed, quick)["embed"]))
    runs += [(("fig13",), f"init_{b}_{'diag' if d else 'nodiag'}", v)
             for (b, d), v in init_and_diagonal(seed, quick).items()]
    runs += [(("fig16",), f"{kind}_{name}", v) for (kind, name), v in l4_runs(seed, quick).items()]
    runs += [(("fig17",), f"floor_{name}", v) for name, v in floor_runs(seed, quick).items()]
    runs += [(("fig18", "fig19"), f"abs_p{p:g}", v) for p, v in abs_runs(seed, quick).items()]
    runs += [(("fig19",), f"abs_{name}", v) for name, v in abs_start_runs(seed, quick).items()]
    named: dict[str, tuple[set, RunSpec]] = {}
    first = {}  # a spec -> the first name it was listed under (a run two figures share is one run)
    for users, name, spec in runs:
        name = first.setdefault(spec, name)
        named.setdefault(name, (set(), spec))[0].update(users)
    return {name: spec for name, (users, spec) in named.items()
            if figures is None or any(f in users for f in figures)}


#: The registry runs that ``make test`` retrains cold and compares with the store
#: (:func:`cclib.store.compare`), each with the path of the paper's runs it takes; together every
#: path: sparse and dense Bernoulli batches, exactly one active input, the residual model, the
#: embedding-like mixing, a run started from another run's weights, a trained sigma, the general
#: engine. The six fast-engine runs retrained in 109-112 s on the project's two cores (measured),
#: its longest run, sparsity_p1, on one of them; the general-engine run adds about 90 s of one core.
REPRODUCE_SAMPLE = {
    "sparsity_p1": "dense Bernoulli batches (p = 1), random asymmetric M with zero diagonal",
    "transplant_noisy": "sparse Bernoulli batches (p = 0.01), random asymmetric M",
    "transplant_clean": "started from another run's weights (transplant_noisy's), clean labels",
    "equivalence_mlp_minus": "the embedding-like mixing -(W_E W_E^T - I)",
    "embed_width_100": "Braun et al.'s residual model, its own labels",
    "rank_10": "exactly one active input, a low-rank symmetric M, sigma trained",
    "floor_trainable_skip": "the general engine: a model only it trains (a trainable skip), one active input",
}
