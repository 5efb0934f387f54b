"""Results computed from runs, cached and shipped like them: loss curves (:func:`loss_curve`,
and :func:`cached_curve` for any model), the semi-NMF fits of Figs. 9, 12 and 14
(:func:`semi_nmf_fit`), and any other deterministic computation of a figure (:func:`memo`).

Each is an entry of the cache (:mod:`cclib.cache`) keyed on its settings, the key of what it
reads (a run's :meth:`cclib.experiments.Trained.key`, or a spec) and the fingerprint of the code
that computes it (:data:`CURVE_CODE`, :data:`SNMF_CODE`; for :func:`memo` the cclib modules and
the source of the function it is given), never on the code that trains: an edit of the
evaluation re-keys the evaluations only, and an edit of the training re-keys them through the
runs they read.

Where an entry is read and written (:func:`_cached`): given a ``folder``, there alone. Otherwise
it is read from the store (``data/store/``: ``make store`` ships every evaluation the figure
notebooks make, so that ``make figures`` on a fresh clone computes none) and then the local
cache, and a computed one is written to the local cache. Two environment variables serve
``make store`` and ``make figures`` (:mod:`cclib._env`): $CCLIB_EVALUATIONS_INTO='store' writes computed evaluations into the store
(``make store``), and $CCLIB_EVALUATIONS_LOG names a file to which each evaluation appends one
line, 'read <npz name>' or 'computed <npz name>' (the runner's count of what a notebook computed).
"""
from __future__ import annotations

import dis
import inspect
import textwrap
import types
from pathlib import Path
from typing import Callable

import numpy as np

from . import _env, cache
from ._checks import check_choice, check_int
from ._types import Numbers
from .build import build_mixing
from .evaluate import LossCurve
from .mixing import Mixing
from .spec import RunSpec
from .task import LOSSES, Model, target_of

#: The code of a loss curve (:func:`cached_curve`) and of a semi-NMF fit (:func:`semi_nmf_fit`).
CURVE_CODE = ("evaluate",)
SNMF_CODE = ("build", "baselines", "evaluate")
#: Left out of a fit's code: the mixing it fits is built without them (:func:`cclib.build.build_mixing`).
SNMF_STOP = ("constructions",)


def cached_curve(what: dict, model: Model, mixing: Mixing, p_eval: Numbers, samples_per_k: int = 4096,
                 seed: int | None = None, folder: Path | None = None, kind: str = "mse",
                 target: str = "relu") -> LossCurve:
    """:func:`cclib.evaluate.loss_curve` of any model, cached under ``what`` (a JSON-able dict
    that names the model, e.g. its run's :meth:`cclib.experiments.Trained.key`), the evaluation's
    settings and the evaluator's code (:data:`CURVE_CODE`; the default device, on which it
    computes, is in every key: :func:`cclib.cache.config_key`). kind: the loss it reports, 'mse'
    or 'l4'; target: the labels it is scored on (:data:`cclib.task.TARGETS`)."""
    from .evaluate import default_seed, loss_curve as evaluate_curve

    seed = default_seed() if seed is None else seed
    check_choice("kind", kind, LOSSES)
    target_of(target)
    key = dict(what, p_eval=[float(p) for p in np.asarray(p_eval)], samples_per_k=int(samples_per_k),
               seed=int(seed), **({} if kind == "mse" else {"kind": kind}),
               **({} if target == "relu" else {"target": target}))

    def compute():
        c = evaluate_curve(model, mixing, p_eval, samples_per_k, seed, kind=kind, target=target)
        return dict(p_eval=c.p_eval, loss=c.loss, se=c.se)

    arrays = _cached("curve", key, compute, folder, code=cache.code_fingerprint(CURVE_CODE))
    return LossCurve(arrays["p_eval"], arrays["loss"], arrays["se"])


def loss_curve(run, p_eval: Numbers, samples_per_k: int = 4096, seed: int | None = None,
               folder: Path | None = None, kind: str = "mse") -> LossCurve:
    """:func:`cclib.evaluate.loss_curve` of a trained run (:class:`cclib.experiments.Trained`),
    cached under the run's key, scored on the run's own target. kind: 'mse' (default, the paper's
    measure, whatever the run trained on) or 'l4'; ``run.spec.loss.kind`` is the loss it trained
    on."""
    return cached_curve(dict(run=run.key()), run.model, run.mixing, p_eval, samples_per_k, seed, folder, kind,
                        run.target)


def expected_loss(run, p: float, samples_per_k: int = 4096, seed: int | None = None, folder: Path | None = None,
                  kind: str = "mse") -> tuple[np.ndarray, np.ndarray]:
    """:func:`cclib.evaluate.expected_loss` of a trained run at one p, (loss (K,), se (K,)): its
    :func:`loss_curve` at [p], the same numbers, cached and shipped under the run's key."""
    curve = loss_curve(run, [p], samples_per_k, seed, folder, kind)
    return curve.loss[:, 0], curve.se[:, 0]


