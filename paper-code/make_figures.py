"""Regenerate the paper's figures: find (or train) every run they need, then run the notebooks.

    python paper-code/make_figures.py                 # every figure, paper settings
    python paper-code/make_figures.py --only fig05 fig09 --mode quick

Two stages (``--sweep-only``: the first alone). (1) The sweep: every run the chosen notebooks use, from
:func:`cclib.paper_runs.registry`, read from the store (``data/store/``, the paper's runs) or the
local cache by :func:`cclib.experiments.trained_many`, which trains, as one sweep, any run found
in neither (their shards together, largest first, on every core; on a GPU with $CCLIB_DEVICE). At
paper settings on a clone whose store is current it trains nothing. (2) The notebooks, executed with papermill by --jobs worker processes
(default: one per core), each with one single-threaded kernel that runs its notebooks in turn,
longest first, reset between them (no names, figures or style left from the last: so each
starts as in a fresh kernel, and the start-up of a kernel and
of its imports is paid once per worker, not per notebook; results are bit-identical to a
sequential run), with
$CCLIB_CACHE_ONLY set: a notebook that would train a run the sweep did not fails, so every run
checks that the registry lists what the notebooks use. (Notebooks from another --notebooks
folder have no registry: they train what they need themselves.) Each notebook runs in a staging folder;
only when it succeeds are its executed notebook, PNG, PDF and JSON moved into the output folder,
so an interrupted or failed run leaves no partial files there (trained models stay in the local
cache, $CCLIB_CACHE or data/, so the next run resumes). At the end
it writes index.html (every figure, its claims, key numbers, settings and time) and
timings.json, prints a table of every claim and its verdict, and exits 1 if any notebook
failed, 2 for bad arguments, 130 when interrupted (Ctrl-C, SIGTERM, SIGHUP or a closed output
pipe: running notebooks are stopped and their staging folders removed). A failed notebook's
executed copy, with the traceback in the failing cell, is kept beside its log.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "paper-code" / "output"
RESULTS = ROOT / "paper-code" / "results"  # committed copies of the paper-settings JSON (--inplace)
MODES = ("paper", "quick")


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"make_figures.py: error: {message}\n")


def parse(argv) -> argparse.Namespace:
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="paper", help=f"one of {', '.join(MODES)} (default paper)")
    parser.add_argument("--only", nargs="+", metavar="FIG", help="figures to run, e.g. fig02 fig05")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (its parent must exist)")
    parser.add_argument("--seed", default="0", help="seed, an integer >= 0")
    parser.add_argument("--notebooks", default=str(ROOT / "notebooks"), help="folder of fig*.ipynb")
    parser.add_argument("--inplace", action="store_true",
                        help="also write each executed notebook back to the notebooks folder, its "
                             "JSON to paper-code/results/, and regenerate README.md's findings")
    parser.add_argument("--sweep-only", action="store_true",
                        help="find (or train) every run the chosen notebooks use, and stop before "
                             "the notebooks")
    parser.add_argument("--jobs", default=str(os.cpu_count() or 1),
                        help="notebooks run at once (default: number of cores)")
    parser.add_argument("--progress-every", type=float, default=30.0, metavar="SECONDS",
                        help="print which notebooks run, at which cell, this often (default 30)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # internal: run notebooks
    args = parser.parse_args(argv)
    if not args.jobs.isdigit() or int(args.jobs) < 1:
        parser.error(f"--jobs must be an integer >= 1, got {args.jobs!r}")
    args.jobs = int(args.jobs)
    if args.mode not in MODES:
        parser.error(f"--mode must be one of {', '.join(MODES)}, got {args.mode!r}")
    if not args.seed.isdigit():
        parser.error(f"--seed must be an integer >= 0, got {args.seed!r}")
    args.seed = int(args.seed)
    if args.inplace and (args.mode, args.seed) != ("paper", 0):
        parser.error("--inplace writes the notebooks that are committed, whose parameters cell says "
                     f"mode 'paper', seed 0; got mode {args.mode!r}, seed {args.seed}")
    args.notebooks = Path(args.notebooks).resolve()
    if args.sweep_only and (args.inplace or args.notebooks != ROOT / "notebooks"):
        parser.error("--sweep-only trains the registry's runs of the project's own notebooks and "
                     "executes none: it cannot be combined with --inplace or --notebooks")
    short = {p.stem.split("_")[0]: p.stem for p in sorted(args.notebooks.glob("fig*.ipynb"))}
    if not short:
        parser.error(f"--notebooks has no fig*.ipynb: {str(args.notebooks)!r}")
    out = Path(args.out).resolve()
    if not out.parent.is_dir():
        parser.error(f"--out's parent folder must exist, got {str(out.parent)!r}")
    args.out = out
    chosen = []
    for name in args.only or list(short):
        key = name.split("_")[0]
        if key not in short:
            parser.error(f"--only got unknown figure {name!r}; allowed: {', '.join(short)}")
        chosen.append(short[key])
    args.chosen = chosen
    return args


#: Run in a kernel before its first notebook: the rcParams of a fresh kernel with pyplot imported,
#: kept for the next notebooks.
FRESH = """import matplotlib as _m, matplotlib.pyplot as _p
_m._cclib_fresh_rc = {k: v for k, v in _m.rcParams.items() if k != "backend"}
"""
#: Run in a kernel between two notebooks, so that the next starts as in a fresh kernel: no names
#: of the last and cells counted from 1 in a new history session (IPython's reset), no figures,
#: the rcParams of a fresh kernel, and torch's default generator reseeded from the system as a
#: new process seeds it (cclib and the notebooks draw from seeded generators only, so nothing
#: depends on it).
RESET = """get_ipython().reset(new_session=True)
import matplotlib as _m, matplotlib.pyplot as _p, torch as _t
_p.close("all"); _m.rcParams.update(_m._cclib_fresh_rc); _t.seed()
"""


def work(args) -> int:
    """Worker mode: execute the notebooks named on stdin, one per line, in turn, in one kernel
    (reset between them: :data:`RESET`), each into its staging folder; after each, write the
    folder's ``.exit`` (its exit code: 0, 1 failed, 130 interrupted; its seconds; the failure in
    words). A kernel that ran a failed notebook is replaced. Exit 0 at the end of stdin, 130 if
    interrupted."""
    import papermill as pm
    from jupyter_client.manager import KernelManager

    _interrupt_on_signals()
    km = None
    try:
        for line in sys.stdin:
            name = line.strip()
            if not name:
                break
            stage, t0 = args.out / f".staging-{name}", time.time()
            if km is None:
                km = KernelManager(kernel_name="python3")
                km.start_kernel(cwd=str(args.notebooks))
                before = FRESH
            else:
                before = RESET
            if not os.environ.get("CCLIB_EVALUATIONS_LOG"):  # what its evaluations read and computed
                log = str(args.out / f".{name}.evaluations")
                before += f"import os as _o; _o.environ['CCLIB_EVALUATIONS_LOG'] = {log!r}\n"
            _in_kernel(km, before + "del _m, _p" + (", _t" if before.startswith(RESET) else "")
                       + (", _o" if "_o." in before else "") + "\n")   # none of its names left
            rc, failed = _execute(pm, km, name, stage, args)
            if rc != 0:
                km.shutdown_kernel(now=True)
                km = None
            marker = dict(rc=rc, seconds=time.time() - t0, failed=failed)
            (stage / ".exit.tmp").write_text(json.dumps(marker))
            (stage / ".exit.tmp").replace(stage / ".exit")
            if rc == 130:
                return 130
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if km is not None and km.has_kernel:
            km.shutdown_kernel(now=True)


def _in_kernel(km, code: str) -> None:
    """Run ``code`` in the kernel of ``km``, its output dropped; RuntimeError if it fails."""
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        reply = kc.execute_interactive(code, timeout=120, store_history=False, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the kernel could not run {code.splitlines()[0]!r}: {reply['content'].get('evalue')}")
    finally:
        kc.stop_channels()


def _execute(pm, km, name: str, stage: Path, args) -> tuple[int, str]:
    """Execute one notebook in the kernel of ``km``: (0, ''), (1, the failing cell in words) or
    (130, '')."""
    try:
        pm.execute_notebook(str(args.notebooks / f"{name}.ipynb"), str(stage / f"{name}.ipynb"),
                            progress_bar=False, kernel_name="python3", km=km,
                            parameters=dict(mode=args.mode, seed=args.seed, out_dir=str(stage)))
        return 0, ""
    except KeyboardInterrupt:
        return 130, ""
    except pm.PapermillExecutionError as err:
        if err.ename == "KeyboardInterrupt":
            return 130, ""
        try:  # name the cell by its first line: the one whose output is the error
            executed = json.loads((stage / f"{name}.ipynb").read_text())
            cell = next(c for c in executed["cells"]
                        if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
            first = "".join(cell["source"]).strip().splitlines()[0]
        except (OSError, ValueError, IndexError, KeyError, StopIteration):
            first = "?"
        where = f"cell [{err.exec_count}] `{first[:60]}`"
        return 1, f"FAILED in {where}: {err.ename}: {err.evalue}".splitlines()[0]
    except Exception as err:  # noqa: BLE001 - a dead kernel, a timeout: the notebook failed
        return 1, f"FAILED: {type(err).__name__}: {err}".splitlines()[0]


def _interrupt_on_signals() -> None:
    """SIGTERM and SIGHUP end the process the way Ctrl-C does, through KeyboardInterrupt."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def sweep(args) -> dict:
    """Stage 1: train every run the chosen notebooks use, as one sweep (its numbers, for
    timings.json)."""
    from cclib import experiments, paper_runs, parallel

    figures = [name.split("_")[0] for name in args.chosen]
    specs = paper_runs.registry(args.seed, args.mode == "quick", figures=figures)
    workers = parallel.worker_count()
    print(f"sweep: the {len(specs)} registry runs of {len(figures)} notebooks, on {workers} worker"
          f"{'s' * (workers != 1)} (or $CCLIB_DEVICE)", flush=True)
    stats: dict = {}
    started = time.time()
    experiments.trained_many(list(specs.values()), progress=True, stats=stats)
    stats.update(seconds=time.time() - started, workers=workers)
    busy = stats["task_cpu_seconds"] / max(stats["wall_seconds"] * workers, 1e-9)
    stats["core_use"] = busy if stats["trained"] else None
    print(f"sweep: {stats['trained']} runs trained, {stats['cached']} read from the store or the cache, in "
          f"{stats['seconds']:.0f} s" + (f"; the workers were busy {100 * busy:.0f}% of the training's "
                                        f"wall time" if stats["trained"] else ""), flush=True)
    return stats


