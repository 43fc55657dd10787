"""Matplotlib figures saved as PNG: learning curves with seed bands, a loss-by-activation
heat map and optimizer trajectories on contour plots."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from dlkit.training.files import atomic_write, atomic_write_text  # noqa: E402


def _save(fig, path) -> Path:
    """The figure as a PNG through the atomic writer: a full disk keeps the previous one."""
    fig.tight_layout()
    path = Path(path)
    try:
        atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=110))
    finally:
        plt.close(fig)
    return path


def write_csv(frame: pd.DataFrame, path, index: bool = False) -> Path:
    """``frame`` as CSV through the atomic writer (the table beside a figure)."""
    atomic_write_text(path, frame.to_csv(index=index))
    return Path(path)


def _label(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.3g}"
    return str(value)


SHORT = {"learning_rate": "lr", "batch_size": "batch", "kernel_initializer": "init",
         "batchnorm": "BN", "lr_scale": "lr ×"}


def describe(key: str, value) -> str:
    """One configuration value in words: ``optimizer.name=adam`` -> ``adam``,
    ``optimizer.learning_rate=0.003`` -> ``lr 0.003``, ``model.depth=4`` -> ``depth 4``."""
    leaf = key.split(".")[-1]
    if leaf == "name":
        return _label(value)
    return f"{SHORT.get(leaf, leaf)} {_label(value)}"


def curve_table(runs: pd.DataFrame, history: Callable, by: list[str],
                column: str, hidden=()) -> pd.DataFrame:
    """Long table of the curves a figure draws: one row per (group, epoch) with the group's
    keys, ``label`` (in words), ``n`` seeds, and mean, std, min, max of ``column`` over the
    seeds (for a loss also the geometric mean and the log10 standard deviation). Every group
    appears, also those whose configuration leaves some of ``by`` empty. Keys in ``hidden``
    group the runs but stay out of the label (the panel's own key, say)."""
    rows = []
    for key, group in runs.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        curves = [history(p) for p in group["path"]]
        curves = [c.set_index("epoch")[column] for c in curves if column in c and len(c)]
        if not curves:
            continue
        table = pd.concat(curves, axis=1).apply(pd.to_numeric, errors="coerce")
        label = ", ".join(describe(k, v) for k, v in zip(by, key)
                          if not (isinstance(v, float) and np.isnan(v)) and k not in hidden)
        logs = np.log10(table.where(table > 0))
        for epoch, values in table.iterrows():
            row = dict(zip(by, key))
            row.update({"label": label or "all runs", "n": int(values.notna().sum()),
                        "epoch": epoch, "mean": values.mean(), "std": values.std(),
                        "min": values.min(), "max": values.max(),
                        "log10_mean": logs.loc[epoch].mean(),
                        "log10_std": logs.loc[epoch].std()})
            rows.append(row)
    return pd.DataFrame(rows)


def learning_curves(runs: pd.DataFrame, history: Callable, by: list[str], column: str,
                    path, title: str = "", panel: str | None = None) -> Path | None:
    """Mean of ``column`` per epoch, one line per group of ``by`` (every group, labelled in
    words with its number of seeds) and a band of ± one standard deviation across seeds,
    computed in log space on a log axis (losses). ``panel``: one subplot per value of that
    key (e.g. ``loss.name``: losses in different units never share an axis). The plotted
    numbers go to a CSV beside the PNG."""
    lines = [k for k in by if k != panel]
    if panel:  # inside a panel, a key that never varies there says nothing
        lines = [k for k in lines if runs.groupby(panel, dropna=False)[k]
                 .agg(lambda v: v.astype(str).nunique()).max() > 1]
    hidden = [panel] if panel else []
    data = curve_table(runs, history, hidden + lines, column, hidden=hidden)
    if data.empty:
        return None
    write_csv(data, Path(path).with_suffix(".csv"))
    panels = list(dict.fromkeys(data[panel])) if panel else [None]
    ncols = min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 3.6 * nrows + 0.6),
                             squeeze=False)
    log = column.endswith("loss") and (data["min"] > 0).all()
    for ax, value in zip(axes.flat, panels):
        sub = data if value is None else data[data[panel] == value]
        labels = list(dict.fromkeys(sub["label"]))
        colors = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
        for i, label in enumerate(labels):
            c = sub[sub["label"] == label]
            color = colors(i % colors.N)
            if log:
                mid = 10 ** c["log10_mean"]
                lo = 10 ** (c["log10_mean"] - c["log10_std"].fillna(0))
                hi = 10 ** (c["log10_mean"] + c["log10_std"].fillna(0))
            else:
                mid = c["mean"]
                lo, hi = mid - c["std"].fillna(0), mid + c["std"].fillna(0)
            n = int(c["n"].max())
            ax.plot(c["epoch"], mid, color=color, lw=1.4, marker="o" if len(c) <= 3 else None,
                    ms=4, label=f"{label} ({n} seed{'' if n == 1 else 's'})")
            ax.fill_between(c["epoch"], lo, hi, color=color, alpha=0.15, lw=0)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
        ax.set_ylabel(column + (" (geometric mean, ±1 sd in log space)" if log else
                                " (mean ± 1 sd over seeds)"), fontsize=8)
        if log:
            ax.set_yscale("log")
        if value is not None:
            ax.set_title(describe(panel, value), fontsize=9)
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    title = title or f"{column} by {', '.join(by)}"
    fig.suptitle("\n".join(textwrap.fill(line, 60 * ncols) for line in title.split("\n")),
                 fontsize=9)
    return _save(fig, path)


