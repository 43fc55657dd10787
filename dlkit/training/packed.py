"""Packed training: K runs of one network trained as one vectorized program (JAX backend).

A small network leaves most of a CPU (and nearly all of a GPU) idle: each step's cost is
the framework's per-step overhead, not arithmetic. Packing trains K ``EpochLoop`` s that
differ only in their seed, data split and learning rate as one program: the model's own
Keras ``train_step`` (loss, regularization, metrics and optimizer update exactly as ``fit``
computes them) is mapped over the K runs' states with ``jax.vmap`` and scanned over an
epoch's batches with ``jax.lax.scan``, so one compiled call trains every run for a whole
epoch.

What stays per run, as in a separate run: the initial weights (each loop's model was built
from its own seed), the data split and the batch order (``EpochLoop.batches``: the seed and
the epoch), the optimizer state and learning rate (a variable of the optimizer's state, so
runs at different rates pack together), dropout's random state, every file (``history.csv``,
``steps.csv``, checkpoints, ``state.json``, the caller's callbacks: the same callback objects
a separate run uses) and the outcome. Nothing is shared between the K slices of the mapped
program, so run k's numbers are run k's alone; they match a separate run up to
floating-point summation order (vectorized kernels add in another order). Two things
differ by design: ``epoch_time_s`` is the run's share of the pack's epoch (the pack's
time / K), and a diverging run does not stop mid-epoch (its epoch is recorded as diverged
like Keras's ``TerminateOnNaN`` records it, and it trains no further).

Loops pack when ``incompatibility`` returns None: backend JAX; the same architecture,
loss, metrics and optimizer (the learning rate may differ when it is a constant); the same
epochs, start epoch (after resume), batch size and data shapes; no plateau schedule or
optimizer diagnostics (they act between epochs on one run's own state).
"""

from __future__ import annotations

import json
import time

import keras
import numpy as np

from dlkit.training.callbacks import diverged

__all__ = ["PackedLoop", "incompatibility", "packs", "slower"]

EVAL_BATCH = 1024


def _without_names(node):
    if isinstance(node, dict):
        return {k: _without_names(v) for k, v in node.items() if k != "name"}
    if isinstance(node, (list, tuple)):
        return [_without_names(v) for v in node]
    return node


def _structure(model) -> str:
    """Every layer's class and configuration, names left out: equal for two builds of one
    architecture, different when an activation, width or option differs."""
    layers = [(type(layer).__name__, _without_names(layer.get_config()))
              for layer in model._flatten_layers(include_self=False, recursive=True)]
    shapes = [tuple(v.shape) for v in model.variables]
    return json.dumps([layers, shapes], sort_keys=True, default=str)


def _compiled(model) -> str:
    """Loss, metrics and optimizer as compiled; a constant learning rate left out (it is
    part of each run's optimizer state)."""
    config = model.get_compile_config() or {}
    optimizer = dict(keras.saving.serialize_keras_object(model.optimizer)["config"])
    if isinstance(optimizer.get("learning_rate"), (int, float)):
        optimizer.pop("learning_rate")
    config = {k: v for k, v in config.items() if k != "optimizer"}
    return json.dumps([_without_names(config), _without_names(optimizer)], sort_keys=True,
                      default=str)


def incompatibility(loops) -> str | None:
    """Why these loops cannot train as one pack, or None when they can."""
    if keras.backend.backend() != "jax":
        return f"packing needs the JAX backend (this process runs {keras.backend.backend()})"
    if len(loops) < 2:
        return "a pack needs at least two runs"
    first = loops[0]
    for loop in loops:
        if loop.plateau is not None or loop.diagnostics:
            return "the plateau schedule and optimizer diagnostics act on one run at a time"
    checks = (
        ("epochs", lambda l: l.epochs), ("start epoch", lambda l: l.start_epoch),
        ("batch size", lambda l: min(l.batch_size, len(l.x))),
        ("data shapes", lambda l: [(a.shape, str(a.dtype)) for a in (l.x, l.y, l.x_val,
                                                                       l.y_val)]),
        ("network", lambda l: _structure(l.model)),
        ("loss, metrics or optimizer", lambda l: _compiled(l.model)),
    )
    for what, key in checks:
        if any(key(loop) != key(first) for loop in loops[1:]):
            return f"the runs differ in {what}"
    return None