def run(args) -> int:
    """The sweep, then every chosen notebook on ``args.jobs`` workers (:class:`Worker`), each
    given the next pending one as it ends one; the timings, the index and (with --inplace) the
    committable notebooks and results. 130 if interrupted, 1 if a notebook failed."""
    if args.inplace and args.notebooks == ROOT / "notebooks":  # committed with the commit that made it
        from cclib import report

        report.require_committed("make notebooks (--inplace)")
    args.out.mkdir(exist_ok=True)
    started = time.time()
    _interrupt_on_signals()
    own = args.notebooks == ROOT / "notebooks"  # the registry lists the runs of these notebooks
    try:
        swept = sweep(args) if own else None
    except (KeyboardInterrupt, BrokenPipeError) as err:
        if isinstance(err, BrokenPipeError):
            _silence_stdout()
        _say("interrupted during the sweep: nothing was written to the output folder; run again to "
             f"resume (every run finished so far is cached in {_cache_place()})")
        return 130
    if args.sweep_only:
        return 0
    try:  # start the notebooks that took longest last time first
        earlier = json.loads((args.out / "timings.json").read_text()).get("figures", {})
    except (OSError, ValueError):
        earlier = {}
    pending = sorted(args.chosen, key=lambda name: -earlier.get(name, 0))
    results: list[dict] = []
    env = _notebook_env(args.jobs, len(pending), own)
    logs = Path(tempfile.mkdtemp(prefix="cclib-figures-logs-"))  # kept only if a notebook fails
    notebooks_started = last_progress = time.time()
    workers: list[Worker] = []
    try:
        workers = [Worker(i, args, env, logs) for i in range(min(args.jobs, len(pending)))]
        for worker in workers:
            _give(worker, pending, args, len(results), workers)
        while any(w.name for w in workers):
            time.sleep(0.2)
            busy = [w for w in workers if w.name]
            if time.time() - last_progress >= args.progress_every:
                last_progress = time.time()
                print("    running: " + "; ".join(
                    f"{w.name} {_cell_progress(w.stage / f'{w.name}.ipynb')}, {time.time() - w.t0:.0f} s"
                    for w in busy), flush=True)
            for worker in busy:
                marker = worker.stage / ".exit"
                if marker.exists():
                    ended = json.loads(marker.read_text())
                elif worker.proc.poll() is not None:  # the worker itself died
                    ended = dict(rc=130 if worker.proc.returncode == 130 else 1, failed="FAILED: its worker died")
                else:
                    continue
                results.append(_collect(worker.name, ended["rc"], ended.get("failed", ""), worker.stage,
                                        worker.t0, args, logs))
                r = results[-1]
                print(f"    {r['name']} {'done' if r['ok'] else 'failed'} in {r['seconds']:.0f} s (evaluations: "
                      f"{r['evaluations_read']} read, {r['evaluations_computed']} computed; total "
                      f"{time.time() - started:.0f} s)", flush=True)
                if worker.proc.poll() is not None and pending:  # replaced, if there is more to do
                    worker.restart()
                _give(worker, pending, args, len(results), workers)
    except (KeyboardInterrupt, BrokenPipeError) as err:
        _stop(workers, logs, broken_pipe=isinstance(err, BrokenPipeError))
        return 130
    for worker in workers:
        worker.proc.wait()
    if all(r["ok"] for r in results):
        shutil.rmtree(logs, ignore_errors=True)
    results.sort(key=lambda r: r["name"])
    _record(args, results, swept, started, notebooks_started)
    return 0 if all(r["ok"] for r in results) else 1


