"""Many small runs at once: the runs of a sweep (or of a claim's tuning grid and seeds) that
differ only in seed and learning rate train as packs (``experiments.pack_engine``), each run
still writing its own folder, history, checkpoints, TensorBoard log and ``result.json``
exactly where and as a separate run writes them.

``train(entries)`` is the one entry point: the Hydra sweeper ``hydra/sweeper=packed`` and
``python -m experiments.claims --pack`` call it before their usual one-at-a-time pass,
which then finds each packed run finished and skips it; runs that pack with no other, that
were refused as bad input, or that another process holds, are left to that pass.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack

DEFAULT_LIMIT = 64  # runs per pack: bounds memory (K copies of the model and data)


def train(entries, verbose: bool = False, limit: int = DEFAULT_LIMIT) -> dict:
    """Train the packable runs among ``entries`` ((configuration, overrides) pairs, the
    overrides naming the run in TensorBoard). Returns counts: ``packed`` runs trained in
    ``packs`` packs, ``alone`` (grouped, then found not to pack), ``left`` to the
    one-at-a-time pass, and ``failed``. Runs whose result is their training time are not
    for packing (each run's ``epoch_time_s`` is its share of the pack's time): the claims
    leave timing statistics out; a sweep of them should not use the packed sweeper."""
    from experiments.tf_startup import start_tensorflow

    start_tensorflow()  # the sweeper packs before any job starts: TensorFlow's quiet start
    import keras

    from experiments import spec

    counts = {"packed": 0, "packs": 0, "alone": 0, "left": 0, "failed": 0}
    if keras.backend.backend() not in ("jax", "tensorflow"):
        counts["left"] = len(entries)
        print(f"[pack] packing needs backend=tensorflow or jax (running "
              f"{keras.backend.backend()}); the runs train one at a time", flush=True)
        return counts
    from experiments._keras_internals import refusal

    refused = refusal()
    if refused:
        counts["left"] = len(entries)
        print(f"[pack] {refused}; the runs train one at a time", flush=True)
        return counts
    candidates = []
    for cfg, overrides in entries:
        try:
            cfg = spec.resolve(cfg)
            spec.check(cfg)
        except spec.RunSpecError:
            counts["left"] += 1  # the one-at-a-time pass reports it
            continue
        candidates.append((cfg, spec.run_folder(cfg), spec.label(overrides, cfg)))
    # runs that could pack share every defining key but the seed and the learning rate:
    # group them so each group is started (built) only when its turn comes
    groups: dict = {}
    for item in candidates:
        groups.setdefault(_pack_key(item[0]), []).append(item)
    t0 = time.perf_counter()
    for items in groups.values():
        if len(items) < 2:
            counts["left"] += len(items)
            continue
        for chunk in [items[i:i + limit] for i in range(0, len(items), limit)]:
            _train_group(chunk, verbose, counts)
    if counts["packed"]:
        print(f"[pack] {counts['packed']} runs trained in {counts['packs']} packs in "
              f"{time.perf_counter() - t0:.1f}s; {counts['left']} left to run one at a time",
              flush=True)
    return counts


def _pack_key(cfg: dict) -> str:
    """The defining keys without the seed and a constant learning rate."""
    import json

    from experiments import spec

    defining = spec.defining(cfg)
    defining.pop("seed", None)
    if cfg["schedule"]["name"] == "constant":
        defining["optimizer"] = {k: v for k, v in defining["optimizer"].items()
                                 if k != "learning_rate"}
    return json.dumps(defining, sort_keys=True, default=str)


def _train_group(items, verbose, counts) -> None:
    """Start the group's runs (each under its run lock), train them as packs, finish them.
    The folders made here for runs refused as bad input are removed once the locks are
    released, as a single run's refusal removes its own (no folder holding only ``.lock``)."""
    from experiments import lifecycle, runfolder
    from experiments.pack_engine import PackedLoop, packs, slower

    refused = []  # the folders made for refused runs, in the order they were made
    with ExitStack() as stack:
        jobs = []
        for cfg, run_dir, label in items:
            try:
                made = runfolder.make(run_dir)
            except lifecycle.RunSpecError:
                counts["left"] += 1  # the one-at-a-time pass reports it
                continue
            if not _lock(stack, run_dir):
                counts["left"] += 1  # another process trains it
                continue
            try:
                job = lifecycle.start(cfg, run_dir, verbose, label, [])
            except lifecycle.RunSpecError as err:
                print(f"error: {err}", file=sys.stderr, flush=True)
                counts["failed"] += 1
                refused.append(made)
                continue
            except lifecycle.RunFailed as err:
                print(f"error: {err}", file=sys.stderr, flush=True)
                counts["failed"] += 1
                continue
            if isinstance(job, lifecycle.Job):
                jobs.append(job)
        by_loop = {id(job.loop): job for job in jobs}
        for group in packs([job.loop for job in jobs]):
            members = [by_loop[id(loop)] for loop in group]
            why = slower(group) if len(members) > 1 else None
            if why:
                print(f"[pack] not packing {len(members)} runs: {why}", flush=True)
            if len(members) < 2 or why:
                for job in members:  # packs with no other: trained here, alone
                    _alone(job, counts)
                continue
            _pack(members, counts, PackedLoop)
    for made in reversed(refused):  # deepest first: a shared sweep folder goes last
        runfolder.remove_made(made)


def _lock(stack: ExitStack, run_dir) -> bool:
    """Hold ``run_dir/.lock`` (the lock a single run takes; the folder exists) until the
    stack closes; False when another process holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(run_dir / ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    stack.callback(lock.release)
    return True


def _alone(job, counts) -> None:
    from experiments import lifecycle

    try:
        lifecycle.train(job)
        counts["alone"] += 1
    except lifecycle.RunFailed as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        counts["failed"] += 1


def _pack(jobs, counts, PackedLoop) -> None:
    """One pack: train, evaluate every completed run on its own splits, finish each run.
    A pack refused when its step is traced trains its runs one at a time instead."""
    from experiments import lifecycle
    from experiments.pack_engine import PackRefused

    try:
        packed = PackedLoop([job.loop for job in jobs])
    except PackRefused as err:
        print(f"[pack] not packing {len(jobs)} runs: {err}; they train one at a time",
              flush=True)
        for job in jobs:
            _alone(job, counts)
        return
    try:
        outcomes = packed.run()
        splits = [{"train": (j.dataset.x_train, j.ys[0]), "val": (j.dataset.x_val, j.ys[1]),
                   "test": (j.dataset.x_test, j.ys[2])} for j in jobs]
        same = len({tuple(a.shape for s in sp.values() for a in s) for sp in splits}) == 1
        metrics = packed.evaluate(splits) if same else [None] * len(jobs)
    except Exception as err:  # the pack's failure is each of its runs' failure
        for job in jobs:
            try:
                lifecycle.fail(job, err)
            except lifecycle.RunFailed as failed:
                print(f"error: {failed}", file=sys.stderr, flush=True)
        counts["failed"] += len(jobs)
        return
    counts["packs"] += 1
    from experiments.sweep_hooks import SWEEP_TOKEN

    for job, outcome, values in zip(jobs, outcomes, metrics):
        job.base["packed"] = len(jobs)
        if os.environ.get(SWEEP_TOKEN):  # the sweep that packed it says so, not "skipping"
            job.base["packed_by"] = os.environ[SWEEP_TOKEN]
        try:
            lifecycle.finish(job, outcome, values if outcome.status == "completed" else None)
            counts["packed"] += 1
        except lifecycle.RunFailed as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            counts["failed"] += 1
