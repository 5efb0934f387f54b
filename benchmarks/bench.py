"""Speed of cclib against the straightforward implementation, measured in one run.

    python benchmarks/bench.py                # engine benchmarks + the figures from an empty cache
    python benchmarks/bench.py --no-figures   # engine benchmarks only (about two minutes)
    python benchmarks/bench.py --timings COLD.json WARM.json
        # engine benchmarks, with the figure timings taken from two make_figures.py runs
        # (their timings.json: one from an empty cache, one warm) instead of running them again

The general engine (autograd through model(x), all instances in one batch) is timed against the
same reference. The straightforward implementation is cclib.reference.train_reference (one model at a time, a dense
uniform draw for every input cell, dense products, autograd, torch.optim.AdamW) and
cclib.reference.monte_carlo_loss (fixed-size Monte Carlo, 1M samples per p_eval point). Prints a
table and writes benchmarks/results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cclib import evaluate, mixing, reference
from cclib.parallel import cpu_count, worker_count
from cclib.models import MLP
from cclib.reference import train_reference
from cclib.train import train

ROOT = Path(__file__).resolve().parent.parent


def rate(fn, steps: int, models: int) -> float:
    """Model-steps per second of ``fn(steps)``, after one untimed call of the same size: every
    worker process then has started and compiled its kernels (a 20-step warm-up could leave the
    second worker idle, so that it compiled inside the timed call)."""
    fn(steps)
    t0 = time.perf_counter()
    fn(steps)
    return steps * models / (time.perf_counter() - t0)


def bench_training(inputs: str, instances: int = 16) -> dict:
    """cclib on 16 instances with every core as workers, against the reference loop on one
    instance with torch's threads on every core."""
    p = 0.01 if inputs == "bernoulli" else None
    mix16 = mixing.random_mixing([0.02] * instances, seeds=list(range(instances)))
    mix1 = mixing.random_mixing(0.02, seeds=[0])
    fast = rate(lambda s: train(MLP(instances, seeds=list(range(instances))), mix16, inputs=inputs,
                                p=p, steps=s, seeds=list(range(instances))), 400 if p else 2000, instances)
    torch.set_num_threads(cpu_count())
    plain = rate(lambda s: train_reference(MLP(1, seeds=[0]), mix1, inputs=inputs, p=p, steps=s,
                                           seeds=[0]), 150, 1)
    return {"cclib": fast, "reference": plain, "speedup": fast / plain}


def bench_general(inputs: str, instances: int = 16) -> dict:
    """The general (autograd) engine on 16 instances in one process, on the CPU (one thread, as
    cclib computes) and on a GPU where there is one, against the same reference loop as
    :func:`bench_training`, in model-steps per second."""
    p = 0.01 if inputs == "bernoulli" else None
    seeds = list(range(instances))
    mix = mixing.random_mixing([0.02] * instances, seeds=seeds)
    mix1 = mixing.random_mixing(0.02, seeds=[0])

    def general(device):
        return rate(lambda s: train(MLP(instances, seeds=seeds), mix, inputs=inputs, p=p, steps=s,
                                    seeds=seeds, engine="general", device=device), 100, instances)

    out = {"general": general("cpu")}
    torch.set_num_threads(cpu_count())
    out["reference"] = rate(lambda s: train_reference(MLP(1, seeds=[0]), mix1, inputs=inputs, p=p, steps=s,
                                                      seeds=[0]), 150, 1)
    out["speedup"] = out["general"] / out["reference"]
    if torch.cuda.is_available():
        out["cuda"] = general("cuda")
    return out


def bench_chunk_kernel(instances: int = 8, repeats: int = 20) -> dict:
    """The compiled sparse-batch merge against its numpy version on one chunk (16 steps) of
    `instances` instances at p = 0.01: milliseconds per chunk and the ratio."""
    from cclib._batches import CHUNK_STEPS, mixing_tables
    from cclib.reference import merge_chunk_numpy
    from cclib._chunk_kernel import merge_chunk
    from cclib.data import BernoulliStream
    n, b = 100, 2048
    parts = [BernoulliStream(0.01, b, n, s).next_chunk(CHUNK_STEPS)[1:] for s in range(instances)]
    gt = mixing.random_mixing([0.02] * instances, seeds=list(range(instances))).pattern.transpose(1, 2)
    tables = mixing_tables(gt.contiguous(), instances)
    inst_start = np.concatenate([[0], np.cumsum([p[1].numel() for p in parts])])
    flat = [np.concatenate([p[i].numpy() for p in parts]) for i in range(2)]
    merge_chunk(*flat, inst_start, CHUNK_STEPS, b, n, *tables)  # compile (or load the cached build)
    timings = {}
    for name, fn in (("numba", lambda: merge_chunk(*flat, inst_start, CHUNK_STEPS, b, n, *tables)),
                     ("numpy", lambda: merge_chunk_numpy(parts, CHUNK_STEPS, b, n, *tables))):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        timings[name] = (time.perf_counter() - t0) / repeats * 1e3
    return {"numba_ms": timings["numba"], "numpy_ms": timings["numpy"],
            "speedup": timings["numpy"] / timings["numba"]}


