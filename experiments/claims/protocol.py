"""The fair protocol: per-arm learning-rate tuning, paired final runs, declared tests, one
Holm family, equivalence, verdicts.

Everything here is plain numbers in, numbers out (no Hydra, no Keras), so the verdict
logic is tested on fabricated results where the truth is known both ways. This docstring
is the specification of the verdict rule; every rule below was declared before the data it
is applied to was seen.

Stages of one claim (arm A against arm B, "A's statistic is lower/higher than B's"):

1. **Tuning.** Each arm's learning rate is chosen on its own, on the validation split, on
   the tuning seeds (``TUNING_SEEDS``; never used for the final runs), over a log grid in
   half-decade steps around the arm's default rate. The score of a rate is the **median**
   of the statistic over the tuning seeds, a run that failed (diverged, or never reached a
   censored target) counting as the worst value; ties go to fewer failed runs, then to the
   runs that got closer to the target. If the best rate is the grid's lowest or highest
   point, the grid grows by one step on that side until the best rate is interior or the
   declared limit is reached (the report then says so). If **no rate trains** (every rate's
   median failed), the grid grows in both directions, one step each side at a time, up to
   both limits; if none trains even then, the arm is reported as "no rate trains within the
   budget" and so is the verdict, instead of a comparison of times. A tuning curve whose
   rates all lie within the claim's margin of one another is reported as **flat** (the
   choice among its rates is then immaterial to the claim).
2. **Final runs.** ``n`` seeds per arm at the chosen rates, paired: arm A and arm B with
   seed s share the data split, the data order and the initial-weight seed.
3. **Stability rule.** A final run is unstable when it diverged or collapsed: its training
   column (the statistic's column on the training split, else the loss) ends more than
   ``COLLAPSE_SHARE`` of the way back from its best value towards its worst (an
   optimisation failure, not overfitting). When ``UNSTABLE_SHARE`` or more of an arm's
   final seeds are unstable at the chosen rate, the rate is flagged and the declared
   fallback applies, once: the arm's final (and control and mechanism) runs move to the
   next smaller grid rate (half a decade lower, within the grid's limit). A fixed
   (untuned) rate is flagged only. The report names the flag and the fallback.
4. **A/A control.** Arm A at its chosen rate on ``n`` further seeds, paired index by index
   with arm A's final seeds, through the same statistic and test. Two identical arms must
   not differ: a significant control makes the claim's verdict **invalid**.
5. **Mechanism control** (when the claim declares one): arm A and arm B with the declared
   overrides that remove the mechanism, at the arms' chosen rates on the control seeds,
   through the claim's statistic and test. **null as required** when its raw p is at least
   ``ALPHA`` or its TOST shows equivalence within the margin; **MECHANISM CONTROL FAILED**
   otherwise. It is reported beside the A/A control (raw p: the stricter reading for the
   claim).
6. **Test,** declared in the preset with its reason (``TESTS``): ``t`` a paired t-test;
   ``wilcoxon`` the Wilcoxon signed-rank test (exact when there are no ties or zero
   differences); ``log_t`` a paired t-test on the logarithms (effects that multiply;
   effect = mean log ratio); ``rmst_permutation`` for times to a target that may be
   censored: each pair's times are capped at the pair's common horizon (a run's censoring
   time: its epochs, or, when unknown, the largest finite time of the comparison; a run
   that never reached the target sits at the horizon), and a paired sign-flip permutation
   test of the differences of these restricted times gives p (exact enumeration up to
   ``EXACT_UP_TO`` pairs, else ``PERMUTATION_DRAWS`` seeded random flips); effect = mean
   restricted difference. The default is ``rmst_permutation`` for a censored statistic and
   ``t`` otherwise. Every test is two-sided.
7. **Equivalence.** With a declared margin m (the smallest effect of interest, absolute or
   a fraction of arm B's mean), a paired TOST on the same differences (restricted times for
   a censored statistic) gives the equivalence p. The **detectable effect** is the
   difference a paired t-test with these pairs' spread and number would find with power
   ``POWER`` at the Bonferroni level ``ALPHA`` / family size (the strictest Holm step).
8. **One family.** Holm's correction runs over the **declared family**: every declared
   claim that is not a ``check``, whichever claims ran in this invocation. A family member
   not evaluated here takes its p from the committed reference (``claims.json`` of
   ``results/reference``: recomputed from its per-seed values with the declared test, else
   its stored p), named as such; one with no p anywhere counts as p = 1. The same family
   corrects the TOST p-values, the A/A controls (their own family) and, separately, a
   replication's p-values. A ``check`` (a definitional or implementation check) is
   reported apart and judged on its uncorrected p.

Verdict rule (the only place it is decided), in this order: **no rate trains within the
budget** when an arm has no rate that trains; **invalid** when the A/A control is
significant after its correction; **inconclusive** with fewer than ``MIN_PAIRS`` pairs;
with the Holm-corrected p below ``ALPHA``, **supported** if the effect points the way the
claim says, **not supported** if it points the other way; else **equivalent** ("no
meaningful difference within ±m") when the Holm-corrected TOST p is below ``ALPHA``; else
**inconclusive**, and the report states the detectable effect.

Replication (``python -m experiments.claims --replicate``) runs every stage again on
disjoint seeds: tuning seeds ``REPLICATION_TUNING_SEEDS``, final and control seeds offset by
``REPLICATION_OFFSET``.

Why one file over 400 lines: it is the protocol's specification (this docstring) and every
number-in, number-out step it names (grid, tests, corrections, verdict rule), so a reader
checks the rule against its code in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

ALPHA = 0.05
TUNING_SEEDS = (100, 101, 102)
REPLICATION_TUNING_SEEDS = (200, 201, 202)
REPLICATION_OFFSET = 1000
MIN_PAIRS = 5
UNSTABLE_SHARE = 0.2
COLLAPSE_SHARE = 0.5
POWER = 0.8
EXACT_UP_TO = 16
PERMUTATION_DRAWS = 100_000
CALIBRATION_SPLITS = 200
TESTS = ("t", "wilcoxon", "log_t", "rmst_permutation")
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, INVALID = (
    "supported", "not supported", "inconclusive", "invalid")
EQUIVALENT = "equivalent"
UNTRAINABLE = "no rate trains within the budget"
MECHANISM_NULL, MECHANISM_FAILED = "null as required", "MECHANISM CONTROL FAILED"


def default_test(censored: bool) -> str:
    return "rmst_permutation" if censored else "t"


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
        return [grid_point(i) for i in ks if self.within(grid_point(i))]

    def within(self, rate: float) -> bool:
        return self.low * (1 - 1e-9) <= rate <= self.high * (1 + 1e-9)

    def extend(self, rates: list[float], best: float) -> float | None:
        """The next rate to try when ``best`` is on an edge of ``rates`` (None: interior,
        or the limit is reached)."""
        ks = sorted(exponent2(r) for r in rates)
        k = exponent2(best)
        if k == ks[0] and self.within(grid_point(k - 1)):
            return grid_point(k - 1)
        if k == ks[-1] and self.within(grid_point(k + 1)):
            return grid_point(k + 1)
        return None

    def outward(self, rates: list[float]) -> list[float]:
        """One more rate on each side of ``rates`` that the limits allow (no rate trains)."""
        ks = sorted(exponent2(r) for r in rates)
        return [grid_point(k) for k in (ks[0] - 1, ks[-1] + 1) if self.within(grid_point(k))]

    def smaller(self, rate: float) -> float | None:
        """The next smaller grid rate (the stability rule's fallback), within the limit."""
        lower = grid_point(exponent2(rate) - 1)
        return lower if self.within(lower) else None


def tuning_score(values, progress=None, better: str = "lower") -> tuple:
    """Sort key of one rate's tuning statistics (lower is better): the median over the
    tuning seeds with a failed run (NaN, or a censored target never reached) as the worst
    value (for ``better="higher"`` the median of the negated values), then how many runs
    failed, then the mean ``progress`` negated (higher progress is better: e.g. the best
    accuracy a run reached short of the target)."""
    sign = 1.0 if better == "lower" else -1.0
    values = sign * np.asarray(values, float)
    bad = ~np.isfinite(values)
    values = np.where(bad, math.inf, values)
    median = float(np.median(values)) if len(values) else math.inf
    if math.isnan(median):
        median = math.inf
    prog = np.asarray(progress if progress is not None else [], float)
    prog = prog[np.isfinite(prog)]
    return (median, int(bad.sum()), -float(prog.mean()) if len(prog) else math.inf)


@dataclass
class TuningResult:
    rates: list[float]
    scores: dict  # rate -> (median, n failed, -progress)
    values: dict  # rate -> per-seed statistics
    best: float
    at_edge: bool  # best is still on an edge (the limit was reached)
    variant: str = ""  # the chosen variant, when the claim tunes variants
    variant_scores: dict = field(default_factory=dict)
    trains: bool = True  # False: no rate on the grid, grown to its limits, trains
    seeds: tuple = TUNING_SEEDS
    flat: bool | None = None  # every rate within the margin (None: no margin to judge)


def choose_rate(values_by_rate: dict, better: str = "lower",
                progress_by_rate: dict | None = None) -> tuple[float, dict]:
    """The rate with the best tuning score (``tuning_score``)."""
    scores = {rate: tuning_score(values, (progress_by_rate or {}).get(rate), better)
              for rate, values in values_by_rate.items()}
    best = min(sorted(scores), key=lambda r: scores[r])
    return best, scores


def tune(evaluate, tuning: Tuning, center: float, better: str = "lower") -> TuningResult:
    """Grow the grid until the best rate is interior (or, while no rate trains, outwards
    on both sides to the limits). ``evaluate(rate)`` returns ``(values, progress)``: the
    statistic on every tuning seed at that rate and, or None, each run's progress for
    breaking ties among failed runs."""
    rates = tuning.initial(center) or [center]
    values, progress = {}, {}
    while True:
        for rate in rates:
            if rate not in values:
                values[rate], progress[rate] = evaluate(rate)
        best, scores = choose_rate({r: values[r] for r in rates}, better,
                                   {r: progress[r] for r in rates})
        trains = math.isfinite(scores[best][0])
        new = ([r for r in tuning.outward(rates) if r not in values] if not trains else
               [r for r in [tuning.extend(rates, best)] if r is not None and r not in values])
        if not new:
            ks = sorted(exponent2(r) for r in rates)
            edge = exponent2(best) in (ks[0], ks[-1])
            return TuningResult(sorted(rates), scores, values, best, edge, trains=trains)
        rates = sorted([*rates, *new])


def flat_curve(result: TuningResult, margin: float) -> bool | None:
    """Whether every rate's score lies within ``margin`` of the others (None: no margin, or
    a rate that failed)."""
    if margin is None or not math.isfinite(margin):
        return None
    medians = [result.scores[r][0] for r in result.rates]
    if not all(math.isfinite(m) for m in medians):
        return False
    return bool(max(medians) - min(medians) <= margin)


# ---- the stability rule ------------------------------------------------------------------
def collapsed(values, higher: bool) -> bool:
    """Whether a training curve ends more than ``COLLAPSE_SHARE`` of the way back from its
    best value towards its worst (non-finite points are left out)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return False
    s = v if higher else -v
    best, worst = float(s.max()), float(s.min())
    return best > worst and (best - float(s[-1])) > COLLAPSE_SHARE * (best - worst)


def unstable(flags) -> bool:
    """The stability rule: ``UNSTABLE_SHARE`` or more of the final seeds diverged or
    collapsed."""
    flags = list(flags)
    return bool(flags) and sum(map(bool, flags)) / len(flags) >= UNSTABLE_SHARE - 1e-12


class MissingRuns(LookupError):
    """Runs the protocol needs are not on disk (read-only mode)."""


# ---- paired tests ------------------------------------------------------------------------
@dataclass
class Comparison:
    test: str
    n: int  # pairs used
    effect: float  # mean difference a - b (of logs for log_t, of restricted times for RMST)
    ci: tuple  # 95% confidence interval of ``effect`` (Student t on the differences)
    p: float  # two-sided
    direction: str  # "less", "greater" or "none": the sign of the effect
    mean_a: float = math.nan
    mean_b: float = math.nan
    note: str = ""
    p_holm: float = math.nan
    extra: dict = field(default_factory=dict)
    diffs: list = field(default_factory=list)  # the paired differences TOST reads
    margin: float = math.nan  # the declared margin in the statistic's unit (NaN: none)
    tost_p: float = math.nan
    tost_p_holm: float = math.nan
    detectable: float = math.nan  # the effect detectable at POWER (see the docstring)
    p_source: str = "this report"


def _direction(mean: float) -> str:
    return "less" if mean < 0 else ("greater" if mean > 0 else "none")


def _pairs(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = np.isfinite(a) & np.isfinite(b)
    dropped = int((~keep).sum())
    return a[keep], b[keep], (f"{dropped} pair(s) dropped (non-finite)" if dropped else "")


def _t_interval(d: np.ndarray) -> tuple:
    if len(d) < 2 or float(d.std(ddof=1)) == 0.0:
        m = float(d.mean()) if len(d) else math.nan
        return (m, m)
    ci = stats.t.interval(0.95, len(d) - 1, loc=float(d.mean()), scale=stats.sem(d))
    return (float(ci[0]), float(ci[1]))


def paired_t(a, b, name: str = "paired t") -> Comparison:
    """Paired t-test of a - b over pairs where both are finite; effect = mean difference
    with its 95% Student-t interval."""
    a, b, note = _pairs(a, b)
    n = len(a)
    if n < 2:
        return Comparison(name, n, math.nan, (math.nan, math.nan), math.nan, "none",
                          note=note or "fewer than 2 pairs")
    d = a - b
    mean = float(d.mean())
    if float(d.std(ddof=1)) == 0.0:  # every pair differs by the same amount: deterministic
        p = 1.0 if mean == 0.0 else 0.0
        note = "; ".join(filter(None, [note, "no spread between pairs (deterministic)"]))
    else:
        p = float(stats.ttest_rel(a, b).pvalue)
    return Comparison(name, n, mean, _t_interval(d), p, _direction(mean), float(a.mean()),
                      float(b.mean()), note, diffs=d.tolist())


def wilcoxon(a, b) -> Comparison:
    """Wilcoxon signed-rank test of a - b (scipy; exact without ties or zero differences,
    else the normal approximation); effect = mean difference with its t interval."""
    a, b, note = _pairs(a, b)
    d = a - b
    n = len(d)
    if n < 2:
        return Comparison("Wilcoxon signed-rank", n, math.nan, (math.nan, math.nan),
                          math.nan, "none", note=note or "fewer than 2 pairs")
    mean = float(d.mean())
    if not np.any(d != 0):
        p = 1.0
    else:
        p = float(stats.wilcoxon(a, b, method="auto").pvalue)
    return Comparison("Wilcoxon signed-rank", n, mean, _t_interval(d), p, _direction(mean),
                      float(a.mean()), float(b.mean()), note, diffs=d.tolist())


def log_t(a, b) -> Comparison:
    """Paired t-test on the natural logarithms (effects that multiply): effect = mean log
    ratio A/B; non-positive values leave their pair out. ``diffs`` stay in the statistic's
    unit (for the TOST's margin)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        la = np.where(a > 0, np.log(np.where(a > 0, a, 1.0)), math.nan)
        lb = np.where(b > 0, np.log(np.where(b > 0, b, 1.0)), math.nan)
    c = paired_t(la, lb, "paired t on logs")
    keep = np.isfinite(la) & np.isfinite(lb)
    c.diffs = (a[keep] - b[keep]).tolist()
    c.mean_a = float(a[keep].mean()) if keep.any() else math.nan
    c.mean_b = float(b[keep].mean()) if keep.any() else math.nan
    c.note = "; ".join(filter(None, [c.note, "effect = mean log(A/B)"]))
    return c


def restricted(a, b, horizon_a=None, horizon_b=None):
    """Times to target of paired runs capped at each pair's common horizon: the smaller of
    the two runs' censoring times (``inf`` never reached: the run sits at its horizon). A
    horizon unknown (None or NaN) is the largest finite time of the comparison. Pairs with a
    NaN time are left out. Returns (restricted a, restricted b, horizons)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    finite = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
    fallback = float(finite.max()) if len(finite) else math.nan

    def horizons(h, n):
        h = np.full(n, math.nan) if h is None else np.asarray(
            [math.nan if x is None else x for x in h], float)
        return np.where(np.isfinite(h), h, fallback)

    ha, hb = horizons(horizon_a, len(a)), horizons(horizon_b, len(b))
    keep = ~(np.isnan(a) | np.isnan(b)) & np.isfinite(ha) & np.isfinite(hb)
    a, b, tau = a[keep], b[keep], np.minimum(ha[keep], hb[keep])
    return np.minimum(a, tau), np.minimum(b, tau), tau


def sign_flip_p(d, draws: int = PERMUTATION_DRAWS, seed: int = 0) -> float:
    """Two-sided paired sign-flip permutation p of the mean of ``d``: the share of sign
    assignments whose |mean| reaches the observed one (exact up to ``EXACT_UP_TO`` pairs;
    else ``draws`` seeded random flips, the observed one counted in)."""
    d = np.asarray(d, float)
    n = len(d)
    observed = abs(float(d.sum())) * (1 - 1e-12)
    if n <= EXACT_UP_TO:
        signs = 1.0 - 2.0 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)
        return float(np.mean(np.abs(signs @ d) >= observed))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, draws, 10_000):
        signs = rng.choice((-1.0, 1.0), size=(min(10_000, draws - start), n))
        hits += int(np.sum(np.abs(signs @ d) >= observed))
    return (hits + 1) / (draws + 1)


def rmst_permutation(a, b, horizon_a=None, horizon_b=None) -> Comparison:
    """Times to a target that may be censored: the paired sign-flip permutation test of the
    differences of restricted times (``restricted``); effect = mean restricted difference
    with its t interval; ``counts`` say how often each arm reached the target."""
    a0, b0 = np.asarray(a, float), np.asarray(b, float)
    ra, rb, tau = restricted(a0, b0, horizon_a, horizon_b)
    d = ra - rb
    n = len(d)
    extra = {"a_sooner": int(np.sum(d < 0)), "b_sooner": int(np.sum(d > 0)),
             "ties": int(np.sum(d == 0)), "reached_a": int(np.sum(ra < tau)),
             "reached_b": int(np.sum(rb < tau)), "pairs": n,
             "horizon": float(np.median(tau)) if n else math.nan}
    if n < 2:
        return Comparison("RMST permutation", n, math.nan, (math.nan, math.nan), math.nan,
                          "none", note="fewer than 2 pairs", extra=extra)
    mean = float(d.mean())
    p = 1.0 if not np.any(d != 0) else sign_flip_p(d)
    return Comparison("RMST permutation", n, mean, _t_interval(d), p, _direction(mean),
                      float(ra.mean()), float(rb.mean()), extra=extra, diffs=d.tolist())


def tost(diffs, margin: float) -> float:
    """Paired TOST p for |mean difference| < ``margin``: the larger of the two one-sided
    t-test p-values (NaN without a margin or with fewer than 2 pairs)."""
    d = np.asarray(diffs, float)
    if margin is None or not np.isfinite(margin) or margin <= 0 or len(d) < 2:
        return math.nan
    mean, sd, n = float(d.mean()), float(d.std(ddof=1)), len(d)
    if sd == 0.0:
        return 0.0 if abs(mean) < margin else 1.0
    se = sd / math.sqrt(n)
    p_low = float(stats.t.sf((mean + margin) / se, n - 1))
    p_high = float(stats.t.cdf((mean - margin) / se, n - 1))
    return max(p_low, p_high)


def detectable_effect(diffs, alpha: float, power: float = POWER) -> float:
    """The mean difference a two-sided paired t-test with these pairs' spread and number
    detects with probability ``power`` at level ``alpha`` (noncentral t)."""
    d = np.asarray(diffs, float)
    n = len(d)
    if n < 2:
        return math.nan
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return 0.0
    from statsmodels.stats.power import TTestPower

    size = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power,
                                    alternative="two-sided")
    return float(np.asarray(size).item()) * sd


def compare(a, b, test: str, horizon_a=None, horizon_b=None, margin: float | None = None,
            margin_relative: float | None = None) -> Comparison:
    """The declared ``test`` (``TESTS``) of a against b, with the TOST p when a margin is
    declared (absolute, or ``margin_relative`` times |arm B's mean|)."""
    if test == "rmst_permutation":
        c = rmst_permutation(a, b, horizon_a, horizon_b)
    elif test == "wilcoxon":
        c = wilcoxon(a, b)
    elif test == "log_t":
        c = log_t(a, b)
    elif test == "t":
        c = paired_t(a, b)
    else:
        raise ValueError(f"test {test!r} is not one of {', '.join(TESTS)}")
    if margin is None and margin_relative is not None and np.isfinite(c.mean_b):
        margin = abs(c.mean_b) * float(margin_relative)
    if margin is not None:
        c.margin = float(margin)
        c.tost_p = tost(c.diffs, c.margin)
    return c


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


def family_holm(family: dict) -> dict:
    """Holm over a declared family: key -> raw p (None or NaN: no p anywhere, counted as
    p = 1 and kept in the family's size); returns key -> corrected p."""
    keys = list(family)
    raw = [1.0 if p is None or not np.isfinite(p) else float(p) for p in family.values()]
    return dict(zip(keys, holm(raw)))


def mechanism_verdict(c: Comparison) -> str:
    """A mechanism control must come out null: not significant (raw p), or equivalent
    within the margin (raw TOST p)."""
    if not np.isfinite(c.p) or c.p >= ALPHA or (np.isfinite(c.tost_p) and c.tost_p < ALPHA):
        return MECHANISM_NULL
    return MECHANISM_FAILED


def verdict(comparison: Comparison, expect: str, control: Comparison | None,
            trains: bool = True) -> str:
    """The verdict rule of the module docstring."""
    if not trains:
        return UNTRAINABLE
    if control is not None and np.isfinite(control.p_holm) and control.p_holm < ALPHA:
        return INVALID
    if comparison.n < MIN_PAIRS or not np.isfinite(comparison.p_holm):
        return INCONCLUSIVE
    if comparison.p_holm < ALPHA:
        return SUPPORTED if comparison.direction == expect else NOT_SUPPORTED
    if np.isfinite(comparison.tost_p_holm) and comparison.tost_p_holm < ALPHA:
        return EQUIVALENT
    return INCONCLUSIVE


# ---- calibration of the controls ---------------------------------------------------------
def false_positive_rate(pools, test: str, splits: int = CALIBRATION_SPLITS,
                        seed: int = 0) -> dict:
    """Resampled A/A splits: each pool is (values, horizons) of 2n runs of one
    configuration; each split shuffles them into two groups of n paired by index and runs
    ``test``. Returns the share of splits with p < ``ALPHA``, its Monte Carlo standard
    error at ``ALPHA`` and whether the share is within ``ALPHA`` + 2 standard errors."""
    rng = np.random.default_rng(seed)
    ps = []
    for values, horizons in pools:
        values = np.asarray(values, float)
        horizons = None if horizons is None else np.asarray(
            [math.nan if h is None else h for h in horizons], float)
        n = len(values) // 2
        if n < 2:
            continue
        for _ in range(splits):
            order = rng.permutation(len(values))[:2 * n]
            i, j = order[:n], order[n:]
            c = compare(values[i], values[j], test,
                        None if horizons is None else horizons[i],
                        None if horizons is None else horizons[j])
            if np.isfinite(c.p):
                ps.append(c.p)
    if not ps:
        return {"test": test, "splits": 0, "rate": None, "mc_se": None, "within": None}
    rate = float(np.mean(np.asarray(ps) < ALPHA))
    se = math.sqrt(ALPHA * (1 - ALPHA) / len(ps))
    return {"test": test, "splits": len(ps), "rate": rate, "mc_se": se,
            "within": bool(rate <= ALPHA + 2 * se)}
