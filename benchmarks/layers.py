"""Forward plus backward time of dlkit's Conv2D (``same`` and explicit padding lists)
against Keras's ``Conv2D(padding="same")`` on a 64x32x32x32 batch. The symmetric list
``[[0,0],[1,1],[1,1],[0,0]]`` is ``same`` padding and runs as one convolution; the
asymmetric ``[[0,0],[0,2],[0,2],[0,0]]`` keeps the output size but needs the padding op.

    python -m benchmarks.layers [--repeats 20]

Target: ratio <= 1.15.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks._timing import alternate, compiled_value_and_grad, machine


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    import keras
    from keras import ops

    from dlkit import layers

    x = ops.convert_to_tensor(np.random.default_rng(0).normal(size=(64, 32, 32, 32))
                              .astype("float32"))
    candidates = {
        "keras same": keras.layers.Conv2D(32, 3, padding="same"),
        "dlkit same": layers.Conv2D(32, 3, padding="same"),
        "dlkit [1,1]": layers.Conv2D(32, 3, padding=[[0, 0], [1, 1], [1, 1], [0, 0]]),
        "dlkit [0,2]": layers.Conv2D(32, 3, padding=[[0, 0], [0, 2], [0, 2], [0, 0]]),
    }
    for layer in candidates.values():
        layer(x)
    weights = candidates["keras same"].get_weights()
    for layer in candidates.values():
        layer.set_weights(weights)
    steps = {name: compiled_value_and_grad(lambda inp, layer=layer: ops.sum(ops.square(
        layer(inp)))) for name, layer in candidates.items()}
    times = alternate({name: (lambda f=f: f(x)) for name, f in steps.items()},
                      repeats=args.repeats, inner=3)
    base = times["keras same"]
    print(f"# Conv2D 3x3, 32->32 channels, 64x32x32x32 input, forward + backward; {machine()}")
    print(f"{'layer':<16}{'median (ms)':>12}{'ratio':>8}")
    for name, seconds in times.items():
        print(f"{name:<16}{seconds * 1e3:>12.2f}{seconds / base:>8.3f}")
    worst = max(seconds for name, seconds in times.items() if name != "keras same") / base
    print(f"worst ratio {worst:.3f} (target <= 1.15)")


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("layers", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
