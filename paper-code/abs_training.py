"""Training Elhage et al.'s absolute-value model from other starts: the measurement behind Fig. 19.

    python paper-code/abs_training.py [STAGE ...]    # stages: screen kept steiner widths (default all)

Fig. 18's runs (the published init, zero biases) end above baseline (b) with a third of their
outputs dead. This retrains the same architecture (n = 100, out = ReLU(W_out ReLU(W_in x + b_in)
+ b_out), uniform importance, y = |x|, Bernoulli inputs, AdamW with the cosine schedule, batch
2048) from other starts, and records each instance's loss per feature at its own p
(:func:`cclib.evaluate.expected_loss`, with its standard error) and how its outputs answer a lone
+-1 (both halves, one, none):

* ``screen``: one seed per p in :data:`cclib.paper_runs.ABS_P`, 4000 steps (not the default
  steps: a screen), over the initial scale of every weight (1, 0.3, 0.1, 0.03 times the published
  bounds), the learning rate (1e-3, 1e-2 against 3e-3) and the output-bias init (0.1, 0.3
  against 0);
* ``kept``: the recipe the screen keeps, init scale 0.1, three seeds per p, the default steps;
* ``steiner``: started from :func:`cclib.constructions.code_network` on split Steiner codes,
  three seeds per p, the default steps;
* ``widths``: init scale 0.1 at d = 25 and d = 75, three seeds, p in :data:`WIDTH_P`.

These starts are fields of :class:`cclib.spec.RunSpec` (``model.init_scale``,
``model.out_bias_init``, ``model.start``), and the registry holds the two kept starts at p = 0.01
(:func:`cclib.paper_runs.abs_start_runs`). The runs here (many densities and widths in one run
each) are not in the registry or the store: each trained run is cached locally under its settings
and the code that trains it (:func:`code_of`), and the evaluations go to
``paper-code/results/abs_training.json``, which Fig. 19 reads. Rerunning recomputes only what
the cache lacks. On the project's 2 cores the whole takes about an hour.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from cclib import build, cache, evaluate, mixing, report, train
from cclib.models import DeepMLP
from cclib.paper_runs import ABS_P
from cclib.spec import RunSpec
from cclib.task import default_steps

OUT = Path(__file__).resolve().parent / "results" / "abs_training.json"
N = 100
SCREEN_STEPS = 4000
SEEDS = (0, 1, 2)
#: Fig. 19's densities for the other widths (p = 0.1 left out: every start is above (b) there at d = 50).
WIDTH_P = (0.003, 0.01, 0.03)
#: The code a trained run depends on: the model and training (``runs``, ``train`` and what they
#: import), and for a run started from a construction :mod:`cclib.constructions` too.
CODE = ("build", "train")


def code_of(run: dict) -> str:
    """The fingerprint of the code that trains ``run``."""
    return cache.code_fingerprint(CODE + (("constructions",) if run.get("start") else ()))
#: Where the kept runs are also evaluated: Bernoulli p on this grid, exactly k active for k in KS.
P_GRID = tuple(float(p) for p in np.round(np.logspace(-3, -1, 13), 6))
KS = tuple(range(1, 9))


def settings() -> dict[str, list[dict]]:
    """Each stage's runs: one dict of settings per run (K instances, one per (p, seed))."""
    screen = [dict(scale=s) for s in (1.0, 0.3, 0.1, 0.03)]
    screen += [dict(scale=s, lr=lr) for s in (1.0, 0.1) for lr in (1e-3, 1e-2)]
    screen += [dict(scale=1.0, out_bias=0.1), dict(scale=1.0, out_bias=0.3), dict(scale=0.1, out_bias=0.1)]
    for run in screen:
        run.update(d=50, ps=list(ABS_P), seeds=[0] * len(ABS_P), steps=SCREEN_STEPS)
    full = dict(ps=[p for p in ABS_P for _ in SEEDS], seeds=[s for _ in ABS_P for s in SEEDS])
    widths = dict(ps=[p for p in WIDTH_P for _ in SEEDS], seeds=[s for _ in WIDTH_P for s in SEEDS])
    return {"screen": screen,
            "kept": [dict(scale=0.1, d=50, **full)],
            "steiner": [dict(start="steiner", d=50, **full)],
            "widths": [dict(scale=0.1, d=d, **widths) for d in (25, 75)]}