def _notebook_env(jobs: int, notebooks: int, own: bool) -> dict:
    """The environment of each worker (and its kernel). Each gets cores // jobs: cclib's training
    workers, and the threads of other BLAS users in the kernels (numpy, scipy), so that notebooks
    side by side do not oversubscribe the cores. The numbers do not depend on it.
    $CCLIB_CACHE_ONLY for the project's own notebooks: they may train nothing new."""
    threads = max(1, (os.cpu_count() or 1) // min(jobs, notebooks))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if own:
        env["CCLIB_CACHE_ONLY"] = "1"
    env.setdefault("CCLIB_WORKERS", str(threads))
    return env


class Worker:
    """A process that executes notebooks in one kernel (:func:`work`), fed their names one at a
    time on its stdin; ``name``, ``stage`` and ``t0``: the notebook it runs now (None: idle or
    done), its staging folder and when it was given."""

    def __init__(self, index: int, args, env: dict, logs: Path):
        self.index, self.args, self.env, self.logs = index, args, env, logs
        self.name, self.stage, self.t0 = None, None, 0.0
        self.restart()

    def restart(self) -> None:
        cmd = [sys.executable, __file__, "--worker", "--out", str(self.args.out), "--mode", self.args.mode,
               "--seed", str(self.args.seed), "--notebooks", str(self.args.notebooks)]
        log = open(self.logs / f"worker-{self.index}.log", "a")
        self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.PIPE, stdout=log,
                                     stderr=subprocess.STDOUT, text=True)
        log.close()


