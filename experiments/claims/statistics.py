"""The statistics claims are judged on: one number per seed from that seed's runs.

Each function takes the runs behind one seed's value (one run, or one per swept value, as
the claim's arm says), the stage (``"tune"`` reads the validation split, ``"final"`` the
test split where the statistic uses a final metric) and the claim's ``args``. It returns a
float: ``inf`` for a time-to-target never reached (censored), ``nan`` when the runs cannot
give the value (a diverged or failed run). Each is registered with whether lower or higher
is better for tuning, whether it is censored, and its unit for the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Statistic:
    fn: object
    better: str  # "lower" or "higher": the direction a learning rate is tuned towards
    censored: bool
    unit: str
    describe: str
    progress: object = None  # (runs, **args) -> how close failed runs got (higher = closer)
    timed: bool = False  # reads training time: its runs train one at a time, never packed


REGISTRY: dict[str, Statistic] = {}


def statistic(name, better="lower", censored=False, unit="", describe="", progress=None,
              timed=False):
    def register(fn):
        REGISTRY[name] = Statistic(fn, better, censored, unit, describe, progress, timed)
        return fn
    return register


def _best_reached(runs, column="val_accuracy", target=None, hold=1):
    """The best value of ``column`` a run reached (for ranking runs that missed a target;
    ``target`` and ``hold`` are the statistic's own arguments, unused here)."""
    (run,) = runs
    if run is None or column not in run.history or run.history.empty:
        return math.nan
    values = pd.to_numeric(run.history[column], errors="coerce")
    best = values.min() if column.endswith("loss") else values.max()
    return float(-best if column.endswith("loss") else best)


def _completed(run) -> bool:
    return run is not None and run.status == "completed"


def _split(stage: str) -> str:
    return "val" if stage == "tune" else "test"


@statistic("final_metric", unit="metric", describe="the final {column} (validation split "
           "when tuning, test split for the final runs)")
def final_metric(runs, stage, column="loss"):
    """``val_<column>`` when tuning, ``test_<column>`` in the final runs."""
    (run,) = runs
    if not _completed(run):
        return math.nan
    return float(run.metrics.get(f"{_split(stage)}_{column}", math.nan))


@statistic("mean_val_loss", unit="val_loss", describe="mean validation loss over the epochs "
           "(area under the learning curve per epoch: lower for a run that gets there "
           "sooner and stays)")
def mean_val_loss(runs, stage):
    (run,) = runs
    if not _completed(run):
        return math.nan
    values = pd.to_numeric(run.history["val_loss"], errors="coerce")
    return float(values.mean()) if len(values) else math.nan


def crossing(epochs, values, target, higher_is_better=True, hold=1) -> float:
    """First time a curve of evaluations reaches ``target`` and stays there for ``hold``
    consecutive evaluations, in epochs, linearly interpolated between the evaluation before
    the crossing and the first one at the target (a crossing at the first evaluation counts
    as its epoch); ``inf`` when it never does. A crossing whose run ends before ``hold``
    evaluations could confirm it, or that falls back below the target within them, does not
    count: a run that crosses and then collapses has not reached the target."""
    epochs = np.asarray(epochs, float)
    values = np.asarray(values, float)
    hit = values >= target if higher_is_better else values <= target
    hold = max(int(hold), 1)
    held = np.array([bool(hit[i:i + hold].all()) and i + hold <= len(hit)
                     for i in range(len(hit))], bool)
    if not held.any():
        return math.inf
    i = int(np.argmax(held))
    if i == 0:
        return float(epochs[0])
    v0, v1 = values[i - 1], values[i]
    frac = 1.0 if v1 == v0 or not np.isfinite(v0) else (target - v0) / (v1 - v0)
    return float(epochs[i - 1] + min(max(frac, 0.0), 1.0) * (epochs[i] - epochs[i - 1]))


EVALS = "evals.csv"  # evaluations within epochs, when the run recorded them (see _curve)


def _curve(run, column):
    """(epochs, values) of ``column``: from the run's ``evals.csv`` when it has one (a row
    per evaluation every k steps: ``epoch`` as a fraction, examples seen over the training
    set's size, and the evaluated columns), else from ``history.csv`` (one row per epoch).
    None when neither has the column."""
    path = getattr(run, "path", None)
    file = None if path is None else path / EVALS
    if file is not None and file.exists():
        evals = pd.read_csv(file)
        if column in evals and len(evals):
            return (evals["epoch"].to_numpy(float),
                    pd.to_numeric(evals[column], errors="coerce").to_numpy(float))
    h = run.history
    if column not in h or h.empty:
        return None
    return h["epoch"].to_numpy(float), pd.to_numeric(h[column], errors="coerce").to_numpy(float)


@statistic("epochs_to_target", censored=True, unit="epochs",
           describe="epochs until {column} first reaches {target} and holds it for {hold} "
           "consecutive evaluations (interpolated between evaluations: every epoch, or every "
           "k steps where the run recorded evals.csv; never reached = censored, no value "
           "imputed)", progress=_best_reached)
def epochs_to_target(runs, stage, column="val_accuracy", target=0.9, hold=1):
    """``hold=1`` is the first crossing (the committed reference's definition); the claims
    declare ``hold: 2``, so a run that crosses and collapses at once is not "reached"."""
    (run,) = runs
    if run is None or run.status == "failed":
        return math.nan
    curve = _curve(run, column)
    if curve is None:
        return math.inf if run.status == "diverged" else math.nan
    return crossing(*curve, float(target), not column.endswith("loss"), hold)


def _trend(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average (shorter at the ends)."""
    kernel = np.ones(window)
    num = np.convolve(values, kernel, mode="same")
    den = np.convolve(np.ones_like(values), kernel, mode="same")
    return num / den


def _noise_at_level(values: np.ndarray, level: float, window: int, steps: int) -> float:
    """Standard deviation of log10(value / its ``window``-point moving average) over the
    ``steps`` points after the moving average first falls to ``level``; NaN when it never
    does or fewer than ``steps`` points follow."""
    values = np.maximum(values, 1e-7)
    trend = _trend(values, window)
    below = np.nonzero(trend <= level)[0]
    if not len(below) or below[0] + steps > len(values):
        return math.nan  # never at the matched level, or too few steps after it
    start = below[0]
    residual = np.log10(values[start:start + steps] / trend[start:start + steps])
    return float(residual.std(ddof=1))


@statistic("step_loss_noise", unit="log10 loss",
           describe="standard deviation of log10(per-step training loss / its {window}-step "
           "moving average), over the {steps} steps after the moving average first falls "
           "below {level} (a matched loss level)")
def step_loss_noise(runs, stage, level=0.5, window=25, steps=100):
    """How far each step's mini-batch loss strays from the recent average, in decades, once
    the run has reached a given loss. Mostly the sampling noise of the batch itself (it is
    there with frozen weights): the committed reference's statistic, superseded by
    ``full_loss_noise``. Runs that never reach ``level`` give NaN (rank last)."""
    (run,) = runs
    if not _completed(run) or run.steps is None or run.steps.empty:
        return math.nan
    return _noise_at_level(run.steps["loss"].to_numpy(float), level, window, steps)


FULL_LOSS = "full_loss"  # the steps.csv column of the loss on a fixed training subset


@statistic("full_loss_noise", unit="log10 loss",
           describe="standard deviation of log10(full training loss / its {window}-update "
           "moving average) over the {steps} updates after the moving average first falls "
           "below {level} (a matched loss level); the full loss is evaluated on a fixed "
           "training subset after every update (steps.csv column full_loss), so it moves only "
           "when the weights do")
def full_loss_noise(runs, stage, level=0.5, window=25, steps=100):
    """How unsteadily the training loss itself moves along the trajectory: every update's
    effect on the loss of the same fixed examples, free of the sampling noise of the batch
    the update was computed on (with frozen weights it is exactly 0). Reads the rows of
    ``steps.csv`` where ``full_loss`` was recorded; a run without the column gives NaN."""
    (run,) = runs
    if not _completed(run) or run.steps is None or FULL_LOSS not in run.steps:
        return math.nan
    values = pd.to_numeric(run.steps[FULL_LOSS], errors="coerce").to_numpy(float)
    values = values[np.isfinite(values)]
    return _noise_at_level(values, level, window, steps) if len(values) else math.nan


@statistic("unit_spread", unit="weight distance",
           describe="largest distance between two hidden units' incoming weight vectors in "
           "any hidden Dense layer, at the end of training (0 = every unit identical)")
def unit_spread(runs, stage):
    (run,) = runs
    if not _completed(run):
        return math.nan
    cols = [c for c in run.history.columns if c.startswith("unit_spread/dense_")]
    if not cols:
        return math.nan
    return float(run.history[cols].iloc[-1].astype(float).max())


def first_last_ratio(run) -> tuple[int, float]:
    """(depth, log10 of the first hidden layer's kernel gradient norm over the last's) in the
    first epoch, when the gradients are those of the initial network."""
    h = run.history
    cols = sorted((c for c in h.columns if c.startswith("grad_norm/dense_")
                   and c.endswith("/kernel")),
                  key=lambda c: int(c.split("/")[1].split("_")[1]))
    if len(cols) < 2:
        return 0, math.nan
    first, last = float(h[cols[0]].iloc[0]), float(h[cols[-1]].iloc[0])
    return len(cols), math.log10(max(first, 1e-30) / max(last, 1e-30))


@statistic("gradient_depth_slope", unit="log10 per layer",
           describe="slope, over depth, of log10(‖∇W_1‖/‖∇W_L‖) in the first epoch: how many "
           "decades the gradient loses per added layer (sigmoid's bound: log10 0.25 = -0.60)")
def gradient_depth_slope(runs, stage):
    if not all(_completed(r) for r in runs):
        return math.nan
    points = [first_last_ratio(r) for r in runs]
    depth = np.array([d for d, _ in points], float)
    ratio = np.array([v for _, v in points], float)
    keep = np.isfinite(ratio) & (depth >= 2)
    if keep.sum() < 2:
        return math.nan
    return float(np.polyfit(depth[keep], ratio[keep], 1)[0])


@statistic("sign_change_rate", unit="sign changes per step",
           describe="share of the first {steps} steps at which the across-ravine coordinate y "
           "changes sign (1 = a zig-zag every step)")
def sign_change_rate(runs, stage, steps=60):
    (run,) = runs
    if run is None or run.status != "completed":
        return math.nan
    y = run.steps["y"].to_numpy(float)[: steps + 1]
    if len(y) < 2:
        return math.nan
    return float(np.mean(np.sign(y[1:]) != np.sign(y[:-1])))


@statistic("final_log_loss", unit="log10 f",
           describe="log10 of the ravine's f after the last step (lower = further along)")
def final_log_loss(runs, stage):
    (run,) = runs
    if run is None or run.status != "completed":
        return math.nan
    return float(np.log10(max(run.steps["f"].iloc[-1], 1e-300)))


def _ravine_path(runs, steps):
    """x and y of a completed ravine path's first ``steps`` updates (start included)."""
    (run,) = runs
    if run is None or run.status != "completed":
        return None
    path = run.steps.iloc[: steps + 1]
    return (None if len(path) < 2 else
            (path["x"].to_numpy(float), path["y"].to_numpy(float)))


@statistic("swing_amplitude", unit="|y|",
           describe="mean |y| over updates 1 to {steps}: how far the path swings across the "
           "ravine (its floor is y = 0)")
def swing_amplitude(runs, stage, steps=60):
    path = _ravine_path(runs, steps)
    return math.nan if path is None else float(np.mean(np.abs(path[1][1:])))


@statistic("across_along_ratio", unit="path length ratio",
           describe="path length across the ravine over path length along it, Σ|Δy| / Σ|Δx|, "
           "over the first {steps} updates (0 for a path straight down the floor)")
def across_along_ratio(runs, stage, steps=60):
    path = _ravine_path(runs, steps)
    if path is None:
        return math.nan
    along = float(np.abs(np.diff(path[0])).sum())
    across = float(np.abs(np.diff(path[1])).sum())
    return across / along if along > 0 else math.nan


@statistic("epoch_value", unit="metric", describe="{column} at epoch {epoch}")
def epoch_value(runs, stage, column="val_loss", epoch=1):
    """A history column at one epoch (e.g. the validation loss after the first epoch)."""
    (run,) = runs
    if not _completed(run) or column not in run.history:
        return math.nan
    rows = run.history[run.history["epoch"] == epoch]
    return float(rows[column].iloc[0]) if len(rows) else math.nan


@statistic("effective_step_decay", unit="log10 ratio",
           describe="log10 of the mean effective step size (learning rate over the adaptive "
           "denominator, from the optimizer's diagnostics) in the last epoch over the first")
def effective_step_decay(runs, stage):
    (run,) = runs
    if not _completed(run) or "effective_lr" not in run.history or len(run.history) < 2:
        return math.nan
    steps = pd.to_numeric(run.history["effective_lr"], errors="coerce").to_numpy(float)
    if not (np.isfinite(steps[[0, -1]]).all() and steps[0] > 0 and steps[-1] > 0):
        return math.nan
    return float(np.log10(steps[-1] / steps[0]))


@statistic("seconds_to_target", censored=True, unit="seconds",
           describe="training seconds (sum of epoch times, interpolated within the crossing "
           "epoch) until {column} first reaches {target} and holds it for {hold} "
           "consecutive evaluations; never reached = censored",
           progress=_best_reached, timed=True)
def seconds_to_target(runs, stage, column="val_accuracy", target=0.9, hold=1):
    epochs = epochs_to_target(runs, stage, column, target, hold)
    if not math.isfinite(epochs):
        return epochs  # inf: never reached (censored); nan: no value
    h = runs[0].history
    if "epoch_time_s" not in h:
        return math.nan
    seconds = np.concatenate([[0.0], np.cumsum(h["epoch_time_s"].to_numpy(float))])
    return float(np.interp(epochs, np.arange(len(seconds)), seconds))


@statistic("effective_step_spread", better="higher", unit="decades",
           describe="standard deviation across the network's variables of log10 of each "
           "variable's mean effective step size in the last epoch (0 when every parameter "
           "gets the same step, as in SGD with or without momentum)")
def effective_step_spread(runs, stage):
    (run,) = runs
    if not _completed(run):
        return math.nan
    h = run.history
    cols = [c for c in h.columns if c.startswith("effective_lr/")]
    if not cols:
        grad_cols = [c for c in h.columns if c.startswith("grad_norm/")]
        return 0.0 if grad_cols else math.nan  # diagnostics ran; no adaptive denominator
    values = h[cols].iloc[-1].astype(float).to_numpy()
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.std(np.log10(values))) if len(values) > 1 else math.nan


@statistic("seconds_per_example", unit="µs per example",
           describe="training time per example, median over the epochs after the first (the "
           "first includes tracing and compiling), in microseconds", timed=True)
def seconds_per_example(runs, stage):
    (run,) = runs
    if not _completed(run) or "epoch_time_s" not in run.history or len(run.history) < 2:
        return math.nan
    examples = (run.result.get("data") or {}).get("train")
    if not examples:
        return math.nan
    seconds = run.history["epoch_time_s"].to_numpy(float)[1:]
    return float(np.median(seconds) / examples * 1e6)


def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``images`` (n, h, w, c) moved by ``dy`` rows and ``dx`` columns, the uncovered border
    filled with zeros (the background of the digit images)."""
    out = np.zeros_like(images)
    h, w = images.shape[1:3]
    src_y, dst_y = slice(max(-dy, 0), h - max(dy, 0)), slice(max(dy, 0), h - max(-dy, 0))
    src_x, dst_x = slice(max(-dx, 0), w - max(dx, 0)), slice(max(dx, 0), w - max(-dx, 0))
    out[:, dst_y, dst_x] = images[:, src_y, src_x]
    return out


def _split_arrays(run, stage):
    """The run's own validation (tuning) or test (final) images and labels, rebuilt from its
    configuration and seed: the same split the run was evaluated on."""
    from dlkit import data
    from experiments.build import arguments

    cfg = run.config
    dataset = data.load(cfg["dataset"]["name"], seed=cfg["seed"],
                        **arguments("dataset", cfg["dataset"]))
    if stage == "tune":
        return dataset.x_val, dataset.y_val
    return dataset.x_test, dataset.y_test


@statistic("shift_accuracy_drop", unit="accuracy points",
           describe="accuracy on the clean images minus the mean accuracy on the same images "
           "shifted by {pixels} pixels up, down, left and right (percentage points)")
def shift_accuracy_drop(runs, stage, pixels=2):
    """How much accuracy a trained classifier loses when its evaluation images move by
    ``pixels`` (validation split when tuning, test split for the final runs), from the
    run's saved ``model.keras``."""
    import dlkit

    (run,) = runs
    if not _completed(run) or not (run.path / "model.keras").exists():
        return math.nan
    x, y = _split_arrays(run, stage)
    model = dlkit.load_model(run.path / "model.keras", compile=False)

    def accuracy(images):
        p = np.asarray(model.predict(images, batch_size=512, verbose=0))
        return float(np.mean(p.argmax(axis=-1) == y))

    moved = [accuracy(shifted(x, dy, dx)) for dy, dx in
             ((pixels, 0), (-pixels, 0), (0, pixels), (0, -pixels))]
    return 100.0 * (accuracy(x) - float(np.mean(moved)))


@statistic("prediction_error", unit="metric",
           describe="{metric} of the trained network's predictions on the held-out targets "
           "(validation when tuning, test for the final runs), computed from the run's saved "
           "model: a metric neither arm trains on")
def prediction_error(runs, stage, metric="msle"):
    """A loss of dlkit's (``metric``, e.g. ``msle``: the squared error of log(1 + ·), a
    relative error) evaluated on the run's own held-out split from its ``model.keras``, for
    a claim judged on a metric that is not among the run's recorded ones (so that neither
    arm is judged on the quantity it was trained to lower)."""
    import dlkit
    from dlkit import losses

    (run,) = runs
    if not _completed(run) or not (run.path / "model.keras").exists():
        return math.nan
    x, y = _split_arrays(run, stage)
    model = dlkit.load_model(run.path / "model.keras", compile=False)
    pred = np.asarray(model.predict(x, batch_size=512, verbose=0), "float32")
    y = np.asarray(y, "float32").reshape(pred.shape)
    value = float(np.asarray(losses.get(metric)(y, pred)))
    return value if math.isfinite(value) else math.nan


@statistic("generalization_gap", unit="accuracy points",
           describe="training accuracy minus held-out accuracy at the end (validation when "
           "tuning, test for the final runs; percentage points)")
def generalization_gap(runs, stage):
    (run,) = runs
    if not _completed(run):
        return math.nan
    held = run.metrics.get(f"{_split(stage)}_accuracy", math.nan)
    return 100.0 * (float(run.metrics.get("train_accuracy", math.nan)) - float(held))


@statistic("trainable_range", better="higher", unit="decades",
           describe="width of the learning-rate range that reaches {column} {target}: the "
           "number of grid rates that do, times the grid's spacing in decades")
def trainable_range(runs, stage, column="val_accuracy", target=0.9):
    """One seed's runs over a grid of learning rates (the arm's sweep): how many decades of
    rates train, counted on the grid. A failed or missing run is ``nan`` (the range cannot
    be told); a diverged run simply does not reach the target."""
    if any(run is None or run.status not in ("completed", "diverged") for run in runs):
        return math.nan
    rates = np.log10([float(run.config["optimizer"]["learning_rate"]) for run in runs])
    spacing = float(np.median(np.diff(np.sort(rates)))) if len(rates) > 1 else 1.0
    reached = 0
    for run in runs:
        values = pd.to_numeric(run.history.get(column, pd.Series(dtype=float)),
                               errors="coerce")
        if run.status == "completed" and len(values) and values.max() >= target:
            reached += 1
    return reached * spacing


@statistic("final_accuracy", better="higher", unit="accuracy points",
           describe="the final accuracy in percent (validation split when tuning, test split "
           "for the final runs)")
def final_accuracy(runs, stage):
    """The run's accuracy at its last epoch, in percent: ``final_metric`` for a claim about
    how good a trained network ends up, tuned towards the higher value."""
    (run,) = runs
    if not _completed(run):
        return math.nan
    return 100.0 * float(run.metrics.get(f"{_split(stage)}_accuracy", math.nan))


@statistic("mean_train_loss", unit="loss",
           describe="mean training loss over the epochs (history.csv's loss, each epoch's mean "
           "over its updates: the area under the training curve per epoch, lower for a run "
           "whose optimization gets further sooner)")
def mean_train_loss(runs, stage):
    (run,) = runs
    if not _completed(run) or "loss" not in run.history:
        return math.nan
    values = pd.to_numeric(run.history["loss"], errors="coerce").to_numpy(float)
    return float(values.mean()) if len(values) and np.isfinite(values).all() else math.nan


@statistic("loss_fluctuation", unit="loss per epoch",
           describe="back-and-forth movement of {column} over the last {last} epochs: its total "
           "variation minus its net change, per epoch (0 for a curve that only falls or only "
           "rises; each value is the loss of a fixed set at the weights of that epoch's end)")
def loss_fluctuation(runs, stage, column="val_loss", last=10):
    """How much a per-epoch loss curve goes up and down at the end of training, beyond its
    trend: ``(Σ|Δ| − |ΣΔ|) / (last − 1)`` over the last ``last`` values. A curve that
    settles (or creeps monotonically) gives 0; one that keeps fluctuating around a level
    gives about its mean absolute change per epoch. ``val_loss`` is evaluated on the same
    examples at the end of every epoch, so it moves only when the weights do (history.csv's
    training ``loss`` is, for a mini-batch run, the mean over the epoch's updates, which
    averages the fluctuation away)."""
    (run,) = runs
    if not _completed(run) or column not in run.history:
        return math.nan
    values = pd.to_numeric(run.history[column], errors="coerce").to_numpy(float)
    last = int(last)
    if last < 2 or len(values) < last:
        return math.nan
    values = values[-last:]
    if not np.isfinite(values).all():
        return math.nan
    steps = np.diff(values)
    return float((np.abs(steps).sum() - abs(steps.sum())) / len(steps))


CLIP = 1e-7  # keras.config.epsilon(), the clipping of dlkit's cross entropy


def mean_cross_entropy(probabilities, labels) -> float:
    """Mean of −log p(true class) over the examples, probabilities clipped to [CLIP, 1]
    as dlkit's cross entropy clips them; computed in float64."""
    p = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels).astype(int).ravel()
    picked = np.clip(p[np.arange(len(labels)), labels], CLIP, 1.0)
    return float(-np.mean(np.log(picked)))


