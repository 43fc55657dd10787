"""What a run folder records about the software and the machine."""

from __future__ import annotations

import importlib.metadata
import os
import platform


def versions() -> dict:
    out = {"python": platform.python_version()}
    for package in ("dlkit", "keras", "tensorflow", "jax", "torch", "numpy", "hydra-core"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = None
    import keras

    out["keras_backend"] = keras.backend.backend()
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_names() -> list[str]:
    """The GPUs the active Keras backend sees (``keras.distribution.list_devices``)."""
    import keras

    try:
        return [str(d) for d in keras.distribution.list_devices("gpu")]
    except Exception:  # a device query must never fail a run
        return []


def hardware() -> dict:
    """The machine a run ran on, with the GPUs it could see (``CUDA_VISIBLE_DEVICES`` as set
    by the user, the cluster, or the suite's worker pinning; ``None`` when unset)."""
    return {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "gpus": gpu_names(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
