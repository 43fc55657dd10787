"""The verdict machinery of issue "verdicts that survive a second analysis": one declared
Holm family, the declared test, equivalence, the stability rule, mechanism controls,
calibration and replication; each on fabricated numbers whose truth is known, each test
against an independent reference (scipy, statsmodels, brute force)."""

import itertools
import json
import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from experiments.claims import Arm, Claim, ClaimSpecError, Mechanism, parse, protocol
from experiments.claims.engine import evaluate, judge, stage_runs
from experiments.claims.protocol import (
    EQUIVALENT,
    INCONCLUSIVE,
    MECHANISM_FAILED,
    MECHANISM_NULL,
    SUPPORTED,
    UNTRAINABLE,
    Tuning,
)


# ---- one family --------------------------------------------------------------------------
def _claim(key, check=False, **kw):
    return Claim(key, f"claim {key}", "none", "final_metric", Arm("A", ("arm=a",)),
                 Arm("B", ("arm=b",)), "less", {"column": "loss"}, 8, Tuning(points=3),
                 check=check, check_reason="true by construction" if check else "", **kw)


def _result(claim, a, b, control):
    from experiments.claims.engine import ArmResult, ClaimResult

    return ClaimResult(claim, ArmResult("A", 0.01, None, list(a)),
                       ArmResult("B", 0.01, None, list(b)), list(control),
                       protocol.compare(a, b, claim.test_name, margin=claim.margin),
                       protocol.compare(a, control, claim.test_name, margin=claim.margin))


def _fabricated(shifts, n=8):
    """Per claim: arm A, arm B = A + shift + noise, a control = A + noise (known truth)."""
    out = {}
    for i, shift in enumerate(shifts):
        rng = np.random.default_rng(i)
        a = rng.normal(1.0, 0.2, n)
        out[f"c{i}"] = (a, a + shift + rng.normal(0, 0.05, n), a + rng.normal(0, 0.05, n))
    return out


def _reference(path, data):
    path.write_text(json.dumps({"claims": [
        {"key": k, "a": {"final": a.tolist()}, "b": {"final": b.tolist()},
         "control": {"values": c.tolist()}} for k, (a, b, c) in data.items()]}))
    return path


def test_one_claim_alone_gets_the_corrected_p_and_verdict_of_the_full_report(tmp_path):
    """Five declared claims; the full report evaluates all five; a run of c1 alone reads
    the other four from the reference: the same Holm p (statsmodels' over the five raw p)
    and verdict. Holm over c1 alone (the old rule) would give the raw p, 5 times smaller."""
    data = _fabricated([0.03, 0.05, 0.0, 0.2, -0.1])
    declared = [_claim(k) for k in data]
    ref = _reference(tmp_path / "claims.json", data)
    full = judge([_result(c, *data[c.key]) for c in declared], declared, ref)
    (alone,) = judge([_result(declared[1], *data["c1"])], declared, ref)
    raw = [r.comparison.p for r in full]
    expected = multipletests(raw, method="holm")[1][1]
    assert alone.comparison.p_holm == pytest.approx(expected, rel=1e-12)
    assert full[1].comparison.p_holm == pytest.approx(expected, rel=1e-12)
    assert alone.verdict == full[1].verdict
    assert alone.comparison.p_holm > 2 * alone.comparison.p  # the family is not just c1
    assert alone.control_comparison.p_holm == pytest.approx(
        full[1].control_comparison.p_holm, rel=1e-12)
    sources = {k: v["source"] for k, v in alone.family.items()}
    assert sources["c1"] == "this report"
    assert all(s.startswith("reference") for k, s in sources.items() if k != "c1")


def test_a_member_with_no_p_anywhere_counts_as_one_and_a_check_is_outside(tmp_path):
    data = _fabricated([0.2, 0.2])
    declared = [_claim("c0"), _claim("c1"), _claim("gone"), _claim("chk", check=True)]
    ref = _reference(tmp_path / "claims.json", data)
    (alone,) = judge([_result(declared[0], *data["c0"])], declared, ref)
    assert set(alone.family) == {"c0", "c1", "gone"}  # the check is no member
    assert alone.family["gone"]["source"] == "none (p = 1)"
    p1 = protocol.compare(*data["c1"][:2], "t").p
    expected = multipletests([alone.comparison.p, p1, 1.0], method="holm")[1][0]
    assert alone.comparison.p_holm == pytest.approx(expected, rel=1e-12)
    # a check: judged on its uncorrected p, whatever the family
    (check,) = judge([_result(declared[3], *data["c0"])], declared, ref)
    assert check.comparison.p_holm == check.comparison.p


