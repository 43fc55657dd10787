"""Extra evidence a claim's section shows beside its verdict: computed, never written by hand.

A claim names one with ``extra: <name>`` in its preset; each function gets the output folder
and the claim's result (its final runs included), writes its figure and CSV into ``out`` and
returns the markdown of its section.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REGISTRY = {}


def extra(name):
    def register(fn):
        REGISTRY[name] = fn
        return fn
    return register


@extra("kappa_sweep")
def kappa_section(out: Path, result=None) -> str:
    """The ravine's convergence factor against κ, measured against theory."""
    from experiments.claims import figures as fig
    from experiments.claims.ravine import kappa_sweep

    table = kappa_sweep()
    worst = max((table["gd_measured"] - table["gd_theory"]).abs().max(),
                (table["hb_measured"] - table["hb_theory"]).abs().max())
    text = ("Per-step factor by which the distance to the minimum shrinks (steps 20-200), "
            "for gradient descent at η = 2/(1+κ) and heavy-ball momentum at η = 4/(1+√κ)², "
            "β = ((√κ−1)/(√κ+1))², against the theoretical rates (κ−1)/(κ+1) and "
            f"(√κ−1)/(√κ+1); largest gap {worst:.3g} (momentum's double root at the optimal "
            "parameters converges as t·rᵗ, a little slower than rᵗ over a finite run).\n\n"
            + table.to_markdown(index=False, floatfmt=".4g"))
    return _section(out, "ravine_kappa_sweep", table, lambda t, png: fig.convergence_vs_condition(
        t, png, "Quadratic ravine f = (x² + κy²)/2: dlkit's sgd and momentum at their "
        "optimal parameters, 200 steps"), "Convergence against the condition number", text)


def output_gradients(margins=(0, 1, 2, 4, 6, 8, 10, 15), classes=10) -> pd.DataFrame:
    """Gradient of each loss with respect to the logits of a softmax output that is wrong
    with growing confidence: logits ``(m, 0, …, 0)`` while the true class is 1. Analytic
    forms (cross entropy: p − y; MSE averaged over the M outputs: (2/M)·J(p − y) with the
    softmax Jacobian J = diag(p) − ppᵀ) beside the gradient dlkit's losses give through the
    backend's autodiff."""
    import keras

    from dlkit import losses

    rows = []
    y = np.zeros((1, classes), "float32")
    y[0, 1] = 1.0
    for m in margins:
        z = np.zeros((1, classes), "float32")
        z[0, 0] = m
        z64 = z.astype("float64")  # the analytic forms in float64: the reference
        p = np.exp(z64 - z64.max()) / np.exp(z64 - z64.max()).sum()
        jac = np.diag(p[0]) - np.outer(p[0], p[0])
        analytic_ce = p[0] - y[0]
        analytic_mse = (2.0 / classes) * jac @ (p[0] - y[0])
        measured = {}
        for name in ("cross_entropy", "mse"):
            loss = losses.get(name)
            measured[name] = input_gradient(lambda t, loss=loss: loss(
                y, keras.ops.softmax(t, axis=-1)), z)[0]
        rows.append({"margin": m, "p_wrong": float(p[0, 0]), "p_true": float(p[0, 1]),
                     "ce_analytic": float(np.linalg.norm(analytic_ce)),
                     "ce_measured": float(np.linalg.norm(measured["cross_entropy"])),
                     "mse_analytic": float(np.linalg.norm(analytic_mse)),
                     "mse_measured": float(np.linalg.norm(measured["mse"]))})
    return pd.DataFrame(rows)


