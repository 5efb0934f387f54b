"""What each figure notebook reports: claim verdicts and the numbers behind the figure."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from . import _env
from ._checks import check_choice, check_int
from .cache import atomic_write_bytes

MODES = ("paper", "quick")


def default_out_dir() -> Path | None:
    """``paper-code/output`` of the cclib checkout this package was installed from (where
    ``make figures`` writes), or None for a package installed without its checkout."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").exists() and (root / "paper-code").is_dir():
        return root / "paper-code" / "output"
    return None


def check_parameters(mode: str, seed: int, out_dir: str | Path | None) -> Path:
    """Validate a notebook's papermill parameters; returns the output folder (created). out_dir
    None: :func:`default_out_dir`, whatever the working directory (papermill, jupytext and
    Jupyter run a notebook from different ones)."""
    check_choice("mode", mode, MODES)
    check_int("seed", seed, low=0)
    if out_dir is None:
        out_dir = default_out_dir()
        if out_dir is None:
            raise ValueError("out_dir is None, which means paper-code/output of the cclib checkout, and this "
                             "cclib is installed without one: pass out_dir, a folder whose parent exists")
    out = Path(out_dir)
    if not out.parent.exists():
        raise ValueError(f"out_dir's parent folder must exist, got {str(out)!r} (working directory {os.getcwd()})")
    out.mkdir(exist_ok=True)
    return out


#: A claim whose number lies within this many noise units of its threshold is not decided.
DECISIVE_MARGIN = 2.0
#: Margins are stored and shown up to this size (a noise of zero, as for a count that every seed
#: gives alike, would otherwise make them astronomical).
MARGIN_CAP = 1000.0
VERDICTS = ("holds", "fails", "inconclusive")
#: Whose claim a claim is: the paper's (stated in its text, figures or footnotes) or ours (a
#: question this project asks beyond it, or a stricter form of the paper's that the paper does
#: not state).
SOURCES = ("paper", "ours")


