"""The claims' statistics on fabricated runs whose value is known, each able to come out
either way (the protocol's tests and verdicts: tests/test_protocol.py)."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from experiments.claims import statistics

REG = statistics.REGISTRY


def _run(history=None, steps=None, status="completed", path=None):
    return SimpleNamespace(status=status, history=pd.DataFrame(history or {"epoch": []}),
                           steps=None if steps is None else pd.DataFrame(steps), metrics={},
                           path=path)


# ---- time to target: reached only when it holds --------------------------------------------
def test_a_crossing_that_collapses_is_not_reached_with_hold_2():
    epochs, values = [1, 2, 3, 4], [0.5, 0.92, 0.6, 0.7]
    assert statistics.crossing(epochs, values, 0.9) == pytest.approx(1 + 0.4 / 0.42)
    assert statistics.crossing(epochs, values, 0.9, hold=2) == math.inf


def test_hold_2_finds_the_first_crossing_that_holds():
    # crosses at 2, falls at 3, crosses again between 3 and 4 and stays
    values = [0.5, 0.92, 0.6, 0.91, 0.95]
    assert statistics.crossing([1, 2, 3, 4, 5], values, 0.9, hold=2) == \
        pytest.approx(3 + 0.3 / 0.31)
    # held from the first evaluation: its epoch, as with hold 1
    assert statistics.crossing([1, 2, 3], [0.95, 0.97, 0.99], 0.9, hold=2) == 1.0
    # a crossing at the last evaluation cannot be confirmed
    assert statistics.crossing([1, 2, 3], [0.5, 0.6, 0.95], 0.9, hold=2) == math.inf
    assert statistics.crossing([1, 2, 3], [0.5, 0.6, 0.95], 0.9) < math.inf
    # a loss target, lower is better
    assert statistics.crossing([1, 2, 3], [1.0, 0.4, 0.3], 0.5, False, hold=2) == \
        pytest.approx(1 + 5 / 6)


def test_epochs_to_target_reads_evaluations_within_epochs(tmp_path):
    """With an evals.csv (every k steps, epoch as a fraction) the time is resolved below an
    epoch; without one it falls back to the per-epoch history."""
    history = {"epoch": [1, 2], "val_accuracy": [0.95, 0.96]}
    f = REG["epochs_to_target"].fn
    assert f([_run(history)], "final", target=0.9, hold=2) == 1.0
    pd.DataFrame({"epoch": [0.25, 0.5, 0.75, 1.0], "step": [8, 16, 24, 32],
                  "val_accuracy": [0.5, 0.8, 0.92, 0.95]}).to_csv(tmp_path / "evals.csv",
                                                                   index=False)
    assert f([_run(history, path=tmp_path)], "final", target=0.9, hold=2) == \
        pytest.approx(0.5 + 0.25 * 0.1 / 0.12)


def test_seconds_to_target_passes_hold_on():
    h = {"epoch": [1, 2, 3], "val_accuracy": [0.95, 0.5, 0.5], "epoch_time_s": [2.0, 2, 2]}
    f = REG["seconds_to_target"].fn
    assert f([_run(h)], "final", target=0.9) == 2.0
    assert f([_run(h)], "final", target=0.9, hold=2) == math.inf


# ---- full-loss noise: the trajectory, not the batch ----------------------------------------
def _full(values, loss=None):
    return _run(steps={"epoch": 1, "step": np.arange(1, len(values) + 1),
                       "loss": values if loss is None else loss, "full_loss": values})


def test_full_loss_noise_is_zero_with_frozen_weights_however_noisy_the_batches():
    """Frozen weights: the full loss never moves, so its noise is 0, while the mini-batch
    loss of the same run is as noisy as its sampling (the old statistic sees that)."""
    rng = np.random.default_rng(0)
    frozen = np.full(300, 0.4)
    batches = 0.4 * 10 ** rng.normal(0, 0.3, 300)
    run = _full(frozen, loss=batches)
    assert REG["full_loss_noise"].fn([run], "final", level=0.5) == pytest.approx(0, abs=1e-12)
    assert REG["step_loss_noise"].fn([run], "final", level=0.5) > 0.1


@pytest.mark.parametrize("a_noise, b_noise", [(0.01, 0.1), (0.1, 0.01)])
def test_full_loss_noise_orders_trajectories_either_way(a_noise, b_noise):
    rng = np.random.default_rng(1)
    level = np.linspace(1.0, 0.2, 400)
    f = REG["full_loss_noise"].fn
    a = f([_full(level * 10 ** rng.normal(0, a_noise, 400))], "final", level=0.5)
    b = f([_full(level * 10 ** rng.normal(0, b_noise, 400))], "final", level=0.5)
    assert a == pytest.approx(a_noise, rel=0.3) and b == pytest.approx(b_noise, rel=0.3)
    assert (a < b) == (a_noise < b_noise)


def test_full_loss_noise_skips_steps_without_an_evaluation_and_needs_the_column():
    """Evaluated every 2nd update: the blank rows are left out, not read as zeros."""
    values = np.linspace(1.0, 0.2, 800)
    full = np.where(np.arange(800) % 2 == 0, values, np.nan)
    run = _run(steps={"loss": values, "full_loss": full})
    assert REG["full_loss_noise"].fn([run], "final", level=0.5) == pytest.approx(0, abs=1e-3)
    assert math.isnan(REG["full_loss_noise"].fn([_run(steps={"loss": values})], "final"))
    assert math.isnan(REG["full_loss_noise"].fn([_full(values + 1.0)], "final", level=0.5))


# ---- the ravine: swing amplitude and path length -------------------------------------------
def test_ravine_path_statistics_follow_gradient_descents_closed_form():
    """Gradient descent on f = (x² + κy²)/2 multiplies y by (1 − ηκ) and x by (1 − η) per
    step, so mean |y| and Σ|Δy| / Σ|Δx| have closed forms."""
    from experiments.claims.ravine import path

    kappa, x0, y0, n = 50.0, -5.0, 1.0, 30
    for rk in (0.5, 1.9):   # creeping down the wall, and crossing at every step
        lr = rk / kappa
        steps = path("sgd", lr, (x0, y0), kappa, n)
        run = _run(steps=steps)
        t = np.arange(1, n + 1)
        qy, qx = abs(1 - rk), 1 - lr
        assert REG["swing_amplitude"].fn([run], "final", steps=n) == \
            pytest.approx(np.mean(abs(y0) * qy ** t), rel=1e-4)
        across = abs(y0) * rk * np.sum(qy ** (t - 1))
        along = abs(x0) * lr * np.sum(qx ** (t - 1))
        assert REG["across_along_ratio"].fn([run], "final", steps=n) == \
            pytest.approx(across / along, rel=1e-4)


def test_swing_amplitude_and_path_ratio_order_paths_either_way():
    straight = _run(steps={"x": np.linspace(-5, 0, 11), "y": np.full(11, 0.01)})
    zigzag = _run(steps={"x": np.linspace(-5, 0, 11), "y": 0.5 * (-1.0) ** np.arange(11)})
    amp, ratio = REG["swing_amplitude"].fn, REG["across_along_ratio"].fn
    assert amp([straight], "final", steps=10) == pytest.approx(0.01)
    assert amp([zigzag], "final", steps=10) == pytest.approx(0.5)
    assert ratio([straight], "final", steps=10) == 0.0
    assert ratio([zigzag], "final", steps=10) == pytest.approx(10 * 1.0 / 5.0)
    assert math.isnan(amp([_run(steps=straight.steps, status="diverged")], "final"))


def test_regime_sweep_finds_where_momentum_crosses_the_floor_less():
    """Gradient descent below rate × κ = 1 never crosses the floor (0 sign changes), so
    momentum cannot cross less there; near the limit 2 it crosses every step and momentum
    crosses less: the summary must say so both ways."""
    from experiments.claims.extras import regime_summary
    from experiments.claims.ravine import regime_table

    table = regime_table(seeds=range(5), regimes=(0.5, 1.9), steps=30)
    summary = regime_summary(table, "sign_change_rate").set_index("regime")
    assert summary.loc[0.5, "gradient descent"] == 0.0
    assert not summary.loc[0.5, "momentum lower"]
    assert summary.loc[1.9, "gradient descent"] == 1.0
    assert summary.loc[1.9, "momentum lower"]


# ---- a relative error neither arm trains on -----------------------------------------------
def test_prediction_error_is_the_metric_of_the_saved_models_predictions(tmp_path):
    """A network that predicts the constant c everywhere: its MSLE on the run's own test
    targets is mean((log(1 + c) − log(1 + y))²), computed here with numpy; a constant near
    the targets' geometric middle scores lower than one far above them."""
    import keras

    from dlkit import data

    dataset = data.load("diabetes", seed=0, decades=3.0)
    y = dataset.y_test.astype("float64").ravel()
    values = {}
    for c in (30.0, 3000.0):
        model = keras.Sequential([keras.Input(dataset.x_test.shape[1:]),
                                  keras.layers.Dense(1, kernel_initializer="zeros",
                                                     bias_initializer="zeros")])
        model.layers[-1].bias.assign([c])
        folder = tmp_path / f"c{c:g}"
        folder.mkdir()
        model.save(folder / "model.keras")
        run = SimpleNamespace(status="completed", path=folder, metrics={}, config={
            "seed": 0, "dataset": {"name": "diabetes", "decades": 3.0}})
        values[c] = REG["prediction_error"].fn([run], "final", metric="msle")
        expected = np.mean((np.log1p(c) - np.log1p(y)) ** 2)
        assert values[c] == pytest.approx(expected, rel=1e-4)
    assert values[30.0] < values[3000.0]


