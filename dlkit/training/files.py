"""Atomic file writes: write a temporary file in the same folder, fsync, then rename."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path


def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file under the current umask
    (``mkstemp`` alone makes it 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:  # from the temporary file's creation on, so an interrupt there leaves none behind
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write(path, write) -> None:
    """``write(handle)`` into a temporary file beside ``path`` (binary), fsync, rename; the
    temporary file is removed whatever happens (a full disk included)."""
    _atomic(path, write)


def atomic_write_text(path, text: str) -> None:
    _atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def _clean(value):
    """JSON has no NaN or infinity: write them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def atomic_write_json(path, data) -> None:
    atomic_write_text(path, json.dumps(_clean(data), indent=2, sort_keys=True) + "\n")


def atomic_copy(source, path) -> None:
    data = Path(source).read_bytes()
    _atomic(path, lambda handle: handle.write(data))


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