# ---- the declared test -------------------------------------------------------------------
def test_wilcoxon_matches_scipy_exact_and_decides_a_skewed_effect():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    b = a + np.array([0.5, 0.7, 0.2, 0.9, 0.4, 1.3, 0.8, -0.1])
    c = protocol.compare(a, b, "wilcoxon")
    assert c.p == pytest.approx(stats.wilcoxon(a, b, method="exact").pvalue, rel=1e-12)
    # W+ = 1 (the one positive difference has the smallest rank): W+ <= 1 or W- <= 1
    assert c.p == pytest.approx(4 / 2 ** 8, rel=1e-12)
    assert c.direction == "less"
    null = protocol.compare(a, a + np.array([1, -1, 1, -1, 1, -1, 1, -1]) * 0.3, "wilcoxon")
    assert null.p == pytest.approx(1.0)


def test_log_t_is_a_paired_t_on_logarithms():
    rng = np.random.default_rng(1)
    a = np.exp(rng.normal(0, 1, 8))
    b = a * 2.0 * np.exp(rng.normal(0, 0.1, 8))  # B twice A: a multiplicative effect
    c = protocol.compare(a, b, "log_t")
    assert c.p == pytest.approx(stats.ttest_rel(np.log(a), np.log(b)).pvalue, rel=1e-12)
    assert c.effect == pytest.approx(np.mean(np.log(a / b))) and c.direction == "less"
    assert abs(c.effect + math.log(2)) < 0.1


def _brute_force_p(d):
    d = np.asarray(d, float)
    sums = [abs(np.dot(s, d)) for s in itertools.product((-1.0, 1.0), repeat=len(d))]
    return np.mean(np.asarray(sums) >= abs(d.sum()) - 1e-9)


def test_rmst_a_finite_time_beats_the_other_arms_censoring_time():
    """B never reaches the target within 10 epochs; A does at 6-9: restricted differences
    -4..-1, A sooner in every pair (the censored sign test never compared these)."""
    a = [6.0, 7.0, 8.0, 9.0, 6.5, 7.5, 8.5, 7.0]
    b = [math.inf] * 8
    c = protocol.compare(a, b, "rmst_permutation", [10.0] * 8, [10.0] * 8)
    d = np.asarray(a) - 10.0
    assert c.diffs == pytest.approx(d.tolist())
    assert c.p == pytest.approx(_brute_force_p(d)) and c.p == pytest.approx(2 / 256)
    assert c.effect == pytest.approx(d.mean()) and c.extra["reached_b"] == 0


def test_rmst_a_time_beyond_the_other_arms_censoring_time_carries_no_order():
    """A trained 20 epochs and reached the target at 12-15; B trained 10 epochs and never
    reached it: up to B's horizon neither reached it, so no pair orders them (capping each
    run at its own horizon would call B sooner)."""
    a = [12.0, 13.0, 14.0, 15.0, 12.5, 13.5]
    b = [math.inf] * 6
    c = protocol.compare(a, b, "rmst_permutation", [20.0] * 6, [10.0] * 6)
    assert c.diffs == [0.0] * 6 and c.p == 1.0 and c.direction == "none"
    # with mixed pairs, the permutation p is the brute force over 2^n flips
    a2 = [3.0, math.inf, 4.0, 12.0, 5.0, 2.0, 6.0, math.inf, 3.5]
    b2 = [5.0, 7.0, math.inf, math.inf, 5.5, 8.0, 4.0, math.inf, 9.0]
    c2 = protocol.compare(a2, b2, "rmst_permutation", [20.0] * 9, [10.0] * 9)
    assert c2.diffs == pytest.approx([-2, 3, -6, 0, -0.5, -6, 2, 0, -5.5])
    assert c2.p == pytest.approx(_brute_force_p(c2.diffs))


def test_rmst_without_a_known_horizon_uses_the_largest_finite_time():
    c = protocol.compare([2.0, 3.0, 4.0, 5.0, 6.0], [math.inf, 8.0, 7.0, 9.0, math.inf],
                         "rmst_permutation")
    assert c.diffs == pytest.approx([-7.0, -5.0, -3.0, -4.0, -3.0])


