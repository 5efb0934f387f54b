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
# # Fig. 18 — Elhage et al.'s absolute-value model, against the right baselines; and three traps (beyond the paper)
#
# Elhage et al. (2022) trained $\hat y = \mathrm{ReLU}(W_{out}\,\mathrm{ReLU}(W_{in} x + b_{in}) + b_{out})$
# to output $y = |x|$ on sparse inputs, as a case of computation in superposition. We train it with
# $n = 100$ features, $d = 50$ neurons, uniform importance, clean labels, Bernoulli inputs at
# $p \in \{0.003, 0.01, 0.03, 0.1\}$ (values $U[-1, 1]$), three seeds, the default steps.
#
# **The baselines.** "No superposition", each neuron reading one feature, costs
# $L/p \to 1/3 - d/(6n) = 0.25$ as $p \to 0$ whatever the split of neurons (25 features on two
# neurons each, or 50 half-answered by one; `baselines.abs_no_superposition_loss`, derived there
# and in Fig. 19). It is not the bar, because the output ReLU does half the work for free: with
# any linear map into it, $\mathrm{ReLU}(x_i)$ is the positive half of $|x_i|$.
#
# * **(a) no hidden computation.** If the expected output $i$ given $x_i$ is monotone in $x_i$
#   (true of every $\mathrm{ReLU}(xA + b)$, whatever $A$ and its rank, the other features acting as
#   independent noise), its error is at least that of the best monotone fit, an isotonic
#   regression with the point mass $1-p$ at 0: $L/p \geq$ `baselines.monotone_abs_loss(p)`, which
#   tends to $1/6$ (the negative halves missed) as $p \to 0$. A network of this very architecture
#   reaches close to it without computing: `baselines.linear_channel`, whose 50 neurons pass a
#   random embedding on linearly, with the best output bias.
# * **(b) more non-monotone outputs than neurons.** A bound, not a model: if at most 50 outputs
#   answer their feature non-monotonically, the other 50 stay at the bound (a), so
#   $L/p \geq (n - d)/n \cdot (a) \to 1/12$ (`baselines.abs_nonmonotone_bound`). A model below (b)
#   answers more than 50 features non-monotonically (an average of 100 errors is below half the
#   bound only if more than 50 are below the bound): it computes more nonlinear functions than it
#   has neurons.
#
# Computation in superposition means beating (b), not only (a).
#
# **Claims (ours).** At each $p$: the trained model beats (a); the trained model beats (b). Judged
# by the margin in seed sd (with the evaluation's standard error); the verdicts below are recorded
# as measured, an honest "not found" included. Reported without a claim: how each of the 100
# outputs answers a single input $\pm 1$ (both halves, one half, none).

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.optimize import linprog

from cclib import baselines, evaluate, evaluations, experiments, mixing, models, notebook, paper_runs, plotting, report

setup = notebook.setup(mode, seed, out_dir)  # checks the parameters, sets the style
out, quick, SEEDS = setup.out, setup.quick, setup.seeds
N, D = 100, 50
PS = list(paper_runs.ABS_P)
runs = {p: experiments.trained(spec, progress=True) for p, spec in paper_runs.abs_runs(seed, quick).items()}
loss = {p: evaluations.expected_loss(run, p, setup.samples) for p, run in runs.items()}
bound_a = dict(zip(PS, baselines.monotone_abs_loss(PS)))
bound_b = dict(zip(PS, baselines.abs_nonmonotone_bound(PS, N, D)))
no_superposition = baselines.abs_no_superposition_loss(N, D)

# a network of the same shape that computes nothing: a linear channel, the best output bias on a grid
BIASES = np.linspace(-0.3, 0.0, 7)


def channel_losses(n, d, biases, ps, target, seed, samples):
    """The least loss per feature of :func:`baselines.linear_channel` over the output biases, at
    each p, on labels |x| ('abs') or ReLU(x) ('relu'); shipped in the store (cclib.evaluations.memo)."""
    least = []
    for p in ps:
        found = []
        for b in biases:
            net = baselines.linear_channel(n, d, out_bias=float(b), seed=seed)
            found.append(evaluate.expected_loss(net, mixing.clean(n), p, samples, target=target)[0][0])
        least.append(min(found))
    return dict(least=np.array(least))


