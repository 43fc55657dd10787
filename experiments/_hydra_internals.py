"""The one door to Hydra's private API: no other file of the suite imports
``hydra._internal``.

Tested range: the ``hydra-core`` bound in ``pyproject.toml`` (1.3.x; CI installs the newest
release within it). Two names are used:

- ``BasicSweeper``: the packed sweeper (``hydra/sweeper=packed``) is Hydra's basic sweeper
  plus one step before each batch; Hydra publishes no base class with its sweep parsing.
- ``apply_value_overrides``: the step Hydra runs after composing, applying value overrides
  (``seed=3``) to a composed configuration; the claims runner uses it to compose a preset
  once per shape instead of once per run. When a Hydra release lacks it, ``None``: the
  caller composes each run in full (slower, the same configuration).
"""

from __future__ import annotations

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

__all__ = ["BasicSweeper", "apply_value_overrides"]


def _value_override_applier():
    try:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
    except ImportError:
        return None
    return getattr(ConfigLoaderImpl, "_apply_overrides_to_config", None)


_APPLY = _value_override_applier()


def apply_value_overrides(overrides, cfg) -> bool:
    """Apply parsed value ``overrides`` to the composed ``cfg`` in place, as Hydra does after
    composing; False (nothing applied) when this Hydra lacks the step."""
    if _APPLY is None:
        return False
    _APPLY(overrides, cfg)
    return True
