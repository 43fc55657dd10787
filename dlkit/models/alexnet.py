"""AlexNet (Krizhevsky, Sutskever & Hinton 2012), with a scaling for small images."""

from __future__ import annotations

import keras
from keras import layers

from dlkit import layers as dl
from dlkit.models._registry import REGISTRY, head, require_image


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


@REGISTRY.register("alexnet")
def alexnet(input_shape=(227, 227, 3), num_classes=1000, activation="relu",
            output_activation="softmax", width=1.0, groups=2, dropout=0.5, lrn=True):
    """The paper's network (figure 2), at 227x227x3 by default:

    conv1 96@11x11/4 → LRN → maxpool 3/2 → conv2 256@5x5 (2 groups) → LRN → maxpool →
    conv3 384@3x3 → conv4 384@3x3 (2 groups) → conv5 256@3x3 (2 groups) → maxpool →
    fc6 4096 → dropout → fc7 4096 → dropout → fc8 ``num_classes``.

    ``groups=2`` reproduces the two-GPU split of conv2, conv4 and conv5 (60,965,224
    parameters at 1000 classes); ``groups=1`` is the single-tower variant. ``width`` scales
    every channel and unit count. Inputs smaller than 64 pixels (e.g. 32x32 CIFAR or
    up-sampled digits) get a small-image stem: conv1 5x5 stride 1, all pools 3/2 ``same``.
    """
    require_image(input_shape, "alexnet", min_size=16)
    small = min(input_shape[:2]) < 64
    c = [_scaled(n, width) for n in (96, 256, 384, 384, 256)]
    fc = _scaled(4096, width)
    g = groups if all(n % groups == 0 for n in c) else 1
    pool_padding = "same" if small else "valid"
    inputs = keras.Input(input_shape, name="inputs")
    if small:
        x = dl.Conv2D(c[0], 5, padding="same", activation=activation, name="conv1")(inputs)
    else:
        x = dl.Conv2D(c[0], 11, strides=4, activation=activation, name="conv1")(inputs)
    if lrn:
        x = dl.LocalResponseNormalization(name="lrn1")(x)
    x = layers.MaxPooling2D(3, strides=2, padding=pool_padding, name="pool1")(x)
    x = dl.Conv2D(c[1], 5, padding="same", groups=g, activation=activation, name="conv2")(x)
    if lrn:
        x = dl.LocalResponseNormalization(name="lrn2")(x)
    x = layers.MaxPooling2D(3, strides=2, padding=pool_padding, name="pool2")(x)
    x = dl.Conv2D(c[2], 3, padding="same", activation=activation, name="conv3")(x)
    x = dl.Conv2D(c[3], 3, padding="same", groups=g, activation=activation, name="conv4")(x)
    x = dl.Conv2D(c[4], 3, padding="same", groups=g, activation=activation, name="conv5")(x)
    x = layers.MaxPooling2D(3, strides=2, padding=pool_padding, name="pool5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(fc, activation=activation, name="fc6")(x)
    x = layers.Dropout(dropout, name="dropout6")(x)
    x = layers.Dense(fc, activation=activation, name="fc7")(x)
    x = layers.Dropout(dropout, name="dropout7")(x)
    return keras.Model(inputs, head(x, num_classes, output_activation, name="fc8"),
                       name="alexnet")
