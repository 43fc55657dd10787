"""Collect every ``result.json`` under a folder into tidy tables, figures and claim verdicts.

    python -m experiments.report results/default                 # table + results.csv
    python -m experiments.report results/default --figures       # and the figures (PNG)
    python -m experiments.report results --figures --claims --out results/reference

For each sweep (the ``name`` of its runs) it also writes ``<name>_summary.csv``: mean,
standard deviation and 95% confidence interval over seeds per configuration, with
epochs-to-target and time-to-target columns. ``--figures`` saves learning curves with seed
bands (and a loss-by-activation heat map); ``--claims`` writes ``claims.md`` with a verdict
per seed claim (from the runs ``python -m experiments.claims`` made). From Python:
``experiments.report.load(path)``.
"""

from __future__ import annotations

import argparse
import sys
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from dlkit.training.files import atomic_write_text
from experiments import runfolder, spec

ID_COLUMNS = ["run_id", "status", "seed", "epochs_completed", "wall_time_s"]
METRIC_PREFIXES = ("train_", "val_", "test_")


DERIVED_COLUMNS = ("first_epoch_at_target", "time_to_target_s")


def load(path, all_columns: bool = False) -> pd.DataFrame:
    """One row per run under ``path``: the configuration keys that differ between runs
    (every key with ``all_columns``), then ``run_id``, ``status``, ``seed``, …, the final
    metrics and the run folder's ``path``."""
    root = Path(path)
    if not root.exists():
        raise ValueError(f"results path {str(root)!r} does not exist")
    records = [_record(folder) for folder in runfolder.run_folders(root)]
    frame = pd.DataFrame(records)
    if frame.empty:
        return frame
    config_cols = [c for c in frame.columns if c.startswith("config.")]
    keep = [c for c in config_cols if c != "config.seed" and
            (all_columns or frame[c].astype(str).nunique() > 1)]
    metric_cols = sorted(c for c in frame.columns if c.startswith(METRIC_PREFIXES))
    # how many runs trained together, when any did (experiments.packing); why a folder is
    # unreadable, when one is
    extra = [c for c in ("packed", "problem") if frame[c].notna().any()]
    frame = frame[keep + ID_COLUMNS + extra + metric_cols + ["path"]]
    frame.columns = [c.removeprefix("config.") for c in frame.columns]
    keys = [c.removeprefix("config.") for c in keep if frame[c.removeprefix("config.")]
            .astype(str).nunique() > 1] + ["seed"]
    return frame.sort_values(keys, key=lambda s: s.astype(str)).reset_index(drop=True)


def _record(folder: Path) -> dict:
    """One table row of a run folder. ``status`` is the result's (completed, diverged,
    failed), ``interrupted`` when the run never wrote a result, ``unreadable`` when its
    ``result.json`` is damaged or of the wrong shape, or names its sweep with a ``name``
    that is not a plain file name; ``problem`` then says why."""
    result, problem = runfolder.read_result(folder)
    if result is not None:  # a readable result naming its sweep with a path is unreadable
        name = (result.get("config") or {}).get("name")
        problem = None if name is None else _bad_name(name)
        if problem:
            result = None
    status = "unreadable" if problem else "interrupted" if result is None else None
    if result is None:
        try:
            config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError):
            config = None
        result = {"config": config if isinstance(config, dict) else {},
                  "run_id": folder.name, "status": status}
    config = result.get("config") or {}
    name = config.get("name")
    if name is not None and _bad_name(name):  # also a config.yaml's: never a path
        problem = problem or _bad_name(name)
        result["status"], config = "unreadable", {k: v for k, v in config.items()
                                                  if k != "name"}
    row = {f"config.{k}": v for k, v in spec.flat(spec.defining(config)).items()}
    row["config.name"] = config.get("name")
    row.update({k: result.get(k) for k in ID_COLUMNS})
    row["packed"] = result.get("packed")
    row["run_id"] = row["run_id"] or folder.name
    row["path"] = str(folder)
    row["problem"] = problem
    row.update({k: runfolder.number(v) for k, v in (result.get("metrics") or {}).items()
                if k.startswith(METRIC_PREFIXES)})  # never over a column of the table
    return row


def _bad_name(name) -> str | None:
    """Why ``name`` (a sweep's, the stem of its summary and figures) is not a plain file
    name inside ``--out``: not text, empty, ``.``/``..``, a separator or a NUL, or longer
    than a file name may be once a figure's suffix is added. None when it is one."""
    if not isinstance(name, str):
        return f"config.name is a {type(name).__name__}, not a string"
    if not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0") or \
            len(name.encode("utf-8")) > 200:
        return (f"config.name {name[:80]!r} is not a plain file name (no '/', not empty, "
                "not '.' or '..', at most 200 bytes)")
    return None