def channel_loss(ps, target):
    found = evaluations.memo("fig18 linear channel", channel_losses, n=N, d=D, biases=BIASES, ps=list(ps),
                             target=target, seed=seed, samples=setup.samples)
    return dict(zip(ps, found["least"].tolist()))


channel = channel_loss(PS, "abs")
for p in PS:
    print(f"p = {p:g}: trained {np.round(loss[p][0], 4)} (se {loss[p][1].mean():.1e}); (a) {bound_a[p]:.4f}, "
          f"(b) {bound_b[p]:.4f}, linear channel {channel[p]:.4f}")

# %% [markdown]
# How each output answers its own feature alone, at $v = +1$ and $v = -1$ (an output above 0.5
# counts as answering that half): an output that answers both halves is non-monotone in its feature.

# %%
def halves(model):
    """(K, 4) counts of outputs answering both halves, only v = +1, only v = -1, neither."""
    eye = torch.eye(N)[None].expand(model.n_instances, -1, -1)
    with torch.no_grad():
        pos = torch.diagonal(model(eye), dim1=1, dim2=2) > 0.5
        neg = torch.diagonal(model(-eye), dim1=1, dim2=2) > 0.5
    return torch.stack([(pos & neg).sum(1), (pos & ~neg).sum(1), (~pos & neg).sum(1), (~pos & ~neg).sum(1)], 1).numpy()


CLASSES = ["both halves", "positive half only", "negative half only", "neither (dead output)"]
counts = {p: halves(run.model) for p, run in runs.items()}
for p in PS:
    print(f"p = {p:g}: " + "; ".join(f"{c} {np.round(counts[p][:, i].mean(), 1)}" for i, c in enumerate(CLASSES)))

# An accounting, as p -> 0: an output answering both halves costs about 0, one half 1/6 (the other
# half missed), a dead output 1/3 (E[v^2]); per feature, the mean over outputs.
accounting = {p: (counts[p] @ np.array([0, 1 / 6, 1 / 6, 1 / 3]) / N).mean() for p in PS}
for p in PS:
    print(f"p = {p:g}: accounting from the counts {accounting[p]:.4f}; measured {loss[p][0].mean():.4f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw=dict(width_ratios=[1.3, 1]))
ax = axes[0]
ax.errorbar(PS, [loss[p][0].mean() for p in PS], yerr=[report.seed_noise(loss[p][0], loss[p][1].mean()) for p in PS],
            color=plotting.COLORS["trained"], marker="o", capsize=3, label="trained (mean, seed sd)")
grid = np.logspace(np.log10(PS[0]), np.log10(PS[-1]), 50)
ax.plot(grid, baselines.monotone_abs_loss(grid), color="k", ls="--", label="(a) no hidden computation: bound")
ax.plot(PS, [channel[p] for p in PS], color="k", ls="none", marker="x", label="(a) built: a linear channel")
ax.plot(grid, baselines.abs_nonmonotone_bound(grid, N, D), color=plotting.COLORS["naive"], ls="--",
        label="(b) more non-monotone outputs than neurons: bound")
ax.axhline(no_superposition, color="grey", ls=":", label="no superposition (p → 0)")
ax.axhline(1 / 3, color="grey", ls="-.", lw=1, label="zero output")
ax.set(xscale="log", xlabel="feature probability p (log scale)", ylabel="loss per feature L / p", ylim=(0, 0.36),
       title="y = |x|: trained against the baselines")
plotting.plain_log_axis(ax, "x", PS)  # a tick at every trained p, the first included
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=2, fontsize=8)
ax = axes[1]
bottom = np.zeros(len(PS))
for i, c in enumerate(CLASSES):
    heights = np.array([counts[p][:, i].mean() for p in PS])
    ax.bar(np.arange(len(PS)), heights, bottom=bottom, label=c,
           color=[plotting.COLORS["trained"], plotting.COLORS["published"], plotting.COLORS["snmf"], "lightgrey"][i])
    bottom += heights
