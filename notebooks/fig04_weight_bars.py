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

# %% [markdown] papermill={"duration": 0.00165, "end_time": "2026-11-21T11:19:57.857802+00:00", "exception": false, "start_time": "2026-11-21T11:19:57.856152+00:00", "status": "completed"}
# # Fig. 4 — how each feature is spread over the neurons
#
# For the same two models as Fig. 3, the contribution of neuron k to feature i's own output is
# `W_in[i, k] * W_out[k, i]`; stacking them per feature shows how a feature is represented.
#
# **Claim.** The sparse model spreads each feature over many neurons, totalling about 0.7; the
# dense model gives about 50 features a single neuron each (total about 1) and the rest almost
# nothing.

# %% papermill={"duration": 0.008845, "end_time": "2026-11-21T11:19:57.868167+00:00", "exception": false, "start_time": "2026-11-21T11:19:57.859322+00:00", "status": "completed"} tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = "../paper-code/output"

# %% papermill={"duration": 0.005351, "end_time": "2026-11-21T11:19:57.875017+00:00", "exception": false, "start_time": "2026-11-21T11:19:57.869666+00:00", "status": "completed"} tags=["injected-parameters"]
# Parameters
mode = "paper"
seed = 0
out_dir = "../paper-code/output"


# %% papermill={"duration": 2.250304, "end_time": "2026-11-21T11:20:00.126740+00:00", "exception": false, "start_time": "2026-11-21T11:19:57.876436+00:00", "status": "completed"}
import matplotlib.pyplot as plt
import numpy as np

from cclib import analysis, experiments, plotting, report

out = report.check_parameters(mode, seed, out_dir)
plotting.use_style()
quick = mode == "quick"

# %% papermill={"duration": 0.014224, "end_time": "2026-11-21T11:20:00.142669+00:00", "exception": false, "start_time": "2026-11-21T11:20:00.128445+00:00", "status": "completed"}
def fig2_model(p):
    return experiments.trained(experiments.run_config(
        seeds=[seed], sigma=0.02, kind="asymmetric", p=p, steps=300 if quick else None))

contrib = {key: analysis.feature_contributions(fig2_model(p).model)[0].numpy()  # (n, d)
           for key, p in (("0.001", 0.001), ("1", 1.0))}
diag_total = {key: c.sum(1) for key, c in contrib.items()}

# %% [markdown] papermill={"duration": 0.001268, "end_time": "2026-11-21T11:20:00.145454+00:00", "exception": false, "start_time": "2026-11-21T11:20:00.144186+00:00", "status": "completed"}
# Positive contributions are stacked upwards and negative ones downwards, one colour per neuron.

# %% papermill={"duration": 1.441822, "end_time": "2026-11-21T11:20:01.588516+00:00", "exception": false, "start_time": "2026-11-21T11:20:00.146694+00:00", "status": "completed"}
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

# %% [markdown] papermill={"duration": 0.001903, "end_time": "2026-11-21T11:20:01.592504+00:00", "exception": false, "start_time": "2026-11-21T11:20:01.590601+00:00", "status": "completed"}
# ## Claims
# "Many neurons": the median feature needs at least 3 neurons to reach 80% of its positive
# contribution. "A single neuron": the largest single contribution exceeds 0.8.

# %% papermill={"duration": 0.013321, "end_time": "2026-11-21T11:20:01.607719+00:00", "exception": false, "start_time": "2026-11-21T11:20:01.594398+00:00", "status": "completed"}
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
