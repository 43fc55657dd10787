"""One claim through the protocol: tune each arm, run the paired final seeds (with the
stability rule's fallback), the A/A control and the mechanism control, compare; then judge
the claims over the declared family. The same function trains the missing runs (``python
-m experiments.claims``) and reads finished ones (``experiments.report --claims``), so the
rate the report shows is the rate that was trained.

Why one file over 400 lines: training and reading a claim's runs share every step (the same
functions serve ``python -m experiments.claims`` and the report), so they stay together.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from experiments.claims import Arm, Claim, protocol, statistics
from experiments.claims.protocol import ALPHA, Comparison, MissingRuns, TuningResult

# the committed reference: the family's p-values for claims not evaluated in a report
REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference" / "claims.json"


@dataclass
class ArmResult:
    label: str
    rate: float
    tuning: TuningResult | None
    final: list  # statistic per final seed
    metrics: list = field(default_factory=list)  # test metrics of the final runs, per seed
    runs: list = field(default_factory=list)  # the final runs behind each seed's value
    horizons: list = field(default_factory=list)  # censoring time per final seed (or None)
    stability: dict = field(default_factory=dict)  # the stability rule's reading

    @property
    def trains(self) -> bool:
        return self.tuning is None or self.tuning.trains


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
    control_horizons: list = field(default_factory=list)
    mechanism: Comparison | None = None  # arm A + a against arm B + b (control seeds)
    mechanism_values: tuple = ()  # (A's values, B's values)
    mechanism_verdict: str = ""
    family: dict = field(default_factory=dict)  # key -> {"p", "source"}: the Holm family
    replication: ClaimResult | None = None


def _key(claim: Claim) -> str:
    return claim.tuning.key if claim.tuning else "optimizer.learning_rate"


def _rate_override(claim: Claim, rate: float) -> str:
    return f"{_key(claim)}={rate:.6g}"


def _seed_runs(claim: Claim, arm: Arm, rate: float, seed: int) -> list[list[str]]:
    """The override lists of the runs behind one seed's value of ``arm`` at ``rate``."""
    # an arm that sweeps the rate itself (a range-of-rates statistic) keeps its own rates
    fixed = [] if any(k == _key(claim) for k, _ in arm.sweep) else [_rate_override(claim, rate)]
    return [[*o, *fixed, *arm.after, f"seed={seed}"] for o in arm.run_overrides()]


def _prefetch(claim: Claim, runs, wanted) -> None:
    """Train ``wanted`` ((arm, rate, seed) triples) as packs first, when the runs can pack
    and no statistic of the claim reads training time."""
    timed = any(statistics.REGISTRY[name].timed
                for name in (claim.statistic, claim.tuning_statistic[0]))
    if timed or not hasattr(runs, "prefetch") or not wanted:
        return
    runs.prefetch(claim.preset, [o for arm, rate, seed in wanted
                                 for o in _seed_runs(claim, arm, rate, seed)])


def _stage(runs, name: str) -> None:
    """Tell ``runs`` which stage of the protocol its next runs belong to (``STAGES``),
    when it wants to know (the progress of ``python -m experiments.claims``)."""
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
    center = runs.default_rate(claim.preset, arm.overrides, _key(claim))
    if claim.tuning is None:
        return center, None, arm
    _stage(runs, "tuning")
    seeds = claim.tuning_seeds

    def tuned(variant: Arm) -> TuningResult:
        def evaluate(rate):
            _prefetch(claim, runs, [(variant, rate, seed) for seed in seeds])
            values, progress = [], []
            for seed in seeds:
                value, got = seed_value(claim, variant, runs, rate, seed, "tune")
                values.append(value)
                progress.append(stat.progress(got, **args) if stat.progress else None)
            return values, (progress if stat.progress else None)

        result = protocol.tune(evaluate, claim.tuning, center, stat.better)
        result.seeds = tuple(seeds)
        return result

    variants = [(label, replace(arm, overrides=(*arm.overrides, *extra)))
                for label, extra in claim.tuning.variants] or [("", arm)]
    _prefetch(claim, runs, [(variant, rate, seed) for _, variant in variants
                            for rate in claim.tuning.initial(center) for seed in seeds])
    results = [(label, variant, tuned(variant)) for label, variant in variants]
    label, variant, best = min(results, key=lambda r: r[2].scores[r[2].best])
    best.variant = label
    best.variant_scores = {lab: res.scores[res.best] for lab, _, res in results}
    return best.best, best, variant


