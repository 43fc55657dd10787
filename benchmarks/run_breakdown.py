"""Where a small run's time goes: start-up, data, model build, fit (first and later epochs,
per step), the per-epoch work (history, checkpoint, TensorBoard), evaluation and saving.

    python -m benchmarks.run_breakdown [--repeats 3] [--epochs N]

Runs ``experiments.lifecycle.execute`` in-process (as a sweep does) with timers wrapped around
its phases, for the default MLP on digits (30 epochs) and for LeNet-5 (modern) on the
5,000 real MNIST digits at 28x28 (5 epochs); prints the median of ``--repeats`` runs per phase
and the start-up cost of a fresh process (Python + TensorFlow + Keras import) measured in
subprocesses. Each case also runs with ``trainer.steps_per_execution=1`` (one training step
per call into the compiled program), alternating with the default, and prints its ``fit``
and whole-run times beside the default's.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager

CASES = {
    "mlp, digits, 30 epochs": ["trainer.epochs=30"],
    "lenet5_modern, mnist_5k, 5 epochs": ["model=lenet5_modern", "dataset=mnist_5k",
                                          "trainer.epochs=5", "trainer.batch_size=128"],
}


class Timers:
    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)

    def wrap(self, owner, name, label):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t0
                self.calls[label] += 1

        setattr(owner, name, timed)
        return original


@contextmanager
def instrumented(timers: Timers):
    """Timers around the phases of ``execute`` (restored afterwards)."""
    import keras

    from dlkit import data
    from dlkit.training import callbacks, loop
    from experiments import build, tensorboard_log

    targets = [(data, "load", "data load + split"),
               (build, "compiled_model", "model build + compile"),
               (loop.EpochLoop, "run", "fit (all epochs, incl. per-epoch work)"),
               (callbacks.EpochSummary, "on_epoch_end", "  per-epoch row (metrics, lr, time)"),
               (callbacks.HistoryCSV, "on_epoch_end", "  per-epoch history.csv"),
               (loop.EpochLoop, "save_checkpoint", "  per-epoch checkpoint + state.json"),
               (tensorboard_log.TensorBoardScalars, "on_epoch_end",
                "  per-epoch TensorBoard scalars"),
               (build, "evaluate", "evaluate train/val/test"),
               (keras.Model, "save", "save model.keras"),
               (tensorboard_log.TensorBoardLog, "hparams", "TensorBoard HParams")]
    originals = [(owner, name, timers.wrap(owner, name, label))
                 for owner, name, label in targets]
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def startup_seconds(repeats: int) -> float:
    code = "import tensorflow, keras, dlkit"
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_breakdown")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None,
                        help="every case's epochs (a dry run); default: each case's own")
    args = parser.parse_args(argv)
    from experiments.tf_startup import start_tensorflow

    start_tensorflow()
    from benchmarks._timing import machine
    from experiments.lifecycle import execute

    print(f"# where a run's time goes, execute() in a warm process, median of {args.repeats};"
          f" {machine()}")
    print(f"{'fresh process: python + tensorflow + keras + dlkit import':<58}"
          f"{startup_seconds(args.repeats):>8.2f} s")
    fit = "fit (all epochs, incl. per-epoch work)"
    for case, overrides in CASES.items():
        per_phase = defaultdict(list)
        totals, one_step, epoch_steps = [], defaultdict(list), None
        for repeat in range(args.repeats + 1):  # the first run warms caches, not counted
            # the default (steps_per_execution=auto) and one step per call, alternating
            for grouped in (True, False):
                extra = [] if grouped else ["trainer.steps_per_execution=1"]
                with tempfile.TemporaryDirectory() as tmp:
                    epochs = [f"trainer.epochs={args.epochs}"] if args.epochs else []
                    cfg = _compose(tmp, [*overrides, *extra, *epochs])
                    timers = Timers()
                    t0 = time.perf_counter()
                    with instrumented(timers):
                        result = execute(cfg, verbose=False)
                    total = time.perf_counter() - t0
                if not repeat:
                    continue
                if grouped:
                    totals.append(total)
                    for label, seconds in timers.seconds.items():
                        per_phase[label].append(seconds)
                else:
                    one_step[fit].append(timers.seconds[fit])
                    one_step["whole execute()"].append(total)
                epoch_steps = result.get("data", {}).get("train")
        print(f"\n## {case} (train examples {epoch_steps}; trainer.steps_per_execution=auto)")
        total = statistics.median(totals)
        for label, values in per_phase.items():
            value = statistics.median(values)
            print(f"{label:<58}{value:>8.3f} s {100 * value / total:>5.1f}%")
        print(f"{'whole execute()':<58}{total:>8.3f} s")
        for label, values in one_step.items():
            value = statistics.median(values)
            auto = statistics.median(per_phase[fit]) if label == fit else total
            print(f"{label + ', steps_per_execution=1':<58}{value:>8.3f} s  "
                  f"(auto {value / auto:.2f}x as fast)")
    return 0


def _compose(results_dir, overrides) -> dict:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from experiments.claims import CONF

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"results_dir={results_dir}",
                                           "trainer.verbose=false", *overrides])
    return OmegaConf.to_container(cfg, resolve=True)


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("run_breakdown", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
