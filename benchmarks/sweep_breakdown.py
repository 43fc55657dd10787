"""Where a packed sweep's time goes: the 16-run grid of ``benchmarks.sweeps`` (4 seeds x 4
learning rates of the default MLP on digits) through ``python -m experiments.run -m
hydra/sweeper=packed``, in a fresh process, with timers around its phases.

    python -m benchmarks.sweep_breakdown [--epochs 30] [--seeds 4] [--rates 4] [--backend B]

Prints each phase's seconds and calls (phases nest: indented rows are part of the row
above), the process's wall time from its start and the CPU. One sweep, one process: a
breakdown, not a comparison (``benchmarks.sweeps`` compares the ways side by side).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

RATES = ["0.0003", "0.001", "0.003", "0.01", "0.03", "0.1"]

# (module, attribute path, label): the phases, in the order they are printed
PHASES = [
    ("hydra._internal.config_loader_impl", "ConfigLoaderImpl.load_sweep_config",
     "Hydra composes a job's configuration"),
    ("experiments.packing", "train", "packing: every pack of the sweep"),
    ("experiments.lifecycle", "start", "  start runs (folder, data, network)"),
    ("experiments.build", "compiled_model", "    build and compile the network"),
    ("experiments.pack_engine", "PackedLoop.__init__", "  pack set-up (first: trace the step)"),
    ("experiments.pack_engine", "PackedLoop.run", "  train the pack (all epochs)"),
    ("experiments.pack_engine", "_TensorFlowStatelessPack.train", "    train epochs (TensorFlow)"),
    ("experiments.pack_engine", "_JaxPack.train", "    train epochs (JAX)"),
    ("experiments.pack_engine", "PackedLoop._evaluate_stacked", "    validation (and final)"),
    ("experiments.pack_engine", "_TensorFlowStatelessPack.sync", "    state into the models"),
    ("experiments.pack_engine", "_JaxPack.sync", "    state into the models (JAX)"),
    ("keras.callbacks", "CallbackList.on_epoch_end", "    per-run epoch end (files)"),
    ("dlkit.training.loop", "EpochLoop.save_checkpoint", "      checkpoint + state.json"),
    ("dlkit.training.callbacks", "HistoryCSV.on_epoch_end", "      history.csv"),
    ("experiments.tensorboard_log", "TensorBoardScalars.on_epoch_end",
     "      TensorBoard scalars"),
    ("experiments.lifecycle", "finish", "  finish runs (metrics, model.keras, result)"),
    ("hydra.core.utils", "run_job", "launcher pass (finds packed runs done)"),
]

CHILD = r"""
import importlib, json, os, runpy, sys, time
from benchmarks.run_breakdown import Timers
t_start, phases, backend = float(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
timers = Timers()
from experiments.tf_startup import set_backend, start_tensorflow
set_backend(backend)
t0 = time.perf_counter()
start_tensorflow()
import keras  # noqa: F401
timers.seconds["import TensorFlow and Keras"] = time.perf_counter() - t0
timers.calls["import TensorFlow and Keras"] = 1
for module, path, label in phases:
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    timers.wrap(owner, name, label)
import hydra.core.utils, hydra._internal.core_plugins.basic_launcher as basic
basic.run_job = hydra.core.utils.run_job  # the launcher imported it by name
sys.argv = ["experiments.run", *sys.argv[5:]]
try:
    runpy.run_module("experiments.run", run_name="__main__")
except SystemExit as stop:
    if stop.code:
        raise
with open(os.environ["DLKIT_BREAKDOWN_OUT"], "w") as f:
    json.dump({"seconds": timers.seconds, "calls": timers.calls,
               "wall": time.time() - t_start}, f)
"""


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep_breakdown",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--rates", type=int, default=4)
    parser.add_argument("--backend", default="tensorflow")
    args = parser.parse_args(argv)
    if args.epochs < 1 or not 1 <= args.seeds <= 100 or not 1 <= args.rates <= len(RATES) \
            or args.seeds * args.rates < 2 or args.backend not in ("tensorflow", "jax"):
        print(f"error: --epochs a positive int, --seeds 1-100, --rates 1-{len(RATES)} (at least "
              f"2 runs), --backend tensorflow or jax (got {args.epochs}, {args.seeds}, "
              f"{args.rates}, {args.backend!r})", file=sys.stderr)
        return 2
    import time
    from pathlib import Path

    from benchmarks._timing import machine

    sweep = [f"seed={','.join(str(s) for s in range(args.seeds))}",
             f"optimizer.learning_rate={','.join(RATES[:args.rates])}"]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "breakdown.json")
        phases = json.dumps([list(p) for p in PHASES])
        t_start = time.time()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(t_start), phases, args.backend, "--", "-m",
             "hydra/sweeper=packed", f"backend={args.backend}", *sweep,
             f"trainer.epochs={args.epochs}", f"results_dir={tmp}/results",
             "trainer.verbose=false"],
            cwd=tmp, capture_output=True, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "DLKIT_BREAKDOWN_OUT": out,
                 "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                               os.environ.get("PYTHONPATH", "")])})
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        with open(out) as f:
            data = json.load(f)
    runs = args.seeds * args.rates
    print(f"# packed sweep of {runs} runs ({' '.join(sweep)}), default MLP on digits, "
          f"{args.epochs} epochs, backend {args.backend}, one fresh process; "
          f"{machine().rsplit(', Keras', 1)[0]}")
    print(f"{'phase':<48}{'seconds':>9}{'calls':>7}")
    labels = ["import TensorFlow and Keras"] + [label for _, _, label in PHASES]
    for label in labels:
        if data["calls"].get(label):
            print(f"{label:<48}{data['seconds'][label]:>9.2f}{data['calls'][label]:>7}")
    print(f"{'whole process (from its start)':<48}{data['wall']:>9.2f}")
    return 0


def main(argv=None) -> int:
    """The benchmark; its table is also written as a record (``benchmarks/_record.py``)."""
    from benchmarks._record import run

    return run("sweep_breakdown", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