class _Programs:
    """The mapped, compiled train and test programs of one architecture, loss and optimizer
    configuration, around a template model (the first pack's first model: its Python
    configuration only; every pack passes its own state). Kept across packs so a claim's
    tuning grid, final and control packs compile once."""

    def __init__(self, model, x, y):
        import jax

        model._symbolic_build(data_batch=(x, y))  # the compiled metrics' variables
        model.reset_metrics()
        self.fresh_metrics = [np.asarray(v.value) for v in model.metrics_variables]

        def train_epoch(state, xs, ys):
            def step(state, batch):
                logs, state = model.train_step(state, batch)
                return tuple(state), logs

            state, logs = jax.lax.scan(step, tuple(state), (xs, ys))
            return state, logs

        def test_all(state, xs, ys):
            def step(state, batch):
                logs, state = model.test_step(state, batch)
                return tuple(state), logs

            state, logs = jax.lax.scan(step, tuple(state), (xs, ys))
            return state[2], jax.tree_util.tree_map(lambda v: v[-1], logs)

        self.train = jax.jit(jax.vmap(train_epoch))
        self.test = jax.jit(jax.vmap(test_all))


_CACHED = 8  # architectures whose programs stay compiled
_PROGRAMS: dict = {}


def slower(loops) -> str | None:
    """Why packing these (compatible) loops would be slower than training them one at a
    time, or None. Measured on a 2-core CPU: ``jax.vmap`` turns a convolution with K
    different kernels into one grouped convolution, which XLA's CPU backend runs far
    slower than K plain ones (the pooling CNN on 28x28 digits, 4 runs of 2 epochs: 271 s
    packed against 46.5 s one at a time under JAX). On a GPU convolutional networks pack."""
    import jax

    if jax.devices()[0].platform != "cpu":
        return None
    for layer in loops[0].model._flatten_layers(include_self=False, recursive=True):
        if "Conv" in type(layer).__name__:
            return (f"{type(layer).__name__} layers under jax.vmap become grouped "
                    "convolutions, which run slower than separate runs on a CPU")
    return None


def _stack(arrays):
    import jax.numpy as jnp

    return [jnp.stack(group) for group in zip(*arrays)]


