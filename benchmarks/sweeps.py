"""Sweep throughput through the real CLI: one 16-run sweep of the default MLP on digits,
run every way side by side in one invocation, in runs per minute (each way a fresh
``python -m experiments.run -m`` process, start-up included, as a user runs it).

    python -m benchmarks.sweeps [--sweep rates|activations] [--epochs N] [--rounds R]
                                [--ways basic-1step,basic,joblib,basic-jax,packed,packed-jax]
                                [--override K=V]

Sweeps:

- ``rates`` (default): 4 seeds x 4 learning rates, what the fair protocol runs for one
  arm (a tuning grid over seeds): one pack of 16 under ``hydra/sweeper=packed``;
- ``activations``: 4 seeds x 4 hidden activations (the sweep the earlier figure of
  11.2 runs/min was measured on): four packs of 4, one per activation.

Ways: ``basic-1step`` (Hydra's basic launcher, TensorFlow, one training step per call into
the compiled program: ``trainer.steps_per_execution=1``, the suite before
``steps_per_execution=auto``, the baseline), ``basic`` (the same with the default
``trainer.steps_per_execution=auto``), ``joblib`` (two
worker processes, TensorFlow), ``basic-jax`` (basic launcher under JAX), ``packed``
(``hydra/sweeper=packed``, TensorFlow) and ``packed-jax`` (the packed sweeper under JAX).
Rounds alternate the ways (A, B, C, D, A, …) and report medians, so load on a shared
machine hits every way alike.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

SWEEPS = {
    "rates": ["seed=0,1,2,3", "optimizer.learning_rate=0.0003,0.001,0.003,0.01"],
    "activations": ["seed=0,1,2,3", "activation=relu,tanh,sigmoid,leaky_relu"],
}
WAYS = {
    "basic-1step": ["trainer.steps_per_execution=1"],
    "basic": [],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "basic-jax": ["backend=jax"],
    "packed": ["hydra/sweeper=packed"],
    "packed-jax": ["hydra/sweeper=packed", "backend=jax"],
}


def sweep(way_args: list[str], sweep_args: list[str], epochs: int, extra=()) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "experiments.run", "-m", *way_args, *sweep_args,
                        f"trainer.epochs={epochs}", f"results_dir={tmp}",
                        "trainer.verbose=false", *extra], cwd=tmp, check=True, capture_output=True,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        return time.perf_counter() - t0


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweeps", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", choices=sorted(SWEEPS), default="rates")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="a Hydra override for every way (e.g. trainer.device=gpu)")
    args = parser.parse_args(argv)
    ways = args.ways.split(",")
    bad = [w for w in ways if w not in WAYS]
    if bad or args.epochs < 1 or args.rounds < 1:
        print(f"error: --ways takes {', '.join(WAYS)}; --epochs and --rounds positive ints "
              f"(got {args.ways!r}, {args.epochs}, {args.rounds})", file=sys.stderr)
        return 2
    from benchmarks._timing import machine

    times = {way: [] for way in ways}
    for round_index in range(args.rounds):
        for way in ways if round_index % 2 == 0 else ways[::-1]:
            times[way].append(sweep(WAYS[way], SWEEPS[args.sweep], args.epochs,
                                    args.override))
    runs = math.prod(len(a.split("=", 1)[1].split(",")) for a in SWEEPS[args.sweep])
    print(f"# {runs}-run sweep '{args.sweep}' ({' '.join(SWEEPS[args.sweep])}), default MLP on "
          f"digits, {args.epochs} epochs each, median of {args.rounds} alternating rounds; "
          f"{machine().rsplit(', Keras', 1)[0]}")
    print(f"{'way':<12}{'wall (s)':>10}{'runs/min':>10}  {'vs ' + ways[0]:>12}")
    base = statistics.median(times[ways[0]])
    for way in ways:
        wall = statistics.median(times[way])
        print(f"{way:<12}{wall:>10.1f}{runs * 60 / wall:>10.1f}{base / wall:>13.2f}x")
    return 0


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("sweeps", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
