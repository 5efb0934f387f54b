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
# neurons with two bases of M: the singular vectors of $I + M = U S V^T$ (the labels' linear
# part) and the eigenvectors E of $(M + M^T) / 2$, each sorted by descending value.
# $T = (W_{in} W_{out})^T$ is the model's input-to-output map without the ReLU.
#
# **Claims.** The directions each neuron reads and writes lie mostly in the 50-dimensional subspace
# of the top eigenvectors of $(M + M^T)/2$ (its positive eigenvalues), "slightly stronger" in the
# top-50 singular subspace of $I + M$. About the top 50 directions are preserved by T (cosine near
# 1); the other 50 are not, and this is not because M is low-rank: its spectrum is smooth
# (footnote 8). The eigenvalues of $(M + M^T)/2$ and the singular values of $I + M$ are
# approximately related (footnote 7).

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory


# %%
import matplotlib.pyplot as plt
import numpy as np

from cclib import analysis, experiments, notebook, paper_runs, plotting, report

setup = notebook.setup(mode, seed, out_dir)  # checks the parameters, sets the style
out, quick, SEEDS = setup.out, setup.quick, setup.seeds

# %%
run = experiments.trained(paper_runs.directions(SEEDS, quick), progress=True)
aligned = [analysis.alignment(run.model, run.mixing, instance=i) for i in range(len(SEEDS))]
al = aligned[0]

# %% [markdown]
# Left: |cosine| between each neuron's read direction ($W_{in}[:, k]$) or write direction
# ($W_{out}[k, :]$) and each basis vector. Right: how well T keeps each direction.

# %%
fig = plt.figure(figsize=(15, 7.5))
grid = fig.add_gridspec(2, 3, width_ratios=[1.25, 1.25, 1])
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
ax.set(xlabel="vector index i (descending value)",
       title="directions kept by $T = (W_{in} W_{out})^T$: cosine")
ax.legend(fontsize="small")
fig.suptitle("Fig. 7: neuron directions against the bases of M ($\\sigma$ = 0.03, seed 0)")
fig.text(0.5, -0.035, "$E$: eigenvectors of $(M + M^T)/2$;  $U$, $V$: left and right singular vectors of "
         "$I + M = U S V^T$;  each sorted by descending eigen- or singular value", ha="center", fontsize="small")
plotting.save_figure(fig, out, "fig07")
plt.show()

# %% [markdown]
# ## Claims
# "Lie mostly in the subspace": the share of $W_{in}$'s squared norm (its read directions) and of
# $W_{out}$'s (its write directions) inside the top-50 subspace, against the 50 / 100 = 0.5 a
# random 50-dimensional subspace holds on average (`cclib.analysis.subspace_energy`); "slightly
# stronger" with the SVD: the SVD share minus the eigenvector share, above zero. "Preserved":
# mean cosine over the top 50 above 0.8; "not preserved": mean over the bottom 50 below 0.5. Each
# number is taken per seed; margins are in seed standard deviations. Footnote 8, "not low-rank,
# the spectrum is smooth": the gap between the 50th and 51st singular values of $I + M$ is under
# three times the median gap between neighbours (the spectrum has no step where the model's
# capacity ends), checked on every seed. Footnote 7, "approximately related": $1 + \lambda_i$ and
# $s_i$, both sorted, correlate above 0.95 on every seed (our reading of "approximately": to first
# order in M they are equal). Per neuron, in the paper's own terms: the share of neurons whose
# read (write) direction has more than half of its squared norm in the span of the eigenvectors
# of $(M + M^T)/2$ with positive eigenvalues, above one half ("most").

