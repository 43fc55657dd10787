"""The epoch loop: seeded batch order, ``fit``, checkpoints, resume.

Each epoch the training set is permuted with ``numpy.random.default_rng([seed, epoch])``, so
the order depends only on the seed and the epoch: a run resumed from its epoch-k checkpoint
sees exactly the batches an uninterrupted run sees.

The work around ``fit`` is done by Keras callbacks (``dlkit.training.callbacks``), in this
order at each epoch's end, each file written atomically: the epoch's row, the plateau
schedule, ``history.csv``, ``steps.csv``, the checkpoint ``checkpoints/epoch_NNNN.npz``
(every model and optimizer variable) and ``state.json`` (which checkpoint is current), then
the caller's callbacks (TensorBoard, console progress, a test's fault). A run killed at any
moment therefore leaves a ``state.json`` naming a complete checkpoint and a history that
holds its epochs. Keras's ``TerminateOnNaN`` stops at the first non-finite loss Keras
reports (after every step, or after every execution of ``steps_per_execution`` steps); that
epoch's row is recorded and the run is ``diverged``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from dlkit.errors import ConfigError
from dlkit.training import checkpoint
from dlkit.training.callbacks import (
    EpochSummary,
    HistoryCSV,
    PlateauSchedule,
    StepLosses,
    diverged,
    read_history,
    unit_spread,
    write_history,
)
from dlkit.training.checkpoint import CheckpointError
from dlkit.training.files import atomic_write_json, read_json
from dlkit.training.identity import identity_mismatch

__all__ = ["EVAL_BATCH", "CheckpointError", "EpochLoop", "Outcome", "read_history",
           "unit_spread", "write_history"]

# evaluation (each epoch's validation, the final train/val/test metrics, a pack's) runs in
# batches of up to this many examples: a loss or metric is a weighted mean over the split,
# so the batch only changes the order of summation, and one large batch costs one step
# where fit's default of 32 costs one per 32 examples
EVAL_BATCH = 1024


@dataclass
class Outcome:
    status: str  # completed | diverged
    epochs_completed: int
    history: list = field(default_factory=list)
    diverged_epoch: int | None = None
    resumed_from: int = 0


class EpochLoop:
    """Train ``model`` for ``epochs`` epochs into ``run_dir``.

    ``plateau`` (a ``dlkit.schedules.Plateau``) adjusts the learning rate from ``val_loss``;
    ``diagnostics`` adds ``optimizer.diagnostics`` to each epoch's row; ``log_steps`` writes
    ``steps.csv`` (a model compiled with ``steps_per_execution=1``), with the loss on
    ``full_loss_examples`` training examples (a fixed sample per seed) after every
    ``full_loss_every``-th step when that is positive (``StepLosses``); ``callbacks`` (Keras
    callbacks: TensorBoard, console progress, a test's fault) run after the loop's own at
    each epoch's end and see the epoch's row as ``logs``. A model compiled with
    ``steps_per_execution`` > 1 trains to the same numbers with fewer calls per epoch
    (``EpochBatches``); a non-finite loss then stops the run at the end of the execution
    that met it, in the same epoch. ``identity`` (the run's, ``dlkit.training.identity``)
    goes into ``state.json`` and every checkpoint, and ``resume`` continues only from files
    that carry it.
    """

    def __init__(self, model, data, epochs, batch_size, seed, run_dir, plateau=None,
                 diagnostics=False, keep_checkpoints=2, log_steps=False, callbacks=(),
                 identity: dict | None = None, full_loss_every: int = 0,
                 full_loss_examples: int = 256):
        self.model = model
        self.x, self.y, self.x_val, self.y_val = data
        self.epochs, self.batch_size, self.seed = int(epochs), int(batch_size), int(seed)
        self.run_dir = Path(run_dir)
        self.plateau, self.diagnostics = plateau, diagnostics
        self.keep = keep_checkpoints
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.state_path = self.run_dir / "state.json"
        self.history_path = self.run_dir / "history.csv"
        self.steps_path = self.run_dir / "steps.csv"
        if log_steps and getattr(model, "steps_per_execution", 1) > 1:
            raise ConfigError(f"log_steps needs a model compiled with steps_per_execution=1 "
                              f"(got {model.steps_per_execution}): steps.csv records every "
                              "step's loss, which Keras reports once per execution")
        full = None
        if full_loss_every:
            if not log_steps:
                raise ConfigError("full_loss_every needs log_steps: the full loss is a column "
                                  "of steps.csv")
            pick = np.random.default_rng([self.seed, 7]).permutation(len(self.x))
            pick = np.sort(pick[:int(full_loss_examples)])
            full = (self.x[pick], self.y[pick], int(full_loss_every))
        self.step_losses = StepLosses(self.steps_path, full=full) if log_steps else None
        self.callbacks = list(callbacks)
        self.identity = identity
        self.start_epoch, self.rows = 0, []
        # this epoch's (model variables, optimizer variables) as arrays, when whoever trains
        # the model holds them already (a packed run): the checkpoint writes them
        self.snapshot = None

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
        differs = (identity_mismatch(self.identity, state.get("identity"))
                   if self.identity is not None else None)
        if differs:
            raise CheckpointError(f"{self.state_path} is not this run's: {differs}" + fix)
        try:
            checkpoint.load(self.checkpoint_dir / name, self.model, self.identity)
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

    def own_callbacks(self, stop_on_nan: bool = True) -> list:
        """The loop's own callbacks in order (the epoch's row, the plateau schedule,
        ``history.csv``, ``steps.csv``, the checkpoint), then the caller's."""
        return [*([keras.callbacks.TerminateOnNaN()] if stop_on_nan else []),
                EpochSummary(self.diagnostics),
                *([PlateauSchedule(self.plateau)] if self.plateau else []),
                HistoryCSV(self.history_path, self.rows),
                *([self.step_losses] if self.step_losses else []), _Checkpoint(self),
                *self.callbacks]

    def run(self) -> Outcome:
        """Train from ``start_epoch`` (0, or where ``resume()`` left it) to ``epochs``.

        One ``fit`` call covers every remaining epoch (the per-epoch work happens in
        callbacks), so input pipelines and the validation iterator are built once per run.
        """
        start = self.start_epoch
        if start < self.epochs:
            batches = EpochBatches(self, start, min(self.batch_size, len(self.x)))
            self.model.fit(batches, epochs=self.epochs, initial_epoch=start, verbose=0,
                           shuffle=False,
                           validation_data=(self.x_val, self.y_val),
                           validation_batch_size=min(EVAL_BATCH, len(self.x_val)),
                           callbacks=[batches.follow(), *self.own_callbacks()])
        return self.outcome()

    def outcome(self) -> Outcome:
        """The run's outcome from its rows (after ``run``, or after a packed run)."""
        start = self.start_epoch
        if start >= self.epochs and self.rows:
            write_history(self.history_path, self.rows)  # each epoch once, as resume read it
        done = [r for r in self.rows if not diverged(r)]
        last = self.rows[-1] if self.rows else None
        if last is not None and diverged(last):
            return Outcome("diverged", len(done), self.rows, last["epoch"], start)
        return Outcome("completed", len(done), self.rows, resumed_from=start)

    def save_checkpoint(self, epoch: int) -> None:
        """``checkpoints/epoch_NNNN.npz`` then ``state.json`` naming it; the oldest beyond
        ``keep_checkpoints`` removed."""
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch_{epoch:04d}.npz"
        checkpoint.save(self.checkpoint_dir / name, self.model, self.snapshot, self.identity)
        state = {"epoch": epoch, "checkpoint": name,
                 "plateau": self.plateau.state() if self.plateau else None}
        if self.identity is not None:
            state["identity"] = self.identity
        atomic_write_json(self.state_path, state)
        checkpoint.prune(self.checkpoint_dir, self.keep)


class EpochBatches(keras.utils.PyDataset):
    """The loop's training batches, one epoch per pass, in the seeded order of that epoch.

    A pure function of the seed and the epoch, so however far ahead the input pipeline
    prefetches, the k-th batch trained on is the same in a resumed run as in an
    uninterrupted one. ``fit`` sees each epoch as a pass of known length, so a model compiled
    with ``steps_per_execution`` > 1 runs the epoch's last few batches as a shorter
    execution and never takes a batch of the next epoch into this one: the updates, and the
    numbers, are those of ``steps_per_execution=1``.

    ``follow()`` is the callback that moves it to each epoch as ``fit`` begins it (before
    ``fit`` opens the epoch's pass); until then it serves epoch ``start``, which is also
    what a backend's look at the first batch, to build the model, sees.
    """

    def __init__(self, loop: EpochLoop, start: int, batch_size: int):
        super().__init__()  # one worker, in this process: the order is the loop's
        self.loop, self.batch_size = loop, batch_size
        self.load(start)

    def load(self, epoch: int) -> None:
        order = self.loop._order(epoch)
        self.epoch, self._x, self._y = epoch, self.loop.x[order], self.loop.y[order]

    def follow(self) -> keras.callbacks.Callback:
        def begin(epoch, logs=None):
            if epoch != self.epoch:
                self.load(epoch)

        return keras.callbacks.LambdaCallback(on_epoch_begin=begin)

    def __len__(self):
        return math.ceil(len(self.loop.x) / self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self._x[rows], self._y[rows]


class _Checkpoint(keras.callbacks.Callback):
    """After ``history.csv``: the epoch's checkpoint and ``state.json`` (none for a diverged
    epoch, whose weights are not finite)."""

    def __init__(self, loop: EpochLoop):
        super().__init__()
        self.loop = loop

    def on_epoch_end(self, epoch, logs=None):
        if not diverged(logs):
            self.loop.save_checkpoint(epoch + 1)
