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
# The plot shows the first seed's models; the claims are judged on all three seeds of Fig. 2.
#
# **Claim.** The sparse model treats all features alike, with a slope well below 1; the dense
# model implements about half the features with slope near 1 and barely responds to the rest.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory


# %%
import matplotlib.pyplot as plt
import numpy as np

from cclib import analysis, evaluate, experiments, notebook, paper_runs, plotting, report

setup = notebook.setup(mode, seed, out_dir)  # checks the parameters, sets the style
out, quick, SEEDS = setup.out, setup.quick, setup.seeds

# %% [markdown]
# Fig. 2's runs (its seeds are the instances), loaded from the cache in `data/`.

# %%
models = {key: experiments.trained(paper_runs.sparsity_regime(p, SEEDS, quick)).model
          for key, p in (("0.001", 0.001), ("1", 1.0))}
v = np.linspace(-1, 1, 201)
resp = {key: analysis.responses(m, v).numpy() for key, m in models.items()}   # (seeds, n, V)
slope_pos = {key: r[:, :, -1] for key, r in resp.items()}   # output i at x_i = +1, (seeds, n)
slope_neg = {key: r[:, :, 0] for key, r in resp.items()}    # output i at x_i = -1

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
for ax, (key, r), title in zip(axes, resp.items(), ["sparse-trained (p = 0.001)",
                                                   "dense-trained (p = 1)"]):
    color = plotting.COLORS["sparse" if key == "0.001" else "dense"]
    for row in r[0]:
        ax.plot(v, row, color=color, lw=0.6, alpha=0.5)
    ax.plot(v, np.maximum(v, 0), "--", color="#2ca02c", lw=1.8, label="target ReLU(v)")
    ax.set(title=title, xlabel="input $x_i = v$ (others 0)")
    ax.legend(loc="upper left")
axes[0].set_ylabel("output $y_i$")
fig.suptitle("Fig. 3: response of each feature to its own input (100 lines per panel, seed 0)")
plotting.save_figure(fig, out, "fig03")
plt.show()

# %% [markdown]
# ## Claims
# "Slope" is output i at x_i = +1. Sparse model: median slope below 0.9 and features alike
# (coefficient of variation below 0.3). Dense model: 40–60 features with slope above 0.8, and
# at least 90 features either above 0.8 or below 0.3. Each statistic is computed per seed;
# margins are in seed standard deviations.

# %%
s, d = slope_pos["0.001"], slope_pos["1"]                  # (seeds, n)
median = np.median(s, 1)
cv = s.std(1) / s.mean(1)
strong = (d > 0.8).sum(1)
decided = strong + (d < 0.3).sum(1)
claims = report.Claims(mode)
claims.paper.compare("sparse model: slopes well below 1", median.mean(), 0.9, report.seed_noise(median),
               above=False, detail=f"median slope {median.mean():.2f} ± {report.seed_noise(median):.2f}")
claims.paper.compare("sparse model: features treated alike", cv.mean(), 0.3, report.seed_noise(cv), above=False,
               detail=f"coefficient of variation {cv.mean():.2f} ± {report.seed_noise(cv):.2f}")
claims.paper.compare("dense model: about half the features at slope ~1", abs(strong.mean() - 50), 10,
               report.seed_noise(strong), above=False,
               detail=f"{strong.mean():.1f} ± {report.seed_noise(strong):.1f} features with slope > 0.8")
claims.paper.compare("dense model: barely responds to the rest", decided.mean(), 90, report.seed_noise(decided),
               detail=f"{decided.mean():.1f} ± {report.seed_noise(decided):.1f} features above 0.8 or below 0.3")
# "does not privilege any features" (the paper, after Braun et al.): the loss of each input
# feature, exactly one active (closed form), is alike across features; the same criterion as the
# slopes' (coefficient of variation below 0.3), the dense model shown for contrast
sparse_run = experiments.trained(paper_runs.sparsity_regime(0.001, SEEDS, quick))
per_feature = {key: evaluate.one_active_errors(run.model, run.mixing).numpy().reshape(len(SEEDS), 2, -1).sum(1)
               for key, run in (("sparse", sparse_run),
                                ("dense", experiments.trained(paper_runs.sparsity_regime(1.0, SEEDS, quick))))}
loss_cv = {key: e.std(1) / e.mean(1) for key, e in per_feature.items()}
claims.paper.compare("sparse model: no feature privileged (per-feature loss alike)", loss_cv["sparse"].mean(), 0.3,
                     report.seed_noise(loss_cv["sparse"]), above=False,
                     detail=f"coefficient of variation of the per-feature loss {loss_cv['sparse'].mean():.2f} ± "
                            f"{report.seed_noise(loss_cv['sparse']):.2f} (dense model: {loss_cv['dense'].mean():.2f})")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig03", mode, seed, claims, seeds=SEEDS, slope_pos=slope_pos, slope_neg=slope_neg)
