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
# # Fig. 5 — the mixing matrix is what the model exploits
#
# **(a)** Models trained at p = 0.01 (10,000 steps, three seeds) on four kinds of label: the
# embedding-like mixing of the original model; the clean task M = 0; a random asymmetric M and
# a random symmetric M, each with a trainable magnitude sigma (initial 0.01, diagonal kept).
#
# The original residual model's MLP sees $M = -(W_E W_E^T - I)$ (see Fig. 1). The published code
# used $+(W_E W_E^T - I)$; we train both and call the faithful one "embed" (the published figure
# shows only the plus sign).
#
# **(b)** Loss per feature against sigma, as published: random symmetric and asymmetric M with
# their diagonal kept, Bernoulli inputs at p = 0.01, 10,000 steps, one model per sigma in
# linspace(0, 0.08, 41), each scored at p_eval = 0.01; and, beyond the paper, two more seeds on
# the whole grid, so that the claims are judged on the mean of three seeds with their spread. Beside it, the same sweep on exactly one
# active input per sample (the input distribution of Fig. 9's semi-NMF comparison), over three
# seeds and extended to sigma = 0.16.
#
# **Claims.** (a) every nonzero M gives the same qualitative profile (beats naive when sparse,
# loses when dense); symmetric matches embedding-like almost exactly; M = 0 never beats naive.
# (b) the loss falls about linearly for small sigma, has a minimum, and rises above naive for
# large sigma; sigma = 0 sits at naive.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import linregress

from cclib import evaluate, evaluations, experiments, notebook, paper_runs, plotting, report
from cclib.baselines import naive_loss

setup = notebook.setup(mode, seed, out_dir)  # checks the parameters, sets the style
out, quick, SEEDS = setup.out, setup.quick, setup.seeds
naive = naive_loss()

# %% [markdown]
# ## (a) Four kinds of mixing at p = 0.01

# %%
# embed (sign -1), embed_plus, clean, and asymmetric / symmetric with sigma learned from 0.01
runs_a = {name: experiments.trained(spec, progress=True)
          for name, spec in paper_runs.mixing_kinds(seed, quick).items()}
p_eval = setup.p_eval
per_seed = {name: evaluations.loss_curve(r, p_eval, setup.samples).loss for name, r in runs_a.items()}
curves = {name: c.mean(0) for name, c in per_seed.items()}
curves_sd = {name: report.seed_noise(c) for name, c in per_seed.items()}
learned = {name: np.abs(runs_a[name].mixing.sigma.numpy()) for name in ("asymmetric", "symmetric")}
m_embed = runs_a["embed"].mixing.matrix()[0].numpy()
embed_std = float(m_embed[~np.eye(100, dtype=bool)].std())

# %% [markdown]
# ## (b) Loss against the magnitude sigma
# A seed fixes the random shape G, the initial weights and the data, so along one seed's curve
# only the magnitude changes. The exactly-one-active loss is exact (closed form), so its band
# (mean ± one seed standard deviation) is all seed-to-seed variation. The Bernoulli sweep is
# drawn twice: seed 0 (the published panel), and the mean ± sd of seeds 0, 1 and 2, at all 41
# sigma, where each seed's loss is also an estimate (standard error 0.0001 to
# 0.0003 at 4096 samples per stratum), combined with the seed spread.

# %%
sweep_sigmas = {"bernoulli": paper_runs.sweep_sigmas(quick),
                "one_active": paper_runs.sweep_sigmas(quick, extended=True)}
sweep_seeds = {"bernoulli": [seed], "one_active": SEEDS}
sweep, sweep_sd, published, published_se = {}, {}, {}, {}
for inputs in ("bernoulli", "one_active"):
    for kind in ("symmetric", "asymmetric"):
        run = experiments.trained(paper_runs.sigma_sweep(kind, inputs, sweep_seeds[inputs], quick),
                                  progress=True)
        if inputs == "one_active":
            values = evaluate.one_active_loss(run.model, run.mixing).reshape(len(SEEDS), -1)
            sweep[inputs, kind], sweep_sd[inputs, kind] = values.mean(0), report.seed_noise(values)
            continue
        curve = evaluations.loss_curve(run, [0.01], setup.samples)
        published[kind], published_se[kind] = curve.loss[:, 0], curve.se[:, 0]    # seed 0, every sigma
        values, se = published[kind][None], published_se[kind][None]
        more = paper_runs.sigma_sweep_more_seeds(kind, seed, quick)                # None in quick mode
        if more is not None:
            extra = evaluations.loss_curve(experiments.trained(more, progress=True), [0.01], 4096)
            values = np.vstack([values, extra.loss[:, 0].reshape(len(SEEDS) - 1, -1)])
            se = np.vstack([se, extra.se[:, 0].reshape(len(SEEDS) - 1, -1)])
        sweep[inputs, kind] = values.mean(0)
        sweep_sd[inputs, kind] = report.seed_noise(values, np.sqrt((se ** 2).mean(0) / len(values)))

