"""Shared test helpers: the backend's value and gradient, a seeded generator, and the
command line (``cli``, with ``FAST``: the settings that make a run small). The Keras backend
comes from KERAS_BACKEND (tensorflow by default)."""

import os
import subprocess
import sys

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


# a run small enough for a test of the command line: two epochs on 400 examples, quiet
FAST = ["trainer.epochs=2", "dataset.subset=400", "trainer.verbose=false"]


def fast(epochs: int) -> list[str]:
    """``FAST`` with another number of epochs."""
    return [f"trainer.epochs={epochs}", *FAST[1:]]


def cli(*args, cwd, env=None, check=True, module="experiments.run", prefix=None,
        timeout=600) -> subprocess.CompletedProcess:
    """``python -m <module> *args`` in ``cwd`` (or ``prefix`` + args), output captured as
    text, unbuffered, ``env`` added to this process's environment. With ``check`` a non-zero
    exit fails the test, showing both streams."""
    command = prefix or [sys.executable, "-m", module]
    proc = subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc
