"""Learning-rate decay (the seed's 学习率衰减), expressed in epochs.

``build(name, learning_rate, steps_per_epoch, epochs, **params)`` returns what an optimizer's
``learning_rate`` accepts: a float (``constant``, ``plateau``) or a Keras
``LearningRateSchedule`` evaluated per step. ``plateau`` is driven from the epoch loop by
``Plateau``.
"""

from __future__ import annotations

import math

from keras.optimizers import schedules as ks

from dlkit.errors import ConfigError
from dlkit.registry import Registry

REGISTRY = Registry("schedule")


def _positive(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ConfigError(f"schedule.{name} must be a positive number, got {value!r}")
    return value


@REGISTRY.register("constant")
def constant(learning_rate, steps_per_epoch, epochs):
    """``η`` throughout."""
    return learning_rate


@REGISTRY.register("step")
def step(learning_rate, steps_per_epoch, epochs, factor=0.5, step_epochs=10):
    """``η · factor^⌊epoch / step_epochs⌋``."""
    return ks.ExponentialDecay(learning_rate, _positive("step_epochs", step_epochs)
                               * steps_per_epoch, _positive("factor", factor), staircase=True)


@REGISTRY.register("exponential")
def exponential(learning_rate, steps_per_epoch, epochs, factor=0.5):
    """``η · factor^epoch``, smoothly (per step)."""
    return ks.ExponentialDecay(learning_rate, steps_per_epoch, _positive("factor", factor))


@REGISTRY.register("inverse_time")
def inverse_time(learning_rate, steps_per_epoch, epochs, decay_rate=0.1):
    """``η / (1 + decay_rate · epoch)``, per step."""
    return ks.InverseTimeDecay(learning_rate, steps_per_epoch,
                               _positive("decay_rate", decay_rate))


@REGISTRY.register("cosine")
def cosine(learning_rate, steps_per_epoch, epochs, alpha=0.0):
    """From ``η`` to ``alpha · η`` along half a cosine over all epochs."""
    return ks.CosineDecay(learning_rate, max(int(epochs), 1) * steps_per_epoch, alpha=alpha)


@REGISTRY.register("plateau")
def plateau(learning_rate, steps_per_epoch, epochs, factor=0.5, patience=3, min_lr=1e-6,
            min_delta=1e-4):
    """``η`` to start with; ``Plateau`` (driven by the epoch loop) lowers it."""
    Plateau(factor, patience, min_lr, min_delta)  # the same checks, before any training
    return learning_rate


NAMES = tuple(REGISTRY.names())


def build(name, learning_rate, steps_per_epoch, epochs, **params):
    """What an optimizer's ``learning_rate`` accepts for schedule ``name``, its steps counted
    in optimizer steps (``steps_per_epoch`` per epoch)."""
    return REGISTRY.get(name, learning_rate, max(int(steps_per_epoch), 1), epochs, **params)


class Plateau:
    """Reduce on plateau: multiply the learning rate by ``factor`` when ``val_loss`` has not
    improved by ``min_delta`` for ``patience`` epochs; never below ``min_lr``.

    Its state (``best``, ``wait``) is plain data, saved with each checkpoint.
    """

    def __init__(self, factor=0.5, patience=3, min_lr=1e-6, min_delta=1e-4):
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or \
                not 0 < factor < 1:
            raise ConfigError(f"schedule.factor must be in (0, 1) for plateau, got {factor!r}")
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
