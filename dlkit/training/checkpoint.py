"""Epoch checkpoints: every variable of the model (weights, batch-norm statistics and the
random-number state of dropout and other stochastic layers) and the optimizer's state in one
``.npz`` file, so a resumed run draws the same dropout masks as an uninterrupted one.

Written through the one atomic writer (temporary file, fsync, rename), so a checkpoint on
disk is always complete. A fraction of the cost of a full ``.keras`` file, which the run
writes once, at the end.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import keras
import numpy as np

from dlkit.training.files import atomic_write
from dlkit.training.identity import identity_mismatch


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or does not fit the model."""


def _optimizer(model):
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return optimizer


def save(path, model, values=None, identity: dict | None = None) -> None:
    """``model``'s variables (``model.variables`` order) and its optimizer's into ``path``;
    ``values``, when given, holds them as arrays already, as ``(model variables, optimizer
    variables)`` (a packed run, whose state was read for all its runs at once), and
    ``model`` is not read. ``identity`` (the run's, ``dlkit.training.identity``) is stored
    beside the arrays, for ``load`` to verify."""
    path = Path(path)
    if values is None:
        values = ([keras.ops.convert_to_numpy(v) for v in model.variables],
                  [keras.ops.convert_to_numpy(v) for v in _optimizer(model).variables])
    arrays = {f"variable_{i:04d}": a for i, a in enumerate(values[0])}
    arrays.update({f"optimizer_{i:04d}": a for i, a in enumerate(values[1])})
    if identity is not None:
        arrays["identity"] = np.array(json.dumps(identity, sort_keys=True))
    buffer = io.BytesIO()  # np.savez into a file makes many small writes: one is faster
    np.savez(buffer, **arrays)
    atomic_write(path, lambda handle: handle.write(buffer.getbuffer()))


def epoch_of(path) -> int | None:
    """The epoch of a checkpoint file named ``epoch_<N>.npz`` (any number of digits), or
    ``None`` for another name."""
    stem = Path(path).name
    if not (stem.startswith("epoch_") and stem.endswith(".npz")):
        return None
    digits = stem[len("epoch_"):-len(".npz")]
    return int(digits) if digits.isdigit() else None


def prune(folder, keep: int) -> None:
    """Remove all but the ``keep`` latest checkpoints of ``folder``, ordered by epoch number
    (as text, ``epoch_10000.npz`` would sort before ``epoch_9999.npz``)."""
    found = [(epoch_of(p), p) for p in Path(folder).glob("epoch_*.npz")]
    numbered = sorted((e, p) for e, p in found if e is not None)
    for _, old in numbered[:max(len(numbered) - keep, 0)]:
        old.unlink(missing_ok=True)


def read(path) -> dict:
    """The arrays of a checkpoint file; ``CheckpointError`` if it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be loaded ({err})") from None


def load(path, model, identity: dict | None = None) -> None:
    """Restore weights and optimizer state into a model built and compiled as when saved;
    with ``identity``, only from a checkpoint of that run (``CheckpointError`` otherwise)."""
    arrays = read(path)
    if identity is not None:
        try:
            found = json.loads(str(arrays["identity"])) if "identity" in arrays else None
        except ValueError:
            found = None
        differs = identity_mismatch(identity, found)
        if differs:
            raise CheckpointError(f"checkpoint {str(path)!r} is not this run's: {differs}")
    saved = [arrays[k] for k in sorted(arrays) if k.startswith("variable_")]
    state = [arrays[k] for k in sorted(arrays) if k.startswith("optimizer_")]
    variables = _optimizer(model).variables
    expected = [tuple(v.shape) for v in model.variables]
    if [tuple(w.shape) for w in saved] != expected or len(state) != len(variables):
        raise CheckpointError(f"checkpoint {str(path)!r} does not fit this model and optimizer")
    for variable, value in zip(model.variables, saved):
        variable.assign(value)
    for variable, value in zip(variables, state):
        variable.assign(value)
