"""Exact lower bounds on the loss, and the constructions held against them.

For exactly-one-active inputs x = v e_i (v ~ U[-1, 1]) the labels are v (e_i + M^T[i]) for v > 0
and |v| (-M^T[i]) for v < 0: the 2n rows of :func:`one_active_label_rows`, Y = [I + M^T; -M^T], each
scaled by |v|. A model whose outputs lie in a subspace of dimension r (any hidden layer of width
d: every output is a combination of W_out's d rows, whatever the activation and hidden biases;
r = d + 1 with an output bias) answers case b with some vector o_b(v) of that subspace, and its
error is at least the distance of |v| Y_b from the subspace. Averaged over the 2n cases with
E[v^2] = 1/3, the loss per feature (:func:`cclib.evaluate.one_active_loss`) is at least

    L / p  >=  min over subspaces S of dim r of ||Y - Y P_S||_F^2 / (6 n)
           =   (sum of s_i(Y)^2 for i > r) / (6 n)          (Eckart-Young)

:func:`rank_floor`. At M = 0, Y = [I; 0] has n unit singular values and the floor is
(n - d) / (6 n), the naive model's loss: no model of this shape beats naive on clean one-active
inputs.
"""
from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float

from ._checks import check_float, check_int
from .mixing import Mixing
from .task import one_active_labels


def one_active_label_rows(mixing: Mixing) -> Float[torch.Tensor, "K cases n"]:
    """The labels of the 2n one-active cases per unit |v|, (K, 2n, n), float64
    (:func:`cclib.task.one_active_labels`): row i is the label of +e_i (I + M^T), row n + i that
    of -e_i (-M^T)."""
    return one_active_labels(mixing.matrix().double().transpose(1, 2), mixing.n_features, torch.float64)


def _tail_energy(matrix: torch.Tensor, rank: int) -> np.ndarray:
    """Sum of the squared singular values beyond the first ``rank``, per instance."""
    s = torch.linalg.svdvals(matrix)
    return s[:, rank:].square().sum(1).numpy()


def rank_floor(mixing: Mixing, d_mlp: int, output_bias: bool = False) -> Float[np.ndarray, " K"]:
    """The lower bound on the one-active loss per feature of any model whose hidden layer has
    width ``d_mlp`` (module docstring), (K,): the energy of :func:`one_active_label_rows` beyond its
    top ``d_mlp`` singular values over 6 n.

    With an output bias the outputs lie in an affine subspace of dimension d, and the bound is the
    sum of the n - d smallest eigenvalues of the labels' covariance, Y^T Y / (6 n) - 1 1^T / (16 n^2)
    (the labels' mean is 1 / (4 n), whatever M). At M = 0 that is (n - d) / (6 n) - 1 / (16 n), 0.08271
    at n = 100, d = 50: a bias can buy at most 1/1600 below naive (the cruder count of the bias as
    one more dimension gives (n - d - 1) / (6 n) = 49/600)."""
    n = mixing.n_features
    d = check_int("d_mlp", d_mlp, low=0, high=n)
    targets = one_active_label_rows(mixing)
    if not output_bias:
        return _tail_energy(targets, d) / (6.0 * n)
    ones = torch.ones(n, n, dtype=torch.float64)
    cov = targets.transpose(1, 2) @ targets / (6.0 * n) - ones / (16.0 * n * n)
    return torch.linalg.eigvalsh(cov)[:, :n - d].sum(1).numpy()


def positive_half_loss(mixing: Mixing, d_mlp: int) -> Float[np.ndarray, " K"]:
    """The one-active loss per feature of answering the v > 0 cases by the best rank-d fit of
    their labels I + M^T and the v < 0 cases by zero, (K,): (tail energy of I + M^T beyond rank d
    + ||M||_F^2) / (6 n). A ReLU layer with a non-negative W_in answers v < 0 by zero; whether
    such a layer can also realise the rank-d fit depends on M, so this is a reference value, not a
    bound (it is never below :func:`rank_floor`)."""
    n = mixing.n_features
    d = check_int("d_mlp", d_mlp, low=0, high=n)
    t = one_active_label_rows(mixing)
    return (_tail_energy(t[:, :n], d) + t[:, n:].square().sum((1, 2)).numpy()) / (6.0 * n)


