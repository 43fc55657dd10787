"""The one door to Keras's private API: everything packing (``experiments.pack_engine``) needs
that Keras does not publish goes through this module, and no other file of the suite
touches ``keras.src`` or a private attribute of a Keras object.

Tested range: the ``keras`` bound in ``pyproject.toml``; CI installs the newest release
within it and runs the packing and loop tests (``.ci/run``). What a Keras release outside
it may break is listed in ``REQUIRED``: ``missing()`` checks each on a tiny compiled model,
once per process, and names the first one absent. ``experiments.pack_engine.incompatibility``
then refuses to pack with that one line, so the runs train one at a time with Keras's
public ``fit``: slower, never different numbers.

Why private API at all: a pack runs each run's Keras ``train_step`` as a pure function of
its state (the way Keras's JAX trainer writes it) under TensorFlow too, which Keras
exposes only for JAX; see ``experiments/pack_engine.py``.
"""

from __future__ import annotations

from contextlib import contextmanager

import keras

# (what, where it is looked up): the class attributes and instance attributes of a compiled
# model and the optimizer base-class methods a pack uses
MODEL_ATTRIBUTES = ("_symbolic_build", "_flatten_layers", "_losses_override", "_loss_tracker")
OPTIMIZER_METHODS = ("stateless_apply", "assign", "assign_add", "assign_sub",
                     "_backend_update_step", "_apply_weight_decay")
REQUIRED = (*(f"Model.{a}" for a in MODEL_ATTRIBUTES),
            *(f"keras.src.optimizers.base_optimizer.BaseOptimizer.{m}"
              for m in OPTIMIZER_METHODS))

_CHECKED: list = []


def _probe() -> str | None:
    try:
        from keras.src.optimizers.base_optimizer import BaseOptimizer
    except ImportError:
        return "keras.src.optimizers.base_optimizer.BaseOptimizer"
    for name in OPTIMIZER_METHODS:
        if not hasattr(BaseOptimizer, name):
            return f"BaseOptimizer.{name}"
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    for name in MODEL_ATTRIBUTES:
        if not hasattr(model, name):
            return f"Model.{name}"
    return None


def missing() -> str | None:
    """The first private Keras name packing needs that this Keras lacks, or None."""
    if not _CHECKED:
        _CHECKED.append(_probe())
    return _CHECKED[0]


def refusal() -> str | None:
    """One line for the user when packing cannot use this Keras, or None."""
    name = missing()
    if name is None:
        return None
    return (f"packing needs Keras's private {name}, which Keras {keras.__version__} lacks "
            "(the suite is tested with the keras range in pyproject.toml)")


def flatten_layers(model) -> list:
    """Every layer inside ``model``, nested ones included, in Keras's own order."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def symbolic_build(model, x, y) -> None:
    """Build the compiled metrics' variables (and the model) for a batch like ``(x, y)``."""
    model._symbolic_build(data_batch=(x, y))


@contextmanager
def losses_override(model, losses):
    """While inside, ``model.losses`` (regularization) are ``losses`` of a stateless call."""
    if not losses:
        yield
        return
    model._losses_override.clear()
    model._losses_override = losses
    try:
        yield
    finally:
        model._losses_override.clear()


def track_loss(model, loss, count) -> None:
    """Add ``loss`` over ``count`` examples to the model's running ``loss`` metric."""
    model._loss_tracker.update_state(loss, sample_weight=count)


def stateless_optimizer_class(optimizer):
    """A subclass of ``type(optimizer)`` with Keras's backend-independent optimizer methods
    over the TensorFlow optimizer's overrides, so ``stateless_apply`` records its updates in
    a ``keras.StatelessScope`` instead of assigning them (Keras's TensorFlow optimizer
    refuses ``stateless_apply`` because ``tf.distribute`` needs variables; a pack runs under
    no strategy). None for an optimizer this cannot cover (loss scaling, gradient
    accumulation, moving averages)."""
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) or \
            getattr(optimizer, "gradient_accumulation_steps", None) or \
            getattr(optimizer, "use_ema", False):
        return None

    def _var_key(self, variable):  # the TensorFlow key, read without the variable's value
        if isinstance(variable, keras.Variable):
            variable = variable._value
        return variable._unique_id

    methods = {name: getattr(BaseOptimizer, name) for name in OPTIMIZER_METHODS}
    cls = type(optimizer)
    return type(f"Stateless{cls.__name__}", (cls,), {**methods, "_var_key": _var_key})


@contextmanager
def acting_as(optimizer, cls):
    """``optimizer`` is an instance of ``cls`` while inside (a step being traced)."""
    own = type(optimizer)
    optimizer.__class__ = cls
    try:
        yield optimizer
    finally:
        optimizer.__class__ = own