ax.axhline(D, color="k", ls=":", lw=1, label=f"{D} neurons")
ax.set_xticks(np.arange(len(PS)), [f"p = {p:g}" for p in PS])
ax.set(ylabel="outputs (of 100), mean over seeds", title="how each output answers its feature alone (±1)")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, fontsize=8)
fig.suptitle("Fig. 18: Elhage et al.'s absolute-value model (n = 100, d = 50, output ReLU and biases)")
plotting.save_figure(fig, out, "fig18")
plt.show()

# %% [markdown]
# ## Three traps
# **1. An output ReLU on the paper's task.** On $y = \mathrm{ReLU}(x)$ an output ReLU does the whole
# task for the positive half it was meant to compute. The linear channel above, which computes
# nothing in its neurons, scored on the paper's labels ReLU(x) at $p = 0.01$:

# %%
trap_channel = channel_loss([0.01], "relu")[0.01]
print(f"linear channel with an output ReLU on y = ReLU(x), p = 0.01: L/p = {trap_channel:.4f}; "
      f"the paper's naive model: {baselines.naive_loss(N, D):.4f}")

# %% [markdown]
# **2. A loss on the active features only.** Scoring only the outputs of the features that are
# active ignores every output that fires when it should be silent. One neuron, ReLU of the sum of
# all inputs, written to every output, then answers the active feature of every one-active input
# exactly:

# %%
one_neuron = models.MLP.from_weights(torch.ones(1, N, 1), torch.ones(1, 1, N))
gen = torch.Generator().manual_seed(seed)
x = torch.zeros(1, 1 << 16, N)
x[0, torch.arange(1 << 16), torch.randint(0, N, (1 << 16,), generator=gen)] = torch.rand(1 << 16, generator=gen) * 2 - 1
active = x != 0


def active_only(model):
    with torch.no_grad():
        err = (model(x) - torch.relu(x)) ** 2
    return float(err[active].mean())


trap_active = {"one neuron": active_only(one_neuron), "naive (50 neurons)": active_only(baselines.naive())}
trap_full = {name: evaluate.one_active_loss(model, mixing.clean(N))[0]
             for name, model in (("one neuron", one_neuron), ("naive (50 neurons)", baselines.naive()))}
for name in trap_active:
    print(f"{name}, one active input: error of the active output {trap_active[name]:.4f}; the full L/p "
          f"{trap_full[name]:.4f}")

# %% [markdown]
# **3. A threshold metric and AND.** With boolean inputs, a *linear* function
# $f(a, b) = (a + b)/2 - 1/4$ is within $1/4$ of AND on all four inputs, and no linear function
# does better (a minimax fit, solved below as a linear programme). A criterion "correct to within
# $\varepsilon$" with $\varepsilon \geq 1/4$ (a 0.5 threshold among them) credits a linear model
# with computing AND; only $\varepsilon < 1/4$ tells them apart.

# %%
inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
target = inputs[:, 0] * inputs[:, 1]
# variables (w1, w2, c, t): minimise t subject to |w.x + c - AND| <= t on the four inputs
design = np.hstack([inputs, np.ones((4, 1))])
fit = linprog([0, 0, 0, 1], A_ub=np.vstack([np.hstack([design, -np.ones((4, 1))]), np.hstack([-design, -np.ones((4, 1))])]),
              b_ub=np.concatenate([target, -target]), bounds=[(None, None)] * 3 + [(0, None)])
print(f"best linear fit to AND: weights {np.round(fit.x[:2], 3)}, constant {fit.x[2]:.3f}, largest error {fit.x[3]:.4f}")

# %% [markdown]
# ## Claims
# "Beats" a bound: the bound minus the trained models' mean, against the seed sd combined with the
# evaluation's standard error. The bounds are exact (no noise of their own). The traps' claims are
# exact comparisons of computed numbers, each far from its threshold.

