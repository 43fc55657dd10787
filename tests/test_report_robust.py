"""The report against a full disk and against damaged or hostile run folders: every file it
writes goes through the atomic writer, a ``result.json`` of the wrong shape is listed as
unreadable, and a run's ``name`` never writes outside ``--out``."""

import builtins
import errno
import io
import json
import os

import pandas as pd
import pytest


def _run(folder, name="sweep", seed=0, activation="relu", **result):
    """A finished run folder: ``result.json`` and a three-epoch ``history.csv``."""
    folder.mkdir(parents=True)
    pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [1.0, 0.5, 0.25 + seed / 10],
                  "val_accuracy": [0.5, 0.8, 0.9]}).to_csv(folder / "history.csv",
                                                             index=False)
    body = {"config": {"name": name, "seed": seed, "activation": {"name": activation},
                       "dataset": {"name": "digits"}, "trainer": {"epochs": 3}},
            "status": "completed", "run_id": folder.name, "seed": seed,
            "epochs_completed": 3, "metrics": {"test_accuracy": 0.9, "val_loss": 0.25,
                                           "val_accuracy": 0.9}}
    body.update(result)
    (folder / "result.json").write_text(json.dumps(body), encoding="utf-8")


def _sweep(root):
    for activation in ("relu", "tanh"):
        for seed in (0, 1):
            _run(root / f"{activation}_{seed}", seed=seed, activation=activation)


