"""The epoch loop: seeded reshuffling, per-epoch history, checkpoints, resume, divergence.

Each epoch the training set is permuted with ``numpy.random.default_rng([seed, epoch])``, so
the order depends only on the seed and the epoch: a run resumed from its epoch-k checkpoint
sees exactly the batches an uninterrupted run sees.

Per epoch, in this order, each file written atomically: ``history.csv``, the checkpoint
``checkpoints/epoch_NNNN.npz`` (weights and optimizer state), ``state.json`` (which
checkpoint is current), then TensorBoard scalars. A run killed at any moment therefore
leaves a ``state.json`` naming a complete checkpoint.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from dlkit.training import checkpoint
from dlkit.training.checkpoint import CheckpointError
from dlkit.training.files import atomic_write_json, atomic_write_text, read_json


class _StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first batch whose loss is NaN or infinite."""

    def __init__(self):
        super().__init__()
        self.hit = False

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.hit = True
            self.model.stop_training = True


class _StepLosses(keras.callbacks.Callback):
    """Per-step training loss. Keras reports the running mean of the epoch after each batch;
    the batch's own loss is ``k·m_k − (k−1)·m_(k−1)`` (computed in float64)."""

    def __init__(self):
        super().__init__()
        self.rows, self._epoch, self._prev = [], 0, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._prev = epoch + 1, 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = float((logs or {}).get("loss", float("nan")))
        self.rows.append({"epoch": self._epoch, "step": batch + 1,
                          "loss": (batch + 1) * mean - batch * self._prev})
        self._prev = mean


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


@dataclass
class Outcome:
    status: str  # completed | diverged
    epochs_completed: int
    history: list = field(default_factory=list)
    diverged_epoch: int | None = None
    resumed_from: int = 0


def write_history(path: Path, rows: list[dict]) -> None:
    columns = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_history(path: Path) -> list[dict]:
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