def semi_nmf_fit(spec: RunSpec, orientation: str = "label", solver: str = "mu", iters: int = 2000,
                 folder: Path | None = None) -> dict[str, np.ndarray]:
    """The semi-NMF baseline of the mixing of ``spec`` (:mod:`cclib.baselines`: solver 'mu',
    multiplicative updates, or 'pg', projected gradient; ``iters`` iterations), evaluated without
    training: ``loss``, its exact loss per feature on exactly-one-active inputs (K,), and
    ``error``, the fit's final relative error (K,). Cached under the spec's canonical form, the
    settings and the code of :data:`SNMF_CODE`."""
    from . import baselines
    from .evaluate import one_active_loss

    check_choice("solver", solver, ("mu", "pg"))
    check_choice("orientation", orientation, baselines.ORIENTATIONS)
    iters = check_int("iters", iters)

    def compute():
        mixing = build_mixing(spec)
        if solver == "mu":
            fit = baselines.semi_nmf(mixing, orientation=orientation, max_iter=iters)
        else:
            fit = baselines.semi_nmf_projected_gradient(mixing, orientation=orientation, steps=iters)
        return dict(loss=one_active_loss(fit.model, mixing), error=fit.errors[-1].numpy())

    config = dict(spec=spec.canonical(), orientation=orientation, solver=solver, iters=iters)
    return _cached("snmf", config, compute, folder, code=cache.code_fingerprint(SNMF_CODE, stop=SNMF_STOP))


#: The cache names of the evaluations (what the store ships besides the trained runs).
KINDS = ("curve", "snmf", "memo")


def _log(what: str, npz: Path) -> None:
    place = _env.get("CCLIB_EVALUATIONS_LOG")
    if place:
        with open(place, "a") as f:  # one short line per write: appends of processes do not interleave
            f.write(f"{what} {npz.name}\n")


def _cached(kind: str, config: dict, compute: Callable[[], dict], folder: Path | None, *, code: str) -> dict:
    """:func:`cclib.cache.cached` for an evaluation: in ``folder`` alone if given; else read from
    the store, then the local cache, and a computed entry written to the local cache (to the
    store with $CCLIB_EVALUATIONS_INTO='store')."""
    into = _env.get("CCLIB_EVALUATIONS_INTO")
    if into not in (None, "", "store", "cache"):
        raise ValueError(f"$CCLIB_EVALUATIONS_INTO must be 'store' or 'cache' (the default), got {into!r}")
    shipped = cache.store_dir() if folder is None else None
    if into == "store" and shipped is None:
        raise RuntimeError("$CCLIB_EVALUATIONS_INTO='store' but cclib has no store here (set $CCLIB_STORE)")
    places = [Path(folder)] if folder is not None else [p for p in (shipped, cache.default_dir()) if p]
    for place in places:
        hit = cache.load(kind, config, place, code=code, discard=place != shipped)
        if hit is not None:
            if into == "store" and place != shipped:  # computed here before: ship the same arrays
                cache.save(kind, config, hit, shipped, code=code)
            _log("read", cache.entry_paths(kind, config, code, place)[0])
            return hit
    write = Path(folder) if folder is not None else (shipped if into == "store" else cache.default_dir())
    arrays = {k: np.asarray(v) for k, v in compute().items()}
    _log("computed", cache.save(kind, config, arrays, write, code=code))
    return arrays


def memo(name: str, function: Callable[..., dict], /, **arguments) -> dict:
    """``function(**arguments)``, a dict of arrays (or of such dicts, nested), computed once and
    then read from the store or the cache: for the deterministic computations of a figure that
    cost more than a moment (a fit, a Monte-Carlo estimate of a constructed model).

    It is keyed on ``name``, the arguments, the source of ``function`` and of every function of
    the caller's own module it calls (a notebook's helpers), the fingerprint of every cclib
    module they use, and the default evaluation seed ($CCLIB_EVAL_SEED). So ``function`` must say
    everything it depends on through its arguments: numbers, strings, lists, dicts, numpy
    arrays, run specs (keyed by their canonical form) and trained runs
    (:class:`cclib.experiments.Trained`, keyed by their run's key). A function that reads a
    global value of its module (not a module, a function or a class), that is a closure or a
    lambda, or whose source cannot be read, is refused with the name of what it reads: its key
    could not see a change of it. Libraries other than cclib enter the key by version only
    (torch, numpy, scipy and numba: :func:`cclib.cache.library_versions`)."""
    if not (isinstance(name, str) and name):
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    from .evaluate import default_seed

    sources, modules = _dependencies(function)
    # the evaluation seed a call that names none draws with ($CCLIB_EVAL_SEED) is in every key
    config = dict(memo=name, sources=sources, arguments=_jsonable("arguments", arguments), eval_seed=default_seed())
    code = cache.code_fingerprint(sorted(modules))

    def compute():
        result = function(**arguments)
        if not isinstance(result, dict):
            raise TypeError(f"memo {name!r}: the function must return a dict, got {type(result).__name__}")
        return _flatten(result, name)

    return _nest(_cached("memo", config, compute, None, code=code))