def test_the_permutation_beyond_16_pairs_is_seeded_monte_carlo():
    d = np.random.default_rng(3).normal(0.3, 1.0, 20)
    p = protocol.sign_flip_p(d)
    assert p == protocol.sign_flip_p(d)  # seeded: the same p every time
    exact = _brute_force_p(d[:16])
    assert protocol.sign_flip_p(d[:16]) == pytest.approx(exact)
    t = stats.ttest_1samp(d, 0).pvalue
    assert abs(p - t) < 0.05  # the permutation and t distributions agree roughly


# ---- equivalence -------------------------------------------------------------------------
def test_tost_matches_statsmodels():
    from statsmodels.stats.weightstats import ttost_paired

    rng = np.random.default_rng(2)
    a = rng.normal(1.0, 0.3, 10)
    b = a + rng.normal(0.05, 0.1, 10)
    for margin in (0.05, 0.1, 0.3):
        c = protocol.compare(a, b, "t", margin=margin)
        assert c.tost_p == pytest.approx(ttost_paired(a, b, -margin, margin)[0], rel=1e-10)


def test_a_relative_margin_is_a_fraction_of_arm_bs_mean():
    c = protocol.compare([1.0, 1.1, 0.9, 1.0, 1.05], [2.0, 2.1, 1.9, 2.0, 2.0], "t",
                         margin_relative=0.1)
    assert c.margin == pytest.approx(0.2)


def test_detectable_effect_has_the_declared_power():
    d = np.random.default_rng(4).normal(0, 0.5, 8)
    delta = protocol.detectable_effect(d, 0.05 / 30)
    n, sd, alpha = 8, d.std(ddof=1), 0.05 / 30
    crit = stats.t.ppf(1 - alpha / 2, n - 1)
    nc = delta / (sd / math.sqrt(n))
    power = stats.nct.sf(crit, n - 1, nc) + stats.nct.cdf(-crit, n - 1, nc)
    assert power == pytest.approx(0.8, abs=1e-6)


def _cmp(p_holm, direction, tost_p_holm=math.nan):
    c = protocol.Comparison("paired t", 8, -1.0 if direction == "less" else 1.0, (0, 0),
                            p_holm, direction)
    c.p_holm, c.tost_p_holm = p_holm, tost_p_holm
    return c


@pytest.mark.parametrize("p, tost_p, trains, expected", [
    (0.001, 0.001, True, SUPPORTED),        # a significant difference wins over equivalence
    (0.3, 0.01, True, EQUIVALENT),          # no difference, and within the margin
    (0.3, 0.2, True, INCONCLUSIVE),         # neither test decides
    (0.3, math.nan, True, INCONCLUSIVE),    # no margin declared: never equivalent
    (0.001, 0.5, False, UNTRAINABLE),       # an arm where no rate trains
])
def test_verdict_rule_with_equivalence(p, tost_p, trains, expected):
    assert protocol.verdict(_cmp(p, "less", tost_p), "less", _cmp(0.9, "less"),
                            trains) == expected


def test_equal_arms_with_a_margin_are_equivalent_through_the_family(tmp_path):
    rng = np.random.default_rng(5)
    a = rng.normal(1.0, 0.2, 10)
    b = a + rng.normal(0.0, 0.01, 10)
    control = a + np.array([0.01, -0.01] * 5)
    claim = _claim("eq", margin=0.05)
    (r,) = judge([_result(claim, a, b, control)], [claim], None)
    assert r.verdict == EQUIVALENT
    loose = replace(claim, margin=None)
    (r,) = judge([_result(loose, a, b, control)], [loose], None)
    assert r.verdict == INCONCLUSIVE and r.comparison.detectable > 0


# ---- the stability rule ------------------------------------------------------------------
def test_collapse_is_losing_more_than_half_of_the_progress():
    assert protocol.collapsed([0.1, 0.6, 0.92, 0.95, 0.11], higher=True)   # fell back
    assert not protocol.collapsed([0.1, 0.6, 0.92, 0.95, 0.93], higher=True)
    assert protocol.collapsed([2.3, 0.5, 0.1, 2.0], higher=False)          # a loss blew up
    assert not protocol.collapsed([2.3, 0.5, 0.1, 0.12], higher=False)
    assert protocol.unstable([True, True, False, False, False, False, False, False, False,
                              False]) and not protocol.unstable([True] + [False] * 9)


