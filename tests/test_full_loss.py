"""steps.csv's full_loss: the loss on a fixed training sample after the step's update."""

import keras
import numpy as np
import pandas as pd
import pytest


def _loop(tmp_path, lr, every, epochs=2, examples=64):
    from dlkit import losses, optimizers
    from dlkit.training.loop import EpochLoop

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype("float32")
    y = np.argmax(x @ rng.normal(size=(6, 3)), axis=1).astype("int32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.get("sgd", learning_rate=lr),
                  loss=losses.get("cross_entropy"), steps_per_execution=1)
    loop = EpochLoop(model, (x[:160], y[:160], x[160:], y[160:]), epochs, 16, 0, tmp_path,
                     log_steps=True, full_loss_every=every, full_loss_examples=examples)
    loop.run()
    return loop, pd.read_csv(tmp_path / "steps.csv")


def test_full_loss_is_the_cross_entropy_of_the_sample_after_the_update(tmp_path):
    loop, steps = _loop(tmp_path, 0.1, every=1)
    assert len(steps) == 2 * 10 and steps["full_loss"].notna().all()
    x, y, _ = loop.step_losses.full
    p = keras.ops.convert_to_numpy(loop.model(x, training=False)).astype("float64")
    numpy_ce = -np.mean(np.log(p[np.arange(len(y)), y]))  # the final weights' loss
    assert steps["full_loss"].iloc[-1] == pytest.approx(numpy_ce, rel=1e-5)
    assert len(x) == 64 and len({tuple(r) for r in x}) == 64  # 64 distinct examples


def test_frozen_weights_give_a_flat_full_loss_but_a_noisy_batch_loss(tmp_path):
    """The mechanism control of the step-noise claim: no updates, so the full loss cannot
    move, while the mini-batch loss still varies with the batches drawn."""
    _, steps = _loop(tmp_path, 1e-12, every=1)
    assert steps["full_loss"].std() < 1e-6
    assert steps["loss"].std() > 0.05


def test_full_loss_every_k_steps_leaves_the_other_rows_blank(tmp_path):
    _, steps = _loop(tmp_path, 0.1, every=3)
    filled = steps["full_loss"].notna().to_numpy()
    assert filled.tolist() == [s % 3 == 0 for s in steps["step"]]


def test_full_loss_needs_log_steps(tmp_path):
    from dlkit.errors import ConfigError
    from dlkit.training.loop import EpochLoop

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ConfigError, match="needs log_steps"):
        EpochLoop(model, (np.zeros((4, 2)), np.zeros(4), np.zeros((2, 2)), np.zeros(2)), 1, 2,
                  0, tmp_path, full_loss_every=1)


def test_the_full_loss_keys_at_their_neutral_values_leave_a_runs_identity_as_before(tmp_path):
    """Runs made before the keys existed keep their folders; turning the trace on defines a
    new run."""
    from experiments import spec
    from tests.test_spec import config

    cfg = config(tmp_path)
    before = {**cfg, "trainer": {k: v for k, v in cfg["trainer"].items()
                                 if not k.startswith("full_loss")}}
    assert cfg["trainer"]["full_loss_every"] == 0
    assert spec.defining(cfg) == spec.defining(before)
    on = {**cfg, "trainer": {**cfg["trainer"], "full_loss_every": 1, "log_steps": True}}
    assert spec.defining(on)["trainer"]["full_loss_every"] == 1
