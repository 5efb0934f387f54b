"""What another CPU changes in a retrained run, measured here: the calibration of make test's check.

    python paper-code/cross_cpu.py measure VARIANT --out DIR   # retrain the sample under VARIANT
    python paper-code/cross_cpu.py derive DIR                   # the statistics, into results/

A CPU other than the one that wrote the store rounds some float operations differently, and a
long training amplifies a difference in the last bit until the weights differ by tens of percent
(measured on an Intel Xeon against this store: up to 67%). So a retrained run on another machine
cannot be compared bit for bit, and a tolerance must come from a measurement of how far an honest
retrain moves. Two stand-ins for another CPU's rounding, both honest retrains of the same code:

* ``ulp-S``: every initial weight moved by one unit in the last place, up or down at random
  (seed S): the smallest difference there can be, left to grow by the training;
* ``isa``: the same training on other kernels of this machine: torch's scalar (non-vector) code
  path (``ATEN_CPU_CAPABILITY=default``) and MKL's compatible BLAS path (``MKL_CBWR=COMPATIBLE``),
  so that every matrix product and reduction of every step rounds differently, as another
  processor's kernels do.

And the defects the check must catch (each a bug a change of the code could bring in):

* ``lr+3%`` / ``lr-3%``: the learning rate off by 3% at every step;
* ``mixing-sign``: the labels' mixing matrix with the wrong sign (y = ReLU(x) - x M^T);
* ``drop-term``: the gradient of W_in without the labels' mixing term (the loss keeps it), a
  dropped term of the hand-derived gradients (the fast engine's runs).

``measure`` retrains :data:`cclib.paper_runs.REPRODUCE_SAMPLE` under one variant, in this process
(one worker, so the patches below act on the training), and writes each run's stored arrays to
DIR/VARIANT.npz. ``derive`` compares each variant with the store (:func:`cclib.store.compare`'s
statistics) and writes ``paper-code/results/cross_cpu.json``, from which
:mod:`cclib.store`'s tolerances are set (their docstrings say how).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "paper-code" / "results" / "cross_cpu.json"

HONEST = ("ulp-1", "ulp-2", "ulp-3", "ulp-4", "isa")
DEFECTS = ("lr+3%", "lr-3%", "mixing-sign", "drop-term")
#: The environment of the ``isa`` variant: this machine's other kernels.
ISA_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"}


def nudge(params, seed: int) -> None:
    """Move every entry of ``params`` (tensors, in place) by one ulp, up or down by a fair coin
    of the generator seeded with ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in params:
            up = torch.rand(p.shape, generator=gen) < 0.5
            towards = torch.where(up, torch.full_like(p, float("inf")), torch.full_like(p, float("-inf")))
            p.copy_(torch.nextafter(p, towards))


@contextlib.contextmanager
def variant(name: str):
    """Train under ``name`` (an ``ulp-S``, a defect of :data:`DEFECTS`, or ``none``) while the
    block runs; every patch is undone after it. Training must run in this process (one worker)."""
    from cclib import _grads, fast, mixing, sweep, task

    with contextlib.ExitStack() as stack:
        def patch(obj, attr, value):
            stack.enter_context(mock.patch.object(obj, attr, value))

        if name.startswith("ulp-"):
            seed, build = int(name[4:]), sweep.build_model

            def nudged(spec):
                model = build(spec)
                nudge(list(model.parameters()), seed)
                return model
            patch(sweep, "build_model", nudged)
        elif name in ("lr+3%", "lr-3%"):
            factor, lr = (1.03 if name == "lr+3%" else 0.97), task.cosine_lr
            off = lambda *args: factor * lr(*args)  # noqa: E731
            patch(task, "cosine_lr", off)
            patch(fast, "cosine_lr", off)
        elif name == "mixing-sign":
            build_mixing = sweep.build_mixing
            patch(sweep, "build_mixing", lambda spec: _flipped(build_mixing(spec), mixing.Mixing))
        elif name == "drop-term":
            gradients = fast._gradients

            def dropped(batch, w_in, w_out, gt, sigma_abs, **kw):
                loss, g_in, g_out, g_sigma = gradients(batch, w_in, w_out, gt, sigma_abs, **kw)
                if gt is not None:  # W_in's gradient as if the labels had no mixing term
                    clean = dict(kw, scaled_gt=None, need_sigma_grad=False,
                                 target=None if kw["target"] is None else _grads.one_active_targets(None, sigma_abs, gt.shape[1]))
                    g_in = gradients(batch, w_in, w_out, None, sigma_abs, **clean)[1]
                return loss, g_in, g_out, g_sigma
            patch(fast, "_gradients", dropped)
        elif name != "none":
            raise ValueError(f"variant must be 'none', ulp-<seed> or one of {', '.join(DEFECTS)}, got {name!r}")
        yield


