"""The seed's optimizers (docs/theory.md section 2) as ``keras.optimizers.Optimizer`` subclasses.

Each class writes its textbook update rule in ``update_step`` with ``keras.ops``, so it runs
under every Keras 3 backend, inside ``jit_compile=True`` and with mixed precision. Casts are
explicit: ``self.iterations`` is int64 under TensorFlow and int32 elsewhere.

Every optimizer can also record diagnostics (``track_diagnostics=True``): per variable, the
sum over steps of the squared gradient norm and of the squared update norm. ``diagnostics()``
turns them into the epoch's gradient norm, update norm, update-to-weight ratio per variable and,
for adaptive methods, the mean effective step size (learning rate over the adaptive
denominator).
"""

from __future__ import annotations

import math
from numbers import Real

import keras
import numpy as np
from keras import ops

from dlkit.errors import ConfigError
from dlkit.registry import Registry

# ``adaptive``: whether the step is scaled per parameter by gradient statistics (so a rate
# in the hundredths to thousandths suits it) or is the plain rate times the gradient;
# ``rate_free``: the rate is part of the method's definition (Adadelta's 1.0), not tuned.
REGISTRY = Registry("optimizer", required=("adaptive",), optional={"rate_free": False},
                    serializable=True)


def get(name: str, **kwargs) -> keras.optimizers.Optimizer:
    """Build the optimizer registered as ``name`` (``ValueError`` lists the names if unknown)."""
    return REGISTRY.get(name, **kwargs)


def names() -> list[str]:
    return REGISTRY.names()


