"""dlkit.schedules against their formulas, step by step, and Plateau's decisions."""

import math

import numpy as np
import pytest

from dlkit import schedules

SPE, EPOCHS, LR = 10, 20, 0.1  # steps per epoch, epochs, base rate


def _at(schedule, step):
    return float(np.asarray(schedule(step)))


@pytest.mark.parametrize("name, params, formula", [
    ("step", {"factor": 0.5, "step_epochs": 5},
     lambda s: LR * 0.5 ** math.floor(s / SPE / 5)),
    ("exponential", {"factor": 0.9}, lambda s: LR * 0.9 ** (s / SPE)),
    ("inverse_time", {"decay_rate": 0.5}, lambda s: LR / (1 + 0.5 * s / SPE)),
    ("cosine", {"alpha": 0.1},
     lambda s: LR * ((1 - 0.1) * 0.5 * (1 + math.cos(math.pi * min(s, SPE * EPOCHS)
                                                    / (SPE * EPOCHS))) + 0.1)),
])
def test_schedule_values_follow_their_formula(name, params, formula):
    schedule = schedules.build(name, LR, SPE, EPOCHS, **params)
    for step in (0, 1, 9, 10, 49, 50, 51, 120, 199, 200):
        assert _at(schedule, step) == pytest.approx(formula(step), rel=1e-5), step


def test_constant_and_plateau_are_plain_rates():
    assert schedules.build("constant", LR, SPE, EPOCHS) == LR
    assert schedules.build("plateau", LR, SPE, EPOCHS) == LR


@pytest.mark.parametrize("name, params, message", [
    ("step", {"step_epochs": 0}, "schedule.step_epochs must be a positive number"),
    ("exponential", {"factor": -1}, "schedule.factor must be a positive number"),
    ("warmup", {}, "unknown schedule 'warmup'"),
])
def test_bad_schedule_settings(name, params, message):
    with pytest.raises(ValueError, match=message):
        schedules.build(name, LR, SPE, EPOCHS, **params)


def test_plateau_cuts_after_patience_and_never_below_min_lr():
    plateau = schedules.Plateau(factor=0.5, patience=2, min_lr=0.02, min_delta=0.01)
    rate = 0.1
    trace = []
    for loss in (1.0, 0.9, 0.895, 0.899, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6):
        rate = plateau.step(loss, rate)
        trace.append(rate)
    # 0.895 is not an improvement by min_delta; two such epochs halve the rate, then the
    # counter starts again; 0.5 improves; later plateaus halve to 0.025, then stop at 0.02
    assert trace == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02,
                                   0.02, 0.02])


def test_plateau_state_round_trips():
    plateau = schedules.Plateau(patience=3)
    plateau.step(1.0, 0.1)
    plateau.step(1.0, 0.1)
    copy = schedules.Plateau(patience=3)
    copy.load_state(plateau.state())
    assert (copy.best, copy.wait) == (1.0, 1)
    assert copy.step(1.0, 0.1) == plateau.step(1.0, 0.1)
    with pytest.raises(ValueError, match="schedule.factor must be in"):
        schedules.Plateau(factor=1.5)


@pytest.mark.slow
def test_plateau_fires_in_the_lr_schedules_preset(tmp_path):
    """The preset's plateau settings lower the rate within its 15 epochs (they did not with
    the defaults: a run that never decays says nothing about decay)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from dlkit.training.callbacks import read_history
    from experiments.claims import CONF
    from experiments.lifecycle import execute

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=lr_schedules", "schedule=plateau",
                                           f"results_dir={tmp_path}"])
    result = execute(OmegaConf.to_container(cfg, resolve=True), verbose=False)
    rates = [r["learning_rate"] for r in read_history(
        tmp_path / "lr_schedules" / result["run_id"] / "history.csv")]
    assert len(rates) == 15 and rates[-1] < rates[0] / 2