@pytest.fixture
def disk_full(monkeypatch):
    """``disk_full(folder, part)``: from now on, a file opened for writing in ``folder``
    whose name contains ``part`` (its temporary file included) takes half of its first
    write, then fails with ENOSPC, as a full disk does. Every writer goes through
    ``io.open`` (``open``, ``Path.write_text``, pandas, ``os.fdopen``)."""
    real = io.open

    def install(folder, part):
        folder = os.path.realpath(folder)

        class Full:
            def __init__(self, handle):
                self._handle = handle

            def write(self, data):
                self._handle.write(data[:len(data) // 2])
                self._handle.flush()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            def __getattr__(self, name):
                return getattr(self._handle, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._handle.close()

        def fake_open(file, mode="r", *args, **kwargs):
            handle = real(file, mode, *args, **kwargs)
            where = os.readlink(f"/proc/self/fd/{file}") if isinstance(file, int) else \
                os.path.realpath(file)
            if set(mode) & set("wax") and os.path.dirname(where) == folder and \
                    part in os.path.basename(where):
                return Full(handle)
            return handle

        monkeypatch.setattr(io, "open", fake_open)
        monkeypatch.setattr(builtins, "open", fake_open)

    return install


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("part", ["results.csv", "sweep_summary.csv", "sweep_val_loss.png",
                                  "sweep_val_loss.csv", "sweep_val_accuracy.png"])
def test_a_full_disk_keeps_every_previous_report_file(tmp_path, disk_full, capsys, part):
    """Each file of the report (the table, a sweep's summary, a figure, a figure's CSV)
    failing on a full disk: the previous version stays intact, no temporary file is left,
    and the report exits 1 with one line. Written in place, the table was truncated."""
    from experiments.report import main

    _sweep(tmp_path / "runs")
    out = tmp_path / "out"
    assert main([str(tmp_path / "runs"), "--out", str(out), "--figures"]) == 0
    before = _snapshot(out)
    assert part in before
    # a second sweep changes every file the report writes
    _run(tmp_path / "runs" / "sigmoid_0", activation="sigmoid")
    capsys.readouterr()
    disk_full(out, part)
    assert main([str(tmp_path / "runs"), "--out", str(out), "--figures"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: writing the report into {out} failed: "
                              f"{os.strerror(errno.ENOSPC)}")
    assert not [line for line in err if "Traceback" in line]
    assert _snapshot(out)[part] == before[part]
    assert sorted(p.name for p in out.iterdir()) == sorted(before)  # no temporary file


@pytest.mark.parametrize("part", ["claims.json", "claims.md"])
def test_a_full_disk_keeps_the_previous_claims_report(tmp_path, disk_full, part):
    from experiments.claims.report import write

    write([], [], tmp_path)
    before = _snapshot(tmp_path)
    (tmp_path / part).write_text("previous\n")
    disk_full(tmp_path, part)
    with pytest.raises(OSError) as err:
        write([], [], tmp_path)
    assert err.value.errno == errno.ENOSPC
    assert (tmp_path / part).read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)


def test_the_claims_command_reports_a_full_disk_in_one_line(tmp_path, disk_full, monkeypatch,
                                                            capsys):
    import argparse

    from experiments import tensorboard_log, tf_startup
    from experiments.claims import __main__ as cli
    from experiments.claims import report

    monkeypatch.setattr(tf_startup, "start_tensorflow", lambda: None)
    monkeypatch.setattr(tensorboard_log, "write_experiment", lambda folder: None)
    monkeypatch.setattr(report, "collect", lambda *args, **kwargs: ([], []))
    (tmp_path / "claims.md").write_text("previous\n")
    disk_full(tmp_path, "claims.md")
    args = argparse.Namespace(results=str(tmp_path), out=None, backend="tensorflow",
                              override=[])
    assert cli._report([], args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: writing the claims report into {tmp_path} failed: "
                   f"{os.strerror(errno.ENOSPC)}; files already there keep their previous "
                   "contents"]
    assert (tmp_path / "claims.md").read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.json", "claims.md"]


def _files(root):
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["../../x", "ABSOLUTE", "a/b", "..", "", "n" * 300])
def test_a_hostile_sweep_name_never_writes_outside_out(tmp_path, capsys, name):
    """A run whose ``config.name`` is a path (``../../x``, an absolute path, a nested one) or
    no file name at all: the report writes nothing outside ``--out``, lists the folder as
    unreadable with the reason, and still reports the other runs. The summary was once
    written to ``<out>/<name>_summary.csv`` wherever that led."""
    from experiments.report import main

    if name == "ABSOLUTE":
        name = str(tmp_path / "elsewhere" / "x")
        (tmp_path / "elsewhere").mkdir()
    _sweep(tmp_path / "runs")
    _run(tmp_path / "runs" / "hostile", name=name)
    out = tmp_path / "a" / "b" / "out"
    before = _files(tmp_path)
    assert main([str(tmp_path / "runs"), "--out", str(out), "--figures"]) == 0
    written = _files(tmp_path) - before
    assert written and all(out in p.parents for p in written), sorted(written)
    assert {p.name for p in written} == {"results.csv", "sweep_summary.csv",
                                         "sweep_val_loss.png", "sweep_val_loss.csv",
                                         "sweep_val_accuracy.png", "sweep_val_accuracy.csv"}
    err = capsys.readouterr().err
    assert f"unreadable: {tmp_path / 'runs' / 'hostile'} (config.name " in err
    assert "is not a plain file name" in err
    table = pd.read_csv(out / "results.csv").set_index("run_id")
    assert table.loc["hostile", "status"] == "unreadable"
    assert (table.drop(index="hostile")["status"] == "completed").all()


def test_an_interrupted_runs_config_yaml_cannot_name_a_path_either(tmp_path, capsys):
    from experiments.report import main

    _sweep(tmp_path / "runs")
    (tmp_path / "runs" / "cut").mkdir()
    (tmp_path / "runs" / "cut" / "config.yaml").write_text("name: ../../../x\nseed: 0\n")
    out = tmp_path / "a" / "b" / "out"
    before = _files(tmp_path)
    assert main([str(tmp_path / "runs"), "--out", str(out)]) == 0
    assert all(out in p.parents for p in _files(tmp_path) - before)
    assert "unreadable: " in capsys.readouterr().err


SHAPES = [  # (how result.json is damaged, the reason the report gives)
    ({"metrics": [0.9, 0.1]}, "metrics is a list, not a mapping"),
    ({"config": "mlp"}, "config is a str, not a mapping"),
    ({"config": {"name": ["sweep"], "seed": 0}}, "config.name is a list, not a string"),
    ({"config": {"name": {"a": 1}}}, "config.name is a dict, not a string"),
    ({"status": {"done": True}}, "status is a dict, not a str"),
    ({"seed": "zero"}, "seed is a str, not an int"),
    ({"seed": True}, "seed is a bool, not an int"),
    ({"run_id": [1]}, "run_id is a list, not a str"),
    ({"wall_time_s": "fast"}, "wall_time_s is a str, not an int or a float"),
    ({"metrics": {"test_accuracy": {"v": 1}}}, "metrics.test_accuracy is {'v': 1}, not a number"),
    ({"metrics": {"test_accuracy": "high"}}, "metrics.test_accuracy is 'high', not a number"),
]


@pytest.mark.parametrize("damage, reason", SHAPES)
def test_a_result_json_of_the_wrong_shape_is_listed_as_unreadable(tmp_path, capsys, damage,
                                                                  reason):
    """Valid JSON of the wrong shape: the report does not crash, lists the folder as
    unreadable with the reason, and summarizes the other runs as before."""
    from experiments.report import main

    _sweep(tmp_path / "runs")
    _run(tmp_path / "runs" / "odd")
    file = tmp_path / "runs" / "odd" / "result.json"
    file.write_text(json.dumps({**json.loads(file.read_text()), **damage}))
    out = tmp_path / "out"
    assert main([str(tmp_path / "runs"), "--out", str(out), "--figures"]) == 0
    assert f"unreadable: {tmp_path / 'runs' / 'odd'} ({reason})" in capsys.readouterr().err
    table = pd.read_csv(out / "results.csv").set_index("run_id")
    assert table.loc["odd", "status"] == "unreadable" and table.loc["odd", "problem"] == reason
    summary = pd.read_csv(out / "sweep_summary.csv")
    assert sorted(summary["activation.name"]) == ["relu", "tanh"]
    assert list(summary["n"]) == [2, 2]


def test_metrics_written_as_text_nan_or_inf_stay_readable(tmp_path):
    """The atomic JSON writer stores NaN and infinity as text: such a run is a run."""
    import math

    from experiments.report import load

    _run(tmp_path / "diverged", status="diverged",
         metrics={"test_accuracy": "nan", "val_loss": "inf"})
    (row,) = load(tmp_path).to_dict("records")
    assert row["status"] == "diverged" and math.isnan(row["test_accuracy"])
    assert row["val_loss"] == math.inf
