"""A cache of computed arrays, keyed by what determines them; the store is such a cache, committed.

An entry is two files: ``<name>-<key>.npz`` (arrays, no pickle, written byte for byte the same for
equal arrays) and ``<name>-<key>.json`` (the configuration, the code fingerprint, the SHA-256 of
the npz, and what else its writer records). The key hashes the configuration (for a trained
run: its spec's canonical form and the engine and device kind that computed it), the
fingerprint of the code that computes it, and the compute thread count and default device kind
read when the key is made.

The fingerprint (:func:`code_fingerprint`) covers exactly the code a result depends on: the
syntax, without comments, docstrings or formatting, of the modules its computation starts from
and every cclib module they import (:func:`module_closure`), and the numeric libraries'
versions. A trained run is keyed on the code that trains it (:func:`cclib.sweep.run_code`),
a loss curve on the evaluator's code and the key of the run it evaluates, a fit on the fitting
and evaluating code. So a changed setting, an edited computation or an upgraded torch never
returns a result computed by other code, and an edit elsewhere (the analysis, a plot, a
notebook) invalidates nothing.

Two folders hold entries: the local cache (:func:`default_dir`, ``data/`` of the checkout,
gitignored) and the store (:func:`store_dir`, ``data/store/``, committed: the paper's trained
runs). Files are written to a temporary name and renamed into place, so an interrupted run
leaves no half-written entry; a damaged entry fails its checksum (:func:`verify`), is never
served, and is reported (in the local cache it is deleted and recomputed; a damaged store entry
is named with the command that restores it, :mod:`cclib.store`).
"""
from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from . import _env

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


