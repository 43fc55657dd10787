"""Statistics on fabricated run tables where the right answer is known (the claims' verdicts:
tests/test_protocol.py)."""

import math

import numpy as np
import pandas as pd
import pytest

from dlkit.analysis import stats


def test_ci95_matches_t_distribution():
    values = [1.0, 2.0, 3.0]
    # t(0.975, 2) = 4.302653; std = 1; sqrt(3)
    assert stats.ci95(values) == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert math.isnan(stats.ci95([1.0]))


def test_aggregate_groups_over_seeds():
    frame = pd.DataFrame({"opt": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1],
                          "test_loss": [1.0, 3.0, 5.0, 5.0]})
    agg = stats.aggregate(frame, ["opt"], ["test_loss"]).set_index("opt")
    assert agg.loc["a", "test_loss_mean"] == 2.0 and agg.loc["a", "n"] == 2
    assert agg.loc["a", "test_loss_std"] == pytest.approx(math.sqrt(2))
    assert agg.loc["b", "test_loss_ci95"] == 0.0


def test_epochs_and_time_to_target():
    h = pd.DataFrame({"epoch": [1, 2, 3, 4], "val_accuracy": [0.5, 0.85, 0.91, 0.95],
                      "val_loss": [2.0, 1.0, 0.4, 0.3], "epoch_time_s": [1.0, 0.5, 0.5, 0.5]})
    assert stats.epochs_to_target(h, "val_accuracy", 0.9) == 3
    assert stats.time_to_target(h, "val_accuracy", 0.9) == 2.0
    assert stats.epochs_to_target(h, "val_loss", 0.35, higher_is_better=False) == 4
    assert math.isnan(stats.epochs_to_target(h, "val_accuracy", 0.99))


def test_trajectories_use_the_optimizers_and_draw(tmp_path):
    from dlkit.testfunctions import FUNCTIONS
    from experiments.trajectories import main, run_path

    # plain SGD on the ravine: x shrinks by (1 - lr) each step, exactly
    path = run_path("sgd", FUNCTIONS["ravine"], steps=10)
    lr = float(np.float32(FUNCTIONS["ravine"].lr_plain))  # Keras keeps the rate in float32
    np.testing.assert_allclose(path["x"].iloc[-1], -8.0 * (1 - lr) ** 10, rtol=1e-12)
    assert main(["--steps", "5", "--functions", "ravine", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "trajectories.csv")
    assert len(set(table["optimizer"])) == 9 and (tmp_path / "ravine.png").stat().st_size > 0


def test_summary_groups_by_defining_keys_only(tmp_path):
    """Runs that differ in a display key (trainer.verbose) and in their time to target are
    still one group per model, with epochs-to-target averaged over the seeds."""
    from experiments.report import summarize

    rows = []
    for model, epochs in (("mlp", [1, 2, 3]), ("cnn", [2, 2, 5])):
        for seed, hit in enumerate(epochs):
            path = tmp_path / f"{model}_{seed}"
            path.mkdir()
            acc = [0.5 + 0.5 * (e >= hit) for e in range(1, 6)]
            pd.DataFrame({"epoch": range(1, 6), "val_accuracy": acc,
                          "epoch_time_s": [1.0] * 5}).to_csv(path / "history.csv", index=False)
            rows.append({"model.name": model, "trainer.verbose": seed == 0, "seed": seed,
                         "test_accuracy": acc[-1], "path": str(path)})
    table = summarize(pd.DataFrame(rows), ("val_accuracy", 0.9)).set_index("model.name")
    assert list(table.index) == ["cnn", "mlp"] and list(table["n"]) == [3, 3]
    assert "trainer.verbose" not in table.columns
    assert table.loc["mlp", "epochs_to_target_mean"] == pytest.approx(2.0)
    assert table.loc["cnn", "epochs_to_target_mean"] == pytest.approx(3.0)
    assert table.loc["cnn", "time_to_target_s_mean"] == pytest.approx(3.0)
