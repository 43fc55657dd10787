"""TensorFlow's two pack engines side by side, in-process as a claim trains its packs:
``P`` packs of ``K`` runs of the default MLP on digits (seeds x learning rates, as a claim's
tuning grid, final and control packs), each run started as a sweep starts it
(``experiments.pipeline.start``: data, model, run folder, TensorBoard log) and the pack
trained by ``experiments.packed.PackedLoop``:

- ``stateless``: one step, a pure function of the run's state, traced once for the
  architecture and shared by every run and every pack (the default);
- ``per-model``: each model's own Keras ``train_step`` traced into each pack's program
  (``PackedLoop(per_model=True)``, the engine for loss scaling and the earlier default).

    python -m benchmarks.pack_engines [--packs 4] [--runs 16] [--epochs 30] [--rounds 2]

Each engine trains in a fresh process (so neither inherits the other's traces); rounds
alternate the order. Prints the first pack's time (tracing included), the later packs'
median, and the whole, with the ratio per-model / stateless.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ENGINES = ("stateless", "per-model")


def worker(engine: str, packs: int, runs: int, epochs: int) -> dict:
    from experiments.tf_startup import start_tensorflow

    start_tensorflow()
    from benchmarks.run_breakdown import _compose
    from experiments import pipeline
    from experiments.packed import PackedLoop

    rates = [0.0003, 0.001, 0.003, 0.01]
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in range(packs):
            t0 = time.perf_counter()
            loops = []
            for r in range(runs):
                cfg = pipeline.resolve(_compose(tmp, [
                    f"seed={p * runs + r}", f"optimizer.learning_rate={rates[r % len(rates)]}",
                    f"trainer.epochs={epochs}", "trainer.verbose=false"]))
                job = pipeline.start(cfg, pipeline.run_folder(cfg), False, f"run {r}", [])
                loops.append(job.loop)
            PackedLoop(loops, per_model=engine == "per-model").run()
            seconds.append(time.perf_counter() - t0)
    return {"seconds": seconds}


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pack_engines",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", type=int, default=4)
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.packs, args.runs - 1, args.epochs, args.rounds) < 1:
        print(f"error: --packs, --epochs and --rounds take positive ints and --runs at least 2 "
              f"(got {args.packs}, {args.runs}, {args.epochs}, {args.rounds})", file=sys.stderr)
        return 2
    if args.worker:
        print(json.dumps(worker(args.worker, args.packs, args.runs, args.epochs)))
        return 0
    from benchmarks._timing import machine

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    times = {engine: [] for engine in ENGINES}
    for round_index in range(args.rounds):
        for engine in ENGINES if round_index % 2 == 0 else ENGINES[::-1]:
            out = subprocess.run([sys.executable, "-m", "benchmarks.pack_engines", "--worker",
                                  engine, "--packs", str(args.packs), "--runs", str(args.runs),
                                  "--epochs", str(args.epochs)], env=env, check=True,
                                 capture_output=True, text=True).stdout
            times[engine].append(json.loads(out.strip().splitlines()[-1])["seconds"])
    print(f"# {args.packs} packs of {args.runs} runs, default MLP on digits, {args.epochs} epochs, "
          f"in one process per engine, median of {args.rounds} alternating rounds; "
          f"{machine().rsplit(', Keras', 1)[0]}, TensorFlow")
    print(f"{'engine':<12}{'first pack (s)':>16}{'later packs (s)':>17}{'all (s)':>10}"
          f"{'runs/min':>10}")
    total = {}
    for engine in ENGINES:
        first = statistics.median(t[0] for t in times[engine])
        later = statistics.median(statistics.median(t[1:]) for t in times[engine]) \
            if args.packs > 1 else float("nan")
        total[engine] = statistics.median(sum(t) for t in times[engine])
        print(f"{engine:<12}{first:>16.2f}{later:>17.2f}{total[engine]:>10.1f}"
              f"{args.packs * args.runs * 60 / total[engine]:>10.1f}")
    print(f"per-model / stateless time: {total['per-model'] / total['stateless']:.2f}x")
    return 0


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("pack_engines", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
