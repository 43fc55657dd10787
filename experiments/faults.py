"""Deterministic fault points, for the tests of kill-and-resume: a process kills itself at
a named moment instead of a test polling files and sending a signal at a moment it guesses.

    DLKIT_KILL_AT=<point>:<k>[:<signal>]     e.g. pack_epoch:3, epoch:2:INT

sends the process ``signal`` (``KILL`` unless named: ``INT`` is a Ctrl-C) when ``point``
``k`` is reached:

- ``epoch``: a single run's epoch k has written its files (history, checkpoint,
  ``state.json``); the point is ``KillPoint``, a callback after the loop's own ones;
- ``pack_epoch``: a pack's epoch k has written every one of its runs' files.

Unset (every user run), a point costs one environment lookup per epoch.
"""

from __future__ import annotations

import os
import signal
import sys

KILL_AT = "DLKIT_KILL_AT"


def reached(point: str, k: int) -> None:
    """Point ``point`` number ``k`` (1-based) is reached: die here if the test asked."""
    spec = os.environ.get(KILL_AT)
    if not spec:
        return
    name, _, rest = spec.partition(":")
    at, _, sig = rest.partition(":")
    if name == point and at == str(k):
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), getattr(signal, f"SIG{sig or 'KILL'}"))


def kill_point():
    """A Keras callback for the ``epoch`` point; put it after the loop's own callbacks."""
    import keras

    class KillPoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            reached("epoch", epoch + 1)

    return KillPoint()
