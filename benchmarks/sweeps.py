"""Sweep throughput: a 16-run sweep with Hydra's basic launcher against the joblib launcher
(2 workers), in runs per minute, measured in one invocation.

    python -m benchmarks.sweeps [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def sweep(launcher_args: list[str], epochs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "experiments.run", "-m", *launcher_args,
                        "seed=0,1,2,3", "activation=relu,tanh,sigmoid,leaky_relu",
                        f"trainer.epochs={epochs}", f"results_dir={tmp}",
                        "trainer.verbose=false"], cwd=tmp, check=True, capture_output=True,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)
    from benchmarks._timing import machine

    results = {
        "basic": sweep([], args.epochs),
        "joblib (2 workers)": sweep(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
                                    args.epochs),
    }
    print(f"# 16-run sweep (MLP on digits, {args.epochs} epochs each); {machine()}")
    print(f"{'launcher':<20}{'wall (s)':>10}{'runs/min':>10}")
    for name, seconds in results.items():
        print(f"{name:<20}{seconds:>10.1f}{16 * 60 / seconds:>10.1f}")


if __name__ == "__main__":
    main()