# ---- final accuracy, area under the training curve, fluctuation at the end -----------------
def test_final_accuracy_reads_the_stages_split_in_percent_and_is_tuned_upwards():
    run = _run({"epoch": [1]})
    run.metrics = {"val_accuracy": 0.9, "test_accuracy": 0.85}
    f = REG["final_accuracy"]
    assert f.fn([run], "tune") == pytest.approx(90.0)
    assert f.fn([run], "final") == pytest.approx(85.0)
    assert f.better == "higher" and not f.censored
    assert math.isnan(f.fn([_run(status="diverged")], "final"))


def test_mean_train_loss_is_the_area_under_the_training_curve_either_way():
    curve = {"epoch": [1, 2, 3, 4], "loss": [1.0, 0.2, 0.1, 0.1]}
    fast = _run(curve)
    slow = _run({"epoch": [1, 2, 3, 4], "loss": [1.0, 0.8, 0.5, 0.1]})
    f = REG["mean_train_loss"].fn
    assert f([fast], "final") == pytest.approx(0.35)
    assert f([slow], "final") == pytest.approx(0.6)
    # the same final loss, told apart by how soon it got there
    assert f([fast], "final") < f([slow], "final")
    assert math.isnan(f([_run({"epoch": [1, 2], "loss": [1.0, math.nan]})], "final"))
    assert math.isnan(f([_run(curve, status="diverged")], "final"))


