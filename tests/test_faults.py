"""Sweeps that survive faults: resume after SIGKILL, divergence, failures, determinism,
corrupt checkpoints and parallel workers. Every case runs the real CLI."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import FAST, cli, fast


def runs(root):
    return {p.parent.name: json.loads(p.read_text()) for p in Path(root).rglob("result.json")}


def history(run_dir):
    return pd.read_csv(Path(run_dir) / "history.csv").drop(columns=["epoch_time_s"])


def tensorboard_steps(run_dir, tag="loss/train"):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = json.loads((Path(run_dir) / "result.json").read_text())["tensorboard"]
    acc = EventAccumulator(logdir, size_guidance={"tensors": 0})
    acc.Reload()
    return [event.step for event in acc.Tensors(tag)]


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_completes_every_run_once(tmp_path):
    """The fault point ``epoch:3`` kills the sweep (SIGKILL) right after its first run's
    third epoch wrote its files; the re-run resumes that run there and trains the other."""
    args = ["-m", "seed=0,1", f"results_dir={tmp_path}/killed", *fast(6)]
    proc = cli(*args, cwd=tmp_path, env={"DLKIT_KILL_AT": "epoch:3"}, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    states = [json.loads(s.read_text()) for s in (tmp_path / "killed").rglob("state.json")]
    assert [s["epoch"] for s in states] == [3]  # the first run, killed at its epoch 3
    assert not runs(tmp_path / "killed")  # no run finished
    # every state.json names a complete checkpoint
    from dlkit.training import checkpoint

    for state in (tmp_path / "killed").rglob("state.json"):
        name = json.loads(state.read_text())["checkpoint"]
        assert checkpoint.read(state.parent / "checkpoints" / name)

    cli(*args, cwd=tmp_path)
    cli("-m", "seed=0,1", f"results_dir={tmp_path}/straight", *fast(6),
        cwd=tmp_path)
    killed, straight = runs(tmp_path / "killed"), runs(tmp_path / "straight")
    assert sorted(killed) == sorted(straight) and len(killed) == 2  # same run identities
    assert sorted(r["resumed_from_epoch"] for r in killed.values()) == [0, 3]
    for run_id, result in killed.items():
        assert result["status"] == "completed" and result["epochs_completed"] == 6
        run_dir = tmp_path / "killed" / "default" / run_id
        h = history(run_dir)
        assert list(h["epoch"]) == [1, 2, 3, 4, 5, 6]
        assert tensorboard_steps(run_dir) == [1, 2, 3, 4, 5, 6]
        pd.testing.assert_frame_equal(h, history(tmp_path / "straight" / "default" / run_id),
                                      rtol=1e-6)
        for key, value in straight[run_id]["metrics"].items():
            assert result["metrics"][key] == pytest.approx(value, rel=1e-6), key


@pytest.mark.slow
def test_same_seed_same_history_different_seed_differs(tmp_path):
    for folder in ("a", "b"):
        cli(f"results_dir={tmp_path}/{folder}", *fast(3), cwd=tmp_path)
    cli("seed=1", f"results_dir={tmp_path}/a", *fast(3), cwd=tmp_path)
    (a0,), (b0,) = ([p.parent for p in (tmp_path / f).rglob("result.json") if "_s0_" in str(p)]
                    for f in ("a", "b"))
    (a1,) = [p.parent for p in (tmp_path / "a").rglob("result.json") if "_s1_" in str(p)]
    pd.testing.assert_frame_equal(history(a0), history(b0), check_exact=True)
    assert not np.allclose(history(a0)["loss"], history(a1)["loss"])


@pytest.mark.slow  # in-process: tests/test_loop.py and test_faults_inprocess.py
def test_divergence_stops_the_run_and_records_the_epoch(tmp_path):
    cli("dataset=diabetes", "loss=mse", "optimizer=sgd", "optimizer.learning_rate=50",
        "trainer.epochs=5", f"results_dir={tmp_path}", "trainer.verbose=false", cwd=tmp_path)
    (result,) = runs(tmp_path).values()
    assert result["status"] == "diverged" and result["diverged_epoch"] == 1
    assert result["metrics"] == {}


@pytest.mark.slow
def test_failure_is_recorded_sweep_goes_on_and_exits_nonzero(tmp_path):
    proc = cli("-m", "seed=0,1", f"results_dir={tmp_path}", *FAST,
               cwd=tmp_path, env={"DLKIT_KILL_AT": "epoch:1:raise"}, check=False)
    assert proc.returncode != 0
    results = runs(tmp_path)
    assert len(results) == 2 and {r["status"] for r in results.values()} == {"failed"}
    assert "2 run(s) failed" in proc.stderr
    for run_id, result in results.items():
        assert run_id in proc.stderr and result["epochs_completed"] == 1
        traceback = (tmp_path / "default" / run_id / "traceback.txt").read_text()
        assert "DLKIT_KILL_AT=epoch:1:raise" in traceback
    from experiments.report import load

    assert list(load(tmp_path)["status"]) == ["failed", "failed"]
    # the same command without the fault resumes both from epoch 1 and completes them
    cli("-m", "seed=0,1", f"results_dir={tmp_path}", *FAST, cwd=tmp_path)
    assert {r["status"] for r in runs(tmp_path).values()} == {"completed"}
    assert all(r["resumed_from_epoch"] == 1 for r in runs(tmp_path).values())


@pytest.mark.slow
def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    cli(f"results_dir={tmp_path}", *FAST, cwd=tmp_path,
        env={"DLKIT_KILL_AT": "epoch:1:raise"}, check=False)
    (state,) = tmp_path.rglob("state.json")
    name = json.loads(state.read_text())["checkpoint"]
    (state.parent / "checkpoints" / name).write_bytes(b"garbage")
    proc = cli(f"results_dir={tmp_path}", *FAST, cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert "cannot be loaded" in proc.stderr and "trainer.resume=false" in proc.stderr
    assert all(r["status"] != "completed" for r in runs(tmp_path).values())
    cli("trainer.resume=false", f"results_dir={tmp_path}", *FAST,
        cwd=tmp_path)
    assert [r["status"] for r in runs(tmp_path).values()] == ["completed"]


@pytest.mark.slow
def test_joblib_launcher_two_workers_never_collide(tmp_path):
    """Four runs on two joblib workers; a fake ``nvidia-smi`` lists two GPUs, so each job k
    is pinned to GPU k mod 2 before Keras starts (TensorFlow then finds no real GPU and
    trains on the CPU), and each result.json records its pinning."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(
        "#!/bin/sh\nprintf 'GPU 0: NVIDIA H100 (UUID: GPU-0)\\n"
        "GPU 1: NVIDIA H100 (UUID: GPU-1)\\n'\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "experiments.run", "-m", "hydra/launcher=joblib",
                    "hydra.launcher.n_jobs=2", "seed=0,1", "activation=relu,tanh",
                    f"results_dir={out}", *FAST], cwd=tmp_path, env=env,
                   check=True, capture_output=True, timeout=600)
    results = runs(out)
    assert len(results) == 4 and all(r["status"] == "completed" for r in results.values())
    for run_id in results:
        assert list(history(out / "default" / run_id)["epoch"]) == [1, 2]
    pinned = sorted(r["hardware"]["cuda_visible_devices"] for r in results.values())
    assert pinned == ["0", "0", "1", "1"]