# %%
claims = report.Claims(mode)
# The verdicts the committed run measured (trained models above both bounds at every p: not found),
# recorded as the expected ones so that a change in them fails nbval; see the prose below.
OUTCOME = {(p, bound): False for p in PS for bound in ("(a)", "(b)")}
for p in PS:
    values, se = loss[p]
    noise = max(float(report.seed_noise(values, se.mean())) if len(SEEDS) > 1 else float(se.mean()), 1e-12)
    for name, bound in (("(a) no hidden computation", bound_a[p]), ("(b) more non-monotone outputs than neurons", bound_b[p])):
        claims.ours.compare(f"p = {p:g}: the trained model beats {name}", bound - values.mean(), 0, noise,
                            detail=f"L/p {values.mean():.4f} vs {bound:.4f}", expected=OUTCOME.get((p, name[:3]), True))
claims.ours.add("trap 1: a linear channel with an output ReLU beats the paper's naive model on y = ReLU(x) (p = 0.01)",
                trap_channel < baselines.naive_loss(N, D), f"{trap_channel:.4f} vs {baselines.naive_loss(N, D):.4f}")
claims.ours.add("trap 2 (one active input): one neuron has a lower active-only error than naive, and a higher full loss",
                trap_active["one neuron"] < trap_active["naive (50 neurons)"] and trap_full["one neuron"] > trap_full["naive (50 neurons)"],
                f"active-only {trap_active['one neuron']:.4f} vs {trap_active['naive (50 neurons)']:.4f}; "
                f"full {trap_full['one neuron']:.3f} vs {trap_full['naive (50 neurons)']:.4f}")
claims.ours.add("trap 3: the best linear fit to AND is within 1/4 on all four inputs, and no closer",
                abs(fit.x[3] - 0.25) < 1e-9, f"largest error {fit.x[3]:.6f}")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig18", mode, seed, claims, seeds=SEEDS, ps=PS,
                  **{f"p{p:g}_trained": loss[p][0].mean() for p in PS},
                  **{f"p{p:g}_bound_a": bound_a[p] for p in PS}, **{f"p{p:g}_bound_b": bound_b[p] for p in PS},
                  **{f"p{p:g}_linear_channel": channel[p] for p in PS},
                  **{f"p{p:g}_both_halves": counts[p][:, 0].mean() for p in PS},
                  **{f"p{p:g}_dead_outputs": counts[p][:, 3].mean() for p in PS},
                  trap_channel=trap_channel, trap_one_neuron_active_only=trap_active["one neuron"],
                  trap_and_linear_error=fit.x[3])

# %% [markdown]
# **What the numbers show** (the committed run at paper settings). Not found from this start: at every $p$ the
# trained models (L/p about 0.23) are above both bounds, (b) by 11 to 23 seed sd and even (a) by 5
# to 10; at $p \leq 0.03$ they are above even the linear channel, which computes nothing. They are
# below the $p \to 0$ value of "no superposition" (0.25, not judged), the wrong bar. The counts say why: a third to two fifths
# of the outputs are dead (they answer neither $+1$ nor $-1$ on their own feature), most of the
# rest answer one half, and on average at most five of 100 answer both. The accounting from the counts alone
# (dead 1/3, one half 1/6, both 0) comes within 0.0015 of the measured loss at $p \leq 0.03$ and
# 0.007 at $p = 0.1$, so dead outputs and missed halves are nearly the whole story. This is what
# *this* training finds (Adam, the default steps and learning rate, uniform importance, the
# published initialisation with zero biases, n = 100, d = 50); it is not a property of the
# architecture, and it is not a rerun of Elhage et al.'s own settings. An output whose ReLU stays
# shut gets no gradient. Fig. 19 builds networks of this architecture that beat (b) at small p,
# and trains it from one tenth of the published initial scale, which beats (b) when trained at
# p = 0.01, and from a construction, which beats (b) at p = 0.003 and 0.01.
