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

from ._types import Model, Numbers
from .mixing import Mixing


def _weights(model):
    w_in, w_out = model.effective_weights()
    return w_in.detach().double(), w_out.detach().double()


def linear_map(model: Model) -> torch.Tensor:
    """T = (W_in W_out)^T, (K, n, n): the model without its ReLU, column convention."""
    w_in, w_out = _weights(model)
    return (w_in @ w_out).transpose(1, 2)


def feature_contributions(model: Model) -> torch.Tensor:
    """``W_in[i, k] * W_out[k, i]`` (K, n, d): what neuron k adds to feature i's own output."""
    w_in, w_out = _weights(model)
    return w_in * w_out.transpose(1, 2)


def responses(model: Model, values: Numbers) -> torch.Tensor:
    """Output i when input i is ``v`` and all others 0, for each v in ``values``: (K, n, V)."""
    w_in, w_out = _weights(model)
    v = torch.as_tensor(values, dtype=torch.float64)
    h = w_in[:, :, None, :] * v[None, None, :, None]                 # (K, n, V, d)
    return (torch.relu(h) * w_out.transpose(1, 2)[:, :, None, :]).sum(-1)


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

    w_in, w_out = _weights(model)
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