def _flipped(mix, cls):
    return cls(-mix.pattern, mix.sigma, mix.trainable_sigma)


def retrain(names, name: str = "none") -> dict:
    """The registry runs ``names`` retrained cold under variant ``name``, in this process (a
    temporary folder as cache, the store unread): {run name: Trained}."""
    from cclib import experiments, paper_runs, store

    specs = paper_runs.registry()
    saved = os.environ.pop("CCLIB_CACHE_ONLY", None)
    try:
        with tempfile.TemporaryDirectory(prefix="cclib-xcpu-") as tmp, variant(name):
            runs = experiments.trained_many([specs[n] for n in names], engine=store.ENGINE, device=store.DEVICE,
                                            folder=Path(tmp), workers=1)
    finally:
        if saved is not None:
            os.environ["CCLIB_CACHE_ONLY"] = saved
    return dict(zip(names, runs))


def measure(name: str, out: Path, names=None) -> None:
    from cclib import cache, paper_runs

    names = list(names or paper_runs.REPRODUCE_SAMPLE)
    if name == "isa" and any(os.environ.get(k) != v for k, v in ISA_ENV.items()):
        env = dict(os.environ, **ISA_ENV)
        subprocess.run([sys.executable, __file__, "measure", "isa", "--out", str(out), "--runs", *names],
                       env=env, check=True)
        return
    runs = retrain(names, "none" if name == "isa" else name)
    arrays = {f"{run}/{k}": v for run, trained in runs.items() for k, v in trained.arrays().items()}
    out.mkdir(parents=True, exist_ok=True)
    cache.atomic_write_bytes(out / f"{name}.npz", cache.npz_bytes(arrays))
    print(f"cross_cpu: {name}: {len(runs)} runs written to {out / f'{name}.npz'}")


#: The early tolerance is this many times the largest early move of an honest retrain: room for
#: a CPU whose rounding differs more than the two stand-ins', still far below any defect's move.
EARLY_SAFETY = 10.0
#: The false-alarm rate the final-loss tolerance is set for: the chance that an honest retrain of
#: the whole sample fails it somewhere, under a normal model of the honest moves.
FALSE_ALARM = 0.01
#: The horizons whose honest and defective moves derive tabulates (cclib.store.EARLY_STEPS among them).
HORIZONS = (1, 10, 30, 100, 300, 1000, 3000)


def _moves(stored: dict, fresh: dict, names, spreads: dict) -> dict:
    """Per run: the largest relative weight difference, the largest relative difference of a
    minibatch loss within each horizon of HORIZONS, and each instance's change of the final loss
    in units of the run's seed spread (None without one)."""
    from cclib import store

    out = {}
    for name in names:
        a, b = stored[name].arrays(), fresh[name]
        before, after = store.final_loss(stored[name]), store.final_loss_of(b["loss"], stored[name].spec.steps)
        spread = spreads[name]
        out[name] = dict(
            weight_rel=max(float(np.max(np.abs(a[k] - b[k])) / np.max(np.abs(a[k]))) for k in a if k.startswith("param.")),
            early_rel={str(h): store.early_difference(a["loss"], b["loss"], h) for h in HORIZONS},
            final_rel=float(np.max(np.abs(after - before) / before)),
            final_sd=None if spread is None else [float(x) for x in (after - before) / spread],
            starts_from_another=stored[name].spec.init is not None)
    return out


