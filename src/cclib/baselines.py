"""Models built by hand rather than trained: naive, naive + offset, SVD and semi-NMF; the best
linear map and sparse codes (Fig. 16); the baselines of Elhage et al.'s absolute-value task
(Fig. 18).

Orientation: in cclib's row convention a model maps x -> ReLU(x W_in) W_out and the labels'
linear part is x -> x (I + M^T). A factorisation that should implement the labels therefore
factors ``I + M^T = W_in W_out``; the published Fig. 9 factored ``I + M``, which is the right
target only for symmetric M. Both are offered, named 'label' and 'published'.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float

from ._checks import check_choice, check_float, check_int, check_probabilities, resolve_device
from ._threads import single_threaded
from ._types import Numbers
from .mixing import Mixing
from .models import MLP, DeepMLP

ORIENTATIONS = ("label", "published")


def naive(n_features: int = 100, d_mlp: int = 50, n_instances: int = 1) -> MLP:
    """Features 0..d-1 each on its own neuron with weight 1; the others ignored. L/p = (n-d)/(6n)."""
    n = check_int("n_features", n_features)
    d = check_int("d_mlp", d_mlp, high=n)
    k = check_int("n_instances", n_instances)
    w_in = torch.zeros(k, n, d)
    w_in[:, torch.arange(d), torch.arange(d)] = 1.0
    return MLP.from_weights(w_in, w_in.transpose(1, 2).clone())


def naive_offset(offsets: Numbers, n_features: int = 100, d_mlp: int = 50) -> MLP:
    """The naive model plus ``offset`` in every W_out entry of the ignored features, one instance
    per offset: the ignored outputs get offset * sum of ReLU(x_i) over the implemented features,
    a data-dependent stand-in for a bias."""
    offsets = torch.as_tensor(offsets, dtype=torch.float32).flatten()
    for c in offsets.tolist():
        check_float("offset", c, -10.0, 10.0)
    model = naive(n_features, d_mlp, offsets.numel())
    with torch.no_grad():
        model.W_out[:, :, d_mlp:] = offsets[:, None, None]
    return model


def target_map(mixing: Mixing, orientation: str = "label") -> torch.Tensor:
    """The (K, n, n) matrix X a factorisation x -> x W_in W_out should equal: I + M^T ('label')
    or I + M ('published')."""
    check_choice("orientation", orientation, ORIENTATIONS)
    m = mixing.matrix()
    eye = torch.eye(mixing.n_features)
    return eye + (m.transpose(1, 2) if orientation == "label" else m)


def svd_baseline(mixing: Mixing, d_mlp: int = 50, orientation: str = "label") -> MLP:
    """Rank-d truncated SVD of the target map, split symmetrically: W_in = U sqrt(S), W_out = sqrt(S) V^T."""
    x = target_map(mixing, orientation).double()
    d = check_int("d_mlp", d_mlp, high=mixing.n_features)
    u, s, vh = torch.linalg.svd(x)
    root = s[:, :d].sqrt()
    return MLP.from_weights(u[:, :, :d] * root[:, None, :], root[:, :, None] * vh[:, :d, :])


@dataclass
class SemiNMF:
    """A semi-NMF fit X ~ W_in W_out with W_in >= 0. model: the MLP; errors: (iterations, K)
    relative Frobenius error after each iteration; converged: (K,) bools."""

    model: MLP
    errors: torch.Tensor
    converged: torch.Tensor


@single_threaded
def semi_nmf(mixing: Mixing, d_mlp: int = 50, orientation: str = "label", max_iter: int = 2000,
             tol: float = 1e-7, seed: int = 0, device: str | None = None) -> SemiNMF:
    """Semi-NMF of the target map by the multiplicative updates of Ding, Li & Jordan (2010).

    Factor X (K, n, n) ~ F G^T, with X^T playing the data matrix: G = W_in >= 0 (n, d) and
    F = W_out^T free (n, d). Each iteration sets F to its least-squares optimum given G, then
    applies the multiplicative update to G, which does not increase the error. Stops when the
    relative error improves by less than ``tol`` in one iteration. device: where to compute
    (default $CCLIB_DEVICE, else 'cpu'); the start is drawn on the CPU, the model returned there.
    """
    d = check_int("d_mlp", d_mlp, high=mixing.n_features)
    check_int("max_iter", max_iter)
    check_float("tol", tol, 0.0, 1.0)
    dev = resolve_device(device)
    data = target_map(mixing, orientation).double().transpose(1, 2).to(dev)  # X^T ~ F G^T
    k, n, _ = data.shape
    gen = torch.Generator().manual_seed(int(seed))
    g = (torch.rand(k, n, d, generator=gen, dtype=torch.float64) + 0.1).to(dev)
    norm = torch.linalg.matrix_norm(data)
    errors, converged = [], torch.zeros(k, dtype=torch.bool, device=dev)
    eps = 1e-12
    def least_squares_f(g):  # F = X G (G^T G)^-1, via a Cholesky solve of the small Gram matrix
        gram = g.transpose(1, 2) @ g + 1e-12 * torch.eye(d, dtype=g.dtype, device=dev)
        return torch.cholesky_solve((data @ g).transpose(1, 2), torch.linalg.cholesky(gram)).transpose(1, 2)

    for _ in range(max_iter):
        f = least_squares_f(g)
        xtf = data.transpose(1, 2) @ f                                      # (n, d)
        ftf = f.transpose(1, 2) @ f                                         # (d, d)
        pos = lambda t: (t.abs() + t) / 2
        neg = lambda t: (t.abs() - t) / 2
        num = pos(xtf) + g @ neg(ftf)
        den = neg(xtf) + g @ pos(ftf)
        g = torch.where(converged[:, None, None], g, g * torch.sqrt(num / (den + eps)))
        f = least_squares_f(g)
        err = torch.linalg.matrix_norm(data - f @ g.transpose(1, 2)) / norm
        if errors:
            converged |= (errors[-1] - err) < tol
        errors.append(err)
        if bool(converged.all()):
            break
    model = MLP.from_weights(g.float().cpu(), f.transpose(1, 2).float().cpu())
    return SemiNMF(model, torch.stack(errors).cpu(), converged.cpu())


@single_threaded
def semi_nmf_projected_gradient(mixing: Mixing, d_mlp: int = 50, orientation: str = "label",
                                steps: int = 2000, lr: float = 1e-2, seed: int = 0,
                                device: str | None = None) -> SemiNMF:
    """The simple scheme: Adam on ||X - W_in W_out||_F^2, clamping W_in >= 0 after each step.
    device: as for :func:`semi_nmf`."""
    d = check_int("d_mlp", d_mlp, high=mixing.n_features)
    check_int("steps", steps)
    dev = resolve_device(device)
    data = target_map(mixing, orientation).float().to(dev)
    k, n, _ = data.shape
    gen = torch.Generator().manual_seed(int(seed))
    w_in = (torch.rand(k, n, d, generator=gen) * 0.1).to(dev).requires_grad_()
    w_out = (torch.randn(k, d, n, generator=gen) * 0.1).to(dev).requires_grad_()
    opt = torch.optim.Adam([w_in, w_out], lr=lr)
    norm = torch.linalg.matrix_norm(data)
    errors = []
    for _ in range(steps):
        err = torch.linalg.matrix_norm(data - w_in @ w_out)
        opt.zero_grad()
        err.square().sum().backward()
        opt.step()
        with torch.no_grad():
            w_in.clamp_(min=0)
        errors.append(err.detach() / norm)
    return SemiNMF(MLP.from_weights(w_in.detach().cpu(), w_out.detach().cpu()), torch.stack(errors).cpu(),
                   torch.zeros(k, dtype=torch.bool))


def naive_loss(n_features: int = 100, d_mlp: int = 50) -> float:
    """Loss per feature of the naive model on the clean task: (n - d) / (6 n) (1/12 for 100, 50)."""
    return (n_features - d_mlp) / (6.0 * n_features)


def naive_offset_loss(offset: Numbers, p: Numbers, n_features: int = 100,
                      d_mlp: int = 50) -> np.ndarray:
    """Closed form of :func:`naive_offset`'s loss per feature on the clean task at probability p.

    Each ignored output j predicts c S with S = sum_{i<d} ReLU(x_i), against ReLU(x_j):
    E[(c S - r)^2] = c^2 E[S^2] - 2 c E[S] E[r] + E[r^2], with E[r] = p/4, E[r^2] = p/6.
    """
    c, p = np.asarray(offset, dtype=float), np.asarray(p, dtype=float)
    n, d = n_features, d_mlp
    mean_r, mean_r2 = p / 4, p / 6
    mean_s = d * mean_r
    mean_s2 = d * (mean_r2 - mean_r**2) + mean_s**2
    per_output = c**2 * mean_s2 - 2 * c * mean_s * mean_r + mean_r2
    return (n - d) / n * per_output / p


def naive_offset_optimum(p: Numbers, n_features: int = 100,
                         d_mlp: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """The best offset of :func:`naive_offset_loss` at probability p, in closed form.

    The loss is quadratic in c, minimal at c* = E[S] E[r] / E[S^2]. Returns (c*, loss per feature
    at c*), each shaped like p. c* > 0 at every p, so some offset always beats naive; the gain
    shrinks like p^2 for small p (about 6e-7 in L/p at p = 0.001).
    """
    p = np.asarray(p, dtype=float)
    d = d_mlp
    mean_r, mean_r2 = p / 4, p / 6
    mean_s = d * mean_r
    mean_s2 = d * (mean_r2 - mean_r**2) + mean_s**2
    best = mean_s * mean_r / mean_s2
    return best, naive_offset_loss(best, p, n_features, d_mlp)


# --- baselines under another loss (cclib.task: 'mse' or 'l4'), clean or mixed labels ------------

class LinearMap(torch.nn.Module):
    """x -> x A B with A (K, n, d) and B (K, d, n): a rank-d *linear* map, K instances, following
    the model protocol (:class:`cclib.task.Model`). A ReLU model that computes must beat the best
    of these under the same loss, or its ReLUs add nothing its linear part could not."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.A = torch.nn.Parameter(a.detach().clone().float())
        self.B = torch.nn.Parameter(b.detach().clone().float())
        self.n_instances, self.n_features = self.A.shape[0], self.A.shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.A @ self.B

    def matrix(self) -> torch.Tensor:
        """L = A B, (K, n, n)."""
        return self.A @ self.B