class CollapsingRuns:
    """Arm B collapses (training loss back up near its start) in 3 of 8 seeds at its tuned
    rate 0.1 and never at 0.0316; arm A is stable."""

    execute = False

    def default_rate(self, preset, overrides, key):
        return 0.1 if "arm=b" in overrides else 0.01

    def get(self, preset, overrides):
        rate = float(next(o for o in overrides if o.startswith("optimizer.learning_rate"))
                     .split("=")[1])
        seed = int(next(o for o in overrides if o.startswith("seed=")).split("=")[1])
        b = "arm=b" in overrides
        best = 0.1 if b else 0.01
        loss = 1.0 + (math.log10(rate) - math.log10(best)) ** 2 + 0.01 * seed
        curve = [2.3, 0.5, 0.1, 0.12]
        if b and rate > 0.05 and seed in (1, 4, 6):
            curve = [2.3, 0.5, 0.1, 2.2]
        history = pd.DataFrame({"epoch": [1, 2, 3, 4], "loss": curve, "val_loss": curve})
        return SimpleNamespace(status="completed", metrics={"val_loss": loss,
                                                            "test_loss": loss},
                               history=history, config={})


def test_a_collapsing_chosen_rate_is_flagged_and_falls_back_to_the_next_smaller_rate():
    claim = replace(_claim("c"), args={"column": "loss"})
    r = evaluate(claim, CollapsingRuns())
    assert r.b.stability["unstable"] == 3 and r.b.stability["flagged"]
    assert r.b.stability["rate"] == pytest.approx(0.1)
    assert r.b.rate == pytest.approx(10 ** -1.5) == r.b.stability["fallback"]
    assert r.b.stability["after_fallback"]["unstable"] == 0
    assert not r.a.stability["flagged"] and r.a.rate == pytest.approx(0.01)


def test_a_flat_tuning_curve_is_reported_as_flat():
    class Flat(CollapsingRuns):
        def get(self, preset, overrides):
            run = super().get(preset, [o for o in overrides if o != "arm=b"])
            run.metrics = {k: 1.0 + 1e-3 * len(o) for k, o in zip(run.metrics, overrides)}
            return run
    r = evaluate(_claim("f", margin=0.5), Flat())
    assert r.a.tuning.flat is True
    r = evaluate(_claim("f", margin=1e-6), CollapsingRuns())
    assert r.a.tuning.flat is False


# ---- mechanism control -------------------------------------------------------------------
class MechanismRuns(CollapsingRuns):
    """B's loss is higher by 0.5 through a mechanism that the override ``mech=off`` removes;
    with ``leak`` the difference stays (the statistic measures something else)."""

    def __init__(self, leak=False):
        self.leak = leak
        self.asked = []

    def get(self, preset, overrides):
        self.asked.append(tuple(overrides))
        rate = float(next(o for o in overrides if o.startswith("optimizer.learning_rate"))
                     .split("=")[1])
        seed = int(next(o for o in overrides if o.startswith("seed=")).split("=")[1])
        noise = np.random.default_rng(seed).normal(0, 0.05)
        loss = 1.0 + (math.log10(rate) + 2) ** 2 + noise
        if "arm=b" in overrides and ("mech=off" not in overrides or self.leak):
            loss += 0.5 + np.random.default_rng(seed + 99).normal(0, 0.02)
        return SimpleNamespace(status="completed", metrics={"val_loss": loss,
                                                            "test_loss": loss},
                               history=None, config={})

    def default_rate(self, preset, overrides, key):
        return 0.01


@pytest.mark.parametrize("leak, expected", [(False, MECHANISM_NULL),
                                            (True, MECHANISM_FAILED)])
def test_the_mechanism_control_runs_on_the_control_seeds_and_must_come_out_null(leak,
                                                                               expected):
    claim = _claim("m", mechanism=Mechanism("off removes it", ("mech=off",), ("mech=off",)))
    runs = MechanismRuns(leak)
    (r,) = judge([evaluate(claim, runs)], [claim], None)
    assert r.verdict == SUPPORTED and r.mechanism_verdict == expected
    mech = [o for o in runs.asked if "mech=off" in o]
    assert {int(o[-1].split("=")[1]) for o in mech} == set(claim.control_seeds)
    assert len(set(mech)) == 2 * claim.seeds == stage_runs(claim)["mechanism"]
    # the mechanism's overrides come after the tuned rate's: they may set the rate too
    assert all(o.index("mech=off") > o.index(next(x for x in o if "learning_rate" in x))
               for o in mech)


