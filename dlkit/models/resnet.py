"""Residual networks (He, Zhang, Ren & Sun 2015): the ImageNet models (table 1) and the
CIFAR-10 models of section 4.2."""

from __future__ import annotations

import keras
from keras import layers

from dlkit import layers as dl
from dlkit.layers.residual import BN_MOMENTUM
from dlkit.models._registry import REGISTRY, head, require_image


def _imagenet_resnet(name, block, stages, input_shape, num_classes, activation,
                     output_activation):
    require_image(input_shape, name, min_size=32)
    inputs = keras.Input(input_shape, name="inputs")
    x = dl.Conv2D(64, 7, strides=2, padding="same", use_bias=False, name="conv1")(inputs)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="bn1")(x)
    x = layers.Activation(activation, name="act1")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), stages), start=2):
        for i in range(blocks):
            stride = 2 if (i == 0 and stage > 2) else 1
            x = block(filters, strides=stride, shortcut="auto", activation=activation,
                      name=f"conv{stage}_{i + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    return keras.Model(inputs, head(x, num_classes, output_activation, name="fc"), name=name)


def _cifar_resnet(name, n, input_shape, num_classes, activation, output_activation):
    """6n + 2 layers: 3x3 conv 16, then 3 stages of n basic blocks (16, 32, 64 filters),
    option A (zero-padding) shortcuts, global average pooling, output."""
    require_image(input_shape, name, min_size=8)
    inputs = keras.Input(input_shape, name="inputs")
    x = dl.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(inputs)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="bn1")(x)
    x = layers.Activation(activation, name="act1")(x)
    for stage, filters in enumerate((16, 32, 64), start=1):
        for i in range(n):
            stride = 2 if (i == 0 and stage > 1) else 1
            shortcut = "pad" if (i == 0 and stage > 1) else "identity"
            x = dl.BasicBlock(filters, strides=stride, shortcut=shortcut, activation=activation,
                              name=f"stage{stage}_{i + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    return keras.Model(inputs, head(x, num_classes, output_activation, name="fc"), name=name)


def _register_imagenet(name, block, stages):
    @REGISTRY.register(name)
    def build(input_shape=(224, 224, 3), num_classes=1000, activation="relu",
              output_activation="softmax"):
        return _imagenet_resnet(name, block, stages, input_shape, num_classes, activation,
                                output_activation)

    build.__doc__ = f"{name}: ImageNet stem, stages {stages} of {block.__name__} (table 1)."
    return build


def _register_cifar(name, n):
    @REGISTRY.register(name)
    def build(input_shape=(32, 32, 3), num_classes=10, activation="relu",
              output_activation="softmax"):
        return _cifar_resnet(name, n, input_shape, num_classes, activation, output_activation)

    build.__doc__ = f"{name}: the CIFAR-10 ResNet with n = {n} (6n + 2 = {6 * n + 2} layers)."
    return build


resnet18 = _register_imagenet("resnet18", dl.BasicBlock, (2, 2, 2, 2))
resnet34 = _register_imagenet("resnet34", dl.BasicBlock, (3, 4, 6, 3))
resnet50 = _register_imagenet("resnet50", dl.Bottleneck, (3, 4, 6, 3))
resnet20 = _register_cifar("resnet20", 3)
resnet32 = _register_cifar("resnet32", 5)
resnet56 = _register_cifar("resnet56", 9)
