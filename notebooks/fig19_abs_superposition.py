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
# # Fig. 19 — computation in superposition where the read-out is nonlinear: built, trained, and where it ends (beyond the paper)
#
# Fig. 18's trained |x| models (Elhage et al.'s $\hat y = \mathrm{ReLU}(W_{out}\,\mathrm{ReLU}(W_{in} x + b_{in}) + b_{out})$,
# $n = 100$, $d = 50$, $y = |x|$, Bernoulli inputs) ended above every useful bar, a third to two
# fifths of their outputs dead. That was this training from the published initialisation, not the
# architecture. Here the same architecture is built by hand and trained from other starts, and
# every model is judged against a ladder of baselines (loss per feature $L/p$):
#
# * **no superposition** (each neuron reads one feature): $L/p \to 1/3 - d/(6n) = 0.25$ as
#   $p \to 0$, whatever the split of neurons between features
#   (`baselines.abs_no_superposition_loss`: as $p \to 0$ output $i$ sees only its own feature's
#   neurons; none cost $E[v^2] = 1/3$, one leaves it monotone and misses a half, $1/6$, two give
#   $|x_i|$ exactly; with $f_2$ features on two neurons and $d - 2f_2$ on one the loss is
#   $(n/3 - d/6)/n$ for every $f_2$);
# * **(a) no hidden computation**: every output monotone in its own feature, $L/p \geq$
#   `baselines.monotone_abs_loss(p)` $\to 1/6$ (Fig. 18);
# * **(b) more non-monotone outputs than neurons**: $(n - d)/n$ times (a), $\to 1/12$ at
#   $d = 50$ (`baselines.abs_nonmonotone_bound`). A bound, not a model: a model below it answers
#   more than $d$ features non-monotonically, more than it has neurons. *Beating (b) is what we
#   call computation in superposition here*;
# * **the best construction** we could build (below).
#
# **Constructions** (`cclib.constructions`). Each half of each feature ($x_i > 0$, $x_i < 0$) gets
# a code, a few of the $d$ neurons; $W_{in}$ sends $\pm x_i$ to them, so a lone $x_i$ fires its
# own half's code. Output $k$ reads $1/m$ from its own two codes and inhibits the others: with
# **Steiner codes** (two Steiner triple systems, one per sign; two codes share at most one
# neuron) a uniform inhibition $t/(m(m - t))$ suffices; with **random codes** the read-out of
# each output is the one with the least interference energy that keeps every other output shut
# (a small quadratic programme). The Steiner codes, and random codes wherever that programme is
# feasible, are exact on one active input (loss 0; the random 3-codes at $d = 25$ are not) and
# lose when features co-occur. The **moment curve** (six neurons, codes $(1, t_i, t_i^2)$, a quadratic
# read-out) is also exact on one active input for all 100 features, and useless otherwise: one
# active input is a degenerate test of this architecture, so everything here is judged on
# Bernoulli inputs and on exactly $k$ co-active features.
#
# **Training** (`paper-code/abs_training.py`, results in `paper-code/results/abs_training.json`):
# the recipe of Fig. 18 (AdamW, cosine schedule, the default steps, batch 2048) from other
# starts: a screen over the initial scale of every weight (1, 0.3, 0.1, 0.03 times the published
# bounds), the learning rate and the output-bias init at 4000 steps and one seed; then the kept
# recipe, **init scale 0.1**, with three seeds at the default steps; and three seeds **started
# from the Steiner construction**. These starts are fields of the run spec (`model.init_scale`,
# `model.out_bias_init`, `model.start`); the registry holds the two kept starts at $p = 0.01$, the
# density where both beat (b). The screen and the other densities and widths, about an hour of
# training, are cached locally by `abs_training.py` and their evaluations committed, not stored.
#
# **Claims (ours).** At each $p$ (and, at $d = 50$, each $k$): whether a construction
# and a trained model beat (b), by how many evaluation standard errors (a construction is one
# deterministic network) or seed sd (trained, three seeds, with the evaluation's standard error),
# under the MSE. Where each stops beating (b): $p^*$ (the crossing of its $L/p$ curve with (b),
# with the crossings of the curve $\pm 2$ SE as its range for a construction, the three seeds' own
# crossings for a trained model) and $k^*$ (the largest $k$ up to which its loss per active
# feature stays below the exactly-$k$ version of (b) by 2 SE, or 2 seed sd), at $d = 25, 50, 75$;
# $p^*$ and $k^*$ are reported, not judged. The verdicts are recorded as measured.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from cclib import (analysis, baselines, constructions, evaluate, evaluations, experiments, mixing, notebook, paper_runs,
                   plotting, report)

