"""Keras callbacks for the work around ``fit`` in an epoch loop: the epoch's row (metrics,
learning rate, time, diagnostics), the plateau schedule, ``history.csv``, per-step losses
and console progress. ``EpochLoop`` puts them in this order, each reading the row the
first one leaves in ``logs``; stopping on a non-finite loss is Keras's ``TerminateOnNaN``.
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path

import keras
import numpy as np

from dlkit.training.files import atomic_write_text


def write_history(path: Path, rows: list[dict]) -> None:
    """Rows as CSV, columns in order of first appearance, written atomically."""
    columns = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_history(path: Path) -> list[dict]:
    """The rows of a ``history.csv`` or ``steps.csv`` (``epoch``, ``step`` as ints, the rest
    floats, empty cells ``None``); ``[]`` if the file is missing."""
    if not Path(path).exists():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row in rows:
        parsed = {}
        for key, value in row.items():
            if value in ("", None):
                parsed[key] = None
            elif key in ("epoch", "step"):
                parsed[key] = int(value)
            else:
                parsed[key] = float(value)
        out.append(parsed)
    return out


def unit_spread(model) -> dict:
    """Per Dense layer: the largest distance between unit j's incoming weight vector and
    unit 0's (0 when every unit of the layer is identical, as after a constant
    initialization that nothing has broken)."""
    out = {}
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None or len(kernel.shape) != 2:
            continue
        w = np.asarray(keras.ops.convert_to_numpy(kernel), dtype=np.float64)
        out[f"unit_spread/{layer.name}"] = float(np.linalg.norm(w - w[:, :1], axis=0).max())
    return out


def learning_rate(model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def diverged(row: dict) -> bool:
    """An epoch whose training loss is NaN or infinite (Keras's epoch loss is the mean over
    its batches, so one non-finite batch makes it non-finite)."""
    return not math.isfinite(row.get("loss", float("nan")))


class EpochSummary(keras.callbacks.Callback):
    """Turns the epoch's ``logs`` into its row, in place: ``epoch``, ``loss``, training
    metrics, ``val_*`` metrics, ``learning_rate`` (the rate the epoch used), ``epoch_time_s``
    and, with ``diagnostics``, the optimizer's diagnostics and the unit spreads. Callbacks
    after it read the row from ``logs``. A packed run (``experiments.pack_engine``) passes its
    share of the pack's epoch time in ``logs["epoch_time_s"]``."""

    def __init__(self, diagnostics: bool = False):
        super().__init__()
        self.diagnostics = diagnostics
        self._t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._t0
        values = {k: float(v) for k, v in (logs or {}).items()}
        seconds = values.pop("epoch_time_s", seconds)  # a packed run's share of the epoch
        row = {"epoch": epoch + 1, "loss": values.pop("loss", float("nan"))}
        row.update({k: v for k, v in values.items() if not k.startswith("val_")})
        row.update({k: v for k, v in values.items() if k.startswith("val_")})
        row["learning_rate"] = learning_rate(self.model)
        row["epoch_time_s"] = seconds
        if self.diagnostics and not diverged(row):
            optimizer = getattr(self.model.optimizer, "inner_optimizer",
                                self.model.optimizer)  # mixed float16 wraps it
            row.update(optimizer.diagnostics(self.model.trainable_variables))
            row.update(unit_spread(self.model))
        logs.clear()
        logs.update(row)


class PlateauSchedule(keras.callbacks.Callback):
    """Sets the optimizer's rate for the next epoch from ``plateau`` (a
    ``dlkit.schedules.Plateau``) and the epoch's ``val_loss`` (``loss`` without validation)."""

    def __init__(self, plateau):
        super().__init__()
        self.plateau = plateau

    def on_epoch_end(self, epoch, logs=None):
        if diverged(logs):
            return
        self.model.optimizer.learning_rate = self.plateau.step(
            logs.get("val_loss", logs["loss"]), logs["learning_rate"])


class HistoryCSV(keras.callbacks.Callback):
    """Appends each epoch's row to ``rows`` (which starts with a resumed run's earlier
    epochs, each once) and rewrites ``path`` atomically."""

    def __init__(self, path, rows: list[dict]):
        super().__init__()
        self.path, self.rows = Path(path), rows

    def on_train_begin(self, logs=None):
        if self.rows:
            write_history(self.path, self.rows)

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append(dict(logs))
        write_history(self.path, self.rows)


class StepLosses(keras.callbacks.Callback):
    """Per-step training loss into ``path`` at each epoch's end. Keras reports the running
    mean of the epoch after each batch; the batch's own loss is ``k·m_k − (k−1)·m_(k−1)``
    (computed in float64).

    With ``full`` (``(x, y, every)``: a fixed sample of the training set) the row of every
    ``every``-th step also holds ``full_loss``: the compiled loss on that sample after the
    step's update, the model in inference mode. The mini-batch loss mixes the noise of the
    updates with the noise of which examples a batch drew (it is noisy even with frozen
    weights); ``full_loss`` follows the weights alone."""

    def __init__(self, path, rows: list[dict] | None = None, full=None):
        super().__init__()
        self.path, self.rows = Path(path), list(rows or [])
        self._epoch, self._prev = 0, 0.0
        self.full = full

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._prev = epoch + 1, 0.0

    def _full_loss(self) -> float:
        x, y, _ = self.full
        y_pred = self.model(x, training=False)
        return float(keras.ops.convert_to_numpy(self.model.loss(y, y_pred)))

    def on_train_batch_end(self, batch, logs=None):
        mean = float((logs or {}).get("loss", float("nan")))
        row = {"epoch": self._epoch, "step": batch + 1,
               "loss": (batch + 1) * mean - batch * self._prev}
        if self.full is not None:
            row["full_loss"] = (self._full_loss() if (batch + 1) % self.full[2] == 0
                                else float("nan"))
        self.rows.append(row)
        self._prev = mean

    def on_epoch_end(self, epoch, logs=None):
        write_history(self.path, [r for r in self.rows if r["epoch"] <= epoch + 1])


class ConsoleProgress(keras.callbacks.Callback):
    """One line per epoch: ``epoch 3/30  loss …  val_accuracy …  lr …  0.21s``."""

    SHOWN = ("loss", "accuracy", "mae", "val_loss", "val_accuracy", "val_mae")

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        parts = [f"epoch {epoch + 1:>3}/{self.epochs}"]
        parts += [f"{key} {logs[key]:.4f}" for key in self.SHOWN if logs.get(key) is not None]
        parts.append(f"lr {logs['learning_rate']:.2e}")
        parts.append(f"{logs['epoch_time_s']:.2f}s")
        print("  ".join(parts), flush=True)
