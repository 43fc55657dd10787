"""Hydra callbacks of a sweep (``hydra.callbacks``): progress with each job's swept values,
the swept keys that name a sweep's runs in TensorBoard, the sweep's HParams columns, and a
non-zero exit when any job of this sweep was refused or failed (each sweep keeps its own
record, so two sweeps writing one results folder do not mix their jobs)."""

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


SWEEP_TOKEN = "DLKIT_SWEEP_TOKEN"  # the running sweep's own record (worker processes inherit it)


def record_path(sweep_dir, token: str | None = None) -> Path:
    """Where the running sweep lists its jobs that were refused as bad input or failed (one
    JSON line each, removed when the sweep ends). Each job runs in its own process under
    joblib, so the list lives in a file, not in memory; each sweep has its own file (its
    token), so two sweeps writing one results folder never read or remove each other's."""
    token = token if token is not None else os.environ.get(SWEEP_TOKEN, "")
    return Path(sweep_dir) / ".sweeps" / f"{token or 'untracked'}.jsonl"


def _record(sweep_dir, entry: dict) -> None:
    path = record_path(sweep_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:  # one short append per job
        handle.write(json.dumps(entry) + "\n")


def reject(sweep_dir, job: int, overrides, message: str) -> None:
    """Job ``job`` of the running sweep was bad input (refused before training)."""
    _record(sweep_dir, {"kind": "rejected", "job": job, "overrides": list(overrides),
                        "message": message})


def record_failure(sweep_dir, job: int, overrides, run_dir, message: str) -> None:
    """Job ``job`` of the running sweep started and failed (its folder holds the traceback)."""
    _record(sweep_dir, {"kind": "failed", "job": job, "overrides": list(overrides),
                        "run": Path(run_dir).name if run_dir else None, "message": message})


def read_record(sweep_dir, token: str) -> list[dict]:
    """The entries of one sweep's record (a line cut short by a kill is left out)."""
    path = record_path(sweep_dir, token)
    entries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def swept_values(overrides) -> str:
    """The values a sweep varies for one job, as ``key=value`` pairs (``DLKIT_SWEPT_KEYS``),
    or every override when the sweep's keys are not known."""
    return " ".join(label_overrides(list(overrides), multirun=True))


class SweepStatus(Callback):
    """Prints ``run k of N`` with the job's swept values, elapsed and estimated remaining
    time; at the end of a multirun lists the jobs of this sweep that were refused (exit
    status 2) or failed (exit status 1), from the sweep's own record."""

    def __init__(self):
        self.start = None
        self.total = None
        self.token = None

    def on_multirun_start(self, config, **kwargs):
        import uuid

        self.start = time.time()
        self.token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        os.environ[SWEEP_TOKEN] = self.token
        try:
            self.total = sweep_size(config)
            os.environ[SWEPT_KEYS] = json.dumps(swept_keys(config))
        except Exception:  # a progress line must never stop a sweep
            self.total = None

    def on_job_start(self, config, **kwargs):
        if self.start is None:
            return
        from hydra.core.hydra_config import HydraConfig

        hydra_cfg = HydraConfig.get()
        k = hydra_cfg.job.num + 1
        elapsed = time.time() - self.start
        line = f"[sweep] run {k}"
        if self.total:
            line += f" of {self.total}"
        values = swept_values(hydra_cfg.overrides.task)
        if values:
            line += f": {values}"
        if self.total and k > 1:
            remaining = elapsed / (k - 1) * (self.total - k + 1)
            line += f"  elapsed {elapsed:.0f}s  remaining ~{remaining:.0f}s"
        print(line, flush=True)

    def on_multirun_end(self, config, **kwargs):
        os.environ.pop(SWEPT_KEYS, None)
        os.environ.pop(SWEEP_TOKEN, None)
        sweep_dir = Path(config.hydra.sweep.dir)
        from experiments.tensorboard_log import write_experiment

        write_experiment(sweep_dir)
        entries = read_record(sweep_dir, self.token) if self.token else []
        path = record_path(sweep_dir, self.token or "")
        path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()  # only when no other sweep's record is there
        except OSError:
            pass
        bad = [e for e in entries if e.get("kind") == "rejected"]
        failed = [e for e in entries if e.get("kind") == "failed"]
        for e in bad:
            print(f"[sweep] rejected before training: job {e.get('job')} "
                  f"({' '.join(e.get('overrides') or [])}): {e.get('message')}",
                  file=sys.stderr, flush=True)
        if failed:
            names = ", ".join(str(e.get("run") or f"job {e.get('job')}") for e in failed)
            print(f"[sweep] {len(failed)} run(s) failed: {names} "
                  "(see traceback.txt in each folder)", file=sys.stderr, flush=True)
        if bad:
            sys.exit(2)
        if failed:
            sys.exit(1)