def test_loss_fluctuation_is_zero_for_a_settling_curve_and_the_swing_of_a_zigzag():
    f = REG["loss_fluctuation"].fn
    epochs = np.arange(1, 21)
    settling = _run({"epoch": epochs, "val_loss": 1.0 + np.exp(-epochs / 3.0)})
    rising = _run({"epoch": epochs, "val_loss": 1.0 + 0.01 * epochs})  # overfitting: a trend
    # around 1.0 by ±a: every step moves 2a, the net change over 9 steps is ±2a
    a = 0.03
    zigzag = _run({"epoch": epochs, "val_loss": 1.0 + a * (-1.0) ** epochs})
    assert f([settling], "final", last=10) == pytest.approx(0.0, abs=1e-12)
    assert f([rising], "final", last=10) == pytest.approx(0.0, abs=1e-12)
    assert f([zigzag], "final", last=10) == pytest.approx((9 * 2 * a - 2 * a) / 9)
    # a zigzag only in the first epochs has settled by the last ten
    early = np.where(epochs <= 10, 1.0 + a * (-1.0) ** epochs, 1.0)
    assert f([_run({"epoch": epochs, "val_loss": early})], "final", last=10) == \
        pytest.approx(0.0, abs=1e-12)
    assert f([_run({"epoch": epochs, "val_loss": early})], "final", last=12) > 0
    assert math.isnan(f([_run({"epoch": [1, 2], "val_loss": [1.0, 0.9]})], "final", last=10))


# ---- the excess training loss of a logistic regression over its global optimum -------------
@pytest.fixture(scope="module")
def logistic(tmp_path_factory):
    """MNIST-1D (not linearly separable: the optimum is finite) and the optimum of its
    training split."""
    from dlkit import data

    config = {"seed": 0, "model": {"name": "mlp", "depth": 0},
              "loss": {"name": "cross_entropy", "output_activation": "softmax"},
              "dataset": {"name": "mnist1d", "subset": 600}}
    dataset = data.load("mnist1d", seed=0, subset=600)
    x = dataset.x_train.reshape(len(dataset.x_train), -1).astype("float64")
    y = dataset.y_train.astype(int)
    loss, p = statistics.logistic_optimum(dataset.x_train, y)
    return SimpleNamespace(config=config, x=x, y=y, loss=loss, p=p,
                           folder=tmp_path_factory.mktemp("logistic"))


