"""The fair protocol's numbers: tests against scipy/statsmodels and fabricated results whose
verdict is known both ways."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from experiments.claims import Arm, Claim, ClaimSpecError, load, parse, protocol, statistics
from experiments.claims.engine import evaluate, judge
from experiments.claims.protocol import (
    INCONCLUSIVE,
    INVALID,
    NOT_SUPPORTED,
    SUPPORTED,
    TUNING_SEEDS,
    Tuning,
)


# ---- tests against references ------------------------------------------------------------
def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.0001]
    ours = protocol.holm(p)
    ref = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_holm_leaves_nan_out_of_the_family():
    ours = protocol.holm([0.01, math.nan, 0.02])
    ref = multipletests([0.01, 0.02], method="holm")[1]
    assert math.isnan(ours[1])
    np.testing.assert_allclose([ours[0], ours[2]], ref)


def test_paired_t_matches_scipy_and_its_interval():
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 0.3, 8)
    b = a + rng.normal(0.2, 0.1, 8)
    c = protocol.paired_t(a, b)
    assert c.p == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)
    d = a - b
    ci = stats.t.interval(0.95, 7, loc=d.mean(), scale=stats.sem(d))
    assert c.ci == pytest.approx(ci, rel=1e-10)
    assert c.effect == pytest.approx(d.mean()) and c.direction == "less"


def test_paired_t_drops_non_finite_pairs_and_says_so():
    c = protocol.paired_t([1.0, 2.0, math.nan, 3.0], [1.5, 2.5, 1.0, 3.4])
    assert c.n == 3 and "1 pair" in c.note


def test_rmst_orders_pairs_by_restricted_times_without_imputing():
    """Times capped at the common horizon 10 (``inf``: never reached, at the horizon): the
    differences are -3, -7, -1, -6, -1, 0, 0, -3; p from every one of the 2^8 sign flips."""
    inf = math.inf
    a = [2.0, 3.0, 1.5, 4.0, 2.5, inf, 2.0, 3.0]
    b = [5.0, inf, 2.5, inf, 3.5, inf, 2.0, 6.0]
    c = protocol.rmst_permutation(a, b, [10.0] * 8, [10.0] * 8)
    d = np.array([-3.0, -7.0, -1.0, -6.0, -1.0, 0.0, 0.0, -3.0])
    assert c.diffs == pytest.approx(d.tolist())
    flips = [abs(sum(s * x for s, x in zip(signs, d))) for signs in
             __import__("itertools").product((-1, 1), repeat=8)]
    assert c.p == pytest.approx(np.mean(np.array(flips) >= abs(d.sum()) - 1e-9))
    assert c.effect == pytest.approx(d.mean()) and c.direction == "less"
    assert c.extra["reached_b"] == 5 and c.extra["a_sooner"] == 6 and c.extra["ties"] == 2


# ---- the verdict rule, fabricated both ways ----------------------------------------------
def _cmp(p_holm, direction, n=8):
    c = protocol.Comparison("paired t", n, -1.0 if direction == "less" else 1.0, (0, 0), p_holm,
                            direction)
    c.p_holm = p_holm
    return c


@pytest.mark.parametrize("p, direction, control_p, expected", [
    (0.001, "less", 0.8, SUPPORTED),
    (0.001, "greater", 0.8, NOT_SUPPORTED),
    (0.20, "less", 0.8, INCONCLUSIVE),
    (0.001, "less", 0.01, INVALID),          # the A/A control found a difference
    (0.001, "less", math.nan, SUPPORTED),     # no control p (degenerate) does not invalidate
])
def test_verdict_rule(p, direction, control_p, expected):
    assert protocol.verdict(_cmp(p, direction), "less", _cmp(control_p, "less")) == expected


def test_too_few_pairs_is_inconclusive():
    assert protocol.verdict(_cmp(1e-6, "less", n=3), "less", None) == INCONCLUSIVE


# ---- tuning with grid extension ----------------------------------------------------------
def _bowl(optimum_log10):
    calls = []

    def evaluate(rate):
        calls.append(rate)
        v = (math.log10(rate) - optimum_log10) ** 2
        return [v, v + 0.01], None
    return evaluate, calls


def test_grid_grows_until_the_best_rate_is_interior():
    evaluate, calls = _bowl(-4.0)          # optimum 1e-4, grid starts around 1e-2
    result = protocol.tune(evaluate, Tuning(points=5), center=1e-2)
    assert result.best == pytest.approx(1e-4)
    assert not result.at_edge
    assert min(result.rates) == pytest.approx(10 ** -4.5)   # one step past the optimum
    assert len(calls) == len(set(calls))                   # no rate trained twice


def test_grid_stops_at_its_limit_and_says_so():
    evaluate, _ = _bowl(2.0)                # optimum 100, above the limit
    result = protocol.tune(evaluate, Tuning(points=3, high=10.0), center=1.0)
    assert result.best == pytest.approx(10.0) and result.at_edge


def test_a_grid_where_no_rate_trains_grows_to_both_limits_and_says_so():
    result = protocol.tune(lambda rate: ([math.inf] * 3, None),
                           Tuning(points=3, low=1e-4, high=1.0), 1e-2)
    assert result.rates == pytest.approx([10 ** (k / 2) for k in range(-8, 1)])
    assert not result.trains and result.at_edge


def test_an_all_fail_grid_extends_until_a_rate_trains_then_tunes_as_usual():
    """Every rate of the initial grid 1e-3..1e-1 stays at chance; from 1 upwards the network
    reaches the target, fastest at 3.16: the grid grows outwards, then past the optimum."""
    def evaluate(rate):
        if rate < 0.5:
            return [math.inf] * 3, [0.1] * 3
        return [(math.log10(rate) - 0.5) ** 2 + 1.0 + 0.1 * s for s in range(3)], None
    result = protocol.tune(evaluate, Tuning(points=3), 1e-2)
    assert result.trains and not result.at_edge
    assert result.best == pytest.approx(10 ** 0.5)
    assert max(result.rates) == pytest.approx(10.0)


def test_failed_rates_rank_last_and_progress_breaks_ties():
    def evaluate(rate):
        if rate >= 1.0:
            return [math.nan] * 3, [0.1] * 3                # diverged
        if rate >= 0.1:
            return [3.0, 4.0, math.inf], [0.95, 0.9, 0.80]  # one seed never reached it
        return [math.inf] * 3, [rate * 5] * 3               # none; closer at higher rate
    best, scores = protocol.choose_rate({r: evaluate(r)[0] for r in (0.01, 0.0316, 0.1, 1.0)},
                                        "lower", {r: evaluate(r)[1] for r in
                                                  (0.01, 0.0316, 0.1, 1.0)})
    assert best == 0.1 and scores[0.1][0] == 4.0  # the median, the failed seed the worst
    assert scores[0.0316] < scores[0.01]   # all censored: the one that got closer ranks first


def test_the_median_of_three_tuning_seeds_ignores_one_bad_seed():
    """A mean would pick 0.01 (one seed of 0.1 is an outlier at 9.0); the median picks 0.1."""
    best, scores = protocol.choose_rate({0.01: [3.0, 3.1, 3.2], 0.1: [2.0, 2.1, 9.0]})
    assert best == 0.1 and scores[0.1][0] == pytest.approx(2.1)
    best, _ = protocol.choose_rate({0.01: [0.5, 0.6, 0.7], 0.1: [0.9, 0.8, 0.1]}, "higher")
    assert best == 0.1


# ---- a whole claim on fabricated runs ----------------------------------------------------
class FakeRuns:
    """Runs whose final test loss is a known function of arm, rate and seed."""

    execute = False

    def __init__(self, effect, control_shift=0.0):
        self.effect, self.control_shift = effect, control_shift

    def default_rate(self, preset, overrides, key):
        return 0.01

    def get(self, preset, overrides):
        arm = "b" if "arm=b" in overrides else "a"
        rate = float(next(o for o in overrides if o.startswith("optimizer.learning_rate"))
                      .split("=")[1])
        seed = int(next(o for o in overrides if o.startswith("seed=")).split("=")[1])
        noise = np.random.default_rng(seed).normal(0, 0.05)  # shared by a pair: paired
        value = 1.0 + (math.log10(rate) + 2.0) ** 2 + noise
        if arm == "b":
            value += self.effect + np.random.default_rng(seed + 1000).normal(0, 0.02)
        if arm == "a" and seed >= 8:
            value += self.control_shift
        return SimpleNamespace(status="completed", metrics={"val_loss": value,
                                                            "test_loss": value},
                               history=None)


def _claim():
    return Claim("fake", "A is lower than B", "none", "final_metric",
                 Arm("A", ("arm=a",)), Arm("B", ("arm=b",)), "less", {"column": "loss"}, 8,
                 Tuning(points=3))


@pytest.mark.parametrize("effect, control_shift, expected", [
    (0.5, 0.0, SUPPORTED),          # B is worse by 0.5 at every rate
    (-0.5, 0.0, NOT_SUPPORTED),     # B is better
    (0.0, 0.0, INCONCLUSIVE),       # no difference
    (0.5, 0.3, INVALID),            # A's control seeds differ from A's final seeds
])
def test_fabricated_claim_verdicts(effect, control_shift, expected):
    result = evaluate(_claim(), FakeRuns(effect, control_shift))
    (judged,) = judge([result], declared=[], reference=None)
    assert judged.a.rate == pytest.approx(0.01) and judged.b.rate == pytest.approx(0.01)
    assert judged.verdict == expected
    if expected != INVALID:
        assert judged.control_verdict == INCONCLUSIVE


def test_tuning_variants_pick_the_better_one_for_finals_and_control():
    """A variant (say, gradient clipping) that lowers arm B's statistic by 0.6 is chosen for
    B; arm A gains nothing from it and keeps the plain form."""
    class Variants(FakeRuns):
        def get(self, preset, overrides):
            run = super().get(preset, [o for o in overrides if o != "clip"])
            if "clip" in overrides and "arm=b" in overrides:
                run.metrics = {k: v - 0.6 for k, v in run.metrics.items()}
            elif "clip" in overrides:
                run.metrics = {k: v + 0.1 for k, v in run.metrics.items()}
            return run

    from dataclasses import replace

    claim = replace(_claim(), tuning=Tuning(points=3, variants=(("plain", ()),
                                                                ("clipped", ("clip",)))))
    (result,) = judge([evaluate(claim, Variants(0.5))], declared=[], reference=None)
    assert result.a.tuning.variant == "plain" and result.b.tuning.variant == "clipped"
    assert np.mean(result.b.final) < np.mean(result.a.final)   # B now wins: effect -0.5+0.6
    assert result.verdict == NOT_SUPPORTED


# ---- declarations and statistics ---------------------------------------------------------
def test_every_declared_claim_parses_and_names_a_statistic():
    claims = load()
    assert len(claims) >= 10
    assert len({c.key for c in claims}) == len(claims)
    for c in claims:
        assert c.statistic in statistics.REGISTRY
        assert c.seeds >= protocol.MIN_PAIRS
        assert c.tuning is not None or c.fixed


@pytest.mark.parametrize("node, message", [
    ({"text": "t", "statistic": "nope", "a": {"label": "x"}, "b": {"label": "y"}},
     "statistic 'nope'"),
    ({"text": "t", "statistic": "final_metric", "a": {"label": "x"}}, "missing b"),
    ({"text": "t", "statistic": "final_metric", "a": {"label": "x"}, "b": {"label": "y"},
      "seeds": 3}, "at least 5"),
    ({"text": "t", "statistic": "final_metric", "a": {"label": "x"}, "b": {"label": "y"},
      "tune": None}, "fixed"),
])
def test_bad_claim_declarations_are_refused(node, message):
    with pytest.raises(ClaimSpecError, match=message):
        parse("p", "k", node)


def test_crossing_interpolates_and_censors():
    assert statistics.crossing([1, 2, 3], [0.5, 0.8, 0.95], 0.9) == pytest.approx(2 + 2 / 3)
    assert statistics.crossing([1, 2, 3], [0.95, 0.97, 0.99], 0.9) == 1.0
    assert statistics.crossing([1, 2, 3], [0.5, 0.6, 0.7], 0.9) == math.inf
    assert statistics.crossing([1, 2], [1.0, 0.4], 0.5, higher_is_better=False) == \
        pytest.approx(1 + 5 / 6)


def _run(history=None, steps=None, status="completed"):
    import pandas as pd

    return SimpleNamespace(status=status, history=pd.DataFrame(history or {"epoch": []}),
                           steps=None if steps is None else pd.DataFrame(steps), metrics={})


def test_step_loss_noise_measures_spread_at_the_matched_level():
    rng = np.random.default_rng(0)
    n = 400
    level = np.linspace(1.0, 0.2, n)
    quiet = level * 10 ** rng.normal(0, 0.01, n)
    loud = level * 10 ** rng.normal(0, 0.3, n)
    f = statistics.REGISTRY["step_loss_noise"].fn
    q = f([_run(steps={"loss": quiet})], "final", level=0.5, window=25, steps=100)
    lo = f([_run(steps={"loss": loud})], "final", level=0.5, window=25, steps=100)
    assert q == pytest.approx(0.01, rel=0.3)
    assert lo > 10 * q
    # never reaching the level gives NaN, not a value
    assert math.isnan(f([_run(steps={"loss": level + 1.0})], "final", level=0.5))


def test_gradient_depth_slope_recovers_a_known_decay():
    runs = []
    for depth in (2, 4, 6, 8):
        hist = {"epoch": [1]}
        for i in range(1, depth + 1):   # each layer towards the input is 0.25x the next
            hist[f"grad_norm/dense_{i}/kernel"] = [0.25 ** (depth - i)]
        runs.append(_run(hist))
    slope = statistics.REGISTRY["gradient_depth_slope"].fn(runs, "final")
    assert slope == pytest.approx(math.log10(0.25), rel=1e-9)


def test_unit_spread_reads_the_last_epoch():
    run = _run({"epoch": [1, 2], "unit_spread/dense_1": [0.0, 0.0],
                "unit_spread/dense_2": [0.0, 0.0], "unit_spread/output": [0.0, 3.0]})
    assert statistics.REGISTRY["unit_spread"].fn([run], "final") == 0.0
    assert math.isnan(statistics.REGISTRY["unit_spread"].fn([_run(status="failed")], "final"))


def test_tuning_seeds_are_not_final_or_control_seeds_nor_the_replications():
    for c in load():
        r = c.replication()
        seeds = [set(TUNING_SEEDS), set(c.final_seeds), set(c.control_seeds),
                 set(r.tuning_seeds), set(r.final_seeds), set(r.control_seeds)]
        assert len(set().union(*seeds)) == sum(map(len, seeds))  # pairwise disjoint


# ---- the ravine ----------------------------------------------------------------------------
def test_ravine_paths_follow_the_closed_form():
    from experiments.claims.ravine import path

    # gradient descent multiplies y by (1 - lr * kappa) and x by (1 - lr) each step
    steps = path("sgd", 0.038, (-5.0, 1.0), kappa=50.0, steps=10)
    assert steps["y"].iloc[-1] == pytest.approx((1 - 0.038 * 50) ** 10, rel=1e-5)
    assert steps["x"].iloc[-1] == pytest.approx(-5.0 * (1 - 0.038) ** 10, rel=1e-5)
    sign = statistics.REGISTRY["sign_change_rate"].fn
    run = SimpleNamespace(status="completed", steps=steps)
    assert sign([run], "final", steps=10) == 1.0     # a zig-zag at every step


def test_kappa_sweep_matches_the_theoretical_rates():
    from experiments.claims.ravine import kappa_sweep

    table = kappa_sweep(kappas=(4, 25, 100), steps=150)
    np.testing.assert_allclose(table["gd_measured"], table["gd_theory"], rtol=1e-5)
    np.testing.assert_allclose(table["hb_measured"], table["hb_theory"], rtol=0.03)
    assert (table["hb_theory"] < table["gd_theory"]).all()


@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
def test_momentum_claims_run_through_the_protocol():
    from experiments.claims.runs import Runs

    claims = {c.key: c for c in load()}
    results = judge([evaluate(claims["momentum_damps"], Runs()),
                     evaluate(claims["momentum_faster"], Runs())])
    damps, faster = results
    assert damps.verdict == SUPPORTED and damps.control_verdict == INCONCLUSIVE
    # its mechanism control, momentum 0 at gradient descent's rate, is gradient descent:
    # the same paths, so the statistic must come out null, and it does (exactly)
    if damps.claim.mechanism is not None:
        assert damps.mechanism_values[0] == pytest.approx(damps.mechanism_values[1])
        assert damps.mechanism_verdict == protocol.MECHANISM_NULL
    assert faster.b.rate < 2 / 50                            # GD tuned below its limit 2/kappa
    assert faster.verdict == SUPPORTED and faster.control_verdict == INCONCLUSIVE


def test_output_gradient_of_a_confidently_wrong_softmax():
    from experiments.claims.extras import output_gradients

    table = output_gradients(margins=(0, 5, 12))
    np.testing.assert_allclose(table["ce_measured"], table["ce_analytic"], rtol=1e-5)
    # float32 autodiff against the float64 forms: the MSE gradient goes through J = diag(p)
    # - ppᵀ, whose entries hold 1 - p_wrong, known in float32 to about eps / (1 - p_wrong)
    # relative (2e-3 at margin 12; measured 2.7e-3 on an AVX2 CPU, under 1e-3 on AVX-512)
    eps = np.finfo("float32").eps
    rtol = 1e-5 + 4 * eps / (1 - table["p_wrong"])
    assert (abs(table["mse_measured"] / table["mse_analytic"] - 1) < rtol).all(), table
    assert table["ce_analytic"].iloc[-1] == pytest.approx(math.sqrt(2), rel=1e-4)
    assert table["mse_analytic"].iloc[-1] < 1e-4 < table["mse_analytic"].iloc[0]


def test_seconds_to_target_interpolates_in_wall_clock():
    run = _run({"epoch": [1, 2, 3], "val_accuracy": [0.5, 0.8, 0.95],
                "epoch_time_s": [2.0, 1.0, 1.0]})
    f = statistics.REGISTRY["seconds_to_target"].fn
    # reached 2/3 of the way through epoch 3 (0.8 -> 0.95 crosses 0.9 at 2.667 epochs)
    assert f([run], "final", target=0.9) == pytest.approx(3.0 + 2 / 3)
    assert f([run], "final", target=0.99) == math.inf


def test_effective_step_spread():
    f = statistics.REGISTRY["effective_step_spread"].fn
    adaptive = _run({"epoch": [1], "effective_lr/a": [1e-3], "effective_lr/b": [1e-1],
                     "grad_norm/a": [1.0]})
    assert f([adaptive], "final") == pytest.approx(1.0)       # log10 values -3 and -1
    plain = _run({"epoch": [1], "grad_norm/a": [1.0]})
    assert f([plain], "final") == 0.0                          # one step size for all
    assert math.isnan(f([_run({"epoch": [1]})], "final"))      # no diagnostics: no value


def test_seconds_per_example_skips_the_first_epoch():
    run = _run({"epoch": [1, 2, 3, 4], "epoch_time_s": [9.0, 1.0, 1.2, 1.1]})
    run.result = {"data": {"train": 1000}}
    f = statistics.REGISTRY["seconds_per_example"].fn
    assert f([run], "final") == pytest.approx(1100.0)  # 1.1 s / 1000 examples, in µs


# ---- the statistics of the pooling, batch-norm range and pairing claims ------------------
def test_shifted_moves_pixels_and_fills_zeros():
    images = np.arange(16, dtype="float32").reshape(1, 4, 4, 1) + 1
    down = statistics.shifted(images, 1, 0)[0, ..., 0]
    np.testing.assert_array_equal(down[0], 0)
    np.testing.assert_array_equal(down[1:], images[0, :3, :, 0])
    left = statistics.shifted(images, 0, -2)[0, ..., 0]
    np.testing.assert_array_equal(left[:, :2], images[0, :, 2:, 0])
    np.testing.assert_array_equal(left[:, 2:], 0)


def _saved_run(tmp_path, model):
    from pathlib import Path

    Path(tmp_path).mkdir(parents=True, exist_ok=True)
    model.save(Path(tmp_path) / "model.keras")
    return SimpleNamespace(status="completed", path=Path(tmp_path), metrics={},
                           config={"seed": 0, "dataset": {"name": "mnist_5k",
                                                          "val_fraction": 0.15,
                                                          "test_fraction": 0.15}})


def test_shift_accuracy_drop_is_zero_for_a_shift_invariant_network(tmp_path):
    """Convolutions then a global max: moving a centred MNIST digit by 2 pixels (its ink
    stays inside the 28x28 frame) cannot change the output, so the drop is exactly 0; a
    network that reads pixel positions (Flatten then Dense) does change."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    invariant = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(
        keras.layers.GlobalMaxPooling2D()(h)))
    assert statistics.shift_accuracy_drop(
        [_saved_run(tmp_path / "a", invariant)], "final", pixels=2) == 0.0
    positional = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(
        keras.layers.Flatten()(inputs)))
    assert statistics.shift_accuracy_drop(
        [_saved_run(tmp_path / "b", positional)], "final", pixels=2) != 0.0


