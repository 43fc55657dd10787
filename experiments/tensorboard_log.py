"""TensorBoard event files: per-epoch scalars and the HParams summary of a run.

This lives beside the experiments, not in dlkit: it imports TensorFlow.

Writing needs ``tensorflow`` and ``tensorboard`` (whatever the Keras backend). Without them
the logger says so once and does nothing, and the run still writes ``history.csv``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import keras

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

    def __init__(self, logdir, owner=None):
        self.logdir = Path(logdir)
        self.owner = owner  # the run folder, named in run.txt beside the events
        self.tf = _tf()
        self._writers = {}

    @property
    def enabled(self) -> bool:
        return self.tf is not None

    def _writer(self, split: str = ""):
        if split not in self._writers:
            path = self.logdir / split if split else self.logdir
            if self.owner is not None and not self._writers:
                path.mkdir(parents=True, exist_ok=True)
                (self.logdir / "run.txt").write_text(f"{self.owner}\n", encoding="utf-8")
            self._writers[split] = self.tf.summary.create_file_writer(str(path))
        return self._writers[split]

    def scalars(self, step: int, values: dict):
        """``tf.summary.scalar`` for each value (None and NaN left out), written by one
        traced call (``_scalar_writer``) instead of a few eager operations per value."""
        if not self.enabled:
            return
        values = {tag: float(value) for tag, value in values.items()
                  if value is not None and not (isinstance(value, float) and math.isnan(value))}
        if values:
            _scalar_writer(len(values))(self._writer()._resource, step, list(values),
                                        list(values.values()))

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
        self.scalars(0, {f"final/{tag}": value for tag, value in metrics.items()
                         if isinstance(value, (int, float)) and math.isfinite(value)})

    def close(self):
        for writer in self._writers.values():
            writer.flush()
            writer.close()
        self._writers = {}


_SCALAR_WRITERS: dict = {}


def _scalar_writer(n: int):
    """A function writing ``n`` scalars at one step into the summary writer whose resource
    it is given: the events ``tf.summary.scalar`` writes (same tag, float32 tensor and
    scalars-plugin metadata; tested), traced once per ``n`` and shared by every run's
    writer. Eager ``tf.summary.scalar`` costs ~0.6 ms a value on the 2-core machine (mostly
    Python), a row of 8 through this ~0.8 ms in all."""
    if n not in _SCALAR_WRITERS:
        import tensorflow as tf
        from tensorboard.plugins.scalar import metadata

        meta = metadata.create_summary_metadata(display_name=None, description=None)
        serialized = meta.SerializeToString()

        def write(writer, step, tags, values):
            for i in range(n):
                tf.raw_ops.WriteSummary(writer=writer, step=step, tensor=values[i],
                                        tag=tags[i], summary_metadata=serialized)

        _SCALAR_WRITERS[n] = tf.function(write, autograph=False, input_signature=[
            tf.TensorSpec([], tf.resource), tf.TensorSpec([], tf.int64),
            tf.TensorSpec([n], tf.string), tf.TensorSpec([n], tf.float32)])
    return _SCALAR_WRITERS[n]


def run_logdir(sweep_dir, label: str, run_dir) -> Path:
    """``<sweep folder>/tensorboard/<label>``: TensorBoard lists a run by its folder path
    under ``--logdir``, so runs appear under their labels (the values a sweep varied). The
    folder names its run in ``run.txt`` (written with the first event); a label another run
    already holds gets the run folder's hash appended."""
    name = label.replace("/", "|").strip() or Path(run_dir).name
    path = Path(sweep_dir) / "tensorboard" / name
    owner = path / "run.txt"
    if owner.exists() and owner.read_text(encoding="utf-8").strip() != str(run_dir):
        path = path.with_name(f"{name} #{Path(run_dir).name.rsplit('_', 1)[-1]}")
    return path


class TensorBoardScalars(keras.callbacks.Callback):
    """Each epoch's row (``logs``, as ``dlkit.training.callbacks.EpochSummary`` leaves it)
    into ``log``. At the start of training the event folder is rebuilt from ``rows`` (the
    epochs a resumed run already has), so no epoch is logged twice."""

    def __init__(self, log: TensorBoardLog, rows: list[dict]):
        super().__init__()
        self.log, self.rows = log, rows

    def replay(self) -> None:
        self.log.close()
        for events in self.log.logdir.glob("events.out.tfevents.*"):
            events.unlink()
        for row in self.rows:
            self.log.history_row(row)

    def on_train_begin(self, logs=None):
        self.replay()

    def on_epoch_end(self, epoch, logs=None):
        self.log.history_row(logs)


def write_experiment(sweep_dir) -> Path | None:
    """The HParams columns of a sweep folder: the defining keys that vary across its runs
    (each with its values) and every final metric, written as the experiment summary of
    ``<sweep folder>/tensorboard``. The HParams dashboard then shows exactly these columns;
    without it, it guesses them from the sessions and may leave a varying key unticked."""
    import json

    from experiments import spec

    tf = _tf()
    if tf is None:
        return None
    from tensorboard.plugins.hparams import api as hp

    configs, metrics = [], set()
    for file in sorted(Path(sweep_dir).glob("*/result.json")):
        try:
            result = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        configs.append(spec.flat(spec.defining(result.get("config") or {})))
        metrics |= {k for k, v in (result.get("metrics") or {}).items()
                    if isinstance(v, (int, float))}
    if not configs:
        return None
    columns = []
    for key in sorted({k for c in configs for k in c}):
        values = {c.get(key) for c in configs}
        if len(values) < 2 or not all(isinstance(v, (bool, int, float, str)) for v in values):
            continue
        kinds = {type(v) for v in values}
        domain = hp.Discrete(sorted(values)) if len(kinds) == 1 else None
        columns.append(hp.HParam(key, domain))
    root = Path(sweep_dir) / "tensorboard"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("events.out.tfevents.*"):
        old.unlink()
    writer = tf.summary.create_file_writer(str(root))
    with writer.as_default():
        hp.hparams_config(hparams=columns, metrics=[
            hp.Metric(f"final/{m}", display_name=m) for m in sorted(metrics)]
            + [hp.Metric("loss/validation", display_name="validation loss (per epoch)")])
    writer.close()
    return root