# %%
fig, (ax_a, ax_b, ax_c) = plt.subplots(1, 3, figsize=(16, 4.6), width_ratios=[1.2, 1, 1])
labels = {"embed": f"embedding-like, $-(W_E W_E^T - I)$ (std {embed_std:.3f})",
          "embed_plus": "embedding-like, $+(W_E W_E^T - I)$ (published sign)",
          "clean": "clean, $M = 0$",
          "asymmetric": f"random asymmetric, learned $\\sigma$ = {learned['asymmetric'].mean():.3f}",
          "symmetric": f"random symmetric, learned $\\sigma$ = {learned['symmetric'].mean():.3f}"}
for name, curve in curves.items():
    style = dict(ls=":", color=plotting.COLORS["embed"]) if name == "embed_plus" else \
        dict(color=plotting.COLORS[name])
    ax_a.plot(p_eval, curve, lw=1.6, label=labels[name], **style)
    ax_a.fill_between(p_eval, curve - curves_sd[name], curve + curves_sd[name], color=style["color"],
                      alpha=0.2, lw=0)
plotting.naive_line(ax_a)
ax_a.set(xscale="log", yscale="log", xlabel="evaluation feature probability $p_{eval}$",
         ylabel="loss per feature $L / p$", title=f"(a) trained at p = 0.01 ({plotting.over_seeds(len(SEEDS))})")
plotting.plain_log_axis(ax_a, "y", [0.06, 0.07, 0.08, 0.09, 0.1])
ax_a.legend(fontsize="x-small", loc="upper left")
for ax, inputs, title in ((ax_b, "bernoulli", "(b) Bernoulli p = 0.01, scored at $p_{eval}$ = 0.01"),
                          (ax_c, "one_active", f"(b') exactly one active input ({plotting.over_seeds(len(SEEDS))})")):
    for kind in ("symmetric", "asymmetric"):
        color, s, sd = plotting.COLORS[kind], sweep[inputs, kind], sweep_sd[inputs, kind]
        if inputs == "bernoulli":  # the published one-seed curve, then the seeds' mean and band
            ax.plot(paper_runs.sweep_sigmas(quick), published[kind], "o-", ms=2.5, lw=1, color=color,
                    label=f"random {kind}, diagonal kept: seed {seed}, as published")
            if len(SEEDS) == 1:
                continue
            ax.plot(sweep_sigmas[inputs], s, "--", lw=1.2, color=color,
                    label=f"random {kind}: {plotting.over_seeds(len(SEEDS))}")
        else:
            ax.plot(sweep_sigmas[inputs], s, "o-", ms=3, color=color, label=f"random {kind}, diagonal kept")
        ax.fill_between(sweep_sigmas[inputs], s - sd, s + sd, color=color, alpha=0.25, lw=0)
    plotting.naive_line(ax)
    ax.set(xlabel="mixing magnitude $\\sigma$", ylabel="loss per feature $L / p$", title=title)
    ax.legend(fontsize="x-small" if ax is ax_b else "small", loc="upper left")
ax_c.axvline(0.08, color="0.6", lw=0.8, ls=":")
fig.suptitle("Fig. 5: the mixing matrix matters")
plotting.save_figure(fig, out, "fig05")
plt.show()

