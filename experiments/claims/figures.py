"""The claims' figures: each claim's per-seed values by arm (with its tuning curve) and the
extra evidence some claims show (condition numbers, output gradients, depth, lag,
saturation and rate profiles). They live beside the claims, not in the library: only the
claims report draws them. Saved through the library's atomic writer (``_save``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from dlkit.analysis.figures import PATH_COLORS, _save, plt, write_csv  # noqa: F401


def _finish(fig, ax, path, xlabel: str, ylabel: str, title: str, legend: str = "best") -> Path:
    """Labels, a wrapped title, legend and grid, then save."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(textwrap.fill(title, 70), fontsize=9)
    ax.legend(fontsize=7, loc=legend)
    ax.grid(alpha=0.3)
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