def _check_range(name, value, low, high, high_open=True):
    """Raise ``ValueError`` unless ``low <= value < high`` (``<= high`` when not open)."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and low <= value and (value < high if high_open else value <= high)
    if not ok:
        bracket = ")" if high_open else "]"
        raise ConfigError(f"{name} must be a number in [{low}, {high}{bracket}, got {value!r}")
    return float(value)


def _check_positive(name, value, allow_zero=False):
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        what = "a non-negative" if allow_zero else "a positive"
        raise ConfigError(f"{name} must be {what} finite number, got {value!r}")
    return float(value)


def _const(value, dtype):
    """A Python float as a tensor of ``dtype``, without a float32 detour (``ops.cast`` of a
    Python float goes through float32 under TensorFlow)."""
    return ops.convert_to_tensor(value, dtype=dtype)


def _check_learning_rate(learning_rate):
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule) or callable(
        learning_rate
    ):
        return learning_rate
    return _check_positive("learning_rate", learning_rate)


class SeedOptimizer(keras.optimizers.Optimizer):
    """Base class: argument checks, ``_apply`` (``θ ← θ − increment``) and diagnostics."""

    def __init__(self, learning_rate, name, track_diagnostics=False, **kwargs):
        super().__init__(learning_rate=_check_learning_rate(learning_rate), name=name, **kwargs)
        self.track_diagnostics = bool(track_diagnostics)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        if self.track_diagnostics:
            # row 0: sum over steps of ‖g‖² per variable; row 1: the same for the update
            self._diag_sums = self.add_variable((2, len(var_list)), name="diag_sums")
            self._diag_steps_start = self.add_variable((), name="diag_steps_start", dtype="int64")

    def _slot(self, slots, variable):
        return slots[self._get_variable_index(variable)]

    def apply(self, grads, trainable_variables=None):
        """Keras's ``apply``; with diagnostics, the step's per-variable ‖g‖² and ‖increment‖²
        that ``_apply`` collected are added to ``diag_sums`` in one assignment."""
        if not self.track_diagnostics:
            return super().apply(grads, trainable_variables)
        pending = {}
        object.__setattr__(self, "_diag_pending", pending)  # trace-time scratch, not state
        try:
            result = super().apply(grads, trainable_variables)
        finally:
            object.__setattr__(self, "_diag_pending", None)
        if pending:
            zero = ops.zeros((), dtype="float32")
            n = self._diag_sums.shape[1]
            rows = [[pending.get(i, (zero, zero))[r] for i in range(n)] for r in (0, 1)]
            self.assign_add(self._diag_sums, ops.stack([ops.stack(row) for row in rows]))
        return result

    def _apply(self, variable, increment, gradient):
        """``θ ← θ − increment``; with diagnostics, also note ‖g‖² and ‖increment‖²."""
        self.assign_sub(variable, increment)
        pending = getattr(self, "_diag_pending", None)
        if pending is not None:
            g = ops.cast(gradient, "float32")
            u = ops.cast(increment, "float32")
            pending[self._get_variable_index(variable)] = (
                ops.sum(ops.square(g)), ops.sum(ops.square(u)))

    def _denominator(self, variable, t):
        """The adaptive denominator ``D_t`` of the step at iteration ``t`` (``ops``, after
        the step's slot updates), or ``None`` for methods that are not adaptive. Every
        adaptive update is ``θ ← θ − η_t · d_t / D_t``, with ``d_t`` the (bias-corrected)
        direction: the gradient for Adagrad, Adadelta and RMSprop, ``m̂_t`` for Adam, Adamax
        and Nadam. ``update_step`` and the diagnostics both call this one definition."""
        return None

    def effective_step_size(self, variable, learning_rate=None, t=None):
        """The effective learning rate ``η_t / D_t`` averaged over the variable's entries (a
        float), or ``None`` if the method is not adaptive. Read after a step, so ``t`` is
        ``iterations`` (the step just taken)."""
        if t is None:
            t = max(int(ops.convert_to_numpy(self.iterations)), 1)
        denominator = self._denominator(variable, ops.cast(t, variable.dtype))
        if denominator is None:
            return None
        if learning_rate is None:
            learning_rate = float(ops.convert_to_numpy(self.learning_rate))
        denominator = np.asarray(ops.convert_to_numpy(denominator), dtype=np.float64)
        return float(np.mean(learning_rate / denominator))

    def diagnostics(self, variables, reset=True):
        """Summaries of the steps since the last reset, as a dict of floats.

        ``grad_norm``: root mean square over steps of the global gradient norm;
        ``update_norm``: the same for the global update; per variable ``grad_norm/<path>`` and
        ``update_ratio/<path>``
        (RMS update norm over the weight norm) and, for adaptive methods,
        ``effective_lr/<path>`` and their mean ``effective_lr``.
        """
        if not self.track_diagnostics or not self.built:
            raise ConfigError("diagnostics need track_diagnostics=True and a built optimizer")
        steps = int(ops.convert_to_numpy(self.iterations)) - int(
            ops.convert_to_numpy(self._diag_steps_start)
        )
        steps = max(steps, 1)
        index = [self._get_variable_index(v) for v in variables]
        sums = ops.convert_to_numpy(self._diag_sums)[:, index]
        g_sq, u_sq = sums[0] / steps, sums[1] / steps
        lr = float(ops.convert_to_numpy(self.learning_rate))
        t = max(int(ops.convert_to_numpy(self.iterations)), 1)
        steps_sizes = [self.effective_step_size(v, lr, t) for v in variables]
        adaptive = bool(steps_sizes) and all(step is not None for step in steps_sizes)
        out = {}
        for k, variable in enumerate(variables):
            weight_norm = float(np.linalg.norm(ops.convert_to_numpy(variable)))
            out[f"grad_norm/{variable.path}"] = math.sqrt(g_sq[k])
            out[f"update_ratio/{variable.path}"] = math.sqrt(u_sq[k]) / max(weight_norm, 1e-12)
            if adaptive:
                out[f"effective_lr/{variable.path}"] = float(steps_sizes[k])
        out["grad_norm"] = math.sqrt(float(g_sq.sum()))
        out["update_norm"] = math.sqrt(float(u_sq.sum()))
        if adaptive:
            out["effective_lr"] = float(np.mean(steps_sizes))
        if reset:
            self._diag_sums.assign(ops.zeros(self._diag_sums.shape, dtype="float32"))
            # a numpy copy: under JAX a cast to the same dtype would alias the iterations
            # buffer, and the next compiled step would donate that buffer twice
            start = np.asarray(ops.convert_to_numpy(self.iterations), dtype="int64")
            self._diag_steps_start.assign(start)
        return out

    def get_config(self):
        return {**super().get_config(), "track_diagnostics": self.track_diagnostics}


@REGISTRY.register("sgd", adaptive=False)
class SGD(SeedOptimizer):
    """Plain gradient descent: ``θ ← θ − η g_t``.

    Batch size decides the regime: 1 is SGD, the whole training set is BGD, anything between
    is mini-batch gradient descent.
    """

    def __init__(self, learning_rate=0.01, name="sgd", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        self._apply(variable, lr * gradient, gradient)


@REGISTRY.register("momentum", adaptive=False)
class Momentum(SeedOptimizer):
    """Momentum: ``v_t = λ v_{t−1} + η g_t ;  θ ← θ − v_t`` (λ = ``momentum``).

    ``momentum=0`` is plain SGD. With ``nesterov=True`` the step is taken at the look-ahead
    point, in the form Keras uses: ``θ ← θ − (λ v_t + η g_t)``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, nesterov=False, name="momentum",
                 **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.momentum = _check_range("momentum", momentum, 0.0, 1.0)
        if not isinstance(nesterov, bool):
            raise ConfigError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = nesterov

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        lam = _const(self.momentum, variable.dtype)
        v = self._slot(self._velocities, variable)
        self.assign(v, lam * v + lr * gradient)
        increment = lam * v + lr * gradient if self.nesterov else v
        self._apply(variable, increment, gradient)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


