"""dlkit against plain Keras, crossed: which of the two pieces a gap between the throughput
benchmark's "tensorflow" and "tensorflow, plain keras" rows comes from, if any.

    python -m benchmarks.keras_twin [--steps-per-execution 1] [--rounds 8]

Four programs train ``lenet5_modern`` on the throughput benchmark's 28x28x1 images (batch
128) in one TensorFlow process, started as ``experiments.run`` starts it: dlkit's model or
the plain-Keras twin (Keras's own layers, ``same`` padding), each with dlkit's Adam or
Keras's (epsilon 1e-8). Every round fits each of the four for ``--epochs`` epochs, the
order reversed every other round (ABCD DCBA ...), so load on a shared machine hits them
alike. The table prints each program's samples/s per round, its median, and the median
against the twin with Keras's Adam; the last line is the median over rounds of the paired
ratio dlkit/dlkit : plain/plain, the two programs adjacent in time in each round. "best"
is each program's fastest round: on a shared host load only ever slows a round down, and
the rounds here fall on a few discrete levels (the host taking part of the second core),
where the median of a few rounds can land on different levels for two programs of the
same speed; the best round and the paired ratio do not.
A gap that follows the model column is the layers', one that follows the optimizer column
the update's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from benchmarks.throughput import _data, compiled_lenet

PROGRAMS = ("dlkit model, dlkit adam", "dlkit model, keras adam",
            "plain model, dlkit adam", "plain model, keras adam")


def measure(steps: int, rounds: int, samples: int, epochs: int) -> dict[str, list[float]]:
    """Samples/s of each program in each round, alternating as the module says."""
    x, y = _data(samples)
    programs = {name: compiled_lenet(name.startswith("dlkit model"), name.endswith("dlkit adam"),
                                     steps) for name in PROGRAMS}
    for model in programs.values():  # trace, compile, warm up
        model.fit(x[:1024], y[:1024], batch_size=128, epochs=1, verbose=0)
    rates = {name: [] for name in PROGRAMS}
    for round_index in range(rounds):
        for name in PROGRAMS if round_index % 2 == 0 else PROGRAMS[::-1]:
            t0 = time.perf_counter()
            programs[name].fit(x, y, batch_size=128, epochs=epochs, verbose=0)
            rates[name].append(samples * epochs / (time.perf_counter() - t0))
    return rates


def table(rates: dict[str, list[float]]) -> list[str]:
    base = statistics.median(rates[PROGRAMS[-1]])
    best_base = max(rates[PROGRAMS[-1]])
    lines = [f"{'program':<26}{'median':>8}{'vs plain':>10}{'best':>8}{'vs plain':>10}  "
             "samples/s per round"]
    for name, values in rates.items():
        median, best = statistics.median(values), max(values)
        lines.append(f"{name:<26}{median:>8.0f}{median / base:>9.3f}x{best:>8.0f}"
                     f"{best / best_base:>9.3f}x  " + " ".join(f"{v:.0f}" for v in values))
    paired = statistics.median(a / b for a, b in zip(rates[PROGRAMS[0]], rates[PROGRAMS[-1]]))
    lines.append(f"# median paired ratio dlkit model + dlkit adam : plain model + keras adam "
                 f"= {paired:.3f}x over {len(rates[PROGRAMS[0]])} rounds")
    return lines


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.keras_twin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    for flag in ("steps_per_execution", "rounds", "samples", "epochs"):
        if getattr(args, flag) < 1:
            print(f"error: --{flag.replace('_', '-')}={getattr(args, flag)}; accepted: an "
                  "integer >= 1", file=sys.stderr)
            return 2
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        print(f"error: KERAS_BACKEND={os.environ['KERAS_BACKEND']}; this benchmark compares "
              "TensorFlow programs, accepted: tensorflow", file=sys.stderr)
        return 2
    from experiments.tf_startup import start_tensorflow

    start_tensorflow()
    from benchmarks._timing import machine

    steps = args.steps_per_execution
    rates = measure(steps, args.rounds, args.samples, args.epochs)
    print(f"# lenet5_modern, 28x28x1, batch 128, {steps} step{'s' * (steps != 1)} per call, "
          f"{args.epochs} epochs of {args.samples} a round, {args.rounds} rounds; {machine()}")
    print("\n".join(table(rates)))
    return 0


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("keras_twin", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
