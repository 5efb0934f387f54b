"""The two architectures, each holding K independent instances in one set of tensors.

* :class:`MLP` — the paper's simplified model, ``out = ReLU(x @ W_in) @ W_out``, no biases.
* :class:`ResidualMLP` — Braun et al.'s original: a fixed embedding ``W_E`` into a 1000-dim
  residual stream, one MLP block on the stream, read out with ``W_U = W_E^T``.
* :class:`DeepMLP` — beyond the paper: several hidden layers, a trainable linear skip from input
  to output, an output ReLU (with biases, Elhage et al.'s absolute-value model when trained on
  the target 'abs').

A model is an architecture only: what it is trained to output (the target) is the task's
(:data:`cclib.task.TARGETS`), given with the run (:class:`cclib.task.Procedure`).

**The protocol every trainable model follows** (what :func:`cclib.train.train` with the general
engine and :mod:`cclib.evaluate` need, for these classes and for your own modules):

* a ``torch.nn.Module`` whose ``forward`` maps x of shape (K, batch, n_features) to
  (K, batch, n_features): K independent instances, instance k computed from ``x[k]`` alone;
* every parameter has the instance dimension first (shape (K, ...)), and instance k's output
  depends only on its own slices;
* attributes ``n_instances`` (K) and ``n_features`` (n);
* optionally ``labels(x)``, for a model whose task has labels of its own: the engines then train
  ``model(x)`` against ``labels(x)`` instead of ReLU(x) + x M^T, and the mixing passed with it
  must be the one its labels imply (:class:`ResidualMLP`: labels x + ReLU(x), mixing
  :meth:`ResidualMLP.mixing`).

The fast engine and the closed-form evaluations additionally use ``effective_weights()`` (the
(K, n, d) and (K, d, n) matrices of the equivalent ReLU MLP) and ``pullback(...)`` (gradients
with respect to those mapped back to the model's own parameters). They hold only for the exact
classes below with ReLU and no biases (:func:`closed_forms`); any other model, a subclass
included, is trained and evaluated through ``model(x)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn

from ._checks import check_choice, check_int, check_range, check_seeds, check_shape

if TYPE_CHECKING:
    from .mixing import Mixing


INIT_BOUNDS = ("published", "textbook")
ACTIVATIONS = {"relu": torch.relu, "gelu": torch.nn.functional.gelu}


@dataclass(frozen=True)
class Support:
    """Whether the closed forms hold for a model (true as a bool), and if not, why (``reason``)."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def closed_forms(model: nn.Module) -> Support:
    """Whether the fast engine's gradients and the closed-form evaluations compute ``model``
    exactly (``effective_weights`` and ``pullback``): for :class:`MLP` (ReLU, no biases) and
    :class:`ResidualMLP` themselves, not for a subclass (which may override ``forward``) or any
    other module. Falsy with the reason otherwise."""
    if type(model) not in (MLP, ResidualMLP):
        return Support(False, f"{type(model).__name__} is not cclib's MLP or ResidualMLP itself (a "
                              "subclass may compute something else)")
    if getattr(model, "activation", "relu") != "relu":
        return Support(False, f"activation {model.activation!r} (the fast engine's gradients are ReLU's)")
    if getattr(model, "bias", False):
        return Support(False, "biases (the fast engine's model has none)")
    return Support(True)


def positively_homogeneous(model: nn.Module) -> bool:
    """True if ``model(c x) = c model(x)`` for every c > 0, known from its class: cclib's models
    with ReLU and no biases (:func:`closed_forms`, and :class:`DeepMLP` with ReLU, no biases, any
    depth, skip or output ReLU). A property of the model alone: an exact exactly-one-active loss
    also needs a homogeneous target (:func:`cclib.evaluate.exact_one_active`)."""
    if closed_forms(model):
        return True
    return type(model) is DeepMLP and model.activation == "relu" and not model.bias


def set_parameters(model: nn.Module, arrays) -> None:
    """Copy ``arrays`` (numpy arrays or tensors, in the order of ``model.parameters()``) into the
    model's parameters, in place."""
    with torch.no_grad():
        for param, value in zip(model.parameters(), arrays, strict=True):
            param.copy_(torch.as_tensor(value))


