"""2-D convolution with ``valid``, ``same`` or an explicit NHWC padding list."""

from __future__ import annotations

import keras
from keras import ops

from dlkit.errors import ConfigError

ACCEPTED_PADDING = (
    '"valid", "same", or an explicit list [[0,0],[top,bottom],[left,right],[0,0]] '
    "(channels_last) / [[0,0],[0,0],[top,bottom],[left,right]] (channels_first) "
    "of non-negative integers"
)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_padding(padding, data_format="channels_last"):
    """Validate a padding spec; return ``None`` for a string, else the 4x2 list of ints.

    Raises ``ValueError`` showing the spec and the accepted forms.
    """
    if isinstance(padding, str):
        if padding.lower() in ("valid", "same"):
            return None
        raise ConfigError(f"padding={padding!r} is not accepted; use {ACCEPTED_PADDING}")
    try:
        pairs = [list(pair) for pair in padding]
    except TypeError:
        raise ConfigError(f"padding={padding!r} is not accepted; use {ACCEPTED_PADDING}") from None
    ok = len(pairs) == 4 and all(
        len(pair) == 2 and all(_is_int(v) and v >= 0 for v in pair) for pair in pairs
    )
    fixed = (0, 3) if data_format == "channels_last" else (0, 1)
    if not ok or any(pairs[axis] != [0, 0] for axis in fixed):
        raise ConfigError(
            f"padding={padding!r} is not accepted ({data_format}: batch and channel padding "
            f"must be [0, 0]); use {ACCEPTED_PADDING}"
        )
    return pairs


@keras.saving.register_keras_serializable(package="dlkit")
class Conv2D(keras.layers.Conv2D):
    """Keras's ``Conv2D`` that also takes the explicit padding list of ``tf.nn.conv2d``.

    ``padding=[[0,0],[p_top,p_bottom],[p_left,p_right],[0,0]]`` pads the input with zeros
    (``keras.ops.pad``) and then runs a ``valid`` convolution, so the output height is
    ``⌊(n_h + p_top + p_bottom − k)/s⌋ + 1`` (docs/theory.md section 5). ``"same"`` and
    ``"valid"`` behave exactly as in Keras.

    An explicit list that is exactly ``same`` padding (stride 1, odd effective kernel,
    ``(k − 1)/2`` on every side, as in LeNet-5's ``[[0,0],[2,2],[2,2],[0,0]]`` with 5x5 kernels)
    runs as one ``same`` convolution: the same numbers without a separate padding op, which
    under JAX on CPU costs about 10% of LeNet-5's training step.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 **kwargs):
        resolved_format = data_format or keras.config.image_data_format()
        self.explicit_padding = parse_padding(padding, resolved_format)
        super().__init__(filters, kernel_size, strides=strides,
                         padding="valid" if self.explicit_padding is not None else padding,
                         data_format=data_format, **kwargs)
        if self.explicit_padding is not None and self._explicit_is_same():
            self.padding = "same"

    def _explicit_is_same(self) -> bool:
        axes = (1, 2) if self.data_format == "channels_last" else (2, 3)
        for axis, k, s, d in zip(axes, self.kernel_size, self.strides, self.dilation_rate):
            half, odd = divmod((k - 1) * d, 2)
            if s != 1 or odd or self.explicit_padding[axis] != [half, half]:
                return False
        return True

    @property
    def _pads_input(self) -> bool:
        return self.explicit_padding is not None and self.padding == "valid"

    def _padded_shape(self, shape):
        shape = list(shape)
        if self._pads_input:
            for axis, (before, after) in enumerate(self.explicit_padding):
                if shape[axis] is not None:
                    shape[axis] += before + after
        return tuple(shape)

    def build(self, input_shape):
        super().build(self._padded_shape(input_shape))
        self.input_spec = None

    def call(self, inputs):
        if self._pads_input:
            inputs = ops.pad(inputs, self.explicit_padding)
        return super().call(inputs)

    def compute_output_shape(self, input_shape):
        return super().compute_output_shape(self._padded_shape(input_shape))

    def get_config(self):
        config = super().get_config()
        if self.explicit_padding is not None:
            config["padding"] = self.explicit_padding
        return config
