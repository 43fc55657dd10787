"""The parts of LeNet-5 (LeCun et al. 1998) that Keras does not ship."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from dlkit.errors import ConfigError

# Table I of LeCun et al. (1998): which S2 maps (rows) feed each C3 map (columns).
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


@keras.saving.register_keras_serializable(package="dlkit")
def scaled_tanh(x):
    """LeNet's squashing function ``f(a) = A tanh(S a)``, A = 1.7159, S = 2/3 (Appendix A)."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package="dlkit")
class Subsampling(keras.layers.Layer):
    """LeNet's trainable subsampling: per map, the sum of each ``pool_size`` window times a
    trainable coefficient plus a trainable bias, then the activation.

    Two trainable parameters per map (S2: 12, S4: 32).
    """

    def __init__(self, pool_size=2, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        maps = input_shape[-1]
        self.coefficient = self.add_weight(shape=(maps,), initializer="ones", name="coefficient")
        self.bias = self.add_weight(shape=(maps,), initializer="zeros", name="bias")

    def call(self, inputs):
        p = self.pool_size
        window_sum = ops.average_pool(inputs, p, strides=p, padding="valid") * float(p * p)
        return self.activation(window_sum * self.coefficient + self.bias)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        p = self.pool_size
        return (b, None if h is None else h // p, None if w is None else w // p, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size,
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="dlkit")
class PartialConv2D(keras.layers.Layer):
    """A ``valid`` convolution in which output map j sees only the input maps ``table[j]``.

    Only the connected kernels are trainable weights: for LeNet's C3 (``C3_TABLE``, 5x5) that
    is 60 kernels of 25 weights plus 16 biases = 1,516 parameters. The kernels are scattered
    into a full ``(k, k, C_in, C_out)`` kernel with a constant 0/1 matrix and run as one
    convolution.
    """

    def __init__(self, kernel_size=5, table=C3_TABLE, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)
        self.table = tuple(tuple(int(i) for i in maps) for maps in table)
        self.activation = keras.activations.get(activation)

    @property
    def filters(self):
        return len(self.table)

    @property
    def connections_per_position(self):
        return self.kernel_size ** 2 * sum(len(m) for m in self.table)

    def build(self, input_shape):
        c_in = input_shape[-1]
        if max(max(m) for m in self.table) >= c_in:
            raise ConfigError(f"connection table {self.table} names an input map >= {c_in}")
        n = sum(len(m) for m in self.table)
        scatter = np.zeros((n, c_in * self.filters), dtype="float32")
        k = 0
        for j, maps in enumerate(self.table):
            for i in maps:
                scatter[k, i * self.filters + j] = 1.0
                k += 1
        self._scatter = scatter
        fan_in = self.kernel_size ** 2 * n / self.filters
        limit = float(np.sqrt(3.0 / fan_in))
        self.kernel = self.add_weight(
            shape=(self.kernel_size ** 2, n),
            initializer=keras.initializers.RandomUniform(-limit, limit), name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def full_kernel(self):
        """The dense ``(k, k, C_in, C_out)`` kernel, zero where the table has no connection."""
        c_in = self._scatter.shape[1] // self.filters
        dense = ops.matmul(self.kernel, ops.convert_to_tensor(self._scatter, self.kernel.dtype))
        return ops.reshape(dense, (self.kernel_size, self.kernel_size, c_in, self.filters))

    def call(self, inputs):
        out = ops.conv(inputs, ops.cast(self.full_kernel(), inputs.dtype), padding="valid")
        return self.activation(out + ops.cast(self.bias, inputs.dtype))

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        k = self.kernel_size
        return (b, None if h is None else h - k + 1, None if w is None else w - k + 1,
                self.filters)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "table": [list(m) for m in self.table],
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="dlkit")
class RBF(keras.layers.Layer):
    """Euclidean radial basis units: ``y_i = Σ_j (x_j − w_ij)²`` (LeNet's OUTPUT layer).

    ``mode="distance"`` returns ``y`` (the paper's penalty: lower is better);
    ``mode="logits"`` returns ``−y`` so that a softmax turns it into class probabilities.
    The paper fixes the centres to ±1 bitmaps of the characters; here they start as random
    ±1 values (seeded) and are trainable: ``units × n_in`` parameters, no bias.
    """

    def __init__(self, units, mode="distance", seed=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("distance", "logits"):
            raise ConfigError(f"mode must be 'distance' or 'logits', got {mode!r}")
        self.units, self.mode, self.seed = int(units), mode, seed

    def build(self, input_shape):
        n_in = input_shape[-1]
        rng = np.random.default_rng(self.seed)
        centres = rng.choice(np.array([-1.0, 1.0], dtype="float32"), size=(n_in, self.units))
        self.centres = self.add_weight(shape=(n_in, self.units), initializer="zeros",
                                       name="centres")
        self.centres.assign(centres)

    def call(self, inputs):
        w = ops.cast(self.centres, inputs.dtype)
        distance = (ops.sum(ops.square(inputs), axis=-1, keepdims=True)
                    - 2.0 * ops.matmul(inputs, w) + ops.sum(ops.square(w), axis=0))
        return -distance if self.mode == "logits" else distance

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "mode": self.mode,
                "seed": self.seed}
