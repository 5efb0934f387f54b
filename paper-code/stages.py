"""Run named stages in turn, stop at the first that fails, and say how long each took.

    python paper-code/stages.py --out paper-code/output/test_timings.json \
        "unit tests=.venv/bin/python -m pytest tests -n auto" "nbval=..."

Each stage is NAME=COMMAND (a shell command). The exit status is the failing stage's, or 0. The
timings go to --out as JSON ({"stages": {name: seconds}, "total_seconds", "ok", "git_commit"}) and to stdout as
one line; `make test` runs its stages this way, so that every run says what each stage cost.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="JSON file for the timings")
    parser.add_argument("stages", nargs="+", metavar="NAME=COMMAND")
    args = parser.parse_args(argv)
    stages = []
    for stage in args.stages:
        name, sep, command = stage.partition("=")
        if not sep or not name.strip() or not command.strip():
            parser.error(f"a stage must be NAME=COMMAND, got {stage!r}")
        stages.append((name.strip(), command))
    timings, status, started = {}, 0, time.time()
    for name, command in stages:
        print(f"== {name}: {command}", flush=True)
        t0 = time.time()
        status = subprocess.run(command, shell=True).returncode
        timings[name] = round(time.time() - t0, 1)
        if status != 0:
            print(f"== {name} failed (exit {status}) after {timings[name]:.0f} s", flush=True)
            break
    total = round(time.time() - started, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
    out.write_text(json.dumps(dict(stages=timings, total_seconds=total, ok=status == 0, git_commit=commit or None),
                              indent=1) + "\n")
    print("== " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
          + f"; total {total:.0f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
