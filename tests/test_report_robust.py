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
