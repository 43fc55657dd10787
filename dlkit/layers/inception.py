"""The Inception module of GoogLeNet (Szegedy et al. 2014, figure 2b)."""

from __future__ import annotations

import keras
from keras import layers, ops

from dlkit.errors import ConfigError


@keras.saving.register_keras_serializable(package="dlkit")
class Inception(keras.layers.Layer):
    """Four parallel branches concatenated on the channel axis:

    1x1 conv (``f1``); 1x1 reduce (``f3_reduce``) then 3x3 (``f3``); 1x1 reduce
    (``f5_reduce``) then 5x5 (``f5``); 3x3 max pool (stride 1) then 1x1 projection
    (``pool_proj``). Every convolution is ``same``-padded and followed by ``activation``.
    Output channels: ``f1 + f3 + f5 + pool_proj``.
    """

    def __init__(self, f1, f3_reduce, f3, f5_reduce, f5, pool_proj, activation="relu",
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = dict(f1=f1, f3_reduce=f3_reduce, f3=f3, f5_reduce=f5_reduce, f5=f5,
                            pool_proj=pool_proj)
        for key, value in self.filters.items():
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"Inception {key} must be a positive int, got {value!r}")
        self.activation = activation

        def conv(filters, size, tag):
            return layers.Conv2D(filters, size, padding="same", activation=activation,
                                 name=f"{tag}")

        self.branch1 = conv(f1, 1, "b1_1x1")
        self.branch3 = [conv(f3_reduce, 1, "b3_reduce"), conv(f3, 3, "b3_3x3")]
        self.branch5 = [conv(f5_reduce, 1, "b5_reduce"), conv(f5, 5, "b5_5x5")]
        self.pool = layers.MaxPooling2D(3, strides=1, padding="same", name="bp_pool")
        self.pool_proj = conv(pool_proj, 1, "bp_proj")

    def sublayer_inputs(self, input_shape):
        """(sublayer, its input shape) pairs, for ``dlkit.complexity``."""
        b, h, w, _ = input_shape
        f = self.filters
        return [
            (self.branch1, input_shape),
            (self.branch3[0], input_shape), (self.branch3[1], (b, h, w, f["f3_reduce"])),
            (self.branch5[0], input_shape), (self.branch5[1], (b, h, w, f["f5_reduce"])),
            (self.pool, input_shape), (self.pool_proj, input_shape),
        ]

    def build(self, input_shape):
        for layer, shape in self.sublayer_inputs(input_shape):
            layer.build(shape)

    def call(self, inputs):
        b3 = self.branch3[1](self.branch3[0](inputs))
        b5 = self.branch5[1](self.branch5[0](inputs))
        bp = self.pool_proj(self.pool(inputs))
        return ops.concatenate([self.branch1(inputs), b3, b5, bp], axis=-1)

    def compute_output_shape(self, input_shape):
        f = self.filters
        return (*input_shape[:-1], f["f1"] + f["f3"] + f["f5"] + f["pool_proj"])

    def get_config(self):
        return {**super().get_config(), **self.filters, "activation": self.activation}