class Claims:
    """The verdicts of one figure's claims, each with its margin and the numbers behind it.

    A claim judged against noise (:meth:`compare`) has a margin: how far its number lies past
    the threshold, in units of its own noise (seed standard deviations or standard errors).
    It HOLDS at a margin of at least :data:`DECISIVE_MARGIN`, FAILS at one of at most minus
    that, and is INCONCLUSIVE in between. A claim with no noise scale (an exact count, a
    closed form) is decided plainly by :meth:`add`.

    :meth:`table` prints every verdict with its margin and numbers (a notebook shows it in an
    unchecked cell: the numbers move in their last digit from one CPU to another). :meth:`finish`
    prints the verdicts alone (the cell nbval checks) and, at paper settings, fails loudly if a
    verdict differs from the one recorded as ``expected``. In quick mode verdicts are printed
    as not meaningful and never fail.

    Every claim says whose it is: ``claims.paper.compare(...)`` for a claim of the paper,
    ``claims.ours.add(...)`` for one of this project (:data:`SOURCES`; ``claims.of(source)`` picks
    by name). The verdicts, the JSON and the index print it beside each claim.
    """

    def __init__(self, mode: str):
        self.mode = mode
        self.rows: list[dict] = []

    def of(self, source: str) -> "_Whose":
        """The claims of ``source`` ('paper' or 'ours'): ``add`` and ``compare`` as below."""
        check_choice("source", source, SOURCES)
        return _Whose(self, source)

    @property
    def paper(self) -> "_Whose":
        """The paper's claims: ``claims.paper.add(...)``, ``claims.paper.compare(...)``."""
        return self.of("paper")

    @property
    def ours(self) -> "_Whose":
        """This project's claims: ``claims.ours.add(...)``, ``claims.ours.compare(...)``."""
        return self.of("ours")

    def _record(self, name: str, verdict: str, margin, unit: str, detail: str, expected, source) -> str:
        if source is None:
            raise TypeError("say whose claim it is: claims.paper.add / claims.paper.compare for the paper's, "
                            "claims.ours.add / claims.ours.compare for ours")
        check_choice("source", source, SOURCES)
        if isinstance(expected, bool):
            expected = "holds" if expected else "fails"
        check_choice("expected", expected, VERDICTS)
        self.rows.append(dict(name=name, source=source, verdict=verdict,
                              holds={"holds": True, "fails": False}.get(verdict),
                              expected=expected, margin=margin, margin_unit=unit, detail=detail))
        return verdict

    def add(self, name: str, holds: bool, detail: str = "", expected: bool | str = True, *,
            source: str | None = None) -> str:
        """A claim decided exactly (no noise scale). expected: True/'holds', False/'fails'
        (a claim of the paper that we find does not reproduce) or 'inconclusive'."""
        return self._record(name, "holds" if bool(holds) else "fails", None, "", detail, expected, source)

    def compare(self, name: str, value: float, threshold: float, noise: float, *, above: bool = True,
                unit: str = "sd", detail: str = "", expected: bool | str = True, source: str | None = None) -> str:
        """The claim "value > threshold" (above=True) or "value < threshold", judged by its margin
        (value - threshold) / noise, sign flipped for above=False. noise > 0, in the value's
        units (a seed sd, a standard error); unit names it for the reader."""
        noise = float(noise)
        if not noise > 0:
            raise ValueError(f"noise must be a number > 0, got {noise}")
        margin = (float(value) - float(threshold)) / noise * (1 if above else -1)
        margin = max(-MARGIN_CAP, min(MARGIN_CAP, margin))
        verdict = ("holds" if margin >= DECISIVE_MARGIN else
                   "fails" if margin <= -DECISIVE_MARGIN else "inconclusive")
        return self._record(name, verdict, margin, unit, detail, expected, source)

    def as_list(self) -> list[dict]:
        """One dict per claim: name, source ('paper' or 'ours'), verdict, holds (None if
        inconclusive), expected, margin, margin_unit, detail (what the figure's JSON stores)."""
        return [dict(row) for row in self.rows]

    def _header(self) -> None:
        if self.mode != "paper":
            print(f"{self.mode} mode: a smoke run, verdicts are not meaningful")

    def table(self) -> None:
        """Every verdict with its margin and its numbers."""
        self._header()
        for row in self.rows:
            margin = "" if row["margin"] is None else f"margin {format_margin(row['margin'])} {row['margin_unit']}; "
            print(f"{row['verdict'].upper():<12} [{row['source']}] {row['name']}: {margin}{row['detail']}")

    def finish(self) -> None:
        """The verdicts alone; at paper settings, AssertionError on an unexpected one."""
        self._header()
        for row in self.rows:
            whose = "the paper's claim" if row["source"] == "paper" else "our claim"
            note = "" if row["expected"] == "holds" else f"  [recorded: {whose} {row['expected']}]"
            print(f"{row['verdict'].upper():<12} [{row['source']}] {row['name']}{note}")
        broken = [f"{r['name']}: {r['verdict']}, expected {r['expected']} ({r['detail']})"
                  for r in self.rows if r["verdict"] != r["expected"]]
        if broken and self.mode == "paper":
            raise AssertionError("claims with an unexpected verdict at paper settings:\n" + "\n".join(broken))


class _Whose:
    """The claims of one source: :meth:`Claims.add` and :meth:`Claims.compare` with it filled in."""

    def __init__(self, claims: Claims, source: str):
        self._claims, self.source = claims, source

    def add(self, *args, **kwargs) -> str:
        return self._claims.add(*args, source=self.source, **kwargs)

    def compare(self, *args, **kwargs) -> str:
        return self._claims.compare(*args, source=self.source, **kwargs)


def format_margin(margin: float) -> str:
    """+2.3, or >= +1000 / <= -1000 at the cap."""
    if abs(margin) >= MARGIN_CAP:
        return f">= +{MARGIN_CAP:.0f}" if margin > 0 else f"<= -{MARGIN_CAP:.0f}"
    return f"{margin:+.1f}"


