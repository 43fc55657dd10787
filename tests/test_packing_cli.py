"""Packed sweeps through the real CLI: ``hydra/sweeper=packed`` against the same sweep run
one at a time (under TensorFlow and JAX), SIGKILL during a packed sweep, every launcher
(the claims runner's ``--pack``: tests/test_claims_cli.py)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import FAST, cli

SWEEP = ["seed=0,1", "optimizer.learning_rate=0.001,0.01"]
# under JAX packed and separate runs add in another order: equal to float32 rounding; under
# TensorFlow a packed run executes its twin's own operations: equal (see tests/test_pack_engine.py)
RTOL = 1e-5


def runs(root) -> dict:
    return {p.parent.name: (p.parent, json.loads(p.read_text()))
            for p in Path(root).rglob("result.json")}


def files(run_dir) -> list:
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                  if p.is_file() and p.name != ".lock")


def assert_same_runs(packed_root, separate_root, count, exact=True):
    packed, separate = runs(packed_root), runs(separate_root)
    assert sorted(packed) == sorted(separate) and len(packed) == count  # same folders
    for run_id, (run_dir, result) in packed.items():
        other_dir, other = separate[run_id]
        assert result["status"] == other["status"] == "completed"
        assert files(run_dir) == files(other_dir)
        assert Path(result["tensorboard"]).name == Path(other["tensorboard"]).name
        h = pd.read_csv(run_dir / "history.csv").drop(columns="epoch_time_s")
        g = pd.read_csv(other_dir / "history.csv").drop(columns="epoch_time_s")
        pd.testing.assert_frame_equal(h, g, rtol=RTOL, check_exact=exact)
        assert result["metrics"].keys() == other["metrics"].keys()
        for key, value in other["metrics"].items():
            expected = value if exact else pytest.approx(value, rel=RTOL, abs=1e-6)
            assert result["metrics"][key] == expected, key
    return packed


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_packed_sweep_gives_the_separate_runs_folders_files_and_numbers(tmp_path, backend):
    pytest.importorskip(backend)
    proc = cli("-m", "hydra/sweeper=packed", f"backend={backend}", *SWEEP, *FAST,
               f"results_dir={tmp_path}/packed", cwd=tmp_path)
    assert "[pack] 4 runs trained in 1 packs" in proc.stdout
    cli("-m", f"backend={backend}", *SWEEP, *FAST, f"results_dir={tmp_path}/separate",
        cwd=tmp_path)
    packed = assert_same_runs(tmp_path / "packed", tmp_path / "separate", 4,
                              exact=backend == "tensorflow")
    assert {result.get("packed") for _, result in packed.values()} == {4}
    from experiments.report import load  # the runs' table says which trained together

    assert list(load(tmp_path / "packed")["packed"]) == [4] * 4
    assert "packed" not in load(tmp_path / "separate").columns


def test_packing_under_torch_leaves_every_run_to_the_launcher(monkeypatch, capsys):
    import keras

    from experiments import packing

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    counts = packing.train([({}, []), ({}, [])])
    assert counts == {"packed": 0, "packs": 0, "alone": 0, "left": 2, "failed": 0}
    assert capsys.readouterr().out.strip() == (
        "[pack] packing needs backend=tensorflow or jax (running torch); the runs train one "
        "at a time")


def test_packed_runs_refused_as_bad_input_leave_no_folder(tmp_path, capsys):
    """Two runs that pack, both refused when started (five examples cannot be split): each
    says why, and neither their run folders nor the sweep folder the packer made for them
    stays behind (not even one holding only ``.lock``)."""
    from experiments import packing
    from tests.test_spec import config

    out = tmp_path / "out"
    entries = [(config(out, f"seed={seed}", "dataset.subset=5", "trainer.verbose=false"),
                [f"seed={seed}"]) for seed in (0, 1)]
    counts = packing.train(entries)
    assert counts == {"packed": 0, "packs": 0, "alone": 0, "left": 0, "failed": 2}
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(x.startswith("error: dataset=digits with dataset.subset=5")
                                   and "cannot be split" in x for x in lines)
    assert not out.exists()


@pytest.mark.slow
def test_packed_sweeper_under_torch_trains_one_at_a_time(tmp_path):
    pytest.importorskip("torch")
    proc = cli("-m", "hydra/sweeper=packed", "backend=torch", "seed=0,1", *FAST,
               f"results_dir={tmp_path}", cwd=tmp_path)
    assert "packing needs backend=tensorflow or jax (running torch)" in proc.stdout
    assert [r["status"] for _, r in runs(tmp_path).values()] == ["completed"] * 2
    assert all("packed" not in r for _, r in runs(tmp_path).values())


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_sigkill_during_a_packed_sweep_then_rerun_gives_the_uninterrupted_results(tmp_path,
                                                                                   backend):
    """The deterministic fault point ``pack_epoch:3`` kills the sweep (SIGKILL) right after
    the pack's third epoch wrote every run's files; the re-run resumes each run there."""
    pytest.importorskip(backend)
    args = ["-m", "hydra/sweeper=packed", f"backend={backend}", *SWEEP, "trainer.epochs=8",
            "dataset.subset=400", "trainer.verbose=false"]
    proc = subprocess.run([sys.executable, "-m", "experiments.run", *args,
                           f"results_dir={tmp_path}/killed"], cwd=tmp_path, timeout=600,
                          capture_output=True, text=True,
                          env={**os.environ, "DLKIT_KILL_AT": "pack_epoch:3"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    states = [json.loads(p.read_text()) for p in (tmp_path / "killed").rglob("state.json")]
    assert [s["epoch"] for s in states] == [3] * 4  # every run of the pack at epoch 3
    killed_at = 3
    assert not runs(tmp_path / "killed")  # killed mid-training: no run finished
    cli(*args, f"results_dir={tmp_path}/killed", cwd=tmp_path)
    cli(*args, f"results_dir={tmp_path}/straight", cwd=tmp_path)
    killed = assert_same_runs(tmp_path / "killed", tmp_path / "straight", 4,
                              exact=backend == "tensorflow")
    assert all(r["resumed_from_epoch"] >= killed_at for _, r in killed.values())
    for run_dir, _ in killed.values():
        assert list(pd.read_csv(run_dir / "history.csv")["epoch"]) == list(range(1, 9))


@pytest.mark.slow
def test_packed_sweeper_refuses_a_bad_limit_one_line_exit_2(tmp_path):
    proc = cli("-m", "hydra/sweeper=packed", "hydra.sweeper.limit=1", "seed=0,1",
               f"results_dir={tmp_path}", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: hydra.sweeper.limit=1 is not accepted: the most runs per pack, an int of at "
        "least 2"]
    assert "Traceback" not in proc.stderr and not list(tmp_path.rglob("result.json"))


@pytest.mark.slow
def test_packed_sweeper_under_the_joblib_launcher(tmp_path):
    """The packs train in the sweeping process; joblib's workers find them finished."""
    proc = cli("-m", "hydra/sweeper=packed", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
               *SWEEP, *FAST, f"results_dir={tmp_path}/joblib", cwd=tmp_path)
    assert "[pack] 4 runs trained in 1 packs" in proc.stdout
    cli("-m", *SWEEP, *FAST, f"results_dir={tmp_path}/separate", cwd=tmp_path)
    assert_same_runs(tmp_path / "joblib", tmp_path / "separate", 4)


