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
# # Fig. 9 — a model built from M alone: semi-NMF
#
# W_in of the trained model is almost non-negative, so we try a model computed without any
# training: factor the matrix the model has to implement into a non-negative W_in times a
# free-sign W_out (semi-NMF), then evaluate it.
#
# Two things can hold such a model back. **Orientation**: in the row convention the model's
# linear map is $x \mapsto x W_{in} W_{out}$ and the labels' is $x \mapsto x (I + M^T)$, so the correct target
# is $I + M^T$. The published figure factored $I + M$, which is the same only for symmetric M.
# **Solver**: the simple scheme (Adam on the squared error, W_in clamped at 0 after each step;
# "projected gradient") against the multiplicative updates of Ding, Li & Jordan (2010), which
# solve for W_out exactly at every step and stop on a convergence criterion. We run all four
# combinations, next to the trained models of Fig. 5b's exactly-one-active sweep (the same input
# distribution and the same kind of M: random asymmetric, diagonal kept). The published grid
# stops at sigma = 0.04, where the semi-NMF models still beat naive; we extend it to 0.16, past
# the point where each curve crosses naive.
#
# **Claim (paper).** The SNMF model beats naive over a range of sigma, a smaller range than the
# trained model's, and does not perform as well as the trained solution.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory


# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from cclib import analysis, baselines, evaluate, evaluations, experiments, notebook, paper_runs, plotting, report
from cclib.baselines import naive_loss
from cclib.models import MLP
from cclib.build import build_mixing
from cclib.spec import RunSpec

setup = notebook.setup(mode, seed, out_dir)  # checks the parameters, sets the style
out, quick = setup.out, setup.quick
PUBLISHED = [0, 0.005, 0.008, 0.01, 0.015, 0.02, 0.03, 0.04]
SIGMAS = PUBLISHED + [0.05, 0.06, 0.08, 0.1, 0.12, 0.16]

# %% [markdown]
# The mixing matrices are the ones Fig. 5b's asymmetric sweep used for its first seed (the same
# shape G), scaled to each sigma. Both solvers get the same budget of iterations.

# %%
snmf_spec = RunSpec(seeds=[seed] * len(SIGMAS), mixing=dict(kind="asymmetric", sigma=SIGMAS),
                    inputs=dict(kind="one_active"))
mix = experiments.build_mixing(snmf_spec)
iters = 200 if quick else 2000
SOLVERS = {"pg": "projected gradient", "mu": "multiplicative (DLJ)"}
ORIENTS = {"published": "I + M (published)", "label": "I + M^T (label)"}
LEGEND = {"published": "$I + M$ (published)", "label": "$I + M^T$ (label)"}

# each fit's exact loss and final error, cached under M, the settings and the fitting code
fits = {(s, o): evaluations.semi_nmf_fit(snmf_spec, orientation=o, solver=s, iters=iters)
        for s in SOLVERS for o in ORIENTS}
loss = {v: f["loss"] for v, f in fits.items()}
error = {v: f["error"] for v, f in fits.items()}

SEEDS = [seed] if quick else [seed, seed + 1, seed + 2]
sweep_sigmas = paper_runs.sweep_sigmas(quick, extended=True)
trained = experiments.trained(paper_runs.sigma_sweep("asymmetric", "one_active", SEEDS, quick))
sweep = evaluate.one_active_loss(trained.model, trained.mixing).reshape(len(SEEDS), -1)
trained_at = np.interp(SIGMAS, sweep_sigmas, sweep[0])  # the first seed: the same G as the SNMF
trained_sd = np.interp(SIGMAS, sweep_sigmas, report.seed_noise(sweep))

# %% [markdown]
# The trained values at these sigma are read off Fig. 5b's sweep (step 0.002 up to 0.08) by
# linear interpolation; the band is the spread (one standard deviation) over Fig. 5b's seeds.