def _term_moments(c: torch.Tensor, own: bool, q_max: int = 4, rectified: bool = False) -> list[torch.Tensor]:
    """Raw moments E[t^m | x active], m = 1..q_max, of one input's term t of an output's error:
    t = c x for another input, t = c x - ReLU(x) for the output's own input (x = v ~ U[-1, 1]);
    ``rectified``: the map reads ReLU(x), t = c ReLU(x) and (c - 1) ReLU(x)."""
    moments = []
    for m in range(1, q_max + 1):
        if rectified:
            moments.append((c - 1 if own else c) ** m / (2 * (m + 1)))
        elif own:  # (c - 1) v for v > 0, c v for v < 0
            moments.append(((c - 1) ** m + (-1) ** m * c ** m) / (2 * (m + 1)))
        else:
            moments.append(c ** m * (1 + (-1) ** m) / (2 * (m + 1)))
    return moments


def linear_loss(maps: torch.Tensor, p: float | None, kind: str = "mse",
                mixing: Mixing | None = None) -> torch.Tensor:
    """The exact loss per feature (as :func:`cclib.evaluate.loss_curve` reports it) of the linear
    maps x -> x L, ``maps`` L (K, n, n), against the labels ReLU(x) + x M^T; differentiable in L.

    p: Bernoulli(p) inputs, or None for exactly one active input. Output j's error is a sum over
    inputs k of independent terms t_k = x_k C_kj (k != j) and x_j C_jj - ReLU(x_j), with
    C = L - M^T; each term's moments are closed forms in C, and their cumulants add, which gives
    E[e(error)] for e(r) = r^2 or r^4 exactly. With one active input only one term is nonzero."""
    c = maps.double()
    if mixing is not None:
        c = c - mixing.matrix().double().transpose(1, 2)
    return _moment_loss(c, p, kind, rectified=False)


