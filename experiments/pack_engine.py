"""Packed training: K runs of one network trained as one program (JAX or TensorFlow).

A small network leaves most of a CPU (and nearly all of a GPU) idle: each step's cost is
the framework's per-step overhead, not arithmetic. Packing trains K ``EpochLoop`` s that
differ only in their seed, data split and learning rate as one program that covers a whole
epoch, each run through the model's own Keras ``train_step`` (loss, regularization, metrics
and optimizer update exactly as ``fit`` computes them):

- JAX: the step is mapped over the K runs' stacked states with ``jax.vmap`` and scanned over
  the epoch's batches with ``jax.lax.scan``; one compiled program per architecture serves
  every pack of it.
- TensorFlow: a run's step is a pure function of its state (Keras's TensorFlow
  ``train_step`` written as Keras's JAX trainer writes it: ``stateless_call``,
  ``stateless_compute_loss``, the optimizer's ``stateless_apply``), traced once per
  architecture; one ``tf.function`` per architecture, for packs of any size, loops over
  the K runs (``tf.while_loop``, ``PARALLEL_RUNS`` at once), each run's steps over its own
  batches from its own slice of the stacked states. No ``fit`` step loop, one call per
  epoch instead of K per step, one trace per architecture instead of one per run or per
  pack size. An optimizer that step does not cover (loss scaling, gradient accumulation,
  moving averages) is refused (one line; those runs train one at a time): one engine per
  backend, not a second one for the rare cases. The private Keras API both need is reached
  through ``experiments._keras_internals`` only, which refuses packing on a Keras that lacks
  it.

What stays per run, as in a separate run: the initial weights (each loop's model was built
from its own seed), the data split and the batch order (``EpochLoop._order``: the seed and
the epoch), the optimizer state and learning rate, dropout's random state, every file
(``history.csv``, ``steps.csv``, checkpoints, ``state.json``, the caller's callbacks: the
same callback objects a separate run uses) and the outcome. Nothing is shared between the
runs, so run k's numbers are run k's alone: under TensorFlow each run executes its separate
twin's operations (evaluation in batches of up to ``EVAL_BATCH`` in both); under JAX they
match a separate run up to floating-point summation order (vectorized kernels add in
another order). Two things differ by design: ``epoch_time_s`` is the run's share of the pack's
epoch (the pack's time / K), and a diverging run does not stop mid-epoch (its epoch is
recorded as diverged like Keras's ``TerminateOnNaN`` records it, its model keeps that
epoch's state, and it trains no further).

It lives beside the experiments, not in ``dlkit``: the programs are written against each
backend directly (``jax``, ``tensorflow``), and the library stays on ``keras.ops``.

Loops pack when ``incompatibility`` returns None: backend JAX or TensorFlow; the same
architecture, loss, metrics and optimizer (the learning rate may differ when it is a
constant); the same epochs, start epoch (after resume), batch size and data shapes; no
plateau schedule or optimizer diagnostics (they act between epochs on one run's own state);
a Keras with the private API ``experiments._keras_internals`` names.

Why one file over 400 lines: the JAX and the TensorFlow engines must give the same numbers
as a separate run and as each other; their shared layout code and both engines are read
together.
"""

from __future__ import annotations

import json
import os
import time

import keras
import numpy as np

from dlkit.training.callbacks import diverged
from dlkit.training.loop import EVAL_BATCH
from experiments import _keras_internals as internals
from experiments import faults

__all__ = ["PackRefused", "PackedLoop", "incompatibility", "packs", "slower"]


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
              for layer in internals.flatten_layers(model)]
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
    if keras.backend.backend() not in ("jax", "tensorflow"):
        return ("packing needs the JAX or TensorFlow backend (this process runs "
                f"{keras.backend.backend()})")
    if len(loops) < 2:
        return "a pack needs at least two runs"
    refused = internals.refusal()
    if refused:
        return refused
    first = loops[0]
    if keras.backend.backend() == "tensorflow" and \
            internals.stateless_optimizer_class(first.model.optimizer) is None:
        return ("under TensorFlow a pack cannot cover loss scaling, gradient accumulation "
                "or moving averages of the weights")
    for loop in loops:
        if loop.plateau is not None or loop.diagnostics:
            return "the plateau schedule and optimizer diagnostics act on one run at a time"
        if loop.step_losses is not None and loop.step_losses.full is not None:
            return "the full-loss trace evaluates each run between its own steps"
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