# %%
fig, (ax, ax_err) = plt.subplots(1, 2, figsize=(12, 4.4), width_ratios=[1.4, 1])
mean, sd = sweep.mean(0), report.seed_noise(sweep)
ax.plot(sweep_sigmas, sweep[0], "-", color=plotting.COLORS["trained"],
        label=f"trained, seed {seed} (Fig. 5b): the same M as the SNMF")
ax.fill_between(sweep_sigmas, mean - sd, mean + sd, color=plotting.COLORS["trained"], alpha=0.2, lw=0,
                label=f"trained, {plotting.over_seeds(len(SEEDS))}")
# projected gradient: large open markers, dashed; multiplicative: small filled markers inside them
style = {("pg", "published"): dict(marker="s", ms=8, ls="--", color=plotting.COLORS["published"], mfc="none"),
         ("mu", "published"): dict(marker="s", ms=3.5, ls="-", color=plotting.COLORS["published"]),
         ("pg", "label"): dict(marker="o", ms=8, ls="--", color=plotting.COLORS["snmf"], mfc="none"),
         ("mu", "label"): dict(marker="o", ms=3.5, ls="-", color=plotting.COLORS["snmf"])}
for (s, o), st in style.items():  # one legend entry per orientation; the solvers by marker (title)
    ax.plot(SIGMAS, loss[s, o], label=f"SNMF of {LEGEND[o]}" if s == "mu" else None, **st)
for o in ORIENTS:
    ax_err.plot(SIGMAS[1:], (error["pg", o] - error["mu", o])[1:], label=f"SNMF of {LEGEND[o]}",
                **dict(style["pg", o], ms=6))
ax_err.axhline(0, color=plotting.COLORS["naive"], lw=1)
plotting.naive_line(ax)
ax.axvspan(PUBLISHED[-1], SIGMAS[-1] + 0.01, color="0.93", lw=0, zorder=0, label="beyond the published grid")
ax.set(xlabel="mixing magnitude $\\sigma$ (asymmetric, diagonal kept)", ylabel="loss per feature $L / p$",
       title="semi-NMF models (untrained) vs trained, one active input\n"
             "log scale; filled: multiplicative updates, open: projected gradient",
       yscale="log", xlim=(-0.003, SIGMAS[-1] + 0.005))
ax.legend(fontsize="x-small", loc="upper left")
ax_err.set(xlabel="mixing magnitude $\\sigma$", ylabel="error(projected gradient) $-$ error(multiplicative)",
           title="solver difference in the relative error $\\|X - W_{in} W_{out}\\| / \\|X\\|$")
ax_err.legend(fontsize="x-small")
fig.suptitle("Fig. 9: semi-NMF of the mixing matrix, by orientation and solver")
plotting.save_figure(fig, out, "fig09")
plt.show()

# %% [markdown]
# ## Claims
# The paper: SNMF beats naive over a range of sigma, a smaller range than the trained model's,
# and does not perform as well as the trained solution. "Beats naive" at a sigma: a gain over
# 0.1% (the SNMF loss is exact). "Range": the sigma where a curve crosses naive (linear
# interpolation), per seed for the trained models. "Not as well": the SNMF loss exceeds the
# trained one at every sigma > 0, judged at the closest sigma in seed standard deviations of
# the trained loss. Then we split the gap between the paper's variant (published orientation,
# projected gradient) and the trained models, summed over the published sigma > 0, into the
# part the orientation closes, the part the solver closes, and what remains (exact sums).