def heatmap(table: pd.DataFrame, rows: str, cols: str, value: str, path,
            title: str = "") -> Path:
    """Mean ``value`` for each (``rows``, ``cols``) pair, annotated."""
    pivot = table.pivot_table(index=rows, columns=cols, values=value, aggfunc="mean")
    fig, ax = plt.subplots(figsize=(1.4 * len(pivot.columns) + 2, 0.5 * len(pivot) + 1.5))
    image = ax.imshow(pivot.values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(pivot.columns)), pivot.columns, rotation=30)
    ax.set_yticks(range(len(pivot.index)), pivot.index)
    for i in range(pivot.shape[0]):
        for j in range(pivot.shape[1]):
            value_ij = pivot.values[i, j]
            if np.isfinite(value_ij):
                ax.text(j, i, f"{value_ij:.3g}", ha="center", va="center", color="w",
                        fontsize=7)
    fig.colorbar(image, ax=ax, label=value)
    title = title or f"{value}: {rows} x {cols}"
    width = max(30, int(12 * (1.4 * len(pivot.columns) + 2)))
    ax.set_title("\n".join(textwrap.fill(line, width) for line in title.split("\n")),
                 fontsize=8)
    return _save(fig, path)


PATH_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#bcbd22", "#17becf"]  # tab10 without its grey: the contours are grey


def trajectories(paths: pd.DataFrame, function: Callable, bounds, minimum, path,
                 title: str) -> Path:
    """Contours of ``function`` (light grey) with one coloured path per optimizer
    (``paths``: optimizer, x, y and, if present, learning_rate for the legend). The frame
    grows to contain every path that stays finite."""
    (x0, x1), (y0, y1) = bounds
    finite = paths[np.isfinite(paths["x"]) & np.isfinite(paths["y"])]
    if len(finite):
        pad_x, pad_y = 0.05 * (x1 - x0), 0.05 * (y1 - y0)
        x0, x1 = min(x0, finite["x"].min() - pad_x), max(x1, finite["x"].max() + pad_x)
        y0, y1 = min(y0, finite["y"].min() - pad_y), max(y1, finite["y"].max() + pad_y)
    xs, ys = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    zs = function(xs, ys)
    fig, ax = plt.subplots(figsize=(7.2, 5.2))
    positive = zs - zs.min() + 1e-3
    ax.contour(xs, ys, np.log(positive), levels=30, colors="0.75", linewidths=0.5)
    for i, (name, group) in enumerate(paths.groupby("optimizer", sort=True)):
        label = name
        if "learning_rate" in group:
            label = f"{name} (lr {float(group['learning_rate'].iloc[0]):g})"
        ax.plot(group["x"], group["y"], "-", lw=1.4, color=PATH_COLORS[i % len(PATH_COLORS)],
                label=label)
    if minimum is not None:
        ax.plot(*minimum, "k*", ms=12, label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)


def _finite_range(values):
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)


