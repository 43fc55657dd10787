"""dlkit.losses against numpy transcriptions of docs/theory.md section 3, the seed's numpy
code, Keras's built-in twins and central finite differences."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops

from dlkit import losses
from tests.conftest import BACKEND, value_and_grad

EPS = 1e-7
# Under TensorFlow the float64 inputs stay float64; some Keras ops under JAX compute in
# float32, so there values are compared at float32 precision.
EXACT = BACKEND == "tensorflow"
RTOL = 1e-10 if EXACT else 2e-6
SHAPES = [(8, 1), (16, 5), (4, 3, 6)]


def np_mse(y, p):
    return np.mean((p - y) ** 2, axis=-1)


def np_mae(y, p):
    return np.mean(np.abs(p - y), axis=-1)


def np_msle(y, p, eps=EPS):
    return np.mean((np.log(np.maximum(p, eps) + 1) - np.log(np.maximum(y, eps) + 1)) ** 2, -1)


def np_mape(y, p, eps=EPS):
    return 100 * np.mean(np.abs(p - y) / np.maximum(np.abs(y), eps), axis=-1)


def np_smooth_l1(y, p):
    x = np.abs(p - y)
    return np.mean(np.where(x < 1, 0.5 * x**2, x - 0.5), axis=-1)


def np_logistic_logits(y, z):
    # log(1 + exp(-y' z)) with y' = 2y - 1 (the second form in docs/theory.md)
    return np.mean(np.log1p(np.exp(-(2 * y - 1) * z)), axis=-1)


def np_logistic_probs(y, p, eps=EPS):
    p = np.clip(p, eps, 1 - eps)
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)), axis=-1)


def np_ce(onehot, p, eps=EPS):
    return -np.sum(onehot * np.log(np.clip(p, eps, 1 - eps)), axis=-1)


def np_hinge(y, s):
    y = np.where(y == 0, -1, y)
    return np.mean(np.maximum(0, 1 - y * s), axis=-1)


def np_exponential(y, s):
    y = np.where(y == 0, -1, y)
    return np.mean(np.exp(-y * s), axis=-1)


# The seed's own numpy functions, transcribed with its 10e-6 constant.
def seed_cross_entropy(y, p):
    return -np.mean(y * np.log(p + 10e-6))


def seed_exponential(y, s):
    return np.sum(np.exp(-y * s))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def per_sample(loss, y, p):
    return ops.convert_to_numpy(loss.call(ops.convert_to_tensor(y, y.dtype.name),
                                          ops.convert_to_tensor(p, p.dtype.name)))


@pytest.mark.parametrize("shape", SHAPES)
def test_regression_losses_match_numpy(shape, rng):
    y = rng.uniform(0.1, 2.0, size=shape)
    p = rng.uniform(-0.5, 2.5, size=shape)
    for name, ref in [("mse", np_mse), ("mae", np_mae), ("msle", np_msle), ("mape", np_mape),
                      ("smooth_l1", np_smooth_l1)]:
        np.testing.assert_allclose(per_sample(losses.get(name), y, p), ref(y, p), rtol=RTOL,
                                   err_msg=name)


@pytest.mark.parametrize("shape", SHAPES)
def test_classification_losses_match_numpy(shape, rng):
    z = rng.normal(size=shape) * 3
    y01 = (rng.uniform(size=shape) > 0.5).astype("float64")
    np.testing.assert_allclose(per_sample(losses.get("logistic", from_logits=True), y01, z),
                               np_logistic_logits(y01, z), rtol=RTOL)
    probs = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(per_sample(losses.get("logistic"), y01, probs),
                               np_logistic_probs(y01, probs), rtol=RTOL)
    # -1/+1 labels give the same logistic loss as 0/1 labels
    np.testing.assert_allclose(per_sample(losses.get("logistic", from_logits=True), 2 * y01 - 1,
                                          z), np_logistic_logits(y01, z), rtol=RTOL)
    for name, ref in [("hinge", np_hinge), ("exponential", np_exponential)]:
        np.testing.assert_allclose(per_sample(losses.get(name), y01, z), ref(y01, z),
                                   rtol=RTOL, err_msg=name)
        np.testing.assert_allclose(per_sample(losses.get(name), 2 * y01 - 1, z),
                                   ref(y01, z), rtol=RTOL, err_msg=name)


@pytest.mark.parametrize("classes", [3, 10])
def test_cross_entropy_and_nll_dense_sparse_logits(classes, rng):
    z = rng.normal(size=(32, classes)) * 2
    labels = rng.integers(0, classes, size=32)
    onehot = np.eye(classes)[labels]
    p = softmax(z)
    expected = np_ce(onehot, p)
    for name in ("cross_entropy", "nll"):
        np.testing.assert_allclose(per_sample(losses.get(name), onehot, p), expected,
                                   rtol=RTOL * 10)
        np.testing.assert_allclose(per_sample(losses.get(name), labels, p), expected,
                                   rtol=RTOL * 10)
        np.testing.assert_allclose(per_sample(losses.get(name), labels[:, None], p), expected,
                                   rtol=RTOL * 10)
        np.testing.assert_allclose(
            per_sample(losses.get(name, from_logits=True), labels, z),
            -np.log(p[np.arange(32), labels]), rtol=RTOL * 10)


def test_seed_cross_entropy_is_standard_divided_by_classes(rng):
    """The seed's -mean(y log(p + 10e-6)) averages over the M classes too: CE / M."""
    for classes in (2, 5, 10):
        p = softmax(rng.normal(size=(64, classes)))
        onehot = np.eye(classes)[rng.integers(0, classes, size=64)]
        ours = float(keras.ops.convert_to_numpy(
            losses.get("cross_entropy", epsilon=1e-5)(onehot, p)))
        np.testing.assert_allclose(ours / classes, seed_cross_entropy(onehot, p), rtol=1e-4)