def input_gradient(fn, x: np.ndarray) -> np.ndarray:
    """∂fn(x)/∂x for a scalar-valued ``fn`` of a float32 batch, through the active backend's
    autodiff."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(t)
            value = fn(t)
        return tape.gradient(value, t).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(fn)(x))
    import torch

    t = torch.tensor(x, requires_grad=True)
    fn(t).backward()
    return t.grad.numpy()


def _slug(key: str) -> str:
    """A claim key as a file name (a problem's key holds ``@`` and spaces)."""
    from experiments.claims.report import anchor

    return anchor(key)


def _section(out: Path, stem: str, table: pd.DataFrame, draw, heading: str, text: str) -> str:
    """Write ``table`` as ``<stem>.csv`` beside the figure ``draw(table, png)`` makes, and
    return the markdown section that shows them."""
    from experiments.claims import figures as fig

    png = out / f"{stem}.png"
    fig.write_csv(table, png.with_suffix(".csv"))  # through the atomic writer
    draw(table, png)
    return f"### {heading}\n\n{text}\n\n![{stem}]({png.name})\n"


@extra("output_gradient")
def output_gradient_section(out: Path, result=None) -> str:
    from experiments.claims import figures as fig

    table = output_gradients()
    text = ("Norm of ∂loss/∂logits for a 10-class softmax whose logits are (m, 0, …, 0) "
            "while the true class is 1: as the wrong answer grows confident, cross entropy's "
            "gradient tends to √2 (it keeps pushing) and MSE's vanishes with the softmax's "
            "slope. Analytic values beside dlkit's losses through autodiff.\n\n"
            + table.to_markdown(index=False, floatfmt=".4g"))
    return _section(out, "output_gradient", table, fig.output_gradient,
                    "The mechanism: the gradient at a confidently wrong output", text)


def depth_table(result) -> pd.DataFrame:
    """log10(‖∇W_1‖/‖∇W_L‖) per arm, seed and depth, from the claim's final runs."""
    from experiments.claims.statistics import first_last_ratio

    rows = []
    for arm in (result.a, result.b):
        for seed, runs in zip(result.claim.final_seeds, arm.runs):
            for run in runs:
                if run is None or run.status != "completed":
                    continue
                depth, ratio = first_last_ratio(run)
                rows.append({"arm": arm.label, "seed": seed, "depth": depth,
                             "log10_first_over_last": ratio})
    return pd.DataFrame(rows)


@extra("depth_profile")
def depth_profile_section(out: Path, result) -> str:
    from experiments.claims import figures as fig

    table = depth_table(result)
    means = table.groupby(["arm", "depth"])["log10_first_over_last"].mean().unstack(0)
    text = ("log10(‖∇W₁‖/‖∇W_L‖) in the first epoch, mean over seeds, against the line a "
            "factor 0.25 per layer would give (log10 0.25 = −0.60 per layer beyond the "
            "first):\n\n" + means.to_markdown(floatfmt=".3f"))
    stem = f"{_slug(result.claim.key)}_depth"
    return _section(out, stem, table, lambda t, png: fig.depth_profile(
        t, png, "First-epoch gradient of the first hidden layer over the last, against depth "
        "(digits MLP, width 32, SGD; one dot per seed)"), "Gradient ratio against depth", text)


def lag_sensitivity(result, seeds: int = 3, sequences: int = 256) -> pd.DataFrame:
    """How much each trained network's output moves with the value it saw ``lag`` steps
    before the end: |∂ŷ/∂v_t| at the two marked steps of test sequences of the adding
    problem (a network that solved it has 1 there). From the final runs' ``model.keras``."""
    import keras

    import dlkit
    from experiments.claims.statistics import _split_arrays

    rows = []
    for arm in (result.a, result.b):
        for seed, runs in list(zip(result.claim.final_seeds, arm.runs))[:seeds]:
            run = runs[0]
            if run is None or run.status != "completed":
                continue
            x = _split_arrays(run, "final")[0][:sequences]  # the run's own test split
            model = dlkit.load_model(run.path / "model.keras", compile=False)
            grad = input_gradient(lambda t, model=model: keras.ops.sum(model(t)), x)
            values = np.abs(grad[..., 0])  # d y / d value_t
            length = x.shape[1]
            for i, t in zip(*np.nonzero(x[..., 1] > 0.5)):
                rows.append({"arm": arm.label, "seed": seed, "lag": length - 1 - t,
                             "sensitivity": float(values[i, t])})
    table = pd.DataFrame(rows)
    return table.groupby(["arm", "lag"], as_index=False)["sensitivity"].mean()


@extra("lag_sensitivity")
def lag_sensitivity_section(out: Path, result) -> str:
    from experiments.claims import figures as fig

    table = lag_sensitivity(result)
    wide = table.pivot_table(index="lag", columns="arm", values="sensitivity")
    early = wide[wide.index >= wide.index.max() * 0.5].mean()
    text = ("|∂ŷ/∂v_t| at the marked steps of 256 test sequences (the exact answer has 1 "
            "there), against the lag T−1−t, mean over the first three final seeds. Mean over "
            "the older half of the lags: "
            + ", ".join(f"{arm} {value:.3f}" for arm, value in early.items()) + ".")
    return _section(out, f"{_slug(result.claim.key)}_lag", table, lambda t, png: fig.lag_profile(
        t, png, "Adding problem: sensitivity of the trained network's output to a marked "
        "value, against how many steps before the end it came"),
        "The mechanism: what the trained networks still feel from early steps", text)


def saturation_table(scales=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0), seeds=(0, 1, 2),
                     threshold=0.95) -> pd.DataFrame:
    """Fraction of hidden tanh units with |h| > ``threshold`` (slope 1 − h² < 0.1) at
    initialization, on the digits validation images, for N(0, s²) weights and for Glorot
    uniform (its ``stddev``: the measured standard deviation of the layer's weights): one
    row per initialization, seed and hidden layer. No training: the mechanism at step 0."""
    import keras

    from dlkit import data, models

    rows = []
    inits = [(f"N(0, {s}²)", s, {"class_name": "RandomNormal", "config": {"stddev": s}})
             for s in scales] + [("Glorot uniform", None, "glorot_uniform")]
    for seed in seeds:
        x = data.load("digits", seed=seed).x_val
        for label, scale, init in inits:
            keras.utils.set_random_seed(seed)
            model = models.get("mlp", x.shape[1:], 10, activation="tanh",
                               output_activation="softmax", kernel_initializer=init)
            hidden = [layer.output for layer in model.layers if layer.name.startswith("act_")]
            values = keras.Model(model.inputs[0], hidden)(x)
            kernels = [layer.kernel for layer in model.layers if layer.name.startswith("dense_")]
            for depth, h in enumerate(values, start=1):
                h = np.abs(keras.ops.convert_to_numpy(h))
                std = float(np.std(keras.ops.convert_to_numpy(kernels[depth - 1])))
                rows.append({"init": label, "stddev": scale if scale else std, "seed": seed,
                             "layer": depth, "saturated": float(np.mean(h > threshold))})
    return pd.DataFrame(rows)