def seed_noise(per_seed: np.ndarray, se: np.ndarray | float | None = None, axis: int = 0) -> np.ndarray:
    """The noise of a number measured once per seed, in its own units.

    per_seed: values along ``axis`` (one per seed). Returns the seeds' standard deviation (ddof 1;
    zero for a single seed) combined in quadrature with ``se``, an estimation standard error of the
    same shape as the reduced array (e.g. a loss curve's), or with a floor of 1e-12.
    """
    values = np.asarray(per_seed, dtype=float)
    sd = values.std(axis=axis, ddof=1) if values.shape[axis] > 1 else np.zeros(np.delete(values.shape, axis))
    extra = np.zeros_like(sd) if se is None else np.asarray(se, dtype=float)
    return np.sqrt(sd ** 2 + extra ** 2).clip(1e-12)


#: What a published result's numbers come from: the library, the notebooks, the scripts that run
#: them, and the pinned packages. An uncommitted change here makes a result unpublishable.
CODE_PATHS = ("src", "notebooks/*.py", "paper-code/*.py", "pyproject.toml", "requirements.lock")
#: Set to 1 to write results from uncommitted code anyway: they are marked unpublishable.
ALLOW_MODIFIED = "CCLIB_ALLOW_MODIFIED"


def _git(*args) -> str | None:
    import subprocess

    try:
        done = subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.rstrip() if done.returncode == 0 else None


def uncommitted() -> list[str]:
    """The files of :data:`CODE_PATHS` that differ from the commit checked out (changed, staged,
    deleted or new and not ignored); [] in a clean checkout or outside git."""
    top = _git("rev-parse", "--show-toplevel")
    if not top:
        return []
    changed = _git("-C", top, "status", "--porcelain", "--untracked-files=all", "--", *CODE_PATHS) or ""
    return [line[3:] for line in changed.splitlines() if line.strip()]


def require_committed(what: str) -> None:
    """Refuse (SystemExit, naming the files) to run ``what``, whose results are committed with the
    commit that produced them, while the code has uncommitted changes: no commit would hold the
    code that made them. With $CCLIB_ALLOW_MODIFIED=1 it goes on, and :func:`provenance` marks
    every result unpublishable."""
    changed = uncommitted()
    if not changed:
        return
    if (_env.get(ALLOW_MODIFIED) or "0") != "0":
        print(f"{what}: the code has uncommitted changes ({', '.join(changed[:8])}"
              f"{' ...' if len(changed) > 8 else ''}); ${ALLOW_MODIFIED} is set, so the results are "
              "written marked unpublishable", file=sys.stderr)
        return
    raise SystemExit(f"{what} refused: its results record the commit whose code made them, and the code has "
                     f"uncommitted changes: {', '.join(changed[:8])}{' ...' if len(changed) > 8 else ''}. "
                     f"Commit them first (or set {ALLOW_MODIFIED}=1 to write results marked unpublishable).")


def provenance() -> dict:
    """What produced a result: git commit, library versions, CPU model, code fingerprint. If the
    code (:data:`CODE_PATHS`) differs from the commit, the commit reads '<sha>+modified' and
    ``unpublishable`` says why (no commit holds that code); otherwise ``unpublishable`` is None."""
    import platform

    import torch

    from .cache import code_fingerprint

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = _git("rev-parse", "--short=12", "HEAD") or None
    changed = uncommitted() if commit else []
    unpublishable = None
    if changed:
        commit += "+modified"
        unpublishable = f"made by uncommitted code ({', '.join(changed[:8])}{' ...' if len(changed) > 8 else ''})"
    return dict(git_commit=commit, unpublishable=unpublishable, torch=torch.__version__, numpy=np.__version__,
                python=platform.python_version(), cpu=cpu, cores=os.cpu_count(),
                code_fingerprint=code_fingerprint())


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None  # JSON has no NaN
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return value


def write_json(out_dir: str | Path, figure: str, mode: str, seed: int, claims: Claims, **numbers) -> None:
    """Write ``out_dir/<figure>.json``: figure, mode, seed, provenance, claims, and the numbers.

    Returns nothing, so that a notebook's last line shows no path of the machine it ran on.
    """
    data = {"figure": figure, "mode": mode, "seed": seed, "provenance": provenance(),
            "claims": claims.as_list(), **numbers}
    atomic_write_bytes(Path(out_dir) / f"{figure}.json", json.dumps(_plain(data), indent=1).encode())
