"""Run identity: a stable hash of what defines a run."""

from __future__ import annotations

import hashlib
import json

# Keys that change where or how a run is shown, not what it computes or records.
# (``trainer.diagnostics`` defines a run: a run made without diagnostics cannot stand in for
# one that needs them.)
NON_DEFINING = {
    ("results_dir",), ("name",), ("trainer", "resume"), ("trainer", "verbose"), ("hydra",),
}


def _strip(node, prefix=()):
    if not isinstance(node, dict):
        return node
    return {k: _strip(v, prefix + (k,)) for k, v in sorted(node.items())
            if prefix + (k,) not in NON_DEFINING}


def run_id(config: dict, length: int = 10) -> str:
    """``<model>_<loss>_<optimizer>_s<seed>_<hash>``: the hash covers the whole resolved
    configuration (seed included) except the keys in ``NON_DEFINING``."""
    defining = _strip(config)
    digest = hashlib.sha256(json.dumps(defining, sort_keys=True, default=str).encode())
    parts = [str(config.get(group, {}).get("name", "x")) for group in ("model", "loss",
                                                                       "optimizer")]
    return "_".join([*parts, f"s{config.get('seed', 0)}", digest.hexdigest()[:length]])
