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
# Beating naive by L4 shows little on its own, and beating a linear map shows little more. The
# trained model is held against a ladder of baselines, each scored by the same metric:
#
# * **naive** (50 features on their own neuron, 50 ignored);
# * **any linear map, of any rank**: on one active input the own output's term alone costs
#   $\min_c ((c-1)^4 + c^4)/10 = 1/80 = 0.0125$ (at $c = 1/2$). So beating the **best rank-50
#   linear map** (`baselines.best_linear`, fitted on its exact L4 loss) shows only that the model
#   rectifies; the number of neurons plays no part in it;
# * **storage**: the exact $\mathrm{ReLU}(x)$ read through the best rank-50 linear map under L4
#   (`baselines.best_storage`), a model that stores the rectified features in 50 dimensions and
#   computes nothing more. On one active input its loss is the **L4 rank floor**
#   $\min_{\mathrm{rank}\,L \le d} \sum_i \lVert L_i - e_i \rVert_4^4 / (10n)$
#   (`bounds.l4_rank_floor`), a bound for *every* model whose output is a linear read-out of a
#   width-$d$ layer (the label of $v e_i$, $v > 0$, is $v e_i$, and the output lies in the
#   read-out's $d$-dimensional row space). It is found numerically: a local search, checked in the
#   tests against an independent optimisation;
# * **hand-built sparse codes** (each feature writes to 5 random neurons with weight 1), read out
#   by least squares (the MSE-optimal `pinv`, `baselines.sparse_codes`) and by the L4-optimal
#   read-out (`baselines.l4_readout`).
#
# Three input settings, exactly one active input and Bernoulli p = 0.01 and 0.05, three seeds
# each; the MSE-trained model of the same setting is shown beside it (for p = 0.01 and 0.05 these
# are Fig. 15's clean runs).
#
# **Claims (ours).** In each setting the L4-trained model beats naive and the best linear map by
# L4 (the weak bars); on one active input it is at or above the L4 rank floor (a theorem, so a
# check of the code) and its MSE at or above the floor 1/12; on Bernoulli inputs, whether it
# beats the storage baseline. Measured and reported without a claim: how far above the L4 floor
# it sits, the sign of its $W_{in}$, where it lands against the sparse codes, and the largest
# error on a single active input of value ±1 (naive's is 1, the whole ReLU of an ignored
# feature). Losses are per feature, as in the paper's figures. For Bernoulli inputs the MSE floor
# is Fig. 17's, (n - d)(1/6 - p/16)/n, just below 1/12 (0.0830 at p = 0.01, 0.0818 at p = 0.05);
# there the MSE is only reported.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory

# %%
import matplotlib.pyplot as plt
import numpy as np

import torch

from cclib import baselines, bounds, evaluate, evaluations, experiments, mixing, notebook, paper_runs, plotting, report
from cclib.models import MLP

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
def all_scores(runs, settings, seed, iters, samples, d_mlp):
    """Every model's scores in each setting (name -> p; runs: the MSE- and L4-trained run of each),
    the baselines fitted here, and the L4 rank floor; deterministic, so shipped in the store
    (cclib.evaluations.memo)."""
    codes = baselines.sparse_codes(per_feature=5, seeds=[seed])
    codes_l4 = MLP.from_weights(codes.W_in.detach(), baselines.l4_readout(codes.W_in.detach(), iters=iters))
    identity = torch.eye(100)[None]
    scores = {}
    for (name, p), (mse_run, l4_run) in zip(settings.items(), runs):
        linear = baselines.best_linear(d_mlp, p, "l4", seeds=[seed], iters=iters)
        storage = MLP.from_weights(identity, baselines.best_storage(d_mlp, p, "l4", seeds=[seed], iters=iters).float())
        scores[name] = {"naive": score(baselines.naive(), p, samples),
                        "best linear map": score(linear, p, samples),
                        "sparse codes, least squares": score(codes, p, samples),
                        "sparse codes, L4 read-out": score(codes_l4, p, samples),
                        "storage: ReLU(x), best rank-50 map": score(storage, p, samples),
                        "MSE-trained": score(mse_run.model, p, samples),
                        "L4-trained": score(l4_run.model, p, samples)}
        if p is not None:  # the linear map's exact losses, beside the sampled ones used above
            for kind in ("mse", "l4"):
                scores[name]["best linear map"][f"{kind}_exact"] = baselines.linear_loss(
                    linear.matrix().detach(), p, kind).numpy()
    l4_floor = bounds.l4_rank_floor(100, d_mlp, seeds=[seed, seed + 1, seed + 2], iters=iters)
    return dict(scores=scores, l4_floor=l4_floor)


