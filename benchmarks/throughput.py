"""Training throughput of ``lenet5_modern`` on 28x28x1 inputs, batch 128: dlkit under
TensorFlow and JAX against the same network and optimizer in PyTorch, plus the fraction of
the machine's measured matrix-multiply peak that training reaches. The "plain keras" rows
train the same network built from Keras's own layers and Adam, in the same process as the
dlkit row above them and alternating with it (ABBA): they separate what dlkit costs from
what Keras costs. The "raw jax" row is the same network and Adam written
directly in ``jax.lax`` (no Keras): the ceiling of the JAX backend on this machine. The
"oneDNN off" row is TensorFlow as it starts on AVX2 CPUs without the suite's
``TF_ENABLE_ONEDNN_OPTS=1`` (see ``experiments.tf_startup``).

    python -m benchmarks.throughput [--rounds 5] [--samples 8192] [--epochs 3]
    [--processes tensorflow,cli,onednn-off,jax,raw-jax,pytorch]

The "CLI" row is the other path users take: ``python -m experiments.run
model=lenet5_modern dataset=mnist dataset.path=<npz> trainer.batch_size=128`` on a local
MNIST-format ``.npz`` of the same random images (``--samples`` training images; the CLI
holds out 10% for validation), its rate read from the run's own ``history.csv`` (training
images over the median ``epoch_time_s`` after the first epoch: the time a user sees per
epoch, validation and the per-epoch files included).

Each backend trains in its own process (a Keras backend is fixed per process); the
rounds alternate the order of the processes. Training FLOPs are 6 x the forward
multiply-accumulates that ``dlkit.complexity`` counts (forward 2, backward 4). PyTorch
comes with the ``bench`` extra.
Target: TensorFlow and JAX at least 1.0x PyTorch.

Every Keras row comes twice: as compiled with Keras's default of one step per call (what
``model.compile`` gives a user who does not ask) and with the suite's default of 32 steps
per call (``trainer.steps_per_execution=auto``, what ``experiments.run`` compiles), dlkit
and the plain-Keras twin alike, so each pair compares the two at equal settings.

Under the table, two lines compare the TensorFlow training-step graphs of dlkit and the
plain-Keras twin op for op (``graph_census``): equal forward and backward passes mean the
same kernels on the same shapes on any CPU, so a gap between the two rows can only come
from the optimizer's update, whose extra ops the second line lists.
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


def lenet_and_adam(dlkit_model: bool, dlkit_adam: bool):
    """``lenet5_modern`` and Adam, each from dlkit or from Keras itself (the plain-Keras twin;
    Keras's Adam with epsilon 1e-8)."""
    import keras

    from dlkit import models, optimizers

    model = models.get("lenet5_modern", (28, 28, 1), 10) if dlkit_model else _plain_keras_lenet()
    optimizer = optimizers.get("adam") if dlkit_adam else keras.optimizers.Adam(epsilon=1e-8)
    return model, optimizer


def compiled_lenet(dlkit_model: bool, dlkit_adam: bool, steps: int):
    """``lenet_and_adam`` compiled with sparse cross entropy at ``steps`` steps per call."""
    model, optimizer = lenet_and_adam(dlkit_model, dlkit_adam)
    model.compile(optimizer, "sparse_categorical_crossentropy", steps_per_execution=steps)
    return model


def graph_census(model, optimizer, x, y):
    """The TensorFlow ops of one training step, as two multisets of (op type, output shape):
    the forward and backward pass (loss and gradients), and the optimizer's update.

    Constants, placeholders, identities and scalar ops are left out: what is counted is the
    work on tensors, the part whose cost depends on the CPU's kernels. Two programs with
    equal multisets run the same kernels on the same shapes on every CPU.
    """
    import collections

    import tensorflow as tf

    model.compile(optimizer, "sparse_categorical_crossentropy")
    variables = model.trainable_variables
    optimizer.build(variables)

    def gradients(xb, yb):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=xb, y=yb, y_pred=model(xb, training=True))
        return tape.gradient(loss, variables)

    def census(function, *args):
        graph = tf.function(function).get_concrete_function(*args).graph
        return collections.Counter(
            (op.type, tuple(op.outputs[0].shape)) for op in graph.get_operations()
            if op.outputs and op.outputs[0].shape.rank
            and op.type not in ("Const", "Placeholder", "Identity"))

    zeros = [tf.zeros_like(v) for v in variables]
    return (census(gradients, tf.constant(x), tf.constant(y)),
            census(lambda g: optimizer.apply(g, variables), zeros))