class PackedLoop:
    """Train ``loops`` (``EpochLoop`` s that ``incompatibility`` accepts) as one program;
    ``run`` returns each loop's ``Outcome`` and leaves each loop's model holding its run's
    final state."""

    def __init__(self, loops):
        reason = incompatibility(loops)
        if reason:
            raise ValueError(f"these runs cannot be packed: {reason}")
        self.loops = list(loops)
        for loop in self.loops:
            if not loop.model.optimizer.built:
                loop.model.optimizer.build(loop.model.trainable_variables)
        key = _structure(loops[0].model) + _compiled(loops[0].model)
        if key not in _PROGRAMS:
            while len(_PROGRAMS) >= _CACHED:
                _PROGRAMS.pop(next(iter(_PROGRAMS)))
            _PROGRAMS[key] = _Programs(loops[0].model, loops[0].x[:1], loops[0].y[:1])
        self.programs = _PROGRAMS[key]

    def _metrics_state(self):
        import jax.numpy as jnp

        fresh = self.programs.fresh_metrics
        return [jnp.stack([jnp.asarray(v)] * len(self.loops)) for v in fresh]

    def _state(self):
        models = [loop.model for loop in self.loops]
        return [
            _stack([[v.value for v in m.trainable_variables] for m in models]),
            _stack([[v.value for v in m.non_trainable_variables] for m in models]),
            _stack([[v.value for v in m.optimizer.variables] for m in models]),
        ]

    def _write_back(self, state, alive) -> None:
        """Each live run's slice of the packed state into its own model and optimizer (what
        its checkpoint, learning-rate reading and final save see)."""
        arrays = [[np.asarray(v) for v in group] for group in state[:3]]
        for k, loop in enumerate(self.loops):
            if not alive[k]:
                continue
            m = loop.model
            for variables, values in zip((m.trainable_variables, m.non_trainable_variables,
                                          m.optimizer.variables), arrays):
                for variable, value in zip(variables, values):
                    variable.assign(value[k])

    @staticmethod
    def _batched(arrays, batch: int):
        """(K, n, ...) arrays as full batches (K, n // batch, batch, ...) and the
        remainder (K, 1, n % batch, ...) or None."""
        n = arrays[0].shape[1]
        full = n // batch * batch
        whole = [a[:, :full].reshape(a.shape[0], n // batch, batch, *a.shape[2:])
                 for a in arrays] if full else None
        rest = [a[:, None, full:] for a in arrays] if full < n else None
        return whole, rest

    def _evaluate_stacked(self, state, xs, ys) -> list[dict]:
        """``test_step`` over (K, n, ...) splits in batches of up to ``EVAL_BATCH``: the
        loss and metrics of each run on its own split, as ``model.evaluate`` computes
        them (weighted by batch size)."""
        n = xs.shape[1]
        batch = min(EVAL_BATCH, n)
        whole, rest = self._batched([xs, ys], batch)
        metrics = self._metrics_state()
        logs = None
        for part in (whole, rest):
            if part is not None:
                metrics, logs = self.programs.test([state[0], state[1], metrics], *part)
        values = {k: np.asarray(v) for k, v in logs.items()}
        return [{k: float(v[i]) for k, v in values.items()} for i in range(len(self.loops))]

    # ---- training -----------------------------------------------------------------------
    def run(self):
        """Train every loop from their common start epoch to ``epochs``; one ``Outcome``
        per loop, as ``EpochLoop.run`` returns it."""
        loops, K = self.loops, len(self.loops)
        first = loops[0]
        start, epochs = first.start_epoch, first.epochs
        batch = min(first.batch_size, len(first.x))
        if start < epochs:
            callbacks = [keras.callbacks.CallbackList(loop.own_callbacks(stop_on_nan=False),
                                                      model=loop.model) for loop in loops]
            for c in callbacks:
                c.on_train_begin()
            state = self._state()
            alive = [True] * K
            xs_val, ys_val = (np.stack([getattr(loop, a) for loop in loops])
                              for a in ("x_val", "y_val"))
            for epoch in range(start, epochs):
                t0 = time.perf_counter()
                for k in range(K):
                    if alive[k]:
                        callbacks[k].on_epoch_begin(epoch)
                orders = [loop._order(epoch) for loop in loops]
                xs = np.stack([loop.x[o] for loop, o in zip(loops, orders)])
                ys = np.stack([loop.y[o] for loop, o in zip(loops, orders)])
                whole, rest = self._batched([xs, ys], batch)
                metrics = self._metrics_state()
                step_losses = []
                for part in (whole, rest):
                    if part is None:
                        continue
                    (tv, ntv, ov, metrics), logs = self.programs.train([*state, metrics], *part)
                    state = [tv, ntv, ov]
                    step_losses.append(np.asarray(logs["loss"]))
                train_logs = {k: np.asarray(v[:, -1]) for k, v in logs.items()}
                val = self._evaluate_stacked(state, xs_val, ys_val)
                self._write_back(state, alive)
                share = (time.perf_counter() - t0) / sum(alive)
                running = np.concatenate(step_losses, axis=1)  # (K, steps) epoch means
                for k, loop in enumerate(loops):
                    if not alive[k]:
                        continue
                    if loop.step_losses is not None:
                        for b in range(running.shape[1]):
                            loop.step_losses.on_train_batch_end(b, {"loss": running[k, b]})
                    row = {name: float(v[k]) for name, v in train_logs.items()}
                    row.update({f"val_{name}": v for name, v in val[k].items()})
                    row["epoch_time_s"] = share
                    callbacks[k].on_epoch_end(epoch, row)
                    if diverged(row):
                        alive[k] = False
                if not any(alive):
                    break
            for c in callbacks:
                c.on_train_end()
        return [loop.outcome() for loop in loops]

    def evaluate(self, splits) -> list[dict]:
        """``splits``: for each loop, ``{name: (x, y)}`` with the same names and shapes for
        every loop. Returns each run's ``{name_metric: value}``, as ``model.evaluate``
        gives them for its own model."""
        state = self._state()
        out = [{} for _ in self.loops]
        for name in splits[0]:
            xs = np.stack([s[name][0] for s in splits])
            ys = np.stack([s[name][1] for s in splits])
            for k, values in enumerate(self._evaluate_stacked(state, xs, ys)):
                out[k].update({f"{name}_{m}": v for m, v in values.items()})
        return out


def packs(loops, limit: int | None = None) -> list[list]:
    """The loops grouped into packs (``incompatibility`` None within each, at most
    ``limit`` per pack), in order of first appearance; loops that pack with no other are
    singletons."""
    groups: list[list] = []
    for loop in loops:
        for group in groups:
            if (limit is None or len(group) < limit) and \
                    incompatibility([group[0], loop]) is None:
                group.append(loop)
                break
        else:
            groups.append([loop])
    return groups

