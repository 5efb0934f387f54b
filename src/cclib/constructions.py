"""Networks built by hand for Elhage et al.'s absolute-value task (y = |x|, Fig. 19): the model
out = ReLU(W_out ReLU(W_in x + b_in) + b_out), a :class:`cclib.models.DeepMLP` with biases and an
output ReLU, n features, d neurons, computing |x_i| for more features than it has neurons. They
are scored on the target 'abs' (``target="abs"`` in :mod:`cclib.evaluate`).

**Codes of the half-features.** Each feature has two halves, x_i > 0 and x_i < 0; each half gets
a *code*, a set of ``m`` neurons. W_in sends +x_i to the neurons of the positive half's code and
-x_i to those of the negative half's, so a lone x_i = v fires exactly the code of its own half,
each neuron at |v|. Output k reads ``1/m`` from every neuron of its two codes and ``-inhibition``
from every other neuron. If a half-feature's code shares at most ``t`` neurons with the union of
any other feature's two codes, an inhibition of t / (m (m - t)) keeps every other output at or
below 0, so the network is exact on one active input (loss 0). Co-active features interfere:
the inhibition of one lowers the other's output. Where that stops paying is the question of Fig.
19.

* :func:`steiner_triple_system`: v points, every pair in exactly one triple (v = 1 or 3 mod 6);
  two triples share at most one point. :func:`split_codes` puts the positive halves' codes on one
  block of neurons and the negative halves' on another.
* :func:`random_codes` with :func:`least_interference_readout`: random m-sets (distinct, a
  feature's two halves disjoint), and for each output the read-out that is exact on one active
  input (1 on its own codes, at most 0 on every other code, so other outputs stay shut) with the
  least interference energy sum_j (r . u_j)^2 over the other codes: what a co-active feature
  subtracts from a correct output. Found by SLSQP per output; where no exact read-out exists
  (too few neurons) it ends at the solver's best, and the network's one-active loss says so.
* :func:`moment_curve`: six neurons, zero loss on one active input for any n, because the test
  is degenerate: feature i is the point (1, t_i, t_i^2), and a quadratic read-out that is 1 at
  t_k and at most 0 at every other t_i separates all of them; two co-active features break it.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from ._checks import check_choice, check_float, check_int
from .models import DeepMLP


def steiner_triple_system(v: int, seed: int = 0) -> np.ndarray:
    """A Steiner triple system on points 0..v-1: (v(v-1)/6, 3) int array, every pair of points in
    exactly one row. Built by Stinson's hill-climbing from ``seed`` (deterministic for a seed);
    exists only for v = 1 or 3 mod 6."""
    v = check_int("v", v, low=3)
    if v % 6 not in (1, 3):
        raise ValueError(f"v must be 1 or 3 mod 6 (a Steiner triple system exists only there), got {v}")
    rng = np.random.default_rng(seed)
    third = -np.ones((v, v), dtype=np.int64)  # third[x, y]: the third point of the triple on {x, y}
    blocks, target = 0, v * (v - 1) // 6
    while blocks < target:
        live = np.flatnonzero((third == -1).sum(1) > 1)          # points with an uncovered pair
        x = int(rng.choice(live))
        free = np.flatnonzero(third[x] == -1)
        free = free[free != x]
        y, z = (int(i) for i in rng.choice(free, 2, replace=False))
        w = third[y, z]
        if w != -1:                                             # {y, z} is covered: swap out {y, z, w}
            for a, b in ((y, z), (y, w), (z, w)):
                third[a, b] = third[b, a] = -1
            blocks -= 1
        for a, b, c in ((x, y, z), (y, z, x), (x, z, y)):
            third[a, b] = third[b, a] = c
        blocks += 1
    triples = {tuple(sorted((x, y, int(third[x, y])))) for x in range(v) for y in range(x + 1, v)}
    return np.array(sorted(triples), dtype=np.int64)


def split_code_order(n_features: int, d_mlp: int) -> int:
    """v, the order of the Steiner triple systems :func:`split_codes` uses for n features on d
    neurons: the largest v = 1 or 3 mod 6 with 2v <= d and v(v-1)/6 >= n. A ValueError naming
    d_mlp if there is none."""
    n = check_int("n_features", n_features)
    d = check_int("d_mlp", d_mlp)
    orders = [v for v in range(7, d // 2 + 1) if v % 6 in (1, 3) and v * (v - 1) // 6 >= n]
    if not orders:
        least = next(v for v in itertools.count(7) if v % 6 in (1, 3) and v * (v - 1) // 6 >= n)
        raise ValueError(f"d_mlp must be at least {2 * least} for split Steiner codes of {n} features "
                         f"(two systems of order {least}), got {d}; use random_codes")
    return orders[-1]


def split_codes(n_features: int, d_mlp: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the half-features from two Steiner triple systems on v points each: the positive
    halves on neurons 0..v-1, the negative halves on v..2v-1, v the largest valid order with
    2v <= d (25 at d = 50, 37 at d = 75), n of its triples drawn at random (``seed``) when it has
    more. A half's code shares at most one neuron with another feature's codes. (positive,
    negative), each (n, 3)."""
    n = check_int("n_features", n_features)
    v = split_code_order(n, d_mlp)
    triples = steiner_triple_system(v, seed)
    if len(triples) > n:
        triples = triples[np.sort(np.random.default_rng(seed).choice(len(triples), n, replace=False))]
    return triples, triples + v


