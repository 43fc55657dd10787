"""Model builders: ``dlkit.models.get(name, input_shape, num_classes, **kwargs)``.

Every builder takes ``input_shape`` (without the batch axis), ``num_classes`` (the size of
the output layer; 1 for scalar regression), ``activation`` (the hidden activation, where the
architecture allows it) and ``output_activation`` (``softmax``, ``sigmoid`` or ``linear``),
and returns a built functional ``keras.Model``.
"""

from __future__ import annotations

import keras

from dlkit.errors import ConfigError
from dlkit.models import alexnet, basic, googlenet, lenet, recurrent, resnet  # noqa: F401
from dlkit.models._registry import REGISTRY


def get(name: str, input_shape, num_classes: int, **kwargs) -> keras.Model:
    """Build the model registered as ``name`` (``ValueError`` lists the names if unknown)."""
    builder = REGISTRY.lookup(name)
    shape = tuple(input_shape)
    if not shape or any(not isinstance(d, int) or d <= 0 for d in shape):
        raise ConfigError(f"input_shape must be positive ints, got {input_shape!r}")
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes <= 0:
        raise ConfigError(f"num_classes must be a positive int, got {num_classes!r}")
    return builder(shape, num_classes, **kwargs)


def names() -> list[str]:
    return REGISTRY.names()
