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
# # Fig. 8 — the weights against M
#
# The model of Fig. 7 (its M keeps the diagonal, as published). If the MLP tries to implement the
# labels' linear part $I + M$, the entries of its linear map $T = (W_{in} W_{out})^T$ should track
# those of M, with the diagonal lifted by the identity. The diagonal and off-diagonal entries
# get a line each. The plots show the first of Fig. 7's three seeds; the claims use all three.
#
# **Claim.** Entries of T and M correlate strongly; the diagonal is offset by a constant and
# seems to correlate at a higher slope, and these numbers depend on the noise scale; W_in is
# mostly positive and sparse-looking, and both matrices have a small number of large entries.

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

# %% [markdown]
# The same configuration as Fig. 7, loaded from the cache.

# %%
run = experiments.trained(paper_runs.directions(SEEDS, quick))
fits = [analysis.entry_fit(run.model, run.mixing, instance=i) for i in range(len(SEEDS))]
t = analysis.linear_map(run.model)[0].numpy()
m = run.mixing.matrix()[0].numpy()
fit = fits[0]
w_in = run.model.W_in[0].detach().numpy()
w_out = run.model.W_out[0].detach().numpy()
off = ~np.eye(len(m), dtype=bool)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), gridspec_kw=dict(width_ratios=[1.2, 1, 1]))
ax = axes[0]
ax.scatter(m[off], t[off], s=2, alpha=0.3, color=plotting.COLORS["trained"], label="off-diagonal")
ax.scatter(np.diag(m), np.diag(t), s=8, color=plotting.COLORS["snmf"], label="diagonal")
xs = np.linspace(m.min(), m.max(), 10)
ax.plot(xs, fit.offdiag_slope * xs + fit.offdiag_intercept, "k-", lw=1,
        label=f"fit: {fit.offdiag_slope:.2f} M + {fit.offdiag_intercept:.3f} (r = {fit.offdiag_corr:.2f})")
xd = np.linspace(np.diag(m).min(), np.diag(m).max(), 10)
ax.plot(xd, fit.diag_slope * xd + fit.diag_intercept, "--", color=plotting.COLORS["snmf"], lw=1.2,
        label=f"diagonal fit: {fit.diag_slope:.2f} M + {fit.diag_intercept:.2f} (r = {fit.diag_corr:.2f})")
