"""The store of the paper's trained runs (data/store/, committed): check it, fill it, retrain from it.

    python paper-code/store.py check     # make test's first step: every registry run stored, whole?
    python paper-code/store.py fill      # make store: train what the store lacks, then ship the evaluations
    python paper-code/store.py fill --from paper-code/output/reproduce/cache   # the same, copying what make reproduce trained
    python paper-code/store.py sample    # make test: retrain paper_runs.REPRODUCE_SAMPLE, compare
    python paper-code/store.py report --cache DIR --results DIR --out FILE   # make reproduce's report

``fill --from DIR`` copies the runs the store lacks from DIR, where this commit trained them
(``make reproduce``'s cache), instead of training them again; either way it says which new entries
replace the same runs under earlier keys and whether they are bit-identical to them (a refactor
that changes no number shows all of them identical). ``report`` compares a run the store lacks
under its current key, and an evaluation not shipped under it, with the store's entry of an
earlier key for the same configuration, where there is one.

``check`` reads every entry of the store and exits 1 if one is damaged (its bytes not those its
JSON's SHA-256 records: naming the file and the ``git checkout`` that restores it) or if the
store lacks a registry run under the current keys (a new run, or one whose spec or training code
changed: naming the runs and ``make store``), or if a shipped evaluation is damaged. ``fill``
trains the runs the store lacks, on every core, then executes the figure notebooks to compute the
evaluations they make into the store, and removes the shipped evaluations none of them used. ``sample`` retrains the
sample cold into a temporary folder and compares each run with the stored one
(:func:`cclib.store.compare`): bit-identical on the machine that wrote the store, else within
what another CPU's rounding does, as measured by ``paper-code/cross_cpu.py`` (its first steps'
losses and its final loss); it exits 1 if a run is outside that or cannot be judged. ``report`` reads every registry run retrained by ``make reproduce`` (in --cache)
and the figures' JSON it made (in --results), and writes a markdown report of what moved
against the store and the committed results (paper-code/results/); it copies the report and the
cold run's timings.json into paper-code/results/ (the README's cost table is made from them).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "paper-code" / "results"
sys.path.insert(0, str(ROOT / "paper-code"))
import findings  # noqa: E402


def check() -> int:
    from cclib import store

    found = store.status()
    total = len(found.present) + len(found.missing) + len(found.damaged)
    bad = False
    if found.damaged:
        print(f"store: {store.damage_message(found.damaged)}", file=sys.stderr)
        bad = True
    if found.missing:
        print(f"store: {len(found.missing)} of {total} registry runs are not "
              f"in {store.folder()} under the current keys (new runs, or runs whose spec or training code "
              f"changed): {', '.join(found.missing)}. Run `make store` to train them into the store "
              f"(then `make reproduce` to check it).", file=sys.stderr)
        bad = True
    if bad:
        return 1
    damaged = store.damaged_evaluations()
    if damaged:
        print(f"store: {len(damaged)} shipped evaluation(s) are damaged: "
              + "; ".join(f"{npz}: {why}" for npz, why in damaged)
              + f". Restore them with `{store.restore_command([p for npz, _ in damaged for p in (npz, npz.with_suffix('.json'))])}`",
              file=sys.stderr)
        return 1
    extra = f"; {len(found.unused)} files of earlier keys (make store removes them)" if found.unused else ""
    print(f"store: all {len(found.present)} registry runs stored under the current keys and "
          f"{len(store.evaluation_entries())} evaluations shipped, every byte checked against its SHA-256{extra}")
    return 0


def fill(source: Path | None = None) -> int:
    from cclib import report, store

    report.require_committed("make store")

    before = store.status()
    if before.damaged:
        print(f"store: {store.damage_message(before.damaged)}; make store trains only what the store lacks and "
              "does not overwrite a committed entry", file=sys.stderr)
        return 1
    verb = f"copy from {source}" if source is not None else "train"
    print(f"store: {len(before.missing)} registry runs to {verb} into {store.folder()}"
          + (f": {', '.join(before.missing)}" if before.missing else ""), flush=True)
    stats: dict = {}
    started = time.time()
    after = store.fill(stats=stats, source=source)
    if stats.get("earlier"):
        same = [n for n, identical in stats["earlier"].items() if identical]
        differ = sorted(set(stats["earlier"]) - set(same))
        print(f"store: {len(stats['earlier'])} of the new entries replace the same runs under earlier keys (the "
              f"code changed): {len(same)} bit-identical to them, {len(differ)} not"
              + (f" ({', '.join(differ)})" if differ else ""), flush=True)
    if source is not None:
        print(f"store: copied {stats.get('copied', 0)} runs from {source}, trained by this commit there", flush=True)
    elif before.missing:
        from cclib import parallel

        workers = parallel.worker_count()
        busy = stats["task_cpu_seconds"] / max(stats["wall_seconds"] * workers, 1e-9)
        seconds = time.time() - started
        print(f"store: trained {stats['trained']} runs in {seconds:.0f} s ({stats['tasks']} tasks, "
              f"{stats['task_cpu_seconds']:.0f} task CPU-s; the {workers} workers busy {100 * busy:.0f}% of "
              f"the training's wall time)")
        if not before.present and not after.missing:  # the whole store: README's time for make store
            findings.record("store", dict(seconds=round(seconds), trained=stats["trained"], workers=workers,
                                          tasks=stats["tasks"], task_cpu_seconds=round(stats["task_cpu_seconds"]),
                                          core_use=round(busy, 3)))
    print(f"store: {len(after.present)} runs stored, {len(after.missing)} missing; "
          f"{_megabytes(store.folder(), 'trained-*')} MB in {store.folder()}", flush=True)
    if after.missing:
        return 1
    return ship_evaluations()


def ship_evaluations() -> int:
    """make store's second part: execute every figure notebook on the stored runs with
    $CCLIB_EVALUATIONS_INTO=store, so that each evaluation they make (cclib.evaluations) is
    computed into the store, or read from it; then remove the shipped evaluations none of them
    used (earlier keys)."""
    from cclib import store

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="cclib-ship-") as tmp:
        log = Path(tmp) / "evaluations.log"
        log.touch()
        env = dict(os.environ, CCLIB_EVALUATIONS_INTO="store", CCLIB_EVALUATIONS_LOG=str(log))
        print("store: executing the figure notebooks to ship their evaluations", flush=True)
        done = subprocess.run([sys.executable, str(ROOT / "paper-code" / "make_figures.py"), "--mode", "paper",
                               "--out", str(Path(tmp) / "figures")], env=env)
        if done.returncode != 0:
            print("store: a notebook failed; the evaluations it had made are shipped, none removed", file=sys.stderr)
            return 1
        lines = [line.split(" ", 1) for line in log.read_text().splitlines()]
    used = {name for _, name in lines}
    removed = store.prune_evaluations(used)
    computed = sum(what == "computed" for what, _ in lines)
    print(f"store: {len(used)} evaluations shipped ({computed} computed now, the rest already there; "
          f"{len(removed)} of earlier keys removed), {_megabytes(store.folder(), 'curve-*', 'snmf-*', 'memo-*')} "
          f"MB; notebooks {time.time() - started:.0f} s", flush=True)
    return 0


def _megabytes(folder: Path, *patterns: str) -> str:
    return f"{sum(p.stat().st_size for pattern in patterns for p in folder.glob(pattern)) / 1e6:.1f}"


def _load(names, folder: Path | None) -> dict:
    """The registry runs ``names``, read from ``folder`` only (None: the store), never trained."""
    from cclib import experiments, paper_runs, store

    specs = paper_runs.registry()
    os.environ["CCLIB_CACHE_ONLY"] = "1"
    runs = experiments.trained_many([specs[n] for n in names], engine=store.ENGINE, device=store.DEVICE,
                                    folder=folder or store.folder())
    return dict(zip(names, runs))


def _stored(names) -> tuple[dict, list[str]]:
    """The store's runs ``names``: each under its current key or, where the store has not been
    refilled since the code that trains it changed, its entry of an earlier key (the same spec
    and compute); and the names read from earlier keys."""
    from cclib import store

    missing = set(store.status(verify=False).missing) & set(names)
    runs = _load([n for n in names if n not in missing], None)
    earlier = store.earlier_entries() if missing else {}
    absent = sorted(missing - set(earlier))
    if absent:
        raise SystemExit(f"report: the store holds neither the current key nor one earlier key of {', '.join(absent)}")
    runs.update({n: store.load_earlier(n, earlier[n]) for n in missing})
    return {n: runs[n] for n in names}, sorted(missing)


def verdict(result: dict) -> str:
    """A compared run's verdict in words (:func:`cclib.store.compare`)."""
    if result["identical"]:
        return "bit-identical"
    if not result["judged"]:
        return "NOT JUDGED (differs; no check applies)"
    return "within tolerance" if result["ok"] else "OUTSIDE TOLERANCE"


