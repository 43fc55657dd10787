"""dlkit.layers against TensorFlow's ops, Keras's twins and numpy."""

import keras
import numpy as np
import pytest

from dlkit import layers
from tests.conftest import needs_tf

SEED_PADDING = [[0, 0], [1, 1], [1, 1], [0, 0]]


def test_seed_line_runs_verbatim():
    conv = layers.Conv2D(48, kernel_size=3, strides=1, padding=[[0, 0], [1, 1], [1, 1], [0, 0]])
    out = conv(np.zeros((2, 10, 12, 3), dtype="float32"))
    assert tuple(out.shape) == (2, 10, 12, 48)


def test_seed_worked_example_gives_one():
    kernel = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], dtype="float32")
    patch = np.array([[1, 0, 2], [5, 4, 2], [3, 4, 5]], dtype="float32")
    conv = layers.Conv2D(1, 3)
    conv.build((1, 3, 3, 1))
    conv.set_weights([kernel[:, :, None, None], np.array([1.0], dtype="float32")])
    assert float(np.asarray(conv(patch[None, :, :, None])).squeeze()) == 1.0


@needs_tf
@pytest.mark.parametrize("padding,strides,kernel", [
    (SEED_PADDING, 1, 3), ([[0, 0], [0, 1], [2, 1], [0, 0]], 2, 2),
    ([[0, 0], [3, 0], [0, 2], [0, 0]], 2, 4), ([[0, 0], [0, 0], [0, 0], [0, 0]], 1, 5),
])
def test_explicit_padding_matches_tensorflow(padding, strides, kernel, rng):
    import tensorflow as tf

    x = rng.normal(size=(2, 11, 9, 3)).astype("float32")
    conv = layers.Conv2D(4, kernel, strides=strides, padding=padding)
    ours = np.asarray(conv(x))
    ref = tf.nn.conv2d(x, conv.kernel.numpy(), strides=strides, padding=padding) + \
        conv.bias.numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    assert tuple(conv.compute_output_shape(x.shape)) == ours.shape


@needs_tf
@pytest.mark.parametrize("padding,strides,kernel,dilation,runs_as", [
    (SEED_PADDING, 1, 3, 1, "same"), ([[0, 0], [2, 2], [2, 2], [0, 0]], 1, 5, 1, "same"),
    ([[0, 0], [2, 2], [2, 2], [0, 0]], 1, 3, 2, "same"),
    ([[0, 0], [1, 1], [1, 1], [0, 0]], 2, 3, 1, "valid"),
    ([[0, 0], [1, 2], [1, 2], [0, 0]], 1, 4, 1, "valid"),
    ([[0, 0], [2, 2], [1, 1], [0, 0]], 1, 3, 1, "valid"),
])
def test_explicit_padding_equal_to_same_runs_as_one_convolution(padding, strides, kernel,
                                                                dilation, runs_as, rng):
    import tensorflow as tf

    x = rng.normal(size=(2, 11, 9, 3)).astype("float32")
    conv = layers.Conv2D(4, kernel, strides=strides, padding=padding, dilation_rate=dilation)
    ours = np.asarray(conv(x))
    ref = tf.nn.conv2d(x, conv.kernel.numpy(), strides=strides, padding=padding,
                       dilations=dilation) + conv.bias.numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    assert conv.padding == runs_as
    assert conv.get_config()["padding"] == padding
    assert tuple(conv.compute_output_shape(x.shape)) == ours.shape


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("strides,kernel", [(1, 3), (2, 3), (2, 2), (1, 4)])
def test_same_and_valid_match_keras(padding, strides, kernel, rng):
    x = rng.normal(size=(2, 9, 10, 3)).astype("float32")
    ours = layers.Conv2D(5, kernel, strides=strides, padding=padding)
    theirs = keras.layers.Conv2D(5, kernel, strides=strides, padding=padding)
    ours(x), theirs(x)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)