# %% [markdown]
# ## Claims
# "Same profile": below naive at p_eval = 0.001 and above it at p_eval = 1. "Matches almost
# exactly": the largest relative gap between the mean curves of symmetric and embedding-like M is
# smaller than that between the embedding-like M's two signs, two versions of one construction
# that the paper treats as alike (in the mean curves' standard error). "Beats naive" for M = 0 means by more than 0.1% of naive, a tolerance fixed before
# these runs (Figs. 9 and 10 use it too): the paper gives no size for "beats", and 0.1% lies far
# above the float rounding of a loss (about 1e-7 of it) and far below the trained models' gains
# over naive at p = 0.01 (Fig. 2). "About linear": on the first half of the way to the minimum
# (at least three grid points), a straight line explains R^2 > 0.9 of the variance (its slope
# judged by its own standard error), fitted to the three seeds' mean. The other claims' margins
# are in seed standard deviations (for the Bernoulli sweep: the three seeds' mean, its noise the
# seeds' sd combined with the evaluation's standard error of the mean).
# "Symmetric below asymmetric" is judged on the published grid (sigma 0.01 to 0.08), at its
# closest sigma. Footnote 5 ("the optimal noise scale ... happens to be close to the standard
# deviation" of the embedding-like M): "close" is read as "the loss cannot tell them apart",
# i.e. the std lies where the three seeds' mean Bernoulli sweep is within one seed sd of its
# minimum.


# %% [markdown]
# **Summary of findings** (the claims cells below give the evidence). With the published settings both panels show the paper's shape: naive at
# sigma = 0, an almost linear fall, a minimum, and a rise above naive by sigma = 0.08 on Bernoulli
# inputs (the exactly-one-active sweep crosses naive later and needs the extended grid to show
# it). Symmetric M gives the lower curve throughout. In panel (a) the mean curves of symmetric
# and embedding-like M differ by at most 3.1%, closer than the embedding-like M's two signs
# (5.4%), which the paper treats as the same construction.
# Over three seeds at all 41 sigma the Bernoulli sweep keeps its shape: the claims judged on
# their mean (naive at sigma = 0, a minimum, above naive at 0.08) hold by 9.9 seed sd or more,
# the fall by 23 standard errors or more. Minima 0.0658 (symmetric, at sigma 0.034) and 0.0761
# (asymmetric, 0.026); the seed sd grows from 0.0002 at sigma = 0 to about 0.002 at 0.08, and
# the published one-seed curve lies within 1.1 sd of the three seeds' mean at every sigma: the
# published panel shows a typical seed.
# Whether the clean model beats naive by more than 0.1% at dense p_eval (through the offset of
# Fig. 10) is within the seed noise after 10,000 steps: the literal "never" is neither
# confirmed nor refuted there, while in the sparse regime M = 0 sits at naive.
# Footnote 5 holds for symmetric M (the three seeds' mean loss is within a seed sd of its minimum
# from sigma 0.030 to 0.036, and the embedding-like M's std is 0.0315) but not for asymmetric M,
# whose flat bottom (0.020 to 0.030) ends just below it: its optimum (0.026, learned 0.024 in
# panel a) is near, but distinguishably below, the embedding-like std.

# %%
claims = report.Claims(mode)
for name in ("embed", "asymmetric", "symmetric"):
    c, sd = curves[name], curves_sd[name]
    claims.paper.compare(f"(a) {name}: beats naive at p_eval = 0.001", c[0], naive, sd[0], above=False,
                   detail=f"L/p {c[0]:.4f} ± {sd[0]:.4f}")
    claims.paper.compare(f"(a) {name}: loses to naive at p_eval = 1", c[-1], naive, sd[-1],
                   detail=f"L/p {c[-1]:.4f} ± {sd[-1]:.4f}")
rel = np.abs(curves["symmetric"] / curves["embed"] - 1)                     # mean curves
signs = np.abs(curves["embed_plus"] / curves["embed"] - 1)
rel_se = report.seed_noise(np.abs(per_seed["symmetric"] / per_seed["embed"] - 1).max(1)) / np.sqrt(len(SEEDS))
claims.paper.compare("(a) symmetric matches embedding-like as closely as the embedding's two signs match each other",
               rel.max(), signs.max(), rel_se, above=False, unit="se",
               detail=f"largest relative gap of the mean curves {rel.max():.1%} (at p_eval {p_eval[rel.argmax()]:.2g}); "
                      f"embedding-like with + and - signs: {signs.max():.1%}")
sparse_side = p_eval <= 0.01
for name, where, expected in (("in the sparse regime (p_eval <= 0.01)", sparse_side, True),
                              ("at any p_eval", np.ones_like(sparse_side), "inconclusive")):
    j = np.flatnonzero(where)[np.argmin(curves["clean"][where])]
    claims.paper.compare(f"(a) M = 0 does not beat naive (by more than 0.1%) {name}", curves["clean"][j],
                   0.999 * naive, curves_sd["clean"][j],
                   detail=f"min L/p {curves['clean'][j]:.4f} ± {curves_sd['clean'][j]:.4f} at p_eval "
                          f"{p_eval[j]:.2g}", expected=expected)

