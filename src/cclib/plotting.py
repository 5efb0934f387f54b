"""One plotting style for every figure: palette, naive line, saving."""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import seaborn as sns

from .baselines import naive_loss
from .cache import atomic_write_bytes

#: Named colours used across figures, so "sparse" or "symmetric" looks the same everywhere.
COLORS = {
    "naive": "0.35", "sparse": "#6a3d9a", "dense": "#33a02c", "embed": "#1f78b4",
    "clean": "#e6ab02", "asymmetric": "#33a02c", "symmetric": "#e31a1c", "residual": "#1f78b4",
    "snmf": "#ff7f00", "trained": "#6a3d9a", "published": "#b15928",
}


def use_style() -> None:
    """The project's look: seaborn's white grid, medium titles, constrained layout."""
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.95)
    mpl.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.titlesize": "medium",
                         "legend.fontsize": "small", "figure.constrained_layout.use": True})


def sparsity_colors(values: Sequence[float]) -> list:
    """One colour per probability of an ordered list, sparse (blue) to dense (red): matplotlib's
    'turbo' map at evenly spaced ranks, so that neighbours (ten of them in Fig. 2) stay apart
    however the probabilities are spaced; one RGBA tuple each."""
    cmap = mpl.colormaps["turbo"]
    return [cmap(x) for x in np.linspace(0.08, 0.92, len(values))]


def naive_line(ax: mpl.axes.Axes, n_features: int = 100, d_mlp: int = 50,
               label: str = "naive (1/12)") -> None:
    """A dashed horizontal line at the naive loss per feature, (n - d) / (6 n p) * p = 1/12."""
    ax.axhline(naive_loss(n_features, d_mlp), color=COLORS["naive"], ls="--", lw=1.2, label=label)


def naive_on_labels_line(ax: mpl.axes.Axes, value: float, vertical: bool = False,
                         span: tuple[float, float] | None = None) -> None:
    """A dotted line at ``value``, the naive model's loss scored on a figure's own noisy labels
    (:func:`cclib.bounds.naive_loss_on`: 1/12 plus what M adds), beside :func:`naive_line`,
    the naive model on clean labels that the paper compares against. span: (start, end) in data
    units where those labels apply (default: the whole axis)."""
    style = dict(color=COLORS["naive"], ls=":", lw=1.2, label=f"naive scored on these labels with M ({value:.3f})")
    if span is not None:
        (ax.vlines if vertical else ax.hlines)(value, *span, **style)
    else:
        (ax.axvline if vertical else ax.axhline)(value, **style)


def readable_log_ticks(fig: mpl.figure.Figure) -> None:
    """Label the log axes of ``fig`` that still have matplotlib's default ticks so that they read
    at a glance: an axis whose visible range spans under two decades gets plain-number ticks at
    1, 2 and 5 times each power of ten (under one decade: 1, 1.5, 2, 3, ..., 8 times), so that
    the range the data lies in carries several labels; wider axes keep their decades."""
    for ax in fig.axes:
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if axis.get_scale() != "log" or \
                    not isinstance(axis.get_major_formatter(), mpl.ticker.LogFormatterSciNotation):
                continue  # linear, or ticks a figure chose itself
            low, high = sorted(limits)
            decades = np.log10(high / low) if low > 0 else np.inf
            if decades >= 2:
                continue
            subs = (1.0, 2.0, 5.0) if decades >= 1 else (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
            axis.set_major_locator(mpl.ticker.LogLocator(subs=subs))
            axis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(mpl.ticker.NullFormatter())


def save_figure(fig: mpl.figure.Figure, out_dir: str | Path, name: str) -> list[Path]:
    """Write ``name``.png and ``name``.pdf into out_dir atomically (log axes labelled by
    :func:`readable_log_ticks` first); return the paths."""
    readable_log_ticks(fig)
    paths = []
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, bbox_inches="tight")
        path = Path(out_dir) / f"{name}.{ext}"
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths


def plain_log_axis(ax: mpl.axes.Axes, axis: str = "y", ticks: Sequence[float] | None = None) -> None:
    """Log axis labelled with plain numbers (0.06, 0.08, 0.1) instead of 6 x 10^-2."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    if ticks is not None:
        target.set_ticks(ticks)
    target.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(mpl.ticker.NullFormatter())


def heatmap(ax: mpl.axes.Axes, data: np.ndarray, **kwargs) -> mpl.image.AxesImage:
    """imshow of a (rows, cols) array without the style's grid lines drawn over the cells."""
    ax.grid(False)
    return ax.imshow(data, aspect="auto", **kwargs)


def stacked_bars(ax: mpl.axes.Axes, values: np.ndarray, colors: Sequence, width: float = 0.9) -> None:
    """Stacked bars of values (n_bars, n_parts): positive parts stacked up from 0, negative down,
    part k in colors[k]. One PolyCollection, so thousands of segments draw quickly."""
    values = np.asarray(values, dtype=float)
    n_bars, n_parts = values.shape
    pos, neg = np.clip(values, 0, None), np.clip(values, None, 0)
    tops = np.cumsum(pos, 1)
    bottoms = np.cumsum(neg, 1)
    x0 = np.arange(n_bars)[:, None] - width / 2
    lower = np.concatenate([np.concatenate([tops[:, :1] * 0, tops[:, :-1]], 1),
                            np.concatenate([bottoms[:, :1] * 0, bottoms[:, :-1]], 1)])
    upper = np.concatenate([tops, bottoms])
    left = np.concatenate([x0, x0]) * np.ones((1, n_parts))
    keep = np.abs(upper - lower) > 0
    l, lo, up = left[keep], lower[keep], upper[keep]
    boxes = np.stack([np.stack([l, lo], 1), np.stack([l + width, lo], 1),
                      np.stack([l + width, up], 1), np.stack([l, up], 1)], 1)
    part = np.broadcast_to(np.arange(n_parts), (2 * n_bars, n_parts))[keep]
    ax.add_collection(mpl.collections.PolyCollection(boxes, facecolors=[colors[k] for k in part],
                                                     linewidths=0))
    ax.set_xlim(-1, n_bars)
    ax.set_ylim(min(0, bottoms[:, -1].min()) * 1.1, max(1e-9, tops[:, -1].max()) * 1.05)


def over_seeds(n: int, what: str = "mean ± sd") -> str:
    """How a title states a spread over ``n`` seeds: "mean ± sd of 3 seeds", or "one seed, no
    spread" (a quick-mode smoke run) where there is nothing to average."""
    return f"{what} of {n} seeds" if n > 1 else "one seed, no spread"
