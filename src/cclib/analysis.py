"""Reading a model's weights: its linear map, alignment with M, entry-wise fits, responses.

Column convention here, to match how the paper writes M: ``T[i, j] = sum_k W_in[j, k] W_out[k, i]``
is how much input j moves output i through the model without its ReLU, comparable entry by
entry with ``M[i, j]``, and the labels' linear part is ``I + M``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from ._types import Numbers
from .mixing import Mixing
from .models import check_protocol, closed_forms
from .task import Model


def _weights(model, reader: str = "this analysis"):
    """The (K, n, d) and (K, d, n) weights of the equivalent bias-free ReLU MLP, float64; any model
    they do not describe exactly (another activation, biases, a subclass, your own module) is
    refused with the reason, never read as something else."""
    support = closed_forms(model)
    if not support:
        raise ValueError(f"{reader} reads the weights of a bias-free ReLU MLP (cclib's MLP or ResidualMLP); "
                         f"refused here: {support.reason}")
    w_in, w_out = model.effective_weights()
    return w_in.detach().double(), w_out.detach().double()


def linear_map(model: Model) -> torch.Tensor:
    """T = (W_in W_out)^T, (K, n, n): the model without its ReLU, column convention. cclib's
    bias-free ReLU models only (any other is refused)."""
    w_in, w_out = _weights(model, "linear_map")
    return (w_in @ w_out).transpose(1, 2)


def feature_contributions(model: Model) -> torch.Tensor:
    """``W_in[i, k] * W_out[k, i]`` (K, n, d): what neuron k adds to feature i's own output.
    cclib's bias-free ReLU models only (any other is refused)."""
    w_in, w_out = _weights(model, "feature_contributions")
    return w_in * w_out.transpose(1, 2)


def responses(model: Model, values: Numbers) -> torch.Tensor:
    """Output i when input i is ``v`` and all others 0, for each v in ``values``: (K, n, V). For
    cclib's bias-free ReLU models from the weights in float64; for any other model that follows
    the protocol of :mod:`cclib.models`, through ``model(x)`` (its activation, its biases)."""
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if closed_forms(model):
        w_in, w_out = _weights(model)
        h = w_in[:, :, None, :] * v[None, None, :, None]                 # (K, n, V, d)
        return (torch.relu(h) * w_out.transpose(1, 2)[:, :, None, :]).sum(-1)
    check_protocol(model)
    k, n = model.n_instances, model.n_features
    dtype = next(iter(model.parameters()), torch.zeros(())).dtype
    eye = torch.eye(n, dtype=dtype)
    with torch.no_grad():
        out = [torch.diagonal(model((float(value) * eye).expand(k, n, n)), dim1=1, dim2=2).double()
               for value in v]                                            # each (K, n)
    return torch.stack(out, 2)


def _unit_columns(a: torch.Tensor) -> torch.Tensor:
    return a / a.norm(dim=0, keepdim=True).clamp_min(1e-30)


@dataclass
class Alignment:
    """Directions of M against one model (all numpy, descending order of singular/eigen value).

    singular_values (n,), eigenvalues (n,); cos_svd[i] = cos(U_i, T V_i); cos_eig[i] = cos(E_i, T E_i);
    heatmaps (d, n), cosines between neuron k's read (W_in[:, k]) or write (W_out[k, :]) direction
    and each vector: eig_in, svd_in (V), eig_out, svd_out (U).
    """

    singular_values: np.ndarray
    eigenvalues: np.ndarray
    cos_svd: np.ndarray
    cos_eig: np.ndarray
    eig_in: np.ndarray
    svd_in: np.ndarray
    eig_out: np.ndarray
    svd_out: np.ndarray