def naive_loss_on(mixing: Mixing, d_mlp: int) -> Float[np.ndarray, " K"]:
    """The naive model's loss per feature against ``mixing``'s labels, (K,), the same at every p
    (each term of L is linear in p): (n - d) / (6 n) + ||M||_F^2 / (3 n) + sum over ignored i of
    M[i, i] / (3 n). With E[x^2] = p / 3 and E[ReLU(x)^2] = E[ReLU(x) x] = p / 6: the ignored
    features' ReLU, the whole linear part x M^T, and their overlap on M's diagonal."""
    n = mixing.n_features
    d = check_int("d_mlp", d_mlp, low=0, high=n)
    m = mixing.matrix().double()
    ignored_diagonal = torch.diagonal(m, dim1=1, dim2=2)[:, d:].sum(1)
    return ((n - d) / (6.0 * n) + (m.square().sum((1, 2)) + ignored_diagonal).numpy() / (3.0 * n))


def skip_floor(mixing: Mixing, d_mlp: int, output_bias: bool = False) -> Float[np.ndarray, " K"]:
    """The lower bound on the one-active loss per feature of any model with a hidden layer of width
    ``d_mlp`` read out linearly *plus a trainable linear skip* x S from input to output, (K,):
    (n - r) / (12 n) with r = d_mlp (+ 1 with an output bias), whatever M.

    Proof: the skip changes the residual of case +e_i to |v| (e_i + M^T[i] - S[i]) and of -e_i to
    |v| (S[i] - M^T[i]). With B = M^T - S = A - I / 2 the Gram matrix of these 2n rows is
    (I / 2 + A)^T (I / 2 + A) + (A - I / 2)^T (A - I / 2) = I / 2 + 2 A^T A >= I / 2, so the energy
    beyond the top r singular values is at least (n - r) / 2, with equality at S = M^T + I / 2
    (the skip takes the linear part of ReLU(x) = x / 2 + |x| / 2 and the mixing); over 6 n as in
    :func:`rank_floor`. At M = 0 the naive model with a skip (:func:`cclib.baselines.naive_skip`:
    d features on their own neuron, S = 1/2 on the other features' diagonal) reaches it exactly:
    a trainable skip halves the naive loss (1/12 -> 1/24 at n = 100, d = 50), and nothing of this
    shape beats the halved naive. A ReLU network reaches it at every M: the naive hidden layer with
    S = M^T + diag(0 on the kept features, 1/2 on the ignored ones) (``naive_skip(mixing=...)``),
    so with a trainable skip a mixing matrix brings no gain on one active input."""
    n = mixing.n_features
    d = check_int("d_mlp", d_mlp, low=0, high=n)
    r = min(d + bool(output_bias), n)
    return np.full(mixing.n_instances, (n - r) / (12.0 * n))


def bernoulli_floor(mixing: Mixing, d_mlp: int, p: float, output_bias: bool = False) -> Float[np.ndarray, " K"]:
    """The lower bound on L / p (Bernoulli(p) inputs, values U[-1, 1]) of any model whose output
    is a linear read-out of a d_mlp-wide layer, (K,): the sum of the n - d smallest eigenvalues of
    E[y y^T] (of the covariance with an output bias, which adds a constant vector), over n p.

    The output lies in a subspace of dimension d (an affine one with the bias), so its error is at
    least the label's distance from it (Eckart-Young on the second moment). With
    E[ReLU(x_i) ReLU(x_j)] = p / 6 (i = j), p^2 / 16 (i != j), E[ReLU(x) x^T] = (p / 6) I and
    E[x x^T] = (p / 3) I: E[y y^T] = (p/6) I + (p^2/16)(11^T - I) + (p/6)(M + M^T) + (p/3) M M^T;
    the mean is E[y] = (p / 4) 1. At M = 0 with an output bias it equals the naive model's
    (n - d)(1/6 - p/16) / n with a constant on each ignored feature: no such model beats naive."""
    n = mixing.n_features
    d = check_int("d_mlp", d_mlp, low=0, high=n)
    p = check_float("p", p, 0.0, 1.0, low_open=True)
    m = mixing.matrix().double()
    eye, ones = torch.eye(n, dtype=torch.float64), torch.ones(n, n, dtype=torch.float64)
    second = p / 6 * eye + p * p / 16 * (ones - eye) + p / 6 * (m + m.transpose(1, 2)) + p / 3 * m @ m.transpose(1, 2)
    if output_bias:
        second = second - p * p / 16 * ones
    eig = torch.linalg.eigvalsh(second)                                    # ascending
    return eig[:, :n - d].sum(1).numpy() / (n * p)