setup = notebook.setup(mode, seed, out_dir)  # checks the parameters, sets the style
out, quick, SEEDS = setup.out, setup.quick, setup.seeds
N = 100
WIDTHS = (25, 50, 75)
PS = (0.001, 0.003, 0.01, 0.03, 0.1)             # where the constructions are scored
KS = tuple(range(1, 9))                            # exactly k co-active features
P_FINE = np.logspace(-3, -1, 9 if quick else 25)  # for p*


def bound_b(p, d):
    return baselines.abs_nonmonotone_bound(p, N, d)


def candidates(n, d, seed):
    """The constructions tried at width d (Steiner codes need d >= 50)."""
    found = {} if d < 50 else {"Steiner codes, inhibition": constructions.code_network(*constructions.split_codes(n, d, seed), d)}
    for m in (3, 5):
        codes = constructions.random_codes(n, d, m, seed)
        found[f"random {m}-codes, least interference"] = constructions.code_network(*codes, d, readout="least_interference")
    return found


def scored(model, ps, p_fine, ks, samples):
    """A network's one-active loss, L/p at ps and on p_fine (with SE), and loss per active feature on
    exactly k active (with SE)."""
    clean = mixing.clean(model.n_features)
    at = evaluate.loss_curve(model, clean, list(ps), samples, target="abs")
    fine = evaluate.loss_curve(model, clean, p_fine, samples, target="abs")
    per_k, per_k_se = evaluate.loss_per_active(model, clean, list(ks), samples, target="abs")
    return dict(one=float(evaluate.one_active_loss(model, clean, target="abs")[0]), at=at.loss[0], at_se=at.se[0],
                fine=fine.loss[0], fine_se=fine.se[0], per_k=per_k[0], per_k_se=per_k_se[0])


def built_and_scored(n, widths, ps, p_fine, ks, seed, samples):
    """Every construction at each width, and the moment curve at d = 50, scored; deterministic, so
    shipped in the store (cclib.evaluations.memo)."""
    built = {str(d): {name: scored(net, ps, p_fine, ks, samples) for name, net in candidates(n, d, seed).items()}
             for d in widths}
    return dict(built=built, moment=scored(constructions.moment_curve(n, 50), ps, p_fine, ks, samples))


found = evaluations.memo("fig19 constructions", built_and_scored, n=N, widths=WIDTHS, ps=PS, p_fine=P_FINE, ks=KS,
                         seed=seed, samples=setup.samples)
built = {int(d): {name: dict(s, one=float(s["one"])) for name, s in table.items()} for d, table in found["built"].items()}
moment = dict(found["moment"], one=float(found["moment"]["one"]))
# the best construction at each width: the lowest L/p at p = 0.003 (the rule is stated, not tuned)
best = {d: min(built[d], key=lambda name: built[d][name]["at"][PS.index(0.003)]) for d in WIDTHS}
for d in WIDTHS:
    print(f"d = {d}: (b) at p = {PS}: {np.round(bound_b(PS, d), 4).tolist()}")
    for name, s in built[d].items():
        print(f"  {name}{' (best)' if name == best[d] else ''}: one active {s['one']:.1e}; "
              f"L/p {np.round(s['at'], 4).tolist()}; per active feature, k = 1..8: {np.round(s['per_k'], 3).tolist()}")
print(f"moment curve (d = 50, six neurons): one active {moment['one']:.1e}; L/p {np.format_float_scientific(moment['at'][0], 2)} "
      f"at p = 0.001; per active feature at k = 2: {moment['per_k'][1]:.3g}")

# %% [markdown]
# **Where the constructions stop beating (b).** $p^*$ from the fine grid of $p$; $k^*$ against
# the exactly-$k$ bound. With exactly $k$ active the bound (a) per active feature is
# `baselines.MONOTONE_K_ACTIVE` = 0.0572 for every $k$ (an output's value when its feature is
# inactive is free there, so the fit is not pinned to 0 as under Bernoulli inputs), and (b) is
# $(n - d)/n$ times it (`baselines.k_active_bounds`).

