"""The store: the paper's trained runs, committed beside the code whose keys they carry.

Every run of :func:`cclib.paper_runs.registry` (paper settings, seed 0) is an entry of
``data/store/`` (:func:`cclib.cache.store_dir`) in the cache's own format: a checksummed npz of
its weights, loss history and sigma, and a JSON with its spec, the engine and device kind, the
fingerprint of the code that trained it (:func:`cclib.experiments.run_code`) and the machine and
commit that wrote it. :func:`cclib.experiments.trained_many` reads it before the local cache.

* :func:`status` says which registry runs the store holds under the current keys, which it lacks
  (a new run, or one whose code or spec changed since it was stored), and which files no
  current run uses;
* :func:`fill` trains exactly the runs it lacks, on every core, writes them into it, and removes
  the files no current run uses (``make store``);
* :func:`compare` holds a retrained run against the stored one (``make test`` retrains
  :data:`cclib.paper_runs.REPRODUCE_SAMPLE`; ``make reproduce`` every run).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cache, paper_runs
from .experiments import RunKey, Trained, trained_many

#: How far a retrained run's final loss may lie from the stored one's where the two are not
#: bit-identical (another CPU or library build): a tenth of the spread of that number over the
#: run's seeds. Measured on the machine that wrote the store, a retrained run is bit-identical.
SEED_FRACTION = 0.1
#: For a run of one seed, the three-seed registry run of the same labels, inputs and steps whose
#: seed spread stands in for its own (measured relative spreads of the final loss: 0.57% and
#: 0.03% of it).
SPREAD_OF = {"transplant_noisy": "init_published_diag", "transplant_clean": "mixing_clean"}

#: The store holds what the engine choice 'auto' trains on the CPU, whatever $CCLIB_ENGINE and
#: $CCLIB_DEVICE say (a run trained on another device is another entry, in the local cache).
ENGINE, DEVICE = "auto", "cpu"


def folder() -> Path:
    """The store's folder; a RuntimeError if this cclib was installed without its checkout."""
    place = cache.store_dir()
    if place is None:
        raise RuntimeError("cclib has no store here: it is installed without its checkout (data/store/); "
                           "set $CCLIB_STORE to a store folder")
    return place


def keys(seed: int = 0) -> dict[str, RunKey]:
    """Every registry run at paper settings, by name, with its current key."""
    return {name: RunKey(spec, ENGINE, DEVICE) for name, spec in paper_runs.registry(seed).items()}


@dataclass
class Status:
    """present / missing: registry names whose current key the store holds / lacks; unused: the
    store's files that no current registry run uses (earlier keys)."""

    present: list[str]
    missing: list[str]
    unused: list[Path]


def status(place: Path | None = None) -> Status:
    """What the store (default :func:`folder`) holds of the registry under the current keys."""
    place = Path(place) if place is not None else folder()
    present, missing, used = [], [], set()
    for name, key in keys().items():
        npz, meta = cache.entry_paths("trained", key.config, key.code, place)
        used.update({npz.name, meta.name})
        (present if npz.exists() and meta.exists() else missing).append(name)
    unused = sorted(p for p in place.glob("trained-*") if p.name not in used) if place.is_dir() else []
    return Status(present, missing, unused)


def fill(place: Path | None = None, progress: bool = True, stats: dict | None = None) -> Status:
    """Train the registry runs the store lacks (every core), write each into it as it ends, then
    remove the files no current run uses. Each new entry's JSON records the machine and commit
    (:func:`cclib.report.provenance`). Returns the status after."""
    from .report import provenance

    place = Path(place) if place is not None else folder()
    before = status(place)
    specs = paper_runs.registry()
    made = provenance()
    record = {"trained_by": {k: made[k] for k in ("git_commit", "cpu", "cores", "torch", "numpy", "python")}}
    trained_many([specs[name] for name in before.missing], engine=ENGINE, device=DEVICE, folder=place,
                 progress=progress, stats=stats, record=record)
    for path in status(place).unused:
        path.unlink()
    return status(place)


def final_loss(run: Trained) -> np.ndarray:
    """Each instance's final training loss (K,): the mean of its loss history over its last 10%
    of steps (the same minibatches in a stored and a retrained run, so a difference between the
    two is the weights')."""
    out = []
    for k, steps in enumerate(run.spec.steps):
        tail = run.loss[steps - max(1, steps // 10):steps, k]
        out.append(float(np.mean(tail)))
    return np.asarray(out)


def seed_spread(run: Trained) -> float | None:
    """The standard deviation (ddof 1) of :func:`final_loss` over the run's instances, when they
    differ in their seed alone; None for one instance or a grid (a sweep over sigma, say)."""
    spec = run.spec
    if spec.n_instances < 2:
        return None
    per_instance = [getattr(spec.inputs, "p", None), getattr(spec.mixing, "sigma", None),
                    getattr(spec.mixing, "d_embed", None), spec.optim.steps]
    if any(values is not None and len(set(values)) > 1 for values in per_instance):
        return None
    return float(np.std(final_loss(run), ddof=1))


def compare(stored: Trained, fresh: Trained, spread: float | None = None) -> dict:
    """How a retrained run differs from the stored one: ``identical`` (every stored array equal,
    bit for bit), ``weight_rel`` (the largest |difference| of a parameter's entries over that
    parameter's largest |entry|), ``loss_stored`` and ``loss_fresh`` (:func:`final_loss`),
    ``loss_rel`` (the largest relative change of it), ``spread`` (``spread`` if given, else
    :func:`seed_spread`), ``allowed`` (the largest change of the final loss allowed:
    :data:`SEED_FRACTION` of the spread; None without a spread) and ``ok``: identical, or every
    instance's change within ``allowed``. A run that is neither identical nor has a spread to be
    judged by is not ok."""
    a, b = stored.arrays(), fresh.arrays()
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ValueError("stored and fresh are not runs of the same spec")
    identical = all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    weight_rel = max(float(np.max(np.abs(a[k] - b[k])) / max(np.max(np.abs(a[k])), 1e-30))
                     for k in a if k.startswith("param."))
    before, after = final_loss(stored), final_loss(fresh)
    spread = seed_spread(stored) if spread is None else float(spread)
    allowed = None if spread is None else SEED_FRACTION * spread
    change = np.abs(after - before)
    return dict(identical=identical, weight_rel=weight_rel, loss_stored=before, loss_fresh=after,
                loss_rel=float(np.max(change / np.abs(before))), spread=spread, allowed=allowed,
                ok=bool(identical or (allowed is not None and np.all(change <= allowed))))
