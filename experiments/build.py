"""A run's pieces from a checked configuration (``experiments.spec.check``): its data, its
network compiled with its loss, optimizer and schedule, its labels and metrics, and the
epoch loop that trains them (``prepare``); the one instantiation convention of the config
groups (``arguments``). Light to import: Keras and the registries are imported by the
functions that build."""

from __future__ import annotations

from pathlib import Path

from experiments.spec import RunSpecError

# Keys of a loss option that say how it pairs with an output layer and labels; the rest are
# the loss's constructor arguments.
LOSS_PAIRING_KEYS = ("name", "task", "output_activation", "labels", "also")


def arguments(group: str, node: dict) -> dict:
    """The constructor arguments in config group ``group``'s node (one instantiation
    convention for every group: ``name`` picks the registry entry, the other keys are its
    arguments; a loss's pairing keys are not)."""
    skip = LOSS_PAIRING_KEYS if group == "loss" else ("name",)
    return {k: v for k, v in node.items() if k not in skip}


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


def compiled_model(cfg: dict, dataset):
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


def determinism(cfg: dict) -> None:
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
    run's, ``runfolder.identity``) goes into its state and checkpoints, and resume verifies it.

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
        determinism(cfg)
        dataset = load_dataset(cfg)
        with devices.distribution(trainer):
            model = compiled_model(cfg, dataset)
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
                     identity=identity, full_loss_every=trainer.get("full_loss_every", 0),
                     full_loss_examples=trainer.get("full_loss_examples", 256))
    if trainer["resume"]:
        try:
            loop.resume()
        except CheckpointError as err:
            raise RunSpecError(str(err)) from None
    return dataset, ys, loop


def load_dataset(cfg: dict):
    """The run's dataset (a split the settings leave empty or too small is the library's
    ``ConfigError``), checked for what would make a run that trains but means nothing."""
    from dlkit import data

    dataset = data.load(cfg["dataset"]["name"], seed=cfg["seed"],
                        **arguments("dataset", cfg["dataset"]))
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
        if x.shape[1:] != dataset.x_train.shape[1:]:
            raise RunSpecError(f"{where}: x_{split} holds examples of shape {x.shape[1:]}, "
                               f"the training set {dataset.x_train.shape[1:]}; every split "
                               "needs the same shape")
    if dataset.task == "classification":
        classes = np.unique(dataset.y_train)
        if len(classes) < 2:
            raise RunSpecError(f"{where}: the training set holds one class "
                               f"({classes.tolist()}); classification needs at least two")


def evaluate(model, dataset, ys) -> dict:
    from dlkit.training.loop import EVAL_BATCH

    metrics = {}
    for split, x, y in (("train", dataset.x_train, ys[0]), ("val", dataset.x_val, ys[1]),
                        ("test", dataset.x_test, ys[2])):
        values = model.evaluate(x, y, verbose=0, return_dict=True,
                                batch_size=min(EVAL_BATCH, len(x)))
        metrics.update({f"{split}_{k}": float(v) for k, v in values.items()})
    return metrics

