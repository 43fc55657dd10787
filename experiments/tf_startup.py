"""TensorFlow start-up settings of the suite: the backend chosen before Keras is imported,
C++ start-up noise (cuInit, absl lines) and Python-side advice (retracing warnings) kept out
of the console, oneDNN kernels on."""

from __future__ import annotations

import os
import sys


def set_backend(backend: str | None) -> None:
    """Select the Keras backend; must run before ``keras`` is imported."""
    if backend:
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != backend:
            raise ValueError(f"backend={backend!r} must be chosen before keras is imported")
        os.environ["KERAS_BACKEND"] = backend


def start_tensorflow() -> None:
    """Import TensorFlow (when installed) with its C++ start-up logging silenced and its
    oneDNN CPU kernels on.

    TensorFlow turns oneDNN on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX; on the
    AVX2 machines it leaves off, oneDNN trains ``lenet5_modern`` 2x to 3.4x as fast
    (``python -m benchmarks.throughput``). An explicit ``TF_ENABLE_ONEDNN_OPTS`` in the
    environment wins, as does ``TF_CPP_MIN_LOG_LEVEL``; ``DLKIT_VERBOSE_TF=1`` shows the
    start-up log and TensorFlow's Python warnings. A sweep builds a fresh model per run in
    one process, so Keras's compiled step is traced once per run by design; TensorFlow's
    "triggered tf.function retracing" advice is about loops that should not retrace, so
    its logger shows errors only.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if os.environ.get("DLKIT_VERBOSE_TF"):
        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # CUDA probing logs here, silenced
            tf.get_logger().setLevel("ERROR")
        except ImportError:
            pass
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
