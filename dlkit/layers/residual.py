"""Residual blocks of He et al. (2015): basic (two 3x3) and bottleneck (1x1, 3x3, 1x1)."""

from __future__ import annotations

import keras
from keras import layers, ops

from dlkit.errors import ConfigError

SHORTCUTS = ("auto", "identity", "projection", "pad")

# Moving-average momentum of the batch-norm statistics: 0.9, PyTorch's momentum=0.1 and the
# reference ResNet code's. Keras's default 0.99 keeps 13% of the initial statistics after 200
# steps, and a 20-layer network then predicts one class at inference after a short run.
BN_MOMENTUM = 0.9


def _conv(filters, size, stride, name):
    return layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=False,
                         kernel_initializer="he_normal", name=name)


class _ResidualBlock(keras.layers.Layer):
    """Shared shortcut logic. ``shortcut``:

    ``identity`` (shapes must match), ``projection`` (1x1 conv + BN, the paper's option B),
    ``pad`` (stride-subsample and zero-pad channels, option A of the CIFAR networks), or
    ``auto``: identity when shapes match, else projection.
    """

    expansion = 1

    def __init__(self, filters, strides=1, shortcut="auto", activation="relu",
                 bn_momentum=BN_MOMENTUM, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(bn_momentum, (int, float)) or not 0.0 <= bn_momentum < 1.0:
            raise ConfigError(f"bn_momentum must be a number in [0, 1), got {bn_momentum!r}")
        self.bn_momentum = float(bn_momentum)
        if not isinstance(filters, int) or filters <= 0:
            raise ConfigError(f"filters must be a positive int, got {filters!r}")
        if shortcut not in SHORTCUTS:
            raise ConfigError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
        self.filters, self.strides, self.shortcut = filters, int(strides), shortcut
        self.activation = activation
        self.act = layers.Activation(activation)
        self.projection = None
        self.main = []  # conv, BN, ..., conv, BN: set by each block

    def _bn(self, name):
        return layers.BatchNormalization(momentum=self.bn_momentum, name=name)

    @property
    def out_channels(self):
        return self.filters * self.expansion

    def _shortcut_kind(self, input_shape):
        matches = input_shape[-1] == self.out_channels and self.strides == 1
        if self.shortcut == "auto":
            return "identity" if matches else "projection"
        if self.shortcut == "identity" and not matches:
            raise ConfigError(
                f"identity shortcut needs matching shapes: input has {input_shape[-1]} channels, "
                f"block outputs {self.out_channels} with stride {self.strides}")
        return self.shortcut

    def _build_shortcut(self, input_shape):
        self._kind = self._shortcut_kind(input_shape)
        if self._kind == "projection":
            self.projection = [_conv(self.out_channels, 1, self.strides, "proj_conv"),
                               self._bn("proj_bn")]
            self.projection[0].build(input_shape)
            b, h, w, _ = self.projection[0].compute_output_shape(input_shape)
            self.projection[1].build((b, h, w, self.out_channels))

    def _shortcut_value(self, inputs, training):
        if self._kind == "identity":
            return inputs
        if self._kind == "projection":
            return self.projection[1](self.projection[0](inputs), training=training)
        x = inputs[:, :: self.strides, :: self.strides, :]
        extra = self.out_channels - inputs.shape[-1]
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def sublayer_inputs(self, input_shape):
        pairs, shape = [], input_shape
        for layer in self.main:
            pairs.append((layer, shape))
            shape = layer.compute_output_shape(shape)
        if self.projection is not None:
            pairs.append((self.projection[0], input_shape))
            pairs.append((self.projection[1], self.compute_output_shape(input_shape)))
        return pairs

    def build(self, input_shape):
        shape = input_shape
        for layer in self.main:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self._build_shortcut(input_shape)

    def call(self, inputs, training=None):
        x = inputs
        main = self.main
        for layer in main[:-1]:
            if isinstance(layer, layers.BatchNormalization):
                x = self.act(layer(x, training=training))
            else:
                x = layer(x)
        x = main[-1](x, training=training)
        return self.act(x + self._shortcut_value(inputs, training))

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        s = self.strides
        return (b, None if h is None else -(-h // s), None if w is None else -(-w // s),
                self.out_channels)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides,
                "shortcut": self.shortcut, "activation": self.activation,
                "bn_momentum": self.bn_momentum}


@keras.saving.register_keras_serializable(package="dlkit")
class BasicBlock(_ResidualBlock):
    """``y = act(BN(conv3x3(act(BN(conv3x3_s(x))))) + shortcut(x))`` (ResNet-18/34, CIFAR)."""

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(filters, strides, **kwargs)
        self.conv1 = _conv(filters, 3, self.strides, "conv1")
        self.bn1 = self._bn("bn1")
        self.conv2 = _conv(filters, 3, 1, "conv2")
        self.bn2 = self._bn("bn2")

        self.main = [self.conv1, self.bn1, self.conv2, self.bn2]


@keras.saving.register_keras_serializable(package="dlkit")
class Bottleneck(_ResidualBlock):
    """``1x1_s (filters) → 3x3 (filters) → 1x1 (4·filters)``, each with BN, plus the shortcut
    (ResNet-50 and deeper; the stride sits on the first 1x1 as in the paper, which gives its
    3.8 billion multiply-adds for ResNet-50)."""

    expansion = 4

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(filters, strides, **kwargs)
        self.conv1 = _conv(filters, 1, self.strides, "conv1")
        self.bn1 = self._bn("bn1")
        self.conv2 = _conv(filters, 3, 1, "conv2")
        self.bn2 = self._bn("bn2")
        self.conv3 = _conv(filters * 4, 1, 1, "conv3")
        self.bn3 = self._bn("bn3")

        self.main = [self.conv1, self.bn1, self.conv2, self.bn2, self.conv3, self.bn3]