def _row(name: str, result: dict) -> str:
    spread = "none (one seed or a grid)" if result["spread"] is None else f"{result['spread']:.2e}"
    allowed = "not judged (no seed spread)" if result["allowed"] is None else f"{result['allowed']:.1e}"
    early = ("not judged (starts from another run)" if result["early_rel"] is None
             else f"{result['early_rel']:.1e} (allowed {result['early_allowed']:.0e})")
    change = max(abs(a - b) for a, b in zip(result["loss_fresh"], result["loss_stored"]))
    return (f"| {name} | {verdict(result)} | {early} | {change:.1e} | {allowed} | {spread} | "
            f"{result['weight_rel']:.1e} |")


def _spreads(runs) -> dict:
    """The seed spread each run is judged by: its own, or that of store.SPREAD_OF's stand-in."""
    from cclib import store

    stand_ins, _ = _stored(sorted(set(store.SPREAD_OF.values())))
    return {n: store.seed_spread(stand_ins[store.SPREAD_OF[n]]) if n in store.SPREAD_OF else None for n in runs}


HEADER = ("| run | retrained vs store | first-steps loss: largest relative difference | largest change of "
          "the final loss | allowed | seed sd of the final loss | largest relative weight difference |\n"
          "|---|---|---|---|---|---|---|")
