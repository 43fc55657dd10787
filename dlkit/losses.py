"""The seed's losses (docs/theory.md section 3) as ``keras.losses.Loss`` subclasses.

Every loss follows the Keras convention: ``call`` returns one value per sample (the mean over
the last axis unless the formula sums over classes), and the loss's ``reduction`` then reduces
over the batch. All code is ``keras.ops``, so the losses run under every Keras 3 backend.

>>> import dlkit.losses
>>> loss = dlkit.losses.get("cross_entropy", from_logits=True)
"""

from __future__ import annotations

import keras
from keras import ops

from dlkit.errors import ConfigError
from dlkit.registry import Registry

REGISTRY = Registry("loss", serializable=True)


def get(name: str, **kwargs) -> keras.losses.Loss:
    """Build the loss registered as ``name`` (``ValueError`` lists the names if unknown)."""
    return REGISTRY.get(name, **kwargs)


def names() -> list[str]:
    return REGISTRY.names()


def _static_shape(x) -> tuple:
    return tuple(x.shape)


def _shapes_compatible(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(p is None or q is None or p == q for p, q in zip(a, b))


def _align(y_true, y_pred):
    """Bring ``y_true`` to ``y_pred``'s rank (squeeze or add a trailing axis of 1), then check.

    Raises ``ValueError`` naming both shapes when they still disagree.
    """
    t, p = _static_shape(y_true), _static_shape(y_pred)
    if len(t) == len(p) + 1 and t[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    elif len(p) == len(t) + 1 and p[-1] == 1:
        y_true = ops.expand_dims(y_true, axis=-1)
    if not _shapes_compatible(_static_shape(y_true), p):
        raise ConfigError(
            f"y_true shape {t} does not match y_pred shape {p}; the shapes must be equal "
            "(a trailing axis of size 1 may be missing on one side)"
        )
    return y_true, y_pred


def _sparse_or_dense(y_true, y_pred):
    """For class-probability losses: return (labels, is_sparse).

    Dense labels have ``y_pred``'s shape (one-hot); sparse labels are integer class indices of
    shape ``y_pred.shape[:-1]`` (or with a trailing axis of size 1).
    """
    t, p = _static_shape(y_true), _static_shape(y_pred)
    if _shapes_compatible(t, p) and not (len(p) >= 1 and p[-1] == 1 and len(t) == len(p) - 1):
        return y_true, False
    if len(t) == len(p) and t[-1] == 1 and _shapes_compatible(t[:-1], p[:-1]):
        return ops.squeeze(y_true, axis=-1), True
    if len(t) == len(p) - 1 and _shapes_compatible(t, p[:-1]):
        return y_true, True
    raise ConfigError(
        f"y_true shape {t} does not match y_pred shape {p}; accepted: one-hot labels of shape {p} "
        f"or integer class indices of shape {p[:-1]}"
    )


class _SeedLoss(keras.losses.Loss):
    """Shared constructor and config for the dlkit losses."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None, epsilon=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if epsilon is None:
            epsilon = keras.config.epsilon()
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or epsilon < 0:
            raise ConfigError(f"epsilon must be a non-negative number, got {epsilon!r}")
        self.epsilon = float(epsilon)

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config


def _check_from_logits(from_logits):
    if not isinstance(from_logits, bool):
        raise ConfigError(f"from_logits must be True or False, got {from_logits!r}")
    return from_logits


@REGISTRY.register("mse")
class MeanSquaredError(_SeedLoss):
    """Mean squared error: ``mean((ŷ − y)², axis=-1)``."""

    def __init__(self, name="mse", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true, y_pred = _align(ops.cast(y_true, y_pred.dtype), y_pred)
        return ops.mean(ops.square(y_pred - y_true), axis=-1)


@REGISTRY.register("mae")
class MeanAbsoluteError(_SeedLoss):
    """Mean absolute error: ``mean(|ŷ − y|, axis=-1)``."""

    def __init__(self, name="mae", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true, y_pred = _align(ops.cast(y_true, y_pred.dtype), y_pred)
        return ops.mean(ops.abs(y_pred - y_true), axis=-1)


@REGISTRY.register("msle")
class MeanSquaredLogarithmicError(_SeedLoss):
    """Mean squared log error: ``mean((log(max(ŷ, ε) + 1) − log(max(y, ε) + 1))², axis=-1)``."""

    def __init__(self, name="msle", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true, y_pred = _align(ops.cast(y_true, y_pred.dtype), y_pred)
        log_pred = ops.log(ops.maximum(y_pred, self.epsilon) + 1.0)
        log_true = ops.log(ops.maximum(y_true, self.epsilon) + 1.0)
        return ops.mean(ops.square(log_pred - log_true), axis=-1)


@REGISTRY.register("mape")
class MeanAbsolutePercentageError(_SeedLoss):
    """Mean absolute percentage error: ``100 · mean(|ŷ − y| / max(|y|, ε), axis=-1)``."""

    def __init__(self, name="mape", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true, y_pred = _align(ops.cast(y_true, y_pred.dtype), y_pred)
        ratio = ops.abs(y_pred - y_true) / ops.maximum(ops.abs(y_true), self.epsilon)
        return 100.0 * ops.mean(ratio, axis=-1)


@REGISTRY.register("smooth_l1")
class SmoothL1(_SeedLoss):
    """Smooth L1: with ``x = ŷ − y``, ``mean(0.5 x² if |x| < 1 else |x| − 0.5, axis=-1)``.

    The same as Keras's ``Huber(delta=1.0)``.
    """

    def __init__(self, name="smooth_l1", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true, y_pred = _align(ops.cast(y_true, y_pred.dtype), y_pred)
        x = ops.abs(y_pred - y_true)
        return ops.mean(ops.where(x < 1.0, 0.5 * ops.square(x), x - 0.5), axis=-1)


@REGISTRY.register("logistic")
class Logistic(_SeedLoss):
    """Logistic (binary cross entropy) loss, ``mean(ℓ, axis=-1)`` with

    ``ℓ = −[y log p + (1 − y) log(1 − p)]``, ``p = σ(z)``, which is ``log(1 + e^{−y' z})`` with
    ``y' = 2y − 1``. Labels may be 0/1 or −1/+1 (−1 is read as 0).

    With ``from_logits=True`` the stable form ``max(z, 0) − z y + log(1 + e^{−|z|})`` is used;
    otherwise ``p`` is clipped to ``[ε, 1 − ε]``.
    """

    def __init__(self, from_logits=False, name="logistic", **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits = _check_from_logits(from_logits)

    def call(self, y_true, y_pred):
        y_true, y_pred = _align(ops.cast(y_true, y_pred.dtype), y_pred)
        y = ops.where(y_true < 0, ops.zeros_like(y_true), y_true)
        if self.from_logits:
            z = y_pred
            per_elem = ops.relu(z) - z * y + ops.log1p(ops.exp(-ops.abs(z)))
        else:
            p = ops.clip(y_pred, self.epsilon, 1.0 - self.epsilon)
            per_elem = -(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p))
        return ops.mean(per_elem, axis=-1)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


def _log_probs(y_pred, from_logits, epsilon):
    if from_logits:
        return ops.log_softmax(y_pred, axis=-1)
    return ops.log(ops.clip(y_pred, epsilon, 1.0 - epsilon))


def _pick(log_p, labels):
    """``log_p[..., label]`` for integer labels of shape ``log_p.shape[:-1]``."""
    idx = ops.expand_dims(ops.cast(labels, "int32"), axis=-1)
    return ops.squeeze(ops.take_along_axis(log_p, idx, axis=-1), axis=-1)


@REGISTRY.register("cross_entropy")
class CrossEntropy(_SeedLoss):
    """Categorical cross entropy over M classes: ``−Σ_c y_c log p_c``.

    ``y`` is one-hot (or any distribution) or integer class indices (sparse). Probabilities are
    clipped to ``[ε, 1 − ε]``; ``from_logits=True`` uses ``log_softmax``. The seed's numpy
    version ``−mean(y · log(p + 1e-5))`` also averages over the M classes: it equals this loss
    divided by M (up to the clipping constant).
    """

    def __init__(self, from_logits=False, name="cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits = _check_from_logits(from_logits)

    def call(self, y_true, y_pred):
        labels, sparse = _sparse_or_dense(y_true, y_pred)
        log_p = _log_probs(y_pred, self.from_logits, self.epsilon)
        if sparse:
            return -_pick(log_p, labels)
        return -ops.sum(ops.cast(labels, log_p.dtype) * log_p, axis=-1)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


@REGISTRY.register("nll")
class NegativeLogLikelihood(CrossEntropy):
    """Negative log likelihood of the true class: ``−log p_y``.

    ``y`` is an integer class index (sparse) or one-hot (then ``−Σ_c y_c log p_c``, the same
    number). ``y_pred`` holds probabilities (clipped to ``[ε, 1 − ε]``, not renormalised), or
    logits with ``from_logits=True`` (``log p = log_softmax(z)``). It computes what
    ``CrossEntropy`` computes; the name is the statistician's.
    """

    def __init__(self, from_logits=False, name="nll", **kwargs):
        super().__init__(from_logits=from_logits, name=name, **kwargs)


def _plus_minus(y_true):
    """Map 0/1 labels to −1/+1 (0 becomes −1; −1 and +1 stay)."""
    return ops.where(ops.equal(y_true, 0), -ops.ones_like(y_true), y_true)


@REGISTRY.register("hinge")
class Hinge(_SeedLoss):
    """Hinge (SVM) loss: ``mean(max(0, 1 − y ŷ), axis=-1)``, ``y`` in {−1, +1}.

    0/1 labels are mapped to −1/+1 first (0 → −1), as Keras's ``Hinge`` does.
    """

    def __init__(self, name="hinge", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true, y_pred = _align(ops.cast(y_true, y_pred.dtype), y_pred)
        return ops.mean(ops.relu(1.0 - _plus_minus(y_true) * y_pred), axis=-1)


@REGISTRY.register("exponential")
class Exponential(_SeedLoss):
    """Exponential (AdaBoost) loss: ``mean(exp(−y ŷ), axis=-1)``, ``y`` in {−1, +1}.

    0/1 labels are mapped to −1/+1 first (0 → −1). The seed's numpy code sums over every
    element instead; use ``reduction="sum"`` on a single output for that form.
    """

    def __init__(self, name="exponential", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true, y_pred = _align(ops.cast(y_true, y_pred.dtype), y_pred)
        return ops.mean(ops.exp(-_plus_minus(y_true) * y_pred), axis=-1)
