"""Matplotlib figures saved as PNG: learning curves with seed bands, a loss-by-activation
heat map and optimizer trajectories on contour plots (the claims' own figures live beside
the claims, in ``experiments/claims/figures.py``)."""

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
