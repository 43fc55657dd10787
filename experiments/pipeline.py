"""The names files outside the run lifecycle's modules still import from here, re-exported;
the code lives in ``experiments.spec`` (what a run is: resolve, check, folder),
``experiments.build`` (data, model, optimizer, loop), ``experiments.lifecycle`` (lock,
start, finish, fail, execute) and ``experiments.runfolder`` (the run folder's files).

Who imports what, so each can switch and this file go:

- ``experiments/claims/runs.py``: ``resolve``, ``run_folder``, ``FINISHED``, ``RunFailed``,
  ``execute`` (and ``tests/test_claims_progress.py`` replaces ``execute`` here);
- ``experiments/claims/__main__.py``: ``RunSpecError``; ``experiments/claims/plan.py``:
  ``loss_pairing``, ``model_from_config``; ``experiments/claims/statistics.py``:
  ``arguments``;
- ``experiments/complexity.py``: ``loss_pairing``, ``model_from_config``;
- ``benchmarks/``: ``execute``, ``AUTO_STEPS_PER_EXECUTION``, and as timing targets
  ``build``, ``_evaluate``, ``start``, ``finish`` (a timer set on a name here does not
  reach the callers, which use ``experiments.build.compiled_model``,
  ``experiments.build.evaluate``, ``experiments.lifecycle.start`` and ``.finish``);
- ``tests/test_configs.py`` (``arguments``, ``check``, ``resolve``),
  ``tests/test_protocol.py`` (``resolve``), ``tests/test_schedules.py`` and
  ``tests/test_mnist1d.py`` (``execute``).
"""

from experiments.build import AUTO_STEPS_PER_EXECUTION, arguments, loss_pairing, model_from_config
from experiments.build import compiled_model as build
from experiments.build import evaluate as _evaluate
from experiments.lifecycle import RunFailed, execute, finish, start
from experiments.runfolder import FINISHED
from experiments.spec import RunSpecError, check, resolve, run_folder

__all__ = ["AUTO_STEPS_PER_EXECUTION", "FINISHED", "RunFailed", "RunSpecError", "_evaluate",
           "arguments", "build", "check", "execute", "finish", "loss_pairing",
           "model_from_config", "resolve", "run_folder", "start"]