def start_model(run: dict) -> DeepMLP:
    """The untrained model of ``run``, built from the spec fields of its start
    (:func:`cclib.build.build_model`): the published init times ``scale`` (every weight, the
    ``init_scale`` field), the output bias ``out_bias`` (``out_bias_init``); or the construction
    ``start`` ('steiner': ``start='split_steiner_codes'``)."""
    model = dict(d_mlp=run["d"], bias=True, out_activation="relu")
    if run.get("start") == "steiner":
        model["start"] = "split_steiner_codes"
    else:
        model.update(init_scale=run.get("scale", 1.0), out_bias_init=run.get("out_bias", 0.0))
    return build.build_model(RunSpec(seeds=run["seeds"], model=model, target="abs",
                                    inputs=dict(kind="bernoulli", p=run["ps"]), optim=dict(steps=1)))


def halves(model) -> np.ndarray:
    """(K, 4): outputs answering both halves of a lone +-1 on their feature (output > 0.5), only
    +1, only -1, neither."""
    eye = torch.eye(model.n_features)[None].expand(model.n_instances, -1, -1)
    with torch.no_grad():
        pos = torch.diagonal(model(eye), dim1=1, dim2=2) > 0.5
        neg = torch.diagonal(model(-eye), dim1=1, dim2=2) > 0.5
    return torch.stack([(pos & neg).sum(1), (pos & ~neg).sum(1), (~pos & neg).sum(1),
                        (~pos & ~neg).sum(1)], 1).numpy()


def trained(run: dict, curves: bool = False) -> dict[str, np.ndarray]:
    """Train ``run`` (or load it from the local cache) and evaluate each instance at its own p;
    with ``curves`` also on :data:`P_GRID` (``curve``, ``curve_se``: (K, P)) and on exactly k
    active inputs, k in :data:`KS` (``per_k``, ``per_k_se``: the summed error per sample over k,
    the loss per active feature, (K, len(KS)))."""
    config = dict(run, n=N, lr=run.get("lr", 3e-3), batch_size=2048, weight_decay=1e-2)
    steps = run.get("steps") or default_steps("bernoulli", run["ps"], N)

    def compute():
        model = start_model(run)
        history = train.train(model, mixing.clean(N, len(run["ps"])), inputs="bernoulli", p=run["ps"],
                              steps=steps, seeds=run["seeds"], lr=config["lr"], target="abs", engine="general")
        state = {name: t.detach().numpy() for name, t in model.state_dict().items()}
        return dict(state, final_loss=history.loss[-1].numpy())

    arrays = cache.cached("abs_training", config, compute, code=code_of(run))
    model = start_model(run)
    model.load_state_dict({name: torch.from_numpy(arrays[name]) for name in model.state_dict()})
    curve = evaluate.loss_curve(model, mixing.clean(N, len(run["ps"])), sorted(set(run["ps"])), target="abs")
    column = [sorted(set(run["ps"])).index(p) for p in run["ps"]]
    rows = np.arange(len(run["ps"]))
    found = dict(loss=curve.loss[rows, column], se=curve.se[rows, column], halves=halves(model),
                 steps=np.asarray(steps))
    if curves:
        found.update(evaluate_curves(model))
    return found


def evaluate_curves(model) -> dict[str, np.ndarray]:
    """L/p on :data:`P_GRID` and the loss per active feature on exactly k active, k in :data:`KS`
    (Monte-Carlo, :func:`cclib.evaluate.loss_per_active`)."""
    clean = mixing.clean(model.n_features, model.n_instances)
    curve = evaluate.loss_curve(model, clean, list(P_GRID), target="abs")
    per_k, per_k_se = evaluate.loss_per_active(model, clean, list(KS), target="abs")
    return dict(curve=curve.loss, curve_se=curve.se, per_k=per_k, per_k_se=per_k_se)


def main(argv) -> int:
    report.require_committed("paper-code/abs_training.py")
    stages = argv or ["screen", "kept", "steiner", "widths"]
    plan = settings()
    unknown = set(stages) - set(plan)
    if unknown:
        raise SystemExit(f"stages must be among {', '.join(plan)}, got {', '.join(sorted(unknown))}")
    results = json.loads(OUT.read_text())["stages"] if OUT.exists() else {}
    for stage in stages:
        rows = []
        for run in plan[stage]:
            start = time.time()
            found = trained(run, curves=stage != "screen")
            print(f"{stage} {json.dumps({k: v for k, v in run.items() if k not in ('ps', 'seeds')})}: "
                  f"{time.time() - start:.0f} s; L/p {np.round(found['loss'], 4).tolist()}", flush=True)
            rows.append(dict(settings=run, **{k: v.tolist() for k, v in found.items()}))
        results[stage] = rows
        OUT.write_text(json.dumps(dict(provenance=report.provenance(), p_grid=list(P_GRID), ks=list(KS),
                                       stages=results), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