def storage_loss(maps: torch.Tensor, p: float | None, kind: str = "mse") -> torch.Tensor:
    """The exact loss per feature of the *storage* maps x -> ReLU(x) L, ``maps`` L (K, n, n),
    against clean labels ReLU(x): the exact rectified features read through a linear map (rank d:
    stored in d dimensions), computing nothing beyond the rectification; as :func:`linear_loss`
    (p: Bernoulli(p), None for one active input), differentiable in L. On one active input its
    L4 is sum_i ||L_i - e_i||_4^4 / (10 n), the objective of :func:`cclib.bounds.l4_rank_floor`."""
    return _moment_loss(maps.double(), p, kind, rectified=True)


def _moment_loss(c: torch.Tensor, p: float | None, kind: str, rectified: bool) -> torch.Tensor:
    check_choice("kind", kind, ("mse", "l4"))
    q = 2 if kind == "mse" else 4
    n = c.shape[-1]
    eye = torch.eye(n, dtype=torch.bool)
    # moments of every (k, j) term given x_k active: (K, n, n) each, own terms on the diagonal
    moments = [torch.where(eye, own, other) for own, other in
               zip(_term_moments(c, True, q, rectified), _term_moments(c, False, q, rectified))]
    if p is None:  # one active input, uniform over k: sum over j of the mean over k of E[t^q]
        return moments[q - 1].mean(1).sum(1).float()
    p = check_float("p", p, 0.0, 1.0, low_open=True)
    raw = [p * m for m in moments]                          # E[t^m] with x_k active w.p. p
    m1, m2 = raw[0], raw[1]
    k1, k2 = m1.sum(1), (m2 - m1**2).sum(1)               # cumulants of output j's error, (K, n)
    if q == 2:
        per_output = k2 + k1**2
    else:
        m3, m4 = raw[2], raw[3]
        mu3 = m3 - 3 * m1 * m2 + 2 * m1**3
        mu4 = m4 - 4 * m1 * m3 + 6 * m1**2 * m2 - 3 * m1**4
        k3, k4 = mu3.sum(1), (mu4 - 3 * (m2 - m1**2) ** 2).sum(1)
        per_output = k4 + 4 * k3 * k1 + 3 * k2**2 + 6 * k2 * k1**2 + k1**4
    return (per_output.mean(1) / p).float()