def census_lines(samples: int = 128) -> list[str]:
    """dlkit's ``lenet5_modern`` + Adam against the plain-Keras twin + Keras's Adam, op for
    op under TensorFlow: the part of "dlkit no slower than plain Keras" that holds on every
    CPU, whatever its kernels cost (the timed rows measure the rest on this one)."""
    import collections

    x, y = _data(samples)
    dlkit_pass, dlkit_update = graph_census(*lenet_and_adam(True, True), x, y)
    plain_pass, plain_update = graph_census(*lenet_and_adam(False, False), x, y)

    def differences(a, b):
        extra = collections.Counter(kind for kind, _ in (a - b).elements())
        return ", ".join(f"{n} {kind}" for kind, n in sorted(extra.items())) or "none"

    same = "identical" if dlkit_pass == plain_pass else "DIFFERENT"
    return [f"# train-step graph (TensorFlow), tensor ops: forward+backward dlkit "
            f"{sum(dlkit_pass.values())}, plain keras {sum(plain_pass.values())}, {same} "
            f"(dlkit extra: {differences(dlkit_pass, plain_pass)}; plain keras extra: "
            f"{differences(plain_pass, dlkit_pass)})",
            f"# optimizer update dlkit {sum(dlkit_update.values())}, plain keras "
            f"{sum(plain_update.values())} (dlkit extra: "
            f"{differences(dlkit_update, plain_update)}; plain keras extra: "
            f"{differences(plain_update, dlkit_update)})"]


# the row suffixes a keras worker fills, in the table's order: dlkit and the plain-Keras twin,
# each compiled with Keras's default of one step per call and with the suite's default
KERAS_ROWS = ("", ", plain keras", ", 32 steps per call", ", 32 steps per call, plain keras")


def keras_worker(samples: int, epochs: int) -> dict:
    """dlkit's ``lenet5_modern`` with dlkit's Adam and the plain-Keras twin with Keras's Adam
    in one process, each compiled twice: with ``steps_per_execution=1`` (Keras's default,
    what a user's own ``compile`` gets) and with the suite's ``auto``
    (``AUTO_STEPS_PER_EXECUTION`` steps per call, what ``experiments.run`` compiles). The
    four train in the order ABCDDCBA, ``epochs`` epochs each time; each rate is over both."""
    from experiments.tf_startup import start_tensorflow

    start_tensorflow()  # as `python -m experiments.run` starts TensorFlow
    import keras

    from dlkit import complexity
    from experiments.build import AUTO_STEPS_PER_EXECUTION

    x, y = _data(samples)
    trained = {}
    for steps, suffix in ((1, ""), (AUTO_STEPS_PER_EXECUTION,
                                    f", {AUTO_STEPS_PER_EXECUTION} steps per call")):
        trained[suffix] = compiled_lenet(True, True, steps)
        trained[f"{suffix}, plain keras"] = compiled_lenet(False, False, steps)
    assert tuple(trained) == KERAS_ROWS, "KERAS_ROWS names the steps per call: update it"
    seconds = dict.fromkeys(trained, 0.0)
    for model in trained.values():
        model.fit(x[:1024], y[:1024], batch_size=128, epochs=1, verbose=0)  # compile, warm up
    for name in [*trained, *reversed(trained)]:
        t0 = time.perf_counter()
        trained[name].fit(x, y, batch_size=128, epochs=epochs, verbose=0)
        seconds[name] += time.perf_counter() - t0
    return {"samples_per_s": {name: 2 * samples * epochs / t for name, t in seconds.items()},
            "macs": int(complexity.summary(trained[""]).iloc[-1]["macs"]),
            "backend": keras.backend.backend()}


