"""Command-line overrides checked against the suite's own config tree before Hydra composes
them, so a misspelt group, option or key gets one line with a "did you mean" from the suite's
names (and exit status 2) instead of Hydra's multi-line error or, for ``+key=…``, a run that
silently ignores the key. Light on purpose: no Keras, no TensorFlow."""

from __future__ import annotations

import difflib
import hashlib
import os
import tempfile
from functools import cache, lru_cache
from pathlib import Path

import yaml

CONF = Path(__file__).resolve().parents[1] / "conf"


def groups() -> dict[str, list[str]]:
    """Config group -> its options (the YAML files of ``conf/<group>/``)."""
    return {d.name: sorted(f.stem for f in d.glob("*.yaml"))
            for d in sorted(CONF.iterdir()) if d.is_dir() and d.name != "hydra"}


@lru_cache(maxsize=1)
def run_keys() -> frozenset[str]:
    """The top-level keys of a run's resolved configuration: the config groups and the keys
    of ``conf/config.yaml`` (``source`` marks a preset that is not a training run)."""
    base = yaml.safe_load((CONF / "config.yaml").read_text(encoding="utf-8"))
    plain = {k for k in base if k not in ("defaults", "hydra", "scale")}
    return frozenset(plain | (set(groups()) - {"experiment"}) | {"source"})


def top_keys() -> set[str]:
    """What the command line may name: a run's keys, ``scale`` and a preset's ``sizes``,
    Hydra's own, and experiments.complexity's ``input_shape`` and ``num_classes``."""
    return set(run_keys()) - {"source"} | {"scale", "sizes", "hydra", "input_shape",
                                            "num_classes"}


@cache
def group_keys(group: str) -> frozenset[str]:
    """Every top-level key any option of a config group has (a preset may set a key of one
    option, e.g. ``schedule.step_epochs``, while another option is chosen)."""
    keys = set()
    for file in (CONF / group).glob("*.yaml"):
        keys |= set(yaml.safe_load(file.read_text(encoding="utf-8")) or {})
    return frozenset(keys)


def did_you_mean(word, known) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def unknown_key(group: str, key: str) -> str | None:
    """The line for ``<group>.<key>`` when no option of the config group has that key."""
    known = group_keys(group)
    if key in known:
        return None
    what = ("is not a trainer setting; the trainer has" if group == "trainer"
            else f"is not a setting of {group}; its options have")
    return f"{group}.{key} {what} {', '.join(sorted(known))}" + did_you_mean(key, known)


# A folder name's limit on the common file systems (ext4, XFS, APFS, NTFS): 255 bytes
NAME_BYTES = 255
# numpy's and Keras's seeding take a 32-bit unsigned int
SEED_MAX = 2**32 - 1


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


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def values_problem(cfg: dict) -> str | None:
    """The first value of a composed configuration that cannot run, found without the
    backend or the data (so a mistake is answered before TensorFlow starts): the seed, the
    run's folder (``name``, ``results_dir``) and the types of the dataset's size settings.
    Checks that need the data (a split left empty) come when it is loaded."""
    seed = cfg.get("seed")
    if not _is_int(seed) or not 0 <= seed <= SEED_MAX:
        return f"seed={seed!r} is not accepted: it must be an int from 0 to {SEED_MAX}"
    problem = name_problem(cfg.get("name"))
    if problem:
        return problem
    dataset = cfg.get("dataset") or {}
    subset = dataset.get("subset")
    if subset is not None and (not _is_int(subset) or subset <= 0):
        return (f"dataset.subset={subset!r} is not accepted: it must be a positive int (a "
                "number of examples) or null (all)")
    for key in ("val_fraction", "test_fraction"):
        value = dataset.get(key)
        if value is not None and (not _is_number(value) or not 0 < value < 1):
            return f"dataset.{key}={value!r} is not accepted: it must be a number in (0, 1)"
    return results_dir_problem(cfg.get("results_dir"))


