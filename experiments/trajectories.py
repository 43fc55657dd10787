"""Every dlkit optimizer on two-variable test functions, drawn on contour plots.

    python -m experiments.trajectories [--steps 200] [--out results/trajectories]

Writes ``trajectories.csv`` (optimizer, function, step, x, y, f), one PNG per function and,
when TensorFlow is installed, the same pictures as TensorBoard images in ``tensorboard/``.
The paths come from the optimizers' own ``update_step`` (the code networks train with),
fed with the functions' exact gradients.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def run_path(optimizer_name: str, function, steps: int) -> pd.DataFrame:
    """The path of one optimizer on one test function, ``steps`` updates long."""
    import keras

    from dlkit import optimizers

    facts = optimizers.REGISTRY.facts(optimizer_name)
    lr = function.lr_adaptive if facts["adaptive"] else function.lr_plain
    if facts["rate_free"]:
        lr = 1.0  # Adadelta: the rate is part of the method (its unit-correcting ratio)
    optimizer = optimizers.get(optimizer_name, learning_rate=lr)
    point = keras.Variable(np.array(function.start, dtype="float64"), dtype="float64")
    rows = []
    for step in range(steps + 1):
        x, y = (float(v) for v in keras.ops.convert_to_numpy(point))
        rows.append({"optimizer": optimizer_name, "function": function.name, "step": step,
                     "x": x, "y": y, "f": float(function.f(x, y)), "learning_rate": lr})
        (x0, x1), (y0, y1) = function.bounds
        escaped = not (2 * x0 - x1 <= x <= 2 * x1 - x0 and 2 * y0 - y1 <= y <= 2 * y1 - y0)
        if step == steps or not np.isfinite(rows[-1]["f"]) or escaped:
            break  # the path has left the picture (a saddle, or a divergent rate)
        gradient = keras.ops.convert_to_tensor(function.grad(x, y), dtype="float64")
        optimizer.apply_gradients([(gradient, point)])
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.trajectories",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", default="results/trajectories")
    parser.add_argument("--functions", default="ravine,rosenbrock,beale,saddle")
    args = parser.parse_args(argv)
    from experiments.tf_startup import start_tensorflow

    start_tensorflow()
    from dlkit import optimizers
    from dlkit.analysis import figures
    from dlkit.testfunctions import FUNCTIONS
    from experiments.tensorboard_log import TensorBoardLog

    if args.steps <= 0:
        print(f"error: --steps must be a positive int, got {args.steps}", file=sys.stderr)
        return 2
    names = args.functions.split(",")
    unknown = [n for n in names if n not in FUNCTIONS]
    if unknown:
        print(f"error: unknown function(s) {unknown}; valid: {', '.join(FUNCTIONS)}",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = pd.concat([run_path(o, FUNCTIONS[f], args.steps) for f in names
                       for o in optimizers.names()], ignore_index=True)
    paths.to_csv(out / "trajectories.csv", index=False)
    tensorboard = TensorBoardLog(out / "tensorboard")
    for step_index, name in enumerate(names):
        fn = FUNCTIONS[name]
        png = figures.trajectories(paths[paths["function"] == name], fn.f, fn.bounds,
                                   fn.minimum, out / f"{name}.png",
                                   f"{name}: {args.steps} steps from {fn.start}")
        if tensorboard.enabled:
            tf = tensorboard.tf
            image = tf.image.decode_png(tf.io.read_file(str(png)), channels=4)[None]
            with tensorboard._writer("").as_default():
                tf.summary.image(f"trajectories/{name}", image, step=step_index)
        final = paths[paths["function"] == name].groupby("optimizer").tail(1)
        print(f"{name}: final f " + ", ".join(f"{r.optimizer} {r.f:.3g}"
                                              for r in final.itertuples()))
        print(f"  figure {png}")
    tensorboard.close()
    print(f"paths -> {out / 'trajectories.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