@pytest.mark.slow
def test_packed_sweeper_under_the_submitit_launcher(tmp_path):
    """submitit's local executor: the packs train in the sweeping process, the submitted
    jobs find them finished and return their results."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    proc = cli("-m", "hydra/sweeper=packed", "hydra/launcher=submitit_local",
               "hydra.launcher.timeout_min=10", *SWEEP, *FAST,
               f"results_dir={tmp_path}/submitit", cwd=tmp_path)
    assert "[pack] 4 runs trained in 1 packs" in proc.stdout
    cli("-m", *SWEEP, *FAST, f"results_dir={tmp_path}/separate", cwd=tmp_path)
    packed = assert_same_runs(tmp_path / "submitit", tmp_path / "separate", 4)
    assert {result.get("packed") for _, result in packed.values()} == {4}


@pytest.mark.slow
def test_a_packed_sweep_says_its_runs_trained_in_a_pack_and_a_rerun_says_it_skips(tmp_path):
    """The launcher's pass after packing finds every run finished: the sweep that packed
    them prints each as completed in its pack (with its test metrics), not as a skip; the
    same sweep run again skips them, as any sweep does."""
    args = ["-m", "hydra/sweeper=packed", "seed=0,1", "trainer.epochs=1",
            "dataset.subset=400", f"results_dir={tmp_path}"]
    first = cli(*args, cwd=tmp_path).stdout
    assert first.count("completed in a pack of 2: ") == 2 and "skipping" not in first
    again = cli(*args, cwd=tmp_path).stdout
    assert again.count("skipping ") == 2 and "in a pack of" not in again
