"""Shared test helpers. The Keras backend comes from KERAS_BACKEND (tensorflow by default)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("JAX_ENABLE_X64", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()

needs_tf = pytest.mark.skipif(BACKEND != "tensorflow", reason="compares with TensorFlow ops")


def value_and_grad(fn, x):
    """Value and gradient of scalar ``fn`` at numpy ``x``, through the active backend."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            value = fn(xt)
        return np.asarray(value), np.asarray(tape.gradient(value, xt))
    if BACKEND == "jax":
        import jax

        value, grad = jax.value_and_grad(fn)(x)
        return np.asarray(value), np.asarray(grad)
    import torch

    xt = torch.tensor(x, requires_grad=True)
    value = fn(xt)
    value.backward()
    return value.detach().numpy(), xt.grad.numpy()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