runs = {key: experiments.trained(spec, progress=True) for key, spec in paper_runs.l4_runs(seed, quick).items()}
found = evaluations.memo("fig16 scores", all_scores, runs=[[runs["mse", n], runs["l4", n]] for n in SETTINGS],
                         settings=SETTINGS, seed=seed, iters=300 if quick else 3000, samples=setup.samples,
                         d_mlp=D_MLP)
scores, l4_floor = found["scores"], float(found["l4_floor"])
floor = float(bounds.rank_floor(mixing.clean(), D_MLP)[0])
for name in SETTINGS:
    print(LABELS[name], {model: {k: np.round(v.mean(), 5) for k, v in s.items() if not k.endswith("_se")}
                         for model, s in scores[name].items()})
print(f"L4 rank floor on one active input: {l4_floor:.6f}; any linear map: at least 1/80 = {1 / 80}")

# %% [markdown]
# **Rectify, then compress.** If $W_{in} \geq 0$, a lone input $v e_i$ gives
# $h = \mathrm{ReLU}(v W_{in}[i]) = \mathrm{ReLU}(v)\, W_{in}[i]$: the layer stores the rectified
# features in 50 dimensions, and the model is a storage model with $L = W_{in} W_{out}$. The share
# of $W_{in}$'s squared norm in negative entries, and the one-active L4 of
# $\mathrm{ReLU}(x)\,\mathrm{ReLU}(W_{in}) W_{out}$ against the model's own:

# %%
sign = {}
for name in SETTINGS:
    model = runs["l4", name].model
    w_in, w_out = model.W_in.detach().double(), model.W_out.detach().double()
    negative = (w_in.clamp(max=0) ** 2).sum((1, 2)) / (w_in**2).sum((1, 2))
    as_storage = baselines.storage_loss(w_in.clamp(min=0) @ w_out, None, "l4").numpy()
    own = evaluate.one_active_loss(model, mixing.clean(n_instances=model.n_instances), kind="l4")
    sign[name] = dict(negative=negative.numpy(), as_storage=as_storage, own=own)
    print(f"trained at {LABELS[name]}: negative share of W_in {np.round(negative.numpy(), 5)}; one-active L4 "
          f"as a storage model {np.round(as_storage, 6)}, the model's own {np.round(own, 6)}")
above_floor = scores["one_active"]["L4-trained"]["l4"] / l4_floor - 1
print(f"one active input: the L4-trained models are {np.round(100 * above_floor, 2)}% above the L4 rank floor")

# %%
MODELS = list(scores["one_active"])
COLORS = {"naive": plotting.COLORS["naive"], "best linear map": plotting.COLORS["published"],
          "sparse codes, least squares": plotting.COLORS["snmf"], "sparse codes, L4 read-out": "tab:olive",
          "storage: ReLU(x), best rank-50 map": "tab:grey", "MSE-trained": plotting.COLORS["embed"],
          "L4-trained": plotting.COLORS["trained"]}
TITLES = {"l4": "L4 loss per feature (log scale)", "mse": "MSE per feature",
          "largest": "largest error on one input of value ±1"}
fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
width = 0.11
for ax, metric in zip(axes, TITLES):
    for j, model in enumerate(MODELS):
        values = [scores[name][model][metric] for name in SETTINGS]
        x = np.arange(len(SETTINGS)) + (j - (len(MODELS) - 1) / 2) * width
        ax.bar(x, [v.mean() for v in values], width, color=COLORS[model], label=model,
               yerr=[report.seed_noise(v) if v.size > 1 else 0 for v in values], capsize=2)
    ax.set_xticks(np.arange(len(SETTINGS)), [LABELS[name] for name in SETTINGS])
    ax.set(title=TITLES[metric])