class _JaxPrograms:
    """The mapped, compiled train and test programs of one architecture, loss and optimizer
    configuration, around a template model (the first pack's first model: its Python
    configuration only; every pack passes its own state). Kept across packs so a claim's
    tuning grid, final and control packs compile once."""

    def __init__(self, model, x, y):
        import jax

        internals.symbolic_build(model, x, y)  # the compiled metrics' variables
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
PARALLEL_RUNS = os.cpu_count() or 2  # runs of a TensorFlow pack training at once
_PROGRAMS: dict = {}


class PackRefused(ValueError):
    """These runs cannot train as one pack (said in one line); they train one at a time."""


class _NotStateless(PackRefused):
    """The run's step cannot be a function of its state alone (its optimizer, or state read
    outside its arguments)."""


def _programs(key: str, build):
    """The programs cached under ``key`` (an architecture, loss and optimizer
    configuration), built by ``build()`` on first use; the oldest of ``_CACHED`` make room.
    ``build`` raising ``_NotStateless`` is remembered, so a step that cannot be stateless is
    traced once, not once per pack."""
    if key not in _PROGRAMS:
        while len(_PROGRAMS) >= _CACHED:
            _PROGRAMS.pop(next(iter(_PROGRAMS)))
        try:
            _PROGRAMS[key] = build()
        except _NotStateless as err:
            _PROGRAMS[key] = err
    if isinstance(_PROGRAMS[key], _NotStateless):
        raise _PROGRAMS[key]
    return _PROGRAMS[key]


