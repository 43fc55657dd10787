"""``python -m experiments.claims`` says what it is doing: stage, runs done of planned and an
ETA, per claim and overall, and ``--plan`` prints the runs and an estimate without training.
The runs come from a stand-in for ``Runs`` (nothing trains), whose own record of what was
asked for is the reference the progress output is checked against."""

import io
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from experiments.claims.protocol import TUNING_SEEDS
from experiments.claims.runs import Run

BEST = 0.01  # the fake loss surface's best rate; also every arm's default rate


class FakeRuns:
    """Runs of the claim ``adam_vs_sgd`` (mean validation loss) without training: the
    validation loss is lowest at ``BEST``, so each arm's two-point grid grows by one rate.
    A tuning run at the grid's low end and the first final run warn at chance level, as
    the pipeline does (on stderr)."""

    asked: list = []

    def __init__(self, results_dir, execute=False, verbose=False, extra=(), pack=False):
        self.execute, self.trained = execute, 0
        FakeRuns.asked = []

    def default_rate(self, preset, overrides, key):
        return BEST

    def get(self, preset, overrides):
        values = dict(o.split("=", 1) for o in overrides if "=" in o)
        rate, seed = float(values["optimizer.learning_rate"]), int(values["seed"])
        if (preset, tuple(overrides)) not in {(p, tuple(o)) for p, o in FakeRuns.asked}:
            FakeRuns.asked.append((preset, list(overrides)))
            self.trained += 1
            if rate < BEST / 2 or (seed == 0 and "optimizer=adam" in overrides):
                print(f"warning: run{len(FakeRuns.asked)}: validation accuracy 0.100 is at "
                      "chance level (0.100 for 10 classes)", file=sys.stderr, flush=True)
        run = Run(Path("unused"), {"status": "completed", "metrics": {}})
        loss = 0.1 + math.log10(rate / BEST) ** 2 + 0.01 * seed
        run.__dict__["history"] = pd.DataFrame({"epoch": [1, 2], "val_loss": [loss, loss]})
        return run


def _without_mechanism(monkeypatch):
    """The declared claims with no mechanism control (these tests count the other stages;
    the mechanism stage is tested in test_verdicts.py)."""
    from dataclasses import replace

    import experiments.claims as claims

    load = claims.load
    monkeypatch.setattr(claims, "load", lambda *a, **k: [replace(c, mechanism=None)
                                                          for c in load(*a, **k)])


@pytest.fixture
def fake(monkeypatch):
    from experiments import tf_startup
    from experiments.claims import runs

    monkeypatch.setattr(runs, "Runs", FakeRuns)
    _without_mechanism(monkeypatch)
    monkeypatch.setattr(tf_startup, "start_tensorflow", lambda: None)
    monkeypatch.delenv("DLKIT_PROGRESS", raising=False)
    return ["adam_vs_sgd", "--seeds", "2", "--points", "2", "--no-report"]


def _stage(run_overrides) -> str:
    seed = int(dict(o.split("=", 1) for o in run_overrides if "=" in o)["seed"])
    return "tuning" if seed in TUNING_SEEDS else "final" if seed < 2 else "control"


def test_progress_lines_name_the_stage_and_count_runs_against_the_plan(fake, tmp_path,
                                                                       capsys):
    """Off a terminal: one line per stage change with the claim's runs done/planned in that
    stage and all claims' done/total; the totals match the runs the protocol asked for
    (the planned tuning grid, 2 rates x 3 tuning seeds x 2 arms, grew by one rate per arm).
    Chance-level warnings of tuning runs are held back and counted; a final run's shows."""
    from experiments.claims.__main__ import main

    assert main([*fake, "--results", str(tmp_path)]) == 0
    asked = [_stage(o) for _, o in FakeRuns.asked]
    counts = {s: asked.count(s) for s in ("tuning", "final", "control")}
    assert counts == {"tuning": 18, "final": 4, "control": 2}
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("[claims] 1/1 adam_vs_sgd")]
    assert [line.split(";")[0] for line in lines] == [
        "[claims] 1/1 adam_vs_sgd: tuning, 0/12 runs",  # as planned: the grid grows later
        "[claims] 1/1 adam_vs_sgd: final, 0/4 runs",
        "[claims] 1/1 adam_vs_sgd: control, 0/2 runs",
        "[claims] 1/1 adam_vs_sgd: done, 24 runs"]
    assert "all claims 0/18 runs" in lines[0] and "ETA unknown" in lines[0]
    assert "all claims 18/24 runs" in lines[1] and "ETA ~" in lines[1]
    assert "all claims 22/24 runs" in lines[2]
    assert lines[3].endswith("all claims 24/24 runs, ETA ~0s")
    # the rate below the best on both arms' grids, three tuning seeds each: held back
    assert "note: adam_vs_sgd: 6 tuning run(s) ended at chance level" in err
    assert err.count("at chance level (0.100") == 1  # the final run's warning


