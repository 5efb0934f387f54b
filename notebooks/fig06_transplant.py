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
# # Fig. 6 — transplant: remove the mixing and the advantage goes
#
# Braun et al. suggested the residual stream was needed only for training dynamics. If so, a
# model that learned the compressed solution on noisy labels should keep its advantage once
# the noise is removed. We train on random asymmetric mixing (sigma = 0.02, p = 0.01) for
# 10,000 steps, then continue the same weights on the clean labels for 10,000 more (fresh
# optimiser and cosine schedule).
#
# **Claim.** The loss jumps to or above naive as soon as the mixing is removed.

# %% tags=["parameters"]
mode = "paper"  # "paper" or "quick"
seed = 0
out_dir = "../paper-code/output"


# %%
import matplotlib.pyplot as plt
import numpy as np

from cclib import experiments, plotting, report
from cclib.baselines import naive_loss

out = report.check_parameters(mode, seed, out_dir)
plotting.use_style()
quick = mode == "quick"
P, STEPS = 0.01, (500 if quick else 10_000)

# %%
noisy = experiments.run_config(seeds=[seed], sigma=0.02, kind="asymmetric", p=P, steps=STEPS)
clean = experiments.run_config(seeds=[seed + 1], kind="clean", p=P, steps=STEPS, init=noisy)
history = np.concatenate([experiments.trained(noisy, progress=True).loss[:, 0],
                          experiments.trained(clean, progress=True).loss[:, 0]]) / P
window = 100
running = np.convolve(history, np.ones(window) / window, mode="valid")
switch = STEPS
before = float(history[switch - 500:switch].mean())
after = float(history[switch:switch + 500].mean())

# %%
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

# %% [markdown]
# ## Claims

# %%
# NBVAL_CHECK_OUTPUT
claims = report.Claims(mode)
claims.add("below naive before the switch", before < naive_loss(), f"L/p {before:.4f} (last 500 steps)")
claims.add("at or above naive right after the switch", after >= naive_loss(),
           f"L/p {after:.4f} (first 500 steps) vs naive {naive_loss():.4f}")
claims.finish()
report.write_json(out, "fig06", mode, seed, claims, loss_before_switch=before,
                  loss_after_switch=after, switch_step=switch)
