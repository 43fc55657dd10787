"""dlkit.optimizers step by step against numpy transcriptions of docs/theory.md section 2, against
Keras's built-in twins, and across a save/load."""

import keras
import numpy as np
import pytest

from dlkit import optimizers


def np_steps(name, theta, grads, **h):
    """docs/theory.md section 2, transcribed."""
    theta = theta.copy()
    lr = float(np.float32(h["learning_rate"]))  # Keras keeps the learning rate in float32
    state = {}
    for t, g in enumerate(grads, start=1):
        if name == "sgd":
            theta -= lr * g
        elif name in ("momentum", "nesterov"):
            lam = h["momentum"]
            v = lam * state.get("v", 0) + lr * g
            state["v"] = v
            theta -= (lam * v + lr * g) if name == "nesterov" else v
        elif name == "adagrad":
            G = state.get("G", h["initial_accumulator_value"]) + g**2
            state["G"] = G
            theta -= lr * g / np.sqrt(G + h["epsilon"])
        elif name == "adadelta":
            rho, eps = h["rho"], h["epsilon"]
            eg2 = rho * state.get("eg2", 0) + (1 - rho) * g**2
            dx = -np.sqrt(state.get("edx2", 0) + eps) / np.sqrt(eg2 + eps) * g
            state["edx2"] = rho * state.get("edx2", 0) + (1 - rho) * dx**2
            state["eg2"] = eg2
            theta += lr * dx
        elif name == "rmsprop":
            S = h["rho"] * state.get("S", 0) + (1 - h["rho"]) * g**2
            state["S"] = S
            theta -= lr * g / np.sqrt(S + h["epsilon"])
        elif name in ("adam", "nadam", "adamax"):
            b1, b2, eps = h["beta_1"], h["beta_2"], h["epsilon"]
            m = b1 * state.get("m", 0) + (1 - b1) * g
            state["m"] = m
            if name == "adamax":
                u = np.maximum(b2 * state.get("u", 0), np.abs(g))
                state["u"] = u
                theta -= lr / (1 - b1**t) * m / (u + eps)
                continue
            v = b2 * state.get("v", 0) + (1 - b2) * g**2
            state["v"] = v
            v_hat = v / (1 - b2**t)
            if name == "adam":
                m_hat = m / (1 - b1**t)
            else:
                def mu(s, b1=b1):
                    return b1 * (1 - 0.5 * 0.96 ** (s * h.get("schedule_decay", 1.0)))

                prod = state.get("prod", 1.0) * mu(t)
                state["prod"] = prod
                m_hat = mu(t + 1) * m / (1 - prod * mu(t + 1)) + (1 - mu(t)) * g / (1 - prod)
            theta -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


HYPER = {
    "sgd": dict(learning_rate=0.1),
    "momentum": dict(learning_rate=0.05, momentum=0.9),
    "nesterov": dict(learning_rate=0.05, momentum=0.9),
    "adagrad": dict(learning_rate=0.1, initial_accumulator_value=0.1, epsilon=1e-7),
    "adadelta": dict(learning_rate=1.0, rho=0.95, epsilon=1e-6),
    "rmsprop": dict(learning_rate=0.01, rho=0.9, epsilon=1e-8),
    "adam": dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-8),
    "adamax": dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
    "nadam": dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
}


def run_steps(opt, theta, grads, dtype):
    var = keras.Variable(theta.astype(dtype), dtype=dtype)
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g.astype(dtype), dtype), var)])
    return keras.ops.convert_to_numpy(var)


@pytest.mark.parametrize("name", sorted(HYPER))
@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 1e-6)])
def test_twenty_steps_match_spec(name, dtype, rtol, rng):
    theta = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(20)]
    ours = run_steps(optimizers.get(name, **HYPER[name]), theta, grads, dtype)
    expected = np_steps(name, theta.astype(dtype).astype("float64"),
                        [g.astype(dtype).astype("float64") for g in grads], **HYPER[name])
    # float32: the error of 20 accumulated float32 steps on values of order 1
    np.testing.assert_allclose(ours, expected, rtol=rtol, atol=rtol if dtype == "float32" else 0)


def test_momentum_zero_is_plain_sgd(rng):
    theta = rng.normal(size=5)
    grads = [rng.normal(size=5) for _ in range(10)]
    a = run_steps(optimizers.get("momentum", learning_rate=0.1, momentum=0.0), theta, grads,
                  "float64")
    b = run_steps(optimizers.get("sgd", learning_rate=0.1), theta, grads, "float64")
    np.testing.assert_allclose(a, b, rtol=1e-15)