def precheck(argv) -> str | None:
    """The first problem among ``key=value`` overrides as one line, or None."""
    options = groups()
    known = set(options) | top_keys()
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, _, value = arg.partition("=")
        bare = key.lstrip("+~")
        head = bare.split(".")[0].split("/")[0]
        if head == "hydra":
            continue
        if head not in known:
            return (f"{bare} is not a setting of the suite; groups: {', '.join(options)}; "
                    f"top-level keys: {', '.join(sorted(top_keys() - set(options) - {'hydra'}))}"
                    + did_you_mean(head, known))
        parts = bare.split(".")
        if key == bare and len(parts) > 1 and head in options and head != "experiment":
            problem = unknown_key(head, parts[1])  # without '+', Hydra's advice is to add one
            if problem:
                return problem
        if key == bare and bare in ("name", "results_dir") and "${" not in value:
            for choice in value.split(",") if bare == "name" else [value]:
                problem = (name_problem(choice.strip()) if bare == "name"
                           else results_dir_problem(choice))
                if problem:
                    return problem
        if bare in options:
            for choice in value.split(","):
                choice = choice.strip()
                if choice not in options[bare] and choice != "null":
                    return (f"{bare}={choice} is not accepted; options: "
                            f"{', '.join(options[bare])}" + did_you_mean(choice, options[bare]))
    return None


# Keys that say where or how a run is shown or executed, not what it computes or records
# (``trainer.steps_per_execution`` groups steps into calls and gives the same numbers; the
# tests hold it to that). Turning on ``trainer.diagnostics`` defines a run: a run made
# without diagnostics cannot stand in for one that needs them.
DISPLAY_KEYS = (("results_dir",), ("name",), ("trainer", "resume"), ("trainer", "verbose"),
                ("trainer", "steps_per_execution"), ("hydra",))


def defining(cfg: dict) -> dict:
    """The defining configuration of a resolved run: every key except ``DISPLAY_KEYS``,
    nested as in the config. The one definition behind the run's identity (its folder
    hash), the report's grouping of runs and the HParams a run logs."""

    def strip(node, prefix=()):
        if not isinstance(node, dict):
            return node
        return {k: strip(v, prefix + (k,)) for k, v in sorted(node.items())
                if prefix + (k,) not in DISPLAY_KEYS}

    return strip(cfg)


def flat(node: dict, prefix: str = "") -> dict:
    """Dotted keys of scalar values (``optimizer.learning_rate``), lists as text; the
    ``also`` table of a loss (the pairings it did not use) is left out."""
    out = {}
    for key, value in node.items():
        if key == "also" or str(key).startswith("_"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat(value, f"{name}."))
        else:
            out[name] = str(value) if isinstance(value, (list, tuple)) else value
    return out


def run_name(cfg: dict) -> str:
    """The readable part of a run folder's name: ``<model>_<loss>_<optimizer>_s<seed>``."""
    parts = [str((cfg.get(group) or {}).get("name", "x"))
             for group in ("model", "loss", "optimizer")]
    return "_".join([*parts, f"s{cfg.get('seed', 0)}"])


def label(overrides, cfg: dict) -> str:
    """A run's readable label from the overrides that made it (a sweep's varying values):
    ``optimizer=adam optimizer.learning_rate=0.003 seed=1``; the preset, output folder and
    display settings left out. Without overrides: ``run_name``."""
    skip = ("experiment", "name", "results_dir", "backend", "hydra", "trainer.verbose",
            "trainer.resume", "scale")
    kept = [o.lstrip("+~") for o in overrides or ()
            if o.lstrip("+~").split("=")[0] not in skip
            and not o.lstrip("+~").startswith("hydra")]
    return short_label(" ".join(kept) or run_name(cfg))


# A label names a TensorBoard folder, which may get `` #<hash>`` appended (a label two runs
# share): kept well under a folder name's ``NAME_BYTES``
LABEL_BYTES = 200


def short_label(label: str, limit: int = LABEL_BYTES) -> str:
    """``label`` as it is when it fits in ``limit`` bytes; otherwise its readable start and
    a hash of the whole, so two long labels that share their start stay distinct and the
    same label always gives the same name."""
    raw = label.encode("utf-8")
    if len(raw) <= limit:
        return label
    digest = hashlib.sha256(raw).hexdigest()[:10]
    tail = f" … {digest}"
    head = raw[:limit - len(tail.encode("utf-8"))].decode("utf-8", "ignore").rstrip()
    return head + tail
