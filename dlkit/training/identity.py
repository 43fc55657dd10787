"""Run identity: a stable hash of what defines a run."""

from __future__ import annotations

import hashlib
import json


def config_hash(defining: dict, length: int = 10) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``defining`` as sorted JSON."""
    text = json.dumps(defining, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def run_id(defining: dict, name: str, length: int = 10) -> str:
    """``<name>_<hash of defining>``: ``defining`` is everything that defines the run (the
    caller decides what that is), ``name`` a readable prefix."""
    return f"{name}_{config_hash(defining, length)}"


_FINGERPRINTS: dict = {}


def file_fingerprint(path) -> str:
    """``sha256:<hex>`` of a file's content (computed once per file state in a process: the
    runs of a sweep share their dataset file)."""
    import os

    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _FINGERPRINTS:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _FINGERPRINTS[key] = f"sha256:{digest.hexdigest()}"
    return _FINGERPRINTS[key]


# what each key of an identity is, for the line that names a difference
IDENTITY_KEYS = {"run_id": "run id", "dataset_sha256": "dataset.path content"}


def _shown(value) -> str:
    text = str(value)
    return text[:19] + "…" if text.startswith("sha256:") else text


def identity_mismatch(expected: dict, found) -> str | None:
    """``None`` when ``found`` (an identity a file records) is ``expected``; otherwise what
    differs, in words (a file that records none, or another run's, or another dataset's)."""
    if not isinstance(found, dict):
        return "it records no run identity"
    for key, what in IDENTITY_KEYS.items():
        if expected.get(key) != found.get(key):
            if found.get(key) is None:
                return f"it records no {what} (this run's is {_shown(expected.get(key))})"
            return (f"its {what} is {_shown(found.get(key))}, this run's is "
                    f"{_shown(expected.get(key))}")
    return None
