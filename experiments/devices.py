"""Devices, precision and data parallelism for a run, on the engines Keras already uses.

- ``trainer.device``: ``auto`` (whatever the backend finds), ``cpu`` (GPUs hidden before the
  backend starts) or ``gpu`` (fail before training when none is visible).
- ``trainer.precision``: ``float32``, ``mixed_float16`` or ``mixed_bfloat16``
  (``keras.mixed_precision``; Keras adds loss scaling for float16).
- ``trainer.distribute``: one run on every visible device: ``tf.distribute.MirroredStrategy``
  under TensorFlow, ``keras.distribution.DataParallel`` under JAX.
- In a multirun whose launcher runs several worker processes (joblib, submitit), each
  worker takes one GPU: job ``k`` sees GPU ``k mod n``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess

from dlkit.errors import ConfigError

DEVICES = ("auto", "cpu", "gpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def hide_gpus() -> None:
    """Must run before the backend initialises its devices."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ["JAX_PLATFORMS"] = "cpu"


def nvidia_gpu_count() -> int:
    """GPUs that ``nvidia-smi`` lists (0 without NVIDIA tools), without importing a backend."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def assign_worker_gpu(job_num: int) -> str | None:
    """In a worker process of a parallel launcher, pin job ``job_num`` to one GPU."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return None  # the user or the cluster already chose
    count = nvidia_gpu_count()
    if count < 2:
        return None
    os.environ["CUDA_VISIBLE_DEVICES"] = str(job_num % count)
    return os.environ["CUDA_VISIBLE_DEVICES"]


def check(trainer: dict) -> None:
    device = trainer.get("device", "auto")
    precision = trainer.get("precision", "float32")
    if device not in DEVICES:
        raise ConfigError(f"trainer.device={device!r} is not accepted; use one of {DEVICES}")
    if precision not in PRECISIONS:
        raise ConfigError(f"trainer.precision={precision!r} is not accepted; use one of "
                         f"{PRECISIONS}")


def gpu_available() -> bool:
    from dlkit.training.environment import gpu_names

    return bool(gpu_names())


def configure(trainer: dict) -> None:
    """Apply precision and check the device (after the backend is imported)."""
    import keras

    check(trainer)
    if trainer.get("device") == "cpu" and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:
            pass  # devices already initialised: hidden by the command line, or not at all
    if trainer.get("device") == "gpu" and not gpu_available():
        raise ConfigError("trainer.device=gpu but no GPU is visible to the "
                         f"{keras.backend.backend()} backend; use trainer.device=auto or cpu")
    keras.mixed_precision.set_global_policy(trainer.get("precision", "float32"))


@contextlib.contextmanager
def distribution(trainer: dict):
    """The scope in which to build and compile the model."""
    if not trainer.get("distribute"):
        yield
        return
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.distribute.MirroredStrategy().scope():
            yield
    elif backend == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        yield
    else:
        raise ConfigError("trainer.distribute=true needs the tensorflow or jax backend, not "
                         f"{backend}")