def alignment(model: Model, mixing: Mixing, instance: int = 0) -> Alignment:
    """SVD ``I + M = U S V^T`` and eigenvectors E of ``(M + M^T) / 2`` against one instance."""
    m = mixing.matrix()[instance].double()
    n = m.shape[0]
    t = linear_map(model)[instance]
    u, s, vh = torch.linalg.svd(torch.eye(n, dtype=torch.float64) + m)
    v = vh.T
    evals, evecs = torch.linalg.eigh((m + m.T) / 2)
    order = torch.argsort(evals, descending=True)
    evals, evecs = evals[order], evecs[:, order]

    def cos_cols(a, b):
        return (_unit_columns(a) * _unit_columns(b)).sum(0)

    w_in, w_out = _weights(model, "alignment")
    read = _unit_columns(w_in[instance])                    # (n, d): neuron k reads column k
    write = _unit_columns(w_out[instance].T)                 # (n, d): neuron k writes column k
    return Alignment(
        singular_values=s.numpy(), eigenvalues=evals.numpy(),
        cos_svd=cos_cols(u, t @ v).numpy(), cos_eig=cos_cols(evecs, t @ evecs).numpy(),
        eig_in=(read.T @ evecs).numpy(), svd_in=(read.T @ v).numpy(),
        eig_out=(write.T @ evecs).numpy(), svd_out=(write.T @ u).numpy(),
    )


@dataclass
class EntryFit:
    """Least-squares line of T's entries against M's: slope, intercept, Pearson r, for the
    off-diagonal and the diagonal entries separately."""

    offdiag_slope: float
    offdiag_intercept: float
    offdiag_corr: float
    diag_slope: float
    diag_intercept: float
    diag_corr: float


def entry_fit(model: Model, mixing: Mixing, instance: int = 0) -> EntryFit:
    """T against M, entry by entry, for one instance (see :class:`EntryFit`). With a constant
    diagonal of M (e.g. zero) the diagonal fit is undefined: NaN slope and r, mean as intercept."""
    t = linear_map(model)[instance].numpy()
    m = mixing.matrix()[instance].double().numpy()
    off = ~np.eye(m.shape[0], dtype=bool)
    fo = stats.linregress(m[off], t[off])
    fd = stats.linregress(np.diag(m), np.diag(t)) if np.ptp(np.diag(m)) > 0 else None
    return EntryFit(fo.slope, fo.intercept, fo.rvalue,
                    fd.slope if fd else float("nan"),
                    fd.intercept if fd else float(np.mean(np.diag(t))),
                    fd.rvalue if fd else float("nan"))


def effective_rank(matrix: torch.Tensor | np.ndarray) -> float:
    """exp(entropy) of the normalised singular values of a (n, n) matrix."""
    s = torch.linalg.svdvals(torch.as_tensor(matrix, dtype=torch.float64))
    q = s / s.sum()
    q = q[q > 0]
    return float(torch.exp(-(q * q.log()).sum()))


def top_energy_share(matrix: torch.Tensor | np.ndarray, k: int) -> np.ndarray:
    """The share of ``matrix``'s squared Frobenius norm in its top ``k`` singular directions,
    per instance: (K,) for (K, a, b), or a 0-d array for one (a, b) matrix."""
    s2 = torch.linalg.svdvals(torch.as_tensor(matrix, dtype=torch.float64)).square()
    return (s2[..., :k].sum(-1) / s2.sum(-1)).numpy()


def top_mass(weights: torch.Tensor | np.ndarray, share: float = 0.1) -> float:
    """The share of the absolute mass of ``weights`` held by its largest ``share`` of entries (a
    heavy-tail or sparsity reading, Figs. 8 and 9): 0.259 for the largest 10% of a dense Gaussian
    matrix's entries, 1 for a matrix with at most that share of nonzero entries."""
    a = np.sort(np.abs(np.asarray(weights, dtype=np.float64)).ravel())[::-1]
    return float(a[: int(np.floor(a.size * share + 1e-9))].sum() / a.sum())


