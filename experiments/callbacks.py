"""Hydra callbacks: sweep progress, the swept keys that name a sweep's runs in TensorBoard,
the sweep's HParams columns, and a non-zero exit when any run of a sweep failed."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from hydra.experimental.callback import Callback

SWEPT_KEYS = "DLKIT_SWEPT_KEYS"  # set for the jobs of a multirun (worker processes inherit it)


def _swept(config) -> dict:
    """Key -> parsed override of every key of a sweep, from ``hydra.sweeper.params`` and the
    command line (which wins for the same key)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    swept = {}
    params = config.hydra.sweeper.get("params") or {}
    for key, value in params.items():
        swept[key] = parser.parse_overrides([f"{key}={value}"])[0]
    for override in parser.parse_overrides(list(config.hydra.overrides.task)):
        swept[override.get_key_element()] = override
    return swept


def sweep_size(config) -> int:
    """Number of jobs of a basic sweep: the product of the value counts of every swept key."""
    total = 1
    for override in _swept(config).values():
        if override.is_sweep_override():
            total *= len(list(override.sweep_string_iterator()))
    return total


def swept_keys(config) -> list[str]:
    """The keys a sweep varies (more than one value): what names its runs."""
    return [key.lstrip("+~") for key, o in _swept(config).items()
            if o.is_sweep_override() and len(list(o.sweep_string_iterator())) > 1]


def label_overrides(overrides: list[str], multirun: bool) -> list[str]:
    """The overrides that name a run in TensorBoard: in a sweep, the swept keys' values
    (the sweep records which keys it varies in ``DLKIT_SWEPT_KEYS``); otherwise every
    override given."""
    if multirun and os.environ.get(SWEPT_KEYS):
        swept = set(json.loads(os.environ[SWEPT_KEYS]))
        kept = [o for o in overrides if o.split("=")[0].lstrip("+~") in swept]
        return kept or list(overrides)
    return list(overrides)


def rejected_path(sweep_dir) -> Path:
    """Where the jobs of the running sweep that were bad input are listed (one line each,
    removed when the sweep ends): each job runs in its own process under joblib, so the
    list lives in a file, not in memory."""
    return Path(sweep_dir) / ".rejected_jobs"


def reject(sweep_dir, job: int, overrides, message: str) -> None:
    line = f"job {job} ({' '.join(overrides)}): {message}\n"
    path = rejected_path(sweep_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:  # one short append per job
        handle.write(line)


class SweepStatus(Callback):
    """Prints ``run k of N`` with elapsed and estimated remaining time, and at the end of a
    multirun exits with status 1 listing the runs whose ``result.json`` says ``failed``."""

    def __init__(self):
        self.start = None
        self.total = None

    def on_multirun_start(self, config, **kwargs):
        self.start = time.time()
        rejected_path(config.hydra.sweep.dir).unlink(missing_ok=True)
        try:
            self.total = sweep_size(config)
            os.environ[SWEPT_KEYS] = json.dumps(swept_keys(config))
        except Exception:  # a progress line must never stop a sweep
            self.total = None

    def on_job_start(self, config, **kwargs):
        if self.start is None:
            return
        from hydra.core.hydra_config import HydraConfig

        k = HydraConfig.get().job.num + 1
        elapsed = time.time() - self.start
        line = f"[sweep] run {k}"
        if self.total:
            line += f" of {self.total}"
            if k > 1:
                remaining = elapsed / (k - 1) * (self.total - k + 1)
                line += f"  elapsed {elapsed:.0f}s  remaining ~{remaining:.0f}s"
        print(line, flush=True)

    def on_multirun_end(self, config, **kwargs):
        os.environ.pop(SWEPT_KEYS, None)
        sweep_dir = Path(config.hydra.sweep.dir)
        from experiments.tensorboard_log import write_experiment

        write_experiment(sweep_dir)
        failed = []
        for path in sorted(sweep_dir.glob("*/result.json")):
            if self.start is not None and path.stat().st_mtime < self.start - 1:
                continue
            try:
                status = json.loads(path.read_text()).get("status")
            except (OSError, ValueError):
                continue
            if status == "failed":
                failed.append(path.parent.name)
        rejected = rejected_path(sweep_dir)
        bad = rejected.read_text(encoding="utf-8").splitlines() if rejected.exists() else []
        rejected.unlink(missing_ok=True)
        for line in bad:
            print(f"[sweep] rejected before training: {line}", file=sys.stderr, flush=True)
        if failed:
            print(f"[sweep] {len(failed)} run(s) failed: {', '.join(failed)} "
                  "(see traceback.txt in each folder)", file=sys.stderr, flush=True)
        if bad:
            sys.exit(2)
        if failed:
            sys.exit(1)
