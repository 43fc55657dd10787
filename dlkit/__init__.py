"""dlkit: see and measure the fundamentals of deep learning with Keras 3.

The library is written with ``keras`` and ``keras.ops`` only, so it runs under the
TensorFlow, JAX and PyTorch backends of Keras 3. Submodules load on first use
(``dlkit.optimizers``, ``dlkit.models``, …), so tools that only read results
(``dlkit.analysis``) never start a Keras backend. Each module registers its losses,
optimizers and layers for Keras serialization when it loads; ``dlkit.load_model(path)``
loads all of them, then reads a ``.keras`` file with ``keras.saving.load_model``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("analysis", "complexity", "data", "errors", "layers", "losses", "models",
               "optimizers", "registry", "schedules", "testfunctions", "training")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"dlkit.{name}")
    raise AttributeError(f"module 'dlkit' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES])


def load_model(path, **kwargs):
    """``keras.saving.load_model(path, **kwargs)`` with every dlkit layer, loss and
    optimizer registered first."""
    import keras

    from dlkit import layers, losses, models, optimizers  # noqa: F401  (registers them)

    return keras.saving.load_model(path, **kwargs)