@lru_cache(maxsize=4096)
def history(run_path: str) -> pd.DataFrame:
    """A run's ``history.csv`` (``runfolder.read_history``: empty if missing or malformed,
    with a warning), kept once read: a report asks for a run's history more than once."""
    return runfolder.read_history(run_path)


def _varying(frame: pd.DataFrame) -> list[str]:
    """The configuration columns that differ between runs (the defining keys of
    ``experiments.spec.defining``): the columns runs are grouped by."""
    config = [c for c in frame.columns if c not in ID_COLUMNS
              and c not in ("path", "packed", "problem")
              and not c.startswith(METRIC_PREFIXES) and c != "name"
              and c not in DERIVED_COLUMNS]
    return [c for c in config if frame[c].astype(str).nunique() > 1]


def summarize(runs: pd.DataFrame, target: tuple[str, float] | None) -> pd.DataFrame:
    """Aggregate one sweep's runs over seeds (mean, std, 95% CI), with epochs- and
    time-to-target when ``target`` (column, value) is given."""
    from dlkit.analysis import stats

    runs = runs.copy()
    metrics = [c for c in runs.columns if c.startswith(METRIC_PREFIXES)]
    by = _varying(runs) or ["name"]
    if target is not None:
        column, value = target
        higher = not column.endswith("loss")
        runs["first_epoch_at_target"] = [
            stats.first_epoch_at_target(history(p), column, value, higher) for p in runs["path"]]
        runs["time_to_target_s"] = [stats.time_to_target(history(p), column, value, higher)
                                    for p in runs["path"]]
        metrics += list(DERIVED_COLUMNS)
    return stats.aggregate(runs, by, metrics)


def _panel_key(runs: pd.DataFrame, by: list[str]) -> str | None:
    """The key whose values get a panel each: the loss when it varies (losses are in
    different units), else, when more than 8 groups would share one axis, the first varying
    key with at most 12 values."""
    if "loss.name" in by:
        return "loss.name"
    groups = runs.groupby(by, dropna=False).ngroups if by else 1
    if groups > 8:
        named = [k for k in by if k.endswith(".name")]  # an optimizer, a model, a schedule
        for key in named + [k for k in by if k not in named]:
            if 1 < runs[key].astype(str).nunique() <= 12:
                return key
    return None


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


# The settings a figure's caption names when the sweep held them fixed, in this order.
MAIN_KEYS = ("dataset.name", "dataset.subset", "model.name", "model.depth", "model.width",
             "activation.name", "loss.name", "optimizer.name", "optimizer.learning_rate",
             "optimizer.momentum", "schedule.name", "trainer.batch_size", "trainer.epochs")


def caption(runs: pd.DataFrame, by: list[str]) -> str:
    """What a figure varied and what it held fixed, in words: ``varied: optimizer, lr;
    held fixed: digits, mlp, relu, cross_entropy, batch 32, 10 epochs; 3 seeds each``
    (the main settings with one value across the runs; every run's configuration is in
    results.csv)."""
    from dlkit.analysis.figures import describe

    varied = [k.split(".")[0] if k.endswith(".name") else describe(k, "").strip()
              for k in by if k != "name"]
    fixed = []
    for key in MAIN_KEYS:
        if key in runs and key not in by:
            values = runs[key].dropna().astype(str).unique()
            if len(values) == 1:
                value = runs[key].dropna().iloc[0]
                fixed.append((f"{value} epoch" + ("" if str(value) == "1" else "s"))
                             if key == "trainer.epochs" else describe(key, value))
    seeds = runs.groupby(by, dropna=False)["seed"].nunique() if by else \
        pd.Series([runs["seed"].nunique()])
    each = _seeds(int(seeds.min())) if seeds.min() == seeds.max() else \
        f"{int(seeds.min())}-{int(seeds.max())} seeds"
    return (f"varied: {', '.join(varied) or 'nothing'}; held fixed: "
            f"{', '.join(fixed) or 'nothing named'}; {each} each")


