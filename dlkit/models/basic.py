"""Small models for the seed's experiments: an MLP, a small CNN, a 1-D CNN for sequences
and a modern LeNet-5."""

from __future__ import annotations

import keras
from keras import layers

from dlkit import layers as dl
from dlkit.errors import ConfigError
from dlkit.models._registry import REGISTRY, head, require_image


def _initializer(kernel_initializer, constant_value):
    if kernel_initializer == "constant":
        return keras.initializers.Constant(constant_value)
    try:
        return keras.initializers.get(kernel_initializer)
    except ValueError:
        raise ConfigError(f"model.kernel_initializer={kernel_initializer!r} is not accepted; "
                          "use a Keras initializer name (glorot_uniform, he_normal, "
                          "random_normal, zeros, …) or constant") from None


@REGISTRY.register("mlp")
def mlp(input_shape, num_classes, activation="relu", output_activation="softmax", depth=2,
        width=64, batchnorm=False, kernel_initializer="glorot_uniform", constant_value=0.05,
        dropout=0.0):
    """``depth`` hidden Dense layers of ``width`` units (``dense_1`` … ``dense_{depth}``).

    ``kernel_initializer="constant"`` gives every weight ``constant_value``, the output
    layer's included (the seed's identical-initialisation experiment: with every layer
    constant, the hidden units of a layer stay identical for ever); ``batchnorm`` adds
    BatchNormalization before each activation.
    """
    if not isinstance(depth, int) or depth < 0:
        raise ConfigError(f"depth must be a non-negative int, got {depth!r}")
    if not isinstance(width, int) or width <= 0:
        raise ConfigError(f"width must be a positive int, got {width!r}")
    inputs = keras.Input(input_shape, name="inputs")
    x = layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for i in range(1, depth + 1):
        x = layers.Dense(width, kernel_initializer=_initializer(kernel_initializer,
                                                                  constant_value),
                         name=f"dense_{i}")(x)
        if batchnorm:
            x = layers.BatchNormalization(name=f"bn_{i}")(x)
        x = layers.Activation(activation, name=f"act_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = head(x, num_classes, output_activation,
                   kernel_initializer=_initializer(kernel_initializer, constant_value)
                   if kernel_initializer == "constant" else "glorot_uniform")
    return keras.Model(inputs, outputs, name="mlp")


@REGISTRY.register("cnn")
def cnn(input_shape, num_classes, activation="relu", output_activation="softmax", filters=32,
        batchnorm=False, dense_units=128, pooling=True):
    """Two ``same`` 3x3 convolutions (``filters``, ``2·filters``), each followed by 2x2 max
    pooling, then a Dense layer of ``dense_units`` and the output. ``pooling=False`` leaves
    the pooling layers out (the feature maps keep the input's size: 16x the Dense layer's
    inputs), for the seed's question of what pooling does."""
    require_image(input_shape, "cnn", min_size=4)
    if not isinstance(pooling, bool):
        raise ConfigError(f"model.pooling={pooling!r} is not accepted: use true or false")
    inputs = keras.Input(input_shape, name="inputs")
    x = inputs
    for i, f in enumerate((filters, 2 * filters), start=1):
        x = dl.Conv2D(f, 3, padding="same", name=f"conv_{i}")(x)
        if batchnorm:
            x = layers.BatchNormalization(name=f"bn_{i}")(x)
        x = layers.Activation(activation, name=f"act_{i}")(x)
        if pooling:
            x = layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation=activation, name="dense")(x)
    return keras.Model(inputs, head(x, num_classes, output_activation), name="cnn")


@REGISTRY.register("cnn1d")
def cnn1d(input_shape, num_classes, activation="relu", output_activation="softmax",
          filters=25, pooling=False):
    """Three 1-D convolutions over a (timesteps, features) sequence, MNIST-1D's baseline
    CNN (Greydanus 2020): kernel 5 then 3 and 3, stride 2, one step of zero padding each
    side, ``filters`` channels, then the output layer on the flattened maps.
    ``pooling=True`` uses stride 1 and a 2-wide max pooling after each convolution instead
    (the same output length), for the pooling claims on sequences."""
    if len(input_shape) != 2:
        raise ConfigError(f"cnn1d needs sequence inputs of shape (timesteps, features), got "
                          f"{input_shape}; use dataset=mnist1d, digits_sequence or adding")
    if not isinstance(pooling, bool):
        raise ConfigError(f"model.pooling={pooling!r} is not accepted: use true or false")
    inputs = keras.Input(input_shape, name="inputs")
    x = inputs
    for i, kernel in enumerate((5, 3, 3), start=1):
        x = layers.ZeroPadding1D(1, name=f"pad_{i}")(x)
        x = layers.Conv1D(filters, kernel, strides=1 if pooling else 2, name=f"conv_{i}")(x)
        x = layers.Activation(activation, name=f"act_{i}")(x)
        if pooling:
            x = layers.MaxPooling1D(2, name=f"pool_{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, head(x, num_classes, output_activation), name="cnn1d")


@REGISTRY.register("lenet5_modern")
def lenet5_modern(input_shape, num_classes, activation="relu", output_activation="softmax"):
    """LeNet-5 as it is trained today: the first convolution padded by 2 (the seed's explicit
    padding form), max pooling, ReLU (or ``activation``), and a softmax output.

    On 28x28 inputs this is the usual 61,706-parameter network.
    """
    require_image(input_shape, "lenet5_modern", min_size=16)
    inputs = keras.Input(input_shape, name="inputs")
    x = dl.Conv2D(6, 5, padding=[[0, 0], [2, 2], [2, 2], [0, 0]], activation=activation,
                  name="C1")(inputs)
    x = layers.MaxPooling2D(2, name="S2")(x)
    x = dl.Conv2D(16, 5, activation=activation, name="C3")(x)
    x = layers.MaxPooling2D(2, name="S4")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation=activation, name="C5")(x)
    x = layers.Dense(84, activation=activation, name="F6")(x)
    return keras.Model(inputs, head(x, num_classes, output_activation, name="OUTPUT"),
                       name="lenet5_modern")
