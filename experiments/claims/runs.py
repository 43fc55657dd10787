"""The runs behind a claim: composed from the preset like ``experiments.run`` composes them,
then trained (``Runs(execute=True)``) or only read from their folders (the report).

A run's folder is ``<results_dir>/<preset>/<run id>``, the same folder ``python -m
experiments.run -m experiment=<preset>`` would use for the same configuration, so the
protocol skips completed runs and resumes interrupted ones like any sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from experiments import runfolder
from experiments.spec import CONF


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
        return runfolder.read_history(self.path)

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
        self._composed: dict = {}  # (preset, shaping overrides) -> Hydra's composition

    def compose(self, preset: str, overrides) -> dict:
        """The resolved configuration of one run, as ``experiments.run`` would compose it.

        Hydra composes the preset once per distinct set of the overrides that shape the
        composition (config-group choices such as ``optimizer=sgd``, additions, deletions);
        the plain value overrides (``seed=3``, ``optimizer.learning_rate=0.01``) are then
        applied to a copy by Hydra's own code, the step Hydra itself runs after composing
        (``experiments._hydra_internals.apply_value_overrides``), in the same order. Same
        result, a fraction of the cost (the report of every claim locates over a thousand
        runs); on a Hydra without that step every run is composed in full."""
        import copy

        from hydra.core.override_parser.overrides_parser import OverridesParser
        from omegaconf import OmegaConf

        from experiments._hydra_internals import apply_value_overrides
        from experiments.spec import resolve

        parsed = OverridesParser.create().parse_overrides(list(overrides))
        plain, shaping = [], []
        for override in parsed:  # value overrides (objects) apart from shaping ones (lines)
            if _plain_value(override):
                plain.append(override)
            else:
                shaping.append(override.input_line)
        key = (preset, tuple(shaping))
        if key not in self._composed:
            self._composed[key] = self._hydra_compose(preset, shaping)
        cfg = copy.deepcopy(self._composed[key])
        if not apply_value_overrides(plain, cfg):
            cfg = self._hydra_compose(preset, list(overrides))
        return resolve(OmegaConf.to_container(cfg, resolve=True))

    def _hydra_compose(self, preset: str, overrides):
        """Hydra's full composition of the preset with ``overrides`` (unresolved)."""
        from hydra import compose, initialize_config_dir

        with initialize_config_dir(str(CONF), version_base="1.3"):
            return compose("config", overrides=[f"experiment={preset}",
                                                f"results_dir={self.results_dir}",
                                                *self.extra, *overrides])

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
        from experiments.spec import run_folder

        entries = []
        for overrides in override_lists:
            cfg = self.compose(preset, overrides)
            result = runfolder.read_result(run_folder(cfg))[0]
            if result is None or result.get("status") not in runfolder.FINISHED:
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
        from experiments import lifecycle
        from experiments.spec import run_folder

        cfg = self.compose(preset, overrides)
        folder = run_folder(cfg)
        result = runfolder.read_result(folder)[0]

        if self.execute and (result is None or result.get("status") not in runfolder.FINISHED):
            cfg["trainer"]["verbose"] = False
            try:
                lifecycle.execute(cfg, verbose=self.verbose,
                                  overrides=[*self.extra, *overrides])
            except lifecycle.RunFailed as err:
                print(f"  {err}", flush=True)
            self.trained += 1
            result = runfolder.read_result(folder)[0]
        run = None if result is None else Run(folder, result)
        self._cache[key] = run
        return run


def _plain_value(override) -> bool:
    """Whether a parsed override only sets a value (``key=value`` on a key that is not a
    config group), so that Hydra applies it after composing; anything else (a group choice,
    ``+``/``++``/``~``, a package, a sweep) goes through the full composition."""
    from hydra.core.override_parser.types import OverrideType

    return (override.type == OverrideType.CHANGE and not override.is_sweep_override()
            and override.package is None and not override.key_or_group.startswith("hydra")
            and not (CONF / override.key_or_group).is_dir())