@single_threaded
def best_linear(d_mlp: int, p: float | None, kind: str = "mse", n_features: int = 100,
                seeds: list[int] = (0,), iters: int = 3000, lr: float = 3e-3) -> LinearMap:
    """The rank-d linear map of least :func:`linear_loss` (clean labels), one instance per seed:
    Adam on the exact loss from L = (1/2) P, P the projection on a random d-dimensional subspace
    (the best rank-d map under the MSE on either input distribution is (1/2) times a projection on
    d features; under the L4 loss a spread-out P does better). A local search: the result is an
    upper bound on the best linear map's loss, and the tests check that it is stationary."""
    return LinearMap(*_fit_rank_d(linear_loss, 0.5, d_mlp, p, kind, n_features, seeds, iters, lr))


@single_threaded
def best_storage(d_mlp: int, p: float | None, kind: str = "mse", n_features: int = 100,
                 seeds: list[int] = (0,), iters: int = 3000, lr: float = 3e-3) -> torch.Tensor:
    """The rank-d map L of least :func:`storage_loss`, (K, n, n), one per seed: the best way to
    store the rectified features in d dimensions and read them back linearly. Adam on the exact
    loss from L = P, P the projection on a random d-dimensional subspace; a local search (an upper
    bound on the least loss; the tests check it against an independent optimisation)."""
    a, b = _fit_rank_d(storage_loss, 1.0, d_mlp, p, kind, n_features, seeds, iters, lr)
    return a @ b


def _fit_rank_d(loss, scale, d_mlp, p, kind, n_features, seeds, iters, lr):
    n = check_int("n_features", n_features)
    d = check_int("d_mlp", d_mlp, high=n)
    check_int("iters", iters, low=0)
    a, b = [], []
    for seed in seeds:
        g = torch.Generator().manual_seed(int(seed))
        basis, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=torch.float64))
        a.append(basis * scale ** 0.5)
        b.append(basis.T * scale ** 0.5)
    a = torch.stack(a).requires_grad_()
    b = torch.stack(b).requires_grad_()
    opt = torch.optim.Adam([a, b], lr=lr)
    for _ in range(iters):
        opt.zero_grad()
        loss(a @ b, p, kind).double().sum().backward()
        opt.step()
    return a.detach(), b.detach()


def l4_readout(codes: torch.Tensor, iters: int = 3000, lr: float = 3e-3) -> torch.Tensor:
    """The read-out W_out (K, d, n) of least L4 loss on one active input for non-negative
    ``codes`` W_in (K, n, d) (a rectified code: h = ReLU(x) W_in on one active input, the loss
    sum_i ||(W_in W_out)_i - e_i||_4^4 / (10 n), convex in W_out), by Adam from the least-squares
    read-out pinv(W_in)."""
    codes = codes.double()
    if torch.any(codes < 0):
        raise ValueError("codes must be non-negative (a rectified code), got a negative entry")
    w_out = torch.linalg.pinv(codes).requires_grad_()
    opt = torch.optim.Adam([w_out], lr=lr)
    for _ in range(check_int("iters", iters, low=0)):
        opt.zero_grad()
        storage_loss(codes @ w_out, None, "l4").double().sum().backward()
        opt.step()
    return w_out.detach().float()