def test_generalization_gap_in_points():
    run = _run()
    run.metrics = {"train_accuracy": 0.99, "val_accuracy": 0.95, "test_accuracy": 0.9}
    assert statistics.generalization_gap([run], "final") == pytest.approx(9.0)
    assert statistics.generalization_gap([run], "tune") == pytest.approx(4.0)
    assert math.isnan(statistics.generalization_gap([_run(status="failed")], "final"))


def test_trainable_range_counts_grid_rates_that_reach_the_target():
    def run(rate, best, status="completed"):
        r = _run({"epoch": [1, 2], "val_accuracy": [0.5, best]}, status=status)
        r.config = {"optimizer": {"learning_rate": rate}}
        return r

    rates = [1e-3, 10 ** -2.5, 1e-2, 10 ** -1.5, 0.1]
    runs = [run(r, b) for r, b in zip(rates, [0.5, 0.92, 0.95, 0.91, 0.3])]
    # three rates of a half-decade grid reach 0.9: 1.5 decades
    assert statistics.trainable_range(runs, "final") == pytest.approx(1.5)
    runs[2] = run(1e-2, float("nan"), status="diverged")
    assert statistics.trainable_range(runs, "final") == pytest.approx(1.0)
    runs[2] = None
    assert math.isnan(statistics.trainable_range(runs, "final"))


