"""Command-line overrides checked against the suite's own config tree before Hydra composes
them, so a misspelt group, option or key gets one line with a "did you mean" from the suite's
names (and exit status 2) instead of Hydra's multi-line error or, for ``+key=…``, a run that
silently ignores the key. Light on purpose: no Keras, no TensorFlow."""

from __future__ import annotations

import difflib
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
    return " ".join(kept) or run_name(cfg)