def test_channels_first_explicit_padding(rng):
    x = rng.normal(size=(1, 3, 6, 6)).astype("float32")
    conv = layers.Conv2D(2, 3, padding=[[0, 0], [0, 0], [1, 1], [2, 0]],
                         data_format="channels_first")
    if keras.backend.backend() == "tensorflow":
        pytest.skip("TensorFlow's CPU kernels do not run channels_first convolutions")
    out = np.asarray(conv(x))
    assert out.shape == (1, 2, 6, 6)
    # the same kernel as a valid convolution over the input padded by hand
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 0)))
    kernel, bias = (np.asarray(w) for w in conv.get_weights())  # (3, 3, in, out)
    for f in range(2):
        for i in range(6):
            for j in range(6):
                patch = padded[0, :, i:i + 3, j:j + 3]  # (in, 3, 3)
                value = np.sum(patch.transpose(1, 2, 0) * kernel[:, :, :, f]) + bias[f]
                np.testing.assert_allclose(out[0, f, i, j], value, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bad", [
    [[0, 0], [1, 1], [1, 1]], [[1, 0], [1, 1], [1, 1], [0, 0]], [[0, 0], [1, 1], [1, 1], [0, 2]],
    [[0, 0], [-1, 1], [1, 1], [0, 0]], [[0, 0], [1.5, 1], [1, 1], [0, 0]], "full", 3,
    [[0, 0], [1, 1, 1], [1, 1], [0, 0]],
])
def test_malformed_padding_raises_with_spec_and_accepted_forms(bad):
    with pytest.raises(ValueError) as info:
        layers.Conv2D(4, 3, padding=bad)
    assert repr(bad) in str(info.value) and '"valid", "same"' in str(info.value)


def test_get_config_round_trip_and_keras_file(tmp_path, rng):
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    model = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3, padding=SEED_PADDING),
                              layers.LocalResponseNormalization(),
                              layers.Inception(2, 2, 3, 1, 2, 2),
                              layers.BasicBlock(9, strides=2),
                              layers.Bottleneck(2, shortcut="projection")])
    config = model.layers[0].get_config()
    assert config["padding"] == SEED_PADDING
    assert layers.Conv2D.from_config(config).explicit_padding == SEED_PADDING
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-5)


@needs_tf
def test_lrn_matches_tensorflow(rng):
    import tensorflow as tf

    x = rng.normal(size=(2, 5, 5, 12)).astype("float32") * 3
    ours = layers.LocalResponseNormalization(depth_radius=2, bias=2.0, alpha=1e-2, beta=0.75)
    ref = tf.nn.local_response_normalization(x, 2, 2.0, 1e-2, 0.75)
    np.testing.assert_allclose(np.asarray(ours(x)), ref, rtol=1e-5)


def test_subsampling_numpy(rng):
    x = rng.normal(size=(1, 4, 4, 2)).astype("float32")
    layer = layers.Subsampling(2)
    layer.build(x.shape)
    layer.set_weights([np.array([2.0, -1.0], "float32"), np.array([0.5, 0.0], "float32")])
    sums = x.reshape(1, 2, 2, 2, 2, 2).sum(axis=(2, 4))
    np.testing.assert_allclose(np.asarray(layer(x)), sums * [2.0, -1.0] + [0.5, 0.0], rtol=1e-5)
    assert layer.count_params() == 4


def test_partial_conv_equals_masked_full_convolution(rng):
    x = rng.normal(size=(1, 14, 14, 6)).astype("float32")
    layer = layers.PartialConv2D(5)
    out = np.asarray(layer(x))
    assert layer.count_params() == 1516
    kernel = np.asarray(layer.full_kernel())
    for j, maps in enumerate(layers.lenet.C3_TABLE):
        unused = [i for i in range(6) if i not in maps]
        assert np.all(kernel[:, :, unused, j] == 0)
    # a direct numpy convolution at one output position
    i, j, f = 3, 7, 14
    expected = np.sum(x[0, i:i + 5, j:j + 5, :] * kernel[:, :, :, f]) + np.asarray(layer.bias)[f]
    np.testing.assert_allclose(out[0, i, j, f], expected, rtol=1e-4, atol=1e-5)