def test_a_claim_over_a_grid_of_rates_cannot_also_tune_the_rate():
    node = {"text": "t", "statistic": "trainable_range", "expect": "greater", "seeds": 5,
            "a": {"label": "A", "sweep": {"optimizer.learning_rate": [0.01, 0.1]}},
            "b": {"label": "B", "sweep": {"optimizer.learning_rate": [0.01, 0.1]}}}
    with pytest.raises(ClaimSpecError, match="sweeps optimizer.learning_rate"):
        parse("batchnorm", "x", node)
    claim = parse("batchnorm", "x", {**node, "tune": None, "fixed": "a grid"})
    assert claim.a.run_overrides() == [["optimizer.learning_rate=0.01"],
                                       ["optimizer.learning_rate=0.1"]]


def _full_composition(runs, preset, overrides):
    from omegaconf import OmegaConf

    from experiments.spec import resolve

    return resolve(OmegaConf.to_container(runs._hydra_compose(preset, overrides), resolve=True))


@pytest.mark.parametrize("every", [
    pytest.param(True, marks=pytest.mark.slow, id="every-claim"),
    pytest.param(False, id="first-claim-of-each-preset")])
def test_runs_compose_equals_hydras_full_composition_for_the_claims_runs(every):
    """The claims' runs are composed once per set of group choices, then their value
    overrides applied: each arm's runs (at a rate and a seed) must come out exactly as
    Hydra's full composition of the same overrides (the fast suite checks one claim per
    preset, the slow one every claim)."""
    from experiments.claims.engine import _seed_runs
    from experiments.claims.runs import Runs

    claims = load()
    if not every:
        claims = list({c.preset: c for c in reversed(claims)}.values())
    runs, seen = Runs("results-x", extra=["scale=small"]), set()
    for claim in claims:
        for arm in (claim.a, claim.b):
            for overrides in _seed_runs(claim, arm, 0.0123, 7):
                if (claim.preset, tuple(overrides)) in seen:
                    continue
                seen.add((claim.preset, tuple(overrides)))
                assert runs.compose(claim.preset, overrides) == \
                    _full_composition(runs, claim.preset, overrides), (claim.key, overrides)
    assert len(seen) > (40 if every else 15)  # the claims' arms really were compared
    assert len(runs._composed) < len(seen)  # and compositions were shared


