"""Ctrl-C (SIGINT) of a run or a sweep: one line saying what was interrupted and that the
same command resumes, exit status 130, no temporary file left, and on the re-run a line
"resuming <run> from epoch k". The interrupt lands at a known moment: the start of an epoch
(a callback in-process; for the CLI the fault point ``DLKIT_KILL_AT=epoch:1:INT``, which
sends the process a real SIGINT once epoch 1 wrote its files)."""

import json
from pathlib import Path

import keras
import pytest

from experiments.lifecycle import RunInterrupted, execute
from tests.conftest import cli
from tests.test_spec import config

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["trainer.epochs=3", "dataset.subset=300"]


class CtrlC(keras.callbacks.Callback):
    def on_epoch_begin(self, index, logs=None):
        if index == 1:
            raise KeyboardInterrupt


def _temporaries(root):
    return [p for p in Path(root).rglob("*") if p.name.endswith((".tmp", ".tmp.keras"))]


def test_an_interrupted_run_says_where_it_stopped_and_resumes(tmp_path, capsys):
    cfg = config(tmp_path, *SMALL)
    with pytest.raises(RunInterrupted) as info:
        execute(cfg, verbose=False, callbacks=[CtrlC()])
    (folder,) = [p.parent for p in tmp_path.rglob("state.json")]
    assert str(info.value) == f"{folder} at epoch 1 (its last checkpoint)"
    assert not (folder / "result.json").exists() and not _temporaries(tmp_path)
    capsys.readouterr()
    result = execute(config(tmp_path, *SMALL), verbose=True)
    assert f"resuming {folder} from epoch 1" in capsys.readouterr().out
    assert result["status"] == "completed" and result["resumed_from_epoch"] == 1


def test_a_sweeps_lines_show_each_runs_values(tmp_path, capsys):
    execute(config(tmp_path, *SMALL, "seed=1"), verbose=True, overrides=["seed=1"])
    (folder,) = [p.parent for p in tmp_path.rglob("result.json")]
    out = capsys.readouterr().out
    assert f"completed: {folder} (seed=1)  " in out
    execute(config(tmp_path, *SMALL, "seed=1"), verbose=True, overrides=["seed=1"])
    assert f"skipping {folder} (seed=1): already completed" in capsys.readouterr().out


CTRL_C_AFTER_EPOCH_1 = {"DLKIT_KILL_AT": "epoch:1:INT"}


@pytest.mark.slow
@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_ctrl_c_is_one_line_exit_130_and_the_rerun_resumes(tmp_path, sweep):
    args = [*(["-m", "seed=0,1"] if sweep else []), *SMALL, f"results_dir={tmp_path}"]
    proc = cli(*args, cwd=tmp_path, env=CTRL_C_AFTER_EPOCH_1, check=False)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.strip()]
    (state,) = tmp_path.rglob("state.json")
    folder = state.parent
    what = "the sweep at job 1, run " if sweep else "run "
    assert line == (f"interrupted: {what}{folder} at epoch 1 (its last checkpoint); "
                    "re-running the same command resumes")
    assert json.loads(state.read_text())["epoch"] == 1
    assert not _temporaries(tmp_path) and not (tmp_path / "default" / ".sweeps").exists()
    assert not list(tmp_path.rglob("result.json"))  # the sweep stopped at its first run
    again = cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"resuming {folder}" in again.stdout and "from epoch 1" in again.stdout
    results = [json.loads(p.read_text()) for p in tmp_path.rglob("result.json")]
    assert len(results) == (2 if sweep else 1)
    assert sorted(r["resumed_from_epoch"] for r in results) == ([0, 1] if sweep else [1])