def derive(folder: Path) -> int:
    """Compare each measured variant with the store and set the tolerances from the honest ones."""
    from scipy.stats import norm

    import importlib.util
    from cclib import paper_runs, report, store, sweep

    spec = importlib.util.spec_from_file_location("store_cli", ROOT / "paper-code" / "store.py")
    store_cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(store_cli)
    names = list(paper_runs.REPRODUCE_SAMPLE)
    stored = store_cli._load(names, None)
    spreads = {n: s if s is not None else store.seed_spread(stored[n]) for n, s in store_cli._spreads(names).items()}
    variants = {}
    for name in (*HONEST, *DEFECTS):
        path = folder / f"{name}.npz"
        if not path.exists():
            raise SystemExit(f"derive: {path} is missing; run `cross_cpu.py measure {name} --out {folder}` first")
        with np.load(path, allow_pickle=False) as f:
            fresh = {n: {k.split("/", 1)[1]: f[k] for k in f.files if k.startswith(f"{n}/")} for n in names}
        variants[name] = _moves(stored, fresh, names, spreads)

    EARLY_STEPS = store.EARLY_STEPS  # the horizon the check uses (1% of the 10,000-step runs)
    h = str(EARLY_STEPS)
    early_honest = max(v[n]["early_rel"][h] for name, v in variants.items() if name in HONEST
                       for n in names if not v[n]["starts_from_another"])
    early_rel = float(f"{EARLY_SAFETY * early_honest:.0e}")
    if early_rel < EARLY_SAFETY * early_honest:
        early_rel = float(f"{2 * early_rel:.0e}")
    # final loss: the honest moves in seed sd, per run; the largest per-run RMS sets the scale
    rms = {n: float(np.sqrt(np.mean([z ** 2 for name in HONEST for z in variants[name][n]["final_sd"]])))
           for n in names if variants[HONEST[0]][n]["final_sd"] is not None}
    scale = max(rms.values())
    judged = sum(len(variants[HONEST[0]][n]["final_sd"]) for n in rms)
    per_instance = 1 - (1 - FALSE_ALARM) ** (1 / judged)
    z = float(norm.isf(per_instance / 2))
    final_sd = float(np.ceil(10 * z * scale) / 10)
    largest_final = max(abs(z_) for name in HONEST for n in rms for z_ in variants[name][n]["final_sd"])

    def caught(move) -> dict:
        early = None if move["starts_from_another"] else move["early_rel"][h] / early_rel
        final = None if move["final_sd"] is None else max(abs(x) for x in move["final_sd"]) / final_sd
        return dict(early=early, final=final, caught=bool((early or 0) > 1 or (final or 0) > 1))

    detection = {d: {n: caught(variants[d][n]) for n in names} for d in DEFECTS}
    honest_pass = {v: {n: not caught(variants[v][n])["caught"] for n in names} for v in HONEST}
    made = report.provenance()
    data = dict(
        machine=dict(cpu=made["cpu"], torch=made["torch"], git_commit=made["git_commit"]),
        # the code the variants trained with: the store's (its runs were retrained bit-identical by it)
        training_code={engine: sweep.run_code(engine) for engine in ("fast", "general")},
        sample=names, honest=list(HONEST), defects=list(DEFECTS), isa_env=ISA_ENV,
        early_steps=EARLY_STEPS, early_safety=EARLY_SAFETY, false_alarm=FALSE_ALARM,
        derived=dict(
            early_rel=early_rel, largest_honest_early_rel=early_honest,
            final_sd=final_sd, largest_honest_final_sd=largest_final, honest_rms_sd=rms,
            judged_instances=judged, z=z,
            reason=(f"early_rel: {EARLY_SAFETY:g} x the largest relative difference of a minibatch loss within the "
                    f"first {EARLY_STEPS} steps over every honest retrain ({early_honest:.1e}), rounded up; "
                    f"final_sd: z = {z:.2f} x the largest per-run RMS of the honest final-loss moves "
                    f"({scale:.3f} seed sd), so that under a normal model an honest retrain of the "
                    f"{judged} judged instances of the sample fails with probability {FALSE_ALARM:g}")),
        honest_pass=honest_pass, detection=detection, variants=variants)
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")
    print(f"early: {EARLY_SAFETY:g} x {early_honest:.1e} -> EARLY_REL = {early_rel:g}; final: {z:.2f} x {scale:.3f} sd "
          f"-> FINAL_SD = {final_sd:g} (largest honest move {largest_final:.2f} sd)")
    for d, runs in detection.items():
        shown = []
        for n, r in runs.items():
            early = "-" if r["early"] is None else f"{r['early']:.0f}x"
            final = "-" if r["final"] is None else f"{r['final']:.1f}x"
            shown.append(f"{n} {'CAUGHT' if r['caught'] else 'passed'} (early {early}, final {final})")
        print(f"{d}: caught by {sum(r['caught'] for r in runs.values())} of {len(runs)} runs: " + "; ".join(shown))
    print(f"honest retrains passing: " + ", ".join(f"{v} {sum(r.values())}/{len(r)}" for v, r in honest_pass.items()))
    print(f"wrote {RESULTS}")
    return 0


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("variant")
    m.add_argument("--out", required=True)
    m.add_argument("--runs", nargs="*")
    d = sub.add_parser("derive")
    d.add_argument("folder")
    args = parser.parse_args(argv)
    if args.command == "measure":
        measure(args.variant, Path(args.out), args.runs)
        return 0
    return derive(Path(args.folder))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
