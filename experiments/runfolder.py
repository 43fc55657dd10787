"""A run folder, ``<results_dir>/<name>/<run id>``: the one reader and writer of the files
the suite keeps there (``result.json``, ``config.yaml``, ``traceback.txt``, ``model.keras``;
reading ``state.json`` and ``history.csv``) and the identity that ties them to their run.
Skip and resume read the folder through it, and so do the report (``run_folders``,
``read_result``, ``read_history``), the claims' runs and TensorBoard's experiment summary.

The epoch loop (``dlkit.training.loop``) writes ``history.csv``, ``steps.csv``,
``checkpoints/`` and ``state.json`` and verifies their identity when it resumes: the library
never imports ``experiments/``, so those writes stay there. Light to import (no Keras)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from dlkit.training.files import atomic_write_json, atomic_write_text, read_json
from dlkit.training.identity import file_fingerprint, identity_mismatch

RESULT, STATE, HISTORY, CONFIG, TRACEBACK, MODEL = (
    "result.json", "state.json", "history.csv", "config.yaml", "traceback.txt", "model.keras")
LOCK = ".lock"
FINISHED = ("completed", "diverged")  # outcomes a re-run would only repeat


# A folder name's limit on the common file systems (ext4, XFS, APFS, NTFS): 255 bytes
NAME_BYTES = 255


def name_problem(name) -> str | None:
    """``name`` is one folder inside ``results_dir``."""
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or \
            "/" in name or "\\" in name or "\0" in name:
        return (f"name={name!r} is not accepted: it must be a plain folder name inside "
                "results_dir (no '/', not empty, not '.' or '..')")
    if len(name.encode("utf-8")) > NAME_BYTES:
        return (f"name={name[:40]!r}... ({len(name.encode('utf-8'))} bytes) is not accepted: "
                f"a folder name has at most {NAME_BYTES} bytes")
    return None


def results_dir_problem(path) -> str | None:
    """``results_dir`` can hold run folders: it is a folder or can be made one, and this
    process can write there (tried with a temporary folder, removed at once, in the nearest
    folder that exists, so nothing is left behind)."""
    if not isinstance(path, str) or not path.strip():
        return f"results_dir={path!r} is not accepted: give a folder path"
    folder = Path(path).expanduser().absolute()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return (f"results_dir={path!r} is not accepted: {existing} is a file, not a folder")
    try:
        if not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
        os.rmdir(tempfile.mkdtemp(prefix=".dlkit-probe-", dir=existing))
    except OSError as err:
        where = "it" if existing == folder else f"{existing}, where it would be made,"
        return (f"results_dir={path!r} is not accepted: {where} cannot be written "
                f"({err.strerror or err}); give a folder you can write")
    return None


def make(run_dir: Path) -> list[Path]:
    """Make the run folder; return the folders made here (deepest last). A folder that
    cannot be made is bad input (one line), not a traceback."""
    from experiments.spec import RunSpecError

    made, folder = [], run_dir
    while not folder.exists() and folder != folder.parent:
        made.insert(0, folder)
        folder = folder.parent
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunSpecError(f"results_dir: the run folder {run_dir} cannot be made "
                           f"({err.strerror or err}); give a results_dir you can write") from None
    return made


def remove_made(made: list[Path]) -> None:
    """Undo ``make`` for a refused run: its folders go if they hold nothing but the lock
    file (a folder another process has put files in stays)."""
    for folder in reversed(made):
        (folder / LOCK).unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            return


def identity(cfg: dict, run_dir: Path) -> dict:
    """What ties a run's files to it: its run id (the folder name, a hash of its defining
    configuration) and, for a dataset read from ``dataset.path``, a fingerprint of that
    file's content (the path alone does not say the file is unchanged)."""
    found = {"run_id": run_dir.name}
    path = (cfg.get("dataset") or {}).get("path")
    if path:
        try:
            found["dataset_sha256"] = file_fingerprint(path)
        except OSError:
            pass  # a missing or unreadable file: the dataset loader names it
    return found


def previous(run_dir: Path, expected: dict) -> dict | None:
    """The run's earlier ``result.json`` (None when it has none), for skip; a damaged one,
    or one that is not this run's (a copy from another run folder, or a result made from
    another dataset file), is bad input (one line)."""
    from experiments.spec import RunSpecError

    path = run_dir / RESULT
    if not path.exists():
        return None
    try:
        result = read_json(path)
        if not isinstance(result, dict) or "status" not in result:
            raise ValueError("no status")
    except (OSError, ValueError) as err:
        raise RunSpecError(f"{path} is damaged ({type(err).__name__}); delete it or "
                           "pass trainer.resume=false to train the run again") from None
    # a result written before identities were recorded carries its run id only
    found = result.get("identity") or {"run_id": result.get("run_id")}
    differs = identity_mismatch(expected, found)
    if differs:
        raise RunSpecError(f"{path} is not this run's: {differs}; delete it or pass "
                           "trainer.resume=false to train the run again")
    return result