def test_the_mechanism_controls_own_statistic_arguments_reach_its_runs_only():
    """``mechanism.args`` (a frozen run never reaches a matched level: the whole trajectory
    instead) change the statistic of the mechanism runs, not of the claim's own runs."""
    class Runs(MechanismRuns):
        def get(self, preset, overrides):
            run = super().get(preset, overrides)
            run.metrics["test_mse"] = 7.0 if "mech=off" in overrides else math.nan
            return run

    claim = _claim("m", mechanism=Mechanism("off", ("mech=off",), ("mech=off",),
                                            {"column": "mse"}))
    result = evaluate(claim, Runs())
    assert result.mechanism_values == ([7.0] * claim.seeds, [7.0] * claim.seeds)
    assert all(np.isfinite(result.a.final)) and not any(v == 7.0 for v in result.a.final)
    with pytest.raises(ClaimSpecError, match="args maps statistic arguments"):
        parse("p", "k", {"text": "t", "statistic": "final_metric", "a": {"label": "A"},
                         "b": {"label": "B"}, "margin": 1.0, "margin_reason": "one unit",
                         "mechanism": {"why": "w", "a": [], "b": [], "args": [1]}})


def test_train_arm_trains_the_mechanism_runs_evaluate_reads():
    from experiments.claims.engine import train_arm

    claim = _claim("m", mechanism=Mechanism("off", ("mech=off",), ("mech=off",)))
    whole, parts = MechanismRuns(), {"a": MechanismRuns(), "b": MechanismRuns()}
    evaluate(claim, whole)
    for name, runs in parts.items():
        train_arm(claim, name, runs)
    assert set(parts["a"].asked) | set(parts["b"].asked) == set(whole.asked)
    assert not any("arm=a" in o for o in parts["b"].asked)


# ---- calibration -------------------------------------------------------------------------
@pytest.mark.parametrize("test", ["t", "wilcoxon", "log_t", "rmst_permutation"])
def test_resampled_aa_splits_keep_the_false_positive_rate_at_alpha(test):
    rng = np.random.default_rng(6)
    pools = []
    for _ in range(3):
        values = np.exp(rng.normal(1.0, 0.3, 20))
        if test == "rmst_permutation":
            values = np.where(values > 4.0, math.inf, values)
        pools.append((values, [10.0] * 20 if test == "rmst_permutation" else None))
    out = protocol.false_positive_rate(pools, test)
    assert out["splits"] == 3 * protocol.CALIBRATION_SPLITS
    assert out["within"] and out["rate"] <= 0.05 + 2 * out["mc_se"]


def test_resampled_splits_shuffle_the_pool_not_its_halves():
    """A pool whose first half differs from its second by a large shift: splits that kept
    the halves together would reject every time; random splits stay near alpha."""
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(0, 1, 10), rng.normal(5, 1, 10)])
    out = protocol.false_positive_rate([(values, None)], "t")
    assert out["rate"] < 0.1


# ---- declarations ------------------------------------------------------------------------
BASE = {"text": "t", "statistic": "final_metric", "a": {"label": "x"}, "b": {"label": "y"}}


@pytest.mark.parametrize("extra, message", [
    ({"test": "sign"}, "test must be one of t, wilcoxon, log_t, rmst_permutation"),
    ({"test": "t"}, "test_reason must be one line"),
    ({"test": "t", "test_reason": "a\nb"}, "test_reason must be one line"),
    ({"margin": 1.0}, "margin_reason must be one line"),
    ({"margin": -1.0, "margin_reason": "r"}, "margin must be a positive number"),
    ({"margin": 1.0, "margin_relative": 0.1, "margin_reason": "r"}, "both given"),
    ({"margin_reason": "r"}, "margin_reason without margin"),
    ({"check": "yes"}, "check must be true or false"),
    ({"check": True}, "check_reason must be one line"),
    ({"check_reason": "r"}, "check_reason without check: true"),
    ({"mechanism": {"why": "w", "a": "x=1"}}, "mechanism: a must be a list"),
    ({"mechanism": {"a": ["x=1"]}}, "mechanism: why must be one line"),
    ({"mechanism": {"why": "w", "c": []}}, "unknown key"),
])
def test_bad_declarations_name_the_file_claim_and_key(extra, message):
    with pytest.raises(ClaimSpecError, match=message) as err:
        parse("p", "k", {**BASE, **extra})
    assert str(err.value).startswith("conf/experiment/p.yaml claims.k")
    assert "\n" not in str(err.value).strip()


