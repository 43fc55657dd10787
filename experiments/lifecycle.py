"""The life of a run: its lock, then start (skip a finished run, resume or clean an
unfinished one, build it), train, and finish (evaluate, save, ``result.json``) or fail
(``traceback.txt`` and a ``failed`` result), or stop on Ctrl-C with its last checkpoint
kept. ``execute`` is the one entry point for a single run; ``experiments.packing`` calls
``start``, ``finish`` and ``fail`` around a pack. The folder's files go through
``experiments.runfolder``; the pieces come from ``experiments.build``."""

from __future__ import annotations

import math
import os
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from experiments import runfolder, spec
from experiments.spec import RunSpecError


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a run: its folder keeps its last checkpoint, no temporary
    file and no result, so the same command resumes it. ``str()`` says which run and where."""

    def __init__(self, run_dir: Path, epoch: int):
        super().__init__(f"{run_dir} at epoch {epoch} (its last checkpoint)" if epoch
                         else f"{run_dir} before its first checkpoint")
        self.run_dir, self.epoch = run_dir, epoch


class RunFailed(RuntimeError):
    """A started run raised; its folder holds ``traceback.txt`` and a ``failed`` result."""

    def __init__(self, message: str, run_dir=None):
        super().__init__(message)
        self.run_dir = run_dir


@contextmanager
def run_lock(run_dir: Path):
    """One process at a time per run folder (``filelock``, an OS lock on ``.lock`` in the
    folder): a second sweep on the same results folder waits here, then finds the run
    finished and skips it (no run trained twice, no TensorBoard step written twice). A run
    refused as bad input after its folder was made here leaves no folder behind."""
    from filelock import FileLock, Timeout

    made = runfolder.make(run_dir)
    lock = FileLock(run_dir / runfolder.LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for {run_dir}: another process is training it", flush=True)
        lock.acquire()
    refused = False
    try:
        yield
    except RunSpecError:
        refused = True
        raise
    finally:
        lock.release()
        if refused and made:
            runfolder.remove_made(made)


def execute(cfg: dict, verbose: bool = True, overrides=(), callbacks=()) -> dict:
    """Run one configuration; return its ``result.json`` content. ``overrides`` (the
    command-line or sweep values that made it) name the run in TensorBoard; ``callbacks``
    are extra Keras callbacks (tests pass faults here)."""
    cfg = spec.resolve(cfg)
    spec.check(cfg)
    run_dir = spec.run_folder(cfg)
    with run_lock(run_dir):
        try:
            return _execute(cfg, run_dir, verbose, spec.label(overrides, cfg),
                            list(callbacks))
        except RunInterrupted:
            raise
        except KeyboardInterrupt:
            runfolder.remove_temporaries(run_dir)
            raise RunInterrupted(run_dir, runfolder.saved_epoch(run_dir)) from None


@dataclass
class Job:
    """A started run: its folder prepared, its loop ready to train (alone, or packed with
    others by ``experiments.packing``)."""

    cfg: dict
    run_dir: Path
    verbose: bool
    base: dict
    t0: float
    loop: object = None
    dataset: object = None
    ys: list = None
    tensorboard: object = None

    @property
    def result_path(self) -> Path:
        return self.run_dir / runfolder.RESULT


def start(cfg: dict, run_dir: Path, verbose: bool, label: str, callbacks: list):
    """Everything before training: the earlier result of a finished run (returned as it
    is: nothing to train), or a started ``Job`` (folder cleaned or resumed, data, model,
    TensorBoard log, ``config.yaml``). A failure while starting is the run's failure."""
    from dlkit.training import environment
    from dlkit.training.callbacks import ConsoleProgress
    from experiments import faults
    from experiments.build import prepare
    from experiments.tensorboard_log import TensorBoardLog, TensorBoardScalars, run_logdir

    trainer = cfg["trainer"]
    identity = runfolder.identity(cfg, run_dir)
    if trainer["resume"]:
        previous = runfolder.previous(run_dir, identity)
        if previous is not None and previous.get("status") in runfolder.FINISHED:
            if verbose:
                print(_finished_line(previous, run_dir, _shown_label(label, cfg)), flush=True)
            return previous
    if not trainer["resume"]:
        runfolder.clear(run_dir)
    runfolder.remove_temporaries(run_dir)  # writes a kill cut short (this process holds the lock)
    base = {"run_id": run_dir.name, "identity": identity, "label": label, "seed": cfg["seed"],
            "config": cfg,
            "versions": environment.versions(), "hardware": environment.hardware()}
    job = Job(cfg, run_dir, verbose, base, time.perf_counter())
    try:
        job.dataset, job.ys, job.loop = prepare(cfg, run_dir, callbacks, identity)
        job.tensorboard = TensorBoardLog(run_logdir(run_dir.parent, label, run_dir), run_dir)
        base.update(data={"name": job.dataset.name, "task": job.dataset.task,
                          **job.dataset.sizes()},
                    params=int(job.loop.model.count_params()),
                    tensorboard=str(job.tensorboard.logdir))
        job.loop.callbacks += [TensorBoardScalars(job.tensorboard, job.loop.rows),
                               *([ConsoleProgress(trainer["epochs"])] if verbose else []),
                               *faults.callbacks()]  # last: the epoch's files all written
        runfolder.begin(run_dir, cfg)
        if verbose and job.loop.start_epoch:
            print(f"resuming {run_dir}{_shown_label(label, cfg)} from epoch "
                  f"{job.loop.start_epoch}", flush=True)
    except RunSpecError:
        close(job)
        raise
    except Exception as err:
        fail(job, err)
    return job