def claim_figure(data: pd.DataFrame, path, title: str, statistic: str, better: str = "lower",
                 verdict: str = "", scale: str = "linear",
                 tune_label: str | None = None) -> Path:
    """The numbers one verdict is computed from, in two panels.

    ``data`` has a row per value: ``stage`` (tune, final, control), ``arm`` (A or B),
    ``label``, ``rate``, ``seed``, ``value`` (``inf`` = never reached, NaN = failed run),
    ``chosen``. Left: each arm's tuning curve (statistic against learning rate, one dot per
    tuning seed, the mean as a line, the chosen rate ringed). Right: the final runs, one line
    per seed joining arm A to arm B (the pairs the test uses), and the A/A control.
    """
    colors = {"A": "#1f77b4", "B": "#d62728"}
    values = pd.to_numeric(data["value"], errors="coerce")
    lo, hi = _finite_range(values)
    span = hi - lo if scale == "linear" else 0.0
    top = hi + 0.12 * span if scale == "linear" else hi * 2.0
    top = top if top != lo else lo + 1.0
    tuned = data[data["stage"] == "tune"]
    ncols = 2 if not tuned.empty else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.2 * ncols, 4.6), squeeze=False)
    axes = axes[0]
    if not tuned.empty:
        ax = axes[0]
        for arm, group in tuned.groupby("arm", sort=True):
            label = group["label"].iloc[0]
            v = pd.to_numeric(group["value"], errors="coerce")
            bad = ~np.isfinite(v)
            ax.scatter(group["rate"][~bad], v[~bad], s=14, alpha=0.5, color=colors.get(arm))
            ax.scatter(group["rate"][bad], np.full(bad.sum(), top), marker="x", s=30,
                       color=colors.get(arm))
            mean = v.where(~bad).groupby(group["rate"]).mean()
            ax.plot(mean.index, mean.values, "-o", ms=3, color=colors.get(arm),
                    label=f"{arm}: {label}")
            chosen = group[group["chosen"].astype(bool)]["rate"]
            if len(chosen):
                rate = float(chosen.iloc[0])
                ax.scatter([rate], [mean.get(rate, np.nan)], s=160, facecolors="none",
                           edgecolors=colors.get(arm), linewidths=2,
                           label=f"{arm} chosen: lr {rate:.3g}")
        ax.set_xscale("log")
        ax.set_yscale(scale if tune_label is None else "linear")
        ax.set_xlabel("learning rate")
        ax.set_ylabel(tune_label or statistic)
        ax.set_title(f"tuning ({better} is better; x = never reached or failed)",
                     fontsize=9)
        ax.legend(fontsize=7)
    ax = axes[-1]
    final = data[data["stage"] == "final"]
    pivot = final.pivot_table(index="seed", columns="arm", values="value", aggfunc="first")
    control = data[data["stage"] == "control"]

    def y(v):
        return np.where(np.isfinite(v), v, top)

    if {"A", "B"} <= set(pivot.columns):
        for _, row in pivot.iterrows():
            ax.plot([0, 1], y(np.array([row["A"], row["B"]], float)), color="0.6", lw=0.8)
    for x, arm in ((0, "A"), (1, "B")):
        if arm in pivot:
            v = pivot[arm].to_numpy(float)
            ax.scatter(np.full(len(v), x), y(v), color=colors[arm], zorder=3)
    if not control.empty:
        v = pd.to_numeric(control["value"], errors="coerce").to_numpy(float)
        ax.scatter(np.full(len(v), 2), y(v), color=colors["A"], marker="s", alpha=0.6,
                   zorder=3)
    labels = [f"A: {final[final['arm'] == 'A']['label'].iloc[0]}" if (final["arm"] == "A").any()
              else "A",
              f"B: {final[final['arm'] == 'B']['label'].iloc[0]}" if (final["arm"] == "B").any()
              else "B", "A/A control\n(A, other seeds)"]
    ax.set_xticks([0, 1, 2], [textwrap.fill(t, 22) for t in labels], fontsize=8)
    ax.set_xlim(-0.5, 2.5)
    ax.set_yscale(scale)
    ax.set_ylabel(statistic)
    n = len(pivot)
    censored = not np.isfinite(values[data["stage"] != "tune"]).all()
    where = "at the chosen rates" if not tuned.empty else "(no rate tuned)"
    ax.set_title(f"final runs {where}, {n} paired seeds"
                 + (" (dotted line = never reached)" if censored else ""), fontsize=9)
    if censored:
        ax.axhline(top, color="0.8", ls=":", lw=0.8)
    fig.suptitle(f"{textwrap.fill(title, 55 * ncols)}\nverdict: {verdict}", fontsize=10)
    return _save(fig, path)


def _finish(fig, ax, path, xlabel: str, ylabel: str, title: str, legend: str = "best") -> Path:
    """Labels, a wrapped title, legend and grid, then save."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(textwrap.fill(title, 70), fontsize=9)
    ax.legend(fontsize=7, loc=legend)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def convergence_vs_condition(table: pd.DataFrame, path, title: str) -> Path:
    """Per-step convergence factor against the condition number κ: measured (markers)
    against theory (lines) for gradient descent and heavy-ball momentum (``table`` columns
    kappa, gd_measured, gd_theory, hb_measured, hb_theory)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    kappa = table["kappa"]
    ax.plot(kappa, table["gd_theory"], "-", color="#d62728",
            label="gradient descent, theory (κ−1)/(κ+1)")
    ax.plot(kappa, table["gd_measured"], "o", color="#d62728",
            label="gradient descent, measured (η = 2/(1+κ))")
    ax.plot(kappa, table["hb_theory"], "-", color="#1f77b4",
            label="heavy-ball momentum, theory (√κ−1)/(√κ+1)")
    ax.plot(kappa, table["hb_measured"], "s", color="#1f77b4",
            label="momentum, measured (optimal η and β)")
    ax.set_xscale("log")
    return _finish(fig, ax, path, "condition number κ (curvature across / along the ravine)",
                   "distance to the minimum: factor per step", title, legend="lower right")