def slower(loops) -> str | None:
    """Why packing these (compatible) loops would be slower than training them one at a
    time, or None. ``jax.vmap`` turns a convolution with K different kernels into one
    grouped convolution, which XLA's CPU backend runs far slower than K plain ones (the
    ``sweeps`` benchmark's records show by how much); on a GPU convolutional networks
    pack, and under TensorFlow each run keeps its own kernels, so they pack there too."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    if jax.devices()[0].platform != "cpu":
        return None
    for layer in internals.flatten_layers(loops[0].model):
        if "Conv" in type(layer).__name__:
            return (f"{type(layer).__name__} layers under jax.vmap become grouped "
                    "convolutions, which run slower than separate runs on a CPU")
    return None


def _stack(arrays):
    import jax.numpy as jnp

    return [jnp.stack(group) for group in zip(*arrays)]


def _batched(arrays, batch: int):
    """(K, n, ...) arrays as full batches (K, n // batch, batch, ...) and the remainder
    (K, 1, n % batch, ...) or None."""
    n = arrays[0].shape[1]
    full = n // batch * batch
    whole = [a[:, :full].reshape(a.shape[0], n // batch, batch, *a.shape[2:])
             for a in arrays] if full else None
    rest = [a[:, None, full:] for a in arrays] if full < n else None
    return whole, rest


class _JaxPack:
    """The K runs' variables stacked into one state, trained by the mapped programs; each
    live run's slice written back into its own model after every epoch."""

    def __init__(self, loops):
        self.models = [loop.model for loop in loops]
        self.programs = _programs(
            _structure(self.models[0]) + _compiled(self.models[0]),
            lambda: _JaxPrograms(self.models[0], loops[0].x[:1], loops[0].y[:1]))
        self.state = self._read()

    def _metrics(self):
        import jax.numpy as jnp

        return [jnp.stack([jnp.asarray(v)] * len(self.models))
                for v in self.programs.fresh_metrics]

    def _read(self):
        models = self.models
        return [
            _stack([[v.value for v in m.trainable_variables] for m in models]),
            _stack([[v.value for v in m.non_trainable_variables] for m in models]),
            _stack([[v.value for v in m.optimizer.variables] for m in models]),
        ]

    def train(self, parts):
        """One epoch over ``parts`` (the full batches, then the remainder); returns each
        run's logs after the last step and the (K, steps) running losses."""
        metrics, losses = self._metrics(), []
        for xs, ys in parts:
            (tv, ntv, ov, metrics), logs = self.programs.train([*self.state, metrics], xs, ys)
            self.state = [tv, ntv, ov]
            losses.append(np.asarray(logs["loss"]))
        last = {k: np.asarray(v[:, -1]) for k, v in logs.items()}
        return ([{k: float(v[i]) for k, v in last.items()} for i in range(len(self.models))],
                np.concatenate(losses, axis=1))

    def test(self, parts) -> list[dict]:
        metrics, logs = self._metrics(), None
        for xs, ys in parts:
            metrics, logs = self.programs.test([self.state[0], self.state[1], metrics], xs, ys)
        values = {k: np.asarray(v) for k, v in logs.items()}
        return [{k: float(v[i]) for k, v in values.items()} for i in range(len(self.models))]

    def arrays(self) -> list:
        """The stacked state as numpy: (trainable, non-trainable, optimizer) groups of
        (K, ...) arrays."""
        return [[np.asarray(v) for v in group] for group in self.state]

    def sync(self, alive) -> None:
        """Each live run's slice of the packed state into its own model and optimizer (what
        its checkpoint, learning-rate reading and final save see)."""
        arrays = self.arrays()
        for k, m in enumerate(self.models):
            if not alive[k]:
                continue
            for variables, values in zip((m.trainable_variables, m.non_trainable_variables,
                                          m.optimizer.variables), arrays):
                for variable, value in zip(variables, values):
                    variable.assign(value[k])

    def keep(self, k) -> None:
        """Run ``k`` diverged this epoch; ``sync`` no longer writes it back."""

    def restore(self) -> None:
        """Nothing to restore: a diverged run's model holds the epoch it diverged in."""


def _tf_state(model):
    return ([v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in model.optimizer.variables])


class _TensorFlowPrograms:
    """One run's train and test steps under TensorFlow as pure functions of the run's state
    (trainable, non-trainable, optimizer and metric variables as tensors), traced once for
    an architecture, loss and optimizer configuration around a template model and shared
    by every run and every pack of it; programs over K runs' epochs built on them, one per
    K. The step is Keras's TensorFlow ``train_step`` written the way Keras's JAX trainer
    writes it (``stateless_call``, ``stateless_compute_loss``, the optimizer's
    ``stateless_apply``): the same operations on the same values, so a run's numbers are
    its separate twin's bit for bit (tested)."""

    def __init__(self, model, x, y):
        import tensorflow as tf

        stateless = internals.stateless_optimizer_class(model.optimizer)
        if stateless is None:
            raise _NotStateless("the optimizer's update cannot be written stateless")
        internals.symbolic_build(model, x, y)  # the compiled metrics' variables
        model.reset_metrics()
        self.fresh_metrics = [tf.constant(v.numpy()) for v in model.metrics_variables]
        self.jit = bool(getattr(model, "jit_compile", False))
        optimizer = model.optimizer
        spec = [[tf.TensorSpec(v.shape, v.dtype) for v in group] for group in
                (*_tf_state(model), [m.value for m in model.metrics_variables])]
        data = [tf.TensorSpec([None, *a.shape[1:]], tf.as_dtype(a.dtype)) for a in (x, y)]

        def forward(tv, ntv, mv, x, y, training):
            y_pred, ntv, losses = model.stateless_call(tv, ntv, x, return_losses=True,
                                                       training=training)
            # regularization losses of this forward pass, for compute_loss
            with internals.losses_override(model, losses):
                loss, (_, ntv, mv) = model.stateless_compute_loss(
                    tv, ntv, mv, x=x, y=y, y_pred=y_pred, training=training)
            return y_pred, loss, ntv, mv

        def metrics(mv, loss, x, y, y_pred):
            with keras.StatelessScope(state_mapping=list(zip(model.metrics_variables, mv))
                                      ) as scope:
                internals.track_loss(model, loss, tf.shape(x)[0])
                logs = model.compute_metrics(x, y, y_pred, sample_weight=None)
            now = [scope.get_current_value(v) for v in model.metrics_variables]
            return [v if n is None else n for v, n in zip(mv, now)], logs

        def train_step(tv, ntv, ov, mv, x, y):
            with tf.GradientTape() as tape:
                tape.watch(tv)
                y_pred, loss, ntv, mv = forward(tv, ntv, mv, x, y, training=True)
                with keras.StatelessScope(state_mapping=list(zip(optimizer.variables, ov))):
                    scaled = optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, tv)
            with internals.acting_as(optimizer, stateless):  # only while traced
                tv, ov = optimizer.stateless_apply(ov, grads, tv)
            mv, logs = metrics(mv, loss, x, y, y_pred)
            return tv, ntv, ov, mv, tf.cast(logs["loss"], tf.float32)

        def test_step(tv, ntv, mv, x, y):
            y_pred, loss, _, mv = forward(tv, ntv, mv, x, y, training=False)
            mv, logs = metrics(mv, loss, x, y, y_pred)
            return tv, ntv, mv, tf.cast(logs["loss"], tf.float32)

        def results(mv):
            with keras.StatelessScope(state_mapping=list(zip(model.metrics_variables, mv))):
                return model.get_metrics_result()

        def traced(fn, signature):
            function = tf.function(fn, input_signature=signature, autograph=False,
                                   experimental_attributes={"_noinline": True})
            if function.get_concrete_function().captured_inputs:  # reads unmapped state
                raise _NotStateless(f"its {fn.__name__} reads state outside the run's own "
                                    "variables")
            return function

        self.train_step = traced(train_step, [*spec, *data])
        self.test_step = traced(test_step, [spec[0], spec[1], spec[3], *data])
        self.results = traced(results, [spec[3]])
        names = self.results.get_concrete_function().structured_outputs
        self.train_epoch = self._over_runs(self.train_step, spec, data, names)
        self.test_all = self._over_runs(self.test_step, [spec[0], spec[1], spec[3]], data,
                                        names)

    def _over_runs(self, function, groups, data, names):
        """The program over K runs' epochs, for any K: a ``tf.while_loop`` over the runs
        (up to ``PARALLEL_RUNS`` at once); run k's state (its metric variables last) sliced
        from the stacked states, its steps over its own batches in an inner
        ``tf.while_loop``, its end state, metric results and per-step losses stacked. One
        call of the step in the program, whatever K: tracing and graph optimization cost
        the same for a pack of 2 and of 64."""
        import tensorflow as tf

        step, results = function.get_concrete_function(), self.results.get_concrete_function()

        def run(states, xs, ys):
            runs, steps = tf.shape(xs)[0], tf.shape(xs)[1]
            flat = [t for group in states for t in group]
            sizes = [len(group) for group in states]

            def grouped(tensors):
                out, at = [], 0
                for size in sizes:
                    out.append(list(tensors[at:at + size]))
                    at += size
                return out

            def one_run(k, ends, outs, losses):
                def one_step(i, state, run_losses):
                    out = step(*state, xs[k, i], ys[k, i])
                    return (i + 1, [list(group) for group in out[:-1]],
                            run_losses.write(i, out[-1]))

                _, state, run_losses = tf.while_loop(
                    lambda i, *_: i < steps, one_step,
                    (0, grouped([t[k] for t in flat]), tf.TensorArray(tf.float32, size=steps)))
                values = results(state[-1])
                return (k + 1, [a.write(k, t) for a, t in
                                zip(ends, [t for group in state for t in group])],
                        {n: outs[n].write(k, values[n]) for n in outs},
                        losses.write(k, run_losses.stack()))

            ends = [tf.TensorArray(t.dtype, size=runs, element_shape=t.shape[1:])
                    for t in flat]
            outs = {n: tf.TensorArray(v.dtype, size=runs, element_shape=v.shape)
                    for n, v in names.items()}
            losses = tf.TensorArray(tf.float32, size=runs, element_shape=[None])
            _, ends, outs, losses = tf.while_loop(
                lambda k, *_: k < runs, one_run, (0, ends, outs, losses),
                parallel_iterations=PARALLEL_RUNS)
            return (grouped([a.stack() for a in ends]), {n: a.stack() for n, a in outs.items()},
                    losses.stack())

        stacked = [[tf.TensorSpec([None, *s.shape], s.dtype) for s in group]
                   for group in groups]
        batches = [tf.TensorSpec([None, None, *s.shape], s.dtype) for s in data]
        return tf.function(run, autograph=False, jit_compile=self.jit,
                           input_signature=[stacked, *batches])


