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

# %% [markdown] papermill={"duration": 0.001756, "end_time": "2026-11-21T08:14:29.601336+00:00", "exception": false, "start_time": "2026-11-21T08:14:29.599580+00:00", "status": "completed"}
# # Fig. 9 — a model built from M alone: semi-NMF
#
# W_in of the trained model is almost non-negative, so we try a model computed without any
# training: factor the matrix the model has to implement into a non-negative W_in times a
# free-sign W_out (semi-NMF, multiplicative updates of Ding, Li & Jordan), then evaluate it.
#
# Orientation matters. In the row convention the model's linear map is `x -> x W_in W_out`
# and the labels' is `x -> x (I + M^T)`, so the correct target is `I + M^T`. The published
# figure factored `I + M`, which is the same only for symmetric M. We show both, next to the
# trained models of Fig. 5b.
#
# **Claim.** The SNMF model beats naive over a range of sigma.

# %% papermill={"duration": 0.009682, "end_time": "2026-11-21T08:14:29.612371+00:00", "exception": false, "start_time": "2026-11-21T08:14:29.602689+00:00", "status": "completed"} tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = "../paper-code/output"

# %% papermill={"duration": 0.006122, "end_time": "2026-11-21T08:14:29.619984+00:00", "exception": false, "start_time": "2026-11-21T08:14:29.613862+00:00", "status": "completed"} tags=["injected-parameters"]
# Parameters
mode = "paper"
seed = 0
out_dir = "/work/main/paper-code/output/.staging-fig09_snmf"


# %% papermill={"duration": 2.250665, "end_time": "2026-11-21T08:14:31.872051+00:00", "exception": false, "start_time": "2026-11-21T08:14:29.621386+00:00", "status": "completed"}
import matplotlib.pyplot as plt
import numpy as np

from cclib import baselines, cache, evaluate, experiments, plotting, report
from cclib.baselines import naive_loss

out = report.check_parameters(mode, seed, out_dir)
plotting.use_style()
quick = mode == "quick"
SIGMAS = [0, 0.005, 0.008, 0.01, 0.015, 0.02, 0.03, 0.04]

# %% [markdown] papermill={"duration": 0.001417, "end_time": "2026-11-21T08:14:31.875373+00:00", "exception": false, "start_time": "2026-11-21T08:14:31.873956+00:00", "status": "completed"}
# The mixing matrices are the ones Fig. 5b's asymmetric sweep used (same seed, so the same
# shape G), scaled to each sigma.

# %% papermill={"duration": 7.085736, "end_time": "2026-11-21T08:14:38.962387+00:00", "exception": false, "start_time": "2026-11-21T08:14:31.876651+00:00", "status": "completed"}
mix = experiments.build_mixing(experiments.run_config(seeds=[seed] * len(SIGMAS), sigma=SIGMAS,
                                                      kind="asymmetric", inputs="one_active"))
iters = 200 if quick else 2000


def snmf_loss(orient):
    fit = baselines.semi_nmf(mix, orientation=orient, max_iter=iters)
    return dict(loss=evaluate.one_active_loss(fit.model, mix), error=fit.errors[-1].numpy())


# the factorisation depends only on M, the orientation and the iterations: cache it in data/
loss = {orient: cache.cached("snmf", dict(sigma=SIGMAS, seed=seed, orientation=orient, iters=iters),
                             lambda: snmf_loss(orient))["loss"]
        for orient in ("published", "label")}

sweep_sigmas = np.linspace(0, 0.08, 9 if quick else 41)
trained = experiments.trained(experiments.run_config(
    seeds=[seed] * len(sweep_sigmas), sigma=sweep_sigmas, kind="asymmetric", inputs="one_active",
    steps=300 if quick else None))
sweep = evaluate.one_active_loss(trained.model, trained.mixing)
trained_at = np.interp(SIGMAS, sweep_sigmas, sweep)  # Fig. 5b's sweep, read off at SIGMAS

# %% [markdown] papermill={"duration": 0.001472, "end_time": "2026-11-21T08:14:38.966770+00:00", "exception": false, "start_time": "2026-11-21T08:14:38.965298+00:00", "status": "completed"}
# The trained values at these sigma are read off Fig. 5b's sweep (step 0.002) by linear
# interpolation.

