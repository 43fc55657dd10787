"""One run from a resolved configuration: check it, build everything through the dlkit
registries, train with ``dlkit.training.loop``, and write the run folder."""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from dlkit.training.files import atomic_write_json, atomic_write_text, read_json
from dlkit.training.identity import file_fingerprint, identity_mismatch, run_id
from experiments import spec

ACCEPTED_BATCH = "a positive int or 'full'"


class RunSpecError(ValueError):
    """The configuration cannot run; raised before any training or result file."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a run: its folder keeps its last checkpoint, no temporary
    file and no result, so the same command resumes it. ``str()`` says which run and where."""

    def __init__(self, run_dir: Path, epoch: int):
        super().__init__(f"{run_dir} at epoch {epoch} (its last checkpoint)" if epoch
                         else f"{run_dir} before its first checkpoint")
        self.run_dir, self.epoch = run_dir, epoch


class RunFailed(RuntimeError):
    """A started run raised; its folder holds ``traceback.txt`` and a ``failed`` result."""

    def __init__(self, message: str, run_dir=None):
        super().__init__(message)
        self.run_dir = run_dir


def _positive_int(value, key):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RunSpecError(f"{key}={value!r} is not accepted: it must be a positive int")
    return value


# Keys of a composed configuration that describe a preset, not a run: its claims and its
# sizes table (the chosen size is already resolved into the run's own keys).
NOT_RUN_KEYS = ("claims", "sizes", "scale")


def resolve(cfg: dict) -> dict:
    """Fill in what the configuration leaves to the suite: ``dataset=natural`` becomes the
    loss's natural dataset (digits or diabetes) and ``trainer.lr_scale`` multiplies the
    optimizer's learning rate. The preset-only keys (``NOT_RUN_KEYS``) are dropped, so they
    neither reach the run folder nor change its identity."""
    cfg = {k: v for k, v in cfg.items() if k not in NOT_RUN_KEYS}
    if cfg["dataset"]["name"] == "natural":
        from dlkit import data

        cfg["dataset"] = {"name": data.natural_for(cfg["loss"]["task"])}
    scale = cfg["trainer"].get("lr_scale", 1.0)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0:
        raise RunSpecError(f"trainer.lr_scale={scale!r} is not accepted: it must be a "
                           "positive number")
    if scale != 1.0:
        cfg["optimizer"] = {**cfg["optimizer"],
                            "learning_rate": cfg["optimizer"]["learning_rate"] * scale}
    if _fixed_activation(cfg["model"].get("name")):
        cfg.pop("activation", None)  # the model ignores it: not part of what the run used
    cfg["loss"] = _paired_loss(cfg["loss"], cfg["dataset"]["name"])
    cfg["schedule"] = _own_schedule_keys(cfg["schedule"])
    return cfg


def _own_schedule_keys(schedule: dict) -> dict:
    """A preset may set a key of one schedule for a sweep over several (``step_epochs`` for
    ``step``, while ``cosine`` runs too): keys of other schedule options are dropped, so they
    neither define nor reach a run that ignores them. Keys no schedule has stay, and
    ``check`` refuses them."""
    from dlkit import schedules
    from dlkit.registry import accepted_arguments

    if schedule.get("name") not in schedules.REGISTRY:
        return schedule
    own = accepted_arguments(schedules.REGISTRY.lookup(schedule["name"])) or set()
    others = spec.group_keys("schedule") - own - {"name"}
    return {k: v for k, v in schedule.items() if k not in others}


def run_folder(cfg: dict) -> Path:
    """``<results_dir>/<name>/<model>_<loss>_<optimizer>_s<seed>_<hash>`` of a resolved
    configuration, the hash over its defining keys (``experiments.spec.defining``)."""
    return Path(cfg["results_dir"]) / cfg["name"] / run_id(spec.defining(cfg),
                                                           spec.run_name(cfg))