@extra("saturation")
def saturation_section(out: Path, result=None) -> str:
    from experiments.claims import figures as fig

    table = saturation_table()
    means = table.groupby(["init", "layer"], sort=False)["saturated"].mean().unstack()
    means.columns = [f"hidden layer {c}" for c in means.columns]
    text = ("Fraction of hidden tanh units with |h| > 0.95 (slope below 0.1) at "
            "initialization on the digits validation images, mean over 3 seeds, for the "
            "default MLP (2 hidden layers of 64) with N(0, s²) weights and with Glorot "
            "uniform; no training.\n\n" + means.to_markdown(floatfmt=".3f"))
    return _section(out, "init_saturation", table, lambda t, png: fig.saturation_profile(
        t, png, "tanh units saturated at initialization against the weights' scale "
        "(digits MLP, mean over 3 seeds)"), "Saturation at initialization", text)


def rate_table(result, column="val_accuracy") -> pd.DataFrame:
    """Best ``column`` per arm, seed and learning rate, from the claim's final runs (an arm
    that sweeps the rate: one run per grid rate and seed)."""
    rows = []
    for arm in (result.a, result.b):
        for seed, runs in zip(result.claim.final_seeds, arm.runs):
            for run in runs:
                if run is None or run.status not in ("completed", "diverged"):
                    continue
                values = pd.to_numeric(run.history.get(column, pd.Series(dtype=float)),
                                       errors="coerce")
                best = float(values.max()) if run.status == "completed" and len(values) \
                    else float("nan")
                rows.append({"arm": arm.label, "seed": seed, "rate": float(
                    run.config["optimizer"]["learning_rate"]), "best": best})
    return pd.DataFrame(rows)


@extra("rate_range")
def rate_range_section(out: Path, result) -> str:
    from experiments.claims import figures as fig

    target = float(result.claim.args.get("target", 0.9))
    table = rate_table(result, result.claim.args.get("column", "val_accuracy"))
    reached = (table.assign(ok=table["best"] >= target)
               .groupby(["rate", "arm"], sort=True)["ok"].mean().unstack())
    text = (f"Fraction of seeds whose run at each rate reaches {target:g} validation "
            "accuracy (a diverged run does not):\n\n" + reached.to_markdown(floatfmt=".3g"))
    return _section(out, f"{_slug(result.claim.key)}_rates", table, lambda t, png: fig.rate_profile(
        t, png, "Best validation accuracy against the SGD rate, one dot per seed (digits, "
        "4-layer sigmoid MLP)", target), "Which rates train", text)


