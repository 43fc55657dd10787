"""GoogLeNet / Inception v1 (Szegedy et al. 2014, table 1 and figure 3)."""

from __future__ import annotations

import keras
from keras import layers

from dlkit import layers as dl
from dlkit.models._registry import REGISTRY, check_output_activation, head, require_image

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION_TABLE = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _inception(x, key, width, activation):
    filters = [max(1, int(round(f * width))) for f in INCEPTION_TABLE[key]]
    return dl.Inception(*filters, activation=activation, name=f"inception_{key}")(x)


def _aux_head(x, num_classes, output_activation, activation, name):
    """Auxiliary classifier: avgpool 5x5/3, 1x1 conv 128, fc 1024, dropout 0.7, fc."""
    if x.shape[1] >= 5:
        x = layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = dl.Conv2D(128, 1, activation=activation, name=f"{name}_conv")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation=activation, name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return head(x, num_classes, output_activation, name=f"{name}_output")


@REGISTRY.register("googlenet")
def googlenet(input_shape=(224, 224, 3), num_classes=1000, activation="relu",
              output_activation="softmax", width=1.0, aux_heads=False, lrn=True):
    """Inception v1: stem (7x7/2 conv, pool, 1x1 and 3x3 convs, pool), inception 3a-3b,
    pool, 4a-4e, pool, 5a-5b, global average pooling, dropout 0.4, linear output.

    ``aux_heads=True`` adds the two auxiliary classifiers after 4a and 4d (then the model has
    three outputs: main, aux1, aux2; the paper weights the auxiliary losses by 0.3).
    ``width`` scales every inception branch. Inputs under 64 pixels get a small-image stem
    (one 3x3 conv, no early pooling).
    """
    require_image(input_shape, "googlenet", min_size=16)
    check_output_activation(output_activation)
    small = min(input_shape[:2]) < 64
    stem = max(1, int(round(64 * width)))
    inputs = keras.Input(input_shape, name="inputs")
    if small:
        x = dl.Conv2D(3 * stem, 3, padding="same", activation=activation, name="conv1")(inputs)
    else:
        x = dl.Conv2D(stem, 7, strides=2, padding="same", activation=activation,
                      name="conv1")(inputs)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
        if lrn:
            x = dl.LocalResponseNormalization(name="lrn1")(x)
        x = dl.Conv2D(stem, 1, activation=activation, name="conv2_reduce")(x)
        x = dl.Conv2D(3 * stem, 3, padding="same", activation=activation, name="conv2")(x)
        if lrn:
            x = dl.LocalResponseNormalization(name="lrn2")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    x = _inception(x, "3a", width, activation)
    x = _inception(x, "3b", width, activation)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool3")(x)
    aux = []
    for key in ("4a", "4b", "4c", "4d", "4e"):
        x = _inception(x, key, width, activation)
        if aux_heads and key in ("4a", "4d"):
            aux.append(_aux_head(x, num_classes, output_activation, activation,
                                 f"aux{len(aux) + 1}"))
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool4")(x)
    x = _inception(x, "5a", width, activation)
    x = _inception(x, "5b", width, activation)
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    x = layers.Dropout(0.4, name="dropout")(x)
    outputs = head(x, num_classes, output_activation)
    return keras.Model(inputs, [outputs, *aux] if aux else outputs, name="googlenet")