# %%
def p_star(fine, fine_se, d):
    """(p*, low, high): where the curve, and the curve +- 2 SE, cross (b)."""
    b = bound_b(P_FINE, d)
    return (analysis.first_crossing(P_FINE, fine, b), analysis.first_crossing(P_FINE, fine + 2 * fine_se, b),
            analysis.first_crossing(P_FINE, fine - 2 * fine_se, b))


def k_star(per_k, noise, d):
    """The largest k up to which the loss per active feature is below (b)_k by 2 noise units."""
    return analysis.k_star(KS, per_k, noise, baselines.k_active_bounds(N, d)["(b)"])


construction_star = {d: (p_star(built[d][best[d]]["fine"], built[d][best[d]]["fine_se"], d),
                         k_star(built[d][best[d]]["per_k"], built[d][best[d]]["per_k_se"], d)) for d in WIDTHS}
for d, ((p, lo, hi), k) in construction_star.items():
    print(f"d = {d}, {best[d]}: p* = {p:.4f} (range {lo:.4f} to {hi:.4f}); k* = {k} "
          f"((b)_k = {baselines.k_active_bounds(N, d)['(b)']:.4f} per active feature)")

# %% [markdown]
# ## Trained: what the screen found, and the kept recipes
# The screen (one seed, 4000 steps): $L/p$ at each $p$ and how many of the 100 outputs answer
# both halves of a lone $\pm 1$ (output $> 0.5$), and how many answer neither (dead).

# %%
measured = json.loads((Path(notebook.__file__).resolve().parents[2] / "paper-code" / "results" / "abs_training.json").read_text())
stages = measured["stages"]
print(f"abs_training.json: commit {measured['provenance']['git_commit']}, {measured['provenance']['cpu']}")
for row in stages["screen"]:
    s = row["settings"]
    label = f"init scale {s['scale']:g}" + (f", lr {s['lr']:g}" if "lr" in s else "") + \
        (f", output bias {s['out_bias']:g}" if "out_bias" in s else "")
    halves = np.array(row["halves"])
    print(f"{label:<40} L/p {np.round(row['loss'], 4).tolist()} at p = {s['ps']}; both halves "
          f"{halves[:, 0].tolist()}, dead {halves[:, 3].tolist()}")


def by_p(row):
    """{p: (L/p over seeds, mean SE, mean count of outputs answering both halves, mean dead)} of a run."""
    ps = np.array(row["settings"]["ps"])
    loss, se, halves = (np.array(row[k]) for k in ("loss", "se", "halves"))
    return {float(p): (loss[ps == p], se[ps == p].mean(), halves[ps == p, 0].mean(), halves[ps == p, 3].mean())
            for p in sorted(set(ps.tolist()))}


kept, steiner = by_p(stages["kept"][0]), by_p(stages["steiner"][0])
widths = {row["settings"]["d"]: by_p(row) for row in stages["widths"]}
published = {p: evaluations.expected_loss(experiments.trained(spec), p, setup.samples)  # Fig. 18's
             for p, spec in paper_runs.abs_runs(seed, quick).items()}
for name, table in (("init scale 0.1", kept), ("from the Steiner construction", steiner)):
    for p, (values, se, both, dead) in table.items():
        print(f"{name}, p = {p:g}: L/p {np.round(values, 4).tolist()} (se {se:.1e}); (a) "
              f"{baselines.monotone_abs_loss([p])[0]:.4f}, (b) {bound_b([p], 50)[0]:.4f}; both halves {both:.1f}, dead {dead:.1f}")
for d, table in widths.items():
    for p, (values, se, both, dead) in table.items():
        print(f"d = {d}, init scale 0.1, p = {p:g}: L/p {np.round(values, 4).tolist()}; (b) {bound_b([p], d)[0]:.4f}; "
              f"both halves {both:.1f}, dead {dead:.1f}")