def _fixed_activation(model: str | None) -> str | None:
    """The activation a model's design fixes (its registry fact), so ``activation=``
    neither reaches nor defines its runs; ``None`` for the other models and unknown names
    (``check`` refuses those)."""
    from dlkit import models

    if model not in models.REGISTRY:
        return None
    return models.REGISTRY.facts(model)["fixed_activation"]


def _paired_loss(loss: dict, dataset: str) -> dict:
    """The loss as the run uses it: on a dataset of its own task unchanged; on the other
    task (MSE on classification) with that task's output activation and label format, so
    ``config.yaml`` and the HParams say softmax and one-hot, not linear and dense."""
    from dlkit import data

    task = data.task_of(dataset) if dataset in data.REGISTRY else None
    also = loss.get("also") or {}
    out = {k: v for k, v in loss.items() if k != "also"}
    if task is not None and task != loss.get("task") and task in also:
        out.update(task=task, output_activation=also[task]["output_activation"],
                   labels=also[task]["labels"])
    elif task is not None and task != loss.get("task") and also:
        out["also"] = also  # kept for check() to name the datasets that fit
    return out


def check(cfg: dict) -> None:
    """Reject what cannot run, naming the bad value and what is accepted."""
    from dlkit import data
    from experiments import devices

    if cfg.get("source", "train") != "train":
        raise RunSpecError(f"experiment={cfg.get('name')} holds claims about optimizer paths, "
                           "not a training run; run them with python -m experiments.claims")
    trainer = cfg["trainer"]
    _known_keys(cfg)
    problem = spec.values_problem(cfg)
    if problem:
        raise RunSpecError(problem)
    for key in BOOL_KEYS:
        if not isinstance(trainer.get(key, False), bool):
            raise RunSpecError(f"trainer.{key}={trainer[key]!r} is not accepted: use true or "
                               "false")
    if trainer.get("jit_compile", "auto") not in ("auto", True, False):
        raise RunSpecError(f"trainer.jit_compile={trainer['jit_compile']!r} is not accepted: "
                           "use auto, true or false")
    if trainer.get("jit_compile") is True and trainer.get("deterministic") and \
            cfg.get("backend", "tensorflow") == "tensorflow":
        raise RunSpecError("trainer.jit_compile=true needs trainer.deterministic=false under "
                           "TensorFlow: Keras turns XLA off while TensorFlow's deterministic "
                           "kernels are on (backend=jax compiles with XLA and stays "
                           "deterministic on a CPU)")
    steps_per_execution(trainer, cfg.get("backend", "tensorflow"))
    try:
        devices.check(trainer)
    except ValueError as err:
        raise RunSpecError(str(err)) from None
    _positive_int(trainer["epochs"], "trainer.epochs")
    rate = cfg["optimizer"].get("learning_rate")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < math.inf:
        raise RunSpecError(f"optimizer.learning_rate={rate!r} is not accepted: the "
                           "learning_rate must be a positive finite number")
    batch = trainer["batch_size"]
    if batch != "full":
        if isinstance(batch, str) and batch.strip().lstrip("-").isdigit():
            batch = int(batch)
        if isinstance(batch, bool) or not isinstance(batch, int) or batch <= 0:
            raise RunSpecError(f"trainer.batch_size={batch!r} is not accepted: it must be "
                               f"{ACCEPTED_BATCH}")
    _constructor_arguments(cfg)
    dataset = cfg["dataset"]["name"]
    task = data.task_of(dataset) if dataset in data.REGISTRY else None
    loss = cfg["loss"]
    if task is not None and loss["task"] != task and task not in (loss.get("also") or {}):
        fits = ", ".join(data.datasets_for(loss["task"]))
        raise RunSpecError(
            f"loss={loss['name']} is a {loss['task']} loss but dataset={dataset} is a {task} "
            f"dataset; datasets that fit: {fits}")


# Keys of a loss option that say how it pairs with an output layer and labels; the rest are
# the loss's constructor arguments.
LOSS_PAIRING_KEYS = ("name", "task", "output_activation", "labels", "also")


