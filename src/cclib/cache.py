"""A local cache of computed arrays, keyed by what determines them.

An entry is two files in the cache folder: ``<name>-<key>.npz`` (arrays, no pickle) and
``<name>-<key>.json`` (the configuration, the code fingerprint and the SHA-256 of the npz).
The key hashes three things: the configuration (for a trained run, its spec's canonical form and
the engine and device kind that computed it), :func:`code_fingerprint` (the syntax of every
module that computes cached numbers, and the numeric libraries' versions), and the compute
thread count read when the key is made. A comment, a docstring or a reformatting leaves the key
alone; a changed setting, an edited computation or an upgraded torch never returns a result
computed by other code. Files are written to a temporary name and renamed into place, so an
interrupted run leaves no half-written entry; a corrupted or truncated entry fails its checksum,
is reported in one line, deleted and recomputed.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

#: Modules that compute no cached number: presentation, and the registry of named runs (whose
#: specs are themselves part of every key).
NON_COMPUTING_MODULES = frozenset({"plotting.py", "report.py", "paper_runs.py"})


def _syntax(source: bytes) -> str:
    """The module's syntax tree without docstrings, as text: comments, docstrings and formatting
    do not change it; any change to what runs does."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


def library_versions() -> str:
    """The versions of the libraries whose arithmetic the cached numbers depend on."""
    import numba
    import scipy
    return f"torch {torch.__version__}; numpy {np.__version__}; scipy {scipy.__version__}; numba {numba.__version__}"


def code_fingerprint(package_dir: Path | None = None) -> str:
    """SHA-256 (hex, 20 chars) of the computing modules' syntax (:func:`_syntax`) and
    :func:`library_versions`.

    package_dir: the cclib package folder (default: this one). Every ``*.py`` in it counts except
    :data:`NON_COMPUTING_MODULES`, so a new module is covered without a list to keep up to date.
    """
    folder = Path(package_dir) if package_dir is not None else Path(__file__).resolve().parent
    digest = hashlib.sha256(library_versions().encode())
    for path in sorted(folder.glob("*.py")):
        if path.name not in NON_COMPUTING_MODULES:
            digest.update(path.name.encode() + b"\0" + _syntax(path.read_bytes()).encode() + b"\0")
    return digest.hexdigest()[:20]


_FINGERPRINT = code_fingerprint()  # once per process: the source cannot change under a run


def default_dir() -> Path:
    """$CCLIB_CACHE if set; else the ``data/`` folder of the enclosing cclib checkout (found from
    the working directory upwards); else ~/.cache/cclib. A folder other than a checkout's
    ``data/`` is named on stderr the first time it is used."""
    if os.environ.get("CCLIB_CACHE"):
        return _announce(Path(os.environ["CCLIB_CACHE"]), "$CCLIB_CACHE")
    for parent in [Path.cwd(), *Path.cwd().parents]:
        if (parent / "pyproject.toml").exists() and (parent / "src" / "cclib").is_dir():
            return parent / "data"
    return _announce(Path.home() / ".cache" / "cclib", "not in a cclib checkout")


_announced: set[Path] = set()


def _announce(folder: Path, why: str) -> Path:
    if folder not in _announced:
        _announced.add(folder)
        print(f"cclib.cache: caching in {folder} ({why})", file=sys.stderr)
    return folder


def config_key(config: dict, fingerprint: str | None = None) -> str:
    """The cache key of ``config`` computed by the code with ``fingerprint`` (default: this code)
    with the settings in force now, read at this call: the compute thread count ($CCLIB_THREADS)
    and the kind of the default device ($CCLIB_DEVICE, what a computation given no device uses)."""
    from ._threads import compute_threads

    code = _FINGERPRINT if fingerprint is None else fingerprint
    device = (os.environ.get("CCLIB_DEVICE") or "cpu").split(":")[0]
    text = json.dumps({"config": config, "code": code, "threads": compute_threads(), "device": device},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file what open() would
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _paths(name: str, config: dict, folder: Path | None) -> tuple[Path, Path]:
    folder = Path(folder) if folder is not None else default_dir()
    stem = f"{name}-{config_key(config)}"
    return folder / f"{stem}.npz", folder / f"{stem}.json"


def load(name: str, config: dict, folder: Path | None = None) -> dict[str, np.ndarray] | None:
    """The cached arrays for (name, config), or None if absent or invalid (then deleted)."""
    npz, meta = _paths(name, config, folder)
    if not (npz.exists() and meta.exists()):
        return None
    try:
        info = json.loads(meta.read_text())
        if info.get("sha256") != _sha256(npz):
            raise ValueError("checksum mismatch")
        with np.load(npz, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except Exception as err:  # any damage: report, discard, recompute
        print(f"cclib.cache: discarding damaged entry {npz.name} ({err})", file=sys.stderr)
        npz.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)
        return None


def save(name: str, config: dict, arrays: dict[str, np.ndarray], folder: Path | None = None) -> None:
    """Store ``arrays`` under ``config``'s key, atomically (a reader never sees half a file)."""
    npz, meta = _paths(name, config, folder)
    import io
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    data = buf.getvalue()
    atomic_write_bytes(npz, data)
    info = {"name": name, "config": config, "code": _FINGERPRINT,
            "sha256": hashlib.sha256(data).hexdigest()}
    atomic_write_bytes(meta, json.dumps(info, indent=1, sort_keys=True).encode())


def cached(name: str, config: dict, compute: Callable[[], dict[str, np.ndarray]],
           folder: Path | None = None) -> dict[str, np.ndarray]:
    """Load (name, config) from the cache, or compute, store and return it."""
    hit = load(name, config, folder)
    if hit is not None:
        return hit
    arrays = {k: np.asarray(v) for k, v in compute().items()}
    save(name, config, arrays, folder)
    return arrays