# %% [markdown]
# **The registered runs.** Two of these starts are fields of the run spec (`model.init_scale`,
# `model.start`), and at $p = 0.01$ they are runs of the registry: trained by `make store`, shipped
# in the store, retrained by `make reproduce`. Three seeds each, the recipe of the `kept` and
# `steiner` stages above. Those stages trained all four densities together in one run, so the
# registered runs agree with them up to float rounding (amplified by the long training), not to the
# bit.

# %%
registered = {name: experiments.trained(spec) for name, spec in paper_runs.abs_start_runs(seed, quick).items()}
P_START = paper_runs.ABS_START_P
registered_loss = {name: evaluations.expected_loss(run, P_START, setup.samples) for name, run in registered.items()}
for name, (values, se) in registered_loss.items():
    print(f"{name}, p = {P_START:g}: L/p {np.round(values, 4).tolist()} (se {se.mean():.1e}); "
          f"(b) {bound_b([P_START], 50)[0]:.4f}")

# %% [markdown]
# The trained models' own curves: each instance evaluated on the grid of
# `abs_training.P_GRID` and on exactly $k$ active. For each start and width, the **best trained
# model** is the training density whose three seeds beat (b) furthest (the latest crossing of
# their mean curve with (b); the rule is stated, not tuned); its $p^*$ is that crossing (the range:
# the seeds' own crossings), its $k^*$ as for the constructions with the seed sd as the noise.

# %%
GRID = np.array(measured["p_grid"])


def trained_star(row, d):
    """The best trained model of a row of abs_training.json: the p it was trained at, its p* with
    the lowest and highest seed crossing, its k*, its mean curve, and its mean loss per active
    feature with the seed sd."""
    ps = np.array(row["settings"]["ps"])
    b = bound_b(GRID, d)
    found = []
    for p_train in sorted(set(ps.tolist())):
        curve, per_k, per_k_se = (np.array(row[k])[ps == p_train] for k in ("curve", "per_k", "per_k_se"))
        crossings = [analysis.first_crossing(GRID, c, b) for c in curve]
        noise = report.seed_noise(per_k, per_k_se.mean(0))
        found.append(dict(p_train=p_train, p_star=analysis.first_crossing(GRID, curve.mean(0), b),
                          low=min(crossings), high=max(crossings), k_star=k_star(per_k.mean(0), noise, d),
                          curve=curve.mean(0), per_k=per_k.mean(0), noise=noise))
    return max(found, key=lambda f: f["p_star"])


stars = {("init scale 0.1", 50): trained_star(stages["kept"][0], 50),
         ("from the Steiner codes", 50): trained_star(stages["steiner"][0], 50)}
stars.update({("init scale 0.1", row["settings"]["d"]): trained_star(row, row["settings"]["d"]) for row in stages["widths"]})
for (start, d), star in sorted(stars.items(), key=lambda item: item[0][1]):
    (cp, clo, chi), ck = construction_star[d]
    print(f"d = {d}, trained {start}: best trained at p = {star['p_train']:g}: p* = {star['p_star']:.4f} "
          f"(seeds {star['low']:.4f} to {star['high']:.4f}), k* = {star['k_star']}; best construction: "
          f"p* = {cp:.4f} ({clo:.4f} to {chi:.4f}), k* = {ck}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 5))
ax = axes[0]
grid = np.logspace(-3, -1, 50)
ax.plot(grid, baselines.monotone_abs_loss(grid), color="k", ls="--", label="(a) no hidden computation")
ax.plot(grid, bound_b(grid, 50), color=plotting.COLORS["naive"], ls="--", lw=2, label="(b) more non-monotone outputs than neurons")
ax.axhline(baselines.abs_no_superposition_loss(N, 50), color="grey", ls=":", label="no superposition (p → 0)")
for (name, s), grey in zip(built[50].items(), ("0.55", "0.7", "0.8")):
    ax.plot(P_FINE, s["fine"], lw=2 if name == best[50] else 1, color=plotting.COLORS["embed"] if name == best[50] else grey,
            label=f"built: {name}")
for name, table, color, marker in (("trained, published init (Fig. 18)", {p: (v, se.mean(), 0, 0) for p, (v, se) in published.items()}, plotting.COLORS["published"], "s"),
                                   ("trained, init scale 0.1", kept, plotting.COLORS["trained"], "o"),
                                   ("trained from the Steiner codes", steiner, plotting.COLORS["snmf"], "^")):
    ps = sorted(table)
    ax.errorbar(ps, [table[p][0].mean() for p in ps], yerr=[report.seed_noise(table[p][0], table[p][1]) for p in ps],
                color=color, marker=marker, ls="none", capsize=3, label=name)
ax.set(xscale="log", yscale="log", xlabel="feature probability p", ylabel="loss per feature L / p",
       title="d = 50: L/p against the ladder", ylim=(0.004, 0.5))
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=2, fontsize=7)