def arguments(group: str, node: dict) -> dict:
    """The constructor arguments in config group ``group``'s node (one instantiation
    convention for every group: ``name`` picks the registry entry, the other keys are its
    arguments; a loss's pairing keys are not)."""
    skip = LOSS_PAIRING_KEYS if group == "loss" else ("name",)
    return {k: v for k, v in node.items() if k not in skip}


def _constructor_arguments(cfg: dict) -> None:
    """Every group's arguments against its registry entry's signature, before anything is
    built (so a constructor's own TypeError is never the user's fault)."""
    from dlkit import data, losses, models, optimizers, schedules
    from dlkit.errors import ConfigError

    supplied = {"model": ("input_shape", "num_classes", "output_activation", "activation"),
                "optimizer": ("track_diagnostics", "name"), "dataset": ("seed",),
                "schedule": ("learning_rate", "steps_per_epoch", "epochs")}
    for group, registry in (("optimizer", optimizers.REGISTRY), ("loss", losses.REGISTRY),
                            ("model", models.REGISTRY), ("dataset", data.REGISTRY),
                            ("schedule", schedules.REGISTRY)):
        try:
            registry.check_arguments(cfg[group]["name"], arguments(group, cfg[group]),
                                     skip=supplied.get(group, ()))
        except ConfigError as err:
            raise RunSpecError(str(err)) from None


BOOL_KEYS = ("resume", "diagnostics", "deterministic", "distribute", "verbose", "log_steps")


def _known_keys(cfg: dict) -> None:
    """Refuse keys the suite does not know, also when added with ``+`` (Hydra's own advice
    for a misspelt key): top-level keys, the trainer's, and those of loss, schedule and
    activation (optimizer, loss, model and dataset keys meet their constructors'
    signatures in ``_constructor_arguments``)."""
    from experiments import spec

    known = spec.run_keys()
    for key in cfg:
        if key not in known:
            raise RunSpecError(f"{key}={cfg[key]!r} is not a setting of the suite; top-level "
                               f"settings: {', '.join(sorted(known - {'source'}))}"
                               + spec.did_you_mean(key, known))
    for group in ("trainer", "schedule", "activation"):
        for key in cfg.get(group) or {}:
            problem = spec.unknown_key(group, key)
            if problem:
                raise RunSpecError(problem)


def loss_pairing(loss_cfg: dict, task: str) -> tuple[str, str]:
    """(output activation, label format) of a loss on a task: its own, or an ``also`` entry."""
    if loss_cfg["task"] != task:
        other = loss_cfg["also"][task]
        return other["output_activation"], other["labels"]
    return loss_cfg["output_activation"], loss_cfg["labels"]


# ``trainer.steps_per_execution=auto``: training steps per call into the compiled program
# when no per-step loss is logged. The numbers are the same at any value; the speed at 32 is
# what ``benchmarks.sweeps`` (way ``basic`` against ``basic-1step``) and
# ``benchmarks.run_breakdown`` measure
AUTO_STEPS_PER_EXECUTION = 32


def steps_per_execution(trainer: dict, backend: str) -> int:
    """Keras's ``steps_per_execution`` for the run: ``auto`` is
    ``AUTO_STEPS_PER_EXECUTION``, or 1 with ``trainer.log_steps`` (``steps.csv`` needs
    Keras to report after every step) or under PyTorch (whose Keras trainer runs one step
    per call); a positive int is taken as it is."""
    value = trainer.get("steps_per_execution", "auto")
    log_steps = trainer.get("log_steps", False) is True
    if value == "auto":
        return 1 if log_steps or backend == "torch" else AUTO_STEPS_PER_EXECUTION
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RunSpecError(f"trainer.steps_per_execution={value!r} is not accepted: use auto "
                           "or a positive int")
    if log_steps and value > 1:
        raise RunSpecError(f"trainer.steps_per_execution={value} with trainer.log_steps=true "
                           "is not accepted: steps.csv needs every step's loss; use auto or 1")
    if backend == "torch" and value > 1:
        raise RunSpecError(f"trainer.steps_per_execution={value} with backend=torch is not "
                           "accepted: Keras's PyTorch trainer runs one step per call; use "
                           "auto or 1")
    return value