def _give(worker: Worker, pending: list, args, done: int, workers: list) -> None:
    """Give ``worker`` the next pending notebook, in a fresh staging folder, or tell it to end."""
    if not pending:
        worker.name = None
        if worker.proc.poll() is None and not worker.proc.stdin.closed:
            worker.proc.stdin.close()
        return
    name = pending.pop(0)
    stage = args.out / f".staging-{name}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    worker.name, worker.stage, worker.t0 = name, stage, time.time()
    try:
        worker.proc.stdin.write(name + "\n")
        worker.proc.stdin.flush()
    except BrokenPipeError:  # the worker died before reading it: the loop finds it dead and fails
        pass                 # this notebook (it is no interrupt of the run, as our own stdout's would be)
    print(f"[{done + sum(1 for w in workers if w.name)}/{len(args.chosen)}] {name} ({args.mode}) started", flush=True)


def _collect(name: str, rc: int, failed: str, stage: Path, t0: float, args, logs: Path) -> dict:
    """A finished notebook's outputs moved into place (its HTML page, and with --inplace the
    committable notebook and its results), or its failure reported; {name, ok, seconds, the
    evaluations it read and computed}. KeyboardInterrupt if it was interrupted."""
    evaluations = _evaluations(args.out / f".{name}.evaluations")
    (args.out / f".{name}.evaluations").unlink(missing_ok=True)
    if rc == 130:
        shutil.rmtree(stage, ignore_errors=True)
        raise KeyboardInterrupt
    ok = rc == 0
    (stage / ".exit").unlink(missing_ok=True)
    if ok:
        for path in stage.iterdir():
            path.replace(args.out / path.name)
        try:  # a page to read it by; the figure does not depend on it
            write_notebook_html(args.out / f"{name}.ipynb")
        except Exception as err:  # noqa: BLE001 - nbconvert's errors are many
            print(f"    {name}: no HTML page ({type(err).__name__}: {err})"[:200])
        if args.inplace:
            write_committable(args.out / f"{name}.ipynb", args.notebooks / f"{name}.ipynb")
            if args.notebooks == ROOT / "notebooks":  # the project's own figures
                fig = name.split("_")[0]
                RESULTS.mkdir(exist_ok=True)
                shutil.copyfile(args.out / f"{fig}.json", RESULTS / f"{fig}.json")
    else:
        (logs / f"{name}.log").write_text(failed + "\n")
        executed = stage / f"{name}.ipynb"
        if executed.exists():  # the executed copy shows the failing cell and traceback
            executed.replace(logs / f"{name}.failed.ipynb")
        print(f"    {name} {failed or 'FAILED'}; log and executed notebook in {logs}")
    shutil.rmtree(stage, ignore_errors=True)
    return dict(name=name, ok=ok, seconds=time.time() - t0, **evaluations)