ax = axes[1]
bk = baselines.k_active_bounds(N, 50)
ax.axhline(bk["(a)"], color="k", ls="--", label="(a), exactly k active")
ax.axhline(bk["(b)"], color=plotting.COLORS["naive"], ls="--", lw=2, label="(b), exactly k active")
s = built[50][best[50]]
ax.errorbar(KS, s["per_k"], yerr=2 * s["per_k_se"], marker="o", capsize=3, color=plotting.COLORS["embed"], label=f"built: {best[50]}")
for (start, d), star in stars.items():
    if d == 50:
        ax.plot(KS, star["per_k"], marker="s", color=plotting.COLORS["trained" if start.startswith("init") else "snmf"],
                label=f"trained {start} at p = {star['p_train']:g} (mean of 3)")
ax.set(xlabel="co-active features k", ylabel="loss per active feature", ylim=(0, 0.35),
       title="d = 50: how many co-active features the code survives")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=2, fontsize=7)

ax = axes[2]
for d, color in zip(WIDTHS, ("#1b9e77", "#d95f02", "#7570b3")):
    s = built[d][best[d]]
    ax.plot(P_FINE, s["fine"] / bound_b(P_FINE, d), color=color, label=f"d = {d}: built ({best[d].split(',')[0]})")
    star = stars[("init scale 0.1", d)]
    ax.plot(GRID, star["curve"] / bound_b(GRID, d), color=color, ls="--",
            label=f"d = {d}: trained at p = {star['p_train']:g}, init 0.1")
ax.axhline(1, color="k", lw=1, label="= (b)")
ax.set(xscale="log", yscale="log", xlabel="feature probability p", ylabel="L/p relative to (b)",
       title="each width against its own (b): below 1 beats it")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncols=2, fontsize=7)
fig.suptitle("Fig. 19: Elhage et al.'s |x| model (n = 100) computes in superposition at small p — built and trained")
plotting.save_figure(fig, out, "fig19")
plt.show()

# %% [markdown]
# ## Claims
# A construction is one deterministic network: its margin is in the evaluation's standard
# errors. Trained models: the bound minus the mean over three seeds, in the seed sd combined with
# the evaluation's standard error. The bounds are exact. Verdicts as measured are recorded in
# `EXPECTED` (a key missing there expects "holds"), so a change fails nbval.

# %%
# The verdicts the committed measurement gives, recorded so that a change fails nbval (a key not
# here expects "holds"). Constructions: below (b) up to p* of each width, and only at k = 1.
EXPECTED = {**{("built", d, p): False for d, ps in ((25, PS[2:]), (50, PS[3:]), (75, PS[2:])) for p in ps},
            **{("built k", 50, k): False for k in KS[1:]},
            **{("trained", "init scale 0.1", p): False for p in (0.003, 0.03, 0.1)},
            **{("trained", "from the Steiner codes", p): False for p in (0.03, 0.1)},
            ("trained", "init scale 0.1, d = 25", 0.003): "inconclusive",
            ("trained", "init scale 0.1, d = 25", 0.01): "inconclusive",
            ("trained", "init scale 0.1, d = 25", 0.03): False,
            ("trained", "init scale 0.1, d = 75", 0.003): False,
            ("trained", "init scale 0.1, d = 75", 0.01): "inconclusive",
            ("trained", "init scale 0.1, d = 75", 0.03): False,
            ("trained k", "init scale 0.1", 1): "inconclusive",
            **{("trained k", start, k): False for start in ("init scale 0.1", "from the Steiner codes") for k in KS[1:]}}
claims = report.Claims(mode)


def judge(key, name, gap, noise, detail):
    claims.ours.compare(name, gap, 0, max(float(noise), 1e-12), detail=detail, unit="SE" if key[0].startswith("built") else "sd",
                        expected=EXPECTED.get(key, True))