@REGISTRY.register("nesterov", adaptive=False)
class Nesterov(Momentum):
    """Nesterov accelerated gradient: ``Momentum`` with ``nesterov=True``.

    ``v_t = λ v_{t−1} + η g_t ;  θ ← θ − (λ v_t + η g_t)``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, name="nesterov", **kwargs):
        kwargs.pop("nesterov", None)
        super().__init__(learning_rate, momentum=momentum, nesterov=True, name=name, **kwargs)


@REGISTRY.register("adagrad", adaptive=True)
class Adagrad(SeedOptimizer):
    """Adagrad: ``G_t = G_{t−1} + g_t² ;  θ ← θ − η g_t / sqrt(G_t + ε)``.

    ``G_0 = initial_accumulator_value`` (0.1, as Keras).
    """

    def __init__(self, learning_rate=0.01, initial_accumulator_value=0.1, epsilon=1e-7,
                 name="adagrad", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = _check_positive(
            "initial_accumulator_value", initial_accumulator_value, allow_zero=True)
        self.epsilon = _check_positive("epsilon", epsilon, allow_zero=True)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        value = self.initial_accumulator_value

        def init(shape, dtype=None):
            return ops.full(shape, _const(value, dtype), dtype=dtype)

        self._accumulators = self.add_optimizer_variables(var_list, "accumulator", init)

    def _denominator(self, variable, t):
        return ops.sqrt(self._slot(self._accumulators, variable) + self.epsilon)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        G = self._slot(self._accumulators, variable)
        self.assign_add(G, ops.square(gradient))
        self._apply(variable, lr * gradient / self._denominator(variable, None), gradient)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon,
                "initial_accumulator_value": self.initial_accumulator_value}


@REGISTRY.register("adadelta", adaptive=True, rate_free=True)
class Adadelta(SeedOptimizer):
    """Adadelta (Zeiler 2012)::

        E[g²]_t  = ρ E[g²]_{t−1} + (1 − ρ) g_t²
        Δθ_t     = − sqrt(E[Δθ²]_{t−1} + ε) / sqrt(E[g²]_t + ε) · g_t
        E[Δθ²]_t = ρ E[Δθ²]_{t−1} + (1 − ρ) Δθ_t²
        θ        ← θ + η Δθ_t

    ``learning_rate=1.0`` is the paper's form (Keras defaults to 0.001).
    """

    def __init__(self, learning_rate=1.0, rho=0.95, epsilon=1e-6, name="adadelta", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho = _check_range("rho", rho, 0.0, 1.0, high_open=False)
        self.epsilon = _check_positive("epsilon", epsilon, allow_zero=True)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._grad_averages, self._delta_averages = self.add_optimizer_variables(
            var_list, ["accumulated_grad", "accumulated_delta_var"])

    def _denominator(self, variable, t):
        """``sqrt(E[g²]_t + ε) / sqrt(E[Δθ²]_{t−1} + ε)`` (before ``E[Δθ²]`` takes step t's
        update; read after the step, the diagnostics see the updated ``E[Δθ²]_t``)."""
        eg2 = self._slot(self._grad_averages, variable)
        edx2 = self._slot(self._delta_averages, variable)
        return ops.sqrt(eg2 + self.epsilon) / ops.sqrt(edx2 + self.epsilon)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        rho = _const(self.rho, variable.dtype)
        eg2 = self._slot(self._grad_averages, variable)
        edx2 = self._slot(self._delta_averages, variable)
        self.assign(eg2, rho * eg2 + (1.0 - rho) * ops.square(gradient))
        delta = -gradient / self._denominator(variable, None)
        self.assign(edx2, rho * edx2 + (1.0 - rho) * ops.square(delta))
        self._apply(variable, -lr * delta, gradient)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


@REGISTRY.register("rmsprop", adaptive=True)
class RMSprop(SeedOptimizer):
    """RMSprop (Hinton), the seed's ``S_dw``:
    ``S_t = β S_{t−1} + (1 − β) g_t² ;  θ ← θ − η g_t / sqrt(S_t + ε)``, β = ``rho``.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-8, name="rmsprop", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho = _check_range("rho", rho, 0.0, 1.0, high_open=False)
        self.epsilon = _check_positive("epsilon", epsilon, allow_zero=True)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")

    def _denominator(self, variable, t):
        return ops.sqrt(self._slot(self._velocities, variable) + self.epsilon)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        rho = _const(self.rho, variable.dtype)
        s = self._slot(self._velocities, variable)
        self.assign(s, rho * s + (1.0 - rho) * ops.square(gradient))
        self._apply(variable, lr * gradient / self._denominator(variable, None), gradient)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class _MomentEstimates(SeedOptimizer):
    """Shared arguments of Adam, Adamax and Nadam: ``beta_1``, ``beta_2``, ``epsilon``."""

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, name, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1 = _check_range("beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_range("beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_positive("epsilon", epsilon, allow_zero=True)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._m, self._v = self.add_optimizer_variables(var_list, ["momentum", "velocity"])

    def _step(self, dtype):
        return ops.cast(self.iterations + 1, dtype)

    def _average_into(self, average, value, beta):
        """``a ← β a + (1 − β) x``, written as ``a ← a + (1 − β)(x − a)`` (the same number,
        one multiply fewer)."""
        self.assign_add(average, (1.0 - beta) * (value - average))

    def _update_moments(self, m, v, gradient, b1, b2):
        """``m ← β1 m + (1 − β1) g`` and ``v ← β2 v + (1 − β2) g²``."""
        self._average_into(m, gradient, b1)
        self._average_into(v, ops.square(gradient), b2)

    @staticmethod
    def _inv_sqrt_bias_2(b2, t):
        """``1 / sqrt(1 − β2^t)``, so that ``sqrt(v̂_t) = sqrt(v_t) · this``."""
        return 1.0 / ops.sqrt(1.0 - ops.power(b2, t))

    def _denominator(self, variable, t):
        """``sqrt(v̂_t) + ε`` with ``v̂_t = v_t / (1 − β2^t)``."""
        b2 = _const(self.beta_2, variable.dtype)
        return ops.sqrt(self._slot(self._v, variable)) * self._inv_sqrt_bias_2(b2, t) \
            + self.epsilon

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


@REGISTRY.register("adam", adaptive=True)
class Adam(_MomentEstimates):
    """Adam (Kingma & Ba 2015, Algorithm 1), the textbook form::

        m_t = β1 m_{t−1} + (1 − β1) g_t          v_t = β2 v_{t−1} + (1 − β2) g_t²
        m̂_t = m_t / (1 − β1^t)                  v̂_t = v_t / (1 − β2^t)
        θ  ← θ − η m̂_t / (sqrt(v̂_t) + ε)

    Keras's ``Adam`` folds the bias corrections into the step size and adds its ε to
    ``sqrt(v_t)`` instead ("ε-hat"); the two agree up to differences of the size of ε.

    ``bias_correction=False`` drops both corrections (``θ ← θ − η m_t / (sqrt(v_t) + ε)``),
    for measuring what they do in the first steps, when ``m`` and ``v`` start at zero.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 bias_correction=True, name="adam", **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, **kwargs)
        if not isinstance(bias_correction, bool):
            raise ConfigError(f"bias_correction must be True or False, got {bias_correction!r}")
        self.bias_correction = bias_correction

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        b1 = _const(self.beta_1, variable.dtype)
        b2 = _const(self.beta_2, variable.dtype)
        t = self._step(variable.dtype)
        m, v = self._slot(self._m, variable), self._slot(self._v, variable)
        self._update_moments(m, v, gradient, b1, b2)
        if not self.bias_correction:
            self._apply(variable, lr * m / self._denominator(variable, t), gradient)
            return
        # η m̂ / (sqrt(v̂) + ε) with m̂'s bias correction as a scalar: fewer tensor ops
        step = lr / (1.0 - ops.power(b1, t))
        self._apply(variable, step * m / self._denominator(variable, t), gradient)

    def _denominator(self, variable, t):
        if self.bias_correction:
            return super()._denominator(variable, t)
        return ops.sqrt(self._slot(self._v, variable)) + self.epsilon

    def get_config(self):
        return {**super().get_config(), "bias_correction": self.bias_correction}


@REGISTRY.register("adamax", adaptive=True)
class Adamax(_MomentEstimates):
    """Adamax (Kingma & Ba 2015, section 7.1), Adam with the infinity norm::

        m_t = β1 m_{t−1} + (1 − β1) g_t      u_t = max(β2 u_{t−1}, |g_t|)
        θ  ← θ − η / (1 − β1^t) · m_t / (u_t + ε)

    The paper has no ε; like Keras, it is added to ``u_t`` to keep zero gradients finite.
    """

    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name="adamax", **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        b1 = _const(self.beta_1, variable.dtype)
        b2 = _const(self.beta_2, variable.dtype)
        t = self._step(variable.dtype)
        m, u = self._slot(self._m, variable), self._slot(self._v, variable)
        self._average_into(m, gradient, b1)
        self.assign(u, ops.maximum(b2 * u, ops.abs(gradient)))
        increment = lr / (1.0 - ops.power(b1, t)) * m / self._denominator(variable, t)
        self._apply(variable, increment, gradient)

    def _denominator(self, variable, t):
        """``u_t + ε`` (the direction is ``m̂_t = m_t / (1 − β1^t)``)."""
        return self._slot(self._v, variable) + self.epsilon


@REGISTRY.register("nadam", adaptive=True)
class Nadam(_MomentEstimates):
    """Nadam (Dozat 2016): Adam with a Nesterov look-ahead on the first moment::

        μ_t  = β1 (1 − 0.5 · 0.96^(ψ t))                  (momentum schedule)
        m_t  = β1 m_{t−1} + (1 − β1) g_t                  v_t = β2 v_{t−1} + (1 − β2) g_t²
        m̂_t  = μ_{t+1} m_t / (1 − Π_{i≤t+1} μ_i) + (1 − μ_t) g_t / (1 − Π_{i≤t} μ_i)
        v̂_t  = v_t / (1 − β2^t)
        θ   ← θ − η m̂_t / (sqrt(v̂_t) + ε)

    ``schedule_decay`` is ψ: 1.0 (the default) is what Keras 3's ``Nadam`` computes, 0.004 is
    the value in Dozat's paper. The running product ``Π μ_i`` is kept per variable.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 schedule_decay=1.0, name="nadam", **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, name, **kwargs)
        self.schedule_decay = _check_positive("schedule_decay", schedule_decay)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._mu_products = [
            self.add_variable((), initializer="ones", dtype=var.dtype, name="mu_product")
            for var in var_list
        ]

    def _mu(self, step, dtype):
        decay = _const(0.96, dtype)
        beta_1 = _const(self.beta_1, dtype)
        return beta_1 * (1.0 - 0.5 * ops.power(decay, step * self.schedule_decay))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        b1 = _const(self.beta_1, dtype)
        b2 = _const(self.beta_2, dtype)
        t = self._step(dtype)
        mu_t, mu_next = self._mu(t, dtype), self._mu(t + 1.0, dtype)
        product = self._slot(self._mu_products, variable)
        self.assign(product, product * mu_t)
        product_next = product * mu_next
        m, v = self._slot(self._m, variable), self._slot(self._v, variable)
        self._update_moments(m, v, gradient, b1, b2)
        m_hat = (mu_next / (1.0 - product_next)) * m + ((1.0 - mu_t) / (1.0 - product)) * gradient
        self._apply(variable, lr * m_hat / self._denominator(variable, t), gradient)

    def get_config(self):
        return {**super().get_config(), "schedule_decay": self.schedule_decay}