def _evaluations(log: Path) -> dict:
    """How many evaluations (cclib.evaluations) a notebook read from the store or cache and how
    many it computed, from the log its process appended to."""
    try:
        words = [line.split(" ", 1)[0] for line in log.read_text().splitlines()]
    except OSError:
        return dict(evaluations_read=0, evaluations_computed=0)
    return dict(evaluations_read=words.count("read"), evaluations_computed=words.count("computed"))


def _stop(workers: list, logs: Path, broken_pipe: bool) -> None:
    """Interrupt every worker (each shuts its kernel down) and remove what the notebooks left, so
    that nothing partial stays in the output folder."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second signal must not
        signal.signal(sig, signal.SIG_IGN)                         # cut the clean-up short
    if broken_pipe:  # the reader of our output went away
        _silence_stdout()
    for worker in workers:
        if worker.proc.poll() is None:
            worker.proc.send_signal(signal.SIGINT)
    for worker in workers:
        try:
            worker.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()
        if worker.name:
            shutil.rmtree(worker.stage, ignore_errors=True)
            (worker.args.out / f".{worker.name}.evaluations").unlink(missing_ok=True)
    shutil.rmtree(logs, ignore_errors=True)
    _say("interrupted: nothing partial was left in the output folder; run again to resume "
         f"(trained models are cached in {_cache_place()})")


def _record(args, results: list[dict], swept: dict | None, started: float, notebooks_started: float) -> None:
    """timings.json, the index and the table of verdicts; with --inplace on the project's own
    notebooks, the README's time of make figures and the regenerated blocks."""
    total = time.time() - started
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024**2
    timings_path = args.out / "timings.json"
    try:  # figures of earlier runs still in the folder keep their recorded times
        earlier = json.loads(timings_path.read_text()).get("figures", {})
    except (OSError, ValueError):
        earlier = {}
    figures = {**earlier, **{r["name"]: r["seconds"] for r in results if r["ok"]}}
    timings = dict(mode=args.mode, seed=args.seed, jobs=args.jobs, total_seconds=total,
                   sweep=swept, notebooks_seconds=time.time() - notebooks_started,
                   peak_rss_gb=peak, run={r["name"]: r["seconds"] for r in results},
                   evaluations={r["name"]: {k.split("_")[1]: r[k] for k in ("evaluations_read", "evaluations_computed")}
                                for r in results},
                   figures=dict(sorted(figures.items())))
    _write_text(timings_path, json.dumps(timings, indent=1))
    write_index(args.out, args.notebooks, figures, failed=[r["name"] for r in results if not r["ok"]])
    print_table(args.out, results)
    if args.inplace and args.notebooks == ROOT / "notebooks":
        import findings
        if not args.only and swept is not None and swept["trained"] == 0 and all(r["ok"] for r in results):
            # every figure from the store: README's time for make figures
            findings.record("figures", dict(seconds=round(total), notebooks=len(results), trained=0,
                                            notebooks_seconds=round(timings["notebooks_seconds"]),
                                            evaluations_computed=sum(r["evaluations_computed"] for r in results)))
        findings.main([])
        print("the generated blocks of README.md and docs/ regenerated from paper-code/results/")
    sweep_part = "" if swept is None else f"sweep {swept['seconds']:.0f} s, then "
    print(f"all figures: {total:.0f} s ({sweep_part}notebooks with {args.jobs} jobs); peak memory of "
          f"one process {peak:.2f} GB; index: {args.out / 'index.html'}")