def regime_summary(table: pd.DataFrame, statistic: str, a: str = "momentum",
                   b: str = "gradient descent") -> pd.DataFrame:
    """Per regime: the mean of ``statistic`` for methods ``a`` and ``b`` over the seeds and
    the paired t-test of a − b (descriptive: one test per regime, not in the claims' family),
    with ``a lower`` where a's mean is lower at p < ``protocol.ALPHA``."""
    from experiments.claims.protocol import ALPHA, paired_t

    rows = []
    for regime, group in table.groupby("regime", sort=True):
        wide = group.pivot(index="seed", columns="method", values=statistic)
        test = paired_t(wide[a].to_numpy(float), wide[b].to_numpy(float))
        rows.append({"regime": regime, a: test.mean_a, b: test.mean_b, "p": test.p,
                     f"{a} lower": bool(test.direction == "less" and test.p < ALPHA)})
    return pd.DataFrame(rows)


def _draw_regimes(table: pd.DataFrame, png: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.claims.ravine import PATH_STATISTICS

    fig, axes = plt.subplots(1, len(PATH_STATISTICS), figsize=(14, 3.6))
    means = table.groupby(["regime", "method"])[list(PATH_STATISTICS)].mean().reset_index()
    for ax, name in zip(axes, PATH_STATISTICS):
        for method, group in means.groupby("method"):
            ax.plot(group["regime"], group[name], "o-", label=method)
        ax.set_xlabel("gradient descent's rate × κ")
        ax.set_title(name.replace("_", " "), fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


@extra("regime_sweep")
def regime_sweep_section(out: Path, result=None) -> str:
    """The ravine claims' statistics over gradient descent's rate regimes (rate × κ from
    well below 1, where it never crosses the floor, to near its stability limit 2), momentum
    at the matched effective step: where each statistic favours momentum."""
    from experiments.claims.ravine import PATH_STATISTICS, regime_table

    table = regime_table()
    parts = []
    for name in PATH_STATISTICS:
        summary = regime_summary(table, name)
        holds = summary.loc[summary["momentum lower"], "regime"].tolist()
        where = ("at rate × κ = " + ", ".join(f"{r:g}" for r in holds)) if holds else \
            "at none of the regimes"
        parts.append(f"**{name}**: momentum lower {where}.\n\n"
                     + summary.to_markdown(index=False, floatfmt=".3g"))
    text = ("Gradient descent at rate η = (rate × κ)/κ against heavy-ball momentum (β 0.9) "
            "at the matched effective step η(1 − β), on the ravine of κ 50 from the same "
            "start points as the claims' seeds, 60 updates. Mean over seeds per regime, with "
            "a paired t-test per regime (descriptive, not corrected across regimes):\n\n"
            + "\n\n".join(parts))
    return _section(out, "ravine_regimes", table, lambda t, png: _draw_regimes(
        t, png, "Ravine f = (x² + 50y²)/2: path statistics against gradient descent's rate "
        "regime (momentum at the matched effective step)"),
        "Where the claim holds: the rate regimes", text)


@extra("path_statistics")
def path_statistics_section(out: Path, result) -> str:
    """Every path statistic of the claim's final paths, beside the one the claim is judged
    on: sign changes, swing amplitude, across/along path length, final loss."""
    from experiments.claims.ravine import PATH_STATISTICS, path_statistics

    rows = []
    for arm in (result.a, result.b):
        for seed, runs in zip(result.claim.final_seeds, arm.runs):
            run = runs[0]
            if run is None or run.status != "completed":
                continue
            rows.append({"arm": arm.label, "seed": seed, **path_statistics(run.steps)})
    table = pd.DataFrame(rows, columns=["arm", "seed", *PATH_STATISTICS])
    means = table.groupby("arm", sort=False)[list(PATH_STATISTICS)].mean()
    text = ("Each arm's final paths (at its chosen rate) through every path statistic, mean "
            "over seeds; the verdict reads only the claim's own statistic.\n\n"
            + means.to_markdown(floatfmt=".3g"))
    table.to_csv(out / f"{_slug(result.claim.key)}_paths.csv", index=False)
    return f"### The paths through every statistic\n\n{text}\n"
