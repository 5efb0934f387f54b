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
# # Fig. 16 — a loss that punishes concentrated error (beyond the paper)
#
# On clean labels y = ReLU(x) and exactly one active input, no model of width 50 with a linear
# read-out has a mean squared error below $(n - d) / (6n) = 1/12$, the naive model's (Fig. 14):
# under the MSE a model that superposes features can at best tie naive. That is a statement about
# the MSE. The naive model puts all of its error on the 50 features it ignores, each missing its
# whole ReLU. A loss that grows faster than the square, the mean fourth power of the error
# ("L4", `loss=dict(kind="l4")` in a spec), punishes that concentration, and a model that spreads
# a little error over many outputs can beat naive by it.
#
# Beating naive by L4 shows little on its own: a *linear* map spreads error too. So the trained
# model is held against three baselines, each scored by the same metric: **naive**; the **best
# rank-50 linear map** under the L4 loss (no ReLU: a ReLU model must beat it to show that its
# ReLUs compute, not only its linear part; fitted by Adam on its exact expected loss,
# `baselines.best_linear`); and a **hand-built superposed construction** (each feature writes to
# 5 random neurons with weight 1, read out by least squares, `baselines.sparse_codes`). Three
# input settings, exactly one active input and Bernoulli p = 0.01 and 0.05, three seeds each; the
# MSE-trained model of the same setting is shown beside it (for p = 0.01 and 0.05 these are
# Fig. 15's clean runs).
#
# **Claims (ours).** In each setting the L4-trained model beats naive by L4, and beats the best
# linear map by L4; on one active input its MSE stays at or above the floor 1/12 (a theorem, so
# this is a check of the code). Measured and reported without a claim: where training lands
# against the hand-built construction, and the largest error on a single active input of
# value ±1 (naive's is 1, the whole ReLU of an ignored feature). Losses are per feature, as in the
# paper's figures. For Bernoulli inputs the floor is Fig. 17's, (n - d)(1/6 - p/16)/n, just
# below 1/12 (0.0830 at p = 0.01, 0.0818 at p = 0.05); there the MSE is only reported.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory

# %%
import matplotlib.pyplot as plt
import numpy as np

from cclib import baselines, bounds, evaluate, experiments, mixing, notebook, paper_runs, plotting, report

setup = notebook.setup(mode, seed, out_dir)  # checks the parameters, sets the style
out, quick, SEEDS = setup.out, setup.quick, setup.seeds
D_MLP = 50
SETTINGS = {("one_active" if p is None else f"p{p:g}"): p for p in paper_runs.L4_SETTINGS}
LABELS = {"one_active": "one active", "p0.01": "p = 0.01", "p0.05": "p = 0.05"}


def score(model, p, samples):
    """MSE and L4 per feature (with standard errors) and the largest error on a unit input, (K,) each."""
    mix = mixing.clean(n_instances=model.n_instances)
    found = {"largest": evaluate.largest_error(model, mix)}
    for kind in ("mse", "l4"):
        if p is None and isinstance(model, baselines.LinearMap):
            value, se = baselines.linear_loss(model.matrix().detach(), None, kind).numpy(), 0.0
        elif p is None:
            value, se = evaluate.one_active_loss(model, mix, kind=kind), 0.0
        else:
            value, se = evaluate.expected_loss(model, mix, p, samples, kind=kind)
        found[kind], found[f"{kind}_se"] = np.asarray(value, float), np.asarray(se, float) * np.ones(model.n_instances)
    return found


# %%
runs = {key: experiments.trained(spec, progress=True) for key, spec in paper_runs.l4_runs(seed, quick).items()}
scores = {}
for name, p in SETTINGS.items():
    linear = baselines.best_linear(D_MLP, p, "l4", seeds=[seed], iters=300 if quick else 3000)
    scores[name] = {"naive": score(baselines.naive(), p, setup.samples),
                    "best linear map": score(linear, p, setup.samples),
                    "sparse codes": score(baselines.sparse_codes(per_feature=5, seeds=[seed]), p, setup.samples),
                    "MSE-trained": score(runs["mse", name].model, p, setup.samples),
                    "L4-trained": score(runs["l4", name].model, p, setup.samples)}
    if p is not None:  # the linear map's exact losses, beside the sampled ones used above
        for kind in ("mse", "l4"):
            scores[name]["best linear map"][f"{kind}_exact"] = baselines.linear_loss(
                linear.matrix().detach(), p, kind).numpy()
floor = float(bounds.rank_floor(mixing.clean(), D_MLP)[0])
for name in SETTINGS:
    print(LABELS[name], {model: {k: np.round(v.mean(), 5) for k, v in s.items() if not k.endswith("_se")}
                         for model, s in scores[name].items()})

