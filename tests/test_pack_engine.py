"""Packed training (experiments.pack_engine) against separate runs, in-process.

Packing runs under TensorFlow and JAX: the suite runs these tests under the backend it runs
(TensorFlow by default; CI runs this file again under ``KERAS_BACKEND=jax``, slow tests
included), and through the CLI under both in tests/test_packing_cli.py.
"""

import numpy as np
import pytest

from tests.conftest import BACKEND

packing_backend = pytest.mark.skipif(BACKEND not in ("jax", "tensorflow"),
                               reason="packing runs under JAX and TensorFlow")

# Stated tolerance: under JAX a packed run and its separate twin add in another order
# (vectorized kernels), so values agree to float32 rounding, amplified by the steps in
# between. Under TensorFlow a packed run executes its twin's own operations: equal.
RTOL, ATOL = (0, 0) if BACKEND == "tensorflow" else (1e-5, 1e-6)


def _dataset(seed, n=240):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + 60, 12)).astype("float32")
    w = np.random.default_rng(99).normal(size=(12, 3))
    y = np.argmax(x @ w, axis=1).astype("int32")
    return x[:n], y[:n], x[n:], y[n:]


def _loop(tmp_path, seed, lr, *, activation="relu", epochs=3, optimizer="adam",
          dropout=True, batchnorm=True, tag=""):
    import keras

    from dlkit import losses, optimizers
    from dlkit.training.loop import EpochLoop

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((12,)), keras.layers.Dense(16, activation=activation),
              *([keras.layers.BatchNormalization()] if batchnorm else [])]
    if dropout:
        layers.append(keras.layers.Dropout(0.3))
    model = keras.Sequential([*layers, keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.get(optimizer, learning_rate=lr),
                  loss=losses.get("cross_entropy"),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return EpochLoop(model, _dataset(seed), epochs, 32, seed,
                     tmp_path / f"{tag}s{seed}_lr{lr}")


def _rows(outcome):
    return [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in outcome.history]


def _assert_same(a, b):
    assert a.status == b.status and a.epochs_completed == b.epochs_completed
    ra, rb = _rows(a), _rows(b)
    assert [list(r) for r in ra] == [list(r) for r in rb]  # same columns, same order
    for x, y in zip(ra, rb):
        for key in x:
            assert y[key] == pytest.approx(x[key], rel=RTOL, abs=ATOL), key


def test_packing_refuses_the_torch_backend(tmp_path, monkeypatch):
    import keras

    from experiments.pack_engine import PackedLoop, incompatibility

    loops = [_loop(tmp_path, s, 0.01) for s in (0, 1)]
    assert incompatibility(loops) is None
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    assert "needs the JAX or TensorFlow backend (this process runs torch)" in \
        incompatibility(loops)
    with pytest.raises(ValueError, match="cannot be packed"):
        PackedLoop(loops)


@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
@packing_backend
def test_packed_runs_match_separate_runs_history_files_and_weights(tmp_path):
    """Four runs (two seeds x two rates, dropout and batch norm) packed against the same
    four trained one at a time: every epoch's row, every file, the final weights."""
    from experiments.pack_engine import PackedLoop

    cases = [(0, 0.01), (0, 0.05), (1, 0.01), (1, 0.05)]
    separate = [_loop(tmp_path, s, lr, tag="sep_").run() for s, lr in cases]
    loops = [_loop(tmp_path, s, lr, tag="pack_") for s, lr in cases]
    packed = PackedLoop(loops).run()
    for a, b in zip(separate, packed):
        _assert_same(a, b)
    # the rates really differed: the two rates of one seed give different histories
    assert separate[0].history[-1]["loss"] != pytest.approx(separate[1].history[-1]["loss"],
                                                            rel=1e-3)
    for s, lr in cases:
        names = sorted(p.name for p in (tmp_path / f"sep_s{s}_lr{lr}").rglob("*"))
        assert names == sorted(p.name for p in (tmp_path / f"pack_s{s}_lr{lr}").rglob("*"))
        for name in ("epoch_0002.npz", "epoch_0003.npz"):  # written from the pack's state
            with np.load(tmp_path / f"sep_s{s}_lr{lr}" / "checkpoints" / name) as sep, \
                    np.load(tmp_path / f"pack_s{s}_lr{lr}" / "checkpoints" / name) as pack:
                assert sep.files == pack.files
                for key in sep.files:
                    np.testing.assert_allclose(pack[key], sep[key], rtol=RTOL, atol=ATOL)
    twin = _loop(tmp_path, 1, 0.05, tag="again_")
    twin.run()
    for w_sep, w_pack in zip(twin.model.get_weights(), loops[3].model.get_weights()):
        np.testing.assert_allclose(w_pack, w_sep, rtol=RTOL, atol=ATOL)


@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's stateless step")
def test_tensorflow_traces_one_step_per_architecture_for_every_pack(tmp_path, monkeypatch):
    """Under TensorFlow a run's step is a function of its state, traced once and shared by
    every run and every pack of the architecture; a second pack, of another size, traces
    nothing new (the epoch program loops over the runs instead of holding one step per
    run)."""
    from experiments import pack_engine as packed

    monkeypatch.setattr(packed, "_PROGRAMS", {})
    first = packed.PackedLoop([_loop(tmp_path, s, 0.01, epochs=1, tag="a") for s in (0, 1)])
    assert isinstance(first.pack, packed._TensorFlowStatelessPack)
    first.run()
    second = packed.PackedLoop([_loop(tmp_path, s, 0.02, epochs=1, tag="b")
                                for s in (2, 3, 4)])
    second.run()
    programs = second.pack.programs
    assert programs is first.pack.programs
    assert programs.train_step.experimental_get_tracing_count() == 1
    assert programs.train_epoch.experimental_get_tracing_count() == 1
    assert programs.test_all.experimental_get_tracing_count() == 1


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's stateless step")
def test_optimizers_the_stateless_step_cannot_cover_are_refused_in_one_line(tmp_path):
    """Loss scaling, gradient accumulation and moving averages are refused (one engine per
    backend), so those runs train one at a time."""
    import keras

    from dlkit import optimizers
    from experiments import _keras_internals as internals
    from experiments import pack_engine as packed

    adam = optimizers.get("adam")
    assert issubclass(internals.stateless_optimizer_class(adam), type(adam))
    assert internals.stateless_optimizer_class(keras.optimizers.LossScaleOptimizer(adam)) \
        is None
    loops = [_loop(tmp_path, s, 0.01, epochs=1, tag="acc") for s in (0, 1)]
    for loop in loops:
        loop.model.compile(optimizer=optimizers.get("sgd", gradient_accumulation_steps=2),
                           loss=loop.model.loss)
    reason = packed.incompatibility(loops)
    assert "gradient accumulation" in reason and "\n" not in reason
    with pytest.raises(packed.PackRefused, match="gradient accumulation"):
        packed.PackedLoop(loops)


@packing_backend
def test_a_keras_without_the_private_api_is_refused_and_the_runs_train_alone(
        tmp_path, monkeypatch, capsys):
    """The adapter's fallback: a private attribute packing needs is gone (simulated), so
    packing refuses with one line naming it, and the runs train one at a time: the same
    numbers as a separate run (the one-at-a-time path is the separate run)."""
    from experiments import _keras_internals as internals
    from experiments import pack_engine as packed

    real = internals.missing()
    assert real is None  # the tested Keras has everything
    monkeypatch.setattr(internals, "_CHECKED", [])
    monkeypatch.setattr(internals, "MODEL_ATTRIBUTES",
                        (*internals.MODEL_ATTRIBUTES, "_gone_in_a_future_keras"))
    reason = packed.incompatibility([_loop(tmp_path, s, 0.01, tag="x") for s in (0, 1)])
    assert reason.startswith("packing needs Keras's private Model._gone_in_a_future_keras")
    with pytest.raises(packed.PackRefused):
        packed.PackedLoop([_loop(tmp_path, s, 0.01, tag="y") for s in (0, 1)])
    assert [len(g) for g in packed.packs([_loop(tmp_path, s, 0.01, tag="z")
                                          for s in (0, 1)])] == [1, 1]


@packing_backend
def test_packed_evaluate_matches_model_evaluate(tmp_path):
    from experiments.pack_engine import PackedLoop

    loops = [_loop(tmp_path, s, 0.02, epochs=1) for s in (0, 1, 2)]
    packed = PackedLoop(loops)
    packed.run()
    splits = [{"val": (loop.x_val, loop.y_val), "train": (loop.x, loop.y)} for loop in loops]
    got = packed.evaluate(splits)
    for loop, values in zip(loops, got):
        for split, (x, y) in splits[0].items():
            x, y = (loop.x_val, loop.y_val) if split == "val" else (loop.x, loop.y)
            ref = loop.model.evaluate(x, y, verbose=0, return_dict=True, batch_size=1024)
            for key, value in ref.items():
                assert values[f"{split}_{key}"] == pytest.approx(value, rel=RTOL), key


@pytest.mark.slow
@packing_backend
def test_packed_resume_from_checkpoints_equals_an_uninterrupted_pack(tmp_path):
    from experiments.pack_engine import PackedLoop

    cases = [(0, 0.01), (1, 0.03)]
    straight = PackedLoop([_loop(tmp_path, s, lr, epochs=4, tag="straight_")
                           for s, lr in cases]).run()
    PackedLoop([_loop(tmp_path, s, lr, epochs=2, tag="cut_") for s, lr in cases]).run()
    resumed = [_loop(tmp_path, s, lr, epochs=4, tag="cut_") for s, lr in cases]
    assert all(loop.resume() for loop in resumed)
    assert {loop.start_epoch for loop in resumed} == {2}
    outcomes = PackedLoop(resumed).run()
    for a, b in zip(straight, outcomes):
        _assert_same(a, b)
        assert b.resumed_from == 2


@packing_backend
def test_a_diverging_run_stops_alone_and_the_rest_of_the_pack_completes(tmp_path):
    from experiments.pack_engine import PackedLoop

    plain = {"epochs": 4, "optimizer": "sgd", "dropout": False, "batchnorm": False}
    loops = [_loop(tmp_path, 0, lr, **plain) for lr in (0.05, 1e36)]
    good, bad = PackedLoop(loops).run()
    alone = _loop(tmp_path, 0, 1e36, **plain, tag="alone_").run()
    assert bad.status == "diverged" == alone.status
    assert bad.diverged_epoch == alone.diverged_epoch
    assert good.status == "completed" and good.epochs_completed == 4
    assert len(bad.history) == bad.diverged_epoch  # nothing recorded after the divergence


@pytest.mark.slow
@packing_backend
def test_incompatible_runs_are_refused_with_the_reason(tmp_path):
    from experiments.pack_engine import incompatibility, packs

    base = _loop(tmp_path, 0, 0.01)
    assert incompatibility([base, _loop(tmp_path, 1, 0.1)]) is None
    assert "network" in incompatibility([base, _loop(tmp_path, 1, 0.01, activation="tanh")])
    assert "optimizer" in incompatibility([base, _loop(tmp_path, 1, 0.01, optimizer="sgd")])
    assert "epochs" in incompatibility([base, _loop(tmp_path, 1, 0.01, epochs=5)])
    groups = packs([base, _loop(tmp_path, 1, 0.01, activation="tanh"),
                    _loop(tmp_path, 2, 0.02)])
    assert [len(g) for g in groups] == [2, 1]


def test_packing_train_on_a_keras_it_cannot_use_leaves_every_run_to_the_usual_pass(
        monkeypatch, capsys):
    from experiments import _keras_internals as internals
    from experiments import packing

    monkeypatch.setattr(internals, "_CHECKED", ["Model._symbolic_build"])
    entries = [({"name": "never read"}, []), ({"name": "never read"}, [])]
    counts = packing.train(entries)
    assert counts == {"packed": 0, "packs": 0, "alone": 0, "left": 2, "failed": 0}
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"[pack] packing needs Keras's private Model._symbolic_build, which Keras "
                   f"{__import__('keras').__version__} lacks (the suite is tested with the "
                   "keras range in pyproject.toml); the runs train one at a time"]
