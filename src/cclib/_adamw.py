"""The optimiser: AdamW on one flat (K, P) buffer that holds every trainable number of K
instances (the learning-rate schedule is :func:`cclib.task.cosine_lr`).

The update is torch.optim.AdamW's (betas (0.9, 0.999), eps 1e-8, decoupled weight decay). With
one learning-rate schedule for all instances and many parameters, torch's fused kernel does it
(4x faster than elementwise ops, but ~0.3 ms of fixed Python overhead per step); otherwise
:func:`adamw_step`, which also takes a per-instance (K, 1) learning rate.
"""
from __future__ import annotations

import math

import torch

BETAS = (0.9, 0.999)
EPS = 1e-8
FUSED_MIN_PARAMS = 1 << 17  # below this, the fused optimizer's fixed overhead costs more than it saves


def adamw_step(param: torch.Tensor, grad: torch.Tensor, exp_avg: torch.Tensor,
               exp_avg_sq: torch.Tensor, lr: torch.Tensor, weight_decay: float, step: int) -> None:
    """torch.optim.AdamW's update of ``param`` (K, P) in place, with a per-instance learning rate
    lr (K, 1); ``step`` counts from 1."""
    beta1, beta2 = BETAS
    param.mul_(1 - lr * weight_decay)
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2 ** step)).add_(EPS)
    param.sub_((lr / (1 - beta1 ** step)) * exp_avg / denom)


class FlatAdamW:
    """AdamW for ``flat`` (K, P), reading its gradient from ``grad`` (same shape) at each step."""

    def __init__(self, flat: torch.Tensor, grad: torch.Tensor, *, lr: float, weight_decay: float,
                 one_schedule: bool):
        self.flat, self.grad, self.weight_decay = flat, grad, weight_decay
        self.fused = None
        if one_schedule and flat.numel() >= FUSED_MIN_PARAMS:
            self.fused = torch.optim.AdamW([flat], lr=lr, betas=BETAS, eps=EPS,
                                           weight_decay=weight_decay, fused=True)
            flat.grad = grad
        else:
            self.exp_avg, self.exp_avg_sq = torch.zeros_like(flat), torch.zeros_like(flat)

    def step(self, lr: torch.Tensor, step: int) -> None:
        """One update with learning rates lr (K, 1); ``step`` counts from 1."""
        if self.fused is not None:
            self.fused.param_groups[0]["lr"] = float(lr[0])
            self.fused.step()
        else:
            adamw_step(self.flat, self.grad, self.exp_avg, self.exp_avg_sq, lr, self.weight_decay, step)
