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
# # Fig. 7 — the model lives in the top half of M's spectrum
#
# A model trained on random asymmetric M (sigma = 0.03, diagonal kept, p = 0.01, 20,000 steps;
# the plots show the first of three seeds, the claims use all three). We compare its
# neurons with two bases of M: the singular vectors of `I + M = U S V^T` (the labels' linear
# part) and the eigenvectors E of `(M + M^T) / 2`, each sorted by descending value.
# `T = (W_in W_out)^T` is the model's input-to-output map without the ReLU.
#
# **Claim.** About the top 50 directions are preserved by T (cosine near 1); the other 50 are not.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = "../paper-code/output"


# %%
import matplotlib.pyplot as plt
import numpy as np

from cclib import analysis, experiments, paper_runs, plotting, report

out = report.check_parameters(mode, seed, out_dir)
plotting.use_style()
quick = mode == "quick"
SEEDS = [seed] if quick else [seed, seed + 1, seed + 2]

# %%
run = experiments.trained(paper_runs.directions(SEEDS, quick), progress=True)
aligned = [analysis.alignment(run.model, run.mixing, instance=i) for i in range(len(SEEDS))]
al = aligned[0]

# %% [markdown]
# Left: |cosine| between each neuron's read direction (`W_in[:, k]`) or write direction
# (`W_out[k, :]`) and each basis vector. Right: how well T keeps each direction.

# %%
fig = plt.figure(figsize=(12, 5))
grid = fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.3])
panels = [(al.eig_in, "$E$ vs $W_{in}$ (read)"), (al.eig_out, "$E$ vs $W_{out}$ (write)"),
          (al.svd_in, "$V$ vs $W_{in}$ (read)"), (al.svd_out, "$U$ vs $W_{out}$ (write)")]
heat_axes = []
for i, (data, title) in enumerate(panels):
    ax = fig.add_subplot(grid[i // 2, i % 2])
    im = plotting.heatmap(ax, np.abs(data), cmap="magma", vmin=0, vmax=0.6)
    ax.set(title=title, xlabel="vector index (descending value)", ylabel="neuron")
    heat_axes.append(ax)
fig.colorbar(im, ax=heat_axes, shrink=0.9, pad=0.02, label="|cosine|")
ax = fig.add_subplot(grid[:, 2])
ax.plot(al.cos_svd, ".-", color=plotting.COLORS["embed"], ms=3, label="$\\cos(U_i, T V_i)$  (SVD of $I + M$)")
ax.plot(al.cos_eig, ".-", color=plotting.COLORS["snmf"], ms=3, label="$\\cos(E_i, T E_i)$  (eig. of $(M + M^T)/2$)")
ax.axvline(49.5, color="k", ls=":", lw=1)
ax.set(xlabel="vector index i (descending value)", ylabel="cosine", title="directions kept by T")
ax.legend(fontsize="small")
fig.suptitle("Fig. 7: neuron directions against the bases of M ($\\sigma$ = 0.03, seed 0)")
plotting.save_figure(fig, out, "fig07")
plt.show()

# %% [markdown]
# ## Claims
# "Preserved": mean cosine over the top 50 above 0.8; "not preserved": mean over the bottom 50
# below 0.5. Each mean is taken per seed; margins are in seed standard deviations.

# %%
claims = report.Claims(mode)
for name, key in (("SVD", "cos_svd"), ("eigen", "cos_eig")):
    cos = np.stack([getattr(a, key) for a in aligned])            # (seeds, n)
    top, bottom = cos[:, :50].mean(1), cos[:, 50:].mean(1)
    claims.compare(f"{name}: top 50 directions preserved", top.mean(), 0.8, report.seed_noise(top),
                   detail=f"mean cosine {top.mean():.3f} ± {report.seed_noise(top):.3f}")
    claims.compare(f"{name}: bottom 50 not preserved", bottom.mean(), 0.5, report.seed_noise(bottom),
                   above=False, detail=f"mean cosine {bottom.mean():.3f} ± {report.seed_noise(bottom):.3f}")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig07", mode, seed, claims, seeds=SEEDS, cos_svd=al.cos_svd, cos_eig=al.cos_eig)
