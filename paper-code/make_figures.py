"""Regenerate the paper's figures by running the notebooks with papermill.

    python paper-code/make_figures.py                 # every figure, paper settings
    python paper-code/make_figures.py --only fig05 fig09 --mode quick

Notebooks run in up to --jobs worker processes at once (default: one per core, each kernel
single-threaded; results are bit-identical to a sequential run), a notebook that reuses another's
cached models waiting for it. Each notebook runs in a staging folder; only when it succeeds are
its executed notebook,
PNG, PDF and JSON moved into the output folder, so an interrupted or failed run leaves no
partial files there (trained models stay cached in data/, so the next run resumes). At the end
it writes index.html (every figure, its claims, key numbers, settings and time) and
timings.json, prints a table of every claim and its verdict, and exits 1 if any notebook
failed, 2 for bad arguments, 130 when interrupted.
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
RELATIVE_OUT = "../paper-code/output"  # DEFAULT_OUT as the notebooks' parameters cell names it
MODES = ("paper", "quick")
#: Notebooks that load another's trained models from the cache wait for it to finish.
DEPENDS = {"fig03": ["fig02"], "fig04": ["fig02"], "fig08": ["fig07"], "fig09": ["fig05"]}
#: Rough paper-mode seconds from an empty cache (2-core laptop), only to start the longest first.
COST = {"fig05": 430, "fig02": 310, "fig01": 125, "fig10": 105, "fig11": 35, "fig06": 30,
        "fig07": 30, "fig09": 15}


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
                        help="also write each executed notebook back to the notebooks folder")
    parser.add_argument("--jobs", default=str(os.cpu_count() or 1),
                        help="notebooks run at once (default: number of cores)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one notebook
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.jobs.isdigit() or int(args.jobs) < 1:
        parser.error(f"--jobs must be an integer >= 1, got {args.jobs!r}")
    args.jobs = int(args.jobs)
    if args.mode not in MODES:
        parser.error(f"--mode must be one of {', '.join(MODES)}, got {args.mode!r}")
    if not args.seed.isdigit():
        parser.error(f"--seed must be an integer >= 0, got {args.seed!r}")
    args.seed = int(args.seed)
    args.notebooks = Path(args.notebooks).resolve()
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


def work(args) -> int:
    """Worker mode: execute one notebook into its staging folder. Exit 0, 1 (failed), 130."""
    import papermill as pm

    try:
        pm.execute_notebook(str(args.notebooks / f"{args.worker}.ipynb"),
                            str(Path(args.stage) / f"{args.worker}.ipynb"), cwd=str(args.notebooks),
                            progress_bar=False, kernel_name="python3",
                            parameters=dict(mode=args.mode, seed=args.seed, out_dir=args.stage))
        return 0
    except KeyboardInterrupt:
        return 130
    except pm.PapermillExecutionError as err:
        if err.ename == "KeyboardInterrupt":
            return 130
        print(f"FAILED: {err.ename}: {err.evalue}".splitlines()[0], file=sys.stderr)
        return 1


def run(args) -> int:
    args.out.mkdir(exist_ok=True)
    pending, running, results, started = list(args.chosen), {}, [], time.time()
    # cclib itself computes on one thread; this keeps other BLAS users in the kernels (numpy,
    # scipy) from oversubscribing the cores when several notebooks run at once
    threads = max(1, (os.cpu_count() or 1) // min(args.jobs, len(pending)))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    logs = Path(tempfile.mkdtemp(prefix="cclib-figures-logs-"))  # kept only if a notebook fails

    def ready(name):  # none of the notebooks it depends on is still pending or running
        waits = DEPENDS.get(name.split("_")[0], [])
        return not any(p.split("_")[0] in waits for p in pending + list(running))

    try:
        while pending or running:
            waiting = sorted((n for n in pending if ready(n)), key=lambda n: -COST.get(n.split("_")[0], 0))
            for name in waiting[: args.jobs - len(running)]:
                pending.remove(name)
                stage = args.out / f".staging-{name}"
                shutil.rmtree(stage, ignore_errors=True)
                stage.mkdir()
                log = open(logs / f"{name}.log", "w")
                cmd = [sys.executable, __file__, "--worker", name, "--stage", str(stage), "--mode",
                       args.mode, "--seed", str(args.seed), "--notebooks", str(args.notebooks)]
                running[name] = (subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT),
                                 stage, time.time(), log)
                print(f"[{len(results) + len(running)}/{len(args.chosen)}] {name} ({args.mode}) started",
                      flush=True)
            time.sleep(0.2)
            for name, (proc, stage, t0, log) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[name]
                log.close()
                if proc.returncode == 130:
                    raise KeyboardInterrupt
                ok = proc.returncode == 0
                if ok:
                    for path in stage.iterdir():
                        path.replace(args.out / path.name)
                    if args.inplace:
                        write_committable(args.out / f"{name}.ipynb", args.notebooks / f"{name}.ipynb")
                else:
                    failed = [l for l in (logs / f"{name}.log").read_text().splitlines() if "FAILED" in l]
                    print(f"    {name} FAILED: {failed[-1] if failed else 'see ' + str(logs / (name + '.log'))}")
                shutil.rmtree(stage, ignore_errors=True)
                seconds = time.time() - t0
                results.append(dict(name=name, ok=ok, seconds=seconds))
                print(f"    {name} {'done' if ok else 'failed'} in {seconds:.0f} s "
                      f"(total {time.time() - started:.0f} s)", flush=True)
    except KeyboardInterrupt:
        for proc, stage, _, log in running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, stage, _, log in running.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
            shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
        print("interrupted: nothing partial was left in the output folder; run again to resume "
              "(trained models are cached in data/)", file=sys.stderr)
        return 130
    if all(r["ok"] for r in results):
        shutil.rmtree(logs, ignore_errors=True)
    results.sort(key=lambda r: r["name"])
    total = time.time() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    timings = dict(mode=args.mode, seed=args.seed, jobs=args.jobs, total_seconds=total,
                   peak_rss_gb=peak, figures={r["name"]: r["seconds"] for r in results})
    (args.out / "timings.json").write_text(json.dumps(timings, indent=1))
    write_index(args.out, results, args.mode, args.seed, args.notebooks)
    print_table(args.out, results)
    print(f"all figures: {total:.0f} s with {args.jobs} jobs; peak memory of one process "
          f"{peak:.2f} GB; index: {args.out / 'index.html'}")
    return 0 if all(r["ok"] for r in results) else 1


def write_committable(executed: Path, target: Path) -> None:
    """Copy an executed notebook to ``target`` with out_dir set back to the notebook's default.

    papermill injected the absolute staging folder as out_dir; left in, nbval on another clone
    would write to (or fail on) this machine's path.
    """
    nb = json.loads(executed.read_text())
    for cell in nb["cells"]:
        if "injected-parameters" in cell["metadata"].get("tags", []):
            cell["source"] = [f'out_dir = "{RELATIVE_OUT}"\n' if line.startswith("out_dir = ") else line
                              for line in cell["source"]]
    papermill = nb["metadata"].get("papermill", {})
    papermill.get("parameters", {})["out_dir"] = RELATIVE_OUT
    for key in ("input_path", "output_path"):
        if key in papermill:
            papermill[key] = target.name
    tmp = target.with_suffix(".ipynb.tmp")
    tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(target)


def print_table(out: Path, results) -> None:
    print("\nclaim verdicts")
    for r in results:
        fig = r["name"].split("_")[0]
        path = out / f"{fig}.json"
        if not r["ok"] or not path.exists():
            print(f"  {fig}: notebook failed, no verdicts")
            continue
        for claim, verdict in json.loads(path.read_text())["claims"].items():
            print(f"  {fig}  {'HOLDS' if verdict else 'FAILS'}  {claim}")


def _caption(notebook: Path) -> tuple[str, str]:
    """Title and first paragraph of a notebook's opening markdown cell."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
        text = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"])
    except (OSError, ValueError, StopIteration, KeyError):
        return notebook.stem, ""
    lines = text.strip().splitlines()
    title = lines[0].lstrip("# ").strip() if lines else notebook.stem
    body = " ".join(line.strip() for line in lines[1:]).strip()
    return title, body.split("  ")[0][:600]


