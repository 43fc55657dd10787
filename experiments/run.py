"""Train one configured run (or a sweep with ``-m``).

    python -m experiments.run                                  # MLP on digits
    python -m experiments.run -m loss=mse,cross_entropy activation=relu,sigmoid trainer.epochs=2
    python -m experiments.run -m experiment=gd_regimes          # a preset sweep
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from experiments.tf_startup import set_backend, start_tensorflow

BACKENDS = ("tensorflow", "jax", "torch")


def _from_argv(key: str, argv) -> str | None:
    for arg in argv:
        if arg.startswith(f"{key}="):
            return arg.split("=", 1)[1]
    return None


def _prepare_backend():
    """``backend=...`` and ``trainer.device=cpu`` must take effect before the backend starts:
    read them from the command line here (Hydra composes the config later). Overrides naming
    unknown groups, options or keys stop here, with one line and exit status 2."""
    from experiments.spec import precheck

    problem = precheck(sys.argv[1:])
    if problem:
        print(f"error: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    backend = _from_argv("backend", sys.argv[1:])
    if backend is not None and "," not in backend:
        if backend not in BACKENDS:
            sys.exit(f"backend={backend!r} is not accepted; use tensorflow, jax or torch")
        set_backend(backend)
    if _from_argv("trainer.device", sys.argv[1:]) == "cpu":
        from experiments.devices import hide_gpus

        hide_gpus()


def _select_backend(cfg: DictConfig) -> None:
    """Use ``cfg.backend`` if Keras is not imported yet in this process; otherwise it must
    be the backend already running."""
    backend = cfg.backend
    if backend not in BACKENDS:
        raise SystemExit(f"backend={backend!r} is not accepted; use tensorflow, jax or torch")
    if "keras" not in sys.modules:
        set_backend(backend)
        return
    import keras

    if keras.backend.backend() != backend:
        raise SystemExit(
            f"backend={backend!r} cannot start in a process already running "
            f"{keras.backend.backend()!r}; sweep backends with hydra/launcher=joblib or give "
            "backend= on the command line")


def _pin_worker_gpu() -> None:
    """Parallel launchers run jobs in worker processes: give each its own GPU."""
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    launcher = str(hydra_cfg.launcher.get("_target_", ""))
    if hydra_cfg.mode.name == "MULTIRUN" and "BasicLauncher" not in launcher and \
            "keras" not in sys.modules:
        from experiments.devices import assign_worker_gpu

        assign_worker_gpu(hydra_cfg.job.num)


RESUMES = "re-running the same command resumes"


def _interrupted(err: BaseException) -> None:
    """Ctrl-C: one line saying what was interrupted and how to go on, exit status 130 (a
    sweep stops: the later runs are not started)."""
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    what = f"run {err}" if str(err) else "the run"
    if hydra_cfg.mode.name == "MULTIRUN":
        from experiments.sweep_hooks import record_path

        what = f"the sweep at job {hydra_cfg.job.num + 1}, {what}"
        record = record_path(hydra_cfg.sweep.dir)
        record.unlink(missing_ok=True)  # the re-run is a new sweep, with its own record
        try:
            record.parent.rmdir()
        except OSError:
            pass
    print(f"interrupted: {what}; {RESUMES}", file=sys.stderr, flush=True)
    raise SystemExit(130)


def _refused(message: str) -> None:
    """Bad input: one line; exit status 2 for a single run, while a sweep runs its other
    jobs and ``experiments.sweep_hooks`` lists the refused ones at its end (exit status 2)."""
    from hydra.core.hydra_config import HydraConfig

    print(f"error: {message}", file=sys.stderr, flush=True)
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode.name == "RUN":
        raise SystemExit(2)
    from experiments.sweep_hooks import reject

    reject(hydra_cfg.sweep.dir, hydra_cfg.job.num, hydra_cfg.overrides.task, message)
    return None


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    _select_backend(cfg)
    _pin_worker_gpu()
    from hydra.core.hydra_config import HydraConfig

    from experiments.lifecycle import RunFailed, execute
    from experiments.spec import RunSpecError, values_problem
    from experiments.sweep_hooks import label_overrides

    config = OmegaConf.to_container(cfg, resolve=True)

    problem = values_problem(config)  # before the backend starts: answered in moments
    if problem:
        return _refused(problem)
    start_tensorflow()
    try:
        result = execute(config, verbose=bool(config["trainer"]["verbose"]),
                         overrides=label_overrides(
                             list(HydraConfig.get().overrides.task),
                             HydraConfig.get().mode.name == "MULTIRUN"))
    except RunSpecError as err:
        return _refused(str(err))
    except KeyboardInterrupt as err:
        _interrupted(err)
    except RunFailed as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        from hydra.core.hydra_config import HydraConfig

        hydra_cfg = HydraConfig.get()
        if hydra_cfg.mode.name == "RUN":
            raise SystemExit(1) from None
        from experiments.sweep_hooks import record_failure

        # a sweep goes on; experiments.sweep_hooks reports the failures at the end
        record_failure(hydra_cfg.sweep.dir, hydra_cfg.job.num, hydra_cfg.overrides.task,
                       err.run_dir, str(err))
        return None
    return result["metrics"].get("val_loss")


if __name__ == "__main__":
    try:
        _prepare_backend()
        main()
    except KeyboardInterrupt:  # before or between runs (Hydra composing, a pack training)
        print(f"interrupted; {RESUMES}", file=sys.stderr, flush=True)
        raise SystemExit(130) from None
