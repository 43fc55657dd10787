"""The epoch loop in-process with a small model: resume equality (dropout included),
per-step losses, unit spread, umask."""

import os
import stat

import keras
import numpy as np
import pytest

from dlkit.training.loop import EpochLoop, read_history, unit_spread


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    return x, y, x[:32], y[:32]


def _model(dropout=0.5, seed=3, steps_per_execution=1):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    h = keras.layers.Dense(16, activation="relu")(inputs)
    h = keras.layers.Dropout(dropout)(h)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    return model


def _loop(run_dir, epochs, **kw):
    return EpochLoop(_model(), _data(), epochs, 16, seed=5, run_dir=run_dir, **kw)


def test_resume_with_dropout_equals_an_uninterrupted_run(tmp_path):
    whole = _loop(tmp_path / "whole", 4)
    whole.run()
    first = _loop(tmp_path / "cut", 2)
    first.run()
    # a new process would build a new model with a fresh random-number state
    keras.utils.set_random_seed(999)
    second = _loop(tmp_path / "cut", 4)
    second.model = _model(seed=3)
    assert second.resume()
    second.run()
    a = read_history(tmp_path / "whole" / "history.csv")
    b = read_history(tmp_path / "cut" / "history.csv")
    assert [r["epoch"] for r in b] == [1, 2, 3, 4]
    for ra, rb in zip(a, b):
        assert ra["loss"] == rb["loss"] and ra["val_loss"] == rb["val_loss"]


def test_dropout_masks_really_differ_between_epochs_without_the_state(tmp_path):
    """The check above can fail: without restoring the random-number state, epoch 3
    differs (so the state in the checkpoint is what makes it equal)."""
    whole = _loop(tmp_path / "whole", 3)
    whole.run()
    first = _loop(tmp_path / "cut", 2)
    first.run()
    model = first.model
    state = [v for v in model.variables if "seed_generator" in v.path]
    assert state, "dropout's seed generator state is a model variable"
    state[0].assign(np.zeros(state[0].shape, state[0].dtype))  # a different state
    first.epochs, first.start_epoch, first.rows = 3, 2, first.rows
    first.run()
    a = read_history(tmp_path / "whole" / "history.csv")[2]
    b = read_history(tmp_path / "cut" / "history.csv")[2]
    assert a["loss"] != b["loss"]


def _without_times(rows):
    return [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in rows]


@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
def test_steps_per_execution_changes_no_number_and_resume_still_equals(tmp_path):
    """6 batches an epoch in executions of 4 (the last execution of each epoch is 2 steps),
    dropout on: every row and every weight equal to one step per execution, and a run
    resumed after epoch 2 equal to both."""
    one = _loop(tmp_path / "one", 4)
    one.run()
    grouped = EpochLoop(_model(steps_per_execution=4), _data(), 4, 16, seed=5,
                        run_dir=tmp_path / "four")
    grouped.run()
    a = read_history(tmp_path / "one" / "history.csv")
    assert _without_times(read_history(tmp_path / "four" / "history.csv")) == _without_times(a)
    for va, vb in zip(one.model.get_weights(), grouped.model.get_weights()):
        np.testing.assert_array_equal(va, vb)
    EpochLoop(_model(steps_per_execution=4), _data(), 2, 16, seed=5,
              run_dir=tmp_path / "cut").run()
    keras.utils.set_random_seed(999)
    resumed = EpochLoop(_model(steps_per_execution=4), _data(), 4, 16, seed=5,
                        run_dir=tmp_path / "cut")
    assert resumed.resume()
    resumed.run()
    assert _without_times(read_history(tmp_path / "cut" / "history.csv")) == _without_times(a)


def test_steps_per_execution_over_one_stream_of_batches_would_differ(tmp_path):
    """The check above can fail: fed as one generator over all epochs with
    ``steps_per_epoch`` (the loop's input before ``EpochBatches``), executions of 4 over 6
    batches an epoch take 8 batches an epoch, 2 of them the next epoch's, so each epoch's
    numbers move (and the last epoch runs out of batches)."""
    x, y, _, _ = _data()

    def stream(model):
        def batches():
            for epoch in range(3):
                order = np.random.default_rng([5, epoch]).permutation(len(x))
                for i in range(0, len(x), 16):
                    yield x[order][i:i + 16], y[order][i:i + 16]
        return model.fit(batches(), steps_per_epoch=6, epochs=3, verbose=0).history["loss"]

    with pytest.warns(UserWarning, match="ran out of data"):
        four = stream(_model(steps_per_execution=4))
    one = stream(_model())
    assert four[0] != one[0]
    loop = _loop(tmp_path / "r", 3)
    loop.run()  # the loop is the one-step stream
    assert [r["loss"] for r in read_history(tmp_path / "r" / "history.csv")] == \
        pytest.approx(one, rel=1e-6)


def test_step_losses_need_one_step_per_execution(tmp_path):
    from dlkit.errors import ConfigError

    with pytest.raises(ConfigError, match="log_steps needs a model compiled with "
                                          "steps_per_execution=1 \\(got 4\\)"):
        EpochLoop(_model(steps_per_execution=4), _data(), 2, 16, seed=5,
                  run_dir=tmp_path / "r", log_steps=True)