def census_worker(samples: int, epochs: int) -> dict:
    """``census_lines`` under TensorFlow, started as the suite starts it (once per
    benchmark, after the timed rounds: it does not depend on them)."""
    from experiments.tf_startup import start_tensorflow

    start_tensorflow()
    return {"census": census_lines()}


def cli_worker(samples: int, epochs: int) -> dict:
    """``python -m experiments.run`` on a local MNIST-format .npz (TensorFlow, the CLI's
    default backend), ``epochs`` + 1 epochs; samples/s from its ``history.csv``."""
    import tempfile
    from pathlib import Path

    import pandas as pd

    x, y = _data(samples)
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "mnist.npz"
        images = (x[..., 0] * 255).astype("uint8")
        np.savez(npz, x_train=images, y_train=y, x_test=images[:1000], y_test=y[:1000])
        subprocess.run([sys.executable, "-m", "experiments.run", "model=lenet5_modern",
                        "dataset=mnist", f"dataset.path={npz}", "trainer.batch_size=128",
                        f"trainer.epochs={epochs + 1}", f"results_dir={tmp}/results",
                        "trainer.verbose=false"], check=True, capture_output=True,
                       cwd=Path(__file__).resolve().parents[1])
        (result,) = Path(tmp, "results").rglob("result.json")
        train = json.loads(result.read_text())["data"]["train"]
        times = pd.read_csv(result.parent / "history.csv")["epoch_time_s"].iloc[1:]
    return {"samples_per_s": train / float(times.median())}


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

    epoch(min(1024, samples))  # compile, warm up
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch(samples)
    return {"samples_per_s": samples * epochs / (time.perf_counter() - t0),
            "threads": torch.get_num_threads()}