def bench_workers_identical() -> bool:
    """A 16-instance Bernoulli run (two shards; sparse and dense p) trained with 1 and with 2
    workers: are the weights and loss histories bit-identical?"""
    runs = []
    for workers in (1, 2):
        seeds = list(range(16))
        model = MLP(16, seeds=seeds)
        result = train(model, mixing.random_mixing([0.02] * 16, seeds=seeds),
                       p=[0.01] * 12 + [0.002, 0.3, 0.01, 0.01], steps=200, seeds=seeds, workers=workers)
        runs.append([model.W_in.detach(), model.W_out.detach(), result.loss.nan_to_num(-1.0)])
    return all(torch.equal(a, b) for a, b in zip(*runs))


def bench_dask_identical() -> bool | None:
    """The same 16-instance run trained on a two-worker Dask LocalCluster (joblib's dask backend)
    and here on one worker: bit-identical? None where distributed is not installed."""
    try:
        import distributed
    except ImportError:
        return None
    import joblib
    from cclib import experiments
    from cclib.spec import RunSpec

    spec = RunSpec(seeds=list(range(16)), mixing=dict(kind="asymmetric", sigma=0.02),
                   inputs=dict(kind="bernoulli", p=[0.01] * 14 + [0.002, 0.3]), optim=dict(steps=200))
    with tempfile.TemporaryDirectory() as here, tempfile.TemporaryDirectory() as there:
        local = experiments.trained_many([spec], folder=Path(here), workers=1)[0]
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
                distributed.Client(cluster), joblib.parallel_config(backend="dask"):
            remote = experiments.trained_many([spec], folder=Path(there))[0]
    arrays = [(a.model.W_in, a.model.W_out, torch.from_numpy(a.loss).nan_to_num(-1.0)) for a in (local, remote)]
    return all(torch.equal(x.detach(), y.detach()) for x, y in zip(*arrays))


def bench_eval() -> dict:
    model = MLP(1, seeds=[0])
    mix = mixing.random_mixing(0.02, seeds=[0])
    train(model, mix, p=0.01, steps=2000, seeds=[0])
    grid = evaluate.p_grid(100)
    evaluate.loss_curve(model, mix, grid[:3])  # warm-up
    t0 = time.perf_counter()
    curve = evaluate.loss_curve(model, mix, grid)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference.monte_carlo_loss(model, mix, 0.01, n_samples=1_000_000)
    per_point = time.perf_counter() - t0
    return {"seconds": seconds, "max_rel_se": float((curve.se / curve.loss).max()),
            "reference_seconds": per_point * len(grid)}


