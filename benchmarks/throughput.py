"""Training throughput of ``lenet5_modern`` on 28x28x1 inputs, batch 128: dlkit under
TensorFlow and JAX against the same network and optimizer in PyTorch, plus the fraction of
the machine's measured matrix-multiply peak that training reaches. The "plain keras" rows
train the same network built from Keras's own layers and Adam: they separate what dlkit
costs from what Keras costs.

    python -m benchmarks.throughput [--rounds 3] [--samples 8192] [--epochs 3]

Each framework trains in its own process (a Keras backend is fixed per process); the
rounds alternate the order. Training FLOPs are 6 x the forward multiply-accumulates that
``dlkit.complexity`` counts (forward 2, backward 4). PyTorch comes with the ``bench`` extra.
Target: TensorFlow and JAX at least 1.0x PyTorch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def _data(samples: int):
    rng = np.random.default_rng(0)
    return (rng.uniform(size=(samples, 28, 28, 1)).astype("float32"),
            rng.integers(0, 10, size=samples))


def _plain_keras_lenet():
    """The same network from Keras's own layers (``same`` padding instead of dlkit's explicit
    padding list): separates dlkit's cost from Keras's."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(6, 5, padding="same", activation="relu"),
        layers.MaxPooling2D(2), layers.Conv2D(16, 5, activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"), layers.Dense(10, activation="softmax")])


def keras_worker(samples: int, epochs: int, plain: bool = False) -> dict:
    import keras

    from dlkit import complexity, models, optimizers

    x, y = _data(samples)
    if plain:
        model = _plain_keras_lenet()
        model.compile(keras.optimizers.Adam(epsilon=1e-8), "sparse_categorical_crossentropy")
    else:
        model = models.get("lenet5_modern", (28, 28, 1), 10)
        model.compile(optimizers.get("adam"), "sparse_categorical_crossentropy")
    model.fit(x[:1024], y[:1024], batch_size=128, epochs=1, verbose=0)  # compile, warm up
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - t0
    macs = int(complexity.summary(model).iloc[-1]["macs"])
    return {"samples_per_s": samples * epochs / seconds, "macs": macs,
            "backend": keras.backend.backend()}


def torch_worker(samples: int, epochs: int) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(0)
    x, y = _data(samples)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy(y)
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                          nn.Linear(84, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()

    def epoch(n):
        perm = torch.randperm(n)
        for start in range(0, n, 128):
            idx = perm[start:start + 128]
            optimizer.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()

    epoch(1024)
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch(samples)
    return {"samples_per_s": samples * epochs / (time.perf_counter() - t0),
            "threads": torch.get_num_threads()}


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """Float32 GFLOP/s of numpy's matrix multiply on this machine (best of ``repeats``)."""
    a = np.random.default_rng(0).normal(size=(size, size)).astype("float32")
    best = 0.0
    a @ a
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ a
        best = max(best, 2 * size**3 / (time.perf_counter() - t0) / 1e9)
    return best


def _run(kind: str, samples: int, epochs: int, backend: str | None = None) -> dict | None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if backend:
        env["KERAS_BACKEND"] = backend
    proc = subprocess.run([sys.executable, "-m", "benchmarks.throughput", "--worker", kind,
                           "--samples", str(samples), "--epochs", str(epochs)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--worker", choices=["keras", "keras_plain", "torch"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker in ("keras", "keras_plain"):
        print(json.dumps(keras_worker(args.samples, args.epochs, args.worker == "keras_plain")))
        return
    if args.worker == "torch":
        print(json.dumps(torch_worker(args.samples, args.epochs)))
        return
    from benchmarks._timing import machine

    candidates = [("tensorflow", "keras", "tensorflow"),
                  ("tf, plain keras", "keras_plain", "tensorflow"), ("jax", "keras", "jax"),
                  ("jax, plain keras", "keras_plain", "jax"), ("pytorch", "torch", None)]
    samples = {name: [] for name, _, _ in candidates}
    macs = None
    for round_index in range(args.rounds):
        order = candidates if round_index % 2 == 0 else candidates[::-1]
        for name, kind, backend in order:
            out = _run(kind, args.samples, args.epochs, backend)
            if out is None:
                continue
            samples[name].append(out["samples_per_s"])
            macs = out.get("macs", macs)
    peak = matmul_peak()
    print(f"# lenet5_modern, 28x28x1, batch 128, Adam; median of {args.rounds} rounds; "
          f"{machine().rsplit(',', 1)[0]}")
    print(f"# matmul peak (numpy float32 2048^2): {peak:.1f} GFLOP/s; forward MACs per "
          f"sample: {macs}")
    print(f"{'framework':<18}{'samples/s':>12}{'vs pytorch':>12}{'% of peak':>11}")
    base = statistics.median(samples["pytorch"]) if samples["pytorch"] else None
    for name, _, _ in candidates:
        if not samples[name]:
            print(f"{name:<18}{'unavailable':>12}")
            continue
        rate = statistics.median(samples[name])
        ratio = f"{rate / base:.2f}x" if base else "-"
        fraction = 100 * rate * 6 * macs / 1e9 / peak if macs else float("nan")
        print(f"{name:<18}{rate:>12.0f}{ratio:>12}{fraction:>10.1f}%")


if __name__ == "__main__":
    main()
