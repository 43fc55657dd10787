"""Local response normalization across channels (Krizhevsky et al. 2012, section 3.3)."""

from __future__ import annotations

import keras
from keras import ops

from dlkit.errors import ConfigError


@keras.saving.register_keras_serializable(package="dlkit")
class LocalResponseNormalization(keras.layers.Layer):
    """``b_c = a_c / (k + α Σ_{c' = c−r}^{c+r} a_{c'}²)^β`` over the channel axis (last).

    AlexNet's values are the defaults: ``depth_radius`` r = 2 (n = 5 maps), ``bias`` k = 2,
    ``alpha`` α = 1e-4, ``beta`` β = 0.75. This is the form of ``tf.nn.local_response_
    normalization`` (the sum is not divided by n).
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(depth_radius, int) or depth_radius < 0:
            raise ConfigError(f"depth_radius must be a non-negative int, got {depth_radius!r}")
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, inputs):
        squared = ops.square(inputs)
        r = self.depth_radius
        channels = inputs.shape[-1]
        padded = ops.pad(squared, [[0, 0]] * (len(inputs.shape) - 1) + [[r, r]])
        window_sum = padded[..., 0:channels]
        for offset in range(1, 2 * r + 1):
            window_sum = window_sum + padded[..., offset:offset + channels]
        return inputs / ops.power(self.bias + self.alpha * window_sum, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}
