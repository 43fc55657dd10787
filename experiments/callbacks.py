"""Hydra callbacks: sweep progress and a non-zero exit when any run of a sweep failed."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hydra.experimental.callback import Callback


def sweep_size(config) -> int:
    """Number of jobs of a basic sweep: the product of the value counts of every swept key,
    from ``hydra.sweeper.params`` and the command line (which wins for the same key)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    swept = {}
    params = config.hydra.sweeper.get("params") or {}
    for key, value in params.items():
        swept[key] = parser.parse_overrides([f"{key}={value}"])[0]
    for override in parser.parse_overrides(list(config.hydra.overrides.task)):
        swept[override.get_key_element()] = override
    total = 1
    for override in swept.values():
        if override.is_sweep_override():
            total *= len(list(override.sweep_string_iterator()))
    return total


class SweepStatus(Callback):
    """Prints ``run k of N`` with elapsed and estimated remaining time, and at the end of a
    multirun exits with status 1 listing the runs whose ``result.json`` says ``failed``."""

    def __init__(self):
        self.start = None
        self.total = None

    def on_multirun_start(self, config, **kwargs):
        self.start = time.time()
        try:
            self.total = sweep_size(config)
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
        sweep_dir = Path(config.hydra.sweep.dir)
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
        if failed:
            print(f"[sweep] {len(failed)} run(s) failed: {', '.join(failed)} "
                  "(see traceback.txt in each folder)", file=sys.stderr, flush=True)
            sys.exit(1)