def figures(runs: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """Learning curves of every arm of the sweep (one line per group of varying keys, a
    panel per loss) and, for a loss-by-activation sweep, heat maps; a CSV beside each."""
    from dlkit.analysis import figures as fig

    made = []
    by = _varying(runs) or ["name"]
    panel = _panel_key(runs, by)
    words = ", ".join(k.split(".")[0] if k.endswith(".name") else k.split(".")[-1] for k in by)
    for column in ("val_loss", "val_accuracy"):
        if column in runs and runs[column].notna().any():
            path = fig.learning_curves(
                runs, history, by, column, out / f"{name}_{column}.png",
                f"{name}: {column} by {words}\n{caption(runs, by)}", panel=panel)
            if path:
                made.append(path)
    if {"loss.name", "activation.name"} <= set(by):
        for value in ("test_accuracy", "test_mse"):  # comparable across losses
            if value in runs and runs[value].notna().any():
                png = out / f"{name}_heatmap_{value}.png"
                fig.write_csv(runs.pivot_table(index="loss.name", columns="activation.name",
                                               values=value, aggfunc="mean"),
                              png.with_suffix(".csv"), index=True)
                made.append(fig.heatmap(runs, "loss.name", "activation.name", value, png,
                                        f"{name}: {value}, mean over seeds\n"
                                        f"{caption(runs, ['loss.name', 'activation.name'])}"))
    return made


def _parse_target(text: str | None):
    if not text:
        return None
    column, _, value = text.partition("=")
    try:
        return column, float(value)
    except ValueError:
        raise SystemExit(f"--target {text!r} is not accepted: use COLUMN=VALUE, e.g. "
                         "val_accuracy=0.9") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a results folder, e.g. results/default or results")
    parser.add_argument("--out", help="where tables and figures go (default: PATH)")
    parser.add_argument("--target", default="val_accuracy=0.9",
                        help="COLUMN=VALUE for epochs/time-to-target (default val_accuracy=0.9)")
    parser.add_argument("--figures", action="store_true", help="also save figures: per "
                        "sweep, learning curves (validation loss and accuracy per epoch, mean "
                        "and spread over seeds, one line per configuration) and, for a loss "
                        "by activation sweep, heat maps; each PNG with the CSV it draws, "
                        "into --out")
    parser.add_argument("--claims", action="store_true", help="write claims.md, claims.json "
                        "and a figure per claim from the runs of python -m experiments.claims "
                        "(PATH is then the results root, e.g. results)")
    args = parser.parse_args(argv)
    if args.claims:
        from experiments.tf_startup import start_tensorflow

        start_tensorflow()  # the claims' extra evidence uses Keras: start TensorFlow quietly
    try:
        frame = load(args.path, all_columns=True)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if frame.empty:
        print(f"no result.json under {args.path}", file=sys.stderr)
        return 1
    out = Path(args.out or args.path)
    target = _parse_target(args.target)
    try:
        return _write_report(args, frame, out, target)
    except OSError as err:  # a full disk, a read-only folder: every file written keeps its
        # previous version (the atomic writer), so one line says what failed
        print(f"error: writing the report into {out} failed: {err.strerror or err}; files "
              "already there keep their previous contents", file=sys.stderr)
        return 1


def _write_report(args, frame: pd.DataFrame, out: Path, target) -> int:
    """The table on the console, then ``results.csv``, the summaries, the figures and the
    claims into ``out``, every file through the atomic writer."""
    out.mkdir(parents=True, exist_ok=True)
    shown = load(args.path)
    with pd.option_context("display.max_columns", None, "display.width", 200):
        print(shown.drop(columns=["path"]).to_string(index=False))
    atomic_write_text(out / "results.csv", shown.to_csv(index=False))
    states = frame["status"].fillna("unknown").value_counts()
    print(f"\n{len(frame)} run folders ({', '.join(f'{n} {s}' for s, n in states.items())})"
          f" -> {out / 'results.csv'}")
    odd = frame[~frame["status"].isin(["completed"])]
    for row in odd.itertuples():
        why = getattr(row, "problem", None)
        print(f"  {row.status}: {row.path}" + (f" ({why})" if isinstance(why, str) else ""),
              file=sys.stderr)
    for name, runs in frame.groupby("name", sort=True):
        runs = runs.dropna(axis=1, how="all")
        has_target = target is not None and target[0] in history(runs["path"].iloc[0])
        summary = summarize(runs[runs["status"] == "completed"] if
                            (runs["status"] == "completed").any() else runs,
                            target if has_target else None)
        atomic_write_text(out / f"{name}_summary.csv", summary.to_csv(index=False))
        print(f"{name}: {len(runs)} runs -> {out / f'{name}_summary.csv'}")
        drawn = runs[runs["status"].isin(["completed", "diverged"])]
        if args.figures and not drawn.empty:
            for path in figures(drawn, out, name):
                print(f"  figure {path}")
    if args.claims:
        from experiments.claims.report import collect, write

        results, missing = collect(args.path)
        for path in write(results, missing, out)[:2]:
            print(f"claims -> {path}")
        for r in results:
            print(f"  [{r.verdict}] {r.claim.key} (A/A control: {r.control_verdict})")
        for claim, why in missing:
            print(f"  [not evaluated] {claim.key}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