@pytest.mark.slow
def test_two_concurrent_sweeps_train_each_run_once(tmp_path):
    """Two identical sweeps started together on one results folder: every run is trained
    once (the second process waits on the run's lock, then skips it) and every TensorBoard
    step appears once."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    args = [sys.executable, "-m", "experiments.run", "-m", "seed=0,1,2", "trainer.epochs=3",
            f"results_dir={tmp_path}"]
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    runs = sorted((tmp_path / "default").glob("mlp_*"))
    assert len(runs) == 3
    skipped = sum(out.count("already completed") for out, _ in outputs)
    trained = sum(out.count("epoch   3/3") for out, _ in outputs)
    assert (trained, skipped) == (3, 3)          # each run: trained once, skipped once
    for run in runs:
        assert list(pd.read_csv(run / "history.csv")["epoch"]) == [1, 2, 3]
        logdir = Path(json.loads((run / "result.json").read_text())["tensorboard"])
        files = [p for p in logdir.iterdir() if p.name.startswith("events")]
        assert len(files) == 1
        acc = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
        acc.Reload()
        for tag in ("loss/train", "loss/validation"):
            assert [e.step for e in acc.Tensors(tag)] == [1, 2, 3]


@pytest.mark.slow
def test_sigkill_after_a_history_write_with_dropout_resumes_exactly(tmp_path):
    """Dropout draws from a random-number state that travels with the checkpoint: a run
    killed (fault point ``epoch:3``) right after epoch 3's files and re-run equals an
    uninterrupted one."""
    args = ["+model.dropout=0.5", *fast(5)]
    proc = cli(*args, f"results_dir={tmp_path}/killed", cwd=tmp_path,
               env={"DLKIT_KILL_AT": "epoch:3"}, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (killed_dir,) = [s.parent for s in (tmp_path / "killed").rglob("state.json")]
    assert json.loads((killed_dir / "state.json").read_text())["epoch"] == 3
    assert not (killed_dir / "result.json").exists()
    cli(*args, f"results_dir={tmp_path}/killed", cwd=tmp_path)
    cli(*args, f"results_dir={tmp_path}/straight", cwd=tmp_path)
    (straight_dir,) = [s.parent for s in (tmp_path / "straight").rglob("result.json")]
    assert json.loads((killed_dir / "result.json").read_text())["resumed_from_epoch"] == 3
    pd.testing.assert_frame_equal(history(killed_dir), history(straight_dir))
