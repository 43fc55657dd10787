"""``python -m experiments.claims --plan``: the runs each claim needs, stage by stage, and an
estimated time from a cost model (stated as an estimate, never a measurement); the same
costs split the work among ``--workers``."""

from __future__ import annotations

from experiments.claims.progress import _duration


def _run_overrides(args) -> list[str]:
    """Overrides for every run: ``--override``s, and the backend when it is not the
    default (the backend is part of a run's identity: runs under JAX get their own folders
    and never stand in for TensorFlow's)."""
    backend = [] if args.backend == "tensorflow" else [f"backend={args.backend}"]
    return [*backend, *args.override]


def show_plan(claims, args) -> int:
    """``--plan``: the runs each claim needs per stage and an estimated time, from each
    arm's network (built, not trained) and the cost model of ``_arm_costs``; nothing is
    trained and no run folder is made."""
    from experiments.claims.engine import STAGES, stage_runs

    seconds = _seconds_estimates(claims, _run_overrides(args))
    width = max([len("claim"), *(len(c.key) for c in claims)]) + 2
    print(f"{'claim':<{width}}{'preset':<18}" + "".join(f"{s:>10}" for s in STAGES)
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
        print(f"{claim.key:<{width}}{claim.preset:<18}"
              + "".join(f"{counts[s]:>10}" for s in STAGES) + f"{n:>7}{when:>11}")
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
    from experiments.build import loss_pairing, model_from_config
    from experiments.claims.runs import Runs

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


def _cost(claim, arm) -> int:
    """Runs of one arm (``engine.stage_runs``): the initial tuning grid on the tuning seeds,
    the final seeds and, for arm A, the control seeds."""
    from experiments.claims.engine import stage_runs

    return sum(stage_runs(claim, "a" if arm is claim.a else "b").values())