def output_gradient(table: pd.DataFrame, path) -> Path:
    """Gradient norm at the logits against how confidently wrong a softmax output is, for
    cross entropy and MSE (analytic lines, measured markers)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, color, label in (("ce", "#1f77b4", "cross entropy"), ("mse", "#d62728", "MSE")):
        ax.plot(table["p_wrong"], table[f"{name}_analytic"], "-", color=color,
                label=f"{label}, analytic")
        ax.plot(table["p_wrong"], table[f"{name}_measured"], "o", color=color,
                label=f"{label}, dlkit through autodiff")
    ax.set_yscale("log")
    return _finish(fig, ax, path, "probability the softmax gives the wrong class",
                   "‖∂loss/∂logits‖",
                   "10-class softmax, confidently wrong: which loss still pushes back?")


def depth_profile(table: pd.DataFrame, path, title: str) -> Path:
    """log10 of the first layer's gradient norm over the last layer's against depth, per arm
    (dots per seed, a line through the means), with the line a factor 0.25 per layer gives
    (``table``: arm, seed, depth, log10_first_over_last)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    colors = plt.get_cmap("tab10")
    for i, (arm, group) in enumerate(table.groupby("arm", sort=False)):
        ax.scatter(group["depth"], group["log10_first_over_last"], s=12, alpha=0.4,
                   color=colors(i))
        mean = group.groupby("depth")["log10_first_over_last"].mean()
        ax.plot(mean.index, mean.values, "-o", ms=4, color=colors(i),
                label=f"{arm} ({group['seed'].nunique()} seed"
                f"{'' if group['seed'].nunique() == 1 else 's'})")
    depths = np.array(sorted(table["depth"].unique()), float)
    ax.plot(depths, np.log10(0.25) * (depths - 1), "k--", lw=1,
            label="0.25 per layer (sigmoid's largest slope)")
    ax.axhline(0, color="0.7", lw=0.8)
    return _finish(fig, ax, path, "hidden layers L", "log10(‖∇W₁‖ / ‖∇W_L‖), first epoch",
                   title)



def lag_profile(table: pd.DataFrame, path, title: str) -> Path:
    """Mean sensitivity against lag per arm (``table``: arm, lag, sensitivity), with the
    exact solution's value 1."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (arm, group) in enumerate(table.groupby("arm", sort=False)):
        ax.plot(group["lag"], group["sensitivity"], "-o", ms=3, color=PATH_COLORS[i],
                label=arm)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="the exact answer")
    return _finish(fig, ax, path, "lag: steps between the marked value and the end of the "
                   "sequence", "|∂ output / ∂ marked value|", title)


def saturation_profile(table: pd.DataFrame, path, title: str) -> Path:
    """Mean saturated fraction against the initial weights' standard deviation, one line
    per hidden layer for the N(0, s²) rows (``table``: init, stddev, layer, saturated) and a
    star per layer for the other initialization (at its weights' measured spread)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    normal = table["init"].str.startswith("N(")
    for i, (layer, group) in enumerate(table[normal].groupby("layer")):
        mean = group.groupby("stddev")["saturated"].mean()
        ax.plot(mean.index, mean.values, "-o", ms=4, color=PATH_COLORS[i],
                label=f"hidden layer {layer}, N(0, s²)")
    for (name, layer), group in table[~normal].groupby(["init", "layer"]):
        ax.plot(group["stddev"].mean(), group["saturated"].mean(), "*", ms=13,
                color=PATH_COLORS[layer - 1], mec="k",
                label=f"hidden layer {layer}, {name}")
    ax.set_xscale("log")
    ax.set_ylim(-0.04, 1.02)
    return _finish(fig, ax, path, "standard deviation of the initial weights (log scale)",
                   "fraction of units with |h| > 0.95", title, legend="upper left")


def rate_profile(table: pd.DataFrame, path, title: str, target: float) -> Path:
    """Best validation accuracy against the learning rate per arm (``table``: arm, rate,
    seed, best), one dot per seed and the mean as a line, with the target."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (arm, group) in enumerate(table.groupby("arm", sort=False)):
        ax.scatter(group["rate"], group["best"], s=12, alpha=0.4, color=PATH_COLORS[i])
        mean = group.groupby("rate")["best"].mean()
        ax.plot(mean.index, mean.values, "-o", ms=3, color=PATH_COLORS[i], label=arm)
    ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g}")
    ax.set_xscale("log")
    return _finish(fig, ax, path, "learning rate (log scale)",
                   "best validation accuracy over the epochs", title)