for d in WIDTHS:
    s = built[d][best[d]]
    for i, p in enumerate(PS):
        judge(("built", d, p), f"d = {d}, p = {p:g}: the best construction beats (b)", bound_b([p], d)[0] - s["at"][i],
              s["at_se"][i], f"{best[d]}: L/p {s['at'][i]:.4f} vs (b) {bound_b([p], d)[0]:.4f}")
s = built[50][best[50]]
for j, k in enumerate(KS):
    judge(("built k", 50, k), f"d = 50, exactly {k} active: the best construction beats (b)",
          bk["(b)"] - s["per_k"][j], s["per_k_se"][j], f"per active feature {s['per_k'][j]:.4f} vs {bk['(b)']:.4f}")
for name, table, d in (("init scale 0.1", kept, 50), ("from the Steiner codes", steiner, 50),
                       *((f"init scale 0.1, d = {w}", widths[w], w) for w in widths)):
    for p, (values, se, _, _) in table.items():
        judge(("trained", name, p), f"p = {p:g}: the model trained {name} beats (b)", bound_b([p], d)[0] - values.mean(),
              report.seed_noise(values, se) if len(values) > 1 else se, f"L/p {values.mean():.4f} vs (b) {bound_b([p], d)[0]:.4f}")
for name, (values, se) in registered_loss.items():
    judge(("registered", name), f"p = {P_START:g}: the registry run abs_{name} beats (b)",
          bound_b([P_START], 50)[0] - values.mean(), report.seed_noise(values, se.mean()),
          f"L/p {values.mean():.4f} vs (b) {bound_b([P_START], 50)[0]:.4f}")
for start in ("init scale 0.1", "from the Steiner codes"):
    star = stars[(start, 50)]
    for j, k in enumerate(KS):
        judge(("trained k", start, k), f"d = 50, exactly {k} active: the best model trained {start} (at p = {star['p_train']:g}) beats (b)",
              bk["(b)"] - star["per_k"][j], star["noise"][j], f"per active feature {star['per_k'][j]:.4f} vs {bk['(b)']:.4f}")
claims.ours.add("one active input is degenerate: the moment curve (six neurons) is exact on it and fails at two",
                moment["one"] < 1e-5 and moment["per_k"][1] > 1, f"one active {moment['one']:.1e}; k = 2: {moment['per_k'][1]:.3g}")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig19", mode, seed, claims, seeds=SEEDS, widths=list(WIDTHS), ps=list(PS),
                  **{f"d{d}_best_construction": best[d] for d in WIDTHS},
                  **{f"d{d}_construction_p{p:g}": built[d][best[d]]["at"][i] for d in WIDTHS for i, p in enumerate(PS)},
                  **{f"d{d}_construction_p_star": construction_star[d][0][0] for d in WIDTHS},
                  **{f"d{d}_construction_k_star": construction_star[d][1] for d in WIDTHS},
                  **{f"d{d}_trained_p_star": stars[("init scale 0.1", d)]["p_star"] for d in WIDTHS},
                  **{f"d{d}_trained_k_star": stars[("init scale 0.1", d)]["k_star"] for d in WIDTHS},
                  d50_trained_best_p=stars[("init scale 0.1", 50)]["p_train"],
                  kept_init_scale=stages["kept"][0]["settings"]["scale"],
                  steiner_start_best_p=stars[("from the Steiner codes", 50)]["p_train"],
                  steiner_start_p_star=stars[("from the Steiner codes", 50)]["p_star"],
                  steiner_start_k_star=stars[("from the Steiner codes", 50)]["k_star"],
                  **{f"kept_p{p:g}": v[0].mean() for p, v in kept.items()},
                  **{f"steiner_start_p{p:g}": v[0].mean() for p, v in steiner.items()},
                  **{f"registered_{name}_p{P_START:g}": v[0].mean() for name, v in registered_loss.items()})

# %% [markdown]
# **What the numbers show.** The numbers below are printed from the measurement, and the text
# after them says only what they show.

# %%
def seeds_of(table, p):
    return f"{table[p][0].mean():.3f} (three seeds {table[p][0].min():.3f} to {table[p][0].max():.3f})"


