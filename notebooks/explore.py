# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Explore: change a setting, see the curve
#
# Pick a mixing matrix, its magnitude, the input distribution and the training length; press
# **Train** and the model's loss per feature over p_eval is drawn beside three baselines for the
# same M: the naive solution (1/12), the naive model with its best offset (closed form, clean
# labels) and the correctly oriented semi-NMF model of Fig. 9 (no training). Trained models are
# cached in `data/`, so a setting you have tried before comes back at once.
#
# Without ipywidgets, call `explore(...)` with the settings you want; the cell below does that
# once with the defaults of the parameters cell.

# %% tags=["parameters"]
kind = "asymmetric"      # clean, embedding (sign -1 or +1), asymmetric, symmetric, low_rank
sigma = 0.02             # magnitude |sigma| of M (unused for clean and embedding)
sign = -1                # embedding only: -1 is what Braun et al.'s residual model sees
rank = 20                # low_rank only
keep_diagonal = True     # random kinds: keep M's diagonal (the published code does)
inputs = "one_active"    # one_active or bernoulli
p = 0.01                 # bernoulli only: the training feature probability
steps = 10_000
seed = 0

# %%
import matplotlib.pyplot as plt
import numpy as np

from cclib import baselines, evaluate, evaluations, experiments, plotting
from cclib.spec import RunSpec

plotting.use_style()
P_EVAL = evaluate.p_grid(40)


def _title(kind, sigma, sign, rank, keep_diagonal):
    """The mixing in words, with only the settings that kind uses."""
    if kind == "clean":
        return "clean labels (M = 0)"
    if kind == "embedding":
        return f"embedding mixing, sign {'+' if sign > 0 else '-'}"
    if kind == "low_rank":
        return f"rank-{rank} symmetric, $\\sigma$ = {sigma:g}"
    return f"{kind}, $\\sigma$ = {sigma:g}, diagonal {'kept' if keep_diagonal else 'zeroed'}"


def explore(kind=kind, sigma=sigma, sign=sign, rank=rank, keep_diagonal=keep_diagonal, inputs=inputs,
            p=p, steps=steps, seed=seed):
    """Train (or load) one model for these settings and plot it against the baselines."""
    mix = {"clean": dict(), "embedding": dict(sign=sign), "low_rank": dict(sigma=sigma, rank=rank)}.get(
        kind, dict(sigma=sigma, zero_diagonal=not keep_diagonal))
    spec = RunSpec(seeds=[seed], mixing=dict(kind=kind, **mix), optim=dict(steps=steps),
                   inputs=dict(kind="bernoulli", p=p) if inputs == "bernoulli" else dict(kind=inputs))
    run = experiments.trained(spec, progress=True)
    curve = evaluations.loss_curve(run, P_EVAL, 1024)
    snmf = baselines.semi_nmf_projected_gradient(run.mixing, orientation="label", steps=1000)
    snmf_curve = evaluate.loss_curve(snmf.model, run.mixing, P_EVAL, 1024)
    offset = baselines.naive_offset_optimum(P_EVAL)[1]

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(P_EVAL, curve.loss[0], color=plotting.COLORS["trained"], lw=2, label="trained")
    ax.plot(P_EVAL, snmf_curve.loss[0], color=plotting.COLORS["snmf"], lw=1.4,
            label="semi-NMF of $I + M^T$ (untrained)")
    ax.plot(P_EVAL, offset, ":", color="0.3", label="naive + best offset (clean labels)")
    plotting.naive_line(ax)
    if inputs == "bernoulli":
        ax.axvline(p, color="0.6", lw=0.8)
    ax.set(xscale="log", xlabel="evaluation feature probability $p_{eval}$", ylabel="loss per feature $L / p$",
           title=_title(kind, sigma, sign, rank, keep_diagonal) + f", {inputs}"
                 + (f" p = {p:g}" if inputs == "bernoulli" else "") + f", {steps} steps, seed {seed}")
    ax.legend(fontsize="small")
    plt.show()
    if inputs == "bernoulli":
        print(f"L/p at the training p = {p:g}: {evaluate.expected_loss(run.model, run.mixing, p, 1024)[0][0]:.4f}")
    else:
        print(f"L/p on exactly one active input: {evaluate.one_active_loss(run.model, run.mixing)[0]:.4f}")
    if run.mixing.trainable_sigma:
        print(f"learned sigma {float(abs(run.mixing.sigma[0])):.4f}")


explore()

# %% [markdown]
# ## The controls
# (Shown when ipywidgets is installed; `make` installs it.)

# %%
try:
    import ipywidgets as widgets
except ImportError:
    print("ipywidgets is not installed: call explore(kind=..., sigma=..., ...) instead")
else:
    widgets.interact_manual.opts["manual_name"] = "Train"
    widgets.interact_manual(
        explore,
        kind=widgets.Dropdown(options=["clean", "embedding", "asymmetric", "symmetric", "low_rank"], value=kind),
        sigma=widgets.FloatLogSlider(value=sigma, base=10, min=-3, max=-0.7, step=0.05, readout_format=".3f"),
        sign=widgets.Dropdown(options=[("minus (residual model)", -1), ("plus (published)", 1)], value=sign),
        rank=widgets.IntSlider(value=rank, min=1, max=100),
        keep_diagonal=widgets.Checkbox(value=keep_diagonal, description="keep diagonal"),
        inputs=widgets.Dropdown(options=["one_active", "bernoulli"], value=inputs),
        p=widgets.FloatLogSlider(value=p, base=10, min=-3, max=0, step=0.1, readout_format=".3f"),
        steps=widgets.IntText(value=steps),
        seed=widgets.IntText(value=seed),
    )
