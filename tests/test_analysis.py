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
    assert stats.first_epoch_at_target(h, "val_accuracy", 0.9) == 3
    assert stats.time_to_target(h, "val_accuracy", 0.9) == 2.0
    assert stats.first_epoch_at_target(h, "val_loss", 0.35, higher_is_better=False) == 4
    assert math.isnan(stats.first_epoch_at_target(h, "val_accuracy", 0.99))


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
    still one group per model, with epochs-to-target averaged over the seeds: the report
    reads runs through experiments.spec.defining, which leaves display keys out."""
    import json

    from experiments.report import load, summarize

    for model, epochs in (("mlp", [1, 2, 3]), ("cnn", [2, 2, 5])):
        for seed, hit in enumerate(epochs):
            path = tmp_path / f"{model}_{seed}"
            path.mkdir()
            acc = [0.5 + 0.5 * (e >= hit) for e in range(1, 6)]
            pd.DataFrame({"epoch": range(1, 6), "val_accuracy": acc,
                          "epoch_time_s": [1.0] * 5}).to_csv(path / "history.csv", index=False)
            config = {"name": "s", "model": {"name": model}, "seed": seed,
                      "trainer": {"verbose": seed == 0, "epochs": 5}}
            (path / "result.json").write_text(json.dumps(
                {"config": config, "status": "completed", "seed": seed,
                 "metrics": {"test_accuracy": acc[-1]}}))
    runs = load(tmp_path, all_columns=True)
    assert "trainer.verbose" not in runs.columns
    table = summarize(runs, ("val_accuracy", 0.9)).set_index("model.name")
    assert list(table.index) == ["cnn", "mlp"] and list(table["n"]) == [3, 3]
    assert table.loc["mlp", "first_epoch_at_target_mean"] == pytest.approx(2.0)
    assert table.loc["cnn", "first_epoch_at_target_mean"] == pytest.approx(3.0)
    assert table.loc["cnn", "time_to_target_s_mean"] == pytest.approx(3.0)


def _curves(tmp_path, rows, epochs=3):
    for row in rows:
        path = tmp_path / row["run"]
        path.mkdir()
        epochs_done = np.arange(1, epochs + 1)
        pd.DataFrame({"epoch": epochs_done, "val_loss": row["scale"] / epochs_done,
                      "val_accuracy": 1 - 0.1 / epochs_done}).to_csv(path / "history.csv",
                                                                     index=False)
        row["path"] = str(path)
    return pd.DataFrame(rows).drop(columns=["run", "scale"])


def test_figures_draw_every_arm_even_with_keys_missing_in_some(tmp_path):
    """Arms whose configurations have different keys (momentum only for the momentum
    optimizer) each get a line, labelled in words with their number of seeds."""
    from experiments.report import figures

    rows = []
    for opt, momentum, lr in (("sgd", np.nan, 0.1), ("momentum", 0.9, 0.01),
                              ("adam", np.nan, 0.001)):
        for seed in range(3):
            rows.append({"run": f"{opt}{seed}", "name": "optimizers", "optimizer.name": opt,
                         "optimizer.momentum": momentum, "optimizer.learning_rate": lr,
                         "seed": seed, "status": "completed", "val_loss": 0.1, "val_accuracy": 0.9,
                         "dataset.name": "digits", "trainer.epochs": 3,
                         "scale": {"sgd": 2.0, "momentum": 1.0, "adam": 0.5}[opt] + seed})
    runs = _curves(tmp_path, rows)
    made = figures(runs, tmp_path, "optimizers")
    assert {p.name for p in made} == {"optimizers_val_loss.png", "optimizers_val_accuracy.png"}
    table = pd.read_csv(tmp_path / "optimizers_val_loss.csv")
    labels = set(table["label"])
    assert len(labels) == 3
    assert any(label.startswith("adam") and "lr 0.001" in label for label in labels)
    assert set(table["n"]) == {3}
    # the numbers drawn are the runs' own: adam at epoch 1 is the mean of 0.5, 1.5, 2.5
    adam = table[table["label"].str.startswith("adam") & (table["epoch"] == 1)]
    assert adam["mean"].iloc[0] == pytest.approx(1.5)
    # bands of a loss are computed in log space (geometric mean)
    assert 10 ** adam["log10_mean"].iloc[0] == pytest.approx((0.5 * 1.5 * 2.5) ** (1 / 3))


def test_losses_in_different_units_get_panels(tmp_path):
    from experiments.report import _panel_key

    runs = pd.DataFrame({"loss.name": ["mse", "cross_entropy"], "activation.name": ["relu"] * 2})
    assert _panel_key(runs, ["loss.name", "activation.name"]) == "loss.name"


def _sweep_runs(tmp_path):
    """Adam on 3 seeds and SGD on 1 (4 epochs each), everything else fixed."""
    rows = []
    for opt, lr, seeds in (("adam", 0.001, [0, 1, 2]), ("sgd", 0.1, [0])):
        for seed in seeds:
            rows.append({"run": f"{opt}{seed}", "name": "optimizers", "optimizer.name": opt,
                         "optimizer.learning_rate": lr, "dataset.name": "digits",
                         "model.name": "mlp", "activation.name": "relu",
                         "loss.name": "cross_entropy", "trainer.batch_size": 32,
                         "trainer.epochs": 4, "seed": seed, "status": "completed",
                         "val_loss": 0.1, "val_accuracy": 0.9, "scale": 1.0 + seed})
    return _curves(tmp_path, rows, epochs=4)


def test_learning_curves_have_whole_epochs_seed_counts_and_a_caption(tmp_path, monkeypatch):
    """The report's learning curves: epoch ticks at whole epochs only, "1 seed" (not
    "1 seeds") beside "3 seeds" in the legend, and a caption naming what the sweep varied
    and what it held fixed."""
    from dlkit.analysis import figures as fig
    from experiments.report import figures

    drawn = []
    save = fig._save

    def keep(figure, path):
        figure.canvas.draw()
        ax = figure.axes[0]
        lo, hi = ax.get_xlim()
        drawn.append({"ticks": [t for t in ax.get_xticks() if lo <= t <= hi],
                      "legend": [t.get_text() for t in ax.get_legend().get_texts()],
                      "title": figure._suptitle.get_text()})
        return save(figure, path)

    monkeypatch.setattr(fig, "_save", keep)
    made = figures(_sweep_runs(tmp_path), tmp_path, "optimizers")
    assert len(made) == 2 and len(drawn) == 2
    for figure in drawn:
        assert figure["ticks"] == [1, 2, 3, 4]
        assert sorted(figure["legend"]) == ["adam, lr 0.001 (3 seeds)", "sgd, lr 0.1 (1 seed)"]
        assert " ".join(figure["title"].split()) == (
            f"optimizers: {'val_loss' if figure is drawn[0] else 'val_accuracy'} by "
            "optimizer, learning_rate varied: optimizer, lr; held fixed: digits, mlp, relu, "
            "cross_entropy, batch 32, 4 epochs; 1-3 seeds each")


def test_a_caption_counts_seeds_in_words():
    from experiments.report import caption

    runs = pd.DataFrame({"optimizer.name": ["adam", "sgd"], "seed": [0, 0],
                         "trainer.epochs": [1, 1]})
    assert caption(runs, ["optimizer.name"]) == (
        "varied: optimizer; held fixed: 1 epoch; 1 seed each")


def test_report_help_says_what_figures_draws():
    import contextlib
    import io

    from experiments.report import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(out.getvalue().split())
    assert "--figures also save figures: per sweep, learning curves" in text
    assert "python -m experiments.report results/default --figures" in text