def test_rbf_is_squared_distance(rng):
    x = rng.normal(size=(3, 84)).astype("float32")
    layer = layers.RBF(10, seed=0)
    d = np.asarray(layer(x))
    w = np.asarray(layer.centres)
    np.testing.assert_allclose(d, ((x[:, :, None] - w[None]) ** 2).sum(1), rtol=1e-4)
    assert set(np.unique(w)) <= {-1.0, 1.0}


def test_inception_branches_concatenate(rng):
    x = rng.normal(size=(1, 7, 7, 16)).astype("float32")
    block = layers.Inception(4, 3, 5, 2, 6, 7)
    out = np.asarray(block(x))
    assert out.shape == (1, 7, 7, 22)
    np.testing.assert_allclose(out[..., :4], np.asarray(block.branch1(x)), rtol=1e-6)


def test_residual_identity_and_pad_shortcuts(rng):
    x = rng.normal(size=(2, 8, 8, 16)).astype("float32")
    block = layers.BasicBlock(16, shortcut="identity")
    block(x)
    for v in block.conv2.weights:  # zero the residual branch: output = relu(x)
        v.assign(np.zeros(v.shape, "float32"))
    np.testing.assert_allclose(np.asarray(block(x)), np.maximum(x, 0), rtol=1e-6, atol=1e-6)
    pad = layers.BasicBlock(32, strides=2, shortcut="pad")
    assert tuple(pad(x).shape) == (2, 4, 4, 32)
    with pytest.raises(ValueError, match="identity shortcut needs matching shapes"):
        layers.BasicBlock(32, strides=2, shortcut="identity")(x)


def test_residual_batch_norm_statistics_move_at_momentum_0_9(rng):
    """One training call: moving mean = 0.9 * 0 + 0.1 * batch mean of conv1's output (numpy),
    and bn_momentum survives a config round trip."""
    x = rng.normal(size=(4, 6, 6, 3)).astype("float32")
    block = layers.BasicBlock(5, shortcut="projection")
    block(x, training=True)
    pre = np.asarray(block.conv1(x))
    np.testing.assert_allclose(np.asarray(block.bn1.moving_mean), 0.1 * pre.mean(axis=(0, 1, 2)),
                               rtol=1e-5, atol=1e-7)
    assert block.bn2.momentum == block.projection[1].momentum == 0.9
    clone = layers.BasicBlock.from_config({**block.get_config(), "bn_momentum": 0.99})
    assert clone.bn1.momentum == 0.99 and clone.get_config()["bn_momentum"] == 0.99
    with pytest.raises(ValueError, match=r"bn_momentum must be a number in \[0, 1\), got 1.5"):
        layers.BasicBlock(5, bn_momentum=1.5)


@pytest.mark.parametrize("ours,theirs", [(layers.SimpleRNNCell, keras.layers.SimpleRNN),
                                         (layers.LSTMCell, keras.layers.LSTM)])
def test_cells_equal_keras_layers_with_same_weights(ours, theirs, rng):
    x = rng.normal(size=(3, 7, 4)).astype("float32")
    mine = keras.layers.RNN(ours(6), return_sequences=True)
    ref = theirs(6, return_sequences=True)
    mine(x), ref(x)
    mine.set_weights(ref.get_weights())
    np.testing.assert_allclose(np.asarray(mine(x)), np.asarray(ref(x)), rtol=1e-5, atol=1e-6)


def test_lstm_cell_numpy_step(rng):
    cell = layers.LSTMCell(3)
    x = rng.normal(size=(1, 2)).astype("float32")
    h0 = rng.normal(size=(1, 3)).astype("float32")
    c0 = rng.normal(size=(1, 3)).astype("float32")
    h, (h1, c1) = cell(x, [h0, c0])
    W, U, b = (np.asarray(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    z = x @ W + h0 @ U + b
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    i, f, g, o = sig(z[:, :3]), sig(z[:, 3:6]), np.tanh(z[:, 6:9]), sig(z[:, 9:])
    c = f * c0 + i * g
    np.testing.assert_allclose(np.asarray(c1), c, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(h), o * np.tanh(c), rtol=1e-5)
