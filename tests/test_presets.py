"""Every experiment preset composes into a sweep over at least 3 seeds, and runs through the
real CLI at a tiny size (one epoch, one seed, a data subset)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

CONF = Path(__file__).resolve().parents[1] / "conf"
PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml") if p.stem != "ravine")
# ravine.yaml holds claims about optimizer paths, not training runs (test_protocol.py)
EXPECTED = {"gd_regimes", "optimizers", "loss_activation", "mse_vs_ce", "depth_vanishing",
            "init_symmetry", "batchnorm", "architectures", "rnn_vs_lstm", "lr_schedules",
            "pooling", "cnn_design"}

# overrides that collapse each sweep to one or two tiny runs
TINY = {
    "gd_regimes": ["trainer.batch_size=64,full"],
    "optimizers": ["optimizer=adam,sgd", "trainer.lr_scale=1.0"],
    "loss_activation": ["loss=mse,hinge", "activation=tanh"],
    "mse_vs_ce": ["loss=mse"],
    "depth_vanishing": ["activation=sigmoid", "model.depth=3"],
    "init_symmetry": ["model.kernel_initializer=constant"],
    "batchnorm": ["model.batchnorm=true"],
    "architectures": ["model=lenet5,googlenet_scaled"],
    "rnn_vs_lstm": ["model=lstm", "dataset.length=10", "dataset.samples=200"],
    "lr_schedules": ["schedule=plateau,cosine"],
    "pooling": ["model.pooling=true,false"],
    "cnn_design": ["activation=relu,sigmoid"],
}


def test_every_seed_claim_has_a_preset():
    assert EXPECTED <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("scale", ["small", "full"])
def test_preset_is_a_sweep_over_three_seeds(preset, scale):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={preset}", f"scale={scale}"],
                      return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert len(str(params["seed"]).split(",")) >= 3
    assert cfg.name == preset and cfg.trainer.epochs > 0


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_at_tiny_size(preset, tmp_path):
    subset = [] if preset == "rnn_vs_lstm" else ["dataset.subset=300"]
    if preset == "loss_activation":
        subset = []
    args = ["-m", f"experiment={preset}", "trainer.epochs=1", "seed=0", *TINY[preset], *subset,
            f"results_dir={tmp_path}", "trainer.verbose=false"]
    proc = subprocess.run([sys.executable, "-m", "experiments.run", *args], cwd=tmp_path,
                          env={**os.environ}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads(p.read_text()) for p in (tmp_path / preset).rglob("result.json")]
    assert results and all(r["status"] in ("completed", "diverged") for r in results)
    # the report renders the preset's figures, each with the CSV of what it draws
    report = subprocess.run([sys.executable, "-m", "experiments.report", str(tmp_path),
                             "--figures", "--out", str(tmp_path / "out")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr
    pngs = sorted((tmp_path / "out").glob(f"{preset}_*.png"))
    assert pngs, report.stdout
    for png in pngs:
        assert png.stat().st_size > 10_000 and png.with_suffix(".csv").exists()


# ---- the claims' declarations: test, margin, checks, mechanism controls --------------------
CHECKS = {"symmetry", "adam_per_parameter", "adagrad_shrinks"}  # true by construction


def _claims():
    from experiments.claims import load

    return load(CONF)


def test_every_claim_that_is_not_a_check_declares_its_margin_with_a_reason():
    claims = _claims()
    assert len(claims) >= 30
    for c in claims:
        if c.check:
            continue
        assert (c.margin is None) != (c.margin_relative is None), c.key
        assert (c.margin or c.margin_relative) > 0, c.key
        assert len(c.margin_reason.split()) >= 5, c.key


def test_definitional_checks_are_declared_as_checks_and_only_they():
    checks = {c.key for c in _claims() if c.check}
    assert checks == CHECKS


def test_a_declared_test_has_its_reason_and_censored_statistics_keep_a_censoring_test():
    from experiments.claims import statistics

    for c in _claims():
        if c.test:
            assert len(c.test_reason.split()) >= 5, c.key
        censored = statistics.REGISTRY[c.statistic].censored
        assert (c.test_name == "rmst_permutation") == censored, c.key


def test_times_to_target_count_a_target_only_when_it_holds_for_two_evaluations():
    from experiments.claims import statistics

    timed = [c for c in _claims() if statistics.REGISTRY[c.statistic].censored]
    assert timed
    for c in timed:
        assert c.args.get("hold", 1) >= 2, c.key


def test_the_issues_statistics_are_replaced():
    """The statistics a review found to measure something else are no claim's any more."""
    by_key = {c.key: c for c in _claims()}
    assert by_key["mbgd_steadier"].statistic == "full_loss_noise"
    assert by_key["rmsprop_vs_momentum_ravine"].statistic == "swing_amplitude"
    assert by_key["momentum_damps"].statistic == "across_along_ratio"
    bias = by_key["adam_bias_correction"]
    assert bias.tuning is None and bias.args["column"] == "update_norm"
    mape = by_key["mape_relative_error"]
    assert mape.statistic == "prediction_error" and mape.args["metric"] != "mape"