class EpochLoop:
    """Train ``model`` for ``epochs`` epochs into ``run_dir``.

    ``plateau`` (a ``dlkit.schedules.Plateau``) adjusts the learning rate from ``val_loss``;
    ``diagnostics`` reads ``optimizer.diagnostics`` each epoch; ``on_epoch(row)`` is called
    after each epoch (for console progress).
    """

    def __init__(self, model, data, epochs, batch_size, seed, run_dir, plateau=None,
                 diagnostics=False, on_epoch=None, keep_checkpoints=2, log_steps=False,
                 callbacks=()):
        self.model = model
        self.x, self.y, self.x_val, self.y_val = data
        self.epochs, self.batch_size, self.seed = int(epochs), int(batch_size), int(seed)
        self.run_dir = Path(run_dir)
        self.plateau, self.diagnostics = plateau, diagnostics
        self.on_epoch = on_epoch or (lambda row: None)
        self.keep = keep_checkpoints
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.state_path = self.run_dir / "state.json"
        self.history_path = self.run_dir / "history.csv"
        self.steps_path = self.run_dir / "steps.csv"
        self.step_losses = _StepLosses() if log_steps else None
        self.callbacks = list(callbacks)  # extra Keras callbacks (e.g. a test's fault)
        self.start_epoch, self.rows = 0, []

    @property
    def epochs_done(self) -> int:
        return len(self.rows)

    # ---- resume -------------------------------------------------------------------------
    def resume(self) -> bool:
        """Load the last checkpoint, its epoch and history, if the run folder has one."""
        if not self.state_path.exists():
            return False
        fix = "; delete the run folder or pass trainer.resume=false"
        try:
            state = read_json(self.state_path)
            epoch, name = int(state["epoch"]), str(state["checkpoint"])
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise CheckpointError(f"{self.state_path} is damaged ({type(err).__name__})"
                                  + fix) from None
        if name != f"epoch_{epoch:04d}.npz" or not 0 < epoch <= self.epochs:
            raise CheckpointError(f"{self.state_path} names {name} at epoch {epoch}, which "
                                  f"does not fit a run of {self.epochs} epochs" + fix)
        try:
            checkpoint.load(self.checkpoint_dir / name, self.model)
        except CheckpointError as err:
            raise CheckpointError(f"{err}" + fix) from None
        if self.plateau is not None and state.get("plateau"):
            self.plateau.load_state(state["plateau"])
        self.start_epoch = epoch
        self.rows = self._rows(self.history_path, epoch, fix)
        if self.step_losses is not None:
            self.step_losses.rows = self._rows(self.steps_path, epoch, fix, per_epoch=False)
        return True

    @staticmethod
    def _rows(path, epoch: int, fix: str, per_epoch: bool = True) -> list[dict]:
        """Rows of epochs 1..``epoch`` of a per-epoch table, each epoch once (a row written
        twice by an interrupted run counts once); a damaged file is a ``CheckpointError``."""
        try:
            rows = [r for r in read_history(path) if r["epoch"] <= epoch]
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise CheckpointError(f"{path} is damaged ({type(err).__name__}: {err})"
                                  + fix) from None
        if not per_epoch:
            return rows
        by_epoch = {r["epoch"]: r for r in rows}
        if sorted(by_epoch) != list(range(1, epoch + 1)):
            raise CheckpointError(f"{path} does not hold epochs 1 to {epoch} to go with the "
                                  "checkpoint" + fix)
        return [by_epoch[e] for e in range(1, epoch + 1)]

    # ---- one epoch ----------------------------------------------------------------------
    def _order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def _learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def _checkpoint(self, epoch: int, rows: list[dict]) -> None:
        write_history(self.history_path, rows)
        if self.step_losses is not None:
            write_history(self.steps_path, [r for r in self.step_losses.rows
                                            if r["epoch"] <= epoch])
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch_{epoch:04d}.npz"
        checkpoint.save(self.checkpoint_dir / name, self.model)
        state = {"epoch": epoch, "checkpoint": name,
                 "plateau": self.plateau.state() if self.plateau else None}
        atomic_write_json(self.state_path, state)
        for old in sorted(self.checkpoint_dir.glob("epoch_*.npz"))[:-self.keep]:
            old.unlink()

    def batches(self, start: int, batch_size: int):
        """Yield the batches of epochs ``start`` .. ``epochs - 1`` in order.

        A pure function of the seed and the epoch, so however far ahead the input pipeline
        prefetches, the k-th batch trained on is the same in a resumed run as in an
        uninterrupted one.
        """
        for epoch in range(start, self.epochs):
            order = self._order(epoch)
            x, y = self.x[order], self.y[order]
            for i in range(0, len(order), batch_size):
                yield x[i:i + batch_size], y[i:i + batch_size]

    def run(self, tensorboard) -> Outcome:
        """Train from ``start_epoch`` (0, or where ``resume()`` left it) to ``epochs``.

        One ``fit`` call covers every remaining epoch (the per-epoch work happens in a
        callback), so input pipelines and the validation iterator are built once per run.
        ``tensorboard`` is any logger with a ``logdir`` and ``history_row(row)`` (the
        experiments' TensorBoard writer); its folder is rebuilt from the history.
        """
        start, rows = self.start_epoch, self.rows
        if tensorboard.logdir.exists():
            shutil.rmtree(tensorboard.logdir)  # rebuilt from history: no repeated epochs
        if rows:
            write_history(self.history_path, rows)  # each epoch once, as resume read it
        for row in rows:
            tensorboard.history_row(row)
        outcome = Outcome("completed", start, rows, resumed_from=start)
        if start < self.epochs:
            batch_size = min(self.batch_size, len(self.x))
            stopper = _StopOnNonFinite()
            epoch_end = _EpochEnd(self, tensorboard, outcome, stopper)
            self.model.fit(self.batches(start, batch_size),
                           steps_per_epoch=math.ceil(len(self.x) / batch_size),
                           epochs=self.epochs, initial_epoch=start, verbose=0, shuffle=False,
                           validation_data=(self.x_val, self.y_val),
                           callbacks=[*self.callbacks, stopper, epoch_end,
                                      *([self.step_losses] if self.step_losses else [])])
        outcome.history = rows
        return outcome

    def end_epoch(self, epoch: int, logs: dict, seconds: float, diverged: bool,
                  tensorboard, outcome: Outcome) -> None:
        """Record epoch ``epoch`` (0-based): history row, checkpoint, TensorBoard, console."""
        rows = outcome.history
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if diverged or not math.isfinite(logs.get("loss", float("nan"))):
            outcome.status, outcome.diverged_epoch = "diverged", epoch + 1
            self.model.stop_training = True
            logs["loss"] = logs.get("loss", float("nan"))
            row = {"epoch": epoch + 1, **logs, "learning_rate": self._learning_rate(),
                   "epoch_time_s": seconds}
            rows.append(row)
            write_history(self.history_path, rows)
            tensorboard.history_row(row)
            self.on_epoch(row)
            return
        row = {"epoch": epoch + 1, "loss": logs.pop("loss")}
        row.update({k: v for k, v in logs.items() if not k.startswith("val_")})
        row.update({k: v for k, v in logs.items() if k.startswith("val_")})
        row["learning_rate"] = self._learning_rate()
        row["epoch_time_s"] = seconds
        if self.diagnostics:
            optimizer = getattr(self.model.optimizer, "inner_optimizer",
                                self.model.optimizer)  # mixed float16 wraps it
            row.update(optimizer.diagnostics(self.model.trainable_variables))
            row.update(unit_spread(self.model))
        if self.plateau is not None:
            self.model.optimizer.learning_rate = self.plateau.step(
                row.get("val_loss", row["loss"]), row["learning_rate"])
        rows.append(row)
        self._checkpoint(epoch + 1, rows)
        tensorboard.history_row(row)
        outcome.epochs_completed = epoch + 1
        self.on_epoch(row)


class _EpochEnd(keras.callbacks.Callback):
    """Hands each finished epoch to ``EpochLoop.end_epoch``."""

    def __init__(self, loop, tensorboard, outcome, stopper):
        super().__init__()
        self.loop, self.tensorboard, self.outcome, self.stopper = (
            loop, tensorboard, outcome, stopper)
        self.t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.loop.end_epoch(epoch, logs, time.perf_counter() - self.t0, self.stopper.hit,
                            self.tensorboard, self.outcome)