def modules_of(package_dir: Path | None = None) -> dict[str, Path]:
    """Every module of the package, by its dotted name below the package (``"train"``,
    ``"engines.fast"``; a subpackage by its own name, ``"engines"``, for its ``__init__.py``), with
    its file. The package's own ``__init__``, which runs on every import, only names the modules
    and computes nothing (the tests hold it to that): it is no module here. A ``.py`` file in a
    folder without ``__init__.py`` (a namespace package, which Python would import but a key
    could miss), or a module and a subpackage of one name, is refused (ValueError)."""
    folder = _package(package_dir)
    found = {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        loose = [folder.joinpath(*parts[:i]) for i in range(1, len(parts))
                 if not (folder.joinpath(*parts[:i]) / "__init__.py").is_file()]
        if loose:
            raise ValueError(f"{path} is in {loose[0]}, a folder without __init__.py: make it a package "
                             "(an empty __init__.py) so that the keys of the code that imports it see it")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            dotted = ".".join(parts)
            if dotted in found:
                raise ValueError(f"{found[dotted]} and {path} are both the module {dotted!r}: rename one")
            found[dotted] = path
    return found


def _imports(source: bytes, name: str, modules: dict | set, package: str = "cclib",
             is_package: bool = False) -> set[str]:
    """The package's modules (names among ``modules``, as :func:`modules_of` gives them) that the
    module ``name`` (its dotted name; ``is_package`` for a subpackage's ``__init__``) imports
    anywhere in ``source``, inside functions too (those imports run when the function does):
    relative imports of any depth, absolute ones of ``package``, and ``import package.x.y``. A
    module of a subpackage brings that subpackage's ``__init__`` with it (it runs first)."""
    here = name.split(".") if is_package else name.split(".")[:-1]   # the package ``name`` is in
    found = set()

    def add(dotted: list[str], names=()):
        for alias in names:                             # from pkg import module
            if ".".join([*dotted, alias]) in modules:
                found.add(".".join([*dotted, alias]))
        if dotted:                                      # the module itself, or the package run first
            if ".".join(dotted) not in modules:
                raise ValueError(f"{name} imports {'.'.join([package, *dotted])}, which is no module of "
                                 f"{package}: its key cannot follow it")
            found.add(".".join(dotted))

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if node.level:
                base = here[:len(here) - (node.level - 1)] if node.level - 1 <= len(here) else None
                if base is None:
                    continue                            # beyond the package: not ours
                add(base + (node.module.split(".") if node.module else []), names)
            elif node.module and node.module.split(".")[0] == package:
                add(node.module.split(".")[1:], names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == package:
                    add(alias.name.split(".")[1:])
    for dotted in list(found):                          # a subpackage's __init__ runs before its modules
        parts = dotted.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return found & set(modules)


def _package(package_dir: Path | None) -> Path:
    return Path(package_dir) if package_dir is not None else Path(__file__).resolve().parent


def module_closure(roots: Iterable[str], stop: Iterable[str] = (), package_dir: Path | None = None) -> list[str]:
    """The package's modules that ``roots`` (dotted module names, e.g. ``["evaluate"]`` or
    ``["engines.fast"]``) import, directly or through each other, at module level or inside
    functions, and the roots themselves; the modules in ``stop`` (and, for a subpackage, its
    modules) are neither included nor followed. Sorted names (:func:`modules_of`: subpackages and relative imports of any depth
    included; the package's own ``__init__`` is in no closure)."""
    folder = _package(package_dir)
    modules = modules_of(folder)
    stop = set(stop)
    unknown = (set(roots) | stop) - set(modules)
    if unknown:
        raise ValueError(f"roots and stop must name modules of {folder.name} ({', '.join(sorted(modules))}); "
                         f"got {', '.join(sorted(unknown))}")
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen or any(name == s or name.startswith(s + ".") for s in stop):
            continue
        seen.add(name)
        path = modules[name]
        todo.extend(_imports(path.read_bytes(), name, modules, folder.name, path.name == "__init__.py"))
    return sorted(seen)


def library_versions() -> str:
    """The versions of the libraries whose arithmetic the cached numbers depend on."""
    import numba
    import scipy
    return f"torch {torch.__version__}; numpy {np.__version__}; scipy {scipy.__version__}; numba {numba.__version__}"


def code_fingerprint(roots: Iterable[str] | None = None, stop: Iterable[str] = (),
                     package_dir: Path | None = None) -> str:
    """SHA-256 (hex, 20 chars) of the syntax (:func:`_syntax`) of the modules of
    :func:`module_closure` (``roots``, ``stop``) and of :func:`library_versions`: what a result
    computed by ``roots`` depends on. ``roots`` None: every module of the package (what
    :func:`cclib.report.provenance` records). package_dir: the cclib package folder (default:
    this one)."""
    if package_dir is None:  # the source cannot change under a running process
        return _fingerprint(None if roots is None else tuple(sorted(roots)), tuple(sorted(stop)))
    folder = _package(package_dir)
    modules = modules_of(folder)
    top = {"__init__": folder / "__init__.py"} if (folder / "__init__.py").is_file() else {}
    names = sorted(modules) + list(top) if roots is None else module_closure(roots, stop, folder)
    files = {**modules, **top}
    digest = hashlib.sha256(library_versions().encode())
    for name in sorted(names, key=lambda name: files[name].relative_to(folder).as_posix()):
        label = files[name].relative_to(folder).as_posix()   # "train.py", "engines/fast.py"
        digest.update(label.encode() + b"\0" + _syntax(files[name].read_bytes()).encode() + b"\0")
    return digest.hexdigest()[:20]


@functools.lru_cache(maxsize=None)
def _fingerprint(roots: tuple | None, stop: tuple) -> str:
    return code_fingerprint(roots, stop, _package(None))


def default_dir() -> Path:
    """$CCLIB_CACHE if set; else the ``data/`` folder of the enclosing cclib checkout (found from
    the working directory upwards); else ~/.cache/cclib. A folder other than a checkout's
    ``data/`` is named on stderr the first time it is used."""
    if _env.get("CCLIB_CACHE"):
        return _announce(Path(_env.get("CCLIB_CACHE")), "$CCLIB_CACHE")
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


def store_dir() -> Path | None:
    """The store of the paper's trained runs: $CCLIB_STORE if set, else ``data/store`` of the cclib
    checkout this package was installed from (the store belongs to the code it was keyed on);
    None for a package installed without its checkout."""
    if _env.get("CCLIB_STORE"):
        return Path(_env.get("CCLIB_STORE"))
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").exists() and (root / "src" / "cclib").is_dir():
        return root / "data" / "store"
    return None


def restore_command(paths) -> str:
    """The git command that restores the committed files ``paths`` (a store entry's npz and JSON),
    paths relative to the checkout."""
    root = Path(__file__).resolve().parents[2]  # the checkout
    names = []
    for path in paths:
        path = Path(path).resolve()
        names.append(str(path.relative_to(root)) if path.is_relative_to(root) else str(path))
    return "git checkout -- " + " ".join(names)


def config_key(config: dict, code: str) -> str:
    """The key of ``config`` computed by the code with fingerprint ``code``
    (:func:`code_fingerprint`), with the settings in force now, read at this call: the compute
    thread count ($CCLIB_THREADS) and the kind of the default device ($CCLIB_DEVICE, what a
    computation given no device uses)."""
    from ._threads import compute_threads

    if not (isinstance(code, str) and code):
        raise TypeError(f"code must be a code fingerprint (cclib.cache.code_fingerprint), got {code!r}")
    device = (_env.get("CCLIB_DEVICE") or "cpu").split(":")[0]
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


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as the bytes of an .npz file (``np.load`` reads it, no pickle), written the same
    way every time: entries in the given order, a fixed timestamp, so equal arrays give equal
    bytes (``np.savez`` stamps each entry with the time it was written)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(value), allow_pickle=False)
    return buf.getvalue()


def entry_paths(name: str, config: dict, code: str, folder: Path | None = None) -> tuple[Path, Path]:
    """The two files of entry (name, config, code) in ``folder`` (default :func:`default_dir`):
    ``<name>-<key>.npz`` and ``<name>-<key>.json``."""
    folder = Path(folder) if folder is not None else default_dir()
    stem = f"{name}-{config_key(config, code)}"
    return folder / f"{stem}.npz", folder / f"{stem}.json"


def verify(npz: Path, meta: Path, config: dict | None = None, code: str | None = None) -> str | None:
    """None if the entry (npz, meta) is whole, else why not, in words: its JSON unreadable, the
    npz's SHA-256 not the one its JSON records (a flipped byte, a truncated file), the JSON not
    the entry of ``config`` and ``code`` (when given), or the npz unreadable. Reads every byte."""
    try:
        info = json.loads(Path(meta).read_text())
    except (OSError, ValueError) as err:
        return f"its JSON {Path(meta).name} is unreadable ({type(err).__name__}: {err})"
    try:
        digest = _sha256(Path(npz))
    except OSError as err:
        return f"unreadable ({type(err).__name__}: {err})"
    if info.get("sha256") != digest:
        return (f"checksum mismatch: its SHA-256 is {digest[:12]}..., its JSON records "
                f"{str(info.get('sha256'))[:12]}... (a changed or truncated file)")
    if (config is not None and info.get("config") != json.loads(json.dumps(config))) or (code is not None and info.get("code") != code):
        return "its JSON records another configuration or code than its key's"
    try:
        with np.load(npz, allow_pickle=False) as f:
            for k in f.files:
                f[k]
    except Exception as err:  # noqa: BLE001 - any damage the checksum did not see
        return f"not a readable npz ({type(err).__name__}: {err})"
    return None


def load(name: str, config: dict, folder: Path | None = None, *, code: str,
         discard: bool = True, damaged: list | None = None) -> dict[str, np.ndarray] | None:
    """The stored arrays of (name, config) computed by the code ``code``, or None if absent or
    damaged (:func:`verify`). A damaged entry is reported on stderr, appended to ``damaged`` as
    (npz path, why) if a list is given, and, with ``discard``, deleted (the store's committed
    entries are kept: ``discard=False``)."""
    npz, meta = entry_paths(name, config, code, folder)
    if not (npz.exists() and meta.exists()):
        return None
    why = verify(npz, meta)
    if why is None:
        with np.load(npz, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    print(f"cclib.cache: {'discarding' if discard else 'ignoring'} damaged entry {npz}: {why}", file=sys.stderr)
    if damaged is not None:
        damaged.append((npz, why))
    if discard:
        npz.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)
    return None


def save(name: str, config: dict, arrays: dict[str, np.ndarray], folder: Path | None = None, *,
         code: str, info: dict | None = None) -> Path:
    """Store ``arrays`` under the key of (``config``, ``code``), atomically (a reader never sees
    half a file); ``info``: more to record in the entry's JSON (e.g. what produced it). Returns
    the npz's path."""
    npz, meta = entry_paths(name, config, code, folder)
    data = npz_bytes(arrays)
    atomic_write_bytes(npz, data)
    record = {**(info or {}), "name": name, "config": config, "code": code,
              "sha256": hashlib.sha256(data).hexdigest()}
    atomic_write_bytes(meta, json.dumps(record, indent=1, sort_keys=True).encode())
    return npz


def cached(name: str, config: dict, compute: Callable[[], dict[str, np.ndarray]],
           folder: Path | None = None, *, code: str) -> dict[str, np.ndarray]:
    """Load (name, config) computed by the code ``code`` (a :func:`code_fingerprint` of the
    modules that compute it) from the cache, or compute, store and return it."""
    hit = load(name, config, folder, code=code)
    if hit is not None:
        return hit
    arrays = {k: np.asarray(v) for k, v in compute().items()}
    save(name, config, arrays, folder, code=code)
    return arrays