def sparse_codes(n_features: int = 100, d_mlp: int = 50, per_feature: int = 4,
                 seeds: list[int] = (0,)) -> MLP:
    """A hand-built superposed ReLU model, one instance per seed: each feature writes to
    ``per_feature`` random neurons with weight 1 (non-negative codes, so a negative input leaves
    every neuron at 0, as its label asks), and W_out is the least-squares read-out of the features
    from their codes, pinv(W_in): each feature is read with a little interference from the others
    rather than some read exactly and the rest not at all."""
    n = check_int("n_features", n_features)
    d = check_int("d_mlp", d_mlp, high=n)
    a = check_int("per_feature", per_feature, high=d)
    w_in = torch.zeros(len(seeds), n, d)
    for k, seed in enumerate(seeds):
        g = torch.Generator().manual_seed(int(seed))
        for i in range(n):
            w_in[k, i, torch.randperm(d, generator=g)[:a]] = 1.0
    return MLP.from_weights(w_in, torch.linalg.pinv(w_in.double()).float())


def naive_skip(n_features: int = 100, d_mlp: int = 50, mixing: Mixing | None = None) -> DeepMLP:
    """The naive model with a trainable skip, built: features 0..d-1 each on its own neuron, the
    skip S = M^T + diag(0 on those, 1/2 on the others), so each ignored feature is answered by
    x_i / 2 (the best linear answer to ReLU(x_i), an error of E[x^2] / 4) and every feature's
    mixing term x M^T exactly. L / p = (n - d) / (12 n) on one active input whatever M (clean
    labels by default): the floor of :func:`cclib.bounds.skip_floor`. One instance per instance of
    ``mixing``."""
    n = check_int("n_features", n_features)
    d = check_int("d_mlp", d_mlp, high=n)
    if mixing is not None and (not isinstance(mixing, Mixing) or mixing.n_features != n):
        raise ValueError(f"mixing must be a cclib.mixing.Mixing with n_features={n}, got {mixing!r}")
    k = 1 if mixing is None else mixing.n_instances
    model = DeepMLP(k, n, d, skip=True)
    with torch.no_grad():
        model.hidden[0].zero_()
        model.hidden[0][:, torch.arange(d), torch.arange(d)] = 1.0
        model.W_out.copy_(model.hidden[0].transpose(1, 2))
        model.S.zero_()
        if mixing is not None:
            model.S.copy_(mixing.matrix().transpose(1, 2).float())
        model.S[:, torch.arange(d, n), torch.arange(d, n)] += 0.5
    return model


def monotone_abs_loss(p: Numbers) -> Float[np.ndarray, " P"]:
    """The least loss per feature E[(out_i - |x_i|)^2] / p (Bernoulli(p) inputs, values U[-1, 1])
    of any model whose expected output i given x_i is monotone in x_i, (P,): the bound of
    baseline (a) of Fig. 18, "no hidden computation" (every output ReLU(x A + b), whatever A).

    If E[out_i | x_i] = g(x_i) with g non-decreasing (the non-increasing case is its mirror
    image), the error is at least (1 - p) g(0)^2 + p E_v[(|v| - g(v))^2]. The best such g (an
    isotonic regression) is the constant c on [-1, c] and v above it, with the error
    (1 - p) c^2 + (p / 2)(1/3 - c + c^2 + c^3 / 3), least at the positive root of
    p c^2 + (4 - 2p) c - p = 0 (c -> p / 4 as p -> 0, so the bound -> 1/6: the negative half of
    each feature is missed)."""
    p = check_probabilities("p", p).double().numpy()
    c = (-(4 - 2 * p) + np.sqrt((4 - 2 * p) ** 2 + 4 * p * p)) / (2 * p)
    return ((1 - p) * c * c + p / 2 * (1 / 3 - c + c * c + c ** 3 / 3)) / p


def abs_nonmonotone_bound(p: Numbers, n_features: int = 100, d_mlp: int = 50) -> Float[np.ndarray, " P"]:
    """Baseline (b) of Figs. 18 and 19, "more non-monotone outputs than neurons": (n - d) / n times
    the monotone bound (:func:`monotone_abs_loss`). A bound, not a model: the average of n errors
    is below it only if more than d of them are below the monotone bound, that is, only if more
    than d outputs answer their feature non-monotonically, more than the model has neurons. A model
    below it computes |x| in superposition; one above it may still be doing so for fewer features."""
    n = check_int("n_features", n_features)
    d = check_int("d_mlp", d_mlp, high=n)
    return (n - d) / n * monotone_abs_loss(p)


