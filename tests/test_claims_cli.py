"""The protocol through its real command line, at a tiny size, in-process: one claim one run
at a time and packed, and two claims in two worker processes."""

import json

import pandas as pd
import pytest

from experiments.claims.protocol import TUNING_SEEDS


@pytest.mark.slow
def test_protocol_end_to_end_packed_or_not_and_rerun_trains_nothing(tmp_path, capsys):
    """One claim through the real command line: every arm tuned inside its grid, the finals
    and the A/A control, the figure and its table; a re-run finds every run and trains
    nothing; and ``--pack`` (TensorFlow, the default backend) chooses the same rates and
    gives the same final and control values per seed (equal: a TensorFlow pack runs each
    run's own operations) in the same run folders."""
    from experiments.claims.__main__ import main

    def claim(tag, *extra):
        args = ["adam_vs_sgd", "--override", "trainer.epochs=1", "--override",
                "dataset.subset=400", "--seeds", "2", "--points", "2",
                "--results", str(tmp_path / tag), "--out", str(tmp_path / f"{tag}_out"), *extra]
        assert main(args) == 0
        return json.loads((tmp_path / f"{tag}_out" / "claims.json").read_text())["claims"]

    (claim_,) = claim("alone")
    assert claim_["key"] == "adam_vs_sgd" and claim_["verdict"] == "inconclusive"  # 2 seeds
    folders = [p.parent for p in (tmp_path / "alone" / "optimizers").glob("*/result.json")]
    expected = 0
    for arm in ("a", "b"):
        tuning = claim_[arm]["tuning"]
        assert tuning["tuned"] and len(tuning["rates"]) >= 2
        lo, hi = tuning["grid"]
        # the chosen rate is inside the grid unless the report says the limit was reached
        inside = lo < claim_[arm]["chosen_rate"] < hi
        assert inside or tuning["best_at_edge"]
        assert set(tuning["seeds"]) == set(TUNING_SEEDS)
        expected += len(tuning["rates"]) * len(TUNING_SEEDS) + 2
    expected += 2  # the A/A control: arm A on two more seeds
    assert len(folders) == expected
    figure = pd.read_csv(tmp_path / "alone_out" / "claim_adam_vs_sgd.csv")
    assert set(figure["stage"]) == {"tune", "final", "control"}
    assert set(figure[figure["stage"] == "final"]["label"]) == {"Adam", "SGD"}
    assert (tmp_path / "alone_out" / "claim_adam_vs_sgd.png").stat().st_size > 10_000

    # again: every run is found, nothing is trained twice
    capsys.readouterr()
    claim("alone")
    assert "0 runs trained" in capsys.readouterr().out
    assert len(list((tmp_path / "alone" / "optimizers").glob("*/result.json"))) == expected

    (packed,) = claim("packed", "--pack")
    assert "runs trained in" in capsys.readouterr().out
    assert sorted(p.parent.name for p in (tmp_path / "packed").rglob("result.json")) == \
        sorted(p.parent.name for p in (tmp_path / "alone").rglob("result.json"))
    packed_runs = [json.loads(p.read_text()) for p in (tmp_path / "packed").rglob("result.json")]
    assert any(r.get("packed", 0) > 1 for r in packed_runs)
    for arm in ("a", "b"):
        assert packed[arm]["chosen_rate"] == claim_[arm]["chosen_rate"]
        assert packed[arm]["final"] == claim_[arm]["final"]  # TensorFlow: the same operations
    assert packed["control"]["values"] == claim_["control"]["values"]


@pytest.mark.slow
def test_claims_in_two_worker_processes_give_one_report(tmp_path):
    import subprocess
    import sys

    args = [sys.executable, "-m", "experiments.claims", "adam_vs_sgd", "symmetry",
            "--override", "trainer.epochs=1", "--override", "dataset.subset=300", "--seeds",
            "2", "--points", "2", "--results", str(tmp_path / "r"), "--out", str(tmp_path),
            "--workers", "2"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "claims.json").read_text())
    assert {c["key"] for c in data["claims"]} == {"adam_vs_sgd", "symmetry"}
    assert (tmp_path / "r" / "optimizers").is_dir() and (tmp_path / "r" / "init_symmetry").is_dir()


