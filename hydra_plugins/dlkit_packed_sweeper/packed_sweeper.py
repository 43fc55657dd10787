"""``hydra/sweeper=packed``: Hydra's basic sweeper, plus one step before each batch of jobs
goes to the launcher: the batch's runs that differ only in seed and learning rate are
trained as packs (``experiments.packing``). The launcher (basic, joblib or submitit) then
runs every job as usual; a packed run is found finished and skipped, so the jobs' return
values, the sweep's callbacks and the bad-input report are those of any sweep.

    python -m experiments.run -m hydra/sweeper=packed backend=jax \\
        seed=0,1,2,3 optimizer.learning_rate=0.001,0.003,0.01,0.03
"""


import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore

from experiments._hydra_internals import BasicSweeper


@dataclass
class PackedSweeperConf:
    _target_: str = "hydra_plugins.dlkit_packed_sweeper.packed_sweeper.PackedSweeper"
    # OmegaConf reads these annotations: it takes Optional, not ``X | None``
    max_batch_size: Optional[int] = None  # noqa: UP045
    params: Optional[dict] = None  # noqa: UP045
    limit: int = 64  # runs per pack


ConfigStore.instance().store(group="hydra/sweeper", name="packed", node=PackedSweeperConf,
                             provider="dlkit")


class PackedSweeper(BasicSweeper):
    def __init__(self, max_batch_size: int | None, params: dict | None = None,
                 limit: int = 64) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 2:
            print(f"error: hydra.sweeper.limit={limit!r} is not accepted: the most runs per "
                  "pack, an int of at least 2", file=sys.stderr, flush=True)
            raise SystemExit(2)
        self.limit = limit

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        # composes every job's configuration, as the basic sweeper's check does (a job that
        # cannot be composed raises here, before anything trains), and keeps the results
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import OmegaConf, open_dict

        from experiments.packing import train
        from experiments.sweep_hooks import label_overrides

        loader = self.hydra_context.config_loader
        in_process = type(self.launcher).__name__ == "BasicLauncher"
        composed = {}
        entries = []
        for overrides in batch:
            cfg = loader.load_sweep_config(master_config=self.config,
                                           sweep_overrides=list(overrides))
            if in_process:
                composed[tuple(overrides)] = copy.deepcopy(cfg)
            HydraConfig.instance().set_config(cfg)
            with open_dict(cfg):
                del cfg["hydra"]
            entries.append((OmegaConf.to_container(cfg, resolve=True),
                            label_overrides(list(overrides), multirun=True)))
        train(entries, verbose=False, limit=self.limit)
        if in_process:  # the basic launcher composes each job again: give it these
            loader.load_sweep_config = _ComposedOnce(loader, composed)


class _ComposedOnce:
    """The config loader's ``load_sweep_config`` for the basic launcher's pass over a batch
    the sweeper has just composed: each job's configuration as composed then (a copy taken
    before it was used), once; any other call, and every call once all are given, composes
    as Hydra does. Saves one composition per job."""

    def __init__(self, loader, composed: dict):
        self.loader, self.composed = loader, composed

    def __call__(self, master_config, sweep_overrides):
        cfg = self.composed.pop(tuple(sweep_overrides), None)
        if not self.composed:
            vars(self.loader).pop("load_sweep_config", None)
        if cfg is None:
            return type(self.loader).load_sweep_config(self.loader, master_config,
                                                       sweep_overrides)
        return cfg
