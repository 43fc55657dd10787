"""The fair protocol: per-arm learning-rate tuning, paired final runs, tests, Holm, verdicts.

Everything here is plain numbers in, numbers out (no Hydra, no Keras), so the verdict
logic is tested on fabricated results where the truth is known both ways.

Stages of one claim (arm A against arm B, "A's statistic is lower/higher than B's"):

1. **Tuning.** Each arm's learning rate is chosen on its own, on the validation split, on
   ``TUNING_SEEDS`` (never used for the final runs), over a log grid in half-decade steps
   around the arm's default rate. The score is the claim's own statistic (mean over the
   tuning seeds; runs that never reach a target or diverge rank last). If the best rate is
   the grid's lowest or highest point, the grid grows by one step on that side and the new
   point is trained, until the best rate is interior or the stated limit is reached (the
   report then says so).
2. **Final runs.** ``n`` seeds per arm at the chosen rates, paired: arm A and arm B with
   seed s share the data split, the data order and the initial-weight seed.
3. **Control (A/A).** Arm A at its chosen rate on ``n`` further seeds, paired index by
   index with arm A's final seeds, through the same statistic and test. Two identical
   arms must not differ: if the control comes out significant, the claim's test is
   reported as invalid.
4. **Test.** A paired t-test on the per-seed statistic (two-sided), or, for a
   time-to-target statistic where a run may never reach the target (censored), an exact
   sign test on the pairs whose order is known (no value is imputed). Holm's correction
   runs over every claim of one report, and separately over their controls.

Verdict rule (the only place it is decided): with the Holm-corrected p below ``ALPHA``,
**supported** if the effect points the way the claim says, **not supported** if it points
the other way; otherwise **inconclusive**; **invalid** whenever the A/A control is
significant after the same correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

ALPHA = 0.05
TUNING_SEEDS = (100, 101)
MIN_PAIRS = 5
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, INVALID = (
    "supported", "not supported", "inconclusive", "invalid")


# ---- the learning-rate grid --------------------------------------------------------------
def grid_point(exponent2: int) -> float:
    """The grid is 10^(k/2): 1e-3, 3.16e-3, 1e-2, ... (half-decade steps)."""
    return float(10.0 ** (exponent2 / 2.0))


def exponent2(rate: float) -> int:
    """Nearest half-decade index k of ``rate`` (rate ~ 10^(k/2))."""
    return int(round(2.0 * math.log10(rate)))


@dataclass(frozen=True)
class Tuning:
    """How one arm's learning rate is tuned: ``points`` half-decade steps centred on the
    arm's default rate, grown at an edge up to ``[low, high]``."""

    key: str = "optimizer.learning_rate"
    points: int = 5
    low: float = 1e-5
    high: float = 100.0
    # alternatives tuned alongside the rate, e.g. (("no clipping", ()), ("clipnorm 1",
    # ("+optimizer.clipnorm=1.0",))): each gets its own grid, the best (variant, rate) wins
    variants: tuple = ()

    def initial(self, center: float) -> list[float]:
        k = exponent2(center)
        half = self.points // 2
        ks = range(k - half, k - half + self.points)
        return [grid_point(i) for i in ks if self.low <= grid_point(i) <= self.high]

    def extend(self, rates: list[float], best: float) -> float | None:
        """The next rate to try when ``best`` is on an edge of ``rates`` (None: interior,
        or the limit is reached)."""
        ks = sorted(exponent2(r) for r in rates)
        k = exponent2(best)
        if k == ks[0] and grid_point(k - 1) >= self.low * (1 - 1e-9):
            return grid_point(k - 1)
        if k == ks[-1] and grid_point(k + 1) <= self.high * (1 + 1e-9):
            return grid_point(k + 1)
        return None


def tuning_score(values, progress=None) -> tuple:
    """Sort key of one rate's tuning statistics (lower is better): how many runs failed
    (NaN, or never reached a censored target), then the mean of the rest, then, to order
    rates where every run failed alike, the mean ``progress`` (higher is better: e.g. the
    best accuracy a run reached short of the target)."""
    values = np.asarray(values, float)
    bad = ~np.isfinite(values)
    mean = float(values[~bad].mean()) if (~bad).any() else math.inf
    prog = np.asarray(progress if progress is not None else [], float)
    prog = prog[np.isfinite(prog)]
    return (int(bad.sum()), mean, -float(prog.mean()) if len(prog) else math.inf)


@dataclass
class TuningResult:
    rates: list[float]
    scores: dict  # rate -> (n failed, mean, -progress)
    values: dict  # rate -> per-seed statistics
    best: float
    at_edge: bool  # best is still on an edge (the limit was reached)
    variant: str = ""  # the chosen variant, when the claim tunes variants
    variant_scores: dict = field(default_factory=dict)


def choose_rate(values_by_rate: dict, better: str = "lower",
                progress_by_rate: dict | None = None) -> tuple[float, dict]:
    """The rate with the best tuning score. ``better="higher"`` flips the mean's sign."""
    sign = 1.0 if better == "lower" else -1.0
    scores = {}
    for rate, values in values_by_rate.items():
        failed, mean, prog = tuning_score(values, (progress_by_rate or {}).get(rate))
        scores[rate] = (failed, sign * mean if math.isfinite(mean) else math.inf, prog)
    best = min(sorted(scores), key=lambda r: scores[r])
    return best, scores