def test_seed_exponential_sums_what_dlkit_averages(rng):
    y = np.where(rng.uniform(size=(20, 1)) > 0.5, 1.0, -1.0)
    s = rng.normal(size=(20, 1))
    total = float(ops.convert_to_numpy(losses.get("exponential", reduction="sum")(y, s)))
    np.testing.assert_allclose(total, seed_exponential(y, s), rtol=1e-6)


@pytest.mark.parametrize("shape", [(64, 10), (8, 3, 4)])
def test_keras_twins(shape, rng):
    y = rng.uniform(0.1, 2.0, size=shape).astype("float32")
    p = rng.uniform(0.0, 2.5, size=shape).astype("float32")
    pairs = [
        ("mse", keras.losses.MeanSquaredError()),
        ("mae", keras.losses.MeanAbsoluteError()),
        ("msle", keras.losses.MeanSquaredLogarithmicError()),
        ("mape", keras.losses.MeanAbsolutePercentageError()),
        ("smooth_l1", keras.losses.Huber(delta=1.0)),
    ]
    y01 = (y > 1).astype("float32")
    probs = (1 / (1 + np.exp(-(p - 1)))).astype("float32")
    onehot = np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], size=shape[:-1])]
    smax = softmax(p).astype("float32")

    def check(ours, theirs, yt, yp):
        a = float(ops.convert_to_numpy(ours(yt, yp)))
        b = float(ops.convert_to_numpy(theirs(yt, yp)))
        np.testing.assert_allclose(a, b, rtol=1e-6)

    for name, twin in pairs:
        check(losses.get(name), twin, y, p)
    check(losses.get("logistic"), keras.losses.BinaryCrossentropy(), y01, probs)
    check(losses.get("logistic", from_logits=True),
          keras.losses.BinaryCrossentropy(from_logits=True), y01, p - 1)
    check(losses.get("cross_entropy"), keras.losses.CategoricalCrossentropy(), onehot, smax)
    check(losses.get("cross_entropy", from_logits=True),
          keras.losses.CategoricalCrossentropy(from_logits=True), onehot, p)
    sparse = onehot.argmax(-1)
    check(losses.get("cross_entropy"), keras.losses.SparseCategoricalCrossentropy(), sparse,
          smax)
    check(losses.get("nll", from_logits=True),
          keras.losses.SparseCategoricalCrossentropy(from_logits=True), sparse, p)
    check(losses.get("hinge"), keras.losses.Hinge(), y01, p - 1)


