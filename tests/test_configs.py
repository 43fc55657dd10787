"""Every config option composes, passes the suite's checks, and builds through its
registry with the file's settings (one convention: ``name`` picks the entry, the other keys
are its arguments)."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = ["dataset", "model", "loss", "activation", "optimizer", "schedule", "trainer",
          "experiment"]


def options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_option_composes_checks_and_builds(group, option, tmp_path):
    from omegaconf import OmegaConf

    from dlkit import losses, optimizers
    from experiments.build import arguments
    from experiments.spec import check, resolve

    fit = {"loss": ["dataset=natural"], "dataset": ["loss=mse"]}.get(group, [])
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"{group}={option}", f"results_dir={tmp_path}",
                                           *fit])
    cfg = resolve(OmegaConf.to_container(cfg, resolve=True))
    if cfg.get("source", "train") == "train" and group != "model":
        check(cfg)  # (a model option may need another dataset: checked when it is built)
    for node, registry in ((cfg["optimizer"], optimizers), (cfg["loss"], losses)):
        args = arguments("loss" if registry is losses else "optimizer", node)
        obj = registry.get(node["name"], **args)
        assert type(obj) is registry.REGISTRY.lookup(node["name"])
        config = obj.get_config()
        for key, value in args.items():
            assert config[key] == pytest.approx(value), (key, config[key], value)


def test_no_option_uses_another_instantiation_convention():
    import yaml

    for file in CONF.glob("*/*.yaml"):
        if file.parent.name == "hydra":
            continue
        text = yaml.safe_load(file.read_text()) or {}
        assert "_target_" not in str(text) and "instance" not in text, file


def test_option_files_match_registries():
    from dlkit import losses, models, optimizers, schedules

    assert options("loss") == losses.names()
    assert options("optimizer") == optimizers.names()
    assert set(models.names()) <= set(options("model"))
    assert options("schedule") == sorted(schedules.NAMES)