def test_on_a_hydra_without_the_private_step_runs_compose_each_run_in_full(monkeypatch):
    """The Hydra adapter's fallback: the private value-override step is gone (simulated),
    so every run is composed in full: the same configuration, no shared composition."""
    from experiments import _hydra_internals
    from experiments.claims.runs import Runs

    monkeypatch.setattr(_hydra_internals, "_APPLY", None)
    runs = Runs("results-x", extra=["scale=small"])
    overrides = ["optimizer=momentum", "optimizer.momentum=0.5", "seed=2"]
    got = runs.compose("optimizers", overrides)
    assert got == _full_composition(runs, "optimizers", overrides)
    assert got["seed"] == 2 and got["optimizer"]["momentum"] == 0.5


@pytest.mark.parametrize("overrides", [
    ["optimizer=momentum", "optimizer.momentum=0.5", "seed=2"],  # a group choice, then values
    ["optimizer.learning_rate=0.5", "optimizer=sgd"],  # a value before the group choice
    ["+trainer.extra_key=1", "seed=1"],  # an addition goes through the full composition
    ["model.width=8", "model.depth=3", "seed=3"],  # values on one node
    ["dataset=mnist_5k", "model=cnn", "model.pooling=false"],
])
def test_runs_compose_orders_and_routes_overrides_like_hydra(overrides):
    from experiments.claims.runs import Runs

    runs = Runs("results-x")
    assert runs.compose("optimizers", overrides) == \
        _full_composition(runs, "optimizers", overrides)