TOLERANCE = ("A run that is not bit-identical (another CPU rounds differently, and training amplifies "
             "it) is held to what an honest retrain does, as measured by paper-code/cross_cpu.py: its first "
             "{steps} minibatch losses within {early:g} relative, its final loss within {final:g} seed sd "
             "(cclib.store.compare).")


def sample() -> int:
    from cclib import experiments, paper_runs, parallel, store

    names = list(paper_runs.REPRODUCE_SAMPLE)
    stored = _load(names, None)
    specs = paper_runs.registry()
    workers = parallel.worker_count()
    print(f"sample: retraining {len(names)} registry runs cold on {workers} worker{'s' * (workers != 1)}: "
          + "; ".join(f"{n} ({why})" for n, why in paper_runs.REPRODUCE_SAMPLE.items()), flush=True)
    started = time.time()
    stats: dict = {}
    with tempfile.TemporaryDirectory(prefix="cclib-sample-") as tmp:
        env_before = os.environ.pop("CCLIB_CACHE_ONLY", None)
        fresh = experiments.trained_many([specs[n] for n in names], engine=store.ENGINE, device=store.DEVICE,
                                         folder=Path(tmp), stats=stats)
        if env_before is not None:
            os.environ["CCLIB_CACHE_ONLY"] = env_before
    spreads = _spreads(names)
    results = {n: store.compare(stored[n], run, spreads[n]) for n, run in zip(names, fresh)}
    print(f"sample: {stats['trained']} runs retrained in {time.time() - started:.0f} s\n\n{HEADER}")
    for name, result in results.items():
        print(_row(name, result))
    print("\n" + TOLERANCE.format(steps=store.EARLY_STEPS, early=store.EARLY_REL, final=store.FINAL_SD))
    unjudged = [n for n, r in results.items() if not r["identical"] and not r["judged"]]
    bad = [n for n, r in results.items() if not r["ok"] and r["judged"]]
    if unjudged:
        print(f"\nsample: {len(unjudged)} retrained run(s) differ from the store and no check applies to "
              f"them (the sample must be judgeable): {', '.join(unjudged)}", file=sys.stderr)
    if bad:
        print(f"\nsample: {len(bad)} retrained run(s) differ from the store by more than another CPU's rounding "
              f"does: {', '.join(bad)}", file=sys.stderr)
    if bad or unjudged:
        return 1
    same = sum(r["identical"] for r in results.values())
    print(f"\nsample: {same} of {len(results)} runs bit-identical to the store, the other "
          f"{len(results) - same} within the tolerance of another CPU")
    return 0