def _scalars(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Key numbers worth a table row: scalars and short lists, nested keys joined by dots."""
    rows = []
    for key, value in data.items():
        if key in ("figure", "mode", "seed", "claims"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((name, f"{value:.4g}"))
        elif isinstance(value, dict):
            rows.extend(_scalars(value, f"{name}."))
        elif isinstance(value, list) and 0 < len(value) <= 10 and all(isinstance(v, (int, float)) for v in value):
            rows.append((name, ", ".join(f"{v:.4g}" for v in value)))
    return rows


def write_index(out: Path, results, mode: str, seed: int, notebooks: Path) -> Path:
    """out/index.html: one section per figure, readable offline (images by relative path)."""
    try:
        from cclib import __version__
    except ImportError:
        __version__ = "unknown"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>cclib figures</title>"
             "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}img{max-width:100%}"
             ".holds{color:#1a7f37}.fails{color:#b42318}td{padding:2px 8px}</style></head><body>",
             f"<h1>cclib: the paper's figures</h1><p>mode {html.escape(mode)}, seed {seed}, "
             f"cclib {html.escape(__version__)}</p>"]
    for r in results:
        fig = r["name"].split("_")[0]
        title, caption = _caption(notebooks / f"{r['name']}.ipynb")
        parts.append(f"<section id='{fig}'><h2>{html.escape(title)}</h2><p>{html.escape(caption)}</p>")
        json_path = out / f"{fig}.json"
        if not r["ok"] or not json_path.exists():
            parts.append(f"<p class='fails'>notebook failed after {r['seconds']:.0f} s</p></section>")
            continue
        data = json.loads(json_path.read_text())
        parts.append(f"<img src='{fig}.png' alt='{fig}'><p>time {r['seconds']:.0f} s; "
                     f"<a href='{fig}.pdf'>PDF</a>, <a href='{fig}.json'>JSON</a>, "
                     f"<a href='{r['name']}.ipynb'>notebook</a></p><ul>")
        for claim, verdict in data["claims"].items():
            cls = "holds" if verdict else "fails"
            parts.append(f"<li class='{cls}'>{'HOLDS' if verdict else 'FAILS'}: {html.escape(claim)}</li>")
        parts.append("</ul><table>")
        for key, value in _scalars(data):
            parts.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(value)}</td></tr>")
        parts.append("</table></section>")
    parts.append("</body></html>")
    path = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text("\n".join(parts))
    tmp.replace(path)
    return path


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    sys.exit(work(arguments) if arguments.worker else run(arguments))
