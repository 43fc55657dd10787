"""Collect every ``result.json`` under a folder into one tidy table.

    python -m experiments.report results/default

prints the table (one row per run: the swept configuration keys, then status and metrics)
and writes ``results.csv`` in that folder. From Python: ``experiments.report.load(path)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ID_COLUMNS = ["run_id", "status", "seed", "epochs_completed", "wall_time_s"]


def _flatten(node: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in node.items():
        if key in ("hydra", "instance", "also") or key.startswith("_"):
            continue
        if prefix == "loss." and key in ("task", "output_activation", "labels"):
            continue  # fixed by loss.name
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def load(path) -> pd.DataFrame:
    """One row per run under ``path``: configuration keys that differ between runs
    (``config.*``), then ``run_id``, ``status``, …, then the final metrics."""
    root = Path(path)
    if not root.exists():
        raise ValueError(f"results path {str(root)!r} does not exist")
    records = []
    for file in sorted(root.rglob("result.json")):
        try:
            result = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        row = {f"config.{k}": v for k, v in _flatten(result.get("config", {})).items()}
        row.update({k: result.get(k) for k in ID_COLUMNS})
        row["path"] = str(file.parent)
        row.update(result.get("metrics", {}))
        records.append(row)
    frame = pd.DataFrame(records)
    if frame.empty:
        return frame
    config_cols = [c for c in frame.columns if c.startswith("config.")]
    varying = [c for c in config_cols
               if c != "config.seed" and frame[c].astype(str).nunique() > 1]
    metric_cols = [c for c in frame.columns if c not in config_cols and c not in ID_COLUMNS
                   and c != "path"]
    frame = frame[varying + ID_COLUMNS + sorted(metric_cols) + ["path"]]
    frame.columns = [c.removeprefix("config.") for c in frame.columns]
    keys = [c.removeprefix("config.") for c in varying] + ["seed"]
    return frame.sort_values(keys).reset_index(drop=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a results folder, e.g. results/default")
    args = parser.parse_args(argv)
    try:
        frame = load(args.path)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if frame.empty:
        print(f"no result.json under {args.path}", file=sys.stderr)
        return 1
    with pd.option_context("display.max_columns", None, "display.width", 200):
        print(frame.drop(columns=["path"]).to_string(index=False))
    out = Path(args.path) / "results.csv"
    frame.to_csv(out, index=False)
    print(f"\n{len(frame)} runs -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