ax.set(xlabel="$M_{ij}$", ylabel="$T_{ij} = (W_{in} W_{out})_{ji}$", title="entries of T against M")
ax.legend(fontsize="x-small", loc="upper left")
lim = np.abs(w_in).max()
for ax, w, title in ((axes[1], w_in, "$W_{in}$ (feature x neuron)"),
                     (axes[2], w_out.T, "$W_{out}^T$ (feature x neuron)")):
    im = plotting.heatmap(ax, w, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set(title=title, xlabel="neuron", ylabel="feature")
fig.colorbar(im, ax=axes[1:], shrink=0.8)
fig.suptitle("Fig. 8: the trained weights against the mixing matrix ($\\sigma$ = 0.03, seed 0)")
plotting.save_figure(fig, out, "fig08")
plt.show()

# %% [markdown]
# ## Claims
# "Strong correlation": off-diagonal Pearson r above 0.5. "Offset": the diagonal's line sits at
# least 0.1 above the off-diagonal line at M = 0 (the difference of the intercepts). "Higher
# slope": the diagonal's slope exceeds the off-diagonal one. "Mostly positive": over 70% of
# W_in's absolute mass is in positive entries. "Sparse-looking" and "a small number of large
# entries": the largest 10% of a matrix's entries hold more of its absolute mass than they do in a
# dense matrix of the same shape with Gaussian entries (about 26%; the uniform initialisation
# holds 19%). Each number is computed per seed; margins are in seed standard deviations.
# "Depends on the noise scale": the off-diagonal slope of the fit on Fig. 5b's Bernoulli sweep
# (asymmetric M, diagonal kept, one seed per sigma from 0.02 to 0.08) spans more than three of
# the seed standard deviations of the slope measured here.


# %% [markdown]
# **Summary of findings** (the claims cells below give the evidence). The correlation, the
# diagonal offset, the higher diagonal slope and the positivity reproduce. Both weight matrices
# are heavy-tailed: their largest 10% of entries hold far more of the mass than in a dense
# Gaussian matrix, though a bit under half of it (the criterion this project used before it
# had a reference). The slope of T against M changes with sigma.

# %%
def per_seed(f):
    return np.array([f(i) for i in range(len(SEEDS))])


w_ins = run.model.W_in.detach().numpy()
corr = per_seed(lambda i: fits[i].offdiag_corr)
lift = per_seed(lambda i: fits[i].diag_intercept - fits[i].offdiag_intercept)
steeper = per_seed(lambda i: fits[i].diag_slope - fits[i].offdiag_slope)
pos_mass = per_seed(lambda i: np.clip(w_ins[i], 0, None).sum() / np.abs(w_ins[i]).sum())


w_outs = run.model.W_out.detach().numpy()
in_mass = per_seed(lambda i: analysis.top_mass(w_ins[i]))
out_mass = per_seed(lambda i: analysis.top_mass(w_outs[i]))
dense = analysis.top_mass(np.random.default_rng(0).standard_normal(1_000_000))     # 0.259 for |N(0, 1)|
n = report.seed_noise
claims = report.Claims(mode)
claims.paper.compare("T and M strongly correlated", corr.mean(), 0.5, n(corr),
               detail=f"off-diagonal r = {corr.mean():.3f} ± {n(corr):.3f}")
claims.paper.compare("diagonal offset by a constant", lift.mean(), 0.1, n(lift),
               detail=f"diagonal line above the off-diagonal one by {lift.mean():.3f} ± {n(lift):.3f} at M = 0")
claims.paper.compare("diagonal correlated at a higher slope", steeper.mean(), 0, n(steeper),
               detail=f"slopes: diagonal {np.mean([f.diag_slope for f in fits]):.2f}, off-diagonal "
                      f"{np.mean([f.offdiag_slope for f in fits]):.2f} (difference ± {n(steeper):.2f})")
claims.paper.compare("W_in mostly positive", pos_mass.mean(), 0.7, n(pos_mass),
               detail=f"{pos_mass.mean():.1%} ± {n(pos_mass):.1%} of |W_in| mass positive")
for name, mass in (("W_in sparse-looking", in_mass), ("W_out has a few large entries", out_mass)):
    claims.paper.compare(f"{name} (top 10% of entries hold more than in a dense Gaussian matrix)", mass.mean(), dense,
                   n(mass), detail=f"top 10% of entries hold {mass.mean():.1%} ± {n(mass):.1%}; Gaussian {dense:.1%}")
sweep = experiments.trained(paper_runs.sigma_sweep("asymmetric", "bernoulli", [seed], quick))
sweep_sigmas = paper_runs.sweep_sigmas(quick)
chosen = [j for j, sg in enumerate(sweep_sigmas) if 0.02 - 1e-9 <= sg <= 0.08 + 1e-9]
slopes = np.array([analysis.entry_fit(sweep.model, sweep.mixing, instance=j).offdiag_slope for j in chosen])
slope_sd = n(per_seed(lambda i: fits[i].offdiag_slope))
print("off-diagonal slope against sigma:", {f"{sweep_sigmas[j]:.3f}": round(float(v), 3) for j, v in zip(chosen, slopes)})
claims.paper.compare("the fit depends on the noise scale (slope range over sigma 0.02-0.08)", np.ptp(slopes), 3 * slope_sd,
               slope_sd, detail=f"slopes from {slopes.min():.2f} to {slopes.max():.2f}; seed sd at sigma 0.03 "
                                f"{slope_sd:.3f}")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig08", mode, seed, claims, seeds=SEEDS,
                  offdiag_slope=[f.offdiag_slope for f in fits], offdiag_intercept=[f.offdiag_intercept for f in fits],
                  offdiag_corr=corr, diag_slope=[f.diag_slope for f in fits],
                  diag_intercept=[f.diag_intercept for f in fits], diag_corr=[f.diag_corr for f in fits],
                  top10_mass_w_in=in_mass, top10_mass_w_out=out_mass, top10_mass_gaussian=dense,
                  slope_by_sigma=dict(sigma=sweep_sigmas[chosen], slope=slopes))
