"""Optimizer paths on a quadratic ravine, as "runs" for the momentum claims.

The ravine is ``f(x, y) = (x² + κ y²) / 2``: curvature 1 along the floor (x) and κ across
it (y). A "run" is one path of a dlkit optimizer (its own ``update_step``, fed the exact
gradient) from a start point drawn from the seed; its ``steps`` table holds x, y and f per
step. Plain gradient descent multiplies the across-ravine error by (1 − ηκ) each step, so
near its stability limit ηκ = 2 it flips sign every step; heavy-ball momentum at the same
effective step η/(1 − β) turns that into a slow rotation of modulus √β.

``kappa_sweep`` measures the per-step convergence factor of both methods at their optimal
parameters against the theory: (κ − 1)/(κ + 1) for gradient descent at η = 2/(1 + κ), and
(√κ − 1)/(√κ + 1) for heavy ball at η = 4/(1 + √κ)², β = ((√κ − 1)/(√κ + 1))² (Polyak
1964).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd

from experiments.spec import CONF


def start_point(seed: int) -> tuple[float, float]:
    """A start on the ravine's wall: x in -[5, 10], y in ±[0.5, 1.5]."""
    rng = np.random.default_rng([seed, 7])
    return -float(rng.uniform(5, 10)), float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5))


def path(optimizer: str, learning_rate: float, start, kappa: float = 50.0, steps: int = 60,
         **kwargs) -> pd.DataFrame:
    """``steps`` updates of a dlkit optimizer on the ravine; stops early if f blows up."""
    import keras

    from dlkit import optimizers

    opt = optimizers.get(optimizer, learning_rate=learning_rate, **kwargs)
    point = keras.Variable(np.array(start, dtype="float64"), dtype="float64")
    rows = []
    for step in range(steps + 1):
        x, y = (float(v) for v in keras.ops.convert_to_numpy(point))
        f = 0.5 * (x * x + kappa * y * y)
        rows.append({"step": step, "x": x, "y": y, "f": f})
        if step == steps or not math.isfinite(f) or f > 1e12:
            break
        grad = keras.ops.convert_to_tensor(np.array([x, kappa * y]), dtype="float64")
        opt.apply_gradients([(grad, point)])
    return pd.DataFrame(rows)


class RavineRuns:
    """The ``Runs`` interface of ``experiments.claims.runs`` for ravine claims: overrides
    ``optimizer=…``, ``optimizer.learning_rate=…``, ``optimizer.momentum=…``, ``seed=…``,
    ``ravine.kappa=…``, ``ravine.steps=…``. Paths are deterministic and cheap: computed, not
    stored, in the runner and the report alike."""

    execute = True

    def __init__(self):
        self._cache = {}

    @staticmethod
    def _parse(overrides) -> dict:
        out = {"optimizer": "sgd", "kappa": 50.0, "steps": 60, "kwargs": {}}
        for item in overrides:
            key, _, value = item.partition("=")
            if key == "optimizer":
                out["optimizer"] = value
            elif key == "optimizer.learning_rate":
                out["learning_rate"] = float(value)
            elif key == "seed":
                out["seed"] = int(value)
            elif key == "ravine.kappa":
                out["kappa"] = float(value)
            elif key == "ravine.steps":
                out["steps"] = int(value)
            elif key.startswith("optimizer."):
                out["kwargs"][key.split(".", 1)[1]] = float(value)
            else:
                raise ValueError(f"ravine runs take optimizer, its keys, seed and ravine.*; "
                                 f"got {item!r}")
        return out

    def default_rate(self, preset, overrides, key):
        spec = self._parse(overrides)
        if "learning_rate" in spec:
            return spec["learning_rate"]
        import yaml

        conf = yaml.safe_load((CONF / "optimizer" / f"{spec['optimizer']}.yaml").read_text())
        return float(conf["learning_rate"])

    def get(self, preset, overrides):
        key = tuple(overrides)
        if key not in self._cache:
            spec = self._parse(overrides)
            steps = path(spec["optimizer"], spec["learning_rate"], start_point(spec["seed"]),
                         spec["kappa"], spec["steps"], **spec["kwargs"])
            ok = len(steps) == spec["steps"] + 1 and math.isfinite(steps["f"].iloc[-1])
            self._cache[key] = SimpleNamespace(status="completed" if ok else "diverged",
                                               steps=steps, history=pd.DataFrame(),
                                               metrics={}, path=None)
        return self._cache[key]


def measured_rate(steps: pd.DataFrame, skip: int = 20) -> float:
    """Per-step factor by which the distance to the minimum shrinks after ``skip`` steps."""
    r = np.hypot(steps["x"].to_numpy(), steps["y"].to_numpy() * 1.0)
    if len(r) <= skip + 1 or r[skip] <= 0 or r[-1] <= 0:
        return math.nan
    return float((r[-1] / r[skip]) ** (1.0 / (len(r) - 1 - skip)))


def kappa_sweep(kappas=(2, 5, 10, 20, 50, 100, 200, 500), steps=200) -> pd.DataFrame:
    """Measured and theoretical per-step convergence factors against the condition number."""
    rows = []
    for kappa in kappas:
        sk = math.sqrt(kappa)
        gd_lr = 2.0 / (1.0 + kappa)
        hb_lr, hb_beta = 4.0 / (1.0 + sk) ** 2, ((sk - 1.0) / (sk + 1.0)) ** 2
        start = (-5.0, 1.0)
        gd = path("sgd", gd_lr, start, kappa, steps)
        hb = path("momentum", hb_lr, start, kappa, steps, momentum=hb_beta)
        rows.append({"kappa": kappa, "gd_learning_rate": gd_lr, "hb_learning_rate": hb_lr,
                     "hb_momentum": hb_beta, "gd_measured": measured_rate(gd),
                     "gd_theory": (kappa - 1.0) / (kappa + 1.0),
                     "hb_measured": measured_rate(hb), "hb_theory": (sk - 1.0) / (sk + 1.0)})
    return pd.DataFrame(rows)


# gradient descent's rate times κ: below 1 it creeps down the wall without crossing the
# floor, between 1 and 2 it crosses at every step (2 is its stability limit)
REGIMES = (0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9)
PATH_STATISTICS = ("sign_change_rate", "swing_amplitude", "across_along_ratio",
                   "final_log_loss")


def path_statistics(steps: pd.DataFrame, length: int = 60) -> dict:
    """Each of ``PATH_STATISTICS`` of one path (the claims' own functions)."""
    from experiments.claims.statistics import REGISTRY

    run = SimpleNamespace(status="completed", steps=steps)
    out = {}
    for name in PATH_STATISTICS:
        args = {} if name == "final_log_loss" else {"steps": length}
        out[name] = REGISTRY[name].fn([run], "final", **args)
    return out


def regime_table(seeds=range(8), regimes=REGIMES, kappa: float = 50.0, beta: float = 0.9,
                 steps: int = 60) -> pd.DataFrame:
    """Gradient descent at rate η = regime/κ against heavy-ball momentum β at the matched
    effective step η(1 − β), from each seed's start point: one row per regime, seed and
    method with every path statistic (``PATH_STATISTICS``)."""
    rows = []
    for regime in regimes:
        lr = regime / kappa
        for seed in seeds:
            start = start_point(seed)
            for method, steps_ in (
                    ("gradient descent", path("sgd", lr, start, kappa, steps)),
                    ("momentum", path("momentum", lr * (1 - beta), start, kappa, steps,
                                      momentum=beta))):
                rows.append({"regime": regime, "seed": seed, "method": method,
                             **path_statistics(steps_, steps)})
    return pd.DataFrame(rows)
