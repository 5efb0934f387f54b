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
# # Fig. 2 — two solution regimes
#
# Braun et al. evaluated each model only at the feature probability it was trained on. Here
# ten models, trained at p from 0.001 to 1 on labels with a random asymmetric mixing matrix
# (sigma = 0.02, zero diagonal), are each evaluated over the whole range of p.
#
# **Claim.** Models trained sparse beat the naive loss (1/12) at small p_eval and lose at large
# p_eval; models trained dense do the reverse. The dots (each model at its own training p) are
# all Braun et al. measured.

# %% tags=["parameters"]
mode = "paper"  # "paper": the paper's settings; "quick": a smoke run
seed = 0
out_dir = "../paper-code/output"


# %%
import matplotlib.pyplot as plt
import numpy as np

from cclib import evaluate, experiments, plotting, report
from cclib.baselines import naive_loss

out = report.check_parameters(mode, seed, out_dir)
plotting.use_style()
quick = mode == "quick"
TRAIN_P = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]

# %% [markdown]
# One model per training p, each trained for 10,000 non-empty batches (105,033 steps at
# p = 0.001). Each p is its own cache entry, so Figs. 3 and 4 load the same models.

# %%
def config(p):
    return experiments.run_config(seeds=[seed], sigma=0.02, kind="asymmetric", p=p,
                                  steps=300 if quick else None)

runs = [experiments.trained(config(p), progress=True) for p in TRAIN_P]
p_eval = evaluate.p_grid(20 if quick else 100)
spk = 512 if quick else 4096
curves = np.stack([experiments.loss_curve(r, p_eval, spk).loss[0] for r in runs])
own = np.array([experiments.loss_curve(r, [p], spk).loss[0, 0] for r, p in zip(runs, TRAIN_P)])

# %%
fig, ax = plt.subplots(figsize=(8.5, 4.5))
for p, curve, color in zip(TRAIN_P, curves, plotting.sparsity_colors(TRAIN_P)):
    ax.plot(p_eval, curve, color=color, lw=1.6, label=f"trained at p = {p:g}")
ax.plot(TRAIN_P, own, "o:", color="k", ms=5, label="each at its own p (Braun et al.'s view)")
plotting.naive_line(ax)
ax.set(xscale="log", yscale="log", xlabel="evaluation feature probability p_eval",
       ylabel="loss per feature L / p", title="Fig. 2: sparse- and dense-trained models")
plotting.plain_log_axis(ax, "y", [0.05, 0.06, 0.07, 0.08, 0.1, 0.12])
ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))
plotting.save_figure(fig, out, "fig02")
plt.show()

# %% [markdown]
# ## Claims
# A model is "sparse-trained" for p <= 0.01 and "dense-trained" for p >= 0.2. We check each
# group at the ends of the p_eval range.

# %%
# NBVAL_CHECK_OUTPUT
naive = naive_loss()
lo, hi = 0, len(p_eval) - 1
sparse = [i for i, p in enumerate(TRAIN_P) if p <= 0.01]
dense = [i for i, p in enumerate(TRAIN_P) if p >= 0.2]
claims = report.Claims(mode)
claims.add("sparse-trained beat naive at p_eval = 0.001", all(curves[i, lo] < naive for i in sparse),
           f"max L/p {curves[sparse, lo].max():.4f} vs naive {naive:.4f}")
claims.add("sparse-trained lose to naive at p_eval = 1", all(curves[i, hi] > naive for i in sparse),
           f"min L/p {curves[sparse, hi].min():.4f}")
claims.add("dense-trained lose to naive at p_eval = 0.001", all(curves[i, lo] > naive for i in dense),
           f"min L/p {curves[dense, lo].min():.4f}")
claims.add("dense-trained beat naive at p_eval = 1", all(curves[i, hi] < naive for i in dense),
           f"max L/p {curves[dense, hi].max():.4f}")
claims.finish()
report.write_json(out, "fig02", mode, seed, claims, p_eval=p_eval, train_p=TRAIN_P,
                  curves=curves, own_p_loss=own)