def _flatten(result: dict, where: str, prefix: str = "") -> dict[str, np.ndarray]:
    """A dict of arrays and of such dicts (string keys) as one flat dict, keys joined by '/'."""
    flat = {}
    for key, value in result.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise TypeError(f"memo {where!r}: result keys must be non-empty strings without '/', got {key!r}")
        if isinstance(value, dict):
            flat.update(_flatten(value, where, f"{prefix}{key}/"))
        else:
            flat[prefix + key] = np.asarray(value)
    return flat


def _nest(flat: dict[str, np.ndarray]) -> dict:
    """The inverse of :func:`_flatten`."""
    nested: dict = {}
    for key, value in flat.items():
        *path, last = key.split("/")
        place = nested
        for part in path:
            place = place.setdefault(part, {})
        place[last] = value
    return nested


def _jsonable(where: str, value):
    """``value`` as JSON-able data for a key; a trained run as its key. Anything else is refused."""
    from .experiments import Trained

    if isinstance(value, Trained):
        return {"run": value.key()}
    if isinstance(value, RunSpec):
        return {"spec": value.canonical()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(f"{where}[{i}]", v) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where}: a dict's keys must be strings")
        return {k: _jsonable(f"{where}[{k!r}]", v) for k, v in value.items()}
    raise TypeError(f"{where}: a memo's arguments must be numbers, strings, lists, dicts, numpy arrays, run "
                    f"specs or trained runs, got {type(value).__name__}")


def _code_objects(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _dependencies(function: Callable) -> tuple[dict[str, str], set[str]]:
    """The normalised source of ``function`` and of every function of its own module it calls,
    transitively (name -> syntax), and the cclib modules (short names) whose code they use."""
    sources: dict[str, str] = {}
    modules: set[str] = set()
    todo = [function]
    while todo:
        fn = todo.pop()
        label = getattr(fn, "__qualname__", repr(fn))
        if not isinstance(fn, types.FunctionType) or fn.__name__ == "<lambda>":
            raise TypeError(f"memo: {label} must be a function defined with def (not a lambda, a method or a builtin)")
        if fn.__closure__:
            raise TypeError(f"memo: {label} is a closure (it reads {', '.join(fn.__code__.co_freevars)}); "
                            "define it at the top of its module and pass those values as arguments")
        if fn.__defaults__ or fn.__kwdefaults__:
            raise TypeError(f"memo: {label} has default arguments; pass every value as an argument")
        try:
            text = textwrap.dedent(inspect.getsource(fn))
        except (OSError, TypeError) as err:
            raise TypeError(f"memo: the source of {label} cannot be read ({err}), so its key could not see an edit")
        sources[f"{fn.__module__}.{label}"] = cache._syntax(text.encode())
        names = {ins.argval for code in _code_objects(fn.__code__) for ins in dis.get_instructions(code)
                 if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}   # globals read, not attributes
        for n in sorted(names):
            if n not in fn.__globals__:
                continue  # a builtin
            obj = fn.__globals__[n]
            owner = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", None)
            if isinstance(owner, str) and (owner == "cclib" or owner.startswith("cclib.")):
                if not isinstance(obj, (types.ModuleType, type, types.FunctionType)):
                    raise TypeError(f"memo: {label} reads the global {n!r}, a cclib {type(obj).__name__} whose "
                                    "values its key cannot see; pass what it is built from as an argument")
                modules.add(owner.split(".", 1)[1] if "." in owner else "__init__")
            elif owner == fn.__module__ and not isinstance(obj, types.ModuleType):
                if not isinstance(obj, types.FunctionType):
                    raise TypeError(f"memo: {label} uses {n!r}, a {type(obj).__name__} defined beside it, whose "
                                    "code its key cannot follow; define it in cclib or pass its result as an argument")
                if f"{obj.__module__}.{obj.__qualname__}" not in sources and obj not in todo:
                    todo.append(obj)
            elif isinstance(obj, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, np.ufunc)):
                continue  # a library's code (torch's, numpy's, scipy's versions are in every key)
            else:
                raise TypeError(f"memo: {label} reads the global {n!r} ({type(obj).__name__}); pass it as an "
                                "argument, so that the key sees it")
    modules.discard("__init__")
    return sources, modules
