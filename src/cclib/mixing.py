"""Mixing matrices: the feature-mixing term of the labels, ``y = ReLU(x) + x @ M.T``.

Every builder returns a :class:`Mixing` holding K matrices at once (one per model instance),
as a fixed shape ``G`` and a magnitude ``sigma``, with ``M = |sigma| * G``. For the random kinds
``G`` has unit-variance entries, so ``sigma`` is the standard deviation of the entries of ``M``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from ._checks import RANGES, check_choice, check_int, check_numbers, check_seeds
from ._threads import single_threaded
from ._types import PerInstance, Seeds

KINDS = ("clean", "asymmetric", "symmetric", "embedding")


@dataclass
class Mixing:
    """K mixing matrices ``M[k] = |sigma[k]| * G[k]``.

    pattern: (K, n, n), the unitless G; row i says how much each input j leaks into label i.
    sigma: (K,) magnitudes; optimised with the weights when ``trainable_sigma`` is true.
    """

    pattern: Float[Tensor, "K n n"]
    sigma: Float[Tensor, " K"]
    trainable_sigma: bool = False

    def __post_init__(self):
        if self.pattern.dim() != 3 or self.pattern.shape[1] != self.pattern.shape[2]:
            raise ValueError(f"pattern must be (K, n, n), got {tuple(self.pattern.shape)}")
        self.sigma = torch.as_tensor(self.sigma, dtype=self.pattern.dtype).flatten().clone()
        if self.sigma.numel() == 1:
            self.sigma = self.sigma.expand(self.pattern.shape[0]).clone()
        if self.sigma.numel() != self.pattern.shape[0]:
            raise ValueError(f"sigma must have one value per instance ({self.pattern.shape[0]}), "
                             f"got {self.sigma.numel()}")

    @property
    def n_instances(self) -> int:
        """K, the number of instances."""
        return self.pattern.shape[0]

    @property
    def n_features(self) -> int:
        """n, the number of features."""
        return self.pattern.shape[1]

    def matrix(self) -> Float[Tensor, "K n n"]:
        """M, (K, n, n)."""
        return self.sigma.abs()[:, None, None] * self.pattern

    def select(self, index: list[int]) -> "Mixing":
        """The instances ``index`` (a list of positions), as a Mixing of len(index) instances."""
        return Mixing(self.pattern[index], self.sigma[index], self.trainable_sigma)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def clean(n_features: int = 100, n_instances: int = 1) -> Mixing:
    """M = 0 for every instance."""
    n = check_int("n_features", n_features)
    k = check_int("n_instances", n_instances)
    return Mixing(torch.zeros(k, n, n), torch.zeros(k))


def random_mixing(sigma: PerInstance, n_features: int = 100, seeds: Seeds = 0, *, symmetric: bool = False,
                  zero_diagonal: bool = False, trainable_sigma: bool = False) -> Mixing:
    """Gaussian mixing, one matrix per entry of ``sigma`` (a float or a sequence of K floats).

    asymmetric: i.i.d. N(0, 1) entries; symmetric: the upper triangle (diagonal included) of
    such a matrix, mirrored. The diagonal is kept, as in the published code, unless
    ``zero_diagonal`` sets ``G[i, i] = 0``. Instance k draws from
    ``seeds[k]`` (an int s means s, s+1, ...), so it does not depend on the other instances.
    """
    n = check_int("n_features", n_features)
    sig = torch.tensor(check_numbers("sigma", sigma, *RANGES["sigma"][:2]), dtype=torch.float32)
    seeds = check_seeds("seeds", seeds, sig.numel())
    shapes = []
    for seed in seeds:
        g = torch.randn(n, n, generator=_generator(seed))
        if symmetric:
            g = torch.triu(g) + torch.triu(g, diagonal=1).T
        if zero_diagonal:
            g.fill_diagonal_(0.0)
        shapes.append(g)
    return Mixing(torch.stack(shapes), sig, trainable_sigma)


@single_threaded  # a multi-threaded product or QR would change the last bits
def embedding_matrix(n_features: int = 100, d_embed: int = 1000, seeds: Seeds = 0) -> Float[Tensor, "K n d_embed"]:
    """Fixed embeddings W_E with random unit-norm rows, (K, n_features, d_embed)."""
    n = check_int("n_features", n_features)
    d = check_int("d_embed", d_embed)
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    seeds = check_seeds("seeds", seeds, len(seeds))
    out = []
    for seed in seeds:
        w = torch.randn(n, d, generator=_generator(seed))
        out.append(w / w.norm(dim=1, keepdim=True))
    return torch.stack(out)


@single_threaded  # a multi-threaded product or QR would change the last bits
def embedding_mixing(w_embed: Float[Tensor, "K n d_embed"], sign: int = -1) -> Mixing:
    """The mixing a residual stream with embedding ``W_E`` (K, n, D) induces: ``sign (W_E W_E^T - I)``.

    sign = -1 is what the original residual model's MLP actually sees (labels x + ReLU(x) minus the
    stream's own read-out); sign = +1 is what the published code used for its dataset.
    """
    if sign not in (-1, 1):
        raise ValueError(f"sign must be -1 or +1, got {sign!r}")
    if w_embed.dim() == 2:
        w_embed = w_embed[None]
    gram = w_embed @ w_embed.transpose(1, 2)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype)
    return Mixing(sign * (gram - eye), torch.ones(gram.shape[0]))


@single_threaded  # a multi-threaded product or QR would change the last bits
def low_rank_mixing(sigma: PerInstance, rank: int, n_features: int = 100, seeds: Seeds = 0, *,
                    spectrum: str = "flat", trainable_sigma: bool = False) -> Mixing:
    """Symmetric rank-``rank`` mixing ``G = Q diag(s) Q^T`` with random orthonormal Q (footnote 9).

    spectrum: 'flat' (all |s| = 1, random signs) or 'random' (s ~ N(0, 1)). G is rescaled so that
    its entries have unit root-mean-square, making ``sigma`` comparable with the full-rank kinds.
    """
    n = check_int("n_features", n_features)
    r = check_int("rank", rank, low=1, high=n)
    check_choice("spectrum", spectrum, ("flat", "random"))
    sig = torch.tensor(check_numbers("sigma", sigma, *RANGES["sigma"][:2]), dtype=torch.float32)
    seeds = check_seeds("seeds", seeds, sig.numel())
    shapes = []
    for seed in seeds:
        gen = _generator(seed)
        q, _ = torch.linalg.qr(torch.randn(n, r, generator=gen))
        if spectrum == "flat":
            s = torch.where(torch.rand(r, generator=gen) < 0.5, -1.0, 1.0)
        else:
            s = torch.randn(r, generator=gen)
        g = (q * s) @ q.T
        shapes.append(g / g.pow(2).mean().sqrt())
    return Mixing(torch.stack(shapes), sig, trainable_sigma)


def build(kind: str, sigma: PerInstance = 0.02, n_features: int = 100, seeds: Seeds = 0, *, zero_diagonal: bool = False,
          trainable_sigma: bool = False, d_embed: int = 1000, sign: int = -1) -> Mixing:
    """One entry point by name: 'clean', 'asymmetric', 'symmetric' or 'embedding'."""
    check_choice("kind", kind, KINDS)
    if kind == "clean":
        k = torch.as_tensor(sigma).numel()
        return clean(n_features, k)
    if kind == "embedding":
        return embedding_mixing(embedding_matrix(n_features, d_embed, seeds), sign)
    return random_mixing(sigma, n_features, seeds, symmetric=(kind == "symmetric"),
                         zero_diagonal=zero_diagonal, trainable_sigma=trainable_sigma)