# %%
claims = report.Claims(mode)
share = {key: [] for key in ("svd_in", "eig_in", "svd_out", "eig_out")}
gap_ratio, related = [], []
neuron_share, n_positive = {"in": [], "out": []}, []
for i in range(len(SEEDS)):
    m = run.mixing.matrix()[i].double()
    u, s, vh = np.linalg.svd(np.eye(m.shape[0]) + m.numpy())
    evals, evecs = np.linalg.eigh(((m + m.T) / 2).numpy())
    evecs = np.ascontiguousarray(evecs[:, ::-1])                             # descending eigenvalue
    w_in, w_out = (w.detach()[i].double().numpy() for w in run.model.effective_weights())
    share["svd_in"].append(analysis.subspace_energy(w_in, vh.T[:, :50]))
    share["eig_in"].append(analysis.subspace_energy(w_in, evecs[:, :50]))
    share["svd_out"].append(analysis.subspace_energy(w_out.T, u[:, :50]))
    share["eig_out"].append(analysis.subspace_energy(w_out.T, evecs[:, :50]))
    gap_ratio.append((s[49] - s[50]) / np.median(-np.diff(s)))
    related.append(np.corrcoef(s, 1 + evals[::-1])[0, 1])
    # per neuron, in the subspace of the positive eigenvalues (the paper's own wording)
    positive = evecs[:, evals[::-1] > 0]
    for side, w in (("in", w_in), ("out", w_out.T)):
        per_neuron = (positive.T @ w) ** 2 / (w ** 2).sum(0)                # (k_pos, d) -> shares
        neuron_share[side].append(float((per_neuron.sum(0) > 0.5).mean()))
    n_positive.append(positive.shape[1])
share = {k: np.array(v) for k, v in share.items()}
for side, what in (("in", "read ($W_{in}$)"), ("out", "write ($W_{out}$)")):
    v = np.array(neuron_share[side])
    claims.paper.compare(f"per neuron: most {what} directions mostly in the positive-eigenvalue subspace", v.mean(), 0.5,
                         report.seed_noise(v), detail=f"share of neurons with more than half their squared norm "
                                                      f"there {v.mean():.2f} ± {report.seed_noise(v):.2f} (the subspace "
                                                      f"has {np.mean(n_positive):.0f} of 100 dimensions)")
for side, what in (("in", "read ($W_{in}$)"), ("out", "write ($W_{out}$)")):
    for basis in ("eig", "svd"):
        v = share[f"{basis}_{side}"]
        claims.paper.compare(f"{basis}: {what} directions mostly in the top-50 subspace (random: 0.5)", v.mean(), 0.5,
                       report.seed_noise(v), detail=f"share of squared norm {v.mean():.3f} ± {report.seed_noise(v):.3f}")
    d = share[f"svd_{side}"] - share[f"eig_{side}"]
    claims.paper.compare(f"{what}: slightly stronger in the SVD subspace", d.mean(), 0, report.seed_noise(d),
                   detail=f"SVD share minus eigenvector share {d.mean():+.3f} ± {report.seed_noise(d):.3f}")
claims.paper.add("footnote 8: no step in the spectrum of I + M at 50 (gap under 3x the median gap)",
           max(gap_ratio) < 3, "gap(50, 51) / median gap per seed: " + ", ".join(f"{g:.2f}" for g in gap_ratio))
claims.paper.add("footnote 7: sorted 1 + eigenvalues of (M + M^T)/2 and singular values of I + M correlate > 0.95",
           min(related) > 0.95, "correlation per seed: " + ", ".join(f"{c:.4f}" for c in related))
for name, key in (("SVD", "cos_svd"), ("eigen", "cos_eig")):
    cos = np.stack([getattr(a, key) for a in aligned])            # (seeds, n)
    top, bottom = cos[:, :50].mean(1), cos[:, 50:].mean(1)
    claims.paper.compare(f"{name}: top 50 directions preserved", top.mean(), 0.8, report.seed_noise(top),
                   detail=f"mean cosine {top.mean():.3f} ± {report.seed_noise(top):.3f}")
    claims.paper.compare(f"{name}: bottom 50 not preserved", bottom.mean(), 0.5, report.seed_noise(bottom),
                   above=False, detail=f"mean cosine {bottom.mean():.3f} ± {report.seed_noise(bottom):.3f}")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig07", mode, seed, claims, seeds=SEEDS, cos_svd=al.cos_svd, cos_eig=al.cos_eig,
                  top50_share={k: v.mean() for k, v in share.items()}, gap_ratio=gap_ratio, related=related)