class _TensorFlowStatelessPack:
    """The K runs' states stacked into (K, ...) tensors and trained by
    ``_TensorFlowPrograms`` (traced once per architecture, whatever the pack's size); each
    live run's state written back into its own model after every epoch, as the JAX pack
    does."""

    def __init__(self, loops):
        import tensorflow as tf

        self.models = [loop.model for loop in loops]
        self.programs = _programs(
            "tf" + _structure(self.models[0]) + _compiled(self.models[0]),
            lambda: _TensorFlowPrograms(self.models[0], loops[0].x[:1], loops[0].y[:1]))
        per_model = [_tf_state(m) for m in self.models]
        self.state = [[tf.stack(values) for values in zip(*(s[g] for s in per_model))]
                      for g in range(3)]
        self._assign: dict = {}

    def _fresh(self) -> list:
        import tensorflow as tf

        return [tf.stack([v] * len(self.models)) for v in self.programs.fresh_metrics]

    def _run(self, program, states, parts):
        losses = []
        for xs, ys in parts:
            states, logs, loss = program(states, xs, ys)
            losses.append(loss.numpy())
        values = {k: v.numpy() for k, v in logs.items()}
        rows = [{k: float(v[i]) for k, v in values.items()} for i in range(len(self.models))]
        return states, rows, np.concatenate(losses, axis=1)

    def train(self, parts):
        states, rows, losses = self._run(self.programs.train_epoch,
                                         [*self.state, self._fresh()], parts)
        self.state = states[:3]
        return rows, losses

    def test(self, parts) -> list[dict]:
        states = [self.state[0], self.state[1], self._fresh()]
        return self._run(self.programs.test_all, states, parts)[1]

    def sync(self, alive) -> None:
        """Each live run's state into its own model and optimizer (what its checkpoint,
        learning-rate reading and final save see), in one call: a function of the stacked
        states that assigns the live runs' slices, traced once per pack (and again when a
        run diverges)."""
        import tensorflow as tf

        live = tuple(k for k in range(len(self.models)) if alive[k])
        if live not in self._assign:
            targets = [(k, [(*m.trainable_variables,), (*m.non_trainable_variables,),
                            (*m.optimizer.variables,)]) for k, m in
                       ((k, self.models[k]) for k in live)]

            def assign(states):
                runs = [[tf.unstack(t) for t in group] for group in states]
                for k, groups in targets:
                    for variables, values in zip(groups, runs):
                        for variable, value in zip(variables, values):
                            variable.value.assign(value[k])

            self._assign[live] = tf.function(assign, autograph=False)
        self._assign[live](self.state)

    def arrays(self) -> list:
        """The stacked state as numpy: (trainable, non-trainable, optimizer) groups of
        (K, ...) arrays."""
        return [[t.numpy() for t in group] for group in self.state]

    def keep(self, k) -> None:
        """Run ``k`` diverged this epoch; ``sync`` no longer writes it back."""

    def restore(self) -> None:
        """Nothing to restore: a diverged run's model holds the epoch it diverged in."""


