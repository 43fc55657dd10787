"""Median train-step time, each dlkit optimizer against its Keras twin, and the cost of
``trainer.diagnostics``.

    python -m benchmarks.optimizers [--repeats 20]

The same small CNN (two 3x3 convolutions, 8x8x1 inputs, batch 64) is trained with each
optimizer; the pair is timed alternately in one process. Targets: ratio <= 1.05 under
TensorFlow; diagnostics <= 10% of epoch time.
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks._timing import alternate, machine

SETTINGS = {
    "sgd": ("SGD", {"learning_rate": 0.01}, {"momentum": 0.0}),
    "momentum": ("SGD", {"learning_rate": 0.01, "momentum": 0.9}, {}),
    "nesterov": ("SGD", {"learning_rate": 0.01, "momentum": 0.9}, {"nesterov": True}),
    "adagrad": ("Adagrad", {"learning_rate": 0.01}, {}),
    "adadelta": ("Adadelta", {"learning_rate": 1.0}, {}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.001}, {}),
    "adam": ("Adam", {"learning_rate": 0.001}, {}),
    "adamax": ("Adamax", {"learning_rate": 0.002}, {}),
    "nadam": ("Nadam", {"learning_rate": 0.001}, {}),
}


def _model(optimizer, seed=0):
    import keras

    from dlkit import models

    keras.utils.set_random_seed(seed)
    model = models.get("cnn", (8, 8, 1), 10)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args(argv)
    import keras

    from dlkit import data, optimizers

    ds = data.load("digits")
    x, y = ds.x_train[:64], ds.y_train[:64]
    print(f"# train step, cnn on 8x8x1, batch 64; {machine()}")
    print(f"{'optimizer':<12}{'dlkit (ms)':>12}{'keras (ms)':>12}{'ratio':>8}")
    worst = 0.0
    for name, (cls, hyper, extra) in SETTINGS.items():
        ours = _model(optimizers.get(name, **hyper))
        theirs = _model(getattr(keras.optimizers, cls)(**hyper, **extra))
        times = alternate({"dlkit": lambda m=ours: m.train_on_batch(x, y),
                           "keras": lambda m=theirs: m.train_on_batch(x, y)},
                          repeats=args.repeats, inner=5)
        ratio = times["dlkit"] / times["keras"]
        worst = max(worst, ratio)
        print(f"{name:<12}{times['dlkit'] * 1e3:>12.3f}{times['keras'] * 1e3:>12.3f}"
              f"{ratio:>8.3f}")
    print(f"worst ratio {worst:.3f} (target <= 1.05)")

    # diagnostics: one epoch of digits (1,257 samples, batch 32) plus the end-of-epoch read
    print("\n# diagnostics cost per epoch (digits, cnn, batch 32, adam)")
    off = _model(optimizers.get("adam"))
    on = _model(optimizers.get("adam", track_diagnostics=True))

    def epoch(model, read):
        model.fit(ds.x_train, ds.y_train, batch_size=32, epochs=1, verbose=0, shuffle=False)
        if read:
            model.optimizer.diagnostics(model.trainable_variables)

    times = alternate({"off": lambda: epoch(off, False), "on": lambda: epoch(on, True)},
                      repeats=max(5, args.repeats // 2), inner=1)
    t0 = time.perf_counter()
    on.optimizer.diagnostics(on.trainable_variables)
    read = time.perf_counter() - t0
    print(f"{'epoch off (s)':<20}{times['off']:>10.4f}")
    print(f"{'epoch on (s)':<20}{times['on']:>10.4f}")
    print(f"{'of which read (s)':<20}{read:>10.4f}")
    print(f"diagnostics cost {100 * (times['on'] / times['off'] - 1):.1f}% of epoch time "
          "(target <= 10%)")


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("optimizers", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