# --- the floors checked on random networks (Fig. 17 shows it, tests/test_bounds.py guards it) ---

#: The activations of :func:`random_network`.
RANDOM_ACTIVATIONS = {"relu": torch.relu, "gelu": torch.nn.functional.gelu, "tanh": torch.tanh, "abs": torch.abs}


def one_active_quadrature(n_features: int = 100, nodes: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Exactly one active input with its value on ``nodes`` Gauss-Legendre nodes on each side of 0
    (exact for E[v^2] = 1/3 and for every polynomial of degree < 2 nodes): the inputs x = v e_i,
    (n * 2 nodes, n) float64, and their probabilities (summing to 1). A finite input distribution
    with the second moments of the continuous one, so the floors of this module hold for it
    exactly."""
    n = check_int("n_features", n_features)
    points, weights = np.polynomial.legendre.leggauss(check_int("nodes", nodes))
    values = np.concatenate([(points - 1) / 2, (points + 1) / 2])         # in [-1, 0] and in [0, 1]
    value_prob = np.concatenate([weights, weights]) / 4
    inputs = torch.tensor(np.kron(np.eye(n), values[:, None]))
    return inputs, torch.tensor(np.tile(value_prob, n) / n)


def random_network(inputs: torch.Tensor, width: int, depth: int, activation: str,
                   generator: torch.Generator, near_naive: float = 0.0) -> torch.Tensor:
    """The hidden layer h(x) of a random network of ``depth`` layers of ``width`` on ``inputs``
    (rows), Gaussian weights (variance 2 / fan-in) and biases (sd 0.5); with ``near_naive`` > 0 the
    first layer is the naive model's (feature i on neuron i) plus noise of that size, biases scaled
    by it too: a network near the floor."""
    act = RANDOM_ACTIVATIONS[activation]
    h = inputs
    for layer in range(check_int("depth", depth)):
        w = torch.randn(h.shape[1], width, generator=generator, dtype=torch.float64) * np.sqrt(2 / h.shape[1])
        b = 0.5 * torch.randn(width, generator=generator, dtype=torch.float64)
        if near_naive and layer == 0:
            w, b = torch.eye(h.shape[1], width, dtype=torch.float64) + near_naive * w, near_naive * b
        h = act(h @ w + b)
    return h


def least_readout_loss(features: torch.Tensor, labels: torch.Tensor, prob: torch.Tensor,
                       importance: torch.Tensor | None = None) -> float:
    """The least E[sum_j w_j (y_j - out_j)^2] over linear read-outs with a bias, out = features A +
    c, of the inputs' rows weighted by ``prob`` (a weighted least-squares fit): what the best
    read-out of these hidden features reaches, to hold against a floor."""
    design = torch.cat([features, torch.ones(len(features), 1, dtype=torch.float64)], 1)
    root = prob.sqrt()[:, None]
    coef = torch.linalg.lstsq(design * root, labels * root, driver="gelsd").solution
    err = ((labels - design @ coef) ** 2 * prob[:, None]).sum(0)          # each output's error
    return float(err.sum() if importance is None else (err * importance).sum())


def l4_rank_floor(n_features: int = 100, d_mlp: int = 50, seeds: list[int] = (0, 1, 2),
                  iters: int = 4000) -> float:
    """The L4 loss per feature on one active input (clean labels) below which no model whose
    output is a linear read-out of a d-wide hidden layer (no output bias) can go: the label of
    x = v e_i, v > 0, is v e_i, the output lies in the read-out's d-dimensional row space S, so
    the error is at least v^4 min_{s in S} ||e_i - s||_4^4, and with E[v^4 1{v > 0}] = 1/10 the
    loss per feature is at least min over rank-d L of sum_i ||L_i - e_i||_4^4 / (10 n)
    (:func:`cclib.baselines.storage_loss`). The minimum is found numerically: the least of
    :func:`cclib.baselines.best_storage` over ``seeds`` (a local search, so an upper estimate of
    the true minimum; tests/test_bounds.py checks it against an independent optimisation). It is
    also the loss of the best *storage* model, ReLU(x) read through a rank-d map."""
    from .baselines import best_storage, storage_loss
    maps = best_storage(d_mlp, None, "l4", n_features, list(seeds), iters)
    return float(storage_loss(maps, None, "l4").min())
