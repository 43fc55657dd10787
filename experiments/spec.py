"""Command-line overrides checked against the suite's own config tree before Hydra composes
them, so a misspelt group, option or key gets one line with a "did you mean" from the suite's
names (and exit status 2) instead of Hydra's multi-line error or, for ``+key=…``, a run that
silently ignores the key. Light on purpose: no Keras, no TensorFlow."""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml

CONF = Path(__file__).resolve().parents[1] / "conf"


def groups() -> dict[str, list[str]]:
    """Config group -> its options (the YAML files of ``conf/<group>/``)."""
    return {d.name: sorted(f.stem for f in d.glob("*.yaml"))
            for d in sorted(CONF.iterdir()) if d.is_dir() and d.name != "hydra"}


def top_keys() -> set[str]:
    base = yaml.safe_load((CONF / "config.yaml").read_text(encoding="utf-8"))
    # sizes: a preset's size table; input_shape, num_classes: experiments.complexity's own
    return {k for k in base if k not in ("defaults", "hydra")} | {"sizes", "hydra",
                                                                 "input_shape", "num_classes"}


def _hint(word, known) -> str:
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
                    f"top-level keys: {', '.join(sorted(top_keys() - {'hydra'}))}"
                    + _hint(head, known))
        if bare in options:
            for choice in value.split(","):
                choice = choice.strip()
                if choice not in options[bare] and choice != "null":
                    return (f"{bare}={choice} is not accepted; options: "
                            f"{', '.join(options[bare])}" + _hint(choice, options[bare]))
    return None
