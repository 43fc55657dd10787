"""LeNet-5 as published (LeCun, Bottou, Bengio & Haffner 1998, section II.B)."""

from __future__ import annotations

import keras
from keras import layers

from dlkit import layers as dl
from dlkit.models._registry import REGISTRY, check_output_activation, require_image


@REGISTRY.register("lenet5", fixed_activation="scaled_tanh")
def lenet5(input_shape=(32, 32, 1), num_classes=10, activation=None, output_activation="softmax",
           seed=0):
    """C1 (6@28x28, 5x5) → S2 (trainable subsampling) → C3 (16@10x10, Table I connections) →
    S4 → C5 (120, 5x5) → F6 (84) → OUTPUT (Euclidean RBF units).

    Every hidden unit uses the paper's scaled tanh ``1.7159 tanh(2a/3)``; ``activation`` is
    ignored (the architecture fixes it). OUTPUT gives RBF distances negated as logits; with
    ``output_activation="softmax"`` a parameter-free softmax follows, so the network trains
    with cross entropy instead of the paper's MAP criterion.
    """
    require_image(input_shape, "lenet5", min_size=32)
    check_output_activation(output_activation)
    squash = dl.scaled_tanh
    inputs = keras.Input(input_shape, name="inputs")
    x = dl.Conv2D(6, 5, activation=squash, name="C1")(inputs)
    x = dl.Subsampling(2, activation=squash, name="S2")(x)
    x = dl.PartialConv2D(5, activation=squash, name="C3")(x)
    x = dl.Subsampling(2, activation=squash, name="S4")(x)
    x = dl.Conv2D(120, 5, activation=squash, name="C5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation=squash, name="F6")(x)
    x = dl.RBF(num_classes, mode="logits", seed=seed, name="OUTPUT")(x)
    if output_activation != "linear":
        x = layers.Activation(output_activation, name="probabilities")(x)
    return keras.Model(inputs, x, name="lenet5")
