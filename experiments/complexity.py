"""Print dlkit.complexity's per-layer table for any configured model.

    python -m experiments.complexity model=lenet5 dataset.image_size=32
    python -m experiments.complexity model=alexnet +input_shape=[227,227,3] +num_classes=1000
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from experiments.tf_startup import start_tensorflow


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    import pandas as pd

    from dlkit import complexity, data
    from experiments.build import loss_pairing, model_from_config

    config = OmegaConf.to_container(cfg, resolve=True)
    shape, classes = config.get("input_shape"), config.get("num_classes")
    try:
        if shape is None or classes is None:
            ds_cfg = {k: v for k, v in config["dataset"].items() if k != "name"}
            dataset = data.load(config["dataset"]["name"], seed=config["seed"], **ds_cfg)
            shape = shape or dataset.input_shape
            classes = classes or dataset.output_size
            output_activation = loss_pairing(config["loss"], dataset.task)[0]
        else:
            output_activation = config["loss"]["output_activation"]
        model = model_from_config(config, shape, classes, output_activation)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    table = complexity.summary(model)
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(f"{model.name} on input {tuple(shape)}, {classes} outputs")
        print(table.to_string(index=False))


if __name__ == "__main__":
    from experiments.spec import precheck

    problem = precheck(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    start_tensorflow()
    main()