def test_the_logistic_optimum_is_where_the_gradient_vanishes(logistic):
    """The first-order condition of a convex loss, checked with numpy: the gradient of the
    mean cross entropy in every weight and bias, (P − Y)ᵀ[x 1] / n, is zero at the
    optimum, and the loss is below a uniform guess's log 10."""
    onehot = np.eye(10)[logistic.y]
    design = np.hstack([logistic.x, np.ones((len(logistic.x), 1))])
    gradient = design.T @ (logistic.p - onehot) / len(logistic.x)
    assert np.abs(gradient).max() < 1e-4
    assert logistic.loss == pytest.approx(statistics.mean_cross_entropy(logistic.p, logistic.y))
    assert 0.5 < logistic.loss < math.log(10)


def _logistic_run(logistic, name, kernel, bias):
    import keras

    model = keras.Sequential([keras.Input((logistic.x.shape[1], 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.layers[-1].set_weights([kernel.astype("float32"), bias.astype("float32")])
    folder = logistic.folder / name
    folder.mkdir()
    model.save(folder / "model.keras")
    return SimpleNamespace(status="completed", path=folder, metrics={},
                           config=logistic.config)


def test_excess_train_loss_is_zero_at_the_optimum_and_the_gap_of_any_other_weights(logistic):
    """Weights at the optimum (fitted here by Newton's method on the same loss, not by the
    statistic's own solver) give an excess of 0; the all-zero weights predict 1/10 for
    every class, an excess of log 10 − the optimum; halving the optimal weights lies
    between. Each ordering comes out either way."""
    x, y, n = logistic.x, logistic.y, len(logistic.y)
    design = np.hstack([x, np.ones((n, 1))])
    w = np.zeros((design.shape[1], 10))
    onehot = np.eye(10)[y]
    for _ in range(30):  # Newton steps on the mean cross entropy (a convex loss)
        z = design @ w
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        grad = (design.T @ (p - onehot) / n).ravel(order="F")
        blocks = [[design.T @ (design * (p[:, [i]] * ((i == j) - p[:, [j]]))) / n
                   for j in range(10)] for i in range(10)]
        hess = np.block(blocks) + 1e-9 * np.eye(design.shape[1] * 10)
        w -= np.linalg.solve(hess, grad).reshape(w.shape, order="F")
    f = REG["excess_train_loss"].fn
    at = f([_logistic_run(logistic, "optimum", w[:-1], w[-1])], "final")
    zero = f([_logistic_run(logistic, "zero", w[:-1] * 0, w[-1] * 0)], "final")
    half = f([_logistic_run(logistic, "half", w[:-1] / 2, w[-1] / 2)], "final")
    assert at == pytest.approx(0.0, abs=1e-4)
    assert zero == pytest.approx(math.log(10) - logistic.loss, rel=1e-5)
    assert at < half < zero
    tuning = f([_logistic_run(logistic, "half_tune", w[:-1] / 2, w[-1] / 2)], "tune")
    assert tuning == half  # the training split in both stages


def test_excess_train_loss_refuses_a_model_that_is_not_a_logistic_regression(logistic):
    run = _logistic_run(logistic, "deep", np.zeros((40, 10)), np.zeros(10))
    run.config = {**logistic.config, "model": {"name": "mlp", "depth": 2}}
    with pytest.raises(ValueError, match="model.depth=0"):
        REG["excess_train_loss"].fn([run], "final")
    assert math.isnan(REG["excess_train_loss"].fn([_run(status="diverged")], "final"))


def test_a_statistics_progress_takes_every_argument_the_statistic_takes():
    """Tuning calls ``progress(runs, **args)`` with the claim's statistic arguments: a
    progress function that refuses one of them fails the claim at its first rate."""
    import inspect

    from experiments.claims import load
    from experiments.claims.statistics import REGISTRY

    for claim in load():
        name, args = claim.tuning_statistic
        stat = REGISTRY[name]
        if stat.progress is not None:
            inspect.signature(stat.progress).bind(None, **args)  # raises TypeError if not
