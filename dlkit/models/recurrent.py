"""Sequence models built on dlkit's own RNN and LSTM cells."""

from __future__ import annotations

import keras
from keras import layers

from dlkit import layers as dl
from dlkit.errors import ConfigError
from dlkit.models._registry import REGISTRY, head


def _sequence_model(name, cell, input_shape, num_classes, output_activation):
    if len(input_shape) != 2:
        raise ConfigError(f"{name} needs sequence inputs of shape (timesteps, features), got "
                         f"{input_shape}; use dataset=adding or dataset=digits_sequence")
    inputs = keras.Input(input_shape, name="inputs")
    x = layers.RNN(cell, name=name)(inputs)
    return keras.Model(inputs, head(x, num_classes, output_activation), name=name)


@REGISTRY.register("rnn", fixed_activation="tanh")
def rnn(input_shape, num_classes, activation=None, output_activation="linear", units=64):
    """One Elman RNN layer (``dlkit.layers.SimpleRNNCell``, tanh) and a Dense output.
    ``activation`` is ignored: the recurrence keeps tanh."""
    return _sequence_model("rnn", dl.SimpleRNNCell(units), input_shape, num_classes,
                           output_activation)


@REGISTRY.register("lstm", fixed_activation="tanh")
def lstm(input_shape, num_classes, activation=None, output_activation="linear", units=64):
    """One LSTM layer (``dlkit.layers.LSTMCell``) and a Dense output.
    ``activation`` is ignored: the gates keep sigmoid and tanh."""
    return _sequence_model("lstm", dl.LSTMCell(units), input_shape, num_classes,
                           output_activation)