# %% [markdown]
# **Summary of findings** (the claims cells below give the evidence). Every variant beats naive over a range of sigma, narrower than the trained
# models'. The orientation closes most of the gap between the paper's variant and training; the
# solver closes none of it (the two solvers reach the same reconstruction error to within a few
# parts in a thousand). The published orientation is worse than training at every sigma. The
# correctly oriented SNMF model is as good as the trained one at the smallest sigma, so "SNMF
# does not perform as well as the trained solution" is not established there; it holds from
# moderate sigma on. The trained model is not just an SVD (the rank-50 SVD model never beats
# naive). The SNMF weights are less sparse than the trained ones, as the paper says (the largest
# 10% of $|W_{in}|$ hold 20% against 34%); for $W_{out}$ the same reading tells them apart by
# only 1.4 seed sd (26% against 26%), so "less sparse in $W_{out}$ too" is not decided; their correlation of T with M differs from the trained
# model's by a small amount (r 0.749 for SNMF against 0.796 trained), which the claim below judges in the seeds'
# spread. The SNMF
# model's loss profile over $p_{eval}$ has the trained model's shape (below naive when sparse,
# above when dense) but crosses naive seven times sooner (p_eval 0.005 against 0.038), so "SNMF
# reproduces the loss profile" holds in shape only.

# %%
naive = naive_loss()


def crossing(sig, values):
    """The first sigma > 0 where values rise through naive (linear interpolation), or nan."""
    above = np.flatnonzero((values >= naive) & (np.asarray(sig) > 0))
    if not above.size:
        return np.nan
    j = above[0]
    return float(np.interp(naive, [values[j - 1], values[j]], [sig[j - 1], sig[j]]))


claims = report.Claims(mode)
published = slice(1, len(PUBLISHED))
for v in (("pg", "published"), ("mu", "label")):
    wins = [s for s, l in zip(SIGMAS, loss[v]) if l < naive * (1 - 1e-3)]
    claims.paper.add(f"SNMF ({ORIENTS[v[1]]}, {SOLVERS[v[0]]}) beats naive over a range of sigma",
               len(wins) >= 2, f"below naive at sigma = {wins}; best L/p {loss[v].min():.4f}")
trained_cross = np.array([crossing(sweep_sigmas, row) for row in sweep])          # per seed
snmf_cross = {o: crossing(SIGMAS, loss["mu", o]) for o in ORIENTS}
for o in ORIENTS:
    claims.paper.compare(f"trained models beat naive over a wider range than {o}-orientation SNMF",
                   np.nanmean(trained_cross) - snmf_cross[o], 0, report.seed_noise(trained_cross),
                   detail=f"trained cross naive at sigma {np.nanmean(trained_cross):.4f} ± "
                          f"{report.seed_noise(trained_cross):.4f}; SNMF of {ORIENTS[o]} at {snmf_cross[o]:.4f}")
for orient, expected in (("published", True), ("label", "inconclusive")):
    gaps = (loss["mu", orient] - trained_at)[1:]
    j = int(np.argmin(gaps / trained_sd[1:]))
    claims.paper.compare(f"trained models beat {orient}-orientation SNMF at every sigma > 0", gaps[j], 0,
                   trained_sd[1:][j], detail=f"closest at sigma {SIGMAS[1:][j]}: SNMF {loss['mu', orient][1:][j]:.4f} "
                                             f"vs trained {trained_at[1:][j]:.4f} ± {trained_sd[1:][j]:.4f}",
                   expected=expected)
total = (loss["pg", "published"] - trained_at)[published].sum()
by_orientation = (loss["pg", "published"] - loss["pg", "label"])[published].sum()
by_solver = (loss["pg", "label"] - loss["mu", "label"])[published].sum()
remaining = (loss["mu", "label"] - trained_at)[published].sum()
claims.ours.add("the orientation closes most of the gap to the trained models", by_orientation > total / 2,
           f"summed over the published sigma > 0: gap {total:.4f}, orientation closes {by_orientation:.4f} "
           f"({by_orientation / total:.0%}), solver {by_solver:+.4f} ({by_solver / total:+.0%}), "
           f"remaining {remaining:.4f} ({remaining / total:.0%})")