def saved_epoch(run_dir: Path) -> int:
    """The epoch of the run folder's last checkpoint (0 when it has none)."""
    try:
        return int(read_json(run_dir / STATE)["epoch"])
    except (OSError, ValueError, TypeError, KeyError):
        return 0


def clear(run_dir: Path) -> None:
    """Everything in the folder but its lock (``trainer.resume=false``: train again)."""
    for child in run_dir.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        elif child.name != LOCK:
            child.unlink()


def remove_temporaries(run_dir: Path) -> None:
    """Temporary files of writes cut short (a kill, Ctrl-C); the caller holds the lock."""
    for stale in (*run_dir.glob(".*.tmp"), *run_dir.glob("checkpoints/.*.tmp"),
                  *run_dir.glob(".model.*.tmp.keras")):
        stale.unlink(missing_ok=True)


def begin(run_dir: Path, cfg: dict) -> None:
    """A started attempt: no result or traceback of an earlier one, the run's
    ``config.yaml``."""
    import yaml

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RESULT).unlink(missing_ok=True)
    (run_dir / TRACEBACK).unlink(missing_ok=True)
    atomic_write_text(run_dir / CONFIG, yaml.safe_dump(cfg, sort_keys=False))


def save_model(run_dir: Path, model) -> None:
    """The trained model, once, as ``model.keras`` (``keras.saving.load_model`` reads it)."""
    tmp = run_dir / f".model.{os.getpid()}.tmp.keras"
    try:
        model.save(tmp)
        os.replace(tmp, run_dir / MODEL)
    finally:
        tmp.unlink(missing_ok=True)


def write_result(run_dir: Path, result: dict) -> None:
    atomic_write_json(run_dir / RESULT, result)


def write_failure(run_dir: Path, result: dict, traceback_text: str) -> None:
    """A failed attempt: ``traceback.txt``, then its ``failed`` result."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / TRACEBACK, traceback_text)
    write_result(run_dir, result)


# ---- reading folders (the report, the claims) ------------------------------------------

def run_folders(root) -> list[Path]:
    """Every run folder under ``root``: a folder holding a ``result.json``, a ``config.yaml``
    or a ``state.json`` (finished, failed, interrupted or damaged alike)."""
    return sorted({p.parent for name in (RESULT, CONFIG, STATE) for p in Path(root).rglob(name)})


# the keys a reader of result.json relies on, with their types (each may be absent or null)
RESULT_TYPES = {"config": (dict,), "metrics": (dict,), "run_id": (str,), "status": (str,),
                "seed": (int,), "epochs_completed": (int,), "wall_time_s": (int, float),
                "packed": (int,)}


def number(value, bad=float("nan")):
    """A metric as a number: JSON's numbers, and ``nan``/``inf``/``-inf`` written as text
    (``dlkit.training.files`` writes them so); ``bad`` for anything else."""
    if isinstance(value, bool):
        return bad
    if isinstance(value, (int, float)) or value is None:
        return value
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "-inf",
                                                            "infinity", "-infinity"):
        return float(value)
    return bad


def result_problem(result) -> str | None:
    """Why a parsed ``result.json`` cannot be read as a run's result (None when it can):
    an object whose keys in ``RESULT_TYPES`` have their types and whose metrics are
    numbers (``nan``/``inf`` may be written as text)."""
    if not isinstance(result, dict):
        return f"result.json holds a {type(result).__name__}, not an object"
    for key, types in RESULT_TYPES.items():
        value = result.get(key)
        if value is not None and (not isinstance(value, types) or
                                  (isinstance(value, bool) and bool not in types)):
            kind = " or ".join({dict: "a mapping", int: "an int"}.get(t, f"a {t.__name__}")
                               for t in types)
            return f"{key} is a {type(value).__name__}, not {kind}"
    for key, value in (result.get("metrics") or {}).items():
        if number(value, None) is None and value is not None:
            return f"metrics.{key} is {value!r}, not a number"
    return None


def read_result(run_dir) -> tuple[dict | None, str | None]:
    """``(result, None)`` for a readable ``result.json``; ``(None, why)`` for a damaged one
    or one of the wrong shape (``result_problem``); ``(None, None)`` when there is none."""
    path = Path(run_dir) / RESULT
    if not path.exists():
        return None, None
    try:
        result = read_json(path)
    except (OSError, ValueError) as err:
        return None, f"result.json is not valid JSON ({type(err).__name__})"
    problem = result_problem(result)
    return (None, problem) if problem else (result, None)


def read_history(run_dir, name: str = HISTORY):
    """A run's ``history.csv`` (or ``steps.csv``) as a DataFrame: empty (an ``epoch``
    column only) when missing, and when malformed also with a warning on stderr."""
    import pandas as pd

    path = Path(run_dir) / name
    if not path.exists():
        return pd.DataFrame({"epoch": []})
    try:
        frame = pd.read_csv(path)
        pd.to_numeric(frame["epoch"])
        return frame
    except (ValueError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        print(f"warning: {path} is malformed ({type(err).__name__}); its curves are left "
              "out", file=sys.stderr)
        return pd.DataFrame({"epoch": []})