def _loss_inputs(name, rng):
    if name in ("cross_entropy", "nll"):
        y = np.eye(4)[rng.integers(0, 4, size=6)]
        return y, softmax(rng.normal(size=(6, 4)))
    if name == "logistic":
        return (rng.uniform(size=(6, 3)) > 0.5).astype("float64"), rng.uniform(0.1, 0.9, (6, 3))
    if name in ("hinge", "exponential"):
        return np.where(rng.uniform(size=(6, 3)) > 0.5, 1.0, -1.0), rng.normal(size=(6, 3)) * 0.3
    y = rng.uniform(0.5, 2.0, size=(6, 3))
    # keep |ŷ − y| away from smooth L1's kink at 1 and MAE's at 0
    return y, y + rng.choice([-1, 1], size=y.shape) * rng.uniform(0.1, 0.8, size=y.shape)


@pytest.mark.parametrize("name", losses.names())
def test_gradients_match_finite_differences(name, rng):
    y, p = _loss_inputs(name, rng)
    loss = losses.get(name, dtype="float64")

    def fn(x):
        return loss(ops.convert_to_tensor(y, "float64"), x)

    _, grad = value_and_grad(fn, p)
    h = 1e-6 if EXACT else 1e-3
    numeric = np.zeros_like(p)
    for index in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[index] += h
        down[index] -= h
        f_up = float(ops.convert_to_numpy(fn(ops.convert_to_tensor(up, "float64"))))
        f_down = float(ops.convert_to_numpy(fn(ops.convert_to_tensor(down, "float64"))))
        numeric[index] = (f_up - f_down) / (2 * h)
    if EXACT:
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)
    else:
        np.testing.assert_allclose(grad, numeric, rtol=2e-2, atol=1e-3)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=4, max_size=4),
       st.integers(0, 3))
def test_logits_up_to_1e4_are_finite(values, label):
    z = np.array([values], dtype="float32")
    for name in ("cross_entropy", "nll", "logistic"):
        loss = losses.get(name, from_logits=True)
        y = np.eye(4, dtype="float32")[[label]] if name == "logistic" else np.array([label])
        value, grad = value_and_grad(lambda x, loss=loss, y=y: loss(y, x), z)
        assert np.isfinite(value) and np.all(np.isfinite(grad)), (name, values)


def test_probabilities_of_exactly_zero_and_one_are_finite():
    p = np.array([[0.0, 1.0, 0.0]], dtype="float32")
    for name, y in [("cross_entropy", np.array([[0.0, 0.0, 1.0]], "float32")),
                    ("nll", np.array([2])), ("logistic", np.array([[1.0, 0.0, 1.0]], "float32"))]:
        value, grad = value_and_grad(lambda x, n=name, y=y: losses.get(n)(y, x), p)
        assert np.isfinite(value) and np.all(np.isfinite(grad)), name


def test_mismatched_shapes_name_both():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 5\)"):
        losses.get("mse")(np.zeros((4, 3)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"\(4, 7\).*\(4, 5\)"):
        losses.get("cross_entropy")(np.zeros((4, 7)), np.zeros((4, 5)))


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown loss 'foo'.*cross_entropy.*smooth_l1"):
        losses.get("foo")


@pytest.mark.parametrize("name", losses.names())
def test_save_and_load_keras_file(name, tmp_path, rng):
    y, p = _loss_inputs(name, rng)
    y = y.astype("float32")
    x = rng.normal(size=(len(y), 5)).astype("float32")
    activation = {"cross_entropy": "softmax", "nll": "softmax", "logistic": "sigmoid"}.get(name)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(y.shape[-1],
                                                                    activation=activation)])
    model.compile(optimizer="sgd", loss=losses.get(name, epsilon=1e-5))
    before = model.evaluate(x, y, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.loss) is type(model.loss)
    assert loaded.loss.epsilon == 1e-5
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), before, rtol=1e-6)
