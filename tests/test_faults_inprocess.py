"""Issue-17 regressions in-process: damaged run folders give one clear line, finished runs
are not retrained, dataset arrays are validated, the report lists every folder."""

import json

import numpy as np
import pytest

from experiments.lifecycle import execute
from experiments.spec import RunSpecError
from tests.test_spec import config


def _run(tmp_path, *overrides):
    return execute(config(tmp_path, "trainer.epochs=3", "dataset.subset=300",
                          "trainer.verbose=false", *overrides), verbose=False)


def _folder(tmp_path):
    (folder,) = [p.parent for p in tmp_path.rglob("config.yaml")]
    return folder


@pytest.fixture
def interrupted(tmp_path):
    """A finished run turned into an interrupted one (no result.json)."""
    _run(tmp_path)
    folder = _folder(tmp_path)
    (folder / "result.json").unlink()
    return folder


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "state.json").write_text("{garbage"), "state.json is damaged"),
    (lambda f: (f / "state.json").write_text(""), "state.json is damaged"),
    (lambda f: (f / "state.json").write_text('{"epoch": 2, "checkpoint": "epoch_0003.npz"}'),
     "does not fit"),
    (lambda f: (f / "history.csv").write_text("epoch,loss\n1,0.5\nx,y\n"), "history.csv is "
     "damaged"),
    (lambda f: (f / "history.csv").write_text("epoch,loss\n1,0.5\n"), "does not hold epochs"),
])
def test_damaged_run_folder_is_one_clear_line(tmp_path, interrupted, damage, message):
    damage(interrupted)
    with pytest.raises(RunSpecError) as info:
        _run(tmp_path)
    assert message in str(info.value) and "trainer.resume=false" in str(info.value)
    assert not (interrupted / "result.json").exists()
    # and the way out works
    assert _run(tmp_path, "trainer.resume=false")["status"] == "completed"


def test_garbage_result_of_a_completed_run(tmp_path):
    _run(tmp_path)
    (_folder(tmp_path) / "result.json").write_text("not json")
    with pytest.raises(RunSpecError, match="result.json is damaged.*trainer.resume=false"):
        _run(tmp_path)


def test_duplicated_history_row_counts_once(tmp_path, interrupted):
    lines = (interrupted / "history.csv").read_text().splitlines()
    (interrupted / "history.csv").write_text("\n".join(lines + [lines[-1]]) + "\n")
    assert _run(tmp_path)["status"] == "completed"
    import pandas as pd

    assert list(pd.read_csv(interrupted / "history.csv")["epoch"]) == [1, 2, 3]


def test_a_diverged_run_is_not_retrained(tmp_path, capsys):
    bad = ["loss=mse", "dataset=diabetes", "optimizer=sgd", "optimizer.learning_rate=1e6"]
    first = _run(tmp_path, *bad)
    assert first["status"] == "diverged"
    capsys.readouterr()
    again = execute(config(tmp_path, "trainer.epochs=3", "dataset.subset=300", *bad),
                    verbose=True)
    assert again == first
    assert "already diverged" in capsys.readouterr().out


def test_temporary_files_are_removed_when_a_write_fails(tmp_path):
    from dlkit.training.files import atomic_write

    def fail(handle):
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "checkpoints" / "epoch_0001.npz", fail)
    assert not list((tmp_path / "checkpoints").iterdir())


@pytest.mark.parametrize("arrays, message", [
    ({"y_train": -np.ones(20, "int64")}, "label -1"),
    ({"x_train": np.full((20, 8, 8), np.nan, "float32")}, "NaN or infinity"),
    ({"x_train": np.zeros(20, "float32")}, "images of shape"),
    ({"y_train": np.array(["a"] * 20)}, "integer class labels"),
])
def test_dataset_arrays_are_validated(tmp_path, arrays, message):
    good = {"x_train": np.zeros((20, 8, 8), "uint8"), "y_train": np.arange(20) % 2,
            "x_test": np.zeros((10, 8, 8), "uint8"), "y_test": np.arange(10) % 2}
    path = tmp_path / "data.npz"
    np.savez(path, **{**good, **arrays})
    with pytest.raises(RunSpecError, match=message) as info:
        execute(config(tmp_path, "dataset=mnist", f"dataset.path={path}"), verbose=False)
    assert "dataset.path" in str(info.value)
    assert not list(tmp_path.rglob("result.json"))


@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
def test_report_lists_every_folder_with_its_state(tmp_path, capsys):
    from experiments import report

    _run(tmp_path)
    _run(tmp_path, "seed=1")
    _run(tmp_path, "seed=2")
    folders = sorted(p.parent for p in tmp_path.rglob("result.json"))
    (folders[0] / "result.json").write_text("{truncated")
    (folders[1] / "result.json").unlink()
    (folders[2] / "history.csv").write_text("epoch,loss\n1,0.5,7,8\n\"unclosed\n")
    assert report.main([str(tmp_path / "default"), "--figures"]) == 0
    captured = capsys.readouterr()
    assert "3 run folders" in captured.out
    assert "unreadable" in captured.out and "interrupted" in captured.out
    table = json.loads(report.load(tmp_path / "default").to_json(orient="records"))
    assert sorted(r["status"] for r in table) == ["completed", "interrupted", "unreadable"]