def check_protocol(model: object) -> None:
    """Raise a TypeError naming ``model`` and what it lacks if it does not follow the protocol."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    missing = [a for a in ("n_instances", "n_features") if not hasattr(model, a)]
    if missing:
        raise TypeError(f"model must have the attributes n_instances and n_features (see "
                        f"cclib.models); {type(model).__name__} lacks {', '.join(missing)}")
    k = model.n_instances
    for name, param in model.named_parameters():
        if param.dim() == 0 or param.shape[0] != k:
            raise ValueError(f"model parameter {name} must have the instance dimension first "
                             f"(n_instances={k}), got shape {tuple(param.shape)}")


def check_own_labels(model: nn.Module, mixing: Mixing) -> None:
    """For a model with labels of its own, raise a ValueError unless ``mixing`` is the one they
    imply (``model.mixing()``, sigma fixed): otherwise the closed forms (which use the mixing)
    and ``model(x)`` against ``model.labels(x)`` (which does not) would score different tasks."""
    if not hasattr(model, "labels"):
        return
    own = model.mixing() if hasattr(model, "mixing") else None
    if own is None or mixing.trainable_sigma or not torch.equal(mixing.matrix(), own.matrix()):
        raise ValueError(f"mixing must be the one {type(model).__name__}'s own labels imply "
                         "(model.mixing(), sigma fixed): its output is scored against "
                         "model.labels(x), not ReLU(x) + x M^T")


def check_input(model: nn.Module, x: torch.Tensor) -> None:
    """Raise a ValueError naming x if it is not a (K, batch, n_features) tensor for ``model``."""
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[0] != model.n_instances \
            or x.shape[2] != model.n_features:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must have shape (n_instances={model.n_instances}, batch, "
                         f"n_features={model.n_features}), got {got}")


def kaiming_uniform(shape: tuple[int, int], generator: torch.Generator,
                    bounds: str = "published") -> torch.Tensor:
    """Kaiming-uniform U(-b, b), b = sqrt(6 / fan_in), for a weight used as ``x @ W``.

    shape: (rows, cols) of W. bounds='published': fan_in = cols, as torch's ``kaiming_uniform_``
    takes it (torch's layers store (out, in)) and as the paper's code applied it to its
    (in, out) matrices; bounds='textbook': fan_in = rows, the layer's real input width. For
    the (100, 50) W_in the published bound is sqrt(6/50) = 0.346, the textbook one 0.245.
    """
    check_choice("bounds", bounds, INIT_BOUNDS)
    fan_in = shape[1] if bounds == "published" else shape[0]
    bound = math.sqrt(6.0 / fan_in)
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


def _init_generators(seeds: list[int]) -> list[torch.Generator]:
    # Offset so that an instance's initial weights never share a stream with its data (same seed).
    return [torch.Generator().manual_seed(1_000_003 * (s + 1)) for s in seeds]


class _Sizes:
    """K, n and d read from W_out, (K, d, n) (a model whose W_out has another shape overrides
    them)."""

    @property
    def n_instances(self) -> int:
        """K, the number of instances."""
        return self.W_out.shape[0]

    @property
    def n_features(self) -> int:
        """n, the number of features."""
        return self.W_out.shape[2]

    @property
    def d_mlp(self) -> int:
        """d, the number of neurons (of each hidden layer)."""
        return self.W_out.shape[1]


class MLP(_Sizes, nn.Module):
    """K simplified models ``act(x W_in + b_in) W_out + b_out``. W_in: (K, n_features, d_mlp);
    W_out: (K, d_mlp, n_features); with ``bias``, b_in: (K, d_mlp) and b_out: (K, n_features),
    starting at zero (the paper's model has none).

    activation: 'relu' (the paper's) or 'gelu'. init_bounds: 'published' (default, as the
    paper's code) or 'textbook' Kaiming bounds, see :func:`kaiming_uniform`. out_init_scale:
    a factor on W_out's initial bound (default 1; sqrt(n / D) = 0.316 gives the bound that
    Braun et al.'s residual model's folded W_out starts from at D = 1000).
    """

    def __init__(self, n_instances: int = 1, n_features: int = 100, d_mlp: int = 50, seeds=0,
                 init_bounds: str = "published", activation: str = "relu", bias: bool = False,
                 out_init_scale: float = 1.0):
        super().__init__()
        k = check_int("n_instances", n_instances)
        n = check_int("n_features", n_features)
        d = check_int("d_mlp", d_mlp, high=n)
        self.activation = check_choice("activation", activation, tuple(ACTIVATIONS))
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {bias!r}")
        self.bias = bias
        scale = check_range("out_init_scale", out_init_scale)
        gens = _init_generators(check_seeds("seeds", seeds, k))
        self.W_in = nn.Parameter(torch.stack([kaiming_uniform((n, d), g, init_bounds) for g in gens]))
        self.W_out = nn.Parameter(torch.stack([kaiming_uniform((d, n), g, init_bounds) for g in gens]) * scale)
        if bias:
            self.b_in = nn.Parameter(torch.zeros(k, d))
            self.b_out = nn.Parameter(torch.zeros(k, n))

    @classmethod
    def from_weights(cls, w_in: Float[Tensor, "K n d"], w_out: Float[Tensor, "K d n"]) -> "MLP":
        """Wrap given weights, (K, n, d) and (K, d, n) (or unbatched (n, d), (d, n))."""
        if w_in.dim() == 2:
            w_in, w_out = w_in[None], w_out[None]
        check_shape("w_in", w_in, (None, None, None))
        check_shape("w_out", w_out, (w_in.shape[0], w_in.shape[2], w_in.shape[1]))
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model.activation, model.bias = "relu", False
        model.W_in = nn.Parameter(w_in.detach().clone().float())
        model.W_out = nn.Parameter(w_out.detach().clone().float())
        return model

    def forward(self, x: Float[Tensor, "K B n"]) -> Float[Tensor, "K B n"]:
        """x: (K, batch, n) -> (K, batch, n)."""
        check_input(self, x)
        if not self.bias:
            return ACTIVATIONS[self.activation](x @ self.W_in) @ self.W_out
        hidden = ACTIVATIONS[self.activation](torch.baddbmm(self.b_in[:, None], x, self.W_in))
        return torch.baddbmm(self.b_out[:, None], hidden, self.W_out)

    def effective_weights(self, params: Sequence[Tensor] | None = None) -> tuple[Float[Tensor, "K n d"], Float[Tensor, "K d n"]]:
        """(W_in, W_out) of the equivalent simplified MLP: here the weights themselves."""
        w_in, w_out = params if params is not None else (self.W_in, self.W_out)
        return w_in, w_out

    def pullback(self, params: Sequence[Tensor] | None, grad_w_in: Float[Tensor, "K n d"],
                 grad_w_out: Float[Tensor, "K d n"]) -> list[Tensor]:
        """Gradients w.r.t. (W_in, W_out) from those w.r.t. the effective weights."""
        return [grad_w_in, grad_w_out]

    def select(self, index: list[int]) -> "MLP":
        """A copy of the instances ``index`` (a list of positions) as a model of len(index)."""
        model = MLP(len(index), self.n_features, self.d_mlp, activation=self.activation, bias=self.bias)
        with torch.no_grad():
            for own, theirs in zip(model.parameters(), self.parameters()):
                own.copy_(theirs[index])
        return model


class ResidualMLP(_Sizes, nn.Module):
    """K copies of Braun et al.'s residual model.

    W_E: (K, n, D) fixed buffer with unit rows; W_U = W_E^T. Trainable W_in: (K, D, d),
    W_out: (K, d, D). ``forward(x) = (r + ReLU(r @ W_in) @ W_out) @ W_U`` with ``r = x @ W_E``.
    init_bounds: as for :class:`MLP` (published: sqrt(6/d) for W_in, sqrt(6/D) for W_out).
    """

    def __init__(self, w_embed: torch.Tensor, d_mlp: int = 50, seeds=0, init_bounds: str = "published"):
        super().__init__()
        if w_embed.dim() == 2:
            w_embed = w_embed[None]
        check_shape("w_embed", w_embed, (None, None, None))
        k, n, big_d = w_embed.shape
        d = check_int("d_mlp", d_mlp, high=big_d)
        gens = _init_generators(check_seeds("seeds", seeds, k))
        self.register_buffer("W_E", w_embed.detach().clone().float())
        self.W_in = nn.Parameter(torch.stack([kaiming_uniform((big_d, d), g, init_bounds) for g in gens]))
        self.W_out = nn.Parameter(torch.stack([kaiming_uniform((d, big_d), g, init_bounds) for g in gens]))

    @property
    def n_features(self) -> int:
        """n, the number of features (W_out is (K, d, D) here)."""
        return self.W_E.shape[1]

    def forward(self, x: Float[Tensor, "K B n"]) -> Float[Tensor, "K B n"]:
        """x: (K, batch, n) -> (K, batch, n), the full residual computation."""
        check_input(self, x)
        r = x @ self.W_E
        r = r + torch.relu(r @ self.W_in) @ self.W_out
        return r @ self.W_E.transpose(1, 2)

    def labels(self, x: Float[Tensor, "K B n"]) -> Float[Tensor, "K B n"]:
        """Its own labels, x + ReLU(x): what ``forward`` is trained to output. Its MLP block then
        learns ReLU(x) + x M^T with M = :meth:`mixing`, the task of the simplified model."""
        return x + torch.relu(x)

    def effective_weights(self, params: Sequence[Tensor] | None = None) -> tuple[Float[Tensor, "K n d"], Float[Tensor, "K d n"]]:
        """Folded weights (W_E @ W_in, W_out @ W_U): the MLP part seen from feature space."""
        w_in, w_out = params if params is not None else (self.W_in, self.W_out)
        return self.W_E @ w_in, w_out @ self.W_E.transpose(1, 2)

    def pullback(self, params: Sequence[Tensor] | None, grad_w_in: Float[Tensor, "K n d"],
                 grad_w_out: Float[Tensor, "K d n"]) -> list[Tensor]:
        """Chain rule through the fixed embedding: (W_E^T g_in, g_out W_E)."""
        return [self.W_E.transpose(1, 2) @ grad_w_in, grad_w_out @ self.W_E]

    def select(self, index: list[int]) -> "ResidualMLP":
        """A copy of the instances ``index`` (a list of positions) as a model of len(index)."""
        model = ResidualMLP(self.W_E[index], self.d_mlp)
        with torch.no_grad():
            model.W_in.copy_(self.W_in[index])
            model.W_out.copy_(self.W_out[index])
        return model

    def folded(self) -> MLP:
        """The simplified MLP with the folded weights (its output lacks the x W_E W_E^T term)."""
        w_in, w_out = self.effective_weights()
        return MLP.from_weights(w_in, w_out)

    def mixing(self) -> "Mixing":
        """The mixing the MLP block sees: M = -(W_E W_E^T - I), see :func:`cclib.mixing.embedding_mixing`."""
        from .mixing import embedding_mixing
        return embedding_mixing(self.W_E, sign=-1)


class DeepMLP(_Sizes, nn.Module):
    """K networks ``out = o(h_L W_out + b_out + x S)``, ``h_0 = x``, ``h_l = act(h_{l-1} W_l + b_l)``
    for l = 1..L: L = ``hidden_layers`` hidden layers of width d_mlp; W_1: (K, n, d), the others
    (K, d, d); W_out: (K, d, n); with ``bias``, the b_l (K, d) and b_out (K, n), starting at 0;
    with ``skip``, the trainable S (K, n, n), starting at 0; o = ReLU with ``out_activation``
    'relu', else the identity. The weights start as :class:`MLP`'s (the same draws in the same
    order: W_1, ..., W_L, W_out), so one hidden layer without skip and output ReLU starts where
    the paper's model starts. Trained and evaluated through ``model(x)`` only (general engine)."""

    def __init__(self, n_instances: int = 1, n_features: int = 100, d_mlp: int = 50, seeds=0,
                 hidden_layers: int = 1, skip: bool = False, out_activation: str = "none",
                 bias: bool = False, activation: str = "relu", init_bounds: str = "published"):
        super().__init__()
        k = check_int("n_instances", n_instances)
        n = check_int("n_features", n_features)
        d = check_int("d_mlp", d_mlp, high=n)
        layers = check_int("hidden_layers", hidden_layers, high=4)
        self.activation = check_choice("activation", activation, tuple(ACTIVATIONS))
        self.out_activation = check_choice("out_activation", out_activation, ("none", "relu"))
        for name, flag in (("bias", bias), ("skip", skip)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self.bias, self.skip = bias, skip
        gens = _init_generators(check_seeds("seeds", seeds, k))
        shapes = [(n, d)] + [(d, d)] * (layers - 1)
        draws = [[kaiming_uniform(shape, g, init_bounds) for shape in shapes + [(d, n)]] for g in gens]
        self.hidden = nn.ParameterList(nn.Parameter(torch.stack([w[i] for w in draws]))
                                       for i in range(layers))
        self.W_out = nn.Parameter(torch.stack([w[-1] for w in draws]))
        if bias:
            self.hidden_bias = nn.ParameterList(nn.Parameter(torch.zeros(k, d)) for _ in range(layers))
            self.b_out = nn.Parameter(torch.zeros(k, n))
        if skip:
            self.S = nn.Parameter(torch.zeros(k, n, n))

    def hidden_layer(self, x: Float[Tensor, "K B n"]) -> Float[Tensor, "K B d"]:
        """The last hidden layer h_L, the layer the output reads."""
        check_input(self, x)
        act = ACTIVATIONS[self.activation]
        h = x
        for i, w in enumerate(self.hidden):
            h = act(torch.baddbmm(self.hidden_bias[i][:, None], h, w) if self.bias else h @ w)
        return h

    def forward(self, x: Float[Tensor, "K B n"]) -> Float[Tensor, "K B n"]:
        """x: (K, batch, n) -> (K, batch, n)."""
        h = self.hidden_layer(x)
        out = torch.baddbmm(self.b_out[:, None], h, self.W_out) if self.bias else h @ self.W_out
        if self.skip:
            out = out + x @ self.S
        return torch.relu(out) if self.out_activation == "relu" else out
