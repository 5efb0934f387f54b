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
# # Fig. 1 — the residual stream acts only as a mixing matrix
#
# Braun et al.'s model embeds the 100 features into a 1000-dim residual stream with fixed random
# unit vectors $W_E$, applies one MLP block and reads out with $W_U = W_E^T$; labels are
# $x + \mathrm{ReLU}(x)$. Writing out what the MLP block must produce, the stream's own read-out
# $x W_E W_E^T$ moves to the label side: the MLP sees $\mathrm{ReLU}(x) - x (W_E W_E^T - I)$, a mixing
# matrix with a **minus** sign. The published code trained the simplified MLP with a plus sign.
#
# We train, from the same embeddings, the residual model, the simplified MLP on the minus-sign
# labels and the simplified MLP on the plus-sign labels (p = 0.01, 10,000 steps, three seeds each;
# a seed fixes the embedding, so the three models of a seed share it).
#
# **Claim.** The residual model and the MLP with the matching (minus) sign produce the same
# results. The dotted line is the naive model scored on these labels with M (the mixing
# $-(W_E W_E^T - I)$ of each seed's embedding, averaged; `cclib.bounds.naive_loss_on`); the dashed one,
# naive on clean labels (1/12), is the baseline the paper compares against.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = None  # None: paper-code/output of this checkout, from any working directory


# %%
import matplotlib.pyplot as plt
import numpy as np

from cclib import bounds, evaluations, experiments, notebook, paper_runs, plotting, report

setup = notebook.setup(mode, seed, out_dir)  # checks the parameters, sets the style
out, quick = setup.out, setup.quick
seeds = [seed, seed + 1] if quick else [seed, seed + 1, seed + 2]

# %%
runs = paper_runs.equivalence(seed, quick)  # residual, mlp_minus, mlp_plus: p = 0.01, 10,000 steps
p_eval = setup.p_eval
per_seed = {}
for name, config in runs.items():
    run = experiments.trained(config, progress=True)
    # the residual model is scored through its folded MLP and its own (minus-sign) mixing: the
    # same loss as the full residual computation on labels x + ReLU(x) (tested in tests/).
    per_seed[name] = evaluations.loss_curve(run, p_eval, setup.samples).loss
    if name == "mlp_minus":
        minus_mixing, width = run.mixing, run.model.d_mlp
# the minus-sign MLP once more, its W_out started at the residual model's folded scale (below)
matched = experiments.trained(paper_runs.equivalence_matched_init(seed, quick), progress=True)
per_seed["mlp_matched"] = evaluations.loss_curve(matched, p_eval, setup.samples).loss
curves = {name: c.mean(0) for name, c in per_seed.items()}

# %%
fig, ax = plt.subplots(figsize=(7, 4.3))
styles = {"residual": dict(color=plotting.COLORS["residual"], lw=2.5, alpha=0.6,
                           label="residual model (Braun et al.), labels x + ReLU(x)"),
          "mlp_minus": dict(color="k", ls="-", lw=1.2, label="MLP on $ReLU(x) - x\\,(W_E W_E^T - I)$"),
          "mlp_plus": dict(color=plotting.COLORS["snmf"], ls="--", lw=1.2,
                           label="MLP on $ReLU(x) + x\\,(W_E W_E^T - I)$ (published sign)"),
          "mlp_matched": dict(color=plotting.COLORS["residual"], ls=":", lw=1.6,
                              label="MLP on the minus sign, $W_{out}$ started at the residual's scale")}
for name, c in per_seed.items():
    ax.plot(p_eval, curves[name], **styles[name])
plotting.naive_line(ax)
plotting.naive_on_labels_line(ax, float(bounds.naive_loss_on(minus_mixing, width).mean()))
ax.set(xscale="log", yscale="log", xlabel="evaluation feature probability p_eval (log scale)",
       ylabel="loss per feature $L / p$ (log scale)", title=f"Fig. 1: residual model vs simplified MLP ({plotting.over_seeds(len(seeds), 'mean')})")
plotting.plain_log_axis(ax, "y", [0.06, 0.07, 0.08, 0.09, 0.1, 0.12])
ax.legend(fontsize="x-small")
plotting.save_figure(fig, out, "fig01")
plt.show()

# %% [markdown]
# The seed-to-seed spread is narrower than the lines (see the claims' numbers), so no band is
# drawn.
#
# ## Claims
# The gap between two curves is averaged over p_eval, for each seed (the residual model and the
# MLPs of a seed share the embedding). "Within the seed spread": the mean gap between the
# residual and the minus-sign MLP is smaller than the seed-to-seed spread of the minus-sign MLP
# (the mean absolute deviation of a seed's curve from the seeds' mean). "The minus sign is the
# closer": the plus-sign gap minus the minus-sign gap is positive. Margins are in seed standard
# errors of those per-seed numbers. The paper's words, "the same results", are also judged as a
# relative gap of the loss: the mean curves of the residual model and the minus-sign MLP differ by
# less than 5% at every p_eval. 5% is how this project reads the paper's "almost the same" for
# two curves elsewhere (Fig. 5a: symmetric against embedding-like M, which differ by up to a few
# percent); the seed spread is printed beside it. Whether the minus sign is the closer at
# *every* p_eval is checked on the mean curves, point by point.
#
# **Why the gap?** A likely cause is the initial scale: the residual model's $W_{out}$ is
# (50, 1000) with the published bound $\sqrt{6/1000}$, and its folded $W_{out} W_E^T$ keeps that
# entry scale (W_E's rows are unit vectors), $\sqrt{n/D} = 0.32$ times the MLP's
# $\sqrt{6/100}$; its folded $W_{in}$ has the MLP's scale. The dotted run tests it: the same
# minus-sign MLP, seeds and data, with $W_{out}$ started at the residual model's scale
# (`model.out_init_scale` = 0.316). If the initial scale is the cause, this run is closer to the
# residual model than the published-init MLP is, by more than the seed noise of the gaps.


