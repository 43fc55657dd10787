"""Statistics and claim verdicts on fabricated run tables where the right answer is known."""

import math

import numpy as np
import pandas as pd
import pytest

from dlkit.analysis import claims, stats


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


def test_compare_verdicts():
    assert stats.compare([1, 1.1, 0.9], [5, 5.2, 4.8])["verdict"] == "supported"
    assert stats.compare([5, 5.2, 4.8], [1, 1.1, 0.9])["verdict"] == "not supported"
    assert stats.compare([1, 3, 2], [2, 1, 3])["verdict"] == "inconclusive"
    assert stats.compare([1], [2, 3])["verdict"] == "inconclusive"


def _history_store(curves):
    return lambda path: curves[path]


def _runs(rows):
    frame = pd.DataFrame(rows)
    frame["status"] = "completed"
    frame["path"] = [f"run{i}" for i in range(len(frame))]
    return frame


def test_ce_vs_mse_claim_verdicts():
    rows, curves = [], {}
    for loss in ("cross_entropy", "mse"):
        for seed in range(3):
            rows.append({"name": "mse_vs_ce", "loss.name": loss, "seed": seed,
                         "trainer.epochs": 10, "dataset.name": "digits",
                         "test_accuracy": 0.9})
    runs = _runs(rows)
    for _, row in runs.iterrows():
        reach = (3 if row["loss.name"] == "cross_entropy" else 8) + row["seed"] % 2
        acc = np.where(np.arange(1, 11) >= reach, 0.95, 0.5)
        curves[row["path"]] = pd.DataFrame({"epoch": np.arange(1, 11), "val_accuracy": acc})
    (verdict,) = claims.evaluate_all(runs, _history_store(curves))
    assert verdict.verdict == "supported" and verdict.preset == "mse_vs_ce"
    # swap the roles: the claim is then contradicted
    runs["loss.name"] = runs["loss.name"].map({"mse": "cross_entropy", "cross_entropy": "mse"})
    (verdict,) = claims.evaluate_all(runs, _history_store(curves))
    assert verdict.verdict == "not supported"


def test_symmetry_and_lstm_claims():
    rows = []
    for seed in range(3):
        rows.append({"name": "init_symmetry", "model.kernel_initializer": "constant",
                     "seed": seed, "test_accuracy": 0.2 + 0.01 * seed})
        rows.append({"name": "init_symmetry", "model.kernel_initializer": "glorot_uniform",
                     "seed": seed, "test_accuracy": 0.95 + 0.01 * seed})
        for length in (10, 50):
            rows.append({"name": "rnn_vs_lstm", "model.name": "lstm", "dataset.length": length,
                         "seed": seed, "test_mse": 0.001 * (1 + seed)})
            rows.append({"name": "rnn_vs_lstm", "model.name": "rnn", "dataset.length": length,
                         "seed": seed, "test_mse": 0.16 + 0.002 * seed})
    verdicts = {v.preset: v for v in claims.evaluate_all(_runs(rows), lambda p: None)}
    assert verdicts["init_symmetry"].verdict == "supported"
    assert verdicts["rnn_vs_lstm"].verdict == "supported"
    assert "length 50" in verdicts["rnn_vs_lstm"].statistic


def test_vanishing_claim_from_gradient_columns():
    rows, curves = [], {}
    for act in ("sigmoid", "relu"):
        for depth in (2, 6):
            for seed in range(3):
                rows.append({"name": "depth_vanishing", "activation.name": act,
                             "model.depth": depth, "seed": seed})
    runs = _runs(rows)
    for _, row in runs.iterrows():
        decay = 0.25 if row["activation.name"] == "sigmoid" else 0.9 + 0.02 * row["seed"]
        cols = {f"grad_norm/dense_{i}/kernel": [decay ** (row["model.depth"] - i)] * 3
                for i in range(1, row["model.depth"] + 1)}
        curves[row["path"]] = pd.DataFrame({"epoch": [1, 2, 3], **cols})
    (verdict,) = claims.evaluate_all(runs, _history_store(curves))
    assert verdict.verdict == "supported"


