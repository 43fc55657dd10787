"""Two-variable test functions for drawing optimizer paths, with analytic gradients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TestFunction:
    name: str
    f: Callable
    grad: Callable
    start: tuple
    minimum: tuple | None
    bounds: tuple
    lr_plain: float  # learning rate for sgd, momentum, nesterov
    lr_adaptive: float  # for adagrad, rmsprop, adam, adamax, nadam (adadelta uses 1.0)


def _ravine_f(x, y):
    return 0.5 * (x**2 + 50.0 * y**2)


def _ravine_g(x, y):
    return np.array([x, 50.0 * y])


def _rosenbrock_f(x, y):
    return (1 - x) ** 2 + 100.0 * (y - x**2) ** 2


def _rosenbrock_g(x, y):
    return np.array([-2 * (1 - x) - 400.0 * x * (y - x**2), 200.0 * (y - x**2)])


def _beale_f(x, y):
    return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2
            + (2.625 - x + x * y**3) ** 2)


def _beale_g(x, y):
    a, b, c = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
    dx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
    dy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y**2
    return np.array([dx, dy])


def _saddle_f(x, y):
    return x**2 - y**2


def _saddle_g(x, y):
    return np.array([2 * x, -2 * y])


FUNCTIONS = {
    "ravine": TestFunction("ravine", _ravine_f, _ravine_g, (-8.0, 1.0), (0.0, 0.0),
                           ((-9, 2), (-1.5, 1.5)), 0.025, 0.1),
    "rosenbrock": TestFunction("rosenbrock", _rosenbrock_f, _rosenbrock_g, (-1.5, 2.0),
                               (1.0, 1.0), ((-2, 2), (-1, 3)), 0.0005, 0.05),
    "beale": TestFunction("beale", _beale_f, _beale_g, (1.0, 1.4), (3.0, 0.5),
                          ((-0.5, 4), (-1, 2)), 0.005, 0.05),
    "saddle": TestFunction("saddle", _saddle_f, _saddle_g, (-1.0, 0.001), None,
                           ((-1.5, 1.5), (-1.5, 1.5)), 0.05, 0.05),
}