_OPTIMA: dict = {}


def logistic_optimum(x, y):
    """The global minimum of the mean cross entropy of a multinomial logistic regression
    (softmax of ``x·W + b``, no regularization) on ``(x, y)``: scikit-learn's
    ``LogisticRegression`` with ``C=inf`` (no penalty) fitted by L-BFGS to a tight
    tolerance, independent of the network being judged. Returns (its mean cross entropy,
    its class probabilities). The loss is convex, so a point where its gradient vanishes is
    the global minimum. On linearly separable data there is no minimum: the loss only
    approaches its infimum 0 as the weights grow, and the solver stops at a loss near 0."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, np.float64).reshape(len(x), -1)
    labels = np.asarray(y).astype(int).ravel()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit = LogisticRegression(C=np.inf, tol=1e-10, max_iter=20_000).fit(x, labels)
    p = fit.predict_proba(x)
    if list(fit.classes_) != list(range(p.shape[1])):
        raise ValueError(f"classes {fit.classes_.tolist()} are not 0..K-1")
    return mean_cross_entropy(p, labels), p


def _train_arrays(run):
    """The run's own training images and labels, rebuilt from its configuration and
    seed."""
    from dlkit import data
    from experiments.build import arguments

    cfg = run.config
    dataset = data.load(cfg["dataset"]["name"], seed=cfg["seed"],
                        **arguments("dataset", cfg["dataset"]))
    return dataset.x_train, dataset.y_train


@statistic("excess_train_loss", unit="nats",
           describe="mean cross entropy of the trained logistic regression on its training "
           "split minus the global minimum of the same loss on the same split (scikit-learn's "
           "unregularized multinomial logistic regression, fitted independently), both "
           "computed by the same formula (0 = the optimum reached)")
def excess_train_loss(runs, stage):
    """How far a convex model's training loss ends above the global optimum, from the run's
    saved ``model.keras`` on its own training split (the same in both stages: the claim is
    about the training objective). The run must be a logistic regression (one Dense layer
    with a softmax, ``model=mlp model.depth=0``) trained with the cross entropy, the model
    whose optimum scikit-learn computes; anything else is refused with a ``ValueError``."""
    import json

    import dlkit

    (run,) = runs
    if not _completed(run) or not (run.path / "model.keras").exists():
        return math.nan
    cfg = run.config
    if (cfg.get("model") or {}).get("name") != "mlp" or cfg["model"].get("depth") != 0 or \
            (cfg.get("loss") or {}).get("name") not in ("cross_entropy", "nll") or \
            cfg["loss"].get("output_activation", "softmax") != "softmax":
        raise ValueError("excess_train_loss needs a logistic regression trained with the "
                         "cross entropy on softmax outputs (model=mlp model.depth=0 "
                         f"loss=cross_entropy), got model={cfg.get('model')} "
                         f"loss={cfg.get('loss')}")
    x, y = _train_arrays(run)
    key = json.dumps([cfg["dataset"], cfg["seed"]], sort_keys=True, default=str)
    if key not in _OPTIMA:
        _OPTIMA[key] = logistic_optimum(x, y)[0]
    model = dlkit.load_model(run.path / "model.keras", compile=False)
    p = np.asarray(model.predict(x, batch_size=1024, verbose=0))
    value = mean_cross_entropy(p, y)
    return value - _OPTIMA[key] if math.isfinite(value) else math.nan
