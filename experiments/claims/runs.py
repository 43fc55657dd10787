"""The runs behind a claim: composed from the preset like ``experiments.run`` composes them,
then trained (``Runs(execute=True)``) or only read from their folders (the report).

A run's folder is ``<results_dir>/<preset>/<run id>``, the same folder ``python -m
experiments.run -m experiment=<preset>`` would use for the same configuration, so the
protocol skips completed runs and resumes interrupted ones like any sweep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from experiments.claims import CONF


@dataclass
class Run:
    path: Path
    result: dict

    @property
    def status(self) -> str:
        return self.result.get("status", "unknown")

    @property
    def metrics(self) -> dict:
        return self.result.get("metrics") or {}

    @property
    def config(self) -> dict:
        return self.result.get("config") or {}

    @cached_property
    def history(self) -> pd.DataFrame:
        file = self.path / "history.csv"
        return pd.read_csv(file) if file.exists() else pd.DataFrame({"epoch": []})

    @cached_property
    def steps(self) -> pd.DataFrame | None:
        file = self.path / "steps.csv"
        return pd.read_csv(file) if file.exists() else None


class Runs:
    """Compose, locate and (with ``execute``) train the runs a claim needs."""

    def __init__(self, results_dir="results", execute=False, verbose=False, extra=(),
                 pack=False):
        self.results_dir = str(results_dir)
        self.execute = execute
        self.pack = pack  # train the runs ``prefetch`` names as packs (experiments.packing)
        self.verbose = verbose
        self.extra = list(extra)  # overrides applied to every run (e.g. backend, scale)
        self.trained = 0
        self._cache: dict = {}

    def compose(self, preset: str, overrides) -> dict:
        from hydra import compose, initialize_config_dir
        from omegaconf import OmegaConf

        from experiments.pipeline import resolve

        with initialize_config_dir(str(CONF), version_base="1.3"):
            cfg = compose("config", overrides=[f"experiment={preset}",
                                               f"results_dir={self.results_dir}",
                                               *self.extra, *overrides])
        return resolve(OmegaConf.to_container(cfg, resolve=True))

    def default_rate(self, preset: str, arm_overrides, key: str) -> float:
        node = self.compose(preset, arm_overrides)
        for part in key.split("."):
            node = node[part]
        return float(node)

    def prefetch(self, preset: str, override_lists) -> None:
        """With ``pack``: train the unfinished runs among ``override_lists`` as packs now,
        so the ``get`` calls that follow find them finished."""
        if not (self.execute and self.pack):
            return
        from experiments import packing
        from experiments.pipeline import FINISHED, run_folder

        entries = []
        for overrides in override_lists:
            cfg = self.compose(preset, overrides)
            result = _read(run_folder(cfg) / "result.json")
            if result is None or result.get("status") not in FINISHED:
                cfg["trainer"]["verbose"] = False
                entries.append((cfg, [*self.extra, *overrides]))
        if len(entries) > 1:
            counts = packing.train(entries, verbose=self.verbose)
            self.trained += counts["packed"] + counts["alone"]

    def get(self, preset: str, overrides) -> Run | None:
        """The run of this configuration: read from its folder, trained first when
        ``execute`` and it has not completed; None when absent in read-only mode."""
        key = (preset, tuple(overrides))
        if key in self._cache:
            return self._cache[key]
        from experiments.pipeline import FINISHED, RunFailed, execute, run_folder

        cfg = self.compose(preset, overrides)
        folder = run_folder(cfg)
        result = _read(folder / "result.json")

        if self.execute and (result is None or result.get("status") not in FINISHED):
            cfg["trainer"]["verbose"] = False
            try:
                execute(cfg, verbose=self.verbose, overrides=[*self.extra, *overrides])
            except RunFailed as err:
                print(f"  {err}", flush=True)
            self.trained += 1
            result = _read(folder / "result.json")
        run = None if result is None else Run(folder, result)
        self._cache[key] = run
        return run


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
