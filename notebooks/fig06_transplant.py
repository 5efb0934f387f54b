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
# # Fig. 6 — transplant: remove the mixing and the advantage goes
#
# Braun et al. suggested the residual stream was needed only for training dynamics. If so, a
# model that learned the compressed solution on noisy labels should keep its advantage once
# the noise is removed. We train on random asymmetric mixing (sigma = 0.02, diagonal kept,
# p = 0.01) for 10,000 steps, then continue the same weights on the clean labels for 10,000 more
# (fresh optimiser and cosine schedule). Apart from the training curve, we also score the noisy
# model's weights directly on clean labels, with no optimiser step in between.
#
# **Claim.** The loss jumps to or above naive as soon as the mixing is removed.
#
# Two naive lines: dashed, the naive model on clean labels (1/12), the baseline the paper compares
# against; dotted, the same naive model scored on this figure's labels with M,
# $1/12 + \|M\|_F^2 / (3n)$ plus a diagonal term (`cclib.bounds.naive_loss_on`): a model that
# ignores M pays for all of it.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory


# %%
import matplotlib.pyplot as plt
import numpy as np

from cclib import bounds, evaluations, experiments, mixing, notebook, paper_runs, plotting, report
from cclib.baselines import naive_loss

setup = notebook.setup(mode, seed, out_dir)  # checks the parameters, sets the style
out, quick = setup.out, setup.quick
P = 0.01

# %%
runs = paper_runs.transplant(seed, quick)  # noisy (sigma 0.02, p = P), then clean from its weights
STEPS = max(runs["noisy"].steps)
noisy_run = experiments.trained(runs["noisy"], progress=True)
history = np.concatenate([noisy_run.loss[:, 0], experiments.trained(runs["clean"], progress=True).loss[:, 0]]) / P
window = 100
running = np.convolve(history, np.ones(window) / window, mode="valid")
switch = STEPS
span = {"before": history[switch - 500:switch], "after": history[switch:switch + 500]}
mean = {k: float(v.mean()) for k, v in span.items()}
se = {k: float(v.std(ddof=1) / np.sqrt(v.size)) for k, v in span.items()}   # 500 independent batches
# the noisy model's weights, scored (not trained) on its own labels and on clean ones
samples = setup.samples
own, own_se = (float(v[0]) for v in evaluations.expected_loss(noisy_run, P, samples))
on_clean_curve = evaluations.cached_curve(dict(run=noisy_run.key(), labels="clean"), noisy_run.model, mixing.clean(),
                                          [P], samples)
on_clean, on_clean_se = float(on_clean_curve.loss[0, 0]), float(on_clean_curve.se[0, 0])

# %%
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(np.arange(window - 1, len(history)), running, color=plotting.COLORS["trained"],
        label=f"training loss, running mean over {window} steps")
ax.axvline(switch, color="k", ls=":", label="mixing removed")
plotting.naive_line(ax)
plotting.naive_on_labels_line(ax, float(bounds.naive_loss_on(noisy_run.mixing, noisy_run.model.d_mlp)[0]), span=(0, switch))
ax.plot([switch], [on_clean], "o", color=plotting.COLORS["clean"], ms=6,
        label=f"noisy model scored on clean labels ({on_clean:.4f})")
ax.set(yscale="log", xlabel="training step", ylabel="loss per feature $L / p$ (running mean, log scale)",
       title="Fig. 6: noisy labels ($\\sigma$ = 0.02), then clean labels")
ax.legend()
plotting.save_figure(fig, out, "fig06")
plt.show()

# %% [markdown]
# ## Claims
# Training losses are means over 500 steps (independent batches), with their standard error.

# %%
naive = naive_loss()
claims = report.Claims(mode)
claims.paper.compare("below naive before the switch", mean["before"], naive, se["before"], above=False, unit="se",
               detail=f"L/p {mean['before']:.4f} ± {se['before']:.4f} (last 500 steps)")
claims.paper.compare("at or above naive right after the switch", mean["after"], naive, se["after"], unit="se",
               detail=f"L/p {mean['after']:.4f} ± {se['after']:.4f} (first 500 steps) vs naive {naive:.4f}")
claims.ours.compare("the noisy model, scored on clean labels, is above naive", on_clean, naive, on_clean_se,
               unit="se", detail=f"L/p {on_clean:.4f} ± {on_clean_se:.4f} on clean labels, "
                                 f"{own:.4f} on its own (p_eval = {P})")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig06", mode, seed, claims, loss_before_switch=mean["before"],
                  loss_after_switch=mean["after"], noisy_model_on_clean=on_clean,
                  noisy_model_on_own=own, switch_step=switch)
