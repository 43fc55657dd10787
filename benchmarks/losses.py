"""Median time of loss value + gradient, dlkit against Keras's built-in twin.

    python -m benchmarks.losses [--repeats 30]

A 4096 x 10 batch; each pair is timed alternately in one process. Target: ratio <= 1.10.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks._timing import alternate, compiled_value_and_grad, machine


def pairs():
    import keras

    from dlkit import losses

    return [
        ("mse", losses.get("mse"), keras.losses.MeanSquaredError(), "reg"),
        ("mae", losses.get("mae"), keras.losses.MeanAbsoluteError(), "reg"),
        ("msle", losses.get("msle"), keras.losses.MeanSquaredLogarithmicError(), "reg"),
        ("mape", losses.get("mape"), keras.losses.MeanAbsolutePercentageError(), "reg"),
        ("smooth_l1", losses.get("smooth_l1"), keras.losses.Huber(delta=1.0), "reg"),
        ("logistic", losses.get("logistic", from_logits=True),
         keras.losses.BinaryCrossentropy(from_logits=True), "binary"),
        ("cross_entropy", losses.get("cross_entropy", from_logits=True),
         keras.losses.CategoricalCrossentropy(from_logits=True), "onehot"),
        ("cross_entropy (sparse)", losses.get("cross_entropy", from_logits=True),
         keras.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
        ("nll (sparse)", losses.get("nll", from_logits=True),
         keras.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse"),
        ("hinge", losses.get("hinge"), keras.losses.Hinge(), "binary"),
    ]


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    from keras import ops

    rng = np.random.default_rng(0)
    n, m = 4096, 10
    pred = ops.convert_to_tensor(rng.normal(size=(n, m)).astype("float32"))
    targets = {
        "reg": rng.uniform(0.1, 2.0, size=(n, m)).astype("float32"),
        "binary": (rng.uniform(size=(n, m)) > 0.5).astype("float32"),
        "onehot": np.eye(m, dtype="float32")[rng.integers(0, m, n)],
        "sparse": rng.integers(0, m, n),
    }
    print(f"# loss value + gradient, batch {n}x{m}; {machine()}")
    print(f"{'loss':<24}{'dlkit (us)':>12}{'keras (us)':>12}{'ratio':>8}")
    worst = 0.0
    for name, ours, theirs, kind in pairs():
        y = ops.convert_to_tensor(targets[kind])
        f_ours = compiled_value_and_grad(lambda x, loss=ours, y=y: loss(y, x))
        f_keras = compiled_value_and_grad(lambda x, loss=theirs, y=y: loss(y, x))
        times = alternate({"dlkit": lambda f=f_ours: f(pred), "keras": lambda f=f_keras: f(pred)},
                          repeats=args.repeats)
        ratio = times["dlkit"] / times["keras"]
        worst = max(worst, ratio)
        print(f"{name:<24}{times['dlkit'] * 1e6:>12.1f}{times['keras'] * 1e6:>12.1f}"
              f"{ratio:>8.3f}")
    print(f"worst ratio {worst:.3f} (target <= 1.10)")


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("losses", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