# %%
MODELS = ["naive", "best linear map", "sparse codes", "MSE-trained", "L4-trained"]
COLORS = {"naive": plotting.COLORS["naive"], "best linear map": plotting.COLORS["published"],
          "sparse codes": plotting.COLORS["snmf"], "MSE-trained": plotting.COLORS["embed"],
          "L4-trained": plotting.COLORS["trained"]}
TITLES = {"l4": "L4 loss per feature (log scale)", "mse": "MSE per feature",
          "largest": "largest error on one input of value ±1"}
fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
width = 0.16
for ax, metric in zip(axes, TITLES):
    for j, model in enumerate(MODELS):
        values = [scores[name][model][metric] for name in SETTINGS]
        x = np.arange(len(SETTINGS)) + (j - 2) * width
        ax.bar(x, [v.mean() for v in values], width, color=COLORS[model], label=model,
               yerr=[report.seed_noise(v) if v.size > 1 else 0 for v in values], capsize=2)
    ax.set_xticks(np.arange(len(SETTINGS)), [LABELS[name] for name in SETTINGS])
    ax.set(title=TITLES[metric])
axes[0].set(yscale="log", ylabel="loss per feature")
axes[1].axhline(floor, color="k", lw=1, ls=":", label="MSE floor on one active input, 1/12")
axes[1].set(ylabel="loss per feature")
axes[2].set(ylabel="|output - label|")
fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncols=6)
fig.suptitle("Fig. 16: clean labels, a ReLU MLP of width 50 trained on the L4 loss, against baselines "
             "scored by the same metric (bars: mean over seeds, whiskers: seed sd)")
plotting.save_figure(fig, out, "fig16")
plt.show()

# %% [markdown]
# ## Claims
# "Beats" a baseline by L4: the baseline's L4 loss minus the trained models' mean, against the
# noise of that difference: the seed standard deviation of the trained models combined with the
# evaluations' standard errors (zero on one active input, where every loss here is exact). The
# baselines are deterministic given their seed; the best linear map is a local search, so its
# loss is an upper bound on the best one's (the tests check the fit is stationary).

# %%
claims = report.Claims(mode)
for name in SETTINGS:
    trained = scores[name]["L4-trained"]
    sd = report.seed_noise(trained["l4"]) if len(SEEDS) > 1 else 0.0
    for baseline in ("naive", "best linear map"):
        base = scores[name][baseline]
        noise = np.sqrt(sd**2 + np.mean(trained["l4_se"]) ** 2 + np.mean(base["l4_se"]) ** 2)
        gap = float(base["l4"].mean() - trained["l4"].mean())
        claims.ours.compare(f"{LABELS[name]}: the L4-trained model beats {baseline} by L4", gap, 0,
                            max(noise, 1e-12), detail=f"L4 {trained['l4'].mean():.5f} vs {baseline} "
                                                      f"{base['l4'].mean():.5f}; noise {noise:.2g}")
lowest = float(scores["one_active"]["L4-trained"]["mse"].min())
claims.ours.add("one active input: the L4-trained models' MSE is at or above the floor 1/12 (a theorem)",
                lowest >= floor - 1e-6, f"lowest of the seeds {lowest:.5f}, floor {floor:.5f}")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig16", mode, seed, claims, seeds=SEEDS, settings=list(SETTINGS), floor=floor,
                  **{f"{name}_{model}_{metric}".replace(" ", "_"): v.mean()
                     for name in SETTINGS for model in MODELS
                     for metric, v in scores[name][model].items() if not metric.endswith("_se")})

# %% [markdown]
# **What the numbers show** (the committed run at paper settings; the table above gives each
# number with its noise). In all three settings the L4-trained models have an L4 loss per feature
# 13 to 78 times below naive's (0.050) and 4 to 20 times below the best rank-50 linear map's
# (0.013-0.016): about 0.0006 on one active input, 0.0013 at p = 0.01 and 0.004 at p = 0.05. They
# also do better than the hand-built sparse codes (0.007-0.012), so the construction tried here
# is far from what training finds. Their largest error on a single input of value ±1 is about 0.2,
# against 1 for naive and 0.5 for the linear map: they spread their error over many outputs.
# They pay for it in the MSE: about 0.12 per feature, above naive's 1/12 everywhere, as the
# floor requires on one active input. The MSE-trained twins sit at naive's MSE (slightly below it
# at p = 0.05, where an offset helps, Fig. 10) and have an L4 loss between the linear map's and
# naive's.
#
# So under a loss that punishes concentrated error, a width-50 ReLU layer does something that no
# linear map of rank 50 and no naive assignment of neurons does: its ReLUs compute. This is not a
# model that beats naive on the paper's metric; by the MSE it cannot (Fig. 14), and these
# models are worse than naive by it. Whether the L4 models compute more functions than they have
# neurons in a sense that matters for interpretability is not settled by these numbers.
