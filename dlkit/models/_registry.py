"""The model registry and helpers shared by the builders."""

from __future__ import annotations

from keras import layers

from dlkit.errors import ConfigError
from dlkit.registry import Registry

# ``fixed_activation``: the hidden activation a model's design fixes (LeNet-5's scaled tanh,
# the recurrent cells' tanh), which the ``activation`` argument does not change.
REGISTRY = Registry("model", optional={"fixed_activation": None})

OUTPUT_ACTIVATIONS = ("softmax", "sigmoid", "linear")


def check_output_activation(output_activation: str) -> str:
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise ConfigError(
            f"output_activation must be one of {OUTPUT_ACTIVATIONS}, got {output_activation!r}")
    return output_activation


def require_image(input_shape, name: str, min_size: int = 1):
    """Check for an (H, W, C) input of at least ``min_size`` pixels a side."""
    if len(input_shape) != 3:
        raise ConfigError(f"{name} needs image inputs of shape (height, width, channels), "
                         f"got {input_shape}; use an image dataset")
    if min(input_shape[:2]) < min_size:
        raise ConfigError(f"{name} needs images of at least {min_size}x{min_size}, got "
                         f"{input_shape[0]}x{input_shape[1]}; set dataset.image_size={min_size} "
                         "or larger")


def head(x, num_classes: int, output_activation: str, name: str = "output",
         kernel_initializer="glorot_uniform"):
    """The output layer: ``Dense(num_classes, output_activation)``."""
    return layers.Dense(num_classes, activation=check_output_activation(output_activation),
                        kernel_initializer=kernel_initializer, name=name)(x)