def test_a_full_declaration_parses():
    c = parse("p", "k", {**BASE, "test": "wilcoxon", "test_reason": "skewed",
                         "margin_relative": 0.1, "margin_reason": "10% matters",
                         "check": False, "mechanism": {"why": "w", "a": ["x=1"]}})
    assert (c.test_name, c.margin_relative, c.mechanism) == (
        "wilcoxon", 0.1, Mechanism("w", ("x=1",), ()))
    assert parse("p", "k", BASE).test_name == "t" and parse("p", "k", BASE).margin is None


# ---- an arm where no rate trains ---------------------------------------------------------
class NeverRuns(MechanismRuns):
    """Arm B never reaches anything: its statistic is NaN (diverged) at every rate."""

    def get(self, preset, overrides):
        run = super().get(preset, overrides)
        if "arm=b" in overrides:
            run.metrics = {"val_loss": math.nan, "test_loss": math.nan}
        return run


def test_an_arm_where_no_rate_trains_is_said_so_and_trains_no_final_runs(tmp_path):
    claim = replace(_claim("n"), tuning=Tuning(points=3, low=1e-3, high=0.1))
    runs = NeverRuns()
    (r,) = judge([evaluate(claim, runs)], [claim], None)
    assert not r.b.tuning.trains and r.b.tuning.rates == pytest.approx(
        [10 ** (k / 2) for k in range(-6, -1)])  # grown to both limits
    assert r.verdict == UNTRAINABLE and r.b.final == [] and r.control == []
    assert not any(o[-1] in {f"seed={s}" for s in claim.final_seeds} for o in runs.asked)
    from experiments.claims.report import write

    write([r], [], tmp_path)
    data = json.loads((tmp_path / "claims.json").read_text())
    assert data["claims"][0]["verdict"] == UNTRAINABLE
    assert "**no rate trains within the budget**" in (tmp_path / "claims.md").read_text()


# ---- the report --------------------------------------------------------------------------
def test_the_report_writes_family_checks_mechanism_replication_and_calibration(tmp_path):
    from experiments.claims.report import write

    mech = _claim("m", mechanism=Mechanism("off removes it", ("mech=off",), ("mech=off",)),
                  margin=0.1, margin_reason="a tenth of a loss unit")
    check = _claim("chk", check=True)
    declared = [mech, check, _claim("other")]
    results = judge([evaluate(mech, MechanismRuns()), evaluate(check, MechanismRuns())],
                    declared, None)
    (again,) = judge([evaluate(mech.replication(), MechanismRuns(leak=False))], declared,
                     None, replication=True)
    results[0].replication = again
    written = write(results, [], tmp_path)
    data = json.loads((tmp_path / "claims.json").read_text())
    assert [f["key"] for f in data["family"]] == ["m", "other"] and data["checks"] == ["chk"]
    assert data["family"][1]["source"] == "none (p = 1)"
    m = data["claims"][0]
    assert m["mechanism"]["verdict"] == MECHANISM_NULL
    assert m["mechanism"]["seeds"] == mech.control_seeds
    assert m["replication"]["verdict"] == m["verdict"] and m["replication"]["agrees"]
    assert m["replication"]["a"]["seeds"] == list(range(1000, 1008))
    assert m["replication"]["a"]["tuning"]["seeds"] == [200, 201, 202]
    assert data["replication"] == {"replicated": 1, "agree": 1, "agreement": 1.0}
    assert m["comparison"]["margin"] == 0.1 and m["margin"]["reason"]
    calib = data["calibration"]
    assert len(calib["aa_p"]) == 2 and calib["false_positive_rate"]["t"]["splits"] == 400
    assert (tmp_path / "claims_aa_pvalues.png") in written
    assert (tmp_path / "claims_aa_pvalues.png").stat().st_size > 5_000
    md = (tmp_path / "claims.md").read_text()
    assert "a check, outside the Holm family: true by construction" in md
    assert "## Checks" in md and "Replication on fresh seeds: 1 of 1 verdicts agree" in md
    assert "null as required" in md and "## Calibration of the controls" in md


def test_the_report_still_reads_the_committed_reference():
    from experiments.claims.engine import REFERENCE, read_reference

    ref = read_reference(REFERENCE)
    assert len(ref) >= 10
    from experiments.claims import load

    claims = {c.key: c for c in load()}
    from experiments.claims.engine import reference_comparisons

    for key, entry in ref.items():
        if key in claims:
            c, control, source = reference_comparisons(claims[key], entry)
            assert source.startswith("reference")
            # a claim whose arm had no rate that trains was never compared: no p to read
            assert np.isfinite(c.p) or entry["verdict"] == "no rate trains within the budget"