def test_step_losses_are_the_batch_losses(tmp_path):
    loop = _loop(tmp_path / "r", 2, log_steps=True)
    start = _model()
    start.set_weights(loop.model.get_weights())
    loop.run()
    steps = read_history(tmp_path / "r" / "steps.csv")
    assert [(r["epoch"], r["step"]) for r in steps][:7] == [(1, s) for s in range(1, 7)] + \
        [(2, 1)]
    # the mean of the per-step losses of an epoch is Keras's epoch loss
    hist = read_history(tmp_path / "r" / "history.csv")
    for epoch in (1, 2):
        mean = np.mean([r["loss"] for r in steps if r["epoch"] == epoch])
        assert mean == pytest.approx(hist[epoch - 1]["loss"], rel=1e-5)


def test_unit_spread_is_zero_only_for_identical_units():
    inputs = keras.Input((3,))
    same = keras.layers.Dense(4, kernel_initializer="ones", name="same")(inputs)
    out = keras.layers.Dense(2, name="out")(same)
    model = keras.Model(inputs, out)
    spread = unit_spread(model)
    assert spread["unit_spread/same"] == 0.0
    w = model.get_layer("out").kernel.numpy()
    assert spread["unit_spread/out"] == pytest.approx(np.linalg.norm(w[:, 1] - w[:, 0]))


def test_result_files_follow_the_umask(tmp_path):
    from dlkit.training.files import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


class Rows(keras.callbacks.Callback):
    """A caller's callback: sees each epoch's row as logs."""

    def __init__(self):
        super().__init__()
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append(dict(logs))


def test_callers_callbacks_see_each_epochs_row_after_history_and_checkpoint(tmp_path):
    seen = Rows()
    loop = _loop(tmp_path / "r", 3, callbacks=[seen])
    outcome = loop.run()
    assert outcome.status == "completed" and outcome.epochs_completed == 3
    history = read_history(tmp_path / "r" / "history.csv")
    assert [r["epoch"] for r in seen.rows] == [1, 2, 3]
    for row, written in zip(seen.rows, history):
        assert row == pytest.approx(written)
        assert list(row)[:2] == ["epoch", "loss"] and row["learning_rate"] == \
            pytest.approx(1e-2) and row["epoch_time_s"] > 0
    assert sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir()) == \
        ["epoch_0002.npz", "epoch_0003.npz"]


def test_a_non_finite_loss_stops_the_run_as_diverged(tmp_path):
    x, y, xv, yv = _data()
    x = x.copy()
    x[40] = np.inf  # the third batch of 16 meets an infinite input
    loop = EpochLoop(_model(), (x, y, xv, yv), 4, 16, seed=5, run_dir=tmp_path / "r")
    outcome = loop.run()
    history = read_history(tmp_path / "r" / "history.csv")
    assert outcome.status == "diverged" and outcome.diverged_epoch == 1
    assert outcome.epochs_completed == 0 and len(history) == 1
    assert not np.isfinite(history[0]["loss"])
    assert not (tmp_path / "r" / "state.json").exists()  # no checkpoint of NaN weights


def test_plateau_lowers_the_rate_the_next_epoch_uses(tmp_path):
    from dlkit.schedules import Plateau

    # min_delta so large that no epoch counts as an improvement after the first
    loop = _loop(tmp_path / "r", 4, plateau=Plateau(factor=0.5, patience=1, min_delta=10.0))
    loop.run()
    rates = [r["learning_rate"] for r in read_history(tmp_path / "r" / "history.csv")]
    assert rates == pytest.approx([1e-2, 1e-2, 5e-3, 2.5e-3])


@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
def test_a_run_gives_the_same_files_at_auto_and_at_one_step_per_execution(tmp_path):
    """Through the pipeline on digits (40 batches an epoch: executions of 32 and 8), batch
    normalization and dropout on: the same run folder, history and final metrics."""
    import json

    from experiments.lifecycle import execute
    from tests.test_spec import config

    made = {}
    for value in ("auto", "1"):
        out = tmp_path / value
        execute(config(out, "trainer.epochs=2", "model.batchnorm=true", "+model.dropout=0.2",
                       f"trainer.steps_per_execution={value}", "trainer.verbose=false"),
                verbose=False)
        (result,) = out.rglob("result.json")
        made[value] = (result.parent.relative_to(out), json.loads(result.read_text()),
                       _without_times(read_history(result.parent / "history.csv")))
    assert made["auto"][0] == made["1"][0]
    assert made["auto"][1]["metrics"] == made["1"][1]["metrics"]
    assert made["auto"][2] == made["1"][2]


@pytest.mark.parametrize("epochs", [(8, 9, 10), (9998, 9999, 10000), (99999, 100000)])
def test_pruning_keeps_the_latest_epochs_across_a_digit_boundary(tmp_path, epochs):
    """Checkpoints are pruned by epoch number: at epoch 10,000 the file just written
    (``epoch_10000.npz``, which sorts before ``epoch_9999.npz`` as text) stays, and
    ``state.json`` names a file that exists."""
    import json

    loop = EpochLoop(None, _data(), max(epochs), 16, seed=5, run_dir=tmp_path)
    loop.snapshot = ([np.zeros(2, "float32")], [])  # the arrays a checkpoint writes
    for epoch in epochs:
        loop.save_checkpoint(epoch)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert kept == sorted(f"epoch_{e:04d}.npz" for e in epochs[-2:])
    state = json.loads((tmp_path / "state.json").read_text())
    assert (tmp_path / "checkpoints" / state["checkpoint"]).exists()
    assert state["epoch"] == epochs[-1]