def test_mechanism_controls_compose_with_each_arm():
    """Each mechanism control's overrides, after each arm's, are a configuration the suite
    composes (Hydra for training claims, the ravine's own parser for path claims)."""
    from experiments.claims.ravine import RavineRuns
    from experiments.claims.runs import Runs

    controls = [c for c in _claims() if c.mechanism is not None]
    assert {c.key for c in controls} >= {"mbgd_steadier", "adam_bias_correction",
                                         "momentum_damps"}
    runs = Runs()
    for c in controls:
        assert len(c.mechanism.why.split()) >= 5
        for arm, extra in ((c.a, c.mechanism.a), (c.b, c.mechanism.b)):
            overrides = [*arm.overrides, *extra, "seed=0"]
            if c.source == "ravine":
                spec = RavineRuns._parse(overrides)
                assert spec["learning_rate"] > 0
            else:
                cfg = runs.compose(c.preset, overrides)
                for item in extra:
                    key, _, value = item.partition("=")
                    node = cfg
                    for part in key.split("."):
                        node = node[part]
                    assert str(node).lower() == value.lower() or float(node) == float(value)


def test_momentum_damps_control_is_gradient_descent_itself():
    """Momentum 0 at gradient descent's rate: the control's two paths are identical, so
    its statistic is exactly null."""
    from experiments.claims.ravine import RavineRuns

    (c,) = [c for c in _claims() if c.key == "momentum_damps"]
    ravine = RavineRuns()
    a = ravine.get("ravine", [*c.a.overrides, *c.mechanism.a, "seed=0"])
    b = ravine.get("ravine", [*c.b.overrides, *c.mechanism.b, "seed=0"])
    assert a.steps[["x", "y"]].equals(b.steps[["x", "y"]])


# ---- the seed's statements the first claims left untested (issue 36) ------------------------
NEW_CLAIMS = {  # key: (statistic, expect)
    "adam_vs_rmsprop": ("mean_val_loss", "less"),
    "leaky_relu_vs_sigmoid": ("gradient_depth_slope", "greater"),
    "relu_vs_sigmoid_cnn": ("final_accuracy", "greater"),
    "batchnorm_final": ("final_accuracy", "greater"),
    "ce_vs_mse_final": ("final_accuracy", "greater"),
    "fc_vs_cnn_overfit": ("generalization_gap", "greater"),
    "pooling_easier_optimization": ("mean_train_loss", "less"),
    "bgd_convex_optimum": ("excess_train_loss", "less"),
    "sgd_never_settles": ("loss_fluctuation", "greater"),
    "adadelta_rate_free": ("trainable_range", "greater"),
    "batch1_wastes_parallelism": ("seconds_per_example", "greater"),
}