err_gap = np.abs(error["mu", "label"] - error["pg", "label"])[1:].max()
claims.ours.add("the solver changes the fit little (relative error within 0.005)", err_gap < 0.005,
           f"largest difference in relative error {err_gap:.4f}; largest difference in L/p "
           f"{np.abs(loss['mu', 'label'] - loss['pg', 'label'])[1:].max():.4f}")

# %% [markdown]
# Three more of the paper's statements. **"Not just an SVD"**: the rank-50 truncated SVD of
# $I + M^T$ split symmetrically (`cclib.baselines.svd_baseline`) loses to the trained models at
# every sigma > 0 (closest point, in seed sd). **"The SNMF weights are less sparse, and their
# correlation with M looks completely different"**: at sigma = 0.03 (Fig. 8's), the share of
# $|W_{in}|$ held by its largest 10% of entries (Fig. 8's measure), and the off-diagonal
# correlation r of T with M, for the SNMF fit against the trained models of the sweep ("different":
# beyond three seed standard deviations of the trained value, our threshold). **"SNMF reproduces
# the loss profile"** (the abstract): at sigma = 0.02 on Bernoulli inputs, the SNMF model and the
# model of Fig. 5b's Bernoulli sweep (the same M) are both below naive at the sparsest $p_{eval}$
# and both above it at $p_{eval} = 1$, and they cross naive at the same $p_{eval}$ to within a
# factor of 2 (our reading of "reproduces": a third of a decade on Fig. 2's log axis).

# %%
svd_loss = evaluate.one_active_loss(baselines.svd_baseline(mix), mix)
gaps = (svd_loss - trained_at)[1:]
j = int(np.argmin(gaps / trained_sd[1:]))
claims.ours.compare("not just an SVD: the rank-50 SVD model loses to the trained ones at every sigma > 0", gaps[j], 0,
               trained_sd[1:][j], detail=f"closest at sigma {SIGMAS[1:][j]}: SVD {svd_loss[1:][j]:.4f} vs trained "
                                         f"{trained_at[1:][j]:.4f}; SVD at sigma 0: {svd_loss[0]:.4f}")


def snmf_weights(spec, index, iters):
    """The weights of the semi-NMF fit (label orientation) of instance ``index`` of the mixing of
    ``spec``; deterministic, so shipped in the store (cclib.evaluations.memo)."""
    fit = baselines.semi_nmf(build_mixing(spec).select([index]), orientation="label", max_iter=iters).model
    return dict(W_in=fit.W_in.detach().numpy(), W_out=fit.W_out.detach().numpy())


def snmf_curve(spec, index, iters, p_eval, samples):
    """The loss curve (K = 1) of that fit, on its own labels."""
    weights = snmf_weights(spec, index, iters)
    model = MLP.from_weights(torch.from_numpy(weights["W_in"]), torch.from_numpy(weights["W_out"]))
    return dict(loss=evaluate.loss_curve(model, build_mixing(spec).select([index]), p_eval, samples).loss[0])


def snmf_model(index):
    weights = evaluations.memo("fig09 semi-NMF weights", snmf_weights, spec=snmf_spec, index=index, iters=iters)
    return MLP.from_weights(torch.from_numpy(weights["W_in"]), torch.from_numpy(weights["W_out"]))


k = SIGMAS.index(0.03)
snmf_fit = snmf_model(k)
at_sweep = [i * len(sweep_sigmas) + int(np.argmin(np.abs(sweep_sigmas - 0.03))) for i in range(len(SEEDS))]
mass_t = np.array([analysis.top_mass(trained.model.W_in[i].detach().numpy()) for i in at_sweep])
r_t = np.array([analysis.entry_fit(trained.model, trained.mixing, instance=i).offdiag_corr for i in at_sweep])
mass_s = analysis.top_mass(snmf_fit.W_in[0].detach().numpy())
r_s = analysis.entry_fit(snmf_fit, mix.select([k])).offdiag_corr
claims.paper.compare("SNMF W_in less sparse than the trained one (sigma 0.03)", mass_t.mean() - mass_s, 0,
               report.seed_noise(mass_t), detail=f"top 10% hold {mass_t.mean():.1%} ± {report.seed_noise(mass_t):.1%} "
                                                 f"(trained) vs {mass_s:.1%} (SNMF)")