class PackedLoop:
    """Train ``loops`` (``EpochLoop`` s that ``incompatibility`` accepts) as one program;
    ``run`` returns each loop's ``Outcome`` and leaves each loop's model holding its run's
    final state. ``PackRefused`` (one line, why) when the runs cannot pack after all: a
    step that reads state outside its own run's variables shows only when traced."""

    def __init__(self, loops):
        reason = incompatibility(loops)
        if reason:
            raise PackRefused(f"these runs cannot be packed: {reason}")
        self.loops = list(loops)
        for loop in self.loops:
            if not loop.model.optimizer.built:
                loop.model.optimizer.build(loop.model.trainable_variables)
        if keras.backend.backend() == "jax":
            self.pack = _JaxPack(self.loops)
        else:
            self.pack = _TensorFlowStatelessPack(self.loops)
        self._where = [_positions(loop.model) for loop in self.loops]

    def _snapshot(self, k, arrays):
        """Run ``k``'s (model variables, optimizer variables) from the packs' stacked arrays,
        for its checkpoint (one read of the pack's state per epoch instead of one per run
        and variable); None when the pack holds no stacked state."""
        if arrays is None or self._where[k] is None:
            return None
        return ([arrays[g][i][k] for g, i in self._where[k]], [a[k] for a in arrays[2]])

    def _evaluate_stacked(self, xs, ys) -> list[dict]:
        """``test_step`` over (K, n, ...) splits in batches of up to ``EVAL_BATCH``: the
        loss and metrics of each run on its own split, as ``model.evaluate`` computes
        them (weighted by batch size)."""
        whole, rest = _batched([xs, ys], min(EVAL_BATCH, xs.shape[1]))
        return self.pack.test([p for p in (whole, rest) if p is not None])

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
                whole, rest = _batched([xs, ys], batch)
                train_logs, running = self.pack.train([p for p in (whole, rest)
                                                       if p is not None])
                val = self._evaluate_stacked(xs_val, ys_val)
                self.pack.sync(alive)
                arrays = self.pack.arrays()
                share = (time.perf_counter() - t0) / sum(alive)
                for k, loop in enumerate(loops):
                    if not alive[k]:
                        continue
                    if loop.step_losses is not None:
                        for b in range(running.shape[1]):
                            loop.step_losses.on_train_batch_end(b, {"loss": running[k, b]})
                    row = dict(train_logs[k])
                    row.update({f"val_{name}": v for name, v in val[k].items()})
                    row["epoch_time_s"] = share
                    loop.snapshot = self._snapshot(k, arrays)
                    try:
                        callbacks[k].on_epoch_end(epoch, row)
                    finally:
                        loop.snapshot = None
                    if diverged(row):
                        alive[k] = False
                        self.pack.keep(k)
                faults.reached("pack_epoch", epoch + 1)
                if not any(alive):
                    break
            self.pack.restore()
            for c in callbacks:
                c.on_train_end()
        return [loop.outcome() for loop in loops]

    def evaluate(self, splits) -> list[dict]:
        """``splits``: for each loop, ``{name: (x, y)}`` with the same names and shapes for
        every loop. Returns each run's ``{name_metric: value}``, as ``model.evaluate``
        gives them for its own model."""
        out = [{} for _ in self.loops]
        for name in splits[0]:
            xs = np.stack([s[name][0] for s in splits])
            ys = np.stack([s[name][1] for s in splits])
            for k, values in enumerate(self._evaluate_stacked(xs, ys)):
                out[k].update({f"{name}_{m}": v for m, v in values.items()})
        return out


def _positions(model) -> list | None:
    """Where each of ``model.variables`` sits in a pack's state: (0, i) for the i-th
    trainable variable, (1, i) for the i-th non-trainable one; None if one is in neither."""
    index = {id(v): (0, i) for i, v in enumerate(model.trainable_variables)}
    index.update({id(v): (1, i) for i, v in enumerate(model.non_trainable_variables)})
    where = [index.get(id(v)) for v in model.variables]
    return None if None in where else where


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

