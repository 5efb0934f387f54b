"""What each figure notebook reports: claim verdicts and the numbers behind the figure."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._checks import check_choice, check_int
from .cache import atomic_write_bytes

MODES = ("paper", "quick")


def check_parameters(mode: str, seed: int, out_dir) -> Path:
    """Validate a notebook's papermill parameters; returns the output folder (created)."""
    check_choice("mode", mode, MODES)
    check_int("seed", seed, low=0)
    out = Path(out_dir)
    if not out.parent.exists():
        raise ValueError(f"out_dir's parent folder must exist, got {str(out)!r}")
    out.mkdir(exist_ok=True)
    return out


class Claims:
    """Collects (name, verdict, detail) lines; ``finish`` prints them and, in paper mode, fails
    loudly if a claim marked ``expected`` does not hold."""

    def __init__(self, mode: str):
        self.mode = mode
        self.rows: list[tuple[str, bool, str, bool]] = []

    def add(self, name: str, holds, detail: str = "", expected: bool = True) -> bool:
        """expected=False records a claim of the paper that we find does not reproduce."""
        self.rows.append((name, bool(holds), detail, expected))
        return bool(holds)

    def as_dict(self) -> dict[str, bool]:
        return {name: holds for name, holds, _, _ in self.rows}

    def finish(self) -> None:
        for name, holds, detail, expected in self.rows:
            tag = "HOLDS " if holds else "FAILS "
            note = "" if expected else "  [paper's claim; we expect it not to reproduce]"
            print(f"{tag} {name}: {detail}{note}")
        broken = [name for name, holds, _, expected in self.rows if holds != expected]
        if broken and self.mode == "paper":
            raise AssertionError(f"claims with an unexpected verdict at paper settings: {broken}")


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


def write_json(out_dir, figure: str, mode: str, seed: int, claims: Claims, **numbers) -> None:
    """Write ``out_dir/<figure>.json`` with figure, mode, seed, claims and the given numbers.

    Returns nothing, so that a notebook's last line shows no path of the machine it ran on.
    """
    data = {"figure": figure, "mode": mode, "seed": seed, "claims": claims.as_dict(), **numbers}
    atomic_write_bytes(Path(out_dir) / f"{figure}.json", json.dumps(_plain(data), indent=1).encode())
