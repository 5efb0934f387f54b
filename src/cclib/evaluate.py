"""Expected loss of trained (or hand-built) models.

Losses are reported as *loss per feature* L / p, where L is the mean squared error over
features of one sample, averaged over the input distribution (all-zero samples included). Every
function takes ``kind``: 'mse' (default, the paper's) or another loss of :mod:`cclib.task`
('l4': the mean fourth power of the error), e.g. a run's own ``spec.loss.kind``; uniform
importance. And ``target``: the labels' function (:data:`cclib.task.TARGETS`; default 'relu', the
paper's ReLU(x) + x M^T), e.g. a run's own ``spec.target``.

Bernoulli(p) inputs are evaluated by stratifying on the number k of active features,
K ~ Binomial(n, p). Given k, the active set is uniform and the values are U[-1, 1] whatever p is,
so ``e_k = E[sum of errors e(out - y) | k]`` is estimated once and reused for every p_eval:

    L(p) = (1 / n) * sum_k P(K = k; n, p) * e_k

For cclib's own ReLU models without biases (:func:`cclib.models.closed_forms`) on the ReLU
target e_0 = 0 and e_1 is exact (the model is positively homogeneous: piecewise linear in a
single active value), and only k >= 2 is sampled. Any other model (another activation, biases, your own module) is
evaluated through ``model(x)``: e_0 = |model(0)|^2 exactly, and e_1 is sampled like the others.
The samples are the same for every model and every p (common random numbers), which keeps curves
smooth and differences between models precise.

Every function takes ``device`` (default $CCLIB_DEVICE, else 'cpu'); the model and mixing are
moved there for the computation and the results come back as numpy arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from jaxtyping import Float

from . import _env
from ._checks import check_choice, check_int, check_probabilities, resolve_device
from ._threads import single_threaded
from ._types import Numbers
from .mixing import Mixing
from .task import LOSSES, TARGETS, VALUE_MOMENT_DIVISOR, Model, check_target, error, one_active_labels, targets
from .models import check_own_labels, check_protocol, closed_forms, positively_homogeneous


@dataclass
class LossCurve:
    """p_eval: (P,); loss: (K, P) loss per feature L / p; se: (K, P) its standard error."""

    p_eval: Float[np.ndarray, " P"]
    loss: Float[np.ndarray, "K P"]
    se: Float[np.ndarray, "K P"]


def _weights(model):
    w_in, w_out = model.effective_weights()
    return w_in.detach().float(), w_out.detach().float()


def check_pair(model, mixing, target: str = "relu"):
    """Raise naming the argument unless ``model``, ``mixing`` and ``target`` fit each other."""
    check_protocol(model)
    if not isinstance(mixing, Mixing):
        raise TypeError(f"mixing must be a cclib.mixing.Mixing, got {type(mixing).__name__}")
    if mixing.n_instances != model.n_instances or mixing.n_features != model.n_features:
        raise ValueError(f"mixing is (K={mixing.n_instances}, n={mixing.n_features}) but the model "
                         f"is (K={model.n_instances}, n={model.n_features}); they must match")
    check_own_labels(model, mixing)
    check_target(target, model, mixing)


def closed_form(model: Model, target: str) -> bool:
    """Whether the closed forms (ReLU(x W_in) W_out against ReLU labels) compute ``model``'s error
    on ``target``: cclib's MLP or residual model with ReLU and no biases
    (:func:`cclib.models.closed_forms`), on the target 'relu'."""
    return bool(closed_forms(model)) and target == "relu"


def exact_one_active(model: Model, target: str) -> bool:
    """Whether the exactly-one-active error is |v|^q times the error on the unit inputs, so that
    the 2n unit inputs give it exactly: the model and the target both positively homogeneous
    (:func:`cclib.models.positively_homogeneous`, :class:`cclib.task.Target`)."""
    return TARGETS[target].positively_homogeneous and positively_homogeneous(model)


def _label_matrix(mixing: Mixing, target: str, device=None):
    """The M handed to :func:`cclib.task.targets`: None for a target without a mixing term."""
    return mixing.matrix().float().to(device) if TARGETS[target].mixing else None


@single_threaded
@torch.no_grad()
def one_active_errors(model: Model, mixing: Mixing, kind: str = "mse",
                      target: str = "relu") -> Float[torch.Tensor, "K cases"]:
    """Summed error per unit |v|^q (q = 2 for 'mse', 4 for 'l4') for each (feature, sign) bucket,
    (K, 2n): bucket i is input +e_i, bucket n + i is input -e_i. Exact where the model and the
    target are positively homogeneous (:func:`exact_one_active`: cclib's ReLU models without
    biases, on 'relu' or 'abs'); refused for any other."""
    check_pair(model, mixing, target)
    check_choice("kind", kind, LOSSES)
    if not exact_one_active(model, target):
        raise ValueError(f"one_active_errors needs a positively homogeneous model and target (cclib's "
                         f"ReLU models without biases), not {type(model).__name__} with these settings "
                         f"on target {target!r}; use one_active_loss, which samples such models")
    if not closed_form(model, target):  # through model(x) on the 2n unit inputs
        eye = torch.eye(model.n_features)
        x = torch.cat([eye, -eye])[None].expand(model.n_instances, -1, -1)
        y = targets(model, x, _label_matrix(mixing, target), target)
        return error(model(x).double() - y.double(), kind).sum(2)
    w_in, w_out = _weights(model)
    a = torch.relu(torch.cat([w_in, -w_in], 1))
    labels = one_active_labels(mixing.matrix().double().transpose(1, 2), model.n_features, torch.float64)
    return error(a @ w_out - labels.to(w_out.dtype), kind).sum(2)


def one_active_loss(model: Model, mixing: Mixing, samples: int = 1 << 16, seed: int | None = None,
                    device: str | None = None, kind: str = "mse", target: str = "relu") -> Float[np.ndarray, " K"]:
    """Loss per feature for exactly-one-active inputs, (K,).

    With p = 1/n, L / p = E[sum of errors]. Where the model and the target are positively
    homogeneous (:func:`exact_one_active`: cclib's ReLU models without biases) it is exact: the mean over buckets of err_b * E[|v|^q], E[v^2] = 1/3 and E[v^4] = 1/5 for
    v ~ U[-1, 1], computed on the CPU. Any other model is not homogeneous in v, so the expectation is sampled on ``device``:
    ``samples`` draws (seed: default :func:`default_seed`), standard error about
    sd / sqrt(samples).
    """
    check_pair(model, mixing, target)
    check_int("samples", samples, low=32)
    check_choice("kind", kind, LOSSES)
    resolve_device(device)  # refused here on every path, though the exact form needs no device
    if exact_one_active(model, target):
        return (one_active_errors(model, mixing, kind, target).mean(1) / VALUE_MOMENT_DIVISOR[kind]).double().numpy()
    seed = default_seed() if seed is None else seed
    mean, _ = conditional_errors(model, mixing, [1], samples // 16, seed, device, kind, target)
    return mean[:, 0].numpy()


@torch.no_grad()
def _sample_k_active(k: int, n_samples: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """(n_samples, n) inputs with exactly k distinct active features, values U[-1, 1]."""
    # the k largest of n i.i.d. uniforms are a uniformly random k-subset (topk is ~3x cheaper
    # than a full argsort)
    idx = torch.rand(n_samples, n, generator=generator).topk(k, dim=1, sorted=False).indices
    vals = torch.rand(n_samples, k, generator=generator) * 2 - 1
    return torch.zeros(n_samples, n).scatter_(1, idx, vals)


def samples_for(k: int, samples_per_k: int) -> int:
    """Draws for stratum k >= 1: small k dominate sparse p and have the widest spread, so they get
    up to 8x more (k = 2; 16x for k = 1, sampled only for models without the exact form),
    falling to 1x from k = 16 on."""
    return samples_per_k * max(1, 16 // int(k))


def _on_device(model, device):
    """The device to compute on, and the model's own device (to move it back to)."""
    return resolve_device(device), next(iter(model.parameters()), torch.zeros(())).device


def zero_input_error(model: Model, mixing: Mixing, device: str | None = None,
                     kind: str = "mse", target: str = "relu") -> Float[np.ndarray, " K"]:
    """e_0 = the summed error on the all-zero input (|model(0)|^2 for 'mse'), (K,): 0 for models
    without biases."""
    check_pair(model, mixing, target)
    check_choice("kind", kind, LOSSES)
    dev, home = _on_device(model, device)
    try:
        with torch.no_grad():
            x = torch.zeros(model.n_instances, 1, model.n_features, device=dev)
            out = model.to(dev)(x) - targets(model, x, None, target)
        return error(out, kind).sum((1, 2)).double().cpu().numpy()
    finally:
        model.to(home)


@single_threaded
@torch.no_grad()
def conditional_errors(model: Model, mixing: Mixing, ks: Sequence[int], samples_per_k: int = 4096,
                       seed: int = 0, device: str | None = None, kind: str = "mse",
                       target: str = "relu") -> tuple[Float[torch.Tensor, "K S"], Float[torch.Tensor, "K S"]]:
    """Monte-Carlo ``e_k`` for each k >= 1 in ``ks``: returns (mean (K, len(ks)), var (K, len(ks)))
    of the per-sample summed error, from :func:`samples_for` draws per k."""
    check_pair(model, mixing, target)
    check_choice("kind", kind, LOSSES)
    if not closed_form(model, target):
        return _conditional_errors_general(model, mixing, ks, samples_per_k, seed, device, kind, target)
    dev, _ = _on_device(model, device)
    w_in, w_out = (w.to(dev) for w in _weights(model))
    mt = mixing.matrix().transpose(1, 2).float().to(dev)
    n_inst, n, _ = w_in.shape
    gen = torch.Generator().manual_seed(int(seed))
    means = torch.zeros(n_inst, len(ks), dtype=torch.float64)
    variances = torch.zeros_like(means)
    for j, k in enumerate(ks):
        n_samples = samples_for(k, samples_per_k)
        group = max(1, (1 << 24) // (n_samples * n))  # instances per pass, ~64 MB per tensor
        x = _sample_k_active(int(k), n_samples, n, gen).to(dev)
        relu_x = torch.relu(x)
        for lo in range(0, n_inst, group):
            hi = min(n_inst, lo + group)
            out = torch.relu(x @ w_in[lo:hi]) @ w_out[lo:hi]
            err = torch.baddbmm(out - relu_x, x.expand(hi - lo, -1, -1), mt[lo:hi], alpha=-1.0)
            per_sample = error(err, kind).sum(2).double()
            means[lo:hi, j] = per_sample.mean(1).cpu()
            variances[lo:hi, j] = per_sample.var(1).cpu()
    return means, variances


def loss_per_active(model: Model, mixing: Mixing, ks: Sequence[int], samples_per_k: int = 4096,
                    seed: int = 0, device: str | None = None, kind: str = "mse",
                    target: str = "relu") -> tuple[Float[np.ndarray, "K S"], Float[np.ndarray, "K S"]]:
    """The loss per active feature on inputs with exactly k active features, for each k in ``ks``:
    (mean, standard error), each (K, len(ks)): :func:`conditional_errors`' summed error per sample
    divided by k, its standard error from the :func:`samples_for` draws. A model that answers each
    active feature as it would alone has the same value at every k (Fig. 19: how many co-active
    features a code survives)."""
    mean, var = conditional_errors(model, mixing, ks, samples_per_k, seed, device, kind, target)
    count = np.array([samples_for(k, samples_per_k) for k in ks], dtype=float)
    per = np.array(ks, dtype=float)
    return mean.numpy() / per, np.sqrt(var.numpy() / count) / per


@single_threaded
@torch.no_grad()
def _conditional_errors_general(model, mixing, ks, samples_per_k, seed, device, kind, target):
    """:func:`conditional_errors` through ``model(x)``: the same draws, all K instances per pass."""
    dev, home = _on_device(model, device)
    m = _label_matrix(mixing, target, dev)
    n_inst, n = model.n_instances, model.n_features
    gen = torch.Generator().manual_seed(int(seed))
    means = torch.zeros(n_inst, len(ks), dtype=torch.float64)
    variances = torch.zeros_like(means)
    model.to(dev)
    try:
        for j, k in enumerate(ks):
            n_samples = samples_for(k, samples_per_k)
            x = _sample_k_active(int(k), n_samples, n, gen).to(dev)
            per_sample = torch.empty(n_inst, n_samples, dtype=torch.float64, device=dev)
            step = max(1, (1 << 24) // (n_inst * n))  # samples per pass, ~64 MB per tensor
            for lo in range(0, n_samples, step):
                xs = x[lo:lo + step].expand(n_inst, -1, -1)
                err = model(xs) - targets(model, xs, m, target)
                per_sample[:, lo:lo + step] = error(err, kind).sum(2).double()
            means[:, j] = per_sample.mean(1).cpu()
            variances[:, j] = per_sample.var(1).cpu()
    finally:
        model.to(home)
    return means, variances


def strata_needed(p_eval: np.ndarray, n: int, tol: float = 1e-10) -> np.ndarray:
    """The k >= 2 whose probability exceeds ``tol`` at some p in p_eval."""
    ks = np.arange(2, n + 1)
    from scipy.stats import binom  # imported here: scipy.stats costs ~0.9 s to import
    pmf = binom.pmf(ks[:, None], n, np.asarray(p_eval)[None, :])
    return ks[pmf.max(1) > tol]


def default_seed() -> int:
    """The evaluation seed used when none is given: $CCLIB_EVAL_SEED, else 0.

    Setting it re-draws every Monte-Carlo estimate, a way to check that a conclusion does not
    hang on one draw (the numbers then move within their standard errors)."""
    return int(_env.get("CCLIB_EVAL_SEED") or "0")


def loss_curve(model: Model, mixing: Mixing, p_eval: Numbers, samples_per_k: int = 4096,
               seed: int | None = None, device: str | None = None, kind: str = "mse",
               target: str = "relu") -> LossCurve:
    """Expected loss per feature at each p in ``p_eval`` for Bernoulli inputs, (K, P), with SE.

    p_eval: floats in (0, 1]. samples_per_k: Monte-Carlo draws per stratum k >= 2 (k = 1 exact
    where the model allows, see the module docstring). seed: the draws' seed (default
    :func:`default_seed`). kind, target: the loss and the labels (module docstring).
    """
    seed = default_seed() if seed is None else seed
    check_pair(model, mixing, target)
    check_choice("kind", kind, LOSSES)
    p_eval = check_probabilities("p_eval", p_eval).numpy()
    check_int("samples_per_k", samples_per_k, low=2)
    n = model.n_features
    from scipy.stats import binom
    ks = strata_needed(p_eval, n)
    if closed_form(model, target):
        e1 = one_active_loss(model, mixing, kind=kind)           # E[sum of errors | k = 1], (K,)
        total = e1[:, None] * binom.pmf(1, n, p_eval)[None, :]
    else:  # e_0 exactly, e_1 sampled with the others
        total = zero_input_error(model, mixing, device, kind, target)[:, None] * binom.pmf(0, n, p_eval)[None, :]
        ks = np.concatenate([[1], ks])
    var = np.zeros_like(total)
    if ks.size:
        mean_k, var_k = conditional_errors(model, mixing, ks, samples_per_k, seed, device, kind, target)
        pmf = binom.pmf(ks[:, None], n, p_eval[None, :])         # (S, P)
        total = total + mean_k.numpy() @ pmf
        counts = np.array([samples_for(k, samples_per_k) for k in ks], dtype=float)
        var = (var_k.numpy() / counts) @ pmf**2
    scale = 1.0 / (n * p_eval)
    return LossCurve(p_eval, total * scale, np.sqrt(var) * scale)


def expected_loss(model: Model, mixing: Mixing, p: float, samples_per_k: int = 4096,
                  seed: int | None = None, device: str | None = None, kind: str = "mse",
                  target: str = "relu") -> tuple[Float[np.ndarray, " K"], Float[np.ndarray, " K"]]:
    """Loss per feature at one p: (loss (K,), se (K,))."""
    if isinstance(p, (str, bytes, bool)) or not isinstance(p, (int, float, np.floating)):
        raise TypeError(f"p must be a number in (0, 1], got {p!r} ({type(p).__name__})")
    curve = loss_curve(model, mixing, [p], samples_per_k, seed, device, kind, target)
    return curve.loss[:, 0], curve.se[:, 0]


def p_grid(points: int = 100, low: float = 1e-3, high: float = 1.0) -> np.ndarray:
    """The paper's evaluation grid: ``points`` log-spaced p from ``low`` to ``high``."""
    return np.geomspace(low, high, points)


@torch.no_grad()
def largest_error(model: Model, mixing: Mixing, device: str | None = None,
                  target: str = "relu") -> Float[np.ndarray, " K"]:
    """The largest absolute output error on a single active input of value +1 or -1, (K,): over
    the 2n such inputs and all n outputs. For a positively homogeneous model (a ReLU MLP without
    biases, a linear map) it is also the largest over every single active input with |v| <= 1."""
    check_pair(model, mixing, target)
    dev, home = _on_device(model, device)
    n = model.n_features
    try:
        x = torch.cat([torch.eye(n), -torch.eye(n)]).to(dev).expand(model.n_instances, -1, -1)
        err = model.to(dev)(x) - targets(model, x, _label_matrix(mixing, target, dev), target)
        return err.abs().amax((1, 2)).double().cpu().numpy()
    finally:
        model.to(home)
