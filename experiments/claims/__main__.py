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
    parser.add_argument("--arm", choices=("a", "b"), help=argparse.SUPPRESS)  # a worker's half
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
        return _in_workers(claims, args)
    start_tensorflow()
    if args.threads and args.backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from experiments.claims.engine import evaluate, train_arm
    from experiments.claims.runs import Runs
    from experiments.pipeline import RunSpecError

    runs = Runs(args.results, execute=True, extra=_run_overrides(args), pack=args.pack)
    t0 = time.perf_counter()
    for i, claim in enumerate(claims, 1):
        t = time.perf_counter()
        before = runs.trained
        try:
            if args.arm:
                train_arm(claim, args.arm, runs)
            else:
                evaluate(claim, runs)
        except RunSpecError as err:
            print(f"error: claim {claim.key} ({claim.preset}): {err}", file=sys.stderr)
            return 2
        arm = f" (arm {args.arm.upper()})" if args.arm else ""
        print(f"[claims] {i}/{len(claims)} {claim.key}{arm}: {runs.trained - before} runs trained "
              f"in {time.perf_counter() - t:.0f}s (total {time.perf_counter() - t0:.0f}s)",
              flush=True)
    if args.no_report or args.arm:  # one arm's runs are not a report's
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
        print(f"  [{r.verdict}] {r.claim.key} (A/A: {r.control_verdict})")
    return 0


def plan(claims, workers: int = 2) -> tuple[list[tuple[list[str], str | None]], list[str]]:
    """How ``--workers`` share the claims: (the units of work in the order workers take
    them, each a list of claim keys and the arm it trains, ``None`` for both; the claims run
    afterwards, alone). A claim whose statistic reads training time runs alone, after the
    workers, on an otherwise idle machine (timed beside another worker, its A/A control once
    measured identical arms 1.4x apart). The claims of one preset share that preset's runs,
    so they are one unit (split over two workers, one waits on the other's run locks). A
    unit estimated at more than half a worker's fair share (total / workers) is split into
    its two arms, whose runs are disjoint (``engine.train_arm``): the pooling preset alone
    kept one worker busy for 47 minutes while the other idled for the last 7. Units go
    largest first by estimated compute (``_work_estimates``); a freed worker takes the next."""
    from experiments.claims import statistics

    def timed(claim):
        return any(statistics.REGISTRY[name].timed
                   for name in (claim.statistic, claim.tuning_statistic[0]))

    presets: dict = {}
    for claim in claims:
        if not timed(claim):
            presets.setdefault(claim.preset, []).append(claim)
    work = _work_estimates(claims)
    total = sum(sum(work.get(c.key, (0.0, 0.0))) for m in presets.values() for c in m)
    units = []
    for members in presets.values():
        keys = [c.key for c in members]
        arms = [max(work.get(c.key, (0.0, 0.0))[i] for c in members) for i in (0, 1)]
        if workers > 1 and sum(arms) > total / workers / 2 and all(
                c.source != "ravine" for c in members):
            units += [(arms[0], (keys, "a")), (arms[1], (keys, "b"))]
        else:
            units.append((sum(arms), (keys, None)))
    units.sort(key=lambda u: -u[0])
    return [unit for _, unit in units], [c.key for c in claims if timed(c)]