# %% [markdown]
# **Summary of findings** (the claims cells below give the evidence). As loss functions the two are identical: the residual model's loss equals the
# folded MLP's loss on the minus-sign labels, sample by sample (`tests/test_models.py`). The
# trained models are not quite identical: they agree at sparse p_eval, but their curves differ
# by several times the seed-to-seed spread (which is tiny) at dense p_eval. Since the losses are
# identical, the difference must arise in training; a likely cause, of which only the first part
# is tested here, is that the residual model's weights live in the 1000-dim stream, with their own
# initial scale, and AdamW normalises its steps in that basis. Read as a relative gap of the
# loss, "the same results" holds: the mean curves differ by at most 2.3% (1.4% on average), well
# inside 5%, though far outside the seed spread (0.3% of the loss). The minus sign is the closer
# on average and at sparse p_eval, but not everywhere: from p_eval 0.046 on (45% of the grid) the
# plus-sign curve lies closer to the residual model's. So the residual stream acts as a mixing
# matrix, with the minus sign, to within a few percent. The initial scale is part of the
# difference, not all of it: started at the residual model's $W_{out}$ scale, the MLP comes
# closer (mean gap 0.0012 to 0.0009, largest relative gap 2.3% to 1.8%), but stays far outside
# the seed spread (0.0002). What is left is likely the optimiser's basis (AdamW normalises each of
# the residual model's 1000-dim coordinates, not the folded weights'), which no option here
# changes, so that part is not tested.

# %%
def gap(name):
    """Per seed: the mean |difference| over p_eval between the residual model and the MLP run ``name``."""
    return np.abs(per_seed["residual"] - per_seed[name]).mean(1)


def seed_spread(name):
    """The mean |deviation| of a seed's curve from the seeds' mean, for the run ``name``."""
    return np.abs(per_seed[name] - curves[name]).mean() * np.sqrt(len(seeds) / (len(seeds) - 1))


gap_minus, gap_plus, spread = gap("mlp_minus"), gap("mlp_plus"), seed_spread("mlp_minus")
se = lambda v: report.seed_noise(v) / np.sqrt(len(v))
claims = report.Claims(mode)
claims.paper.compare("residual model matches the minus-sign MLP within the seed spread", gap_minus.mean(),
               spread, se(gap_minus), above=False, unit="se",
               detail=f"mean |gap| {gap_minus.mean():.4f} ± {se(gap_minus):.4f} vs seed spread {spread:.4f}",
               expected=False)
claims.ours.compare("the minus sign matches better than the published plus sign", (gap_plus - gap_minus).mean(),
               0, se(gap_plus - gap_minus), unit="se",
               detail=f"mean |gap| minus {gap_minus.mean():.4f}, plus {gap_plus.mean():.4f}")
rel = np.abs(curves["residual"] / curves["mlp_minus"] - 1)
claims.paper.compare("residual model matches the minus-sign MLP: the same results within 5% of the loss", rel.max(),
               0.05, se(np.abs(per_seed["residual"] / per_seed["mlp_minus"] - 1).max(1)), above=False, unit="se",
               detail=f"largest relative gap of the mean curves {rel.max():.1%} at p_eval {p_eval[rel.argmax()]:.2g} "
                      f"(mean {rel.mean():.1%}); seed spread of the MLP's curve {spread / curves['mlp_minus'].mean():.2%} "
                      f"of the loss")
closer = np.abs(curves["residual"] - curves["mlp_minus"]) < np.abs(curves["residual"] - curves["mlp_plus"])
switch = p_eval[~closer].min() if (~closer).any() else np.nan
claims.ours.add("the minus sign is the closer at every p_eval", closer.all(),
           f"closer at {closer.mean():.0%} of the grid; the plus sign is closer from p_eval {switch:.2g} on "
           f"({np.mean(p_eval >= switch):.0%} of the grid)" if (~closer).any() else "closer everywhere",
           expected=False)
gap_matched = gap("mlp_matched")
rel_matched = np.abs(curves["residual"] / curves["mlp_matched"] - 1)
claims.ours.compare("the initial scale is part of the gap: the MLP started at the residual's W_out scale is the closer",
               (gap_minus - gap_matched).mean(), 0, se(gap_minus - gap_matched), unit="se",
               detail=f"mean |gap| to the residual model: published init {gap_minus.mean():.4f}, "
                      f"matched {gap_matched.mean():.4f}; largest relative gap of the mean curves "
                      f"{rel_matched.max():.1%} (published init {rel.max():.1%})")
matched_spread = seed_spread("mlp_matched")
claims.ours.compare("only part: with the residual's initial scale the MLP still differs from it by more than the seed spread",
               gap_matched.mean(), matched_spread, se(gap_matched), unit="se",
               detail=f"mean |gap| {gap_matched.mean():.4f} ± {se(gap_matched):.4f} vs seed spread {matched_spread:.4f}")
claims.table()

# %%
# NBVAL_CHECK_OUTPUT
claims.finish()
report.write_json(out, "fig01", mode, seed, claims, p_eval=p_eval, seeds=seeds, curves=curves,
                  gap_minus=gap_minus, gap_plus=gap_plus, seed_spread=spread, relative_gap=rel,
                  minus_closer=closer, gap_matched_init=gap_matched, relative_gap_matched_init=rel_matched)
