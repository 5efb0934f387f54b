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
# # Fig. 3 — input-output response of the two regimes
#
# The models of Fig. 2 trained at p = 0.001 (sparse) and p = 1 (dense). For each feature i we
# set input i to v in [-1, 1], all other inputs to 0, and read output i. The target is ReLU(v).
#
# **Claim.** The sparse model treats all features alike, with a slope well below 1; the dense
# model implements about half the features with slope near 1 and barely responds to the rest.

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

# %% [markdown]
# The same configuration as Fig. 2, so both models come from the cache in `data/`.

# %%
def fig2_model(p):
    return experiments.trained(experiments.run_config(
        seeds=[seed], sigma=0.02, kind="asymmetric", p=p, steps=300 if quick else None))

models = {"0.001": fig2_model(0.001), "1": fig2_model(1.0)}
v = np.linspace(-1, 1, 201)
resp = {key: analysis.responses(run.model, v)[0].numpy() for key, run in models.items()}  # (n, V)
slope_pos = {key: r[:, -1] for key, r in resp.items()}   # output i at x_i = +1
slope_neg = {key: r[:, 0] for key, r in resp.items()}    # output i at x_i = -1

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
for ax, (key, r), title in zip(axes, resp.items(), ["sparse-trained (p = 0.001)",
                                                   "dense-trained (p = 1)"]):
    color = plotting.COLORS["sparse" if key == "0.001" else "dense"]
    for row in r:
        ax.plot(v, row, color=color, lw=0.6, alpha=0.5)
    ax.plot(v, np.maximum(v, 0), "--", color="k", lw=1.5, label="target ReLU(v)")
    ax.set(title=title, xlabel="input x_i = v (others 0)")
    ax.legend(loc="upper left")
axes[0].set_ylabel("output y_i")
fig.suptitle("Fig. 3: response of each feature to its own input (100 lines per panel)")
plotting.save_figure(fig, out, "fig03")
plt.show()

# %% [markdown]
# ## Claims
# "Slope" is output i at x_i = +1. Sparse model: median slope below 0.9 and features alike
# (coefficient of variation below 0.3). Dense model: 40–60 features with slope above 0.8 and
# almost all the others below 0.3.

# %%
# NBVAL_CHECK_OUTPUT
s, d = slope_pos["0.001"], slope_pos["1"]
strong, weak = int((d > 0.8).sum()), int((d < 0.3).sum())
claims = report.Claims(mode)
claims.add("sparse model: slopes well below 1", np.median(s) < 0.9, f"median slope {np.median(s):.2f}")
claims.add("sparse model: features treated alike", s.std() / s.mean() < 0.3,
           f"coefficient of variation {s.std() / s.mean():.2f}")
claims.add("dense model: about half the features at slope ~1", 40 <= strong <= 60,
           f"{strong} features with slope > 0.8")
claims.add("dense model: barely responds to the rest", strong + weak >= 90,
           f"{weak} features with slope < 0.3")
claims.finish()
report.write_json(out, "fig03", mode, seed, claims, slope_pos=slope_pos, slope_neg=slope_neg)