def _work_estimates(claims) -> dict:
    """A rough compute cost per claim and arm, for ordering and splitting the units: key ->
    (arm A, arm B), each the arm's runs (``_cost``) x epochs x training examples x forward
    multiply-adds per example (``dlkit.complexity``) of the arm's network, built as its runs
    build it (untrained), plus each step's fixed cost (``STEP_MACS``: the small networks'
    runs are step overhead, not arithmetic). Claims it cannot estimate get zeros (they go
    last)."""
    from dlkit import complexity, data
    from experiments.claims.runs import Runs
    from experiments.pipeline import loss_pairing, model_from_config

    runs, datasets, arms, work = Runs(), {}, {}, {}

    def arm_work(preset, overrides) -> float:  # epochs x examples x MACs of one run
        if (preset, overrides) not in arms:
            cfg = runs.compose(preset, list(overrides))
            spec = {k: v for k, v in cfg["dataset"].items() if k != "name"}
            key = repr((cfg["dataset"]["name"], sorted(spec.items())))
            if key not in datasets:  # the sizes do not depend on the seed
                datasets[key] = data.load(cfg["dataset"]["name"], seed=0, **spec)
            dataset = datasets[key]
            model = model_from_config(cfg, dataset.input_shape, dataset.output_size,
                                      loss_pairing(cfg["loss"], dataset.task)[0])
            macs = int(complexity.summary(model)["macs"].iloc[-1])
            batch = cfg["trainer"]["batch_size"]
            n = len(dataset.x_train)
            steps = 1 if batch == "full" else -(-n // int(batch))
            arms[preset, overrides] = float(cfg["trainer"]["epochs"]) * (
                n * max(macs, 1) + steps * STEP_MACS)
        return arms[preset, overrides]

    for claim in claims:
        if claim.source != "train":  # optimizer paths on a closed-form surface: no network
            work[claim.key] = (0.0, 0.0)
            continue
        try:
            work[claim.key] = tuple(_cost(claim, arm) * arm_work(
                claim.preset, tuple(arm.run_overrides()[0])) for arm in (claim.a, claim.b))
        except Exception:  # an estimate only: a claim that cannot be built here goes last
            work[claim.key] = (0.0, 0.0)
    return work


# A training step's fixed cost (dispatch, optimizer bookkeeping, metrics) in multiply-adds:
# about 1 ms at the 20 G multiply-adds/s one core of the development machine sustains.
STEP_MACS = 2e7


def _worker_args(args) -> list[str]:
    """The options every worker process gets, rebuilt from the parsed ``args`` (never by
    editing the parent's argv): the results root, the backend, packing, the overrides and
    the smaller sizes; each worker then trains its unit and writes no report."""
    out = ["--results", args.results, "--backend", args.backend]
    out += ["--pack"] if args.pack else []
    for override in args.override:
        out += ["--override", override]
    out += ["--seeds", str(args.seeds)] if args.seeds is not None else []
    out += ["--points", str(args.points)] if args.points is not None else []
    return [*out, "--no-report"]


_LIVE: set = set()  # the worker processes running now (stopped on Ctrl-C)


def _run_worker(command: list[str]) -> int:
    """One worker process to its end; its exit status (negative: killed by that signal)."""
    import subprocess

    with subprocess.Popen(command) as proc:
        _LIVE.add(proc)
        try:
            return proc.wait()
        finally:
            _LIVE.discard(proc)


def _how(code: int) -> str:
    """A worker's exit status in words: ``exit status 2``, ``killed by SIGKILL``."""
    import signal

    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _unit_name(keys, arm) -> str:
    return ", ".join(keys) + (f" (arm {arm.upper()})" if arm else "")


def _in_workers(claims, args) -> int:
    """Run the claims in ``--workers`` processes at a time, one process per unit of
    ``plan`` (a freed worker takes the next unit, largest first), then the timed claims in
    one process alone, then write one report. Runs shared by two claims are trained once: a
    second process would wait on the run's lock, then find it finished. Any unit that fails
    (non-zero exit or killed by a signal) is named in a closing summary, no report is
    written and the exit status is non-zero."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    units, alone = plan(claims, args.workers)
    passthrough = _worker_args(args)

    def command(keys, threads, arm=None):
        return [sys.executable, "-m", "experiments.claims", *keys, *passthrough,
                *(["--threads", str(threads)] if threads else []),
                *(["--arm", arm] if arm else [])]

    outcomes = []  # (unit name, exit status)
    pool = ThreadPoolExecutor(max_workers=args.workers)
    try:  # the pool's threads only wait on their processes: FIFO keeps largest first
        futures = [(_unit_name(keys, arm), pool.submit(_run_worker, command(keys, threads, arm)))
                   for keys, arm in units]
        outcomes += [(name, future.result()) for name, future in futures]
        if alone:  # on the idle machine, with every core (or --threads)
            print(f"[claims] timed alone, after the other claims: {', '.join(alone)}",
                  flush=True)
            outcomes.append((_unit_name(alone, None),
                             _run_worker(command(alone, args.threads))))
    except KeyboardInterrupt:  # stop the workers (a terminal's Ctrl-C reached them too)
        import signal

        for proc in list(_LIVE):
            proc.send_signal(signal.SIGINT)
        pool.shutdown(wait=True, cancel_futures=True)
        print("interrupted: claims workers stopped; re-running the same command resumes",
              file=sys.stderr, flush=True)
        return 130
    pool.shutdown()
    failed = [(name, code) for name, code in outcomes if code != 0]
    if failed:
        print(f"error: {len(failed)} of {len(outcomes)} claims workers failed; no report "
              "written:", file=sys.stderr)
        for name, code in failed:
            print(f"  {name}: {_how(code)}", file=sys.stderr)
        # a signal's status is negative: report it the way a shell does (128 + signal)
        return max(code if code > 0 else 128 - code for _, code in failed)
    return _report(claims, args)


def _cost(claim, arm) -> int:
    """Runs of one arm: its runs per seed times its seeds: the initial tuning grid on the
    tuning seeds, the final seeds and, for arm A, the control seeds."""
    from experiments.claims.protocol import TUNING_SEEDS

    per_seed = 1
    for _, values in arm.sweep:
        per_seed *= len(values)
    tuning = claim.tuning.points * len(TUNING_SEEDS) if claim.tuning else 0
    return (tuning + claim.seeds * (2 if arm is claim.a else 1)) * per_seed


if __name__ == "__main__":
    sys.exit(main())
