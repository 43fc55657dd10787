"""Matplotlib figures saved as PNG: learning curves with seed bands, a loss-by-activation
heat map and optimizer trajectories on contour plots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _save(fig, path) -> Path:
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _label(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def learning_curves(runs: pd.DataFrame, history: Callable, by: list[str], column: str,
                    path, title: str = "") -> Path | None:
    """Mean of ``column`` per epoch for each group of ``by`` with a band of ± one standard
    deviation across seeds."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = False
    for key, group in runs.groupby(by, sort=True):
        curves = [history(p) for p in group["path"]]
        curves = [c.set_index("epoch")[column] for c in curves if column in c]
        if not curves:
            continue
        table = pd.concat(curves, axis=1)
        mean, std = table.mean(axis=1), table.std(axis=1).fillna(0.0)
        label = ", ".join(_label(k) for k in (key if isinstance(key, tuple) else (key,)))
        ax.plot(mean.index, mean.values, label=f"{label} (n={table.shape[1]})")
        ax.fill_between(mean.index, (mean - std).values, (mean + std).values, alpha=0.2)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("epoch")
    ax.set_ylabel(column)
    if column.endswith("loss"):
        ax.set_yscale("log")
    ax.set_title(title or f"{column} by {', '.join(by)}")
    ax.legend(fontsize=7)
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
    ax.set_title(title or f"{value}: {rows} x {cols}")
    return _save(fig, path)


def trajectories(paths: pd.DataFrame, function: Callable, bounds, minimum, path,
                 title: str) -> Path:
    """Contours of ``function`` with one path per optimizer (``paths``: optimizer, x, y)."""
    (x0, x1), (y0, y1) = bounds
    xs, ys = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    zs = function(xs, ys)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    positive = zs - zs.min() + 1e-3
    ax.contour(xs, ys, np.log(positive), levels=30, cmap="Greys", linewidths=0.6)
    for name, group in paths.groupby("optimizer", sort=True):
        ax.plot(group["x"], group["y"], "-", lw=1.2, label=name)
    if minimum is not None:
        ax.plot(*minimum, "k*", ms=12)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)