@pytest.mark.parametrize("text", ["[1, 2]", '{"status": 3}', '{"metrics": {"val_loss": "low"}}',
                                  '{"status": "comp'])
def test_a_claims_run_is_read_through_the_run_folder_reader(tmp_path, capsys, text):
    """The claims read a run folder as the report does (``experiments.runfolder``): a
    readable result is a run with its status and metrics; a damaged ``result.json`` or one
    of the wrong shape is no run (the claim reports it missing, never a traceback); a
    ``history.csv`` without an epoch column is an empty history, with a warning."""
    import json

    from experiments.claims.runs import Runs
    from experiments.spec import run_folder

    overrides = ["optimizer=sgd", "seed=3"]
    folder = run_folder(Runs(tmp_path).compose("optimizers", overrides))
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(
        {"status": "completed", "metrics": {"val_loss": 0.5}}), encoding="utf-8")
    (folder / "history.csv").write_text("loss\n0.5\n", encoding="utf-8")
    run = Runs(tmp_path).get("optimizers", overrides)
    assert (run.path, run.status, run.metrics) == (folder, "completed", {"val_loss": 0.5})
    assert run.history.empty and list(run.history.columns) == ["epoch"]
    assert f"{folder / 'history.csv'} is malformed (KeyError)" in capsys.readouterr().err
    (folder / "result.json").write_text(text, encoding="utf-8")
    assert Runs(tmp_path).get("optimizers", overrides) is None


