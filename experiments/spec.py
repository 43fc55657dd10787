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
