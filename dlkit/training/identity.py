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
