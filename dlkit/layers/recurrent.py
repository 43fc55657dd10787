"""Recurrent cells written from their equations, for ``keras.layers.RNN``.

Weights use Keras's layout (``kernel``, ``recurrent_kernel``, ``bias``; LSTM gates in the
order i, f, c, o), so ``set_weights`` with the weights of ``keras.layers.SimpleRNN`` or
``keras.layers.LSTM`` gives the same outputs.
"""

from __future__ import annotations

import keras
from keras import ops

from dlkit.errors import ConfigError


class _Cell(keras.layers.Layer):
    gates = 1

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ConfigError(f"units must be a positive int, got {units!r}")
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        n = self.units * self.gates
        self.kernel = self.add_weight(shape=(input_shape[-1], n), name="kernel",
                                      initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(shape=(self.units, n), name="recurrent_kernel",
                                                initializer="orthogonal")
        self.bias = self.add_weight(shape=(n,), name="bias", initializer=self._bias_init())

    def _bias_init(self):
        return "zeros"

    def _pre_activation(self, x, h):
        return ops.matmul(x, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="dlkit")
class SimpleRNNCell(_Cell):
    """Elman RNN: ``h_t = tanh(W_x x_t + W_h h_{t−1} + b)``; the output is ``h_t``."""

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def call(self, inputs, states, training=None):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        h = self.activation(self._pre_activation(inputs, h_prev))
        return h, [h]


@keras.saving.register_keras_serializable(package="dlkit")
class LSTMCell(_Cell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997, with a forget gate)::

        i_t = σ(W_i x_t + U_i h_{t−1} + b_i)        input gate
        f_t = σ(W_f x_t + U_f h_{t−1} + b_f)        forget gate (b_f starts at 1)
        g_t = tanh(W_c x_t + U_c h_{t−1} + b_c)     candidate cell
        o_t = σ(W_o x_t + U_o h_{t−1} + b_o)        output gate
        c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t ;  h_t = o_t ⊙ tanh(c_t)
    """

    gates = 4

    @property
    def state_size(self):
        return [self.units, self.units]

    @property
    def output_size(self):
        return self.units

    def _bias_init(self):
        units = self.units

        def init(shape, dtype=None):
            ones = ops.ones((units,), dtype=dtype)
            zeros = ops.zeros((units,), dtype=dtype)
            return ops.concatenate([zeros, ones, zeros, zeros])

        return init

    def call(self, inputs, states, training=None):
        h_prev, c_prev = states
        z = self._pre_activation(inputs, h_prev)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i, f, o = ops.sigmoid(z_i), ops.sigmoid(z_f), ops.sigmoid(z_o)
        c = f * c_prev + i * self.activation(z_c)
        h = o * self.activation(c)
        return h, [h, c]
