"""The real CLI in subprocesses: a run, a 2x2 multirun, the report, resume and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd, check=True):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "experiments.run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def results(root):
    return sorted(Path(root).rglob("result.json"))


def test_single_run_writes_a_self_describing_folder(tmp_path):
    out = cli(f"results_dir={tmp_path}", "trainer.epochs=8", cwd=tmp_path)
    assert "epoch   8/8" in out.stdout
    (path,) = results(tmp_path)
    run = path.parent
    assert run.parent.name == "default" and run.name.startswith("mlp_cross_entropy_adam_s0_")
    result = json.loads(path.read_text())
    assert result["status"] == "completed" and result["epochs_completed"] == 8
    assert result["metrics"]["test_accuracy"] > 0.85  # chance is 0.10
    for key in ("train_loss", "val_loss", "test_loss", "val_accuracy"):
        assert key in result["metrics"]
    assert result["versions"]["keras"] and result["hardware"]["cpu"] and result["seed"] == 0
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == list(range(1, 9))
    for column in ("loss", "val_loss", "accuracy", "val_accuracy", "learning_rate",
                   "epoch_time_s"):
        assert column in history.columns
    assert (run / "config.yaml").exists() and (run / "state.json").exists()
    assert [p for p in Path(result["tensorboard"]).iterdir() if p.name.startswith("events")]
    # the same command again skips the completed run
    again = cli(f"results_dir={tmp_path}", "trainer.epochs=8", cwd=tmp_path)
    assert "skipping" in again.stdout and len(results(tmp_path)) == 1


def test_multirun_2x2_and_report(tmp_path):
    cli("-m", "loss=mse,cross_entropy", "activation=relu,sigmoid", "trainer.epochs=2",
        f"results_dir={tmp_path}", "trainer.verbose=false", cwd=tmp_path)
    files = results(tmp_path / "default")
    assert len(files) == 4 and len({f.parent for f in files}) == 4
    report = subprocess.run([sys.executable, "-m", "experiments.report",
                             str(tmp_path / "default")], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert report.returncode == 0, report.stderr
    table = pd.read_csv(tmp_path / "default" / "results.csv")
    assert len(table) == 4
    assert set(table["loss.name"]) == {"mse", "cross_entropy"}
    assert set(table["activation.name"]) == {"relu", "sigmoid"}
    assert table["status"].eq("completed").all() and "test_accuracy" in table.columns
    from experiments.report import load

    assert len(load(tmp_path / "default")) == 4


@pytest.mark.parametrize("override,message", [
    ("loss=foo", "loss=foo is not accepted"),
    ("trainer.epochs=0", "trainer.epochs=0 is not accepted: it must be a positive int"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, override, message):
    """Exit code 2 and a message, no traceback, no result (the full table of bad inputs runs
    in-process in test_spec.py)."""
    proc = cli(override, f"results_dir={tmp_path}", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert message in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    if override == "loss=foo":
        assert "cross_entropy" in proc.stdout + proc.stderr  # lists the valid options
    assert not results(tmp_path) and "epoch" not in proc.stdout


@pytest.mark.slow
def test_runs_from_another_directory(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli("trainer.epochs=1", "results_dir=out", "trainer.verbose=false", cwd=elsewhere)
    assert len(results(elsewhere / "out")) == 1


@pytest.mark.slow
def test_complexity_cli_prints_lenet5_table(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.complexity", "model=lenet5",
                           "dataset.image_size=32"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "PartialConv2D" in proc.stdout and "340908" in proc.stdout and "151600" in proc.stdout


@pytest.mark.slow
def test_a_bad_job_does_not_stop_the_sweep(tmp_path):
    proc = cli("-m", "model=lenet5,mlp", "trainer.epochs=1", f"results_dir={tmp_path}",
               "trainer.verbose=false", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "rejected before training: job 0 (model=lenet5" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    (done,) = results(tmp_path)
    assert done.parent.name.startswith("mlp_")        # the good job after it still ran
    assert not (tmp_path / "default" / ".rejected_jobs").exists()
