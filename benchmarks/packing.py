"""Packing K small runs into one compiled program: runs per minute against one run at a
time, and how far the packed runs' histories are from their separate twins.

    python -m benchmarks.packing [--runs 16] [--epochs 2] [--rounds 3]

K runs of the default MLP on digits (2 hidden layers of 64, ReLU, Adam 1e-3, batch 32,
cross entropy), seeds 0..K-1, trained two ways in one warm process:

- separate: one model and one ``fit`` per run, one after another (what Hydra's basic
  launcher does inside its process, without the run folders' files);
- packed: one Keras model holding the K networks side by side, each with its own input
  (its own seed's split and batch order), output and loss. Keras sums the K losses, so the
  gradient each network gets is its own loss's, and Adam's per-element state keeps the runs
  apart; one ``fit`` trains all K.

Each network is built right after ``keras.utils.set_random_seed(seed)``, as a separate run
builds it, so both start from the same weights. Prints the medians over ``--rounds``
alternating rounds and the largest difference between a packed run's final weights and its
separate twin's (0 when packing changes nothing a run computes).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import numpy as np


def _order(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def _network(seed: int, dataset):
    import keras

    from dlkit import models

    keras.utils.set_random_seed(seed)
    return models.get("mlp", dataset.input_shape, 10, output_activation="softmax")


def _datasets(seeds):
    from dlkit import data

    return {seed: data.load("digits", seed=seed) for seed in seeds}


def separate(seeds, sets, epochs, batch=32) -> tuple[float, dict]:
    """One model and fit per run; returns seconds and {seed: final weights}."""
    import keras

    from dlkit import losses, optimizers

    histories = {}
    t0 = time.perf_counter()
    for seed in seeds:
        keras.backend.clear_session()
        ds = sets[seed]
        model = _network(seed, ds)
        model.compile(optimizer=optimizers.get("adam", learning_rate=1e-3),
                      loss=losses.get("cross_entropy"), metrics=["accuracy"])
        n = len(ds.x_train)

        def batches(ds=ds, seed=seed, n=n):
            for epoch in range(epochs):
                order = _order(seed, epoch, n)
                x, y = ds.x_train[order], ds.y_train[order]
                for i in range(0, n, batch):
                    yield x[i:i + batch], y[i:i + batch]

        model.fit(batches(), steps_per_epoch=math.ceil(n / batch), epochs=epochs,
                  validation_data=(ds.x_val, ds.y_val), verbose=0, shuffle=False)
        histories[seed] = model.get_weights()
    return time.perf_counter() - t0, histories


def packed(seeds, sets, epochs, batch=32) -> tuple[float, dict]:
    """The K networks in one model and one fit; returns seconds and {seed: final weights}."""
    import keras

    from dlkit import losses, optimizers

    t0 = time.perf_counter()
    start = {}
    for seed in seeds:  # each network's initial weights exactly as its separate run draws them
        keras.backend.clear_session()
        start[seed] = _network(seed, sets[seed]).get_weights()
    keras.backend.clear_session()
    nets = []
    for seed in seeds:
        net = _network(seed, sets[seed])
        net.set_weights(start[seed])
        nets.append(keras.Model(net.inputs, net.outputs, name=f"run_{seed}"))
    inputs = [keras.Input(sets[s].input_shape, name=f"x_{s}") for s in seeds]
    model = keras.Model(inputs, [net(x) for net, x in zip(nets, inputs)], name="packed")
    model.compile(optimizer=optimizers.get("adam", learning_rate=1e-3),
                  loss=[losses.get("cross_entropy") for _ in seeds],
                  metrics=[["accuracy"] for _ in seeds])
    n = len(sets[seeds[0]].x_train)
    if any(len(sets[s].x_train) != n for s in seeds):
        raise ValueError("packed runs need training sets of one size")

    def batches():
        for epoch in range(epochs):
            orders = [_order(s, epoch, n) for s in seeds]
            xs = [sets[s].x_train[o] for s, o in zip(seeds, orders)]
            ys = [sets[s].y_train[o] for s, o in zip(seeds, orders)]
            for i in range(0, n, batch):
                yield tuple(x[i:i + batch] for x in xs), tuple(y[i:i + batch] for y in ys)

    val = (tuple(sets[s].x_val for s in seeds), tuple(sets[s].y_val for s in seeds))
    model.fit(batches(), steps_per_epoch=math.ceil(n / batch), epochs=epochs,
              validation_data=val, verbose=0, shuffle=False)
    seconds = time.perf_counter() - t0
    return seconds, {seed: net.get_weights() for seed, net in zip(seeds, nets)}


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.packing")
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from experiments.tf_startup import start_tensorflow

    start_tensorflow()
    import keras

    from benchmarks._timing import machine

    seeds = list(range(args.runs))
    sets = _datasets(seeds)
    packed(seeds[:2], sets, 1)  # warm-up: imports and first traces, not counted
    separate(seeds[:2], sets, 1)
    times = {"separate": [], "packed": []}
    for _ in range(args.rounds):
        for name, fn in (("separate", separate), ("packed", packed)):
            seconds, hist = fn(seeds, sets, args.epochs)
            times[name].append(seconds)
            if name == "separate":
                alone = hist
            else:
                together = hist
    gap = max(float(np.abs(a - b).max()) for s in seeds for a, b in zip(alone[s], together[s]))
    print(f"# {args.runs} runs of the default MLP on digits, {args.epochs} epochs each, "
          f"backend {keras.backend.backend()}, median of {args.rounds} alternating rounds; "
          f"{machine()}")
    print(f"{'way':<12}{'wall (s)':>10}{'runs/min':>10}")
    for name, values in times.items():
        wall = statistics.median(values)
        print(f"{name:<12}{wall:>10.2f}{args.runs * 60 / wall:>10.1f}")
    ratio = statistics.median(times["separate"]) / statistics.median(times["packed"])
    print(f"packed / separate throughput: {ratio:.2f}x")
    print(f"largest |weight packed - weight separate| after training, over all runs: {gap:.2e}")
    return 0


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("packing", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
