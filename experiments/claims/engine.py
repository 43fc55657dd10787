"""One claim through the protocol: tune each arm, run the paired final seeds and the A/A
control, compare. The same function trains the missing runs (``python -m
experiments.claims``) and reads finished ones (``experiments.report --claims``), so the
rate the report shows is the rate that was trained."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from experiments.claims import Arm, Claim, protocol, statistics
from experiments.claims.protocol import TUNING_SEEDS, Comparison, MissingRuns, TuningResult


@dataclass
class ArmResult:
    label: str
    rate: float
    tuning: TuningResult | None
    final: list  # statistic per final seed
    metrics: list = field(default_factory=list)  # test metrics of the final runs, per seed
    runs: list = field(default_factory=list)  # the final runs behind each seed's value


@dataclass
class ClaimResult:
    claim: Claim
    a: ArmResult
    b: ArmResult
    control: list  # arm A's statistic on the control seeds
    comparison: Comparison
    control_comparison: Comparison
    verdict: str = ""
    control_verdict: str = ""


def _rate_override(claim: Claim, rate: float) -> str:
    return f"{claim.tuning.key if claim.tuning else 'optimizer.learning_rate'}={rate:.6g}"


def _seed_runs(claim: Claim, arm: Arm, rate: float, seed: int) -> list[list[str]]:
    """The override lists of the runs behind one seed's value of ``arm`` at ``rate``."""
    key = claim.tuning.key if claim.tuning else "optimizer.learning_rate"
    # an arm that sweeps the rate itself (a range-of-rates statistic) keeps its own rates
    fixed = [] if any(k == key for k, _ in arm.sweep) else [_rate_override(claim, rate)]
    return [[*o, *fixed, f"seed={seed}"] for o in arm.run_overrides()]


def _prefetch(claim: Claim, runs, wanted) -> None:
    """Train ``wanted`` ((arm, rate, seed) triples) as packs first, when the runs can pack
    and no statistic of the claim reads training time."""
    timed = any(statistics.REGISTRY[name].timed
                for name in (claim.statistic, claim.tuning_statistic[0]))
    if timed or not hasattr(runs, "prefetch"):
        return
    runs.prefetch(claim.preset, [o for arm, rate, seed in wanted
                                 for o in _seed_runs(claim, arm, rate, seed)])


def _stage(runs, name: str) -> None:
    """Tell ``runs`` which stage of the protocol its next runs belong to (``tuning``,
    ``final``, ``control``), when it wants to know (the progress of ``python -m
    experiments.claims``)."""
    hook = getattr(runs, "stage", None)
    if hook is not None:
        hook(name)


def seed_value(claim: Claim, arm: Arm, runs, rate: float, seed: int, stage: str):
    """The statistic of one seed of ``arm`` at ``rate`` (trains or reads its runs): the
    claim's own, or when tuning, the one it is tuned on."""
    name, args = claim.tuning_statistic if stage == "tune" else (claim.statistic, claim.args)
    got = [runs.get(claim.preset, o) for o in _seed_runs(claim, arm, rate, seed)]
    if not runs.execute and any(r is None for r in got):
        raise MissingRuns(f"{claim.key}: {arm.label} at rate {rate:.3g}, seed {seed}")
    return statistics.REGISTRY[name].fn(got, stage, **args), got


def tune_arm(claim: Claim, arm: Arm, runs) -> tuple[float, TuningResult | None, Arm]:
    """The arm's rate (and, when the claim tunes variants such as gradient clipping, its
    best variant: the arm returned carries that variant's overrides)."""
    name, args = claim.tuning_statistic
    stat = statistics.REGISTRY[name]
    key = claim.tuning.key if claim.tuning else "optimizer.learning_rate"
    center = runs.default_rate(claim.preset, arm.overrides, key)
    if claim.tuning is None:
        return center, None, arm
    _stage(runs, "tuning")

    def tuned(variant: Arm) -> TuningResult:
        def evaluate(rate):
            _prefetch(claim, runs, [(variant, rate, seed) for seed in TUNING_SEEDS])
            values, progress = [], []
            for seed in TUNING_SEEDS:
                value, got = seed_value(claim, variant, runs, rate, seed, "tune")
                values.append(value)
                progress.append(stat.progress(got, **args) if stat.progress else None)
            return values, (progress if stat.progress else None)

        return protocol.tune(evaluate, claim.tuning, center, stat.better)

    variants = [(label, replace(arm, overrides=(*arm.overrides, *extra)))
                for label, extra in claim.tuning.variants] or [("", arm)]
    _prefetch(claim, runs, [(variant, rate, seed) for _, variant in variants
                            for rate in claim.tuning.initial(center) for seed in TUNING_SEEDS])
    results = [(label, variant, tuned(variant)) for label, variant in variants]
    label, variant, best = min(results, key=lambda r: r[2].scores[r[2].best])
    best.variant = label
    best.variant_scores = {lab: res.scores[res.best] for lab, _, res in results}
    return best.best, best, variant


