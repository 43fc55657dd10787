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
        return _in_workers(claims, args, declared)
    start_tensorflow()
    if args.threads and args.backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from experiments.claims.engine import evaluate, train_arm
    from experiments.claims.runs import Runs
    from experiments.pipeline import RunSpecError

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


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


class Progress:
    """Runs done per claim and stage (tuning, final, control) and overall, with an ETA.

    On a terminal: two tqdm bars on stderr, all claims and this claim. Elsewhere (a log, a
    worker process, ``DLKIT_PROGRESS=lines``): no bars, one line per stage change on
    stderr. The totals are the runs the protocol plans (``engine.stage_runs``); a tuning
    grid that grows at an edge adds to them, and a stage's total becomes its count once
    the next stage begins. The ETA assumes the remaining runs cost what the done ones did
    on average (runs found already finished count as done)."""

    def __init__(self, claims, arm=None, stream=None):
        import os

        from tqdm import tqdm

        from experiments.claims.engine import stage_runs

        self.stream = stream or sys.stderr
        self.lines = os.environ.get("DLKIT_PROGRESS") == "lines" or not (
            hasattr(self.stream, "isatty") and self.stream.isatty())
        self.planned = {c.key: stage_runs(c, arm) for c in claims}
        self.arm = f" (arm {arm.upper()})" if arm else ""
        self.n_claims, self.index = len(claims), 0
        self.total = sum(sum(p.values()) for p in self.planned.values())
        self.done, self.t0 = 0, time.perf_counter()
        self.claim, self.stage, self.counts, self.seen = None, None, {}, set()
        self.held = 0  # chance-level warnings held back while tuning
        self._tqdm = tqdm
        self.overall = tqdm(total=self.total, desc="claims", unit="run", position=0,
                            file=self.stream, disable=self.lines, dynamic_ncols=True)
        self.bar = None

    def eta(self) -> str:
        if not self.done:
            return "unknown"
        elapsed = time.perf_counter() - self.t0
        return "~" + _duration(elapsed / self.done * max(self.total - self.done, 0))

    def start_claim(self, claim) -> None:
        self.index += 1
        self.claim, self.stage, self.seen = claim, None, set()
        self.counts = dict.fromkeys(self.planned[claim.key], 0)
        self.bar = self._tqdm(total=sum(self.planned[claim.key].values()), unit="run",
                              desc=claim.key, position=1, leave=False, file=self.stream,
                              disable=self.lines, dynamic_ncols=True)

    def _retotal(self, stage: str, count: int) -> None:
        """The planned runs of ``stage`` become ``count`` (a grown grid, a finished stage)."""
        planned = self.planned[self.claim.key]
        change, planned[stage] = count - planned[stage], count
        self.total += change
        self.overall.total = self.total
        if self.bar is not None:
            self.bar.total = sum(planned.values())
        self.overall.refresh()

    def set_stage(self, stage: str) -> None:
        if stage == self.stage:
            return
        if self.stage is not None:
            self._retotal(self.stage, self.counts[self.stage])
            self._release()
        self.stage = stage
        planned = self.planned[self.claim.key][stage]
        if self.bar is not None:
            self.bar.set_description(f"{self.claim.key}: {stage}")
        if self.lines:
            print(f"[claims] {self.index}/{self.n_claims} {self.claim.key}{self.arm}: {stage}, "
                  f"{self.counts[stage]}/{planned} runs; all claims {self.done}/{self.total} "
                  f"runs, {_duration(time.perf_counter() - self.t0)} elapsed, ETA "
                  f"{self.eta()}", file=self.stream, flush=True)

    def run_done(self, key) -> None:
        """One run of the current stage trained or found (each counted once per claim)."""
        if key in self.seen or self.stage is None:
            return
        self.seen.add(key)
        self.counts[self.stage] += 1
        if self.counts[self.stage] > self.planned[self.claim.key][self.stage]:
            self._retotal(self.stage, self.counts[self.stage])
        self.done += 1
        self.overall.update(1)
        if self.bar is not None:
            self.bar.update(1)

    def _release(self) -> None:
        if self.held:
            print(f"note: {self.claim.key}: {self.held} tuning run(s) ended at chance level "
                  "(expected at the grid's edges: tuning chose among the other rates)",
                  file=self.stream, flush=True)
            self.held = 0

    def end_claim(self) -> None:
        if self.stage is not None:
            self._retotal(self.stage, self.counts[self.stage])
        for stage in self.counts:  # stages this claim never reached (no tuning, a ravine)
            if stage != self.stage and not self.counts[stage]:
                self._retotal(stage, 0)
        self._release()
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.lines:
            print(f"[claims] {self.index}/{self.n_claims} {self.claim.key}{self.arm}: done, "
                  f"{sum(self.counts.values())} runs; all claims {self.done}/{self.total} "
                  f"runs, ETA {self.eta()}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.overall.close()


class _HoldChanceWarnings:
    """A stand-in for stderr while tuning: lines ``warning: ... at chance level ...`` are
    counted into ``progress.held`` instead of shown (a tuning grid tries rates at both
    edges, where a run that learns nothing is expected, and the warning's advice cannot
    apply to it); every other line goes through."""

    def __init__(self, stream, progress):
        self.stream, self.progress, self.buffer = stream, progress, ""

    def write(self, text: str) -> int:
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            if line.startswith("warning: ") and "at chance level" in line:
                self.progress.held += 1
            else:
                self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        if self.buffer:
            self.stream.write(self.buffer)
            self.buffer = ""
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


class Tracked:
    """``Runs`` with every run the protocol asks for counted in ``progress`` (each run
    once per claim, trained or found), the stage told by the engine (``stage``)."""

    def __init__(self, runs, progress: Progress):
        self._runs, self._progress = runs, progress

    def __getattr__(self, name):
        return getattr(self._runs, name)

    def stage(self, name: str) -> None:
        self._progress.set_stage(name)

    def _quiet(self):
        import contextlib

        if self._progress.stage != "tuning":
            return contextlib.nullcontext()
        return contextlib.redirect_stderr(_HoldChanceWarnings(sys.stderr, self._progress))

    def prefetch(self, preset, override_lists) -> None:
        if not hasattr(self._runs, "prefetch"):
            return
        with self._quiet():
            self._runs.prefetch(preset, override_lists)
            sys.stderr.flush()

    def get(self, preset, overrides):
        with self._quiet():
            run = self._runs.get(preset, overrides)
            sys.stderr.flush()
        self._progress.run_done((preset, tuple(overrides)))
        return run


def show_plan(claims, args) -> int:
    """``--plan``: the runs each claim needs per stage and an estimated time, from each
    arm's network (built, not trained) and the cost model of ``_arm_costs``; nothing is
    trained and no run folder is made."""
    from experiments.claims.engine import STAGES, stage_runs

    seconds = _seconds_estimates(claims, _run_overrides(args))
    print(f"{'claim':<26}{'preset':<18}" + "".join(f"{s:>10}" for s in STAGES)
          + f"{'runs':>7}{'estimate':>11}")
    total_runs, total_s = 0, 0.0
    for claim in claims:
        counts = stage_runs(claim, args.arm)
        n = sum(counts.values())
        est = seconds.get(claim.key)
        total_runs += n
        total_s += est or 0.0
        when = "no network" if claim.source != "train" else (
            "unknown" if est is None else _duration(est))
        print(f"{claim.key:<26}{claim.preset:<18}" + "".join(f"{counts[s]:>10}" for s in STAGES)
              + f"{n:>7}{when:>11}")
    print(f"total: {total_runs} runs, about {_duration(total_s)} in one process "
          "(an estimate, not a measurement)")
    print(f"  The estimate assumes {MACS_PER_S:.3g} multiply-adds per second, training at "
          f"{TRAIN_PASSES} forward passes per example, {STEP_MACS:.3g} multiply-adds of fixed "
          f"cost per step, {EPOCH_S:g}s per epoch and {RUN_S:g}s per run (start-up, test "
          "evaluation, saving); a machine may be several times faster or slower. Runs "
          "already finished are skipped, a tuning grid that grows at an edge adds runs, and "
          "--workers N shares the work among N processes.")
    return 0


def plan(claims, workers: int = 2,
         extra=()) -> tuple[list[tuple[list[str], str | None]], list[str]]:
    """How ``--workers`` share the claims: (the units of work in the order workers take
    them, each a list of claim keys and the arm it trains, ``None`` for both; the claims run
    afterwards, alone). A claim whose statistic reads training time runs alone, after the
    workers, on an otherwise idle machine (timed beside another worker, its A/A control once
    measured identical arms 1.4x apart). The claims of one preset share that preset's runs,
    so they are one unit (split over two workers, one waits on the other's run locks). A
    unit estimated at more than half a worker's fair share (total / workers) is split into
    its two arms, whose runs are disjoint (``engine.train_arm``): the pooling preset alone
    kept one worker busy for 47 minutes while the other idled for the last 7. Units go
    largest first by estimated compute (``_work_estimates``, with the ``extra`` overrides of
    every run); a freed worker takes the next."""
    from experiments.claims import statistics

    def timed(claim):
        return any(statistics.REGISTRY[name].timed
                   for name in (claim.statistic, claim.tuning_statistic[0]))

    presets: dict = {}
    for claim in claims:
        if not timed(claim):
            presets.setdefault(claim.preset, []).append(claim)
    work = _work_estimates(claims, extra)
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


def _arm_costs(claims, extra=()) -> dict:
    """The compute of each claim's arms: key -> ((multiply-adds, steps, epochs, runs) of arm
    A, of arm B) over all the arm's runs (``_cost``): multiply-adds are epochs x training
    examples x forward multiply-adds per example (``dlkit.complexity``) of the arm's
    network, built as its runs build it (untrained, with the ``extra`` overrides); steps
    are epochs x steps per epoch. None for a claim it cannot estimate; zeros for a claim
    without a network."""
    from dlkit import complexity, data
    from experiments.claims.runs import Runs
    from experiments.pipeline import loss_pairing, model_from_config

    runs, datasets, arms, costs = Runs(extra=extra), {}, {}, {}

    def one_run(preset, overrides) -> tuple[float, float]:
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
            epochs = float(cfg["trainer"]["epochs"])
            arms[preset, overrides] = (epochs * n * max(macs, 1), epochs * steps, epochs, 1)
        return arms[preset, overrides]

    for claim in claims:
        if claim.source != "train":  # optimizer paths on a closed-form surface: no network
            costs[claim.key] = ((0.0,) * 4, (0.0,) * 4)
            continue
        try:
            costs[claim.key] = tuple(
                tuple(_cost(claim, arm) * x for x in one_run(
                    claim.preset, tuple(arm.run_overrides()[0]))) for arm in (claim.a, claim.b))
        except Exception:  # an estimate only: a claim that cannot be built here is unknown
            costs[claim.key] = None
    return costs


def _work_estimates(claims, extra=()) -> dict:
    """A rough compute cost per claim and arm, for ordering and splitting the units: key ->
    (arm A, arm B), each the arm's forward multiply-adds plus each step's fixed cost
    (``STEP_MACS``: the small networks' runs are step overhead, not arithmetic). Claims it
    cannot estimate get zeros (they go last)."""
    return {key: ((0.0, 0.0) if arms is None else
                  tuple(macs + steps * STEP_MACS for macs, steps, _, _ in arms))
            for key, arms in _arm_costs(claims, extra).items()}


def _seconds_estimates(claims, extra=()) -> dict:
    """Estimated seconds per claim in one process (None: cannot be estimated): training
    costs ``TRAIN_PASSES`` forward passes per example plus ``STEP_MACS`` per step, at
    ``MACS_PER_S``, plus ``EPOCH_S`` per epoch and ``RUN_S`` per run. An estimate for
    planning, not a measurement."""
    return {key: None if arms is None else
            sum((TRAIN_PASSES * macs + steps * STEP_MACS) / MACS_PER_S + epochs * EPOCH_S
                + runs * RUN_S for macs, steps, epochs, runs in arms)
            for key, arms in _arm_costs(claims, extra).items()}


# The cost model of the estimates (assumptions for one CPU process, not measurements): a
# core's sustained multiply-adds per second; a training step's fixed cost (dispatch,
# optimizer bookkeeping, metrics) in multiply-adds, about 1 ms at that rate; forward passes
# per trained example (forward, backward through activations and through weights); each
# epoch's fixed cost in seconds (validation, checkpoint, history); each run's (building,
# compiling and tracing the model, the test evaluation, saving it).
MACS_PER_S = 2e10
STEP_MACS = 2e7
TRAIN_PASSES = 3
EPOCH_S = 0.3
RUN_S = 3.0


def _worker_args(args) -> list[str]:
    """The options every worker process gets, rebuilt from the parsed ``args`` (never by
    editing the parent's argv): the results root, the backend, packing, the overrides and
    the smaller sizes; each worker then trains its unit and writes no report."""
    out = ["--results", args.results, "--backend", args.backend]
    out += ["--pack"] if args.pack else []
    out += ["--replicate"] if getattr(args, "replicate", False) else []
    for override in args.override:
        out += ["--override", override]
    out += ["--seeds", str(args.seeds)] if args.seeds is not None else []
    out += ["--points", str(args.points)] if args.points is not None else []
    return [*out, "--no-report"]


_LIVE: set = set()  # the worker processes running now (stopped on Ctrl-C)


def _run_worker(command: list[str]) -> int:
    """One worker process to its end; its exit status (negative: killed by that signal).
    Workers share the terminal, so each shows its progress as lines, not bars."""
    import os
    import subprocess

    with subprocess.Popen(command, env={**os.environ, "DLKIT_PROGRESS": "lines"}) as proc:
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


def _in_workers(claims, args, declared=None) -> int:
    """Run the claims in ``--workers`` processes at a time, one process per unit of
    ``plan`` (a freed worker takes the next unit, largest first), then the timed claims in
    one process alone, then write one report. Runs shared by two claims are trained once: a
    second process would wait on the run's lock, then find it finished. Any unit that fails
    (non-zero exit or killed by a signal) is named in a closing summary, no report is
    written and the exit status is non-zero."""
    import os
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from experiments.tf_startup import start_tensorflow

    start_tensorflow()  # the plan builds each arm's network: start TensorFlow quietly
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    units, alone = plan(claims, args.workers, _run_overrides(args))
    passthrough = _worker_args(args)

    def command(keys, threads, arm=None):
        return [sys.executable, "-m", "experiments.claims", *keys, *passthrough,
                *(["--threads", str(threads)] if threads else []),
                *(["--arm", arm] if arm else [])]

    outcomes = []  # (unit name, exit status)
    pool = ThreadPoolExecutor(max_workers=args.workers)
    try:  # the pool's threads only wait on their processes: FIFO keeps largest first
        futures = {pool.submit(_run_worker, command(keys, threads, arm)): _unit_name(keys, arm)
                   for keys, arm in units}
        for future in as_completed(futures):
            outcomes.append((futures[future], future.result()))
            how = "done" if outcomes[-1][1] == 0 else _how(outcomes[-1][1])
            print(f"[claims] workers: {len(outcomes)}/{len(units)} units finished "
                  f"({futures[future]}: {how})", file=sys.stderr, flush=True)
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
    return _report(claims if declared is None else declared, args)


def _cost(claim, arm) -> int:
    """Runs of one arm (``engine.stage_runs``): the initial tuning grid on the tuning seeds,
    the final seeds and, for arm A, the control seeds."""
    from experiments.claims.engine import stage_runs

    return sum(stage_runs(claim, "a" if arm is claim.a else "b").values())


if __name__ == "__main__":
    sys.exit(main())
