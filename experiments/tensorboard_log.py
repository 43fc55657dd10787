"""TensorBoard event files: per-epoch scalars and the HParams summary of a run.

This lives beside the experiments, not in dlkit: it imports TensorFlow.

Writing needs ``tensorflow`` and ``tensorboard`` (whatever the Keras backend). Without them
the logger says so once and does nothing, and the run still writes ``history.csv``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

_warned = False


def _tf():
    global _warned
    try:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp  # noqa: F401
    except ImportError:
        if not _warned:
            print("note: TensorBoard logs need tensorflow and tensorboard installed; runs "
                  "write history.csv and result.json only", file=sys.stderr, flush=True)
            _warned = True
        return None
    return tf


class TensorBoardLog:
    """One event directory per run, ``<run folder>/tensorboard``, so TensorBoard lists each
    run once. A metric measured on both splits is logged as ``<metric>/train`` and
    ``<metric>/validation`` (``loss/train``, ``accuracy/validation``, …), which TensorBoard
    groups under the metric's name; ``learning_rate``, ``epoch_time_s`` and the optimizer
    diagnostics keep their names. The run's hyperparameters and final metrics
    (``final/<metric>``) go to the same directory, where the HParams dashboard finds them."""

    def __init__(self, logdir):
        self.logdir = Path(logdir)
        self.tf = _tf()
        self._writers = {}

    @property
    def enabled(self) -> bool:
        return self.tf is not None

    def _writer(self, split: str = ""):
        if split not in self._writers:
            path = self.logdir / split if split else self.logdir
            self._writers[split] = self.tf.summary.create_file_writer(str(path))
        return self._writers[split]

    def scalars(self, step: int, values: dict):
        if not self.enabled:
            return
        with self._writer().as_default():
            for tag, value in values.items():
                if value is not None and not (isinstance(value, float) and math.isnan(value)):
                    self.tf.summary.scalar(tag, float(value), step=step)

    def history_row(self, row: dict):
        """Log one ``history.csv`` row at step = epoch."""
        validated = {key[4:] for key in row if key.startswith("val_")}
        values = {}
        for key, value in row.items():
            if key == "epoch" or value is None or value == "":
                continue
            if key.startswith("val_"):
                values[f"{key[4:]}/validation"] = value
            elif key in validated:
                values[f"{key}/train"] = value
            else:
                values[key] = value
        self.scalars(int(row["epoch"]), values)

    def hparams(self, hparams: dict, metrics: dict, trial_id: str):
        """The HParams session of this run plus its final metrics as ``final/<metric>``."""
        if not self.enabled:
            return
        from tensorboard.plugins.hparams import api as hp

        with self._writer().as_default():
            hp.hparams(hparams, trial_id=trial_id)
            for tag, value in metrics.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self.tf.summary.scalar(f"final/{tag}", float(value), step=0)

    def close(self):
        for writer in self._writers.values():
            writer.flush()
            writer.close()
        self._writers = {}