def test_adam_without_bias_correction_matches_its_formula(rng):
    """θ ← θ − η m_t / (sqrt(v_t) + ε), transcribed; and it differs from corrected Adam most in
    the first step, where the correction multiplies the step by (1−β2)^½/(1−β1) ≈ 0.32."""
    theta = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(5)]
    ours = run_steps(optimizers.get("adam", learning_rate=0.01, bias_correction=False), theta,
                     grads, "float64")
    m, v, expected = np.zeros_like(theta), np.zeros_like(theta), theta.copy()
    lr = float(np.float32(0.01))  # Keras keeps the learning rate in float32
    for g in grads:
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected = expected - lr * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    one = run_steps(optimizers.get("adam", learning_rate=0.01, bias_correction=False), theta,
                    grads[:1], "float64")
    corrected = run_steps(optimizers.get("adam", learning_rate=0.01), theta, grads[:1],
                          "float64")
    np.testing.assert_allclose((one - theta) / (corrected - theta), 0.1 / 0.001 ** 0.5,
                               rtol=1e-5)  # up to ε's share of the denominator
    opt = optimizers.get("adam", bias_correction=False)
    assert opt.get_config()["bias_correction"] is False
    assert type(opt).from_config(opt.get_config()).bias_correction is False


TWINS = {
    "sgd": (keras.optimizers.SGD, {}),
    "momentum": (keras.optimizers.SGD, {}),
    "nesterov": (keras.optimizers.SGD, {"nesterov": True}),
    "adagrad": (keras.optimizers.Adagrad, {}),
    "adadelta": (keras.optimizers.Adadelta, {}),
    "rmsprop": (keras.optimizers.RMSprop, {}),
    "adamax": (keras.optimizers.Adamax, {}),
    "adam": (keras.optimizers.Adam, {}),
    "nadam": (keras.optimizers.Nadam, {}),
}


def _train(optimizer, seed=0, epochs=3, jit_compile="auto", expect_jit=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.integers(0, 3, size=64)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  jit_compile=jit_compile)
    if expect_jit is not None:
        assert model.jit_compile is expect_jit  # Keras silently drops XLA in some setups
    model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)
    return [w.copy() for w in model.get_weights()]


@pytest.mark.parametrize("name", sorted(TWINS))
def test_keras_twin_training_run(name):
    cls, extra = TWINS[name]
    h = dict(HYPER[name])
    keras_h = {k: v for k, v in h.items() if k != "schedule_decay"}
    if name == "sgd":
        keras_h["momentum"] = 0.0
    ours = _train(optimizers.get(name, **h))
    theirs = _train(cls(**keras_h, **extra))
    # adam: Keras adds epsilon to sqrt(v) before the bias correction ("epsilon hat"); the
    # gap is of the order of epsilon relative to the step. nadam uses the same form as ours.
    tol = 1e-4 if name == "adam" else 1e-6
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_save_mid_training_and_continue_matches_uninterrupted(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.integers(0, 3, size=64)

    def fresh():
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=optimizers.get("adam", learning_rate=0.01),
                      loss="sparse_categorical_crossentropy")
        return model

    straight = fresh()
    straight.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)
    stopped = fresh()
    stopped.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    stopped.save(tmp_path / "mid.keras")
    resumed = keras.saving.load_model(tmp_path / "mid.keras")
    assert isinstance(resumed.optimizer, optimizers.Adam)
    resumed.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(HYPER))
def test_get_config_round_trip(name):
    opt = optimizers.get(name, **HYPER[name])
    clone = type(opt).from_config(opt.get_config())
    for key, value in HYPER[name].items():
        assert clone.get_config()[key] == pytest.approx(value)