def test_progress_on_a_terminal_draws_bars(fake, tmp_path, monkeypatch):
    from experiments.claims.__main__ import main

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main([*fake, "--results", str(tmp_path)]) == 0
    shown = terminal.getvalue()
    assert "adam_vs_sgd: tuning" in shown and "adam_vs_sgd: control" in shown
    assert "claims: 100%" in shown and "24/24" in shown
    assert "[claims] 1/1" not in shown  # bars, not lines


def test_plan_prints_runs_per_stage_and_an_estimate_and_trains_nothing(tmp_path, monkeypatch,
                                                                       capsys):
    """``--plan``: the runs per claim and stage (2 points x 3 tuning seeds per arm, 2 final
    seeds per arm, 2 control seeds, no mechanism control), an estimate that grows linearly
    with the epochs, said to be an estimate; no run trained, no folder made."""
    from experiments import lifecycle
    from experiments.claims.__main__ import main

    def no_training(*args, **kwargs):
        raise AssertionError("--plan trained a run")

    monkeypatch.setattr(lifecycle, "execute", no_training)
    _without_mechanism(monkeypatch)
    results = tmp_path / "results"

    def planned(epochs):
        assert main(["adam_vs_sgd", "--plan", "--seeds", "2", "--points", "2",
                     "--results", str(results), "--override", f"trainer.epochs={epochs}"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].split() == ["claim", "preset", "tuning", "final", "control",
                                  "mechanism", "runs", "estimate"]
        assert out[1].split()[:7] == ["adam_vs_sgd", "optimizers", "12", "4", "2", "0", "18"]
        assert out[2].startswith("total: 18 runs, about ") and "(an estimate" in out[2]
        return pd.Timedelta(out[1].split()[7]).total_seconds()

    from experiments.claims.__main__ import RUN_S

    one, two, three = planned(1), planned(2), planned(3)
    assert one >= 18 * RUN_S  # each run's fixed cost, then each epoch's: linear in epochs
    assert two - one > 0 and three - two == pytest.approx(two - one, abs=2.0)
    assert not results.exists()


def test_a_workers_progress_names_its_arm_and_counts_only_its_runs(fake, tmp_path, capsys):
    """``--arm a`` (a worker's half): the lines say which arm, and the plan counts arm A's
    runs only: its tuning grid, its final seeds and the control seeds."""
    from experiments.claims.__main__ import main

    assert main([*fake, "--arm", "a", "--results", str(tmp_path)]) == 0
    lines = [line.split(";")[0] for line in capsys.readouterr().err.splitlines()
             if line.startswith("[claims] ")]
    assert lines == ["[claims] 1/1 adam_vs_sgd (arm A): tuning, 0/6 runs",
                     "[claims] 1/1 adam_vs_sgd (arm A): final, 0/2 runs",
                     "[claims] 1/1 adam_vs_sgd (arm A): control, 0/2 runs",
                     "[claims] 1/1 adam_vs_sgd (arm A): done, 13 runs"]
    assert len(FakeRuns.asked) == 13  # 3 rates x 3 tuning seeds, 2 final, 2 control


def test_replicate_runs_every_stage_on_disjoint_fresh_seeds(fake, tmp_path):
    """``--replicate``: tuning on seeds 200-202, final seeds offset by 1000, the control
    seeds after them; none of the original's seeds."""
    from experiments.claims.__main__ import main

    assert main([*fake, "--replicate", "--results", str(tmp_path)]) == 0
    seeds = {int(dict(o.split("=", 1) for o in overrides if "=" in o)["seed"])
             for _, overrides in FakeRuns.asked}
    assert seeds == {200, 201, 202, 1000, 1001, 1002, 1003}
    assert len(FakeRuns.asked) == 24  # as many runs as the original


def test_chance_warnings_of_a_mechanism_control_are_held_and_named_as_such(capsys):
    """A mechanism control may freeze the weights: its runs learn nothing by design, so
    their chance-level warnings are counted into one note, not shown; a final run's shows."""
    from types import SimpleNamespace

    from experiments.claims import load
    from experiments.claims.progress import Progress, Tracked

    claim = next(c for c in load() if c.key == "mbgd_steadier")
    progress = Progress([claim], stream=io.StringIO())

    class Runs:
        def get(self, preset, overrides):
            print("warning: r: validation accuracy 0.1 is at chance level (0.100 for 10 "
                  "classes)", file=sys.stderr)
            return SimpleNamespace()

    runs = Tracked(Runs(), progress)
    progress.start_claim(claim)
    for stage in ("final", "mechanism"):
        runs.stage(stage)
        runs.get("gd_regimes", [f"seed={stage}"])
    runs.stage("control")
    shown = capsys.readouterr().err
    note = progress.stream.getvalue()
    assert shown.count("at chance level") == 1  # the final run's
    assert "1 mechanism-control run(s) ended at chance level" in note