def test_workers_plan_keeps_a_presets_claims_together_heaviest_first_and_times_alone():
    """``--workers``: the pooling claims (one preset, shared runs, the costliest networks)
    are one unit, split into its two arms (more than half a worker's share), the heavier
    no-pooling arm first; a timed claim is held back to run alone; every other claim is in
    exactly one unit, whole."""
    from experiments.claims import load
    from experiments.claims.__main__ import plan

    keys = ["adam_vs_sgd", "pooling_less_overfitting", "power_of_two_batches",
            "pooling_shift_invariance", "vanishing_vs_relu", "adam_vs_momentum"]
    claims = {c.key: c for c in load()}
    units, alone = plan([claims[k] for k in keys], workers=2)
    assert alone == ["power_of_two_batches"]
    pooling = ["pooling_less_overfitting", "pooling_shift_invariance"]
    assert units[:2] == [(pooling, "b"), (pooling, "a")]  # arm B: without pooling, 16x Dense
    assert (["adam_vs_sgd", "adam_vs_momentum"], None) in units  # one preset: one unit
    assert sorted(k for keys_, arm in units if arm != "a" for k in keys_) == sorted(
        k for k in keys if k != "power_of_two_batches")
    # one worker: nothing to balance, nothing split
    assert (pooling, None) == plan([claims[k] for k in keys], workers=1)[0][0]


def _fake_worker(tmp_path, monkeypatch, units, body):
    """``--workers`` with the worker processes replaced by a shell script (``body`` decides
    each one's fate from its arguments) and a fixed plan, so nothing trains; returns the
    file each worker's arguments are logged to."""
    import sys

    from experiments.claims import workers

    log = tmp_path / "workers.log"
    script = tmp_path / "worker.sh"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n{body}\nexit 0\n')
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(script))
    monkeypatch.setattr(workers, "plan", lambda *args, **kwargs: (units, []))
    return log


def test_a_worker_killed_by_a_signal_fails_the_command_and_is_named(tmp_path, monkeypatch,
                                                                     capsys):
    """A worker killed by SIGKILL (status -9) beside one that succeeded: the command exits
    non-zero (128 + 9, as a shell reports it), names the unit and how it died, and writes
    no report. Its codes were once combined with max(), so [-9, 0] exited 0."""
    from experiments.claims.__main__ import main

    units = [(["adam_vs_sgd"], None), (["symmetry"], "b")]
    log = _fake_worker(tmp_path, monkeypatch, units,
                       'case " $* " in *" adam_vs_sgd "*) kill -KILL $$;; esac')
    code = main(["adam_vs_sgd", "symmetry", "--workers", "2", "--results",
                 str(tmp_path / "r"), "--out", str(tmp_path / "out"), "--override",
                 "trainer.epochs=1", "--seeds", "2"])
    err = capsys.readouterr().err
    assert code == 128 + 9
    summary = err[err.index("error: "):]  # the closing summary
    assert summary.splitlines() == ["error: 1 of 2 claims workers failed; no report written:",
                                    "  adam_vs_sgd: killed by SIGKILL"]
    assert "2/2 units finished (symmetry (arm B): done)" in err or \
        "1/2 units finished (symmetry (arm B): done)" in err
    assert not (tmp_path / "out").exists()  # no report
    # every worker got the options from the parsed command line, no --workers
    lines = sorted(log.read_text().splitlines())
    assert len(lines) == 2
    for line in lines:
        assert "--override trainer.epochs=1" in line and "--seeds 2" in line
        assert "--no-report" in line and "--workers" not in line
    assert lines[1].split()[2:4] == ["symmetry", "--results"] and "--arm b" in lines[1]


def test_a_worker_exiting_with_an_error_status_fails_the_command(tmp_path, monkeypatch,
                                                                 capsys):
    from experiments.claims.__main__ import main

    units = [(["adam_vs_sgd"], "a"), (["adam_vs_sgd"], "b")]
    _fake_worker(tmp_path, monkeypatch, units, 'case " $* " in *" --arm b "*) exit 2;; esac')
    code = main(["adam_vs_sgd", "--workers", "2", "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    summary = err[err.index("error: "):]
    assert summary.splitlines()[1:] == ["  adam_vs_sgd (arm B): exit status 2"]