def bench_figures() -> dict:
    """`make figures` at paper settings, as on a fresh clone (the store's runs and evaluations, an
    empty local cache), and then again; each run's time per notebook and how many evaluations the
    notebooks computed (on a clone whose store is current: none)."""
    out = {}
    with tempfile.TemporaryDirectory() as cache_dir, tempfile.TemporaryDirectory() as out_dir:
        env = dict(os.environ, CCLIB_CACHE=cache_dir)
        for label in ("paper", "cached"):
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, str(ROOT / "paper-code" / "make_figures.py"),
                                   "--mode", "paper", "--out", out_dir], env=env)
            out[label] = time.perf_counter() - t0
            out[f"{label}_ok"] = done.returncode == 0
            timings = json.loads((Path(out_dir) / "timings.json").read_text())
            out[f"{label}_per_notebook"] = {k: round(v, 1) for k, v in timings["run"].items()}
            out[f"{label}_evaluations_computed"] = sum(v["computed"] for v in timings["evaluations"].values())
            out[f"{label}_sweep_seconds"] = timings["sweep"]["seconds"]
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-figures", action="store_true", help="skip the (long) figures run")
    parser.add_argument("--timings", nargs=2, metavar=("COLD", "WARM"),
                        help="timings.json of a make_figures.py run from an empty cache and of a warm one")
    args = parser.parse_args()
    from cclib.report import provenance, require_committed
    require_committed("make bench")  # its results are committed with the commit it measured
    made = provenance()
    results = {"machine": f"{platform.machine()}, {cpu_count()} cores, torch {torch.__version__}, "
                          f"{worker_count()} cclib workers", "cpu": made["cpu"],
               "git_commit": made["git_commit"]}
    bern, onehot, ev = bench_training("bernoulli"), bench_training("one_active"), bench_eval()
    results.update(
        train_bernoulli_speedup=bern["speedup"], train_bernoulli_model_steps_per_s=bern["cclib"],
        train_bernoulli_reference_steps_per_s=bern["reference"],
        train_onehot_speedup=onehot["speedup"], train_onehot_model_steps_per_s=onehot["cclib"],
        train_onehot_reference_steps_per_s=onehot["reference"],
        eval_curve_seconds=ev["seconds"], eval_curve_max_rel_se=ev["max_rel_se"],
        eval_curve_reference_seconds=ev["reference_seconds"],
        train_bernoulli_workers_identical=bench_workers_identical(),
        train_dask_local_cluster_identical=bench_dask_identical())
    for inputs, key in (("bernoulli", "bernoulli"), ("one_active", "onehot")):
        gen = bench_general(inputs)
        results.update({f"general_{key}_model_steps_per_s": gen["general"],
                        f"general_{key}_reference_steps_per_s": gen["reference"],
                        f"general_{key}_speedup": gen["speedup"]})
        if "cuda" in gen:
            results[f"general_{key}_cuda_model_steps_per_s"] = gen["cuda"]
    chunk = bench_chunk_kernel()
    results.update(chunk_kernel_speedup=chunk["speedup"], chunk_kernel_ms=chunk["numba_ms"],
                   chunk_numpy_ms=chunk["numpy_ms"])
    if args.timings:
        cold, warm = (json.loads(Path(p).read_text()) for p in args.timings)
        results.update(figures_paper_seconds=cold["total_seconds"], figures_cached_seconds=warm["total_seconds"],
                       peak_rss_gb=max(cold["peak_rss_gb"], warm["peak_rss_gb"]),
                       figures_per_notebook_seconds=cold["figures"])
        if cold.get("sweep"):  # the two-stage runner: the training sweep, then the notebooks
            results.update(figures_sweep_seconds=cold["sweep"]["seconds"],
                           figures_sweep_core_use=cold["sweep"]["core_use"],
                           figures_sweep_runs_trained=cold["sweep"]["trained"],
                           figures_notebooks_seconds=cold["notebooks_seconds"],
                           figures_cached_sweep_seconds=warm["sweep"]["seconds"])
    elif not args.no_figures:
        figs = bench_figures()
        results.update(figures_paper_seconds=figs["paper"], figures_cached_seconds=figs["cached"],
                       figures_ok=figs["paper_ok"] and figs["cached_ok"], peak_rss_gb=figs["peak_rss_gb"],
                       figures_per_notebook_seconds=figs["paper_per_notebook"],
                       figures_sweep_seconds=figs["paper_sweep_seconds"],
                       figures_evaluations_computed=figs["paper_evaluations_computed"])
    targets = {"train_bernoulli_speedup": (">=", 15), "train_onehot_speedup": (">=", 50),
               "train_bernoulli_workers_identical": ("==", True),
               "train_dask_local_cluster_identical": ("==", True), "chunk_kernel_speedup": (">=", 2),
               "eval_curve_seconds": ("<=", 2), "eval_curve_max_rel_se": ("<=", 0.003),
               "figures_paper_seconds": ("<=", 60), "figures_cached_seconds": ("<=", 30),
               "figures_evaluations_computed": ("==", 0),
               "peak_rss_gb": ("<=", 4)}
    print(f"\n{'key':34s} {'measured':>12s}  target   met")
    for key, (op, bound) in targets.items():
        if results.get(key) is not None:
            value = results[key]
            met = {">=": value >= bound, "<=": value <= bound, "==": value == bound}[op]
            print(f"{key:34s} {float(value):12.4g}  {op} {float(bound):<5g} {'yes' if met else 'NO'}")
    path = ROOT / "benchmarks" / "results.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
