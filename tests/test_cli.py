"""The real CLI in subprocesses: a run, a 2x2 multirun, the report, resume and bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import cli

ROOT = Path(__file__).resolve().parents[1]


def results(root):
    return sorted(Path(root).rglob("result.json"))


@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
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


@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
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
    assert not (tmp_path / "default" / ".sweeps").exists()  # the sweep's record is gone


def test_two_sweeps_on_one_folder_each_report_their_own_jobs(tmp_path, capsys, monkeypatch):
    """Two sweeps writing one results folder: the second one's start leaves the first one's
    record alone, and each sweep's closing summary and exit status count its own refused
    and failed jobs only (the jobs run as separate processes; each inherits its sweep's
    token)."""
    from omegaconf import OmegaConf

    from experiments import sweep_hooks

    cfg = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}, "sweeper": {},
                                      "overrides": {"task": ["seed=0,1"]}}})
    first, second = sweep_hooks.SweepStatus(), sweep_hooks.SweepStatus()
    first.on_multirun_start(cfg)
    second.on_multirun_start(cfg)
    monkeypatch.setenv(sweep_hooks.SWEEP_TOKEN, first.token)        # a job of the first
    sweep_hooks.reject(tmp_path, 0, ["seed=0"], "seed=-1 is not accepted")
    monkeypatch.setenv(sweep_hooks.SWEEP_TOKEN, second.token)       # a job of the second
    sweep_hooks.record_failure(tmp_path, 1, ["seed=1"], tmp_path / "mlp_s1_abc", "boom")
    capsys.readouterr()
    with pytest.raises(SystemExit) as ended:
        second.on_multirun_end(cfg)
    err = capsys.readouterr().err
    assert ended.value.code == 1
    assert "1 run(s) failed: mlp_s1_abc" in err and "seed=-1" not in err
    # a third sweep starting now removes nothing of the first's
    third = sweep_hooks.SweepStatus()
    third.on_multirun_start(cfg)
    with pytest.raises(SystemExit) as ended:
        first.on_multirun_end(cfg)
    err = capsys.readouterr().err
    assert ended.value.code == 2
    assert "rejected before training: job 0 (seed=0): seed=-1 is not accepted" in err
    assert "mlp_s1_abc" not in err
    third.on_multirun_end(cfg)  # nothing refused or failed: no exit
    assert not (tmp_path / ".sweeps").exists()


@pytest.mark.parametrize("override, message", [
    ("trainer.epocs=3", "trainer.epocs is not a trainer setting; the trainer has "),
    ("name=../../x", "name='../../x' is not accepted"),
    ("seed=4294967296", "seed=4294967296 is not accepted"),
    ("dataset.val_fraction=abc", "dataset.val_fraction='abc' is not accepted"),
])
def test_a_value_error_is_answered_before_tensorflow_starts(tmp_path, override, message):
    """One line and exit status 2, with no folder made anywhere (Hydra's run folder
    included), and before TensorFlow is imported: a stand-in ``tensorflow`` package that
    stops the process on import is never reached."""
    fake = tmp_path / "fake"
    (fake / "tensorflow").mkdir(parents=True)
    (fake / "tensorflow" / "__init__.py").write_text(
        "import sys\nsys.stderr.write('TENSORFLOW IMPORTED\\n')\nraise SystemExit(3)\n")
    cwd = tmp_path / "a" / "b"
    cwd.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "experiments.run", override,
                           "results_dir=out"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "TENSORFLOW IMPORTED" not in proc.stderr
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    if override.startswith("trainer.epocs"):
        assert lines[0].endswith("did you mean epochs?")
    made = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if "fake" not in p.parts)
    assert made == ["a", "a/b"]
