"""The store: the paper's trained runs, committed beside the code whose keys they carry.

Every run of :func:`cclib.paper_runs.registry` (paper settings, seed 0) is an entry of
``data/store/`` (:func:`cclib.cache.store_dir`) in the cache's own format: a checksummed npz of
its weights, loss history and sigma, and a JSON with its spec, the engine and device kind, the
fingerprint of the code that trained it (:func:`cclib.sweep.run_code`) and the machine and
commit that wrote it. :func:`cclib.experiments.trained_many` reads it before the local cache.

* :func:`status` says which registry runs the store holds under the current keys, which it lacks
  (a new run, or one whose code or spec changed since it was stored), and which files no
  current run uses;
* :func:`fill` trains exactly the runs it lacks, on every core, writes them into it, and removes
  the files no current run uses (``make store``);
* :func:`compare` holds a retrained run against the stored one (``make test`` retrains
  :data:`cclib.paper_runs.REPRODUCE_SAMPLE`; ``make reproduce`` every run).

Beside the runs, the store ships the evaluations the figure notebooks compute from them (loss
curves, fits, the notebooks' :func:`cclib.evaluations.memo` results), keyed like every cache
entry on what computes them and the keys of the runs they read: ``make store`` executes the
notebooks with $CCLIB_EVALUATIONS_INTO=store and keeps exactly the evaluations they used
(:func:`evaluation_entries`, :func:`prune_evaluations`); :func:`compare_evaluation` holds a
recomputed one against the shipped one (``make reproduce``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import cache, paper_runs
from .experiments import Trained, trained_many
from .sweep import RunJob

#: What another CPU changes in a retrained run, and so what a retrained run that is not
#: bit-identical is held to (:func:`compare`). Measured by ``paper-code/cross_cpu.py`` on the
#: sample's runs (paper-code/results/cross_cpu.json): honest retrains whose every initial weight
#: moved by one ulp, and retrains on this machine's other kernels (torch's scalar path, MKL's
#: compatible path). They leave the first 100 steps' minibatch losses alike to 1.7e-6 relative at
#: most, while the training amplifies the difference until the weights differ by up to 81% and
#: the final loss moves by up to 0.76 seed sd (an Intel Xeon against this store: 0.52).
#: So a retrained run is judged twice:
#:
#: * the first EARLY_STEPS minibatch losses (same batches, same start) within EARLY_REL relative:
#:   10x the largest honest move; a 3% error of the learning rate, a dropped gradient term or a
#:   wrong sign of the mixing moves them 96x to 26,000x that tolerance;
#: * each instance's final loss within FINAL_SD seed standard deviations of the stored one: the
#:   largest per-run RMS of the honest moves (0.54 sd) times the normal quantile (3.44) that gives
#:   an honest retrain of the sample's 17 judged instances a 1% chance of a false alarm.
#:
#: ``paper-code/cross_cpu.py derive`` computes both from the measurement; a test holds these
#: constants to the committed measurement.
EARLY_STEPS = 100
EARLY_REL = 2e-05
FINAL_SD = 1.9
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


def keys(seed: int = 0) -> dict[str, RunJob]:
    """Every registry run at paper settings, by name, with its current key."""
    return {name: RunJob(spec, ENGINE, DEVICE) for name, spec in paper_runs.registry(seed).items()}


@dataclass
class Status:
    """present / missing: registry names whose current key the store holds whole / lacks;
    damaged: (name, npz path, why) of the entries that are there but not whole
    (:func:`cclib.cache.verify`: every byte read and checksummed); unused: the store's files that no
    current registry run uses (earlier keys)."""

    present: list[str]
    missing: list[str]
    unused: list[Path]
    damaged: list[tuple[str, Path, str]] = field(default_factory=list)


restore_command = cache.restore_command


def status(place: Path | None = None, verify: bool = True) -> Status:
    """What the store (default :func:`folder`) holds of the registry under the current keys; with
    ``verify``, every present entry's npz is read and checked against the SHA-256 its JSON
    records (a damaged one is listed in ``damaged``, not in ``present``)."""
    place = Path(place) if place is not None else folder()
    present, missing, damaged, used = [], [], [], set()
    for name, key in keys().items():
        npz, meta = cache.entry_paths("trained", key.config, key.code, place)
        used.update({npz.name, meta.name})
        if not (npz.exists() and meta.exists()):
            missing.append(name)
            continue
        why = cache.verify(npz, meta, key.config, key.code) if verify else None
        if why is None:
            present.append(name)
        else:
            damaged.append((name, npz, why))
    unused = sorted(p for p in place.glob("trained-*") if p.name not in used) if place.is_dir() else []
    return Status(present, missing, unused, damaged)


def damage_message(damaged) -> str:
    """What is damaged and how to restore it, for (name, npz path, why) triples."""
    lines = [f"{len(damaged)} store entr{'y is' if len(damaged) == 1 else 'ies are'} damaged:"]
    for name, npz, why in damaged:
        lines.append(f"  run {name}: {npz}: {why}")
    paths = [p for _, npz, _ in damaged for p in (npz, npz.with_suffix(".json"))]
    lines.append(f"restore the committed files with: {restore_command(paths)}")
    return "\n".join(lines)


def fill(place: Path | None = None, progress: bool = True, stats: dict | None = None,
         source: Path | None = None) -> Status:
    """Train the registry runs the store lacks (every core), write each into it as it ends, then
    remove the files no current run uses. Each new entry's JSON records the machine and commit
    (:func:`cclib.report.provenance`). Returns the status after.

    source: a folder where this commit's code has trained them already (``make reproduce``'s
    cache): each run the store lacks is copied from there (checksummed) instead of trained again,
    and refused (RuntimeError) if it is not there whole. stats, if given, also receives
    ``earlier``: for each new entry that the store held under an earlier key of the same spec
    (code since changed, :func:`earlier_entries`), whether the new arrays are bit-identical to
    it: what a refactor that changes no number must show."""
    from .report import provenance

    place = Path(place) if place is not None else folder()
    before = status(place)
    if before.damaged:
        raise RuntimeError(damage_message(before.damaged) + "; fill trains only what the store lacks, "
                           "and will not overwrite a committed entry")
    specs = paper_runs.registry()
    made = provenance()
    record = {"trained_by": {k: made[k] for k in ("git_commit", "cpu", "cores", "torch", "numpy", "python")}}
    jobs = keys()
    earlier = earlier_entries(place)
    if source is None:
        trained_many([specs[name] for name in before.missing], engine=ENGINE, device=DEVICE, folder=place,
                     progress=progress, stats=stats, record=record)
    else:
        record["trained_by"]["copied_from"] = "a make reproduce of this commit (store.py fill --from)"
        arrays = {}
        for name in before.missing:
            job = jobs[name]
            arrays[name] = cache.load("trained", job.config, Path(source), code=job.code, discard=False)
            if arrays[name] is None:
                raise RuntimeError(f"source: {source} does not hold run {name} whole under its current key "
                                   "(train it there with make reproduce, or run make store)")
        for name, found in arrays.items():
            cache.save("trained", jobs[name].config, found, place, code=jobs[name].code, info=record)
        if stats is not None:
            stats.update(trained=0, copied=len(arrays))
    if stats is not None:
        stats["earlier"] = {}
        for name in before.missing:
            if name in earlier:
                new_npz, _ = cache.entry_paths("trained", jobs[name].config, jobs[name].code, place)
                stats["earlier"][name] = compare_evaluation(earlier[name], new_npz)["identical"]
    for path in status(place).unused:
        path.unlink()
    return status(place)


def _without_code(value):
    """``value`` (a JSON form) with every entry named 'code' left out, at any depth."""
    if isinstance(value, dict):
        return {k: _without_code(v) for k, v in value.items() if k != "code"}
    if isinstance(value, list):
        return [_without_code(v) for v in value]
    return value


def earlier_index(place: Path | None = None) -> dict[tuple[str, str], list[Path]]:
    """The store's entries (runs and evaluations) by (kind, their configuration with every code
    fingerprint left out, as JSON): where the same computation of earlier code would be."""
    place = Path(place) if place is not None else folder()
    index: dict[tuple[str, str], list[Path]] = {}
    for meta in sorted(place.glob("*-*.json")):
        info = json.loads(meta.read_text())
        form = json.dumps(_without_code(info.get("config")), sort_keys=True)
        index.setdefault((info.get("name"), form), []).append(meta.with_suffix(".npz"))
    return index


def earlier_of(kind: str, config: dict, index: dict, current: Path | None = None) -> Path | None:
    """The npz of the one entry of ``index`` (:func:`earlier_index`) that is ``kind`` with
    ``config`` up to code fingerprints, other than ``current``; None if there is none or more
    than one (then no single earlier result stands for it)."""
    found = [p for p in index.get((kind, json.dumps(_without_code(config), sort_keys=True)), []) if p != current]
    return found[0] if len(found) == 1 else None


def earlier_entries(place: Path | None = None) -> dict[str, Path]:
    """For each registry run the store lacks under its current key: the npz of its entry under an
    earlier key (the same spec and compute, trained by code that has since changed), where the
    store holds exactly one."""
    place = Path(place) if place is not None else folder()
    index, jobs = earlier_index(place), keys()
    found = {}
    for name in status(place, verify=False).missing:
        npz = earlier_of("trained", jobs[name].config, index)
        if npz is not None:
            found[name] = npz
    return found


def load_earlier(name: str, npz: Path) -> Trained:
    """The registry run ``name`` as its entry ``npz`` of an earlier key holds it
    (:func:`earlier_entries`), checksummed; a RuntimeError if the entry is damaged."""
    from .experiments import from_arrays

    info = json.loads(npz.with_suffix(".json").read_text())
    found: list = []
    arrays = cache.load("trained", info["config"], npz.parent, code=info["code"], discard=False, damaged=found)
    if arrays is None:
        raise RuntimeError(f"the store's entry of an earlier key of run {name} is damaged: {npz}"
                           + (f": {found[0][1]}" if found else ""))
    return from_arrays(paper_runs.registry()[name], info["config"]["compute"], info["code"], arrays)


def final_loss(run: Trained) -> np.ndarray:
    """Each instance's final training loss (K,): the mean of its loss history over its last 10%
    of steps (the same minibatches in a stored and a retrained run, so a difference between the
    two is the weights')."""
    return final_loss_of(run.loss, run.spec.steps)


def final_loss_of(loss: np.ndarray, steps) -> np.ndarray:
    """:func:`final_loss` of a (max steps, K) loss history whose instances ran ``steps``."""
    return np.asarray([float(np.mean(loss[s - max(1, s // 10):s, k])) for k, s in enumerate(steps)])


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


def early_difference(stored: np.ndarray, fresh: np.ndarray, steps: int = EARLY_STEPS) -> float:
    """The largest relative difference of a minibatch loss within the first ``steps`` steps of two
    (max steps, K) loss histories."""
    a, b = stored[:steps], fresh[:steps]
    return float(np.nanmax(np.abs(b - a) / np.abs(a)))


def compare(stored: Trained, fresh: Trained, spread: float | None = None) -> dict:
    """How a retrained run differs from the stored one, and whether that is what another CPU's
    rounding does (the tolerances above) or more.

    Returns ``identical`` (every stored array equal, bit for bit), ``weight_rel`` (the largest
    |difference| of a parameter's entries over that parameter's largest |entry|), ``early_rel``
    (:func:`early_difference`; None for a run started from another run's weights, whose start
    already differs by the other run's retraining), ``early_allowed`` (:data:`EARLY_REL`),
    ``loss_stored`` and ``loss_fresh`` (:func:`final_loss`), ``loss_rel`` (the largest relative
    change of it), ``spread`` (``spread`` if given, else :func:`seed_spread`), ``allowed`` (the
    largest change of the final loss allowed, :data:`FINAL_SD` spreads; None without a spread),
    ``judged_by`` (the checks that could be applied, in words), ``judged`` (at least one could)
    and ``ok``: identical, or judged and within every applied tolerance. A run that is neither
    identical nor judgeable is not ok: it is never passed silently."""
    a, b = stored.arrays(), fresh.arrays()
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ValueError("stored and fresh are not runs of the same spec")
    identical = all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    weight_rel = max(relative_difference(a[k], b[k]) for k in a if k.startswith("param."))
    before, after = final_loss(stored), final_loss(fresh)
    spread = seed_spread(stored) if spread is None else float(spread)
    allowed = None if spread is None else FINAL_SD * spread
    change = np.abs(after - before)
    early = None if stored.spec.init is not None else early_difference(a["loss"], b["loss"])
    checks = []
    if early is not None:
        checks.append(("the first steps", early <= EARLY_REL))
    if allowed is not None:
        checks.append(("the final loss", bool(np.all(change <= allowed))))
    judged_by = " and ".join(name for name, _ in checks) or "nothing: it starts from another run and has no seed spread"
    return dict(identical=identical, weight_rel=weight_rel, early_rel=early, early_allowed=EARLY_REL,
                loss_stored=before, loss_fresh=after, loss_rel=float(np.max(change / np.abs(before))),
                spread=spread, allowed=allowed, judged=bool(checks), judged_by=judged_by,
                ok=bool(identical or (checks and all(ok for _, ok in checks))))


def evaluation_entries(place: Path | None = None) -> list[Path]:
    """The npz files of the evaluations the store ships (:data:`cclib.evaluations.KINDS`)."""
    from .evaluations import KINDS

    place = Path(place) if place is not None else folder()
    return sorted(p for kind in KINDS for p in place.glob(f"{kind}-*.npz"))


def damaged_evaluations(place: Path | None = None) -> list[tuple[Path, str]]:
    """(npz path, why) of each shipped evaluation that is not whole (:func:`cclib.cache.verify`)."""
    found = []
    for npz in evaluation_entries(place):
        why = cache.verify(npz, npz.with_suffix(".json"))
        if why is not None:
            found.append((npz, why))
    return found


def prune_evaluations(used: set[str], place: Path | None = None) -> list[Path]:
    """Remove the shipped evaluations whose npz name is not in ``used`` (the ones no notebook read
    or computed in the run that filled them: earlier keys). Returns the removed npz paths."""
    removed = [npz for npz in evaluation_entries(place) if npz.name not in used]
    for npz in removed:
        npz.unlink()
        npz.with_suffix(".json").unlink(missing_ok=True)
    return removed


def compare_evaluation(stored: Path, fresh: Path) -> dict:
    """Two entries' npz files: a recomputed evaluation against the shipped one (or a run's new
    entry against its entry of an earlier key, :func:`fill`): ``identical`` (every array
    equal, bit for bit) and ``largest_rel`` (the largest |difference| of an array's entries over
    that array's largest |entry|, over its arrays; 0 when identical)."""
    with np.load(stored, allow_pickle=False) as a, np.load(fresh, allow_pickle=False) as b:
        if set(a.files) != set(b.files) or any(a[k].shape != b[k].shape for k in a.files):
            return dict(identical=False, largest_rel=float("inf"))
        identical = all(np.array_equal(a[k], b[k], equal_nan=True) for k in a.files)
        rel = max([relative_difference(a[k], b[k]) for k in a.files
                   if a[k].size and not np.array_equal(a[k], b[k], equal_nan=True)], default=0.0)
    return dict(identical=identical, largest_rel=rel)


def relative_difference(stored: np.ndarray, fresh: np.ndarray) -> float:
    """The largest |difference| of two arrays' entries over the stored one's largest |entry|
    (NaNs, where both arrays have them, ignored)."""
    x, y = np.asarray(stored, float), np.asarray(fresh, float)
    return float(np.nanmax(np.abs(x - y)) / max(float(np.nanmax(np.abs(x))), 1e-30))
