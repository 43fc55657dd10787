"""Epoch checkpoints: the model's weights and the optimizer's state in one ``.npz`` file.

Written to a temporary file and renamed, so a checkpoint on disk is always complete. A
fraction of the cost of a full ``.keras`` file, which the run writes once, at the end.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import keras
import numpy as np


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or does not fit the model."""


def _optimizer(model):
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return optimizer


def save(path, model) -> None:
    path = Path(path)
    arrays = {f"weight_{i:04d}": w for i, w in enumerate(model.get_weights())}
    for i, variable in enumerate(_optimizer(model).variables):
        arrays[f"optimizer_{i:04d}"] = keras.ops.convert_to_numpy(variable)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read(path) -> dict:
    """The arrays of a checkpoint file; ``CheckpointError`` if it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be loaded ({err})") from None


def load(path, model) -> None:
    """Restore weights and optimizer state into a model built and compiled as when saved."""
    arrays = read(path)
    weights = [arrays[k] for k in sorted(arrays) if k.startswith("weight_")]
    state = [arrays[k] for k in sorted(arrays) if k.startswith("optimizer_")]
    variables = _optimizer(model).variables
    expected = [tuple(w.shape) for w in model.get_weights()]
    if [tuple(w.shape) for w in weights] != expected or len(state) != len(variables):
        raise CheckpointError(f"checkpoint {str(path)!r} does not fit this model and optimizer")
    model.set_weights(weights)
    for variable, value in zip(variables, state):
        variable.assign(value)
