"""Run the fair protocol for the seed's claims, then write the claims report.

    python -m experiments.claims                       # every claim, runs into results/
    python -m experiments.claims ce_vs_mse batchnorm_sigmoid --out results/reference
    python -m experiments.claims --list                # the declared claims
    python -m experiments.claims --plan                # how many runs each claim needs now

Runs land in ``<results>/<preset>/`` like the preset's sweep; completed runs are skipped,
interrupted ones resume, so the command can be stopped and started again.
"""

from __future__ import annotations

import argparse
import sys
import time


def _bad(message: str):
    """Bad input: one line on stderr, exit status 2, nothing trained."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(2)


def _run_overrides(args) -> list[str]:
    """Overrides for every run: ``--override``s, and the backend when it is not the
    default (the backend is part of a run's identity: runs under JAX get their own folders
    and never stand in for TensorFlow's)."""
    backend = [] if args.backend == "tensorflow" else [f"backend={args.backend}"]
    return [*backend, *args.override]


def _claims(keys):
    from experiments.claims import ClaimSpecError, load

    try:
        claims = load()
    except ClaimSpecError as err:
        _bad(f"error: {err}")
    if not keys:
        return claims
    known = {c.key: c for c in claims}
    bad = [k for k in keys if k not in known]
    if bad:
        _bad(f"error: unknown claim {', '.join(map(repr, bad))}; declared: "
                         f"{', '.join(known)}")
    return [known[k] for k in keys]


def _smaller(claim, seeds, points):
    from dataclasses import replace

    if seeds is not None and seeds < 2:
        _bad(f"error: --seeds={seeds} is not accepted: at least 2")
    if points is not None and points < 2:
        _bad(f"error: --points={points} is not accepted: at least 2")
    tuning = claim.tuning
    if tuning is not None and points is not None:
        tuning = replace(tuning, points=points)
    return replace(claim, seeds=seeds or claim.seeds, tuning=tuning)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.claims", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keys", nargs="*", help="claims to run (default: all)")
    parser.add_argument("--results", default="results", help="results root (default results)")
    parser.add_argument("--out", help="write claims.md, claims.json and figures here "
                        "(default: the results root)")
    parser.add_argument("--backend", default="tensorflow", choices=("tensorflow", "jax"))
    parser.add_argument("--pack", action="store_true", help="train each claim's tuning grid "
                        "and its final and control seeds as packs (experiments.packing); "
                        "claims whose statistic reads training time still train one run at "
                        "a time")
    parser.add_argument("--list", action="store_true", help="list the declared claims")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="a Hydra override for every run (e.g. trainer.epochs=2 for a "
                        "smoke test); repeatable")
    parser.add_argument("--seeds", type=int, help="final seeds per arm instead of each "
                        "claim's own (below 5 every verdict is inconclusive: for smoke tests)")
    parser.add_argument("--points", type=int, help="initial tuning grid points instead of 5")
    parser.add_argument("--workers", type=int, default=1, help="run the claims in N worker "
                        "processes (each with --threads threads); the report is written once "
                        "all are done")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads per "
                        "process (default: TensorFlow's choice; with --workers: cores / N)")
    parser.add_argument("--no-report", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for flag in ("workers", "threads"):
        if getattr(args, flag) < (1 if flag == "workers" else 0):
            _bad(f"error: --{flag}={getattr(args, flag)} is not accepted: a "
                             "positive int")
    claims = _claims(args.keys)
    if args.seeds is not None or args.points is not None:
        claims = [_smaller(c, args.seeds, args.points) for c in claims]
    if args.list:
        for c in claims:
            print(f"{c.key:<24} {c.preset:<16} {c.statistic:<22} {c.text}")
        return 0

    from experiments.tf_startup import set_backend, start_tensorflow

    set_backend(args.backend)
    if args.workers > 1:  # the parent only writes the report: its Keras starts quietly too
        return _in_workers(claims, args, argv if argv is not None else sys.argv[1:])
    start_tensorflow()
    if args.threads and args.backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from experiments.claims.engine import evaluate
    from experiments.claims.runs import Runs
    from experiments.pipeline import RunSpecError

    runs = Runs(args.results, execute=True, extra=_run_overrides(args), pack=args.pack)
    t0 = time.perf_counter()
    for i, claim in enumerate(claims, 1):
        t = time.perf_counter()
        before = runs.trained
        try:
            evaluate(claim, runs)
        except RunSpecError as err:
            print(f"error: claim {claim.key} ({claim.preset}): {err}", file=sys.stderr)
            return 2
        print(f"[claims] {i}/{len(claims)} {claim.key}: {runs.trained - before} runs trained "
              f"in {time.perf_counter() - t:.0f}s (total {time.perf_counter() - t0:.0f}s)",
              flush=True)
    if args.no_report:
        return 0
    return _report(claims, args)


def _report(claims, args) -> int:
    from pathlib import Path

    from experiments.tf_startup import start_tensorflow

    start_tensorflow()  # the extra evidence uses Keras: no backend start-up noise
    from experiments.claims.report import collect, write
    from experiments.tensorboard_log import write_experiment

    for preset in sorted({c.preset for c in claims}):  # each preset's HParams columns
        write_experiment(Path(args.results) / preset)

    results, missing = collect(args.results, claims, extra=_run_overrides(args))
    for path in write(results, missing, args.out or args.results):
        print(f"  wrote {path}")
    for r in results:
        print(f"  [{r.verdict}] {r.claim.key} (A/A: {r.control_verdict})")
    return 0


def _in_workers(claims, args, argv) -> int:
    """Split the claims over ``--workers`` processes (greedy by a rough cost: seeds times
    runs per seed), wait for all, then write one report. Runs shared by two claims are
    trained once: the second worker waits on the run's lock, then finds it finished."""
    import os
    import subprocess

    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    groups = [[] for _ in range(args.workers)]
    load = [0] * args.workers
    for claim in sorted(claims, key=lambda c: -_cost(c)):
        k = load.index(min(load))
        groups[k].append(claim.key)
        load[k] += _cost(claim)
    passthrough = [a for a in argv if a not in {c.key for c in claims}]
    for flag in ("--workers", "--threads"):
        while flag in passthrough:
            i = passthrough.index(flag)
            del passthrough[i:i + 2]
    passthrough = [a for a in passthrough if not a.startswith(("--workers=", "--threads="))]
    procs = [subprocess.Popen([sys.executable, "-m", "experiments.claims", *group,
                               *passthrough, "--threads", str(threads), "--no-report"])
             for group in groups if group]
    codes = [p.wait() for p in procs]
    if any(codes):
        print(f"error: worker exit codes {codes}", file=sys.stderr)
        return max(codes)
    return _report(claims, args)


def _cost(claim) -> int:
    per_seed = 1
    for _, values in claim.a.sweep:
        per_seed *= len(values)
    return claim.seeds * per_seed


if __name__ == "__main__":
    sys.exit(main())