#: The monotone bound per active feature on exactly-k-active inputs (k < n), any k: the isotonic
#: fit of |v| on U[-1, 1] with the value at v = 0 free, c = sqrt(2) - 1 on [-1, c] and v above,
#: error (1/3 - c + c^2 + c^3 / 3) / 2 (see :func:`k_active_bounds`).
MONOTONE_K_ACTIVE = (1 / 3 - (2 ** 0.5 - 1) + (2 ** 0.5 - 1) ** 2 + (2 ** 0.5 - 1) ** 3 / 3) / 2


def k_active_bounds(n_features: int = 100, d_mlp: int = 50) -> dict[str, float]:
    """The bounds (a) and (b) per active feature (the summed error over k) on inputs with exactly k
    active features, 1 <= k < n, values U[-1, 1].

    Given x_i = v != 0 the other features are k - 1 active among n - 1, whatever v, so an output
    monotone in x_i for each value of the others has E[out_i | x_i = v] monotone in v on v != 0;
    at v = 0 (x_i inactive, probability 1 - k/n) the others are k active, and the output there is
    free. Its error is at least k/n times the isotonic fit of |v| with nothing tied to 0,
    :data:`MONOTONE_K_ACTIVE` = 0.0572 (below Bernoulli's 1/6: there the mass at 0 pins the fit
    down). So (a) = 0.0572 and (b) = (n - d)/n times it per active feature, for every k."""
    n = check_int("n_features", n_features)
    d = check_int("d_mlp", d_mlp, high=n)
    return {"(a)": MONOTONE_K_ACTIVE, "(b)": (n - d) / n * MONOTONE_K_ACTIVE}


def abs_no_superposition_loss(n_features: int = 100, d_mlp: int = 50) -> float:
    """L / p as p -> 0 of the best |x| model (Elhage et al.'s architecture) in which each neuron
    reads one feature: 1/3 - d / (6 n), 0.25 at d = n / 2.

    As p -> 0 the other features are inactive, so output i sees only its own feature's neurons.
    With none it is a constant (error E[v^2] = 1/3 at best as p -> 0); with one, monotone in x_i
    (error 1/6: the negative half, :func:`monotone_abs_loss`); with two, |x_i| exactly
    (ReLU(x_i) + ReLU(-x_i)). With f_2 features on two neurons and f_1 on one, 2 f_2 + f_1 <= d,
    the loss per feature is (f_1 / 6 + (n - f_1 - f_2) / 3) / n, which at f_1 = d - 2 f_2 is
    1/3 - d / (6 n) whatever the split: 25 features computed exactly or 50 half-computed cost the
    same."""
    n = check_int("n_features", n_features)
    d = check_int("d_mlp", d_mlp, high=n)
    return 1 / 3 - d / (6 * n)


def linear_channel(n_features: int = 100, d_mlp: int = 50, out_bias: float = 0.0, seed: int = 0) -> DeepMLP:
    """A 100 -> 50 -> 100 network with hidden and output biases and an output ReLU whose hidden
    layer only passes on a random linear embedding: out = ReLU(x E E^T + out_bias) for every x in
    [-1, 1]^n, E (n, d) Gaussian with unit rows. The hidden bias (the largest |x E| on the cube,
    sum_i |E_ij|) keeps every neuron in its linear part, so no neuron computes anything. Score it
    on either target (``target='abs'`` in :mod:`cclib.evaluate` for |x|)."""
    n = check_int("n_features", n_features)
    d = check_int("d_mlp", d_mlp, high=n)
    b = check_float("out_bias", out_bias, -10.0, 10.0)
    g = torch.Generator().manual_seed(int(seed))
    e = torch.randn(n, d, generator=g, dtype=torch.float64)
    e = e / e.norm(dim=1, keepdim=True)
    shift = e.abs().sum(0)                                      # (d,): x E + shift >= 0 on the cube
    model = DeepMLP(1, n, d, seeds=0, bias=True, out_activation="relu")
    with torch.no_grad():
        model.hidden[0].copy_(e[None].float())
        model.hidden_bias[0].copy_(shift[None].float())
        model.W_out.copy_(e.T[None].float())
        model.b_out.copy_((b - shift @ e.T)[None].float())
    return model