def _cell_progress(executing: Path) -> str:
    """'cell 5 of 12' for the notebook papermill is writing (it saves as each cell starts and ends)."""
    try:
        cells = [c for c in json.loads(executing.read_text())["cells"] if c["cell_type"] == "code"
                 and "injected-parameters" not in c["metadata"].get("tags", [])]  # as the reader counts
    except (OSError, ValueError, KeyError):
        return "starting"
    status = [c["metadata"].get("papermill", {}).get("status") for c in cells]
    started = sum(s in ("running", "completed") for s in status)
    return f"cell {max(started, 1)} of {len(cells)}"


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that neither later prints nor the exit flush hit the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _cache_place() -> str:
    """Where this run caches what it trains: $CCLIB_CACHE or the checkout's data/."""
    from cclib import cache

    return str(cache.default_dir())


def _say(message: str) -> None:
    """One line on stderr, if anyone is still reading it."""
    try:
        print(message, file=sys.stderr, flush=True)
    except (BrokenPipeError, OSError):
        pass


def write_committable(executed: Path, target: Path) -> None:
    """Copy an executed notebook to ``target`` as a reader should find it in the repository.

    Dropped: papermill's injected-parameters cell (in Jupyter it would override a reader's edit
    of the parameters cell, and it names this machine's staging folder) and papermill's metadata
    (timestamps in every cell, which jupytext would copy into the .py twin on every run). The
    parameters cell's defaults are what ran: --inplace allows only mode 'paper', seed 0.
    """
    nb = json.loads(executed.read_text())
    nb["cells"] = [c for c in nb["cells"] if "injected-parameters" not in c["metadata"].get("tags", [])]
    for cell in nb["cells"]:
        cell["metadata"].pop("papermill", None)
        cell["metadata"].pop("execution", None)
    nb["metadata"].pop("papermill", None)
    tmp = target.with_suffix(".ipynb.tmp")
    tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(target)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _verdict_label(claim: dict, mode: str) -> str:
    """HOLDS / FAILS / INCONCLUSIVE at paper settings; a smoke run's verdicts mean nothing."""
    return claim["verdict"].upper() if mode == "paper" else f"{claim['verdict']} (quick: not meaningful)"


