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
# `W_in[i, k] * W_out[k, i]`; stacking them per feature shows how a feature is represented.
#
# **Claim.** The sparse model spreads each feature over many neurons, totalling about 0.7; the
# dense model gives about 50 features a single neuron each (total about 1) and the rest almost
# nothing.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = "../paper-code/output"


# %%
import matplotlib.pyplot as plt
import numpy as np

from cclib import analysis, experiments, plotting, report

out = report.check_parameters(mode, seed, out_dir)
plotting.use_style()
quick = mode == "quick"

# %%
def fig2_model(p):
    return experiments.trained(experiments.run_config(
        seeds=[seed], sigma=0.02, kind="asymmetric", p=p, steps=300 if quick else None))

contrib = {key: analysis.feature_contributions(fig2_model(p).model)[0].numpy()  # (n, d)
           for key, p in (("0.001", 0.001), ("1", 1.0))}
diag_total = {key: c.sum(1) for key, c in contrib.items()}

# %% [markdown]
# Positive contributions are stacked upwards and negative ones downwards, one colour per neuron.

# %%
fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
palette = plt.get_cmap("tab20")
for ax, (key, c), title in zip(axes, contrib.items(), ["sparse-trained (p = 0.001)",
                                                      "dense-trained (p = 1)"]):
    plotting.stacked_bars(ax, c, [palette(k % 20) for k in range(c.shape[1])])
    ax.plot(np.arange(c.shape[0]), c.sum(1), "k.", ms=3, label="total")
    ax.axhline(1.0, color="k", ls=":", lw=1)
    ax.set(title=title, ylabel="W_in[i,k] W_out[k,i]")
    ax.legend(loc="upper right")
axes[1].set_xlabel("feature i (colours: neurons)")
fig.suptitle("Fig. 4: per-neuron contributions to each feature's own output")
plotting.save_figure(fig, out, "fig04")
plt.show()

# %% [markdown]
# ## Claims
# "Many neurons": the median feature needs at least 3 neurons to reach 80% of its positive
# contribution. "A single neuron": the largest single contribution exceeds 0.8.

# %%
# NBVAL_CHECK_OUTPUT
def neurons_for_80(c):
    pos = np.sort(np.clip(c, 0, None), axis=1)[:, ::-1]
    share = np.cumsum(pos, 1) / pos.sum(1, keepdims=True).clip(1e-12)
    return (share < 0.8).sum(1) + 1

sparse, dense = contrib["0.001"], contrib["1"]
single = int((dense.max(1) > 0.8).sum())
rest = diag_total["1"][dense.max(1) <= 0.8]
claims = report.Claims(mode)
claims.add("sparse: each feature over many neurons", np.median(neurons_for_80(sparse)) >= 3,
           f"median {np.median(neurons_for_80(sparse)):.0f} neurons for 80%")
claims.add("sparse: total about 0.7", 0.5 <= np.median(diag_total["0.001"]) <= 0.9,
           f"median total {np.median(diag_total['0.001']):.2f}")
claims.add("dense: about 50 features on a single neuron", 40 <= single <= 60,
           f"{single} features with one neuron > 0.8")
claims.add("dense: the rest almost nothing", rest.size > 0 and np.median(rest) < 0.2,
           f"median total of the rest {np.median(rest) if rest.size else float('nan'):.2f}")
claims.finish()
report.write_json(out, "fig04", mode, seed, claims, diag_total=diag_total)
