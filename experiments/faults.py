"""Deterministic fault points, the one home of the suite's fault injection (for the tests of
kill-and-resume and of the failure path): a process kills itself, or raises, at a named
moment instead of a test polling files and sending a signal at a moment it guesses.

    DLKIT_KILL_AT=<point>:<k>[:<how>]     e.g. pack_epoch:3, epoch:2:INT, epoch:1:raise

when ``point`` ``k`` is reached, ``how`` happens: a signal sent to the process itself
(``KILL`` unless another is named; ``INT`` is a Ctrl-C) or, with ``raise``, a
``RuntimeError`` there (a failing run). The points:

- ``epoch``: a run's epoch k has written its files (history, checkpoint, ``state.json``)
  and every other callback of the epoch has run; the point is ``KillPoint``, the run's last
  callback (``callbacks()``);
- ``pack_epoch``: a pack's epoch k has written every one of its runs' files.

Unset (every user run), no callback is added and a pack's point costs one environment
lookup per epoch.
"""

from __future__ import annotations

import os
import signal
import sys

KILL_AT = "DLKIT_KILL_AT"
POINTS = ("epoch", "pack_epoch")
ACCEPTED = (f"{KILL_AT}=<point>:<k>[:<how>] with a point of {', '.join(POINTS)}, k a positive "
            "int, how a signal name (KILL, INT, TERM, ...) or raise")


def _parse(text: str) -> tuple[str, int, str]:
    """``(point, k, how)`` of a ``DLKIT_KILL_AT`` value; a value that names no point, no
    epoch or no known signal is a ``ValueError`` saying what is accepted (a misspelt fault
    must not let a test pass without it)."""
    name, _, rest = text.partition(":")
    at, _, how = rest.partition(":")
    how = how or "KILL"
    if name not in POINTS or not at.isdigit() or int(at) < 1 or \
            (how != "raise" and not isinstance(getattr(signal, f"SIG{how}", None),
                                                signal.Signals)):
        raise ValueError(f"{KILL_AT}={text!r} is not accepted: {ACCEPTED}")
    return name, int(at), how


def wanted(point: str) -> bool:
    """Whether ``DLKIT_KILL_AT`` names ``point`` (checked when read)."""
    text = os.environ.get(KILL_AT)
    return bool(text) and _parse(text)[0] == point


def reached(point: str, k: int) -> None:
    """Point ``point`` number ``k`` (1-based) is reached: die or raise here if asked."""
    text = os.environ.get(KILL_AT)
    if not text:
        return
    name, at, how = _parse(text)
    if name != point or at != k:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    if how == "raise":
        raise RuntimeError(f"fault injected by {KILL_AT}={text}")
    if how == "INT" and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # a process started in the background of a non-interactive shell ignores SIGINT;
        # the point stands for a terminal's Ctrl-C, which arrives with Python's handler
        signal.signal(signal.SIGINT, signal.default_int_handler)
    os.kill(os.getpid(), getattr(signal, f"SIG{how}"))


def callbacks() -> list:
    """``[KillPoint]`` when ``DLKIT_KILL_AT`` names the ``epoch`` point, else none: put it
    after every other callback of the run."""
    if not wanted("epoch"):
        return []
    import keras

    class KillPoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            reached("epoch", epoch + 1)

    return [KillPoint()]
