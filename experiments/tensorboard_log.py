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


SPLITS = {"train_": "train", "val_": "validation", "test_": "test"}


def metric_tag(name: str) -> str | None:
    """The scalar tag of a final metric of ``result.json``: ``test_accuracy`` ->
    ``accuracy/test``, ``val_loss`` -> ``loss/validation``; None for a metric of no split."""
    for prefix, split in SPLITS.items():
        if name.startswith(prefix):
            return f"{name[len(prefix):]}/{split}"
    return None


class TensorBoardLog:
    """One event directory per run, ``<run folder>/tensorboard``, so TensorBoard lists each
    run once. A metric measured on both splits is logged as ``<metric>/train`` and
    ``<metric>/validation`` (``loss/train``, ``accuracy/validation``, …), which TensorBoard
    groups under the metric's name; ``learning_rate``, ``epoch_time_s`` and the optimizer
    diagnostics keep their names. The run's hyperparameters go to the same directory as an
    HParams session, whose metrics are the last point of each curve and the test split's
    ``<metric>/test``, logged once at the last epoch beside the curves of that metric (the
    HParams dashboard reads a session's metrics from scalar summaries only)."""

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
        """``tf.summary.scalar`` for each value (None and NaN left out), eagerly: a traced
        writer would be traced once per run (a summary op binds its writer when traced),
        which costs more than the few values of a row."""
        if not self.enabled:
            return
        values = {tag: float(value) for tag, value in values.items()
                  if value is not None and not (isinstance(value, float) and math.isnan(value))}
        if values:
            with self._writer().as_default(step=int(step)):
                for tag, value in values.items():
                    self.tf.summary.scalar(tag, value)

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
        """The HParams session of this run. Its metrics are scalars the run already has (the
        last epoch of ``<metric>/train`` and ``<metric>/validation``) and the test split's
        final metrics, logged as ``<metric>/test`` at the last epoch (``metrics``'
        ``epochs_completed``), so the scalars tab holds no one-point chart of a metric
        that has a curve."""
        if not self.enabled:
            return
        from tensorboard.plugins.hparams import api as hp

        with self._writer().as_default():
            hp.hparams(hparams, trial_id=trial_id)
        step = metrics.get("epochs_completed") or 0
        self.scalars(step, {metric_tag(name): value for name, value in metrics.items()
                            if name.startswith("test_") and isinstance(value, (int, float))
                            and math.isfinite(value)})

    def close(self):
        for writer in self._writers.values():
            writer.flush()
            writer.close()
        self._writers = {}


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
    from experiments import runfolder, spec

    tf = _tf()
    if tf is None:
        return None
    from tensorboard.plugins.hparams import api as hp

    configs, metrics = [], set()
    for file in sorted(Path(sweep_dir).glob("*/result.json")):
        result = runfolder.read_result(file.parent)[0]
        if result is None:
            continue  # damaged or of the wrong shape (the report lists it as unreadable)
        configs.append(spec.flat(spec.defining(result.get("config") or {})))
        metrics |= {k for k, v in (result.get("metrics") or {}).items()
                    if isinstance(v, (int, float)) and metric_tag(k)}
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
            hp.Metric(metric_tag(m), display_name=m.replace("_", " ", 1)
                      .replace("val ", "validation ", 1)) for m in _ordered(metrics)])
    writer.close()
    return root


def _ordered(metrics) -> list[str]:
    """Final metrics in the HParams table's order: test, then validation, then train."""
    rank = {"test_": 0, "val_": 1, "train_": 2}
    return sorted(metrics, key=lambda m: (rank[m[:m.index("_") + 1]], m))