def finish(job: Job, outcome, metrics: dict | None = None) -> dict:
    """After training: evaluation (``metrics`` when a packed run computed it already), the
    trained model, HParams and ``result.json``."""
    try:
        if outcome.status == "completed":
            if metrics is None:
                from experiments.build import evaluate

                metrics = evaluate(job.loop.model, job.dataset, job.ys)
            runfolder.save_model(job.run_dir, job.loop.model)
        else:
            metrics = {}
        result = {**job.base, "status": outcome.status, "metrics": metrics,
                  "epochs_completed": outcome.epochs_completed,
                  "resumed_from_epoch": outcome.resumed_from,
                  "diverged_epoch": outcome.diverged_epoch,
                  "wall_time_s": time.perf_counter() - job.t0,
                  "warnings": chance_warnings(metrics, job.dataset)}
        job.tensorboard.hparams(hparams(job.cfg), {**metrics, "epochs_completed":
                                                    outcome.epochs_completed},
                                job.base["label"])
    except Exception as err:
        fail(job, err)
    close(job)
    runfolder.write_result(job.run_dir, result)
    for warning in result.get("warnings") or []:
        print(f"warning: {job.run_dir.name}: {warning}", file=sys.stderr, flush=True)
    if job.verbose:
        shown = {k: round(v, 4) for k, v in result["metrics"].items() if k.startswith("test_")}
        extra = f" at epoch {result['diverged_epoch']}" if result["diverged_epoch"] else ""
        print(f"{result['status']}{extra}: {job.run_dir}"
              f"{_shown_label(job.base['label'], job.cfg)}  {shown}  "
              f"({result['wall_time_s']:.1f}s)", flush=True)
    return result


def _finished_line(previous: dict, run_dir: Path, shown: str) -> str:
    """What a sweep says of a run it finds finished: trained by a pack of this same sweep
    (``packed_by`` is the sweep's token), its status and test metrics; otherwise that it
    skips a run finished before."""
    from experiments.sweep_hooks import SWEEP_TOKEN

    token = os.environ.get(SWEEP_TOKEN)
    if token and previous.get("packed_by") == token:
        shown_metrics = {k: round(v, 4) for k, v in (previous.get("metrics") or {}).items()
                         if k.startswith("test_") and isinstance(v, float)}
        return (f"{previous['status']} in a pack of {previous.get('packed')}: "
                f"{run_dir}{shown}  {shown_metrics}")
    return (f"skipping {run_dir}{shown}: already {previous['status']} "
            "(trainer.resume=false trains it again)")


def _shown_label(label: str, cfg: dict) -> str:
    """`` (<the values that made the run>)`` beside its folder, when a sweep or the command
    line set any (five runs of a learning-rate sweep share a folder stem)."""
    return "" if not label or label == spec.run_name(cfg) else f" ({label})"


def close(job: Job) -> None:
    if job.tensorboard is not None:
        job.tensorboard.close()


def fail(job: Job, err: BaseException):
    """The run failed with ``err`` (raised inside an ``except`` block): ``traceback.txt``,
    a ``failed`` result, then ``RunFailed``."""
    close(job)
    result = {**job.base, "status": "failed", "metrics": {},
              "epochs_completed": job.loop.epochs_done if job.loop else 0,
              "error": f"{type(err).__name__}: {err}",
              "wall_time_s": time.perf_counter() - job.t0}
    runfolder.write_failure(job.run_dir, result, traceback.format_exc())
    raise RunFailed(f"run {job.run_dir} failed: {type(err).__name__}: {err}",
                    job.run_dir) from err


def train(job: Job) -> dict:
    """Train a started job on its own, then finish it (a failure is ``RunFailed``)."""
    try:
        outcome = job.loop.run()
    except Exception as err:
        fail(job, err)
    return finish(job, outcome)


def _execute(cfg: dict, run_dir: Path, verbose: bool, label: str, callbacks: list) -> dict:
    job = start(cfg, run_dir, verbose, label, callbacks)
    if not isinstance(job, Job):
        return job  # finished earlier
    return train(job)


def hparams(cfg: dict) -> dict:
    """The HParams of a run: its defining configuration, flat (``experiments.spec``)."""
    return {k: v for k, v in spec.flat(spec.defining(cfg)).items()
            if isinstance(v, (bool, int, float, str))}


def chance_warnings(metrics: dict, dataset) -> list[str]:
    """A completed classifier whose validation accuracy cannot be told from chance level
    (1/classes, within two binomial standard errors on the validation split) learned
    nothing, though its loss stayed finite: say so."""
    acc = metrics.get("val_accuracy")
    if dataset.task != "classification" or acc is None or dataset.num_classes < 2:
        return []
    chance = 1.0 / dataset.num_classes
    n = max(len(dataset.x_val), 1)
    if acc > chance + 2.0 * math.sqrt(chance * (1.0 - chance) / n):
        return []
    return [f"validation accuracy {acc:.3f} is at chance level ({chance:.3f} for "
            f"{dataset.num_classes} classes): the run completed but learned nothing; "
            "another learning rate (too large or too small) or another initialization may "
            "help"]

