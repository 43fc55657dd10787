"""Output sizes, parameter, connection, MAC and FLOP counts (docs/theory.md section 5).

Counting conventions, per layer:

- ``params``: Keras's ``count_params()``.
- ``macs``: multiply-accumulates of the forward pass: ``H_out·W_out·C_out·k_h·k_w·C_in`` for a
  convolution (only connected inputs for a partial one), ``n_in·n_out`` for a dense layer.
- ``flops``: the seed's count, one multiply and one add each, without the bias:
  ``{H·W·[k² + (k² − 1)]·C_in + H·W·(C_in − 1)}·C_out`` = ``2·macs − outputs`` for
  convolutions and dense layers; comparisons (``k² − 1``) or adds and a divide (``k²``) per
  output for pooling; recurrent layers count their matrix products per time step.
- ``connections``: LeCun's definition: trainable weights times output positions for
  shared-weight layers (convolution, subsampling), weights for dense layers, inputs read for
  parameter-free pooling.

Layers with no arithmetic worth counting (activations, reshapes, batch normalization,
dropout) count zero MACs and FLOPs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import pandas as pd

from dlkit import layers as dl
from dlkit.errors import ConfigError


def conv_output_size(n: int, kernel: int, stride: int = 1, padding="valid") -> int:
    """Output length of a convolution or pooling window along one axis.

    ``padding``: ``"valid"`` → ⌊(n − k)/s⌋ + 1; ``"same"`` → ⌈n/s⌉; a pair ``(before, after)``
    or a single int p (both sides) → ⌊(n + before + after − k)/s⌋ + 1.
    """
    for name, value in (("n", n), ("kernel", kernel), ("stride", stride)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{name} must be a positive int, got {value!r}")
    if isinstance(padding, str):
        if padding == "valid":
            before = after = 0
        elif padding == "same":
            return math.ceil(n / stride)
        else:
            raise ConfigError(f"padding must be 'valid', 'same', an int or a pair, got {padding!r}")
    elif isinstance(padding, int) and padding >= 0:
        before = after = padding
    else:
        try:
            before, after = (int(v) for v in padding)
        except (TypeError, ValueError):
            raise ConfigError(
                f"padding must be 'valid', 'same', an int or a pair, got {padding!r}") from None
        if before < 0 or after < 0:
            raise ConfigError(f"padding must be non-negative, got {padding!r}")
    size = n + before + after - kernel
    if size < 0:
        raise ConfigError(f"kernel {kernel} is larger than the padded input {n + before + after}")
    return size // stride + 1


@dataclass
class Counts:
    macs: int = 0
    flops: int = 0
    connections: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.macs + other.macs, self.flops + other.flops,
                      self.connections + other.connections)


def _prod(values) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _positions(shape) -> int:
    """Number of spatial (or temporal) positions: every axis but batch and channels."""
    return _prod(shape[1:-1])


def count_layer(layer, input_shape, output_shape) -> Counts:
    """MACs, FLOPs and connections of one layer for the given shapes."""
    if hasattr(layer, "sublayer_inputs"):
        total = Counts()
        for sub, shape in layer.sublayer_inputs(input_shape):
            total = total + count_layer(sub, shape, sub.compute_output_shape(shape))
        return total
    params = layer.count_params() if layer.built else 0
    outputs = _prod(output_shape[1:])
    if isinstance(layer, dl.PartialConv2D):
        positions = _positions(output_shape)
        macs = positions * layer.connections_per_position
        return Counts(macs, 2 * macs - outputs, params * positions)
    if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv1D):
        positions = _positions(output_shape)
        kernel_weights = _prod(layer.kernel.shape)
        macs = positions * kernel_weights
        return Counts(macs, 2 * macs - outputs, params * positions)
    if isinstance(layer, keras.layers.Dense):
        macs = _prod(layer.kernel.shape) * (outputs // layer.units)
        return Counts(macs, 2 * macs - outputs, params)
    if isinstance(layer, dl.RBF):
        macs = _prod(layer.centres.shape) * (outputs // layer.units)
        return Counts(macs, 3 * macs, params)
    if isinstance(layer, dl.Subsampling):
        window = layer.pool_size ** 2
        return Counts(outputs, outputs * (window + 1), (window + 1) * outputs)
    if isinstance(layer, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D):
        window = _prod(layer.pool_size)
        per_output = window - 1 if isinstance(layer, keras.layers.MaxPooling2D) else window
        return Counts(0, outputs * per_output, window * outputs)
    if isinstance(layer, keras.layers.GlobalAveragePooling2D):
        inputs = _prod(input_shape[1:])
        return Counts(0, inputs, inputs)
    if isinstance(layer, dl.LocalResponseNormalization):
        window = 2 * layer.depth_radius + 1
        return Counts(0, outputs * (window + 4), 0)
    if isinstance(layer, keras.layers.RNN | keras.layers.SimpleRNN | keras.layers.LSTM):
        steps = input_shape[1]
        weights = params
        return Counts(steps * weights, 2 * steps * weights, steps * weights)
    return Counts(0, 0, 0)


def _input_shape(layer):
    inputs = layer.input
    if isinstance(inputs, (list, tuple)):
        inputs = inputs[0]
    return tuple(inputs.shape)


def _output_shape(layer):
    output = layer.output
    if isinstance(output, (list, tuple)):
        output = output[0]
    return tuple(output.shape)


COLUMNS = ["name", "type", "output_shape", "params", "connections", "macs", "flops"]


def summary(model: keras.Model, totals: bool = True) -> pd.DataFrame:
    """One row per layer of a built functional or sequential model, plus a ``total`` row.

    Columns: ``name``, ``type``, ``output_shape``, ``params``, ``connections``, ``macs``,
    ``flops``. ``params`` sums to ``model.count_params()``.
    """
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        in_shape, out_shape = _input_shape(layer), _output_shape(layer)
        counts = count_layer(layer, in_shape, out_shape)
        rows.append({
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": out_shape[1:],
            "params": layer.count_params(),
            "connections": counts.connections,
            "macs": counts.macs,
            "flops": counts.flops,
        })
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if totals:
        total = {"name": "total", "type": "", "output_shape": ""}
        total.update({c: int(frame[c].sum()) for c in COLUMNS[3:]})
        frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    return frame
