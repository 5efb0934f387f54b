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

# %% [markdown] papermill={"duration": 0.00142, "end_time": "2026-11-21T08:13:33.633307+00:00", "exception": false, "start_time": "2026-11-21T08:13:33.631887+00:00", "status": "completed"}
# # Fig. 6 — transplant: remove the mixing and the advantage goes
#
# Braun et al. suggested the residual stream was needed only for training dynamics. If so, a
# model that learned the compressed solution on noisy labels should keep its advantage once
# the noise is removed. We train on random asymmetric mixing (sigma = 0.02, p = 0.01) for
# 10,000 steps, then continue the same weights on the clean labels for 10,000 more (fresh
# optimiser and cosine schedule).
#
# **Claim.** The loss jumps to or above naive as soon as the mixing is removed.

# %% papermill={"duration": 0.009264, "end_time": "2026-11-21T08:13:33.643912+00:00", "exception": false, "start_time": "2026-11-21T08:13:33.634648+00:00", "status": "completed"} tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = "../paper-code/output"

# %% papermill={"duration": 0.00568, "end_time": "2026-11-21T08:13:33.650921+00:00", "exception": false, "start_time": "2026-11-21T08:13:33.645241+00:00", "status": "completed"} tags=["injected-parameters"]
# Parameters
mode = "paper"
seed = 0
out_dir = "/work/main/paper-code/output/.staging-fig06_transplant"


# %% papermill={"duration": 2.308005, "end_time": "2026-11-21T08:13:35.960161+00:00", "exception": false, "start_time": "2026-11-21T08:13:33.652156+00:00", "status": "completed"}
import matplotlib.pyplot as plt
import numpy as np

from cclib import experiments, plotting, report
from cclib.baselines import naive_loss

out = report.check_parameters(mode, seed, out_dir)
plotting.use_style()
quick = mode == "quick"
P, STEPS = 0.01, (500 if quick else 10_000)

# %% papermill={"duration": 19.246455, "end_time": "2026-11-21T08:13:55.208388+00:00", "exception": false, "start_time": "2026-11-21T08:13:35.961933+00:00", "status": "completed"}
noisy = experiments.run_config(seeds=[seed], sigma=0.02, kind="asymmetric", p=P, steps=STEPS)
clean = experiments.run_config(seeds=[seed + 1], kind="clean", p=P, steps=STEPS, init=noisy)
history = np.concatenate([experiments.trained(noisy, progress=True).loss[:, 0],
                          experiments.trained(clean, progress=True).loss[:, 0]]) / P
window = 100
running = np.convolve(history, np.ones(window) / window, mode="valid")
switch = STEPS
before = float(history[switch - 500:switch].mean())
after = float(history[switch:switch + 500].mean())

# %% papermill={"duration": 0.860054, "end_time": "2026-11-21T08:13:56.075790+00:00", "exception": false, "start_time": "2026-11-21T08:13:55.215736+00:00", "status": "completed"}
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(np.arange(window - 1, len(history)), running, color=plotting.COLORS["trained"],
        label=f"training loss, running mean over {window} steps")
ax.axvline(switch, color="k", ls=":", label="mixing removed")
plotting.naive_line(ax)
ax.set(yscale="log", xlabel="training step", ylabel="loss per feature L / p",
       title="Fig. 6: noisy labels (sigma = 0.02), then clean labels")
ax.legend()
plotting.save_figure(fig, out, "fig06")
plt.show()

# %% [markdown] papermill={"duration": 0.007363, "end_time": "2026-11-21T08:13:56.090848+00:00", "exception": false, "start_time": "2026-11-21T08:13:56.083485+00:00", "status": "completed"}
# ## Claims

# %% papermill={"duration": 0.016892, "end_time": "2026-11-21T08:13:56.114904+00:00", "exception": false, "start_time": "2026-11-21T08:13:56.098012+00:00", "status": "completed"}
# NBVAL_CHECK_OUTPUT
claims = report.Claims(mode)
claims.add("below naive before the switch", before < naive_loss(), f"L/p {before:.4f} (last 500 steps)")
claims.add("at or above naive right after the switch", after >= naive_loss(),
           f"L/p {after:.4f} (first 500 steps) vs naive {naive_loss():.4f}")
claims.finish()
report.write_json(out, "fig06", mode, seed, claims, loss_before_switch=before,
                  loss_after_switch=after, switch_step=switch)
