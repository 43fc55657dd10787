"""Every config option composes and every `_target_` in it instantiates."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = ["dataset", "model", "loss", "activation", "optimizer", "schedule", "trainer",
          "experiment"]


def options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _targets(node):
    if isinstance(node, dict):
        if "_target_" in node:
            yield node
        for value in node.values():
            yield from _targets(value)


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_option_composes_and_instantiates(group, option):
    from omegaconf import OmegaConf

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"{group}={option}"])
    container = OmegaConf.to_container(cfg, resolve=True)
    for node in _targets(container):
        obj = instantiate(node)
        # the object is of the named class, with the file's settings
        module, _, name = node["_target_"].rpartition(".")
        assert type(obj).__name__ == name and type(obj).__module__.startswith(module)
        config = obj.get_config()
        for key, value in node.items():
            if key in config and isinstance(value, (int, float, str, bool)):
                assert config[key] == pytest.approx(value) if isinstance(value, float) \
                    else config[key] == value, (key, config[key], value)


def test_option_files_match_registries():
    from dlkit import losses, models, optimizers, schedules

    assert options("loss") == losses.names()
    assert options("optimizer") == optimizers.names()
    assert set(models.names()) <= set(options("model"))
    assert options("schedule") == sorted(schedules.NAMES)