def test_runs_compose_refuses_an_unknown_key_like_hydra():
    from hydra.errors import ConfigCompositionException

    from experiments.claims.runs import Runs

    runs = Runs("results-x")
    with pytest.raises(ConfigCompositionException) as full:
        runs._hydra_compose("optimizers", ["optimizer.no_such_key=1"])
    with pytest.raises(ConfigCompositionException) as fast:
        runs.compose("optimizers", ["optimizer.no_such_key=1"])
    assert str(fast.value) == str(full.value)


def test_training_the_two_arms_apart_trains_exactly_what_evaluate_reads():
    """``train_arm`` a then b (two ``--workers`` processes) asks for the runs ``evaluate``
    reads, no more and no fewer, and arm B's share holds no run of arm A."""
    from experiments.claims.engine import train_arm

    class Recording(FakeRuns):
        def __init__(self):
            super().__init__(effect=0.3)
            self.asked = []

        def get(self, preset, overrides):
            self.asked.append(tuple(overrides))
            return super().get(preset, overrides)

    whole, parts = Recording(), {"a": Recording(), "b": Recording()}
    evaluate(_claim(), whole)
    for name, runs in parts.items():
        train_arm(_claim(), name, runs)
    assert set(parts["a"].asked) | set(parts["b"].asked) == set(whole.asked)
    assert not any("arm=a" in o for o in parts["b"].asked)
    assert any(o for o in parts["a"].asked if "seed=8" in o)  # the control seeds are A's
