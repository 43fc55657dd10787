"""Shared timing helpers: compiled value-and-gradient per backend, alternating medians."""

from __future__ import annotations

import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def backend() -> str:
    import keras

    return keras.backend.backend()


def compiled_value_and_grad(fn):
    """A compiled ``x -> (fn(x), d fn / d x)`` for the active Keras backend."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=False)
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                value = fn(x)
            return value, tape.gradient(value, x)

        return step
    if name == "jax":
        import jax

        return jax.jit(jax.value_and_grad(fn))
    def step(x):
        x = x.detach().requires_grad_(True)
        value = fn(x)
        value.backward()
        return value, x.grad

    return step


def block(out):
    """Wait for asynchronous results (JAX) before the clock stops."""
    if hasattr(out, "block_until_ready"):
        out.block_until_ready()
    elif isinstance(out, (tuple, list)):
        for item in out:
            block(item)
    return out


def alternate(candidates: dict, repeats: int = 30, inner: int = 10) -> dict:
    """Median seconds per call of each candidate, measured in turn (A, B, A, B, …) so that
    load on a shared machine hits all of them alike."""
    for fn in candidates.values():  # compile and warm up
        for _ in range(3):
            block(fn())
    samples = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                out = fn()
            block(out)
            samples[name].append((time.perf_counter() - t0) / inner)
    return {name: statistics.median(values) for name, values in samples.items()}


def machine() -> str:
    """The CPU's model name, its widest vector instructions (two machines sold under one
    name, an AVX2 and an AVX-512 AMD EPYC, differ 1.4x in matmul peak here), the cores and
    the Keras backend."""
    cpu, flags = None, set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:  # the first processor's lines
                if line.startswith("model name") and cpu is None:
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    cpu = cpu or platform.processor() or platform.machine()
    vector = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"))
                   if flag in flags), None)
    cpu = f"{cpu} ({vector})" if vector else cpu
    return f"{cpu}, {os.cpu_count()} cores, Keras backend {backend()}"