# %% papermill={"duration": 0.556489, "end_time": "2026-11-21T08:14:39.524754+00:00", "exception": false, "start_time": "2026-11-21T08:14:38.968265+00:00", "status": "completed"}
fig, ax = plt.subplots(figsize=(7, 4.3))
ax.plot(sweep_sigmas, sweep, "-", color=plotting.COLORS["trained"], label="trained (Fig. 5b)")
ax.plot(SIGMAS, loss["published"], "s--", color=plotting.COLORS["published"],
        label="SNMF of I + M (published orientation)")
ax.plot(SIGMAS, loss["label"], "o-", color=plotting.COLORS["snmf"],
        label="SNMF of I + M^T (label orientation)")
plotting.naive_line(ax)
ax.set(xlabel="mixing magnitude sigma (asymmetric, zero diagonal)", ylabel="loss per feature L / p",
       title="Fig. 9: untrained semi-NMF models, exactly one active input", xlim=(-0.002, 0.082))
ax.legend(fontsize="small")
plotting.save_figure(fig, out, "fig09")
plt.show()

# %% [markdown] papermill={"duration": 0.002052, "end_time": "2026-11-21T08:14:39.529245+00:00", "exception": false, "start_time": "2026-11-21T08:14:39.527193+00:00", "status": "completed"}
# ## Claims
# The paper: SNMF beats naive over a range of sigma, a smaller range than the trained model's,
# and does not perform as well as the trained solution. We check the last per orientation,
# counting a gap under 0.0005 (a few seed-to-seed spreads) as "as well".

# %% [markdown] papermill={"duration": 0.001638, "end_time": "2026-11-21T08:14:39.532663+00:00", "exception": false, "start_time": "2026-11-21T08:14:39.531025+00:00", "status": "completed"}
# **What we find.** Both orientations beat naive over a range of sigma, a narrower range than
# the trained models'. Correctly oriented, the SNMF model is as good as the trained one for
# sigma up to 0.01; the published orientation ties only at the smallest sigma, where every model
# sits near naive, and falls far behind for larger sigma. So "SNMF does not perform as well as
# the trained solution" is partly an artefact of the orientation.

# %% papermill={"duration": 0.014122, "end_time": "2026-11-21T08:14:39.548443+00:00", "exception": false, "start_time": "2026-11-21T08:14:39.534321+00:00", "status": "completed"}
# NBVAL_CHECK_OUTPUT
naive = naive_loss()
claims = report.Claims(mode)
for orient in ("published", "label"):
    wins = [s for s, l in zip(SIGMAS, loss[orient]) if l < naive]
    claims.add(f"SNMF ({orient} orientation) beats naive over a range of sigma", len(wins) >= 2,
               f"below naive at sigma = {wins}; best L/p {loss[orient].min():.4f}")
trained_range = max(sweep_sigmas[sweep < naive], default=0.0)
label_range = max((s for s, l in zip(SIGMAS, loss["label"]) if l < naive), default=0.0)
claims.add("trained models beat naive over a wider range than SNMF", trained_range > label_range,
           f"trained below naive up to sigma {trained_range:.3f}; label SNMF up to at least {label_range}")
claims.add("label orientation beats the published one (sigma > 0)",
           all(l <= p + 1e-6 for l, p in zip(loss["label"][1:], loss["published"][1:])),
           f"mean L/p over sigma > 0: label {loss['label'][1:].mean():.4f}, published {loss['published'][1:].mean():.4f}")
for orient in ("published", "label"):
    gaps = loss[orient][1:] - trained_at[1:]
    as_good = [s for s, g in zip(SIGMAS[1:], gaps) if g < 0.0005]
    claims.add(f"trained models beat {orient}-orientation SNMF at every sigma > 0", not as_good,
               f"SNMF within 0.0005 of trained at sigma = {as_good}; largest gap {gaps.max():.4f}",
               expected=False)
claims.finish()
report.write_json(out, "fig09", mode, seed, claims, sigma=SIGMAS, snmf_published=loss["published"],
                  snmf_oriented=loss["label"], trained=trained_at)
