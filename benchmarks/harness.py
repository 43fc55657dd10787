"""Harness overhead: ``python -m experiments.run`` against a bare Keras script that trains
the same model on the same data for the same epochs, and the fixed cost of one run inside
a multirun.

    python -m benchmarks.harness [--repeats 3] [--epochs 30]

Part 1 times both programs as whole processes, alternately (TensorFlow import included in
both), twice: with TensorFlow's deterministic kernels in both (the suite's default,
``trainer.deterministic=true``) and without them in both, and with the suite's TensorFlow
start-up (oneDNN on, ``experiments.tf_startup``) in both, so that each pair does the same
arithmetic and the ratio is the harness alone. Part 2 runs, in one warm process, a
complete 1-epoch run through the suite (``experiments.lifecycle.execute``: data, model,
checkpoint, logs, evaluation, result files) against the bare equivalent (build, fit 1
epoch, evaluate), alternately; the difference of medians is the fixed cost per run.
Targets: ratio <= 1.10; fixed cost <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bare(epochs: int, seed: int = 0, deterministic: bool = False) -> float:
    """What a user would write with Keras alone: the default run's MLP on digits."""
    import keras

    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(seed)
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.15, random_state=seed,
                                                      stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.15 / 0.85,
                                                      random_state=seed, stratify=y_rest)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_data=(x_val, y_val),
              verbose=0)
    return float(model.evaluate(x_test, y_test, verbose=0)[1])


def _process(command, cwd) -> float:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def whole_processes(epochs: int, repeats: int, deterministic: bool) -> dict:
    flag = str(deterministic).lower()
    times = {"experiments.run": [], "bare keras": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            times["experiments.run"].append(_process(
                [sys.executable, "-m", "experiments.run", f"trainer.epochs={epochs}",
                 f"results_dir={tmp}", "trainer.resume=false", "trainer.verbose=false",
                 f"trainer.deterministic={flag}"], tmp))
            bare_args = ["--bare", str(epochs)] + (["--deterministic"] if deterministic else [])
            times["bare keras"].append(_process(
                [sys.executable, "-m", "benchmarks.harness", *bare_args], ROOT))
    return {k: statistics.median(v) for k, v in times.items()}


def fixed_cost(repeats: int) -> dict:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from experiments.lifecycle import execute

    with tempfile.TemporaryDirectory() as tmp, \
            initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        def suite(seed):
            cfg = compose("config", overrides=[f"seed={seed}", "trainer.epochs=1",
                                               f"results_dir={tmp}", "trainer.verbose=false"])
            execute(OmegaConf.to_container(cfg, resolve=True), verbose=False)

        times = {"suite run": [], "bare run": []}
        suite(1000)
        bare(1, 1000)  # warm both paths
        for seed in range(repeats):
            t0 = time.perf_counter()
            suite(seed)
            times["suite run"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            bare(1, seed)
            times["bare run"].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--deterministic", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from experiments.tf_startup import start_tensorflow

    start_tensorflow()
    if args.bare:
        bare(args.bare, deterministic=args.deterministic)
        return
    from benchmarks._timing import machine

    print(f"# default run (MLP on digits, {args.epochs} epochs), whole processes, median of "
          f"{args.repeats}; {machine()}")
    print(f"{'kernels':<16}{'experiments.run (s)':>21}{'bare keras (s)':>16}{'ratio':>8}")
    for deterministic in (True, False):
        whole = whole_processes(args.epochs, args.repeats, deterministic)
        ratio = whole["experiments.run"] / whole["bare keras"]
        label = "deterministic" if deterministic else "default TF"
        print(f"{label:<16}{whole['experiments.run']:>21.2f}{whole['bare keras']:>16.2f}"
              f"{ratio:>8.3f}")
    print("target: ratio <= 1.10")
    fixed = fixed_cost(max(5, args.repeats * 2))
    print("\n# one 1-epoch run inside a warm process (a multirun's per-run cost)")
    for name, seconds in fixed.items():
        print(f"{name:<20}{seconds:>10.3f}")
    print(f"fixed cost per run {fixed['suite run'] - fixed['bare run']:.3f} s (target <= 1 s)")


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("harness", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