axes[0].set(yscale="log", ylabel="loss per feature")
axes[0].plot([-0.45, 0.45], [l4_floor] * 2, color="k", lw=1.5, label="L4 rank floor (one active input)")
axes[0].plot([-0.45, 0.45], [1 / 80] * 2, color="k", lw=1, ls="--", label="any linear map: 1/80 (one active input)")
axes[0].legend(loc="upper right", fontsize=7)
axes[1].axhline(floor, color="k", lw=1, ls=":", label="MSE floor on one active input, 1/12")
axes[1].set(ylabel="loss per feature")
axes[2].set(ylabel="|output - label|")
fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncols=4)
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
#: The verdicts the committed run measured for "beats storage" on Bernoulli inputs, recorded as
#: the expected ones so that a change in them fails nbval (see the prose below).
STORAGE_BEATEN = {"p0.01": False, "p0.05": False}
claims = report.Claims(mode)
for name in SETTINGS:
    trained = scores[name]["L4-trained"]
    sd = report.seed_noise(trained["l4"]) if len(SEEDS) > 1 else 0.0
    bars = ("naive", "best linear map") + (() if name == "one_active" else ("storage: ReLU(x), best rank-50 map",))
    for baseline in bars:
        base = scores[name][baseline]
        noise = np.sqrt(sd**2 + np.mean(trained["l4_se"]) ** 2 + np.mean(base["l4_se"]) ** 2)
        gap = float(base["l4"].mean() - trained["l4"].mean())
        claims.ours.compare(f"{LABELS[name]}: the L4-trained model beats {baseline.split(':')[0]} by L4", gap, 0,
                            max(noise, 1e-12), detail=f"L4 {trained['l4'].mean():.5f} vs {baseline} "
                                                      f"{base['l4'].mean():.5f}; noise {noise:.2g}",
                            expected=STORAGE_BEATEN.get(name, True) if baseline.startswith("storage") else True)
lowest_l4 = float(scores["one_active"]["L4-trained"]["l4"].min())
claims.ours.add("one active input: the L4-trained models' L4 is at or above the L4 rank floor (a theorem)",
                lowest_l4 >= l4_floor * (1 - 1e-3), f"lowest of the seeds {lowest_l4:.6f}, floor {l4_floor:.6f} "
                "(a local search's estimate; 0.1% allowed for it)")
lowest = float(scores["one_active"]["L4-trained"]["mse"].min())
claims.ours.add("one active input: the L4-trained models' MSE is at or above the floor 1/12 (a theorem)",
                lowest >= floor - 1e-6, f"lowest of the seeds {lowest:.5f}, floor {floor:.5f}")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig16", mode, seed, claims, seeds=SEEDS, settings=list(SETTINGS), floor=floor, l4_floor=l4_floor,
                  **{f"{name}_l4_trained_w_in_negative_share": sign[name]["negative"].mean() for name in SETTINGS},
                  **{f"{name}_{model}_{metric}".replace(" ", "_"): v.mean()
                     for name in SETTINGS for model in MODELS
                     for metric, v in scores[name][model].items() if not metric.endswith("_se")})

# %% [markdown]
# **What the numbers show** (the committed run at paper settings; the table above gives each
# number with its noise). The L4-trained models beat the weak bars by far: an L4 loss per feature
# of about 0.0006 on one active input, 0.0013 at p = 0.01 and 0.004 at p = 0.05, against naive's
# 0.050 and the best rank-50 linear map's 0.013-0.016. But any linear map, of any rank, is at
# least 1/80 = 0.0125 on one active input, so that win says only that the model rectifies.
#
# The bar that decides is storage. On one active input the trained models lie 6 to 7% above the
# L4 rank floor (0.000604), the least any width-50 layer read out linearly can reach. Their
# $W_{in}$ is effectively non-negative (0.2% of its squared norm in negative entries when trained
# on one active input, 1.4-2.0% on Bernoulli inputs), and read as a storage model,
# $\mathrm{ReLU}(x)\,\mathrm{ReLU}(W_{in}) W_{out}$, each has the same one-active L4 as itself to
# within $10^{-6}$: **it rectifies, then compresses** — it stores the rectified features in 50
# dimensions and reads them back. On Bernoulli inputs the storage baseline (the exact ReLU(x)
# through the best rank-50 map under L4) is *better* than the trained models (0.00099 against
# 0.0013 at p = 0.01, 0.0022 against 0.0038 at p = 0.05; the claims above fail by 34 and 81
# noise units, recorded as measured). The hand-built sparse codes improve with the L4-optimal
# read-out, sixfold on one active input (0.0070 to 0.0012) and two- to fourfold on Bernoulli
# inputs, and stay above storage.
#
# So the L4 result is storage, not computation: nothing here computes more than the
# rectification that a storage model gets for free. The models pay for their spread-out error in
# the MSE (about 0.12 per feature, above naive's 1/12, as the floor requires on one active input).
# The MSE-trained twins sit at naive's MSE (slightly below it at p = 0.05, where an offset helps,
# Fig. 10) and have an L4 loss between the linear map's and naive's.