for inputs, tag in (("bernoulli", "(b)"), ("one_active", "(b')")):
    whose = claims.paper if inputs == "bernoulli" else claims.ours  # (b') is our one-active panel
    sig = sweep_sigmas[inputs]
    for kind in ("symmetric", "asymmetric"):
        s, noise = sweep[inputs, kind], sweep_sd[inputs, kind]
        best = int(np.argmin(s))
        head = slice(0, max(3, best // 2 + 1))
        fit = linregress(sig[head], s[head])
        whose.compare(f"{tag} {kind}: sigma = 0 at naive (within 0.002)", abs(s[0] - naive), 0.002, noise[0],
                       above=False, detail=f"L/p {s[0]:.4f}")
        whose.compare(f"{tag} {kind}: falls for small sigma", fit.slope, 0, max(fit.stderr, 1e-12),
                       above=False, detail=f"initial slope {fit.slope:.2f} ± {fit.stderr:.2f} "
                                           f"(sigma <= {sig[head][-1]:.3f})")
        whose.add(f"{tag} {kind}: about linearly (R^2 > 0.9)", fit.rvalue ** 2 > 0.9,
                   f"R^2 {fit.rvalue ** 2:.2f} ({head.stop} sigma)")
        rise = min(s[0], s[-1]) - s[best]
        whose.compare(f"{tag} {kind}: a minimum inside the range", rise, 0, noise[best],
                       detail=f"min {s[best]:.4f} at sigma {sig[best]:.3f}, {rise:.4f} below both ends")
        whose.compare(f"{tag} {kind}: above naive at the largest sigma", s[-1], naive, noise[-1],
                       detail=f"L/p {s[-1]:.4f} ± {noise[-1]:.4f} at sigma {sig[-1]:.2f}")
gap = sweep["one_active", "asymmetric"] - sweep["one_active", "symmetric"]
spread = np.hypot(sweep_sd["one_active", "asymmetric"], sweep_sd["one_active", "symmetric"])
tested = (sweep_sigmas["one_active"] >= 0.01) & (sweep_sigmas["one_active"] <= 0.08)   # the published grid
worst = np.flatnonzero(tested)[np.argmin(gap[tested] / spread[tested])]
claims.ours.compare("(b') symmetric below asymmetric at every sigma in [0.01, 0.08]", gap[worst], 0, spread[worst],
               detail=f"closest at sigma {sweep_sigmas['one_active'][worst]:.3f}: gap {gap[worst]:.4f} "
                      f"± {spread[worst]:.4f}")
# footnote 5: the optimal sigma is close to the std of the embedding-like M. "Close": the std
# lies where the Bernoulli sweep (the seeds' mean) is within the seed spread of its minimum, so
# that the loss cannot tell the two magnitudes apart
for kind in ("symmetric", "asymmetric"):
    s = sweep["bernoulli", kind]
    tol = sweep_sd["bernoulli", kind][int(np.argmin(s))]
    basin = sweep_sigmas["bernoulli"][s <= s.min() + tol]
    claims.paper.add(f"footnote 5, {kind}: the embedding-like M's std lies where the loss is within a seed sd of "
                     "its minimum", basin.min() <= embed_std <= basin.max(),
                     f"std {embed_std:.4f}; loss within {tol:.4f} of its minimum for sigma in "
                     f"[{basin.min():.3f}, {basin.max():.3f}]; learned sigma (Fig. 5a) {learned[kind].mean():.3f}",
                     expected=kind == "symmetric")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig05", mode, seed, claims, p_eval=p_eval, seeds=SEEDS, curves=curves,
                  curves_sd=curves_sd, sigma=dict(learned, embed_std=embed_std),
                  published_bernoulli=dict(sigma=paper_runs.sweep_sigmas(quick), seed=seed, **published,
                                           **{f"{kind}_se": published_se[kind] for kind in published}),
                  sweep={inputs: dict(sigma=sweep_sigmas[inputs], seeds=SEEDS,
                                      **{kind: sweep[inputs, kind] for kind in ("symmetric", "asymmetric")},
                                      **{f"{kind}_sd": sweep_sd[inputs, kind]
                                         for kind in ("symmetric", "asymmetric")})
                         for inputs in ("bernoulli", "one_active")})