for d in WIDTHS:
    (cp, clo, chi), ck = construction_star[d]
    print(f"d = {d}: best construction ({best[d]}) beats (b) up to p* = {cp:.4f}, k* = {ck}; "
          f"L/p at p = 0.003: {built[d][best[d]]['at'][1]:.4f} against (b) {bound_b([0.003], d)[0]:.4f}")
for (start, d), star in sorted(stars.items(), key=lambda item: item[0][1]):
    print(f"d = {d}, trained {start}: the best (trained at p = {star['p_train']:g}) beats (b) up to "
          f"p* = {star['p_star']:.4f} (seeds {star['low']:.4f} to {star['high']:.4f}), k* = {star['k_star']}")
print(f"d = 50, init scale 0.1: L/p at p = 0.003 {seeds_of(kept, 0.003)}, at p = 0.01 {seeds_of(kept, 0.01)}; "
      f"(b) {bound_b([0.01], 50)[0]:.4f}")
print(f"d = 50, from the Steiner codes: L/p at p = 0.003 {seeds_of(steiner, 0.003)} (the construction itself "
      f"{built[50]['Steiner codes, inhibition']['at'][1]:.4f}), at p = 0.01 {seeds_of(steiner, 0.01)} "
      f"(construction {built[50]['Steiner codes, inhibition']['at'][2]:.4f})")
for p in (0.003, 0.01):
    row = stages["kept"][0]
    halves = np.array(row["halves"])[np.array(row["settings"]["ps"]) == p]
    print(f"d = 50, init scale 0.1, trained at p = {p:g}: outputs answering both halves per seed "
          f"{halves[:, 0].tolist()}, dead {halves[:, 3].tolist()}")
print(f"published init (Fig. 18): L/p {', '.join(f'{v.mean():.3f}' for v, _ in published.values())} at p = {list(published)}")

# %% [markdown]
# At small $p$ this architecture computes in superposition: the constructions, and the model
# trained from the Steiner construction, answer both halves of more features than they have
# neurons with a loss below (b), by tens to hundreds of noise units. The model trained from a
# small initial scale does so too, more narrowly: at $d = 50$ when trained at $p = 0.01$ (by the
# margin in the table), not decisively at $d = 25$ or $75$. It ends early. The best construction at
# each width stops beating (b) where a sample holds about one active feature on average
# ($n p^*$ between 0.5 and 1.3), and the loss per active feature says why: it survives one
# active feature ($k^* = 1$) and loses to (b) as soon as two are active. Training from a
# construction improves it where features co-occur (its $p^*$ moves up, its loss at two active
# features down) but does not change $k^*$. $p^*$ is not monotone in $d$: it rises from $d = 25$
# to $50$ and falls at $75$, where the best construction we found (random 3-codes) crosses earlier
# than the Steiner codes at $d = 50$, because (b) halves from $d = 50$ to $d = 75$ while the
# codes' loss falls by about a third. The small-init models, evaluated away from the $p$ they were
# trained at, stay below (b) up to a later $p^*$ than the best construction at every width (a
# crossing of their mean curve, not a judged margin). So "where it ends" is a property of the
# constructions and trainings we tried, a lower bound on what the architecture can do, not a
# limit of it.
#
# What training finds depends on where it starts. From the published initial scale it ends above
# (a) and (b), with 25 to 79 of its 100 outputs dead, at every $p$, learning rate and output-bias
# init we screened. From one tenth of that scale it beats (b) when trained at $p = 0.01$ (as did
# the one screened seed at 0.03 of the scale), where 89 to 96 of the 100 outputs answer both
# halves; not when trained at $p = 0.003$, where about 28 of its outputs die, nor at
# $p \geq 0.03$, where even the constructions lose to (b). Its mean loss on one active feature is
# below (b) but within its seed sd ($k^* = 0$). Started from the Steiner construction, training
# keeps every output alive and beats (b) when trained at $p = 0.003$ and $0.01$. At $d = 25$ the
# small-init recipe ties (b) when trained at $p = 0.003$ and $0.01$, at $d = 75$ when trained at
# $p = 0.01$ (margins within the noise), and loses to it at the other training $p$. These are our
# claims, beyond the paper; the paper makes none about this model.