def code_overlap(positive: np.ndarray, negative: np.ndarray) -> int:
    """The largest number of neurons a half-feature's code shares with the union of another
    feature's two codes (t of the module docstring)."""
    n = len(positive)
    d = int(max(positive.max(), negative.max())) + 1
    half = np.zeros((2 * n, d), dtype=np.int64)
    union = np.zeros((n, d), dtype=np.int64)
    for i in range(n):
        half[2 * i, positive[i]] = half[2 * i + 1, negative[i]] = 1
        union[i, positive[i]] = union[i, negative[i]] = 1
    shared = half @ union.T                                      # (2n, n)
    own = np.repeat(np.arange(n), 2)
    shared[np.arange(2 * n), own] = 0
    return int(shared.max())


def random_codes(n_features: int, d_mlp: int, size: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the half-features as random ``size``-sets of the d neurons, all distinct, a
    feature's two halves disjoint. (positive, negative), each (n, size)."""
    n = check_int("n_features", n_features)
    d = check_int("d_mlp", d_mlp)
    m = check_int("size", size, high=d // 2)
    rng = np.random.default_rng(seed)
    seen, positive, negative = set(), [], []
    for _ in range(1000 * n):
        if len(positive) == n:
            break
        draw = rng.choice(d, 2 * m, replace=False)
        a, b = tuple(sorted(draw[:m])), tuple(sorted(draw[m:]))
        if a not in seen and b not in seen:
            seen |= {a, b}
            positive.append(a)
            negative.append(b)
    if len(positive) < n:
        raise ValueError(f"random_codes found only {len(positive)} of {n} pairs of distinct {m}-sets on {d} neurons")
    return np.array(positive), np.array(negative)


def least_interference_readout(positive: np.ndarray, negative: np.ndarray, d_mlp: int) -> torch.Tensor:
    """W_out (d, n) for the codes: column k minimises sum_j (r . u_j)^2 over the other features'
    codes u_j subject to r . u = 1 on feature k's two codes and r . u_j <= 0 on every other (exact
    on one active input), by SLSQP from the least-squares r of the equalities."""
    from scipy.optimize import minimize

    n, _ = positive.shape
    d = check_int("d_mlp", d_mlp)
    codes = np.zeros((2 * n, d))
    for i in range(n):
        codes[2 * i, positive[i]] = codes[2 * i + 1, negative[i]] = 1.0
    readout = np.zeros((d, n))
    for k in range(n):
        own, others = codes[[2 * k, 2 * k + 1]], np.delete(codes, [2 * k, 2 * k + 1], 0)
        gram = others.T @ others
        start = np.linalg.lstsq(own, np.ones(2), rcond=None)[0]
        found = minimize(lambda r: r @ gram @ r, start, jac=lambda r: 2 * gram @ r, method="SLSQP",
                         constraints=[dict(type="eq", fun=lambda r: own @ r - 1, jac=lambda r: own),
                                      dict(type="ineq", fun=lambda r: -(others @ r), jac=lambda r: -others)],
                         options=dict(maxiter=500, ftol=1e-12))
        readout[:, k] = found.x
    return torch.tensor(readout, dtype=torch.float32)


def code_network(positive: np.ndarray, negative: np.ndarray, d_mlp: int, inhibition: float | None = None,
                 out_bias: float = 0.0, readout: str = "inhibition") -> DeepMLP:
    """The network of the module docstring for the codes (positive, negative), each (n, m): W_in
    +1 / -1 on the codes, read-out 1/m on a feature's own codes and -``inhibition`` elsewhere,
    hidden biases 0, output bias ``out_bias``. inhibition None: t / (m (m - t)), the least that is
    exact on one active input (:func:`code_overlap`); out_bias 0 keeps it exact. readout
    'least_interference': :func:`least_interference_readout` instead (inhibition must be None)."""
    check_choice("readout", readout, ("inhibition", "least_interference"))
    positive, negative = np.asarray(positive), np.asarray(negative)
    if positive.shape != negative.shape or positive.ndim != 2:
        raise ValueError(f"positive and negative must be two (n, m) arrays of the same shape, got "
                         f"{positive.shape} and {negative.shape}")
    n, m = positive.shape
    d = check_int("d_mlp", d_mlp, high=n)
    if max(positive.max(), negative.max()) >= d:
        raise ValueError(f"the codes use neuron {max(positive.max(), negative.max())}; d_mlp must exceed it, got {d}")
    if readout == "least_interference":
        if inhibition is not None:
            raise ValueError("inhibition must be None with readout 'least_interference' (it sets every weight)")
        inhibition = 0.0
    elif inhibition is None:
        t = code_overlap(positive, negative)
        if t >= m:
            raise ValueError(f"codes of size {m} that share {t} neurons cannot be separated by inhibition")
        inhibition = t / (m * (m - t))
    c = check_float("inhibition", inhibition, 0.0, 10.0)
    b = check_float("out_bias", out_bias, -10.0, 10.0)
    w_in = torch.zeros(n, d)
    w_out = torch.full((d, n), -c)
    for i in range(n):
        w_in[i, positive[i]] = 1.0
        w_in[i, negative[i]] = -1.0
        w_out[positive[i], i] = w_out[negative[i], i] = 1.0 / m
    if readout == "least_interference":
        w_out = least_interference_readout(positive, negative, d)
    return _abs_network(w_in, w_out, torch.full((n,), b))


def moment_curve(n_features: int = 100, d_mlp: int = 50) -> DeepMLP:
    """Six neurons that give loss 0 on every one-active input, for any n (the other d - 6 are
    zero): feature i at t_i = i / (n - 1) drives neurons 0-2 with +x_i (1, t_i, t_i^2) and neurons
    3-5 with -x_i (1, t_i, t_i^2); output k reads q_k = (1 - C t_k^2, 2 C t_k, -C) from both
    triples, so its output on a lone x_i = v is ReLU(|v| (1 - C (t_i - t_k)^2)): |v| at i = k, 0
    elsewhere once C (n - 1)^-2 >= 1. Two co-active features break it."""
    n = check_int("n_features", n_features, low=2)
    d = check_int("d_mlp", d_mlp, low=6, high=n)
    t = torch.arange(n, dtype=torch.float64) / (n - 1)
    curve = torch.stack([torch.ones(n, dtype=torch.float64), t, t * t], 1)       # (n, 3)
    big = float((n - 1) ** 2)
    read = torch.stack([1 - big * t * t, 2 * big * t, -big * torch.ones_like(t)], 0)  # (3, n)
    w_in = torch.zeros(n, d, dtype=torch.float64)
    w_out = torch.zeros(d, n, dtype=torch.float64)
    w_in[:, :3], w_in[:, 3:6] = curve, -curve
    w_out[:3], w_out[3:6] = read, read
    return _abs_network(w_in.float(), w_out.float(), torch.zeros(n))


def _abs_network(w_in: torch.Tensor, w_out: torch.Tensor, b_out: torch.Tensor) -> DeepMLP:
    n, d = w_in.shape
    model = DeepMLP(1, n, d, bias=True, out_activation="relu")
    with torch.no_grad():
        model.hidden[0].copy_(w_in[None])
        model.hidden_bias[0].zero_()
        model.W_out.copy_(w_out[None])
        model.b_out.copy_(b_out[None])
    return model
