"""Aggregation over seeds, confidence intervals, epochs- and time-to-target."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def ci95(values) -> float:
    """Half-width of the 95% confidence interval of the mean (Student t), NaN for n < 2."""
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = len(values)
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n))


def aggregate(frame: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    """Per group of ``by``: ``n`` runs and, per metric, mean, std and 95% CI half-width."""
    rows = []
    for key, group in frame.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        row["n"] = len(group)
        for metric in metrics:
            values = pd.to_numeric(group[metric], errors="coerce").dropna()
            row[f"{metric}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
            row[f"{metric}_ci95"] = ci95(values)
        rows.append(row)
    return pd.DataFrame(rows)


def first_epoch_at_target(history: pd.DataFrame, column: str, target: float,
                          higher_is_better: bool = True) -> float:
    """The first whole epoch whose ``column`` reaches ``target`` (NaN if it never does): the
    report's table column. Not the claims' ``epochs_to_target`` statistic, which
    interpolates within epochs, needs the target held, and counts a miss as censored."""
    if column not in history:
        return math.nan
    values = pd.to_numeric(history[column], errors="coerce")
    hit = values >= target if higher_is_better else values <= target
    if not hit.any():
        return math.nan
    return float(history.loc[hit.idxmax(), "epoch"])


def time_to_target(history: pd.DataFrame, column: str, target: float,
                   higher_is_better: bool = True) -> float:
    """Training seconds (sum of ``epoch_time_s``) until ``column`` reaches ``target``."""
    epoch = first_epoch_at_target(history, column, target, higher_is_better)
    if math.isnan(epoch) or "epoch_time_s" not in history:
        return math.nan
    return float(history.loc[history["epoch"] <= epoch, "epoch_time_s"].sum())
