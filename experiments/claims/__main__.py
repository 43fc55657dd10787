"""Run the fair protocol for the seed's claims, then write the claims report.

    python -m experiments.claims                       # every claim, runs into results/
    python -m experiments.claims ce_vs_mse batchnorm_sigmoid --out results/reference
    python -m experiments.claims --list                # the declared claims
    python -m experiments.claims --plan                # runs per claim and stage, a time estimate
    python -m experiments.claims --replicate           # every stage again on fresh seeds

Runs land in ``<results>/<preset>/`` like the preset's sweep; completed runs are skipped,
interrupted ones resume, so the command can be stopped and started again.
"""

from __future__ import annotations

import argparse
import sys
import time

# the pieces of the command, each in a module of its own (tests import some names here)
from experiments.claims.plan import RUN_S, _run_overrides, plan, show_plan  # noqa: F401
from experiments.claims.progress import (  # noqa: F401
    Progress,
    Tracked,
    _duration,
    _HoldChanceWarnings,
)
from experiments.claims.workers import _in_workers


def _bad(message: str):
    """Bad input: one line on stderr, exit status 2, nothing trained."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(2)


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
    parser.add_argument("--plan", action="store_true", help="print the runs each claim "
                        "needs per stage and an estimated time, then stop (trains nothing)")
    parser.add_argument("--replicate", action="store_true", help="run every stage again "
                        "on disjoint fresh seeds (tuning, final and control seeds of "
                        "experiments/claims/protocol.py) into the same results folder; the "
                        "report shows each claim's replication verdict beside the "
                        "original's; with --plan: the replication's runs")
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
    parser.add_argument("--arm", choices=("a", "b"), help=argparse.SUPPRESS)  # a worker's half
    args = parser.parse_args(argv)
    for flag in ("workers", "threads"):
        if getattr(args, flag) < (1 if flag == "workers" else 0):
            _bad(f"error: --{flag}={getattr(args, flag)} is not accepted: a "
                             "positive int")
    claims = _claims(args.keys)
    if args.seeds is not None or args.points is not None:
        claims = [_smaller(c, args.seeds, args.points) for c in claims]
    declared = claims
    if args.replicate:
        claims = [c.replication() for c in claims]
    if args.list:
        for c in claims:
            print(f"{c.key:<24} {c.preset:<16} {c.statistic:<22} {c.text}")
        return 0

    from experiments.tf_startup import set_backend, start_tensorflow

    set_backend(args.backend)
    if args.plan:
        start_tensorflow()  # the estimate builds each arm's network (untrained)
        return show_plan(claims, args)
    if args.workers > 1:  # the parent only writes the report: its Keras starts quietly too
        failed = _in_workers(claims, args)
        return failed if failed is not None else _report(declared or claims, args)
    start_tensorflow()
    if args.threads and args.backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from experiments.claims.engine import evaluate, train_arm
    from experiments.claims.runs import Runs
    from experiments.spec import RunSpecError

    runs = Runs(args.results, execute=True, extra=_run_overrides(args), pack=args.pack)
    progress = Progress(claims, args.arm)
    tracked = Tracked(runs, progress)
    t0 = time.perf_counter()
    for i, claim in enumerate(claims, 1):
        t = time.perf_counter()
        before = runs.trained
        progress.start_claim(claim)
        try:
            if args.arm:
                train_arm(claim, args.arm, tracked)
            else:
                evaluate(claim, tracked)
        except RunSpecError as err:
            progress.close()
            print(f"error: claim {claim.key} ({claim.preset}): {err}", file=sys.stderr)
            return 2
        progress.end_claim()
        arm = f" (arm {args.arm.upper()})" if args.arm else ""
        print(f"[claims] {i}/{len(claims)} {claim.key}{arm}: {runs.trained - before} runs trained "
              f"in {time.perf_counter() - t:.0f}s (total {time.perf_counter() - t0:.0f}s)",
              flush=True)
    progress.close()
    if args.no_report or args.arm:  # one arm's runs are not a report's
        return 0
    return _report(declared, args)


def _report(claims, args) -> int:
    from pathlib import Path

    from experiments.tf_startup import start_tensorflow

    start_tensorflow()  # the extra evidence uses Keras: no backend start-up noise
    from experiments.claims.report import collect, write
    from experiments.tensorboard_log import write_experiment

    for preset in sorted({c.preset for c in claims}):  # each preset's HParams columns
        write_experiment(Path(args.results) / preset)

    results, missing = collect(args.results, claims, extra=_run_overrides(args))
    out = args.out or args.results
    try:
        written = write(results, missing, out)
    except OSError as err:  # a full disk: the atomic writer kept every previous file
        print(f"error: writing the claims report into {out} failed: {err.strerror or err}; "
              "files already there keep their previous contents", file=sys.stderr)
        return 1
    for path in written:
        print(f"  wrote {path}")
    for r in results:
        mechanism = f"; mechanism: {r.mechanism_verdict}" if r.mechanism is not None else ""
        replication = (f"; replication: {r.replication.verdict}"
                       if r.replication is not None else "")
        print(f"  [{r.verdict}] {r.claim.key} (A/A: {r.control_verdict}{mechanism}"
              f"{replication})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