def print_table(out: Path, results) -> None:
    print("\nclaim verdicts")
    for r in results:
        fig = r["name"].split("_")[0]
        path = out / f"{fig}.json"
        if not r["ok"] or not path.exists():
            print(f"  {fig}: notebook failed, no verdicts")
            continue
        data = json.loads(path.read_text())
        for claim in data["claims"]:
            unexpected = "" if claim["verdict"] == claim["expected"] else f"  (expected {claim['expected']})"
            print(f"  {fig}  {_verdict_label(claim, data['mode'])}  [{claim.get('source', '?')}] {claim['name']}{unexpected}")


def _caption(notebook: Path) -> tuple[str, str]:
    """Title (text) and the rest of a notebook's opening markdown cell (HTML: rendered markdown
    and math, see render.py)."""
    from render import markdown_html

    try:
        cells = json.loads(notebook.read_text())["cells"]
        text = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"])
    except (OSError, ValueError, StopIteration, KeyError):
        return notebook.stem, ""
    lines = text.strip().splitlines()
    title = lines[0].lstrip("# ").strip() if lines else notebook.stem
    return title, markdown_html("\n".join(lines[1:]))


def write_notebook_html(executed: Path) -> Path:
    """The executed notebook beside it as HTML (nbconvert's lab template, images embedded)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab", embed_images=True).from_filename(str(executed))
    target = executed.with_suffix(".html")
    _write_text(target, body)
    return target


def _scalars(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Key numbers worth a table row: scalars and short lists, nested keys joined by dots."""
    rows = []
    for key, value in data.items():
        if key in ("figure", "mode", "seed", "claims", "provenance"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((name, f"{value:.4g}"))
        elif isinstance(value, dict):
            rows.extend(_scalars(value, f"{name}."))
        elif isinstance(value, list) and 0 < len(value) <= 10 and all(isinstance(v, (int, float)) for v in value):
            rows.append((name, ", ".join(f"{v:.4g}" for v in value)))
    return rows


def _summary(figures, notebooks: Path, names: dict) -> list[str]:
    """index.html's head: the verdicts counted (the paper's claims and ours apart) and a table of
    contents, a line per figure with its own counts."""
    def counts(claims) -> dict:
        return {v: sum(c["verdict"] == v for c in claims) for v in ("holds", "fails", "inconclusive")}

    def say(c: dict) -> str:
        words = {"holds": "hold", "fails": "fail", "inconclusive": "inconclusive"}   # "126 hold"
        return ", ".join(f"<span class='{v}'>{n} {words[v] if n != 1 else v}</span>" for v, n in c.items() if n) \
            or "no claims"

    claims = [c for _, data in figures for c in data["claims"]]
    quick = any(data["mode"] != "paper" for _, data in figures)
    parts = []
    if quick:
        parts.append(f"<p class='quick'>Smoke test (mode quick): {len(claims)} claims in {len(figures)} figures "
                     "were computed; their verdicts say nothing about the paper.</p>")
    else:
        parts.append(f"<p><b>{len(claims)} claims in {len(figures)} figures</b>: {say(counts(claims))}.")
        for source, label in (("paper", "the paper's claims"), ("ours", "our claims")):
            mine = [c for c in claims if c.get("source") == source]
            if mine:
                parts.append(f"<br>Of {label}, {len(mine)}: {say(counts(mine))}.")
        parts.append("</p>")
    parts.append("<h2>Contents</h2><ol>")
    for fig, data in figures:
        title, _ = _caption(notebooks / f"{names.get(fig, fig)}.ipynb")
        tally = "" if quick else f" ({say(counts(data['claims']))})"
        parts.append(f"<li><a href='#{fig}'>{html.escape(title)}</a>{tally}</li>")
    parts.append("</ol>")
    return parts


def write_index(out: Path, notebooks: Path, seconds: dict, failed=()) -> Path:
    """out/index.html: every figure whose JSON is in ``out`` (from this run or an earlier one),
    each with its claims, key numbers, and the commit, mode and machine that made it; images
    by relative path, so the folder reads offline. seconds: notebook name -> run time."""
    from cclib.report import format_margin

    names = {p.stem.split("_")[0]: p.stem for p in notebooks.glob("fig*.ipynb")}
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>cclib figures</title>"
             "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}img{max-width:100%}"
             ".holds{color:#1a7f37}.fails{color:#b42318}.inconclusive{color:#9a6700}"
             ".quick{color:#57606a}td{padding:2px 8px}"
             ".source{font-size:80%;border:1px solid;border-radius:3px;padding:0 4px;margin-left:4px}"
             ".source.paper{color:#0550ae}.source.ours{color:#6639ba}</style></head><body>",
             "<h1>cclib: the paper's figures</h1>"]
    for name in failed:
        parts.append(f"<p class='fails'>{html.escape(name)}: the notebook failed in the last run; "
                     "the figure below, if any, is from an earlier run</p>")
    figures = [(p.stem, json.loads(p.read_text())) for p in sorted(out.glob("fig*.json"))]
    parts += _summary(figures, notebooks, names)
    for fig, data in figures:
        name = names.get(fig, fig)
        title, caption = _caption(notebooks / f"{name}.ipynb")
        made = data.get("provenance", {})
        quick = data["mode"] != "paper"
        if quick:  # the prose describes the paper's settings, which a smoke test does not use
            caption = ("<p class='quick'><b>Smoke test</b> (mode quick: a few hundred steps, fewer "
                       "seeds and samples). It checks that the notebook runs; its curves, numbers "
                       "and verdicts say nothing about the paper. Run mode paper for the figure.</p>")
        parts.append(f"<section id='{fig}'><h2>{html.escape(title)}</h2>{caption}")
        parts.append(f"<img src='{fig}.png' alt='{fig}'><p>mode {html.escape(data['mode'])}, seed "
                     f"{data['seed']}; commit {html.escape(str(made.get('git_commit')))}; torch "
                     f"{html.escape(str(made.get('torch')))}, numpy {html.escape(str(made.get('numpy')))}; "
                     f"{html.escape(str(made.get('cpu')))}"
                     + (f"; {seconds[name]:.0f} s" if name in seconds else "") +
                     f". <a href='{fig}.pdf'>PDF</a>, <a href='{fig}.json'>JSON</a>, "
                     f"<a href='{name}.ipynb'>notebook</a>"
                     + (f" (<a href='{name}.html'>as a page</a>)" if (out / f"{name}.html").exists() else "")
                     + "</p><ul>")
        for claim in data["claims"]:
            cls = claim["verdict"] if data["mode"] == "paper" else "quick"
            margin = "" if quick or claim.get("margin") is None else \
                f" (margin {format_margin(claim['margin'])} {claim['margin_unit']})"
            source = claim.get("source")
            whose = {"paper": "the paper's claim", "ours": "our claim"}.get(source, "")
            parts.append(f"<li class='{cls}'>{html.escape(_verdict_label(claim, data['mode']))}: "
                         f"{html.escape(claim['name'])}{html.escape(margin)}"
                         + (f" <span class='source {source}'>{whose}</span>" if whose else "") + "</li>")
        parts.append("</ul><table>")
        for key, value in [] if quick else _scalars(data):
            parts.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(value)}</td></tr>")
        parts.append("</table></section>")
    parts.append("</body></html>")
    path = out / "index.html"
    _write_text(path, "\n".join(parts))
    return path


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    sys.exit(work(arguments) if arguments.worker else run(arguments))