def raw_jax_worker(samples: int, epochs: int) -> dict:
    """The same network and Adam (lr 1e-3, eps 1e-8) in ``jax.lax``, one jitted step."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    x, y = _data(samples)
    rng = np.random.default_rng(0)
    shapes = {"c1": (5, 5, 1, 6), "c3": (5, 5, 6, 16), "f5": (400, 120), "f6": (120, 84),
              "out": (84, 10)}
    params = {name: (jnp.asarray(rng.normal(0, 0.1, shape).astype("float32")),
                     jnp.zeros(shape[-1], "float32")) for name, shape in shapes.items()}
    spec = ("NHWC", "HWIO", "NHWC")

    def pool(h):
        return lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def loss(p, xb, yb):
        h = lax.conv_general_dilated(xb, p["c1"][0], (1, 1), [(2, 2), (2, 2)],
                                     dimension_numbers=spec)
        h = pool(jax.nn.relu(h + p["c1"][1]))
        h = lax.conv_general_dilated(h, p["c3"][0], (1, 1), "VALID", dimension_numbers=spec)
        h = pool(jax.nn.relu(h + p["c3"][1])).reshape(xb.shape[0], -1)
        for name in ("f5", "f6"):
            h = jax.nn.relu(h @ p[name][0] + p[name][1])
        logp = jax.nn.log_softmax(h @ p["out"][0] + p["out"][1])
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

    @jax.jit
    def step(p, m, v, t, xb, yb):
        g = jax.grad(loss)(p, xb, yb)
        t = t + 1
        m = jax.tree.map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
        v = jax.tree.map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
        rate = 1e-3 * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        p = jax.tree.map(lambda w, a, b: w - rate * a / (jnp.sqrt(b) + 1e-8), p, m, v)
        return p, m, v, t

    state = [params, jax.tree.map(jnp.zeros_like, params),
             jax.tree.map(jnp.zeros_like, params), jnp.zeros((), "float32")]

    def epoch(n):
        perm = rng.permutation(n)
        for start in range(0, n, 128):
            idx = perm[start:start + 128]
            state[:] = step(*state, x[idx], y[idx])
        jax.block_until_ready(state[0])

    epoch(min(1024, samples))  # compile, warm up
    t0 = time.perf_counter()
    for _ in range(epochs):
        epoch(samples)
    return {"samples_per_s": samples * epochs / (time.perf_counter() - t0)}


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


def _run(kind: str, samples: int, epochs: int, backend: str | None = None,
         extra_env: dict | None = None) -> dict | None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(extra_env or {})}
    if backend:
        env["KERAS_BACKEND"] = backend
    proc = subprocess.run([sys.executable, "-m", "benchmarks.throughput", "--worker", kind,
                           "--samples", str(samples), "--epochs", str(epochs)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --processes key: (row label, worker, backend, extra environment); a keras worker fills
# KERAS_ROWS
PROCESSES = {
    "tensorflow": ("tensorflow", "keras", "tensorflow", None),
    "cli": ("tensorflow, CLI (experiments.run)", "cli", None, None),
    "onednn-off": ("tensorflow, oneDNN off", "keras", "tensorflow",
                   {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    "jax": ("jax", "keras", "jax", None),
    "raw-jax": ("raw jax", "raw_jax", None, None),
    "pytorch": ("pytorch", "torch", None, None)}


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--processes", default=",".join(PROCESSES),
                        help="which processes to time (default: all)")
    parser.add_argument("--worker", choices=["keras", "cli", "torch", "raw_jax", "census"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "keras":
        print(json.dumps(keras_worker(args.samples, args.epochs)))
        return 0
    if args.worker in ("cli", "torch", "raw_jax", "census"):
        worker = {"cli": cli_worker, "torch": torch_worker, "raw_jax": raw_jax_worker,
                  "census": census_worker}[args.worker]
        print(json.dumps(worker(args.samples, args.epochs)))
        return 0
    from benchmarks._timing import machine

    selected = args.processes.split(",")
    unknown = [key for key in selected if key not in PROCESSES]
    if unknown or args.rounds < 1 or args.samples < 1 or args.epochs < 1:
        print(f"error: --processes takes {','.join(PROCESSES)} (got {args.processes!r}); "
              f"--rounds, --samples, --epochs positive ints (got {args.rounds}, "
              f"{args.samples}, {args.epochs})", file=sys.stderr)
        return 2
    processes = [PROCESSES[key] for key in PROCESSES if key in selected]
    rows = [name + suffix for name, kind, _, _ in processes
            for suffix in (KERAS_ROWS if kind == "keras" else ("",))]
    samples = {name: [] for name in rows}
    macs = None
    for round_index in range(args.rounds):
        order = processes if round_index % 2 == 0 else processes[::-1]
        for name, kind, backend, extra_env in order:
            out = _run(kind, args.samples, args.epochs, backend, extra_env)
            if out is None:
                continue
            rates = out["samples_per_s"]
            if isinstance(rates, dict):
                for suffix, rate in rates.items():
                    samples[name + suffix].append(rate)
            else:
                samples[name].append(rates)
            macs = out.get("macs", macs)
    census = (_run("census", args.samples, args.epochs, "tensorflow") or {}).get("census", [])
    peak = matmul_peak()
    print(f"# lenet5_modern, 28x28x1, batch 128, Adam; median of {args.rounds} rounds; "
          f"{machine().rsplit(',', 1)[0]}")
    print(f"# matmul peak (numpy float32 2048^2): {peak:.1f} GFLOP/s; forward MACs per "
          f"sample: {macs}")
    print(f"{'framework':<56}{'samples/s':>10}{'vs pytorch':>12}{'% of peak':>11}")
    base = statistics.median(samples["pytorch"]) if samples.get("pytorch") else None
    for name in rows:
        if not samples[name]:
            print(f"{name:<56}{'unavailable':>10}")
            continue
        rate = statistics.median(samples[name])
        ratio = f"{rate / base:.2f}x" if base else "-"
        fraction = f"{100 * rate * 6 * macs / 1e9 / peak:.1f}%" if macs else "-"
        print(f"{name:<56}{rate:>10.0f}{ratio:>12}{fraction:>11}")
    print("\n".join(census))
    return 0


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("throughput", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