@pytest.mark.parametrize("name,kwargs,message", [
    ("sgd", {"learning_rate": -0.1}, "learning_rate must be a positive"),
    ("adam", {"beta_1": 1.0}, r"beta_1 must be a number in \[0.0, 1.0\)"),
    ("adam", {"beta_1": -0.1}, r"beta_1 must be a number in \[0.0, 1.0\)"),
    ("rmsprop", {"rho": 1.5}, r"rho must be a number in \[0.0, 1.0\]"),
    ("adadelta", {"rho": -0.5}, r"rho must be a number in \[0.0, 1.0\]"),
    ("momentum", {"momentum": 1.2}, r"momentum must be a number in \[0.0, 1.0\)"),
])
def test_bad_hyperparameters_raise_at_construction(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        optimizers.get(name, **kwargs)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown optimizer 'lion'.*adadelta.*sgd"):
        optimizers.get("lion")


def test_diagnostics_report_norms():
    opt = optimizers.get("rmsprop", learning_rate=0.01, track_diagnostics=True)
    var = keras.Variable(np.ones(4, dtype="float32"))
    g = np.array([3.0, 4.0, 0.0, 0.0], dtype="float32")
    for _ in range(2):
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
    diag = opt.diagnostics([var])
    np.testing.assert_allclose(diag["grad_norm"], 5.0, rtol=1e-6)  # RMS over 2 steps of |g|
    assert diag["update_norm"] > 0 and "effective_lr" in diag


def _one_step_effective_lr(name, g, eta=0.01, **kw):
    opt = optimizers.get(name, learning_rate=eta, track_diagnostics=True, **kw)
    var = keras.Variable(np.ones(len(g), dtype="float32"))
    opt.apply_gradients([(keras.ops.convert_to_tensor(g.astype("float32")), var)])
    return opt.diagnostics([var])["effective_lr"]


@pytest.mark.parametrize("name,expected", [
    # effective_lr = η / D_t, D_t the denominator the update divides its direction by
    ("adagrad", lambda g, eta: np.mean(eta / np.sqrt(0.1 + g**2 + 1e-7))),
    ("rmsprop", lambda g, eta: np.mean(eta / np.sqrt(0.1 * g**2 + 1e-8))),
    ("adadelta", lambda g, eta: np.mean(  # D = sqrt(E[g²]+ε)/sqrt(E[Δθ²]+ε), read after the step
        eta / (np.sqrt(0.05 * g**2 + 1e-6) / np.sqrt(
            0.05 * (np.sqrt(1e-6) / np.sqrt(0.05 * g**2 + 1e-6) * g) ** 2 + 1e-6)))),
    # after one step v̂ = g² and u = |g|: Adam, Nadam and Adamax share D = |g| + ε, so the
    # 1/(1 − β1^t) correction is in the direction m̂ for all three, in none of the step sizes
    ("adam", lambda g, eta: np.mean(eta / (np.abs(g) + 1e-8))),
    ("nadam", lambda g, eta: np.mean(eta / (np.abs(g) + 1e-7))),
    ("adamax", lambda g, eta: np.mean(eta / (np.abs(g) + 1e-7))),
])
def test_effective_lr_is_eta_over_the_update_denominator(name, expected):
    g = np.array([0.5, 2.0, 3.0, 0.1])
    kw = {"adadelta": {"learning_rate": 1.0}}.get(name, {})
    eta = kw.pop("learning_rate", 0.01)
    np.testing.assert_allclose(_one_step_effective_lr(name, g, eta, **kw), expected(g, eta),
                               rtol=1e-5)


@pytest.mark.parametrize("name", sorted(HYPER))
def test_xla_compiled_training_equals_uncompiled(name, no_op_determinism):
    """``jit_compile=True`` compiles the update step with XLA (on every backend, CPU
    included); the weights after an epoch match the uncompiled step's."""
    compiled = _train(optimizers.get(name, **HYPER[name]), epochs=1, jit_compile=True,
                      expect_jit=True)
    plain = _train(optimizers.get(name, **HYPER[name]), epochs=1, jit_compile=False)
    for a, b in zip(compiled, plain):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    start = _train(optimizers.get(name, **HYPER[name]), epochs=0)
    assert any(not np.allclose(a, b) for a, b in zip(compiled, start))


@pytest.fixture
def no_op_determinism():
    """Keras turns XLA off while TensorFlow's op determinism is on (which an in-process run
    with trainer.deterministic=true leaves on): off for the test, restored after."""
    if keras.backend.backend() != "tensorflow":
        yield
        return
    from tensorflow.python.framework import config

    was = config.is_op_determinism_enabled()
    config.disable_op_determinism()
    yield
    if was:
        config.enable_op_determinism()


@pytest.mark.parametrize("name", sorted(HYPER))
def test_mixed_precision_with_jit(name, no_op_determinism):
    """float16 compute with float32 variables under loss scaling, compiled with XLA."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 6)).astype("float32")
        y = rng.integers(0, 3, size=64)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                                  keras.layers.Dense(3, activation="softmax", dtype="float32")])
        model.compile(optimizer=optimizers.get(name, **HYPER[name]),
                      loss="sparse_categorical_crossentropy", jit_compile=True)
        assert model.jit_compile is True
        before = [w.copy() for w in model.get_weights()]
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        assert all(np.isfinite(history.history["loss"]))
        assert model.layers[0].kernel.dtype == "float32"
        assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    finally:
        keras.mixed_precision.set_global_policy(policy)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_diagnostics_match_numpy_during_fit(jit_compile):
    """Linear regression with MSE and plain SGD, two epochs of 4 steps of batch 8 with a read
    after each: the RMS gradient and update norms per variable and globally equal a numpy
    replay of the same steps, and each read covers only the steps since the last one."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    w0, b0 = rng.normal(size=(3, 1)).astype("float32"), np.zeros(1, dtype="float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.set_weights([w0, b0])
    lr = 0.05
    opt = optimizers.get("sgd", learning_rate=lr, track_diagnostics=True)
    model.compile(optimizer=opt, loss="mse", jit_compile=jit_compile)
    kernel, bias = model.trainable_variables
    w, b = w0.astype("float64"), b0.astype("float64")
    for _ in range(2):
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        diag = opt.diagnostics(model.trainable_variables)
        g_sq, u_sq = np.zeros(2), np.zeros(2)
        for k in range(4):
            xb, yb = x[8 * k:8 * k + 8].astype("float64"), y[8 * k:8 * k + 8].astype("float64")
            residual = xb @ w + b - yb
            gw, gb = 2 * xb.T @ residual / 8, 2 * residual.sum(0) / 8
            g_sq += [np.sum(gw ** 2), np.sum(gb ** 2)]
            u_sq += [np.sum((lr * gw) ** 2), np.sum((lr * gb) ** 2)]
            w, b = w - lr * gw, b - lr * gb
        np.testing.assert_allclose(diag[f"grad_norm/{kernel.path}"], np.sqrt(g_sq[0] / 4),
                                   rtol=1e-5)
        np.testing.assert_allclose(diag[f"grad_norm/{bias.path}"], np.sqrt(g_sq[1] / 4),
                                   rtol=1e-5)
        np.testing.assert_allclose(diag["grad_norm"], np.sqrt(g_sq.sum() / 4), rtol=1e-5)
        np.testing.assert_allclose(diag["update_norm"], np.sqrt(u_sq.sum() / 4), rtol=1e-5)
        np.testing.assert_allclose(diag[f"update_ratio/{kernel.path}"],
                                   np.sqrt(u_sq[0] / 4) / np.linalg.norm(w), rtol=1e-5)
        assert "effective_lr" not in diag  # plain SGD has no adaptive denominator
    again = opt.diagnostics(model.trainable_variables)  # reset: no steps since the last read
    assert again["grad_norm"] == 0.0


def _diagnostics_do_not_change_training(name):
    """Three epochs with a diagnostics read after each give the same weights as training
    without diagnostics."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    init = [rng.normal(size=(3, 4)).astype("float32"), np.zeros(4, "float32"),
            rng.normal(size=(4, 1)).astype("float32"), np.zeros(1, "float32")]
    weights = []
    for track in (False, True):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4),
                                  keras.layers.Dense(1)])
        model.set_weights(init)
        opt = optimizers.get(name, learning_rate=0.01, track_diagnostics=track)
        model.compile(optimizer=opt, loss="mse")
        for _ in range(3):
            model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
            if track:
                assert 0 < opt.diagnostics(model.trainable_variables)["grad_norm"] < 1e3
        weights.append(model.get_weights())
    for ours, theirs in zip(*weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["adam", "momentum"])
def test_diagnostics_do_not_change_training(name):
    _diagnostics_do_not_change_training(name)


@pytest.mark.slow
def test_diagnostics_without_jax_x64():
    """The same in a fresh process with JAX's default 32-bit integers (the suite's own
    setting): a read once aliased the iterations buffer there and the next compiled step
    failed with 'donate the same buffer twice'."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    code = ("from tests.test_optimizers import _diagnostics_do_not_change_training as f; "
            "f('adam')")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert proc.returncode == 0, proc.stderr[-2000:]