def test_gd_regime_claims_and_best_rates():
    rows, curves = [], {}
    rng = np.random.default_rng(0)
    for batch in ("1", "64", "128", "256", "full"):
        for seed in range(3):
            rows.append({"name": "gd_regimes", "trainer.batch_size": batch, "seed": seed,
                         "val_loss": {"full": 1.5}.get(batch, 0.3) + 0.01 * seed})
    runs = _runs(rows)
    for _, row in runs.iterrows():
        noise = 0.3 if row["trainer.batch_size"] == "1" else 0.01
        curves[row["path"]] = pd.DataFrame({"epoch": range(1, 11),
                                            "val_loss": 1 + noise * rng.normal(size=10)})
    verdicts = claims.evaluate_all(runs, _history_store(curves))
    assert [v.verdict for v in verdicts] == ["supported", "supported"]
    opt = pd.DataFrame([{"optimizer.name": o, "trainer.lr_scale": s, "seed": seed,
                         "val_loss": abs(np.log(s)) + (0.1 if o == "adam" else 1.0),
                         "test_loss": 0.5, "test_accuracy": 0.9}
                        for o in ("adam", "sgd", "rmsprop") for s in (0.3, 1.0, 3.0)
                        for seed in range(3)])
    best = claims.best_learning_rates(opt)
    assert list(best["trainer.lr_scale"]) == [1.0, 1.0, 1.0]


def test_momentum_trajectory_claim():
    traj = pd.DataFrame({"function": "ravine", "optimizer": ["sgd", "momentum"],
                         "step": 100, "f": [1.0, 0.01], "x": [1, 0], "y": [0, 0]})
    text, verdict, _ = claims.momentum_in_ravine(traj)
    assert verdict == "supported" and "ratio" in text
    traj["f"] = [0.01, 1.0]
    assert claims.momentum_in_ravine(traj)[1] == "not supported"
    zigzag = pd.DataFrame({"function": "ravine", "optimizer": ["sgd"] * 3 + ["momentum"] * 3,
                           "step": [0, 1, 2] * 2, "f": 1.0, "x": 0.0,
                           "y": [1.0, -0.8, 0.7, 1.0, 0.1, 0.05]})
    assert claims.momentum_damps_oscillation(zigzag)[1] == "supported"
    zigzag["optimizer"] = ["momentum"] * 3 + ["sgd"] * 3
    assert claims.momentum_damps_oscillation(zigzag)[1] == "not supported"


def test_markdown_lists_every_verdict():
    v = claims.Verdict("A claim.", "preset", "digits", "stat", "supported",
                       pd.DataFrame({"a": [1.0]}))
    text = claims.to_markdown([v])
    assert "## A claim." in text and "**supported**" in text and "|   a |" in text


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


@pytest.mark.parametrize("adam_speed,expected", [(3.0, "supported"), (1.0, "inconclusive")])
def test_adaptive_claim_measures_speed_at_best_rates(adam_speed, expected):
    """All optimizers end at the same loss; Adam and RMSprop get there faster (or as fast)
    than SGD. Best rates come from the final val_loss; the verdict from the curves."""
    rows, curves = [], {}
    for opt in ("adam", "rmsprop", "sgd"):
        for scale in (0.3, 1.0, 3.0):
            for seed in range(3):
                final = 0.1 + abs(np.log(scale)) + 0.001 * seed
                rows.append({"name": "optimizers", "optimizer.name": opt,
                             "trainer.lr_scale": scale, "seed": seed, "val_loss": final,
                             "test_loss": final, "test_accuracy": 0.9})
    runs = _runs(rows)
    for _, row in runs.iterrows():
        rate = adam_speed if row["optimizer.name"] != "sgd" else 1.0
        epochs = np.arange(1, 11)
        curve = row["val_loss"] + 2.0 * np.exp(-rate * epochs) + 0.001 * row["seed"] * epochs
        curves[row["path"]] = pd.DataFrame({"epoch": epochs, "val_loss": curve})
    (verdict,) = claims.evaluate_all(runs, _history_store(curves))
    assert verdict.verdict == expected
    assert list(verdict.table["trainer.lr_scale"]) == [1.0, 1.0, 1.0]
