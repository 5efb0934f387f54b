"""Regenerate the paper's figures by running the notebooks with papermill.

    python paper-code/make_figures.py                 # every figure, paper settings
    python paper-code/make_figures.py --only fig05 fig09 --mode quick

Each notebook is executed into paper-code/output/<name>.ipynb; the notebooks themselves write
<figNN>.png, .pdf and .json there. A table of every claim and its verdict is printed at the end,
and the exit status is 1 if any notebook failed, 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "paper-code" / "output"
MODES = ("paper", "quick")


def available() -> list[str]:
    return sorted(p.stem for p in NOTEBOOKS.glob("fig*.ipynb"))


def parse(argv) -> argparse.Namespace:
    names = available()
    short = {n.split("_")[0]: n for n in names}
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="paper", help=f"one of {', '.join(MODES)} (default paper)")
    parser.add_argument("--only", nargs="+", metavar="FIG", help=f"figures to run: {', '.join(short)}")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (its parent must exist)")
    parser.add_argument("--seed", default="0", help="seed, an integer >= 0")
    parser.add_argument("--inplace", action="store_true",
                        help="also write each executed notebook back to notebooks/ (to commit it)")
    args = parser.parse_args(argv)
    if args.mode not in MODES:
        parser.error(f"--mode must be one of {', '.join(MODES)}, got {args.mode!r}")
    if not args.seed.isdigit():
        parser.error(f"--seed must be an integer >= 0, got {args.seed!r}")
    args.seed = int(args.seed)
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
    args.notebooks = chosen
    return args


def run(args) -> int:
    import papermill as pm

    args.out.mkdir(exist_ok=True)
    results, started = [], time.time()
    for i, name in enumerate(args.notebooks, 1):
        print(f"[{i}/{len(args.notebooks)}] {name} ({args.mode}) ...", flush=True)
        t0 = time.time()
        target = args.out / f"{name}.ipynb"
        partial = args.out / f".{name}.running.ipynb"
        try:
            pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(partial), cwd=str(NOTEBOOKS),
                                parameters=dict(mode=args.mode, seed=args.seed, out_dir=str(args.out)),
                                progress_bar=False, kernel_name="python3")
            partial.replace(target)
            if args.inplace:
                (NOTEBOOKS / f"{name}.ipynb").write_bytes(target.read_bytes())
            ok = True
        except KeyboardInterrupt:
            partial.unlink(missing_ok=True)
            print("interrupted: nothing partial left in the output folder; rerun to resume "
                  "(trained models are cached in data/)", file=sys.stderr)
            return 130
        except Exception as err:  # a failed notebook: report it, keep going
            partial.unlink(missing_ok=True)
            print(f"    FAILED: {str(err).strip().splitlines()[-1] if str(err).strip() else err}")
            ok = False
        seconds = time.time() - t0
        results.append((name, ok, seconds))
        print(f"    {'done' if ok else 'failed'} in {seconds:.0f} s "
              f"(total {time.time() - started:.0f} s)", flush=True)
    print_table(args.out, results)
    print(f"all figures: {time.time() - started:.0f} s")
    return 0 if all(ok for _, ok, _ in results) else 1


def print_table(out: Path, results) -> None:
    print("\nclaim verdicts")
    for name, ok, seconds in results:
        fig = name.split("_")[0]
        path = out / f"{fig}.json"
        if not ok or not path.exists():
            print(f"  {fig}: notebook failed, no verdicts")
            continue
        for claim, verdict in json.loads(path.read_text())["claims"].items():
            print(f"  {fig}  {'HOLDS' if verdict else 'FAILS'}  {claim}")


if __name__ == "__main__":
    sys.exit(run(parse(sys.argv[1:])))