def test_the_seeds_remaining_statements_are_claims_quoting_the_seed():
    """Each declared once, with the seed's own words quoted in its text (the Chinese
    original, or the paper the seed's lost formula image stands for)."""
    by_key = {c.key: c for c in _claims()}
    for key, (statistic, expect) in NEW_CLAIMS.items():
        c = by_key[key]
        assert (c.statistic, c.expect) == (statistic, expect), key
        assert c.seeds >= 6 and not c.check, key
        assert '"' in c.text and "seed" in c.text, key


@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
def test_every_training_claims_arms_compose():
    """Every arm of every training claim (on each of its problems, the first value of its
    sweep) is a configuration the suite composes; a new claim's with the values it
    declares."""
    from experiments.claims.problems import base_key
    from experiments.claims.runs import Runs

    runs = Runs()
    for c in _claims():
        if c.source != "train":
            continue
        for arm in (c.a, c.b):
            overrides = arm.run_overrides()[0]
            cfg = runs.compose(c.preset, [*overrides, "seed=0"])
            if base_key(c.key) not in NEW_CLAIMS:
                continue
            for item in overrides:
                key, _, value = item.partition("=")
                node = cfg
                for part in key.split("."):
                    node = node[part]
                node = node["name"] if isinstance(node, dict) else node
                assert str(node).lower() == value.lower() or float(node) == float(value), \
                    (c.key, item)


def test_the_fully_connected_arm_and_the_cnn_are_of_similar_size():
    """The seed's example: 28x28 inputs and 500 hidden units give about 400k parameters;
    the CNN it is compared with has about as many (within 10%)."""
    from experiments.build import model_from_config
    from experiments.claims.runs import Runs

    (c,) = [c for c in _claims() if c.key == "fc_vs_cnn_overfit"]
    runs = Runs()
    sizes = [model_from_config(runs.compose(c.preset, [*arm.overrides, "seed=0"]),
                               (28, 28, 1), 10, "softmax").count_params()
             for arm in (c.a, c.b)]
    assert sizes[0] == 784 * 500 + 500 + 500 * 10 + 10
    assert abs(sizes[0] - 400_000) < 0.05 * 400_000
    assert abs(sizes[1] - sizes[0]) < 0.1 * sizes[0]


def test_the_convex_claims_train_a_logistic_regression_with_a_finite_optimum():
    """Both arms are the same logistic regression, differing only in batch size and
    epochs; on its training split the unregularized optimum has a vanishing gradient and
    misclassifies examples (the data are not separable, so the minimum is attained)."""
    import numpy as np

    from dlkit import data
    from experiments.claims.runs import Runs
    from experiments.claims.statistics import logistic_optimum

    runs = Runs()
    for key in ("bgd_convex_optimum", "sgd_never_settles"):
        (c,) = [c for c in _claims() if c.key == key]
        cfgs = [runs.compose(c.preset, [*arm.overrides, "seed=0"]) for arm in (c.a, c.b)]
        for cfg in cfgs:
            assert cfg["model"]["name"] == "mlp" and cfg["model"]["depth"] == 0
            assert cfg["loss"]["name"] == "cross_entropy"
            assert cfg["schedule"]["name"] == "constant"
        assert {cfg["trainer"]["batch_size"] for cfg in cfgs} == {1, "full"}
        same = [{k: v for k, v in cfg.items() if k != "trainer"} for cfg in cfgs]
        assert same[0] == same[1]
    cfg = cfgs[0]
    dataset = data.load(cfg["dataset"]["name"], seed=0, subset=cfg["dataset"]["subset"])
    x = dataset.x_train.reshape(len(dataset.x_train), -1).astype("float64")
    loss, p = logistic_optimum(x, dataset.y_train)
    onehot = np.eye(p.shape[1])[dataset.y_train.astype(int)]
    gradient = np.hstack([x, np.ones((len(x), 1))]).T @ (p - onehot) / len(x)
    assert np.abs(gradient).max() < 1e-4
    assert np.mean(p.argmax(1) == dataset.y_train) < 0.9 and loss > 0.5