def _test_metrics(got) -> dict:
    run = got[-1]
    return {k: v for k, v in ((run.metrics if run else {}) or {}).items()
            if k.startswith("test_")}


def _horizon(claim: Claim, got):
    """The censoring time of one seed's value: the run's epochs for a time in epochs
    (None when unknown or the statistic is not censored)."""
    stat = statistics.REGISTRY[claim.statistic]
    if not stat.censored or stat.unit != "epochs":
        return None
    run = got[-1]
    try:
        return float(run.config["trainer"]["epochs"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


_LOWER = ("loss", "mse", "mae", "mape", "msle", "error")


def _seed_unstable(claim: Claim, got) -> bool:
    """The stability rule on one seed's runs: any diverged, or collapsed on the training
    split's column (``protocol.collapsed``)."""
    for run in got:
        if run is None:
            continue
        if getattr(run, "status", "") == "diverged":
            return True
        history = getattr(run, "history", None)
        if history is None or getattr(history, "empty", True):
            continue
        column = str(claim.args.get("column", "loss"))
        train = column[4:] if column.startswith("val_") else column
        name = next((c for c in (train, column, f"val_{train}", "loss") if c in history),
                    None)
        if name is None:
            continue
        import pandas as pd

        values = pd.to_numeric(history[name], errors="coerce").to_numpy(float)
        if protocol.collapsed(values, not name.endswith(_LOWER)):
            return True
    return False


def _finals(claim: Claim, arm: Arm, rate: float, runs, seeds) -> tuple:
    values, metrics, behind, horizons = [], [], [], []
    for seed in seeds:
        value, got = seed_value(claim, arm, runs, rate, seed, "final")
        values.append(value)
        metrics.append(_test_metrics(got))
        behind.append(got)
        horizons.append(_horizon(claim, got))
    return values, metrics, behind, horizons


def final_arm(claim: Claim, tuned, runs) -> tuple[ArmResult, Arm]:
    """The arm's final runs at its chosen rate, then the stability rule: when
    ``protocol.unstable``, the declared fallback (the next smaller grid rate, once) for a
    tuned rate. An arm where no rate trains gets no final runs."""
    rate, tuning, arm = tuned
    if tuning is not None and not tuning.trains:
        return ArmResult(arm.label, rate, tuning, [], stability={"checked": False}), arm
    values, metrics, behind, horizons = _finals(claim, arm, rate, runs, claim.final_seeds)
    flags = [_seed_unstable(claim, got) for got in behind]
    stability = {"checked": True, "rate": rate, "unstable": int(sum(flags)),
                 "of": len(flags), "flagged": protocol.unstable(flags), "fallback": None}
    if stability["flagged"] and tuning is not None:
        lower = claim.tuning.smaller(rate)
        stability["fallback"] = lower
        if lower is not None:
            rate = lower
            values, metrics, behind, horizons = _finals(claim, arm, rate, runs,
                                                        claim.final_seeds)
            after = [_seed_unstable(claim, got) for got in behind]
            stability["after_fallback"] = {"unstable": int(sum(after)), "of": len(after),
                                           "flagged": protocol.unstable(after)}
    return ArmResult(arm.label, rate, tuning, values, metrics, behind, horizons,
                     stability), arm


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


def _mechanism_arm(claim: Claim, arm: Arm, name: str) -> Arm:
    extra = claim.mechanism.a if name == "a" else claim.mechanism.b
    return replace(arm, after=(*arm.after, *extra))


def _compare(claim: Claim, a, b, ha=None, hb=None) -> Comparison:
    return protocol.compare(a, b, claim.test_name, ha, hb, claim.margin,
                            claim.margin_relative)


def evaluate(claim: Claim, runs) -> ClaimResult:
    """Every stage of one claim; raises ``MissingRuns`` in read-only mode when a run the
    protocol needs is not on disk."""
    runs = source(claim, runs)
    tuned = {name: tune_arm(claim, arm, runs) for name, arm in (("a", claim.a),
                                                                ("b", claim.b))}
    trains = all(t[1] is None or t[1].trains for t in tuned.values())
    arms, final_arms = {}, {}
    if trains:
        _stage(runs, "final")
        _prefetch(claim, runs, [(tuned[n][2], tuned[n][0], s) for n in ("a", "b")
                                for s in claim.final_seeds])
    for name in ("a", "b"):
        if trains:
            arms[name], final_arms[name] = final_arm(claim, tuned[name], runs)
        else:
            rate, tuning, arm = tuned[name]
            arms[name] = ArmResult(arm.label, rate, tuning, [], stability={"checked": False})
            final_arms[name] = arm
    control, control_h, mechanism, mech_values = [], [], None, ()
    if trains:
        _stage(runs, "control")
        _prefetch(claim, runs, [(final_arms["a"], arms["a"].rate, s)
                                for s in claim.control_seeds])
        for seed in claim.control_seeds:
            value, got = seed_value(claim, final_arms["a"], runs, arms["a"].rate, seed,
                                    "final")
            control.append(value)
            control_h.append(_horizon(claim, got))
        if claim.mechanism is not None:
            _stage(runs, "mechanism")
            mech = {n: _mechanism_arm(claim, final_arms[n], n) for n in ("a", "b")}
            _prefetch(claim, runs, [(mech[n], arms[n].rate, s) for n in ("a", "b")
                                    for s in claim.control_seeds])
            mclaim = replace(claim, args={**claim.args, **claim.mechanism.args})
            got = {n: _finals(mclaim, mech[n], arms[n].rate, runs, claim.control_seeds)
                   for n in ("a", "b")}
            mech_values = (got["a"][0], got["b"][0])
            mechanism = _compare(claim, got["a"][0], got["b"][0], got["a"][3], got["b"][3])
    for name in ("a", "b"):
        t = arms[name].tuning
        if t is not None and not claim.tune_on:
            margin = _compare(claim, arms["a"].final, arms["b"].final, arms["a"].horizons,
                              arms["b"].horizons).margin
            t.flat = protocol.flat_curve(t, margin)
    result = ClaimResult(claim, arms["a"], arms["b"], control,
                         _compare(claim, arms["a"].final, arms["b"].final, arms["a"].horizons,
                                  arms["b"].horizons),
                         _compare(claim, arms["a"].final, control, arms["a"].horizons,
                                  control_h),
                         control_horizons=control_h, mechanism=mechanism,
                         mechanism_values=mech_values)
    if mechanism is not None:
        result.mechanism_verdict = protocol.mechanism_verdict(mechanism)
    return result


def train_arm(claim: Claim, name: str, runs) -> None:
    """Train (or find) every run ``evaluate`` needs from one arm (``"a"`` or ``"b"``) of
    ``claim``: its tuning grid, its final seeds at the tuned rate (with the stability rule's
    fallback), for arm A the A/A control seeds, and the arm's mechanism-control runs. The
    arms' runs are disjoint, so two processes can train the two arms of a costly claim side
    by side (``--workers``); ``evaluate`` then finds every run done."""
    runs = source(claim, runs)
    tuned = tune_arm(claim, claim.a if name == "a" else claim.b, runs)
    if tuned[1] is not None and not tuned[1].trains:
        return
    _stage(runs, "final")
    _prefetch(claim, runs, [(tuned[2], tuned[0], s) for s in claim.final_seeds])
    result, arm = final_arm(claim, tuned, runs)
    if name == "a":
        _stage(runs, "control")
        _prefetch(claim, runs, [(arm, result.rate, s) for s in claim.control_seeds])
        for seed in claim.control_seeds:
            seed_value(claim, arm, runs, result.rate, seed, "final")
    if claim.mechanism is not None:
        _stage(runs, "mechanism")
        mech = _mechanism_arm(claim, arm, name)
        _prefetch(claim, runs, [(mech, result.rate, s) for s in claim.control_seeds])
        _finals(claim, mech, result.rate, runs, claim.control_seeds)


STAGES = ("tuning", "final", "control", "mechanism")


def stage_runs(claim: Claim, arm: str | None = None) -> dict:
    """The runs each stage of ``claim`` asks for (of one arm, ``"a"`` or ``"b"``, or of
    both): stage -> count. Tuning counts the initial grid (every variant's, on the tuning
    seeds); a grid that grows adds one run per tuning seed per rate, and the stability
    rule's fallback repeats an arm's final seeds. A claim whose runs are optimizer paths on
    a closed-form surface (``source: ravine``) trains no network: no runs."""
    if claim.source != "train":
        return dict.fromkeys(STAGES, 0)
    counts = dict.fromkeys(STAGES, 0)
    for name, arm_ in (("a", claim.a), ("b", claim.b)):
        if arm is not None and name != arm:
            continue
        per_seed = len(arm_.run_overrides())
        if claim.tuning is not None:
            variants = max(1, len(claim.tuning.variants))
            counts["tuning"] += (claim.tuning.points * len(claim.tuning_seeds) * variants
                                 * per_seed)
        counts["final"] += claim.seeds * per_seed
        if name == "a":
            counts["control"] += claim.seeds * per_seed
        if claim.mechanism is not None:
            counts["mechanism"] += claim.seeds * per_seed
    return counts


# ---- the declared family -----------------------------------------------------------------
def _value(x) -> float:
    if x is None:
        return math.nan
    if isinstance(x, str):
        return {"inf": math.inf, "-inf": -math.inf}.get(x, math.nan)
    return float(x)


def read_reference(path=REFERENCE) -> dict:
    """The committed reference's claims by key (empty when the file is absent or damaged)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {c["key"]: c for c in data.get("claims", []) if isinstance(c, dict)
                and "key" in c}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def reference_comparisons(claim: Claim, entry: dict | None) -> tuple:
    """(comparison, control comparison, source) of a family member not evaluated in this
    report, from its reference entry: recomputed from the per-seed values with the declared
    test, else the entry's stored p; (None, None, "none") without either."""
    if not entry:
        return None, None, "none (p = 1)"
    try:
        a = [_value(v) for v in entry["a"]["final"]]
        b = [_value(v) for v in entry["b"]["final"]]
        control = [_value(v) for v in entry["control"]["values"]]
        ha, hb = entry["a"].get("horizons"), entry["b"].get("horizons")
        hc = entry["control"].get("horizons")
        if len(a) != len(b) or len(a) != len(control) or not a:
            raise ValueError("unpaired values")
        return (_compare(claim, a, b, ha, hb), _compare(claim, a, control, ha, hc),
                "reference (recomputed from its per-seed values)")
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    stored = Comparison("reference", 0, math.nan, (math.nan, math.nan),
                        _value((entry.get("comparison") or {}).get("p")), "none")
    control = Comparison("reference", 0, math.nan, (math.nan, math.nan), _value(
        ((entry.get("control") or {}).get("comparison") or {}).get("p")), "none")
    return stored, control, "reference (its stored p)"


def judge(results: list[ClaimResult], declared: list[Claim] | None = None,
          reference=REFERENCE, replication: bool = False) -> list[ClaimResult]:
    """Holm over the declared family (``protocol.py``), for the claims' p, their TOST p and,
    as their own family, their A/A controls; then the verdict rule. ``declared``: the
    declared claims (default: every preset's); the family is every one of them that is not
    a check, plus any evaluated claim that is not declared. A member not evaluated here
    takes its p from ``reference`` (a replication from the reference's replication
    entries). A check is judged on its uncorrected p."""
    from experiments.claims import load

    declared = load() if declared is None else declared
    ref = read_reference(reference) if reference is not None else {}
    here = {r.claim.key: r for r in results}
    members = [c for c in declared if not c.check]
    members += [r.claim for r in results
                if not r.claim.check and r.claim.key not in {c.key for c in members}]
    raw, source = {}, {}
    for claim in members:
        if claim.key in here:
            r = here[claim.key]
            raw[claim.key] = (r.comparison, r.control_comparison)
            source[claim.key] = "this report"
        else:
            entry = ref.get(claim.key)
            if replication:
                entry = (entry or {}).get("replication")
            c, control, source[claim.key] = reference_comparisons(claim, entry)
            raw[claim.key] = (c, control)
    keys = list(raw)

    def p_of(c, attr):
        return None if c is None else getattr(c, attr)

    corrected = protocol.family_holm({k: p_of(raw[k][0], "p") for k in keys})
    tost = protocol.family_holm({k: p_of(raw[k][0], "tost_p") for k in keys})
    controls = protocol.family_holm({k: p_of(raw[k][1], "p") for k in keys})
    family = {k: {"p": p_of(raw[k][0], "p"), "source": source[k]} for k in keys}
    m = max(1, len(keys))
    for r in results:
        key = r.claim.key
        if r.claim.check:
            r.comparison.p_holm = r.comparison.p
            r.comparison.tost_p_holm = r.comparison.tost_p
            r.control_comparison.p_holm = r.control_comparison.p
            alpha = ALPHA
        else:
            r.comparison.p_holm = corrected[key]
            r.comparison.tost_p_holm = tost[key] if np.isfinite(r.comparison.tost_p) \
                else math.nan
            r.control_comparison.p_holm = controls[key]
            alpha = ALPHA / m
        r.comparison.detectable = protocol.detectable_effect(r.comparison.diffs, alpha)
        r.family = family
        trains = r.a.trains and r.b.trains
        r.control_verdict = protocol.verdict(r.control_comparison, r.claim.expect, None)
        r.verdict = protocol.verdict(r.comparison, r.claim.expect, r.control_comparison,
                                     trains)
    return results
