"""Train one configured run (or a sweep with ``-m``).

    python -m experiments.run                                  # MLP on digits
    python -m experiments.run -m loss=mse,cross_entropy activation=relu,sigmoid trainer.epochs=2
    python -m experiments.run -m experiment=gd_regimes          # a preset sweep
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from experiments.quiet import quiet_tensorflow, set_backend


def _backend_from_argv(argv) -> str | None:
    for arg in argv:
        if arg.startswith("backend="):
            return arg.split("=", 1)[1]
    return None


def _prepare_backend():
    """``backend=...`` must take effect before keras is imported: read it from the command
    line here (Hydra composes the config later)."""
    backend = _backend_from_argv(sys.argv[1:])
    if backend is not None:
        if backend not in ("tensorflow", "jax", "torch"):
            sys.exit(f"backend={backend!r} is not accepted; use tensorflow, jax or torch")
        set_backend(backend)
    quiet_tensorflow()


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    from experiments.pipeline import RunFailed, RunSpecError, execute

    config = OmegaConf.to_container(cfg, resolve=True)
    try:
        result = execute(config, verbose=bool(config["trainer"]["verbose"]))
    except RunSpecError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    except RunFailed as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.get().mode.name == "RUN":
            raise SystemExit(1) from None
        return None  # a sweep goes on; experiments.callbacks reports failures at the end
    return result["metrics"].get("val_loss")


if __name__ == "__main__":
    _prepare_backend()
    main()
