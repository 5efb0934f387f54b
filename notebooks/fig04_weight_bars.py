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
# # Fig. 4 — how each feature is spread over the neurons
#
# For the same two models as Fig. 3, the contribution of neuron k to feature i's own output is
# $W_{in}[i, k]\, W_{out}[k, i]$; stacking them per feature shows how a feature is represented.
# The plot shows the first seed's models; the claims are judged on all three seeds of Fig. 2.
#
# **Claim.** The sparse model spreads each feature over many neurons, totalling about 0.7; the
# dense model gives about 50 features a single neuron each (total about 1) and the rest almost
# nothing.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory


# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from cclib import analysis, experiments, notebook, paper_runs, plotting, report

setup = notebook.setup(mode, seed, out_dir)  # checks the parameters, sets the style
out, quick, SEEDS = setup.out, setup.quick, setup.seeds

# %%
contrib = {key: analysis.feature_contributions(
               experiments.trained(paper_runs.sparsity_regime(p, SEEDS, quick)).model).numpy()  # (seeds, n, d)
           for key, p in (("0.001", 0.001), ("1", 1.0))}
diag_total = {key: c.sum(2) for key, c in contrib.items()}                                     # (seeds, n)

# %% [markdown]
# Positive contributions are stacked upwards and negative ones downwards, one colour per neuron
# (50 distinct hues).

# %%
fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
palette = sns.color_palette("husl", contrib["1"].shape[2])
for ax, (key, c), title in zip(axes, contrib.items(), ["sparse-trained (p = 0.001)",
                                                      "dense-trained (p = 1)"]):
    plotting.stacked_bars(ax, c[0], palette)
    ax.plot(np.arange(c.shape[1]), c[0].sum(1), "k.", ms=3, label="total")
    ax.axhline(1.0, color="k", ls=":", lw=1, label="1.0")
    low, high = ax.get_ylim()
    ax.set_ylim(low, max(high, 1.3))
    ax.set(title=title, ylabel="$W_{in}[i,k]\\,W_{out}[k,i]$")
    ax.legend(loc="upper right", ncol=2)
axes[1].set_xlabel("feature i (colours: neurons)")
fig.suptitle("Fig. 4: per-neuron contributions to each feature's own output (seed 0)")
plotting.save_figure(fig, out, "fig04")
plt.show()

# %% [markdown]
# ## Claims
# "Many neurons": the median feature needs at least 3 neurons to reach 80% of its positive
# contribution. "About 0.7": the median total rounds to 0.7, i.e. lies within 0.05 of it.
# "A single neuron": the largest single contribution exceeds 0.8; "about 50": 40 to 60 such
# features. Each statistic is computed per seed; margins are in seed standard deviations.


# %% [markdown]
# **Summary of findings** (the claims cells below give the evidence). The pattern reproduces: the sparse model spreads each feature over many
# neurons and the dense one gives half the features a single neuron. The sparse model's median
# total is about 0.6, not 0.7, consistently over seeds, so "about 0.7" fails as stated.

# %%
def neurons_for_80(c):
    pos = np.sort(np.clip(c, 0, None), axis=-1)[..., ::-1]
    share = np.cumsum(pos, -1) / pos.sum(-1, keepdims=True).clip(1e-12)
    return (share < 0.8).sum(-1) + 1


sparse, dense = contrib["0.001"], contrib["1"]
spread = np.median(neurons_for_80(sparse), 1)               # per seed
total = np.median(diag_total["0.001"], 1)
single = (dense.max(2) > 0.8).sum(1)
rest = np.array([np.median(t[m.max(1) <= 0.8]) if (m.max(1) <= 0.8).any() else np.nan
                 for t, m in zip(diag_total["1"], dense)])
claims = report.Claims(mode)
claims.paper.compare("sparse: each feature over many neurons", spread.mean(), 3, report.seed_noise(spread),
               detail=f"median {spread.mean():.1f} ± {report.seed_noise(spread):.1f} neurons for 80%")
claims.paper.compare("sparse: total about 0.7", abs(total.mean() - 0.7), 0.05, report.seed_noise(total),
               above=False, detail=f"median total {total.mean():.3f} ± {report.seed_noise(total):.3f}",
               expected="fails")
claims.paper.compare("dense: about 50 features on a single neuron", abs(single.mean() - 50), 10,
               report.seed_noise(single), above=False,
               detail=f"{single.mean():.1f} ± {report.seed_noise(single):.1f} features with one neuron > 0.8")
claims.paper.compare("dense: the rest almost nothing", np.nanmean(rest), 0.2, report.seed_noise(rest), above=False,
               detail=f"median total of the rest {np.nanmean(rest):.3f} ± {report.seed_noise(rest):.3f}")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig04", mode, seed, claims, seeds=SEEDS, diag_total=diag_total,
                  median_total_sparse=total, neurons_for_80_sparse=spread)