def test_a_finished_run_at_chance_level_says_so(tmp_path, capsys):
    result = _run(tmp_path, "model.kernel_initializer=constant", "+model.constant_value=0.0")
    assert result["status"] == "completed"
    (warning,) = result["warnings"]
    assert "chance level" in warning and "0.100 for 10 classes" in warning
    assert "chance level" in capsys.readouterr().err
    assert _run(tmp_path, "seed=1")["warnings"] == []


@pytest.mark.parametrize("holder", ["filelock", "fcntl"])
def test_a_run_held_by_another_process_waits_with_one_line(tmp_path, monkeypatch, holder):
    """The run lock (``filelock``) and the packed sweeper's ``fcntl.flock`` on the same
    ``.lock`` exclude each other: a run another holder trains makes this one say so and
    wait (the wait is cut here by the line itself, so no sleep is needed)."""
    import fcntl

    from filelock import FileLock

    from experiments import lifecycle

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    handle = open(run_dir / ".lock", "a+")
    if holder == "fcntl":
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        held = FileLock(run_dir / ".lock")
        held.acquire()

    class Waited(Exception):
        pass

    def said(*args, **kwargs):
        raise Waited(" ".join(map(str, args)))

    monkeypatch.setattr("builtins.print", said)
    with pytest.raises(Waited, match=f"waiting for {run_dir}: another process is training it"):
        with lifecycle.run_lock(run_dir):
            pass
    monkeypatch.undo()
    (held.release() if holder == "filelock" else fcntl.flock(handle, fcntl.LOCK_UN))
    handle.close()
    with lifecycle.run_lock(run_dir):  # free now: taken at once
        assert (run_dir / ".lock").exists()


@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
def test_the_epoch_fault_point_raises_after_that_epochs_files(tmp_path, monkeypatch):
    """``DLKIT_KILL_AT=epoch:2:raise``: the run fails once epoch 2 wrote its files (its
    checkpoint and history hold epoch 2), and the same run without it resumes there."""
    from experiments.lifecycle import RunFailed

    monkeypatch.setenv("DLKIT_KILL_AT", "epoch:2:raise")
    with pytest.raises(RunFailed, match="fault injected by DLKIT_KILL_AT=epoch:2:raise"):
        _run(tmp_path)
    folder = _folder(tmp_path)
    result = json.loads((folder / "result.json").read_text())
    assert (result["status"], result["epochs_completed"]) == ("failed", 2)
    assert json.loads((folder / "state.json").read_text())["epoch"] == 2
    monkeypatch.delenv("DLKIT_KILL_AT")
    again = _run(tmp_path)
    assert (again["status"], again["resumed_from_epoch"]) == ("completed", 2)


@pytest.mark.parametrize("value", ["epoch", "epoch:0", "epoch:x", "pack:1", "epoch:1:NOPE"])
def test_a_misspelt_fault_point_is_refused_not_ignored(monkeypatch, value):
    from experiments import faults

    monkeypatch.setenv("DLKIT_KILL_AT", value)
    with pytest.raises(ValueError, match="DLKIT_KILL_AT=.* is not accepted: .*pack_epoch"):
        faults.reached("epoch", 1)


@pytest.mark.parametrize("text, problem", [
    (None, None),
    ('{"status": "completed", "metrics": {"test_loss": "nan"}}', None),
    ("{truncated", "result.json is not valid JSON (JSONDecodeError)"),
    ("[1, 2]", "result.json holds a list, not an object"),
    ('{"metrics": [1]}', "metrics is a list, not a mapping"),
    ('{"config": "x"}', "config is a str, not a mapping"),
    ('{"seed": true}', "seed is a bool, not an int"),
    ('{"metrics": {"val_loss": "low"}}', "metrics.val_loss is 'low', not a number"),
])
def test_the_run_folder_reader_says_why_a_result_cannot_be_read(tmp_path, text, problem):
    from experiments import runfolder

    if text is not None:
        (tmp_path / "result.json").write_text(text)
    result, why = runfolder.read_result(tmp_path)
    assert why == problem
    assert (result is None) == (text is None or problem is not None)
    if result is not None:
        assert result["status"] == "completed"
        assert np.isnan(runfolder.number(result["metrics"]["test_loss"]))


def test_the_run_folder_reader_gives_a_history_or_an_empty_one(tmp_path, capsys):
    from experiments import runfolder

    assert list(runfolder.read_history(tmp_path).columns) == ["epoch"]
    (tmp_path / "history.csv").write_text("epoch,loss\n1,0.5\n2,0.25\n")
    assert runfolder.read_history(tmp_path)["loss"].tolist() == [0.5, 0.25]
    (tmp_path / "history.csv").write_text("epoch,loss\nx,0.5\n")
    assert runfolder.read_history(tmp_path).empty
    assert "history.csv is malformed" in capsys.readouterr().err
