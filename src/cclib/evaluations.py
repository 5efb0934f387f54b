"""Results computed from runs, cached like them: loss curves (:func:`loss_curve`, and
:func:`cached_curve` for any model) and the semi-NMF fits of Figs. 9, 12 and 14
(:func:`semi_nmf_fit`).

Each is an entry of the cache (:mod:`cclib.cache`) keyed on its settings, the key of what it
reads (a run's :meth:`cclib.experiments.Trained.key`, or a spec) and the fingerprint of the code
that computes it (:data:`CURVE_CODE`, :data:`SNMF_CODE`), never on the code that trains: an edit
of the evaluation re-keys the evaluations only, and an edit of the training re-keys them through
the runs they read.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import cache
from ._checks import check_choice, check_int
from ._types import Numbers
from .evaluate import LossCurve
from .mixing import Mixing
from .runs import build_mixing
from .spec import RunSpec
from .task import LOSSES, Model, target_of

#: The code of a loss curve (:func:`cached_curve`) and of a semi-NMF fit (:func:`semi_nmf_fit`).
CURVE_CODE = ("evaluate",)
SNMF_CODE = ("runs", "baselines", "evaluate")
#: Left out of a fit's code: the mixing it fits is built without them (:func:`cclib.runs.build_mixing`).
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

    arrays = cache.cached("curve", key, compute, folder, code=cache.code_fingerprint(CURVE_CODE))
    return LossCurve(arrays["p_eval"], arrays["loss"], arrays["se"])


def loss_curve(run, p_eval: Numbers, samples_per_k: int = 4096, seed: int | None = None,
               folder: Path | None = None, kind: str = "mse") -> LossCurve:
    """:func:`cclib.evaluate.loss_curve` of a trained run (:class:`cclib.experiments.Trained`),
    cached under the run's key, scored on the run's own target. kind: 'mse' (default, the paper's
    measure, whatever the run trained on) or 'l4'; ``run.spec.loss.kind`` is the loss it trained
    on."""
    return cached_curve(dict(run=run.key()), run.model, run.mixing, p_eval, samples_per_k, seed, folder, kind,
                        run.target)


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
    return cache.cached("snmf", config, compute, folder, code=cache.code_fingerprint(SNMF_CODE, stop=SNMF_STOP))