def batch_size(trainer: dict, n_train: int) -> int:
    value = trainer["batch_size"]
    return n_train if value == "full" else int(value)


def _labels(y, labels, num_classes):
    import keras

    if labels == "onehot":
        return keras.utils.to_categorical(y, num_classes).astype("float32")
    return y


def _metrics(task, labels):
    import keras

    if task == "classification":
        if labels == "onehot":
            return [keras.metrics.CategoricalAccuracy(name="accuracy")]
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    return [keras.metrics.MeanAbsoluteError(name="mae"), keras.metrics.MeanSquaredError(name="mse"),
            keras.metrics.MeanAbsolutePercentageError(name="mape")]


def model_from_config(cfg: dict, input_shape, outputs: int, output_activation: str):
    """The configured network (``model.*`` keys as builder arguments, ``activation`` when
    the model takes one): the one place a model is built from a configuration, for
    ``experiments.run`` and ``experiments.complexity`` alike."""
    from dlkit import models

    hidden = {"activation": cfg["activation"]["name"]} if "activation" in cfg else {}
    return models.get(cfg["model"]["name"], tuple(input_shape), int(outputs), **hidden,
                      output_activation=output_activation, **arguments("model", cfg["model"]))


def build(cfg: dict, dataset):
    """Model compiled with the configured loss, optimizer and schedule."""
    import keras

    from dlkit import losses, optimizers, schedules

    loss_cfg, opt_cfg = cfg["loss"], cfg["optimizer"]
    output_activation, labels = loss_pairing(loss_cfg, dataset.task)
    model = model_from_config(cfg, dataset.input_shape, dataset.output_size,
                              output_activation)
    steps = -(-len(dataset.x_train) // batch_size(cfg["trainer"], len(dataset.x_train)))
    lr = schedules.build(cfg["schedule"]["name"], opt_cfg["learning_rate"], steps,
                         cfg["trainer"]["epochs"], **arguments("schedule", cfg["schedule"]))
    optimizer = optimizers.get(opt_cfg["name"], **{**arguments("optimizer", opt_cfg),
                                                   "learning_rate": lr},
                               track_diagnostics=bool(cfg["trainer"]["diagnostics"]))
    loss = losses.get(loss_cfg["name"], **arguments("loss", loss_cfg))
    model.compile(optimizer=optimizer, loss=loss,
                  metrics=_metrics(dataset.task, labels),
                  jit_compile=cfg["trainer"].get("jit_compile", "auto"),
                  steps_per_execution=steps_per_execution(cfg["trainer"],
                                                            keras.backend.backend()))
    return model


def _hparams(cfg: dict) -> dict:
    """The HParams of a run: its defining configuration, flat (``experiments.spec``)."""
    return {k: v for k, v in spec.flat(spec.defining(cfg)).items()
            if isinstance(v, (bool, int, float, str))}


def _determinism(cfg: dict) -> None:
    """Seed every generator; with ``trainer.deterministic`` also make TensorFlow's kernels
    deterministic (JAX and PyTorch on CPU already are)."""
    import keras

    # a fresh Keras state per run: in a sweep or the claims protocol many runs share one
    # process, and without this each run's graphs and layers stay in memory. Without the
    # full garbage collection Keras adds by default (0.35 s per run in a long-lived
    # process): Python's own collector frees the earlier runs' objects.
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(cfg["seed"])
    if cfg["trainer"].get("deterministic") and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def prepare(cfg: dict, run_dir: Path, callbacks=(), identity: dict | None = None):
    """Everything before training: data, model, resume point. ``callbacks`` (Keras
    callbacks: TensorBoard, progress, a test's fault) go to the loop; ``identity`` (the
    run's, ``run_identity``) goes into its state and checkpoints, and resume verifies it.

    Returns ``(dataset, labels, loop)``. A setting the library refuses (its ``ConfigError``)
    or a damaged checkpoint is ``RunSpecError`` (bad input); anything else is a bug or a
    failing run and propagates as it is.
    """
    from dlkit import schedules
    from dlkit.errors import ConfigError
    from dlkit.training.loop import CheckpointError, EpochLoop
    from experiments import devices

    trainer = cfg["trainer"]
    try:
        devices.configure(trainer)
        _determinism(cfg)
        dataset = _load(cfg)
        with devices.distribution(trainer):
            model = build(cfg, dataset)
    except ConfigError as err:
        raise RunSpecError(str(err)) from None
    labels = loss_pairing(cfg["loss"], dataset.task)[1]
    ys = [_labels(y, labels, dataset.num_classes)
          for y in (dataset.y_train, dataset.y_val, dataset.y_test)]
    plateau = (schedules.Plateau(**arguments("schedule", cfg["schedule"]))
               if cfg["schedule"]["name"] == "plateau" else None)
    loop = EpochLoop(model, (dataset.x_train, ys[0], dataset.x_val, ys[1]),
                     trainer["epochs"], batch_size(trainer, len(dataset.x_train)), cfg["seed"],
                     run_dir, plateau=plateau, diagnostics=bool(trainer["diagnostics"]),
                     log_steps=bool(trainer.get("log_steps", False)), callbacks=callbacks,
                     identity=identity)
    if trainer["resume"]:
        try:
            loop.resume()
        except CheckpointError as err:
            raise RunSpecError(str(err)) from None
    return dataset, ys, loop


def _load(cfg: dict):
    """The run's dataset, checked for what would make a run that trains but means nothing.
    A split the settings leave too small for scikit-learn's splitting (its ``ValueError``)
    is the user's mistake: one line."""
    from dlkit import data
    from dlkit.errors import ConfigError

    settings = arguments("dataset", cfg["dataset"])
    try:
        dataset = data.load(cfg["dataset"]["name"], seed=cfg["seed"], **settings)
    except ConfigError:
        raise
    except ValueError as err:
        frames = traceback.extract_tb(err.__traceback__)
        if not frames or "sklearn" not in frames[-1].filename:
            raise
        shown = ", ".join(f"dataset.{k}={v}" for k, v in settings.items()
                          if k in ("subset", "val_fraction", "test_fraction") and v is not None)
        raise RunSpecError(f"dataset={cfg['dataset']['name']}{' with ' + shown if shown else ''}"
                           f" cannot be split into train, validation and test sets ({err}); "
                           "use a larger dataset.subset or larger fractions") from None
    _check_splits(dataset, cfg)
    return dataset


def _check_splits(dataset, cfg: dict) -> None:
    """Every split holds examples of the training set's shape, and a classification
    dataset has at least two classes to tell apart (one class trains to 100% accuracy)."""
    import numpy as np

    where = (f"dataset.path {cfg['dataset']['path']!r}" if cfg["dataset"].get("path")
             else f"dataset={dataset.name}")
    splits = {"train": (dataset.x_train, dataset.y_train), "val": (dataset.x_val, dataset.y_val),
              "test": (dataset.x_test, dataset.y_test)}
    for split, (x, _) in splits.items():
        if len(x) == 0:
            raise RunSpecError(f"{where}: the {split} split is empty; use a larger "
                               "dataset.subset or larger fractions")
        if x.shape[1:] != dataset.x_train.shape[1:]:
            raise RunSpecError(f"{where}: x_{split} holds examples of shape {x.shape[1:]}, "
                               f"the training set {dataset.x_train.shape[1:]}; every split "
                               "needs the same shape")
    if dataset.task == "classification":
        classes = np.unique(dataset.y_train)
        if len(classes) < 2:
            raise RunSpecError(f"{where}: the training set holds one class "
                               f"({classes.tolist()}); classification needs at least two")


def _evaluate(model, dataset, ys) -> dict:
    from dlkit.training.loop import EVAL_BATCH

    metrics = {}
    for split, x, y in (("train", dataset.x_train, ys[0]), ("val", dataset.x_val, ys[1]),
                        ("test", dataset.x_test, ys[2])):
        values = model.evaluate(x, y, verbose=0, return_dict=True,
                                batch_size=min(EVAL_BATCH, len(x)))
        metrics.update({f"{split}_{k}": float(v) for k, v in values.items()})
    return metrics


def chance_warnings(metrics: dict, dataset) -> list[str]:
    """A completed classifier whose validation accuracy cannot be told from chance level
    (1/classes, within two binomial standard errors on the validation split) learned
    nothing, though its loss stayed finite: say so."""
    acc = metrics.get("val_accuracy")
    if dataset.task != "classification" or acc is None or dataset.num_classes < 2:
        return []
    chance = 1.0 / dataset.num_classes
    n = max(len(dataset.x_val), 1)
    if acc > chance + 2.0 * math.sqrt(chance * (1.0 - chance) / n):
        return []
    return [f"validation accuracy {acc:.3f} is at chance level ({chance:.3f} for "
            f"{dataset.num_classes} classes): the run completed but learned nothing; a "
            "smaller learning rate or another initialization may help"]


FINISHED = ("completed", "diverged")  # outcomes a re-run would only repeat


def run_identity(cfg: dict, run_dir: Path) -> dict:
    """What ties a run's files to it: its run id (the folder name, a hash of its defining
    configuration) and, for a dataset read from ``dataset.path``, a fingerprint of that
    file's content (the path alone does not say the file is unchanged)."""
    identity = {"run_id": run_dir.name}
    path = (cfg.get("dataset") or {}).get("path")
    if path:
        try:
            identity["dataset_sha256"] = file_fingerprint(path)
        except OSError:
            pass  # a missing or unreadable file: the dataset loader names it
    return identity


def _previous(result_path: Path, identity: dict) -> dict | None:
    """The run's earlier ``result.json``; a damaged one, or one that is not this run's (a
    copy from another run folder, or a result made from another dataset file), is bad
    input (one line)."""
    if not result_path.exists():
        return None
    try:
        previous = read_json(result_path)
        if not isinstance(previous, dict) or "status" not in previous:
            raise ValueError("no status")
    except (OSError, ValueError) as err:
        raise RunSpecError(f"{result_path} is damaged ({type(err).__name__}); delete it or "
                           "pass trainer.resume=false to train the run again") from None
    # a result written before identities were recorded carries its run id only
    found = previous.get("identity") or {"run_id": previous.get("run_id")}
    differs = identity_mismatch(identity, found)
    if differs:
        raise RunSpecError(f"{result_path} is not this run's: {differs}; delete it or pass "
                           "trainer.resume=false to train the run again")
    return previous


def _make_folder(run_dir: Path) -> list[Path]:
    """Make the run folder; return the folders made here (deepest last). A folder that
    cannot be made is bad input (one line), not a traceback."""
    made, folder = [], run_dir
    while not folder.exists() and folder != folder.parent:
        made.insert(0, folder)
        folder = folder.parent
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunSpecError(f"results_dir: the run folder {run_dir} cannot be made "
                           f"({err.strerror or err}); give a results_dir you can write") from None
    return made


def _remove_made(made: list[Path]) -> None:
    """Undo ``_make_folder`` for a refused run: its folders go if they hold nothing but the
    lock file (a folder another process has put files in stays)."""
    for folder in reversed(made):
        (folder / ".lock").unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            return


@contextmanager
def run_lock(run_dir: Path):
    """One process at a time per run folder (``filelock``, an OS lock on ``.lock`` in the
    folder): a second sweep on the same results folder waits here, then finds the run
    finished and skips it (no run trained twice, no TensorBoard step written twice). A run
    refused as bad input after its folder was made here leaves no folder behind."""
    from filelock import FileLock, Timeout

    made = _make_folder(run_dir)
    lock = FileLock(run_dir / ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for {run_dir}: another process is training it", flush=True)
        lock.acquire()
    refused = False
    try:
        yield
    except RunSpecError:
        refused = True
        raise
    finally:
        lock.release()
        if refused and made:
            _remove_made(made)


def execute(cfg: dict, verbose: bool = True, overrides=(), callbacks=()) -> dict:
    """Run one configuration; return its ``result.json`` content. ``overrides`` (the
    command-line or sweep values that made it) name the run in TensorBoard; ``callbacks``
    are extra Keras callbacks (tests pass faults here)."""
    cfg = resolve(cfg)
    check(cfg)
    run_dir = run_folder(cfg)
    with run_lock(run_dir):
        try:
            return _execute(cfg, run_dir, verbose, spec.label(overrides, cfg),
                            list(callbacks))
        except RunInterrupted:
            raise
        except KeyboardInterrupt:
            _remove_temporaries(run_dir)
            raise RunInterrupted(run_dir, _saved_epoch(run_dir)) from None


def _remove_temporaries(run_dir: Path) -> None:
    """Temporary files of writes cut short (a kill, Ctrl-C); the caller holds the lock."""
    for stale in (*run_dir.glob(".*.tmp"), *run_dir.glob("checkpoints/.*.tmp"),
                  *run_dir.glob(".model.*.tmp.keras")):
        stale.unlink(missing_ok=True)


def _saved_epoch(run_dir: Path) -> int:
    """The epoch of the run folder's last checkpoint (0 when it has none)."""
    try:
        return int(read_json(run_dir / "state.json")["epoch"])
    except (OSError, ValueError, TypeError, KeyError):
        return 0


@dataclass
class Job:
    """A started run: its folder prepared, its loop ready to train (alone, or packed with
    others by ``experiments.packing``)."""

    cfg: dict
    run_dir: Path
    verbose: bool
    base: dict
    t0: float
    loop: object = None
    dataset: object = None
    ys: list = None
    tensorboard: object = None

    @property
    def result_path(self) -> Path:
        return self.run_dir / "result.json"


def start(cfg: dict, run_dir: Path, verbose: bool, label: str, callbacks: list):
    """Everything before training: the earlier result of a finished run (returned as it
    is: nothing to train), or a started ``Job`` (folder cleaned or resumed, data, model,
    TensorBoard log, ``config.yaml``). A failure while starting is the run's failure."""
    from dlkit.training import environment
    from dlkit.training.callbacks import ConsoleProgress
    from experiments import faults
    from experiments.tensorboard_log import TensorBoardLog, TensorBoardScalars, run_logdir

    trainer = cfg["trainer"]
    identity = run_identity(cfg, run_dir)
    if trainer["resume"]:
        previous = _previous(run_dir / "result.json", identity)
        if previous is not None and previous.get("status") in FINISHED:
            if verbose:
                print(f"skipping {run_dir}{_shown_label(label, cfg)}: already "
                      f"{previous['status']} (trainer.resume=false trains it again)",
                      flush=True)
            return previous
    if not trainer["resume"]:
        for child in run_dir.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            elif child.name != ".lock":
                child.unlink()
    _remove_temporaries(run_dir)  # writes a kill cut short (this process holds the lock)
    base = {"run_id": run_dir.name, "identity": identity, "label": label, "seed": cfg["seed"],
            "config": cfg,
            "versions": environment.versions(), "hardware": environment.hardware()}
    job = Job(cfg, run_dir, verbose, base, time.perf_counter())
    try:
        job.dataset, job.ys, job.loop = prepare(cfg, run_dir, callbacks, identity)
        job.tensorboard = TensorBoardLog(run_logdir(run_dir.parent, label, run_dir), run_dir)
        base.update(data={"name": job.dataset.name, "task": job.dataset.task,
                          **job.dataset.sizes()},
                    params=int(job.loop.model.count_params()),
                    tensorboard=str(job.tensorboard.logdir))
        job.loop.callbacks += [TensorBoardScalars(job.tensorboard, job.loop.rows),
                               *([ConsoleProgress(trainer["epochs"])] if verbose else []),
                               *faults.callbacks()]  # last: the epoch's files all written
        run_dir.mkdir(parents=True, exist_ok=True)
        job.result_path.unlink(missing_ok=True)
        (run_dir / "traceback.txt").unlink(missing_ok=True)  # from an earlier, failed attempt
        atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
        if verbose and job.loop.start_epoch:
            print(f"resuming {run_dir}{_shown_label(label, cfg)} from epoch "
                  f"{job.loop.start_epoch}", flush=True)
    except RunSpecError:
        close(job)
        raise
    except Exception as err:
        fail(job, err)
    return job


def finish(job: Job, outcome, metrics: dict | None = None) -> dict:
    """After training: evaluation (``metrics`` when a packed run computed it already), the
    trained model, HParams and ``result.json``."""
    try:
        if outcome.status == "completed":
            if metrics is None:
                metrics = _evaluate(job.loop.model, job.dataset, job.ys)
            tmp = job.run_dir / f".model.{os.getpid()}.tmp.keras"
            try:  # the trained model, once: keras.saving.load_model reads it
                job.loop.model.save(tmp)
                os.replace(tmp, job.run_dir / "model.keras")
            finally:
                tmp.unlink(missing_ok=True)
        else:
            metrics = {}
        result = {**job.base, "status": outcome.status, "metrics": metrics,
                  "epochs_completed": outcome.epochs_completed,
                  "resumed_from_epoch": outcome.resumed_from,
                  "diverged_epoch": outcome.diverged_epoch,
                  "wall_time_s": time.perf_counter() - job.t0,
                  "warnings": chance_warnings(metrics, job.dataset)}
        job.tensorboard.hparams(_hparams(job.cfg), {**metrics, "epochs_completed":
                                                    outcome.epochs_completed},
                                job.base["label"])
    except Exception as err:
        fail(job, err)
    close(job)
    atomic_write_json(job.result_path, result)
    for warning in result.get("warnings") or []:
        print(f"warning: {job.run_dir.name}: {warning}", file=sys.stderr, flush=True)
    if job.verbose:
        shown = {k: round(v, 4) for k, v in result["metrics"].items() if k.startswith("test_")}
        extra = f" at epoch {result['diverged_epoch']}" if result["diverged_epoch"] else ""
        print(f"{result['status']}{extra}: {job.run_dir}"
              f"{_shown_label(job.base['label'], job.cfg)}  {shown}  "
              f"({result['wall_time_s']:.1f}s)", flush=True)
    return result


def _shown_label(label: str, cfg: dict) -> str:
    """`` (<the values that made the run>)`` beside its folder, when a sweep or the command
    line set any (five runs of a learning-rate sweep share a folder stem)."""
    return "" if not label or label == spec.run_name(cfg) else f" ({label})"


def close(job: Job) -> None:
    if job.tensorboard is not None:
        job.tensorboard.close()


def fail(job: Job, err: BaseException):
    """The run failed with ``err`` (raised inside an ``except`` block): ``traceback.txt``,
    a ``failed`` result, then ``RunFailed``."""
    close(job)
    job.run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(job.run_dir / "traceback.txt", traceback.format_exc())
    result = {**job.base, "status": "failed", "metrics": {},
              "epochs_completed": job.loop.epochs_done if job.loop else 0,
              "error": f"{type(err).__name__}: {err}",
              "wall_time_s": time.perf_counter() - job.t0}
    atomic_write_json(job.result_path, result)
    raise RunFailed(f"run {job.run_dir} failed: {type(err).__name__}: {err}",
                    job.run_dir) from err


def train(job: Job) -> dict:
    """Train a started job on its own, then finish it (a failure is ``RunFailed``)."""
    try:
        outcome = job.loop.run()
    except Exception as err:
        fail(job, err)
    return finish(job, outcome)


def _execute(cfg: dict, run_dir: Path, verbose: bool, label: str, callbacks: list) -> dict:
    job = start(cfg, run_dir, verbose, label, callbacks)
    if not isinstance(job, Job):
        return job  # finished earlier
    return train(job)