def tune(evaluate, tuning: Tuning, center: float, better: str = "lower") -> TuningResult:
    """Grow the grid until the best rate is interior. ``evaluate(rate)`` returns
    ``(values, progress)``: the statistic on every tuning seed at that rate and, or None,
    each run's progress for breaking ties among failed runs."""
    rates = tuning.initial(center)
    values, progress = {}, {}
    while True:
        for rate in rates:
            if rate not in values:
                values[rate], progress[rate] = evaluate(rate)
        best, scores = choose_rate(values, better, progress)
        uninformative = len({scores[r] for r in rates}) == 1 and \
            not math.isfinite(scores[best][1])  # every rate failed alike: no way to go
        nxt = None if uninformative else tuning.extend(rates, best)
        if nxt is None or nxt in values:
            ks = sorted(exponent2(r) for r in rates)
            edge = exponent2(best) in (ks[0], ks[-1])
            return TuningResult(sorted(rates), scores, values, best, edge)
        rates = sorted([*rates, nxt])


class MissingRuns(LookupError):
    """Runs the protocol needs are not on disk (read-only mode)."""


# ---- paired tests ------------------------------------------------------------------------
@dataclass
class Comparison:
    test: str
    n: int  # pairs used
    effect: float  # mean difference a - b, or P(a better) for the sign test
    ci: tuple  # 95% confidence interval of ``effect``
    p: float  # two-sided
    direction: str  # "less", "greater" or "none": the sign of the effect
    mean_a: float = math.nan
    mean_b: float = math.nan
    note: str = ""
    p_holm: float = math.nan
    extra: dict = field(default_factory=dict)


def paired_t(a, b) -> Comparison:
    """Paired t-test of a - b over pairs where both are finite; effect = mean difference
    with its 95% Student-t interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = np.isfinite(a) & np.isfinite(b)
    dropped = int((~keep).sum())
    a, b = a[keep], b[keep]
    n = len(a)
    note = f"{dropped} pair(s) dropped (non-finite)" if dropped else ""
    if n < 2:
        return Comparison("paired t", n, math.nan, (math.nan, math.nan), math.nan, "none",
                          note=note or "fewer than 2 pairs")
    d = a - b
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    if sd == 0.0:  # every pair differs by the same amount: a deterministic outcome
        p = 1.0 if mean == 0.0 else 0.0
        ci = (mean, mean)
        note = "; ".join(filter(None, [note, "no spread between pairs (deterministic)"]))
    else:
        test = stats.ttest_rel(a, b)
        p = float(test.pvalue)
        interval = test.confidence_interval(0.95)
        ci = (float(interval.low), float(interval.high))
    direction = "less" if mean < 0 else ("greater" if mean > 0 else "none")
    return Comparison("paired t", n, mean, ci, p, direction, float(a.mean()), float(b.mean()),
                      note)


def censored_sign(a, b) -> Comparison:
    """Exact sign test for times-to-target where ``inf`` means never reached (censored at
    the end of training). A pair counts for A when A reached the target and B did not, or
    both did and A sooner; pairs where neither reached it, or both at the same time, carry
    no order and are left out. Effect: the share of ordered pairs where A is sooner, with
    its Clopper-Pearson 95% interval; p from the two-sided binomial test."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    a_first = int(np.sum(a < b))
    b_first = int(np.sum(b < a))
    ordered = a_first + b_first
    reached_a, reached_b = int(np.isfinite(a).sum()), int(np.isfinite(b).sum())
    extra = {"a_sooner": a_first, "b_sooner": b_first, "ties": len(a) - ordered,
             "reached_a": reached_a, "reached_b": reached_b, "pairs": len(a)}
    if ordered == 0:
        return Comparison("sign (censored)", 0, math.nan, (math.nan, math.nan), math.nan,
                          "none", note="no ordered pair", extra=extra)
    test = stats.binomtest(a_first, ordered, 0.5)
    ci = test.proportion_ci(0.95, method="exact")
    share = a_first / ordered
    direction = "less" if share > 0.5 else ("greater" if share < 0.5 else "none")
    fin_a, fin_b = a[np.isfinite(a)], b[np.isfinite(b)]
    return Comparison("sign (censored)", ordered, share, (float(ci.low), float(ci.high)),
                      float(test.pvalue), direction,
                      float(np.median(fin_a)) if len(fin_a) else math.inf,
                      float(np.median(fin_b)) if len(fin_b) else math.inf, extra=extra)


def compare(a, b, censored: bool) -> Comparison:
    return censored_sign(a, b) if censored else paired_t(a, b)


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count)."""
    p = np.asarray(pvalues, float)
    out = np.full(len(p), math.nan)
    idx = [i for i in range(len(p)) if np.isfinite(p[i])]
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: p[i])):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def verdict(comparison: Comparison, expect: str, control: Comparison | None) -> str:
    """The verdict rule of the module docstring."""
    if control is not None and np.isfinite(control.p_holm) and control.p_holm < ALPHA:
        return INVALID
    if comparison.n < MIN_PAIRS or not np.isfinite(comparison.p_holm):
        return INCONCLUSIVE
    if comparison.p_holm < ALPHA:
        return SUPPORTED if comparison.direction == expect else NOT_SUPPORTED
    return INCONCLUSIVE
