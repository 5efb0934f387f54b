"""The straightforward trainer: what :func:`cclib.train.train` computes, written plainly.

One instance at a time, a dense uniform draw for every input cell, dense products, autograd,
torch.optim.AdamW and a cosine LambdaLR. The tests hold the fast trainer to it and the
benchmarks time against it.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ._adamw import BETAS, EPS, cosine_lr
from ._checks import check_choice, check_probabilities, check_seeds
from ._types import Model, PerInstance, Seeds
from .data import sample_bernoulli, sample_one_active, steps_for, targets
from .mixing import Mixing
from .models import MLP, ResidualMLP
from .train import INPUTS, TrainResult, resolve_steps, validate_common


def reference_loss(model: Model, mixing: Mixing | None, x: torch.Tensor) -> torch.Tensor:
    """Plain autograd-able loss on a dense batch x (K, B, n): per-instance MSE, (K,).

    A residual model is scored on its own labels x + ReLU(x) (``mixing`` is then ignored).
    """
    return (model(x) - targets(model, x, mixing.matrix())).square().mean((1, 2))


def train_reference(model: Model, mixing: Mixing, *, inputs: str = "bernoulli",
                    p: PerInstance | None = None, steps: int | Sequence[int] | None = None,
                    batch_size: int = 2048, lr: float = 3e-3, weight_decay: float = 1e-2,
                    seeds: Seeds = 0) -> TrainResult:
    """The straightforward trainer: one instance at a time, a dense uniform draw for every input
    cell, dense products, autograd, torch.optim.AdamW and a cosine LambdaLR.

    Same procedure as :func:`cclib.train.train` (different random draws), kept for tests and
    benchmarks.
    """
    check_choice("inputs", inputs, INPUTS)
    validate_common(model, mixing, batch_size, lr, weight_decay)
    if type(model) not in (MLP, ResidualMLP):
        raise TypeError(f"train_reference trains cclib's own MLP and ResidualMLP, one instance at a "
                        f"time; {type(model).__name__} is another module: train it with "
                        "cclib.train.train (engine 'general')")
    k, n = model.n_instances, model.n_features
    seeds = check_seeds("seeds", seeds, k)
    probs = check_probabilities("p", p, k).tolist() if inputs == "bernoulli" else [1.0 / n] * k
    default = [steps_for(q, n) for q in probs] if inputs == "bernoulli" else [10_000] * k
    steps = resolve_steps(steps, default, k)
    history = torch.full((max(steps), k), float("nan"))
    sigmas = mixing.sigma.clone()
    for i in range(k):
        gen = torch.Generator().manual_seed(seeds[i])
        single = model.select([i])
        one = mixing.select([i])
        trainable = list(single.parameters())
        if one.trainable_sigma:
            one.sigma = torch.nn.Parameter(one.sigma)
            trainable.append(one.sigma)
        opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay, betas=BETAS, eps=EPS)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s, total=steps[i]: float(cosine_lr(1.0, s, total)))
        for step in range(steps[i]):
            if inputs == "bernoulli":
                x = sample_bernoulli(batch_size, n, probs[i], gen)[None]
            else:
                x = sample_one_active(batch_size, n, gen)[None]
            loss = reference_loss(single, one, x)[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            history[step, i] = loss.detach()
        with torch.no_grad():
            for param, own in zip(model.parameters(), single.parameters()):
                param[i] = own[0]
        sigmas[i] = one.sigma.detach()[0]
    return TrainResult(history, steps, Mixing(mixing.pattern, sigmas, mixing.trainable_sigma))