def _test_metrics(got) -> dict:
    run = got[-1]
    return {k: v for k, v in (run.metrics if run else {}).items() if k.startswith("test_")}


_RAVINE = None


def source(claim: Claim, runs):
    """Where a claim's runs come from: trained networks (``runs``) or ravine paths."""
    global _RAVINE
    if claim.source == "ravine":
        if _RAVINE is None:
            from experiments.claims.ravine import RavineRuns

            _RAVINE = RavineRuns()
        return _RAVINE
    return runs


def evaluate(claim: Claim, runs) -> ClaimResult:
    """Every stage of one claim; raises ``MissingRuns`` in read-only mode when a run the
    protocol needs is not on disk."""
    runs = source(claim, runs)
    stat = statistics.REGISTRY[claim.statistic]
    arms, tuned_arms, tuned = {}, {}, {}
    for name, arm in (("a", claim.a), ("b", claim.b)):
        tuned[name] = tune_arm(claim, arm, runs)
        tuned_arms[name] = tuned[name][2]
    _stage(runs, "final")
    _prefetch(claim, runs, [(tuned_arms[n], tuned[n][0], s) for n in ("a", "b")
                            for s in claim.final_seeds]
              + [(tuned_arms["a"], tuned["a"][0], s) for s in claim.control_seeds])
    for name in ("a", "b"):
        rate, tuning, arm = tuned[name]
        values, metrics, behind = [], [], []
        for seed in claim.final_seeds:
            value, got = seed_value(claim, arm, runs, rate, seed, "final")
            values.append(value)
            metrics.append(_test_metrics(got))
            behind.append(got)
        arms[name] = ArmResult(arm.label, rate, tuning, values, metrics, behind)
    _stage(runs, "control")
    control = [seed_value(claim, tuned_arms["a"], runs, arms["a"].rate, s, "final")[0]
               for s in claim.control_seeds]
    return ClaimResult(claim, arms["a"], arms["b"], control,
                       protocol.compare(arms["a"].final, arms["b"].final, stat.censored),
                       protocol.compare(arms["a"].final, control, stat.censored))


def train_arm(claim: Claim, name: str, runs) -> None:
    """Train (or find) every run ``evaluate`` needs from one arm (``"a"`` or ``"b"``) of
    ``claim``: its tuning grid, its final seeds at the tuned rate and, for arm A, the A/A
    control seeds. The arms' runs are disjoint, so two processes can train the two arms of a
    costly claim side by side (``--workers``); ``evaluate`` then finds every run done."""
    runs = source(claim, runs)
    rate, _, arm = tune_arm(claim, claim.a if name == "a" else claim.b, runs)
    seeds = [*claim.final_seeds, *(claim.control_seeds if name == "a" else ())]
    _stage(runs, "final")
    _prefetch(claim, runs, [(arm, rate, s) for s in seeds])
    for seed in seeds:
        if name == "a" and seed == claim.control_seeds[0]:
            _stage(runs, "control")
        seed_value(claim, arm, runs, rate, seed, "final")


STAGES = ("tuning", "final", "control")


def stage_runs(claim: Claim, arm: str | None = None) -> dict:
    """The runs each stage of ``claim`` asks for (of one arm, ``"a"`` or ``"b"``, or of
    both): stage -> count. Tuning counts the initial grid (every variant's, on the tuning
    seeds); a grid that grows at an edge adds two runs (one per tuning seed) per rate. A
    claim whose runs are optimizer paths on a closed-form surface (``source: ravine``)
    trains no network: no runs."""
    if claim.source != "train":
        return dict.fromkeys(STAGES, 0)
    counts = dict.fromkeys(STAGES, 0)
    for name, arm_ in (("a", claim.a), ("b", claim.b)):
        if arm is not None and name != arm:
            continue
        per_seed = len(arm_.run_overrides())
        if claim.tuning is not None:
            variants = max(1, len(claim.tuning.variants))
            counts["tuning"] += claim.tuning.points * len(TUNING_SEEDS) * variants * per_seed
        counts["final"] += claim.seeds * per_seed
        if name == "a":
            counts["control"] += claim.seeds * per_seed
    return counts


def judge(results: list[ClaimResult]) -> list[ClaimResult]:
    """Holm over the claims of one report (and separately over their controls), then the
    verdict rule."""
    for family in ("comparison", "control_comparison"):
        adjusted = protocol.holm([getattr(r, family).p for r in results])
        for r, p in zip(results, adjusted):
            getattr(r, family).p_holm = p
    for r in results:
        r.control_verdict = protocol.verdict(r.control_comparison, r.claim.expect, None)
        r.verdict = protocol.verdict(r.comparison, r.claim.expect, r.control_comparison)
    return results