out_t = np.array([analysis.top_mass(trained.model.W_out[i].detach().numpy()) for i in at_sweep])
out_s = analysis.top_mass(snmf_fit.W_out[0].detach().numpy())
claims.paper.compare("SNMF W_out less sparse than the trained one too (sigma 0.03)", out_t.mean() - out_s, 0,
                     report.seed_noise(out_t), detail=f"top 10% of |W_out| hold {out_t.mean():.1%} ± "
                                                      f"{report.seed_noise(out_t):.1%} (trained) vs {out_s:.1%} (SNMF)",
                     expected="inconclusive")
claims.paper.compare("SNMF's correlation of T with M differs from the trained one (sigma 0.03)", abs(r_t.mean() - r_s),
               3 * report.seed_noise(r_t), report.seed_noise(r_t),
               detail=f"off-diagonal r {r_t.mean():.3f} ± {report.seed_noise(r_t):.3f} (trained) vs {r_s:.3f} (SNMF)")

bern = experiments.trained(paper_runs.sigma_sweep("asymmetric", "bernoulli", [seed], quick))
b = int(np.argmin(np.abs(paper_runs.sweep_sigmas(quick) - 0.02)))
p_eval = setup.p_eval
spk = setup.samples
profile = {"trained": evaluations.cached_curve(dict(run=bern.key(), instance=b), bern.model.select([b]),
                                               bern.mixing.select([b]), p_eval, spk).loss[0],
           "SNMF": evaluations.memo("fig09 semi-NMF loss curve", snmf_curve, spec=snmf_spec, index=SIGMAS.index(0.02),
                                    iters=iters, p_eval=p_eval, samples=spk)["loss"]}
cross = {k: float(p_eval[np.flatnonzero(c >= naive)[0]]) if (c >= naive).any() else np.nan for k, c in profile.items()}
same = all(c[0] < naive and c[-1] > naive for c in profile.values())
claims.paper.add("SNMF reproduces the loss profile: below naive at the sparsest p_eval, above at p_eval = 1 (sigma 0.02)",
           same, "; ".join(f"{k}: {c[0]:.4f} at p_eval {p_eval[0]:g}, {c[-1]:.4f} at 1, first above naive at "
                           f"p_eval {cross[k]:.3g}" for k, c in profile.items()))
ratio = cross["SNMF"] / cross["trained"]
claims.ours.add("SNMF's loss profile crosses naive within a factor of 2 of the trained model's p_eval (sigma 0.02)",
           0.5 <= ratio <= 2, f"SNMF crosses at p_eval {cross['SNMF']:.3g}, trained at {cross['trained']:.3g} "
                              f"(ratio {ratio:.2f})", expected=False)
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig09", mode, seed, claims, sigma=SIGMAS, seeds=SEEDS,
                  snmf={f"{s}_{o}": dict(loss=loss[s, o], error=error[s, o]) for s, o in fits},
                  snmf_published=loss["mu", "published"], snmf_oriented=loss["mu", "label"],
                  trained=trained_at, trained_sd=trained_sd, trained_crossing=trained_cross,
                  snmf_crossing=snmf_cross,
                  gap=dict(total=total, orientation=by_orientation, solver=by_solver, remaining=remaining),
                  svd=svd_loss, top10_mass=dict(trained=mass_t.mean(), snmf=mass_s),
                  top10_mass_out=dict(trained=out_t.mean(), snmf=out_s), offdiag_r=dict(trained=r_t.mean(), snmf=r_s),
                  profile=dict(p_eval=p_eval, **profile), profile_crossing=cross)