def report(cache_dir: Path, results_dir: Path, out: Path) -> int:
    """make reproduce's report: every registry run against the store; every figure's claims
    against the committed results."""
    from cclib import paper_runs, report as claims_report

    claims_report.require_committed("make reproduce's report")

    names = list(paper_runs.registry())
    (stored, earlier), fresh = _stored(names), _load(names, cache_dir)
    from cclib import store

    spreads = _spreads(names)
    rows = {n: store.compare(stored[n], fresh[n], spreads[n]) for n in names}
    lines = ["# make reproduce: the paper retrained from scratch, against the store", ""]
    made = claims_report.provenance()
    identical = sum(r["identical"] for r in rows.values())
    outside = [n for n, r in rows.items() if not r["ok"] and r["judged"]]
    unjudged = [n for n, r in rows.items() if not r["identical"] and not r["judged"]]
    lines += [f"Machine: {made['cpu']} ({made['cores']} cores); torch {made['torch']}; commit {made['git_commit']}.", "",
              f"**Runs**: {identical} of {len(rows)} retrained runs are bit-identical to the store; "
              f"{len(outside)} are neither bit-identical nor within the tolerance of `cclib.store.compare`"
              + (f" ({', '.join(outside)})" if outside else "")
              + (f"; {len(unjudged)} differ and could not be judged (no check applies: {', '.join(unjudged)})"
                 if unjudged else "") + "."
              + (f" {len(earlier)} of them were compared with the store's entries of an earlier key: the code "
                 "that trains them changed since the store was filled, and the same spec's earlier result "
                 "stands for the store (refill it: `make store`, or `paper-code/store.py fill --from` this "
                 "reproduction's cache)." if earlier else ""), "",
              TOLERANCE.format(steps=store.EARLY_STEPS, early=store.EARLY_REL, final=store.FINAL_SD), ""]
    shipped = {npz.name: npz for npz in store.evaluation_entries()}
    index = store.earlier_index()
    evals, earlier_evals = {}, 0
    for npz in store.evaluation_entries(cache_dir):
        against = shipped.get(npz.name)
        if against is None:  # shipped under an earlier key? (the same computation up to code fingerprints)
            info = json.loads(npz.with_suffix(".json").read_text())
            against = store.earlier_of(info["name"], info["config"], index)
            earlier_evals += against is not None
        evals[npz.name] = None if against is None else store.compare_evaluation(against, npz)
    unshipped = sorted(n for n, r in evals.items() if r is None)
    differ = {n: r["largest_rel"] for n, r in evals.items() if r is not None and not r["identical"]}
    lines += [f"**Evaluations** (loss curves, fits, the notebooks' memo results): {len(evals)} recomputed from "
              f"the retrained runs; {len(evals) - len(unshipped) - len(differ)} bit-identical to the ones the "
              f"store ships, {len(differ)} differ"
              + (f" (largest relative difference {max(differ.values()):.1e}: {', '.join(sorted(differ)[:10])})"
                 if differ else "")
              + f", {len(unshipped)} not shipped" + (f" ({', '.join(unshipped[:10])}: run `make store`)"
                                                     if unshipped else "") + "."
              + (f" {earlier_evals} were compared with shipped evaluations of an earlier key (the same "
                 "computation, up to the code fingerprints in its key)." if earlier_evals else ""), ""]
    moved_claims, changed_verdicts, figures = [], [], []
    for path in sorted(COMMITTED.glob("fig*.json")):
        new_path = results_dir / path.name
        if not new_path.exists():
            figures.append((path.stem, None))
            continue
        old, new = json.loads(path.read_text()), json.loads(new_path.read_text())
        old_claims = {c["name"]: c for c in old["claims"]}
        rows_fig = []
        for claim in new["claims"]:
            before = old_claims.get(claim["name"])
            rows_fig.append((claim, before))
            if before is None or before["verdict"] != claim["verdict"]:
                changed_verdicts.append((path.stem, claim["name"]))
            elif before.get("margin") != claim.get("margin"):
                moved_claims.append((path.stem, claim["name"]))
        figures.append((path.stem, rows_fig))
    missing_figs = [f for f, r in figures if r is None]
    n_claims = sum(len(r) for _, r in figures if r)
    lines += [f"**Claims**: {n_claims} claims in {len(figures) - len(missing_figs)} figures; "
              f"{len(changed_verdicts)} verdicts changed, {len(moved_claims)} margins moved (verdict kept)"
              + (f"; no JSON for {', '.join(missing_figs)}" if missing_figs else "") + ".", ""]
    lines += ["## Runs", "", HEADER] + [_row(n, r) for n, r in rows.items()] + [""]
    lines += ["## Claims", "", "| figure | claim | committed | reproduced |", "|---|---|---|---|"]
    for fig, rows_fig in figures:
        for claim, before in rows_fig or []:
            def show(c):
                if c is None:
                    return "absent"
                margin = "" if c.get("margin") is None else f" ({claims_report.format_margin(c['margin'])} {c['margin_unit']})"
                return f"{c['verdict']}{margin}"
            mark = " **changed**" if before is None or before["verdict"] != claim["verdict"] else ""
            lines.append(f"| {fig} | {claim['name']} | {show(before)} | {show(claim)}{mark} |")
    out.write_text("\n".join(lines) + "\n")
    # committed beside the figures' JSON: the report, and the cold run's timings (README's cost
    # table is generated from them: paper-code/findings.py)
    shutil.copyfile(out, COMMITTED / "reproduce.md")
    timings_path = results_dir / "timings.json"
    if timings_path.exists():
        shutil.copyfile(timings_path, COMMITTED / "timings.json")
        timings = json.loads(timings_path.read_text())
        if timings["sweep"] and timings["sweep"]["trained"] == len(names) and not missing_figs:
            findings.record("reproduce", dict(seconds=round(timings["total_seconds"]), trained=len(names),
                                              notebooks=len(timings["run"]), identical=identical,
                                              outside=len(outside), verdicts_changed=len(changed_verdicts)))
        findings.main([])
    print(f"reproduce: {identical} of {len(rows)} runs bit-identical to the store, {len(outside)} outside "
          f"tolerance; {len(evals) - len(unshipped) - len(differ)} of {len(evals)} evaluations bit-identical "
          f"to the shipped ones ({len(differ)} differ, {len(unshipped)} not shipped); {len(changed_verdicts)} "
          f"of {n_claims} verdicts changed, {len(moved_claims)} margins moved; report: {out}")
    return 0 if not outside and not changed_verdicts and not missing_figs and not unshipped else 1


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check", "fill", "sample", "report"])
    parser.add_argument("--cache", help="report: the folder make reproduce retrained every run into")
    parser.add_argument("--results", help="report: the folder of the reproduced figures' JSON")
    parser.add_argument("--out", help="report: the markdown file to write")
    parser.add_argument("--from", dest="source", help="fill: copy the runs the store lacks from this folder, where "
                        "this commit trained them (make reproduce's cache, paper-code/output/reproduce/cache), "
                        "instead of training them again")
    args = parser.parse_args(argv)
    if args.source and args.command != "fill":
        parser.error("--from goes with fill only")
    if args.command == "report":
        if not (args.cache and args.results and args.out):
            parser.error("report needs --cache, --results and --out")
        return report(Path(args.cache), Path(args.results), Path(args.out))
    if args.command == "fill":
        return fill(Path(args.source) if args.source else None)
    return {"check": check, "sample": sample}[args.command]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
