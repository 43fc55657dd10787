"""Learning-rate decay (the seed's 学习率衰减), expressed in epochs.

``build(name, learning_rate, steps_per_epoch, epochs, **params)`` returns what an optimizer's
``learning_rate`` accepts: a float (``constant``, ``plateau``) or a Keras
``LearningRateSchedule`` evaluated per step. ``plateau`` is driven from the epoch loop by
``Plateau``.
"""

from __future__ import annotations

import math

from keras.optimizers import schedules as ks

NAMES = ("constant", "step", "exponential", "inverse_time", "cosine", "plateau")


def _positive(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"schedule.{name} must be a positive number, got {value!r}")
    return value


def build(name, learning_rate, steps_per_epoch, epochs, factor=0.5, step_epochs=10,
          decay_rate=0.1, alpha=0.0, **_unused):
    """``step``: ×``factor`` every ``step_epochs`` epochs; ``exponential``: ×``factor`` per
    epoch, smoothly; ``inverse_time``: ``η / (1 + decay_rate · epoch)``; ``cosine``: from η to
    ``alpha·η`` over all epochs."""
    if name not in NAMES:
        raise ValueError(f"unknown schedule {name!r}; valid schedule names: {', '.join(NAMES)}")
    spe = max(int(steps_per_epoch), 1)
    if name in ("constant", "plateau"):
        return learning_rate
    if name == "step":
        return ks.ExponentialDecay(learning_rate, _positive("step_epochs", step_epochs) * spe,
                                   _positive("factor", factor), staircase=True)
    if name == "exponential":
        return ks.ExponentialDecay(learning_rate, spe, _positive("factor", factor))
    if name == "inverse_time":
        return ks.InverseTimeDecay(learning_rate, spe, _positive("decay_rate", decay_rate))
    return ks.CosineDecay(learning_rate, max(int(epochs), 1) * spe, alpha=alpha)


class Plateau:
    """Reduce on plateau: multiply the learning rate by ``factor`` when ``val_loss`` has not
    improved by ``min_delta`` for ``patience`` epochs; never below ``min_lr``.

    Its state (``best``, ``wait``) is plain data, saved with each checkpoint.
    """

    def __init__(self, factor=0.5, patience=3, min_lr=1e-6, min_delta=1e-4, **_unused):
        if not 0 < factor < 1:
            raise ValueError(f"schedule.factor must be in (0, 1) for plateau, got {factor!r}")
        self.factor, self.patience, self.min_lr, self.min_delta = factor, patience, min_lr, \
            min_delta
        self.best, self.wait = math.inf, 0

    def step(self, val_loss: float, learning_rate: float) -> float:
        """Return the learning rate for the next epoch."""
        if val_loss < self.best - self.min_delta:
            self.best, self.wait = val_loss, 0
            return learning_rate
        self.wait += 1
        if self.wait >= self.patience:
            self.wait = 0
            return max(learning_rate * self.factor, self.min_lr)
        return learning_rate

    def state(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    def load_state(self, state: dict) -> None:
        self.best, self.wait = float(state["best"]), int(state["wait"])