def subspace_energy(vectors: torch.Tensor | np.ndarray, basis: torch.Tensor | np.ndarray) -> float:
    """The share of the squared norm of ``vectors``' columns (m, c) that lies in the span of
    ``basis``'s orthonormal columns (m, k): ||B^T X||_F^2 / ||X||_F^2. A random k-dimensional
    subspace of R^m holds k / m of it on average."""
    x = torch.as_tensor(vectors, dtype=torch.float64)
    b = torch.as_tensor(basis, dtype=torch.float64)
    return float((b.T @ x).square().sum() / x.square().sum())


@dataclass
class RegimeMeasures:
    """Three readings of a model that tell the two regimes apart, one value per instance (K,).

    strong: features with slope (output i at x_i = +1) above 0.8, Fig. 3's count (about half in
    the dense regime); offset: the mean W_out entry on the n - d features of lowest slope, Fig.
    10's offset c of the ignored features; top_share: the share of W_out's squared norm in the d
    output features it writes most (1 for the naive model, about d / n for weights spread evenly
    over the features). The share in W_out's top d *singular* directions would say nothing: it is
    1 for every model of width d."""

    strong: np.ndarray
    offset: np.ndarray
    top_share: np.ndarray


def regime_measures(model: Model) -> RegimeMeasures:
    """:class:`RegimeMeasures` of every instance of ``model``: cclib's ReLU models without biases
    only (the slopes are read from the weights); any other model is refused."""
    w_in, w_out = _weights(model, "regime_measures")
    slope = responses(model, [1.0])[:, :, 0].numpy()                      # (K, n)
    d, n = w_in.shape[2], w_in.shape[1]
    ignored = np.argsort(slope, axis=1)[:, : n - d]                        # the n - d lowest slopes
    offset = np.take_along_axis(w_out.numpy().mean(1), ignored, 1).mean(1)
    energy = np.sort(w_out.square().sum(1).numpy(), axis=1)[:, ::-1]       # per output feature
    return RegimeMeasures((slope > 0.8).sum(1), offset, energy[:, :d].sum(1) / energy.sum(1))


def first_crossing(x: Numbers, y: Numbers, bound: Numbers) -> float:
    """The first x (in increasing x) where y rises through ``bound`` (y - bound goes from < 0 to
    >= 0), interpolated linearly in log x between the two grid points that bracket it: the p* of
    Fig. 19, where a loss curve stops beating a bound. -inf if y >= bound already at x[0], +inf if
    y < bound on the whole grid."""
    x, y, bound = (np.asarray(v, dtype=float) for v in (x, y, bound))
    if x.ndim != 1 or x.size < 2 or np.any(np.diff(x) <= 0) or np.any(x <= 0):
        raise ValueError("x must be an increasing 1-D grid of at least 2 positive values")
    gap = y - np.broadcast_to(bound, x.shape)
    if gap[0] >= 0:
        return -np.inf
    above = np.flatnonzero(gap >= 0)
    if above.size == 0:
        return np.inf
    j = above[0]
    t = gap[j - 1] / (gap[j - 1] - gap[j])                      # gap[j - 1] < 0 <= gap[j]
    return float(np.exp(np.log(x[j - 1]) + t * (np.log(x[j]) - np.log(x[j - 1]))))


def k_star(ks: Numbers, values: Numbers, noise: Numbers, bound: Numbers, margin: float = 2.0) -> int:
    """The largest k of ``ks`` (increasing, from the first) up to which ``values`` stay below
    ``bound`` by ``margin`` times their ``noise`` at every k: the k* of Fig. 19, how many co-active
    features a code survives. 0 if not even at the first k."""
    ks, values, noise = (np.asarray(v, dtype=float) for v in (ks, values, noise))
    if ks.ndim != 1 or values.shape != ks.shape or noise.shape != ks.shape or np.any(np.diff(ks) <= 0):
        raise ValueError("ks must be increasing, and values and noise one per k")
    below = values + margin * noise < np.broadcast_to(np.asarray(bound, dtype=float), ks.shape)
    count = int(np.argmin(np.append(below, False)))  # the leading run of True
    return int(ks[count - 1]) if count else 0
