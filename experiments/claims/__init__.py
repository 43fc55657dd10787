"""The seed's claims, each declared once in its preset and judged by the fair protocol.

A preset in ``conf/experiment/`` declares its claims under ``claims:``::

    claims:
      ce_vs_mse:
        text: Cross entropy reaches a target accuracy sooner than MSE (seed 5.4.4).
        statistic: epochs_to_target          # a function in experiments/claims/statistics.py
        args: {column: val_accuracy, target: 0.9}
        expect: less                         # A's statistic is lower than B's
        a: {label: cross entropy, overrides: [loss=cross_entropy]}
        b: {label: MSE, overrides: [loss=mse]}
        seeds: 10                            # final seeds per arm (at least 5)
        tune: {points: 5}                    # or tune: null plus fixed: "why not tuned"

so a new claim is one preset file plus, if it needs a new one, one statistic function.
``python -m experiments.claims`` runs the protocol (``protocol.py``) and
``python -m experiments.report --claims`` writes ``claims.md`` and ``claims.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from experiments.claims.protocol import MIN_PAIRS, Tuning
from experiments.spec import CONF


@dataclass(frozen=True)
class Arm:
    label: str
    overrides: tuple = ()
    # several runs per seed (e.g. model.depth over 2..10) reduced to one value per seed
    sweep: tuple = ()  # ((key, (v1, v2, ...)), ...)

    def run_overrides(self) -> list[list[str]]:
        """The override lists of the runs behind one seed's value."""
        combos = [list(self.overrides)]
        for key, values in self.sweep:
            combos = [c + [f"{key}={v}"] for c in combos for v in values]
        return combos


@dataclass(frozen=True)
class Claim:
    key: str
    text: str
    preset: str
    statistic: str
    a: Arm
    b: Arm
    expect: str = "less"
    args: dict = field(default_factory=dict, hash=False)
    seeds: int = 10
    tuning: Tuning | None = Tuning()
    fixed: str = ""  # why the rate is not tuned, when it is not
    note: str = ""
    source: str = "train"  # "train": network runs; "ravine": optimizer paths (ravine.py)
    extra: str = ""  # a section of extra evidence (experiments/claims/extras.py)
    # the statistic the rate is tuned on, when it cannot be the claim's own (e.g. an
    # oscillation count, which the smallest rate would always win): stated in the report
    tune_on: str = ""
    tune_args: dict = field(default_factory=dict, hash=False)

    @property
    def tuning_statistic(self) -> tuple[str, dict]:
        return (self.tune_on, self.tune_args) if self.tune_on else (self.statistic, self.args)

    @property
    def final_seeds(self) -> list[int]:
        return list(range(self.seeds))

    @property
    def control_seeds(self) -> list[int]:
        return list(range(self.seeds, 2 * self.seeds))


SOURCES = ("train", "ravine")


class ClaimSpecError(ValueError):
    """A preset's ``claims:`` block is malformed."""


def _arm(node, where) -> Arm:
    if not isinstance(node, dict) or "label" not in node:
        raise ClaimSpecError(f"{where}: an arm needs a label and overrides")
    sweep = tuple((k, tuple(v)) for k, v in (node.get("sweep") or {}).items())
    return Arm(str(node["label"]), tuple(str(o) for o in node.get("overrides") or ()), sweep)


def _tuning(node: dict, where) -> Tuning:
    """``tune:`` of a claim; ``variants`` maps a label to the overrides of each variant."""
    node = dict(node)
    variants = node.pop("variants", None) or {}
    if not isinstance(variants, dict):
        raise ClaimSpecError(f"{where}: tune.variants maps labels to override lists")
    try:
        return Tuning(**node, variants=tuple((str(k), tuple(v or ()))
                                             for k, v in variants.items()))
    except TypeError as err:
        raise ClaimSpecError(f"{where}: tune: {err}") from None


def _named(node, key, registry, where) -> str:
    """``node[key]``: empty, or a name the registry knows."""
    name = node.get(key) or ""
    if name and name not in registry:
        raise ClaimSpecError(f"{where}: {key} {name!r} is not one of "
                             f"{', '.join(sorted(registry))}")
    return name


def parse(preset: str, key: str, node: dict) -> Claim:
    from experiments.claims import extras, statistics

    where = f"conf/experiment/{preset}.yaml claims.{key}"
    missing = {"text", "statistic", "a", "b"} - set(node)
    if missing:
        raise ClaimSpecError(f"{where}: missing {', '.join(sorted(missing))}")
    if node["statistic"] not in statistics.REGISTRY:
        raise ClaimSpecError(f"{where}: statistic {node['statistic']!r} is not one of "
                             f"{', '.join(sorted(statistics.REGISTRY))}")
    expect = node.get("expect", "less")
    if expect not in ("less", "greater"):
        raise ClaimSpecError(f"{where}: expect must be less or greater, got {expect!r}")
    seeds = int(node.get("seeds", 10))
    if seeds < MIN_PAIRS:
        raise ClaimSpecError(f"{where}: seeds={seeds}; the protocol needs at least "
                             f"{MIN_PAIRS}")
    tune = node.get("tune", {})
    if tune is None and not node.get("fixed"):
        raise ClaimSpecError(f"{where}: tune: null needs fixed: saying why")
    rate_key = (tune or {}).get("key", "optimizer.learning_rate") if tune is not None \
        else None
    for arm in ("a", "b"):
        if rate_key and rate_key in ((node.get(arm) or {}).get("sweep") or {}):
            raise ClaimSpecError(f"{where}: arm {arm} sweeps {rate_key}, the rate the "
                                 "protocol tunes; a claim over a grid of rates needs tune: "
                                 "null and fixed: saying so")
    source = node.get("source", "train")
    if source not in SOURCES:
        raise ClaimSpecError(f"{where}: source must be one of {', '.join(SOURCES)}, got "
                             f"{source!r}")
    return Claim(key, str(node["text"]).strip(), preset, node["statistic"],
                 _arm(node["a"], where), _arm(node["b"], where), expect,
                 dict(node.get("args") or {}), seeds,
                 None if tune is None else _tuning(tune, where), str(node.get("fixed", "")),
                 str(node.get("note", "")).strip(), source,
                 _named(node, "extra", extras.REGISTRY, where),
                 _named(node, "tune_on", statistics.REGISTRY, where),
                 dict(node.get("tune_args") or {}))


def load(conf: Path = CONF) -> list[Claim]:
    """Every claim declared by the presets, in file order."""
    out = []
    for file in sorted((Path(conf) / "experiment").glob("*.yaml")):
        node = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for key, spec in (node.get("claims") or {}).items():
            out.append(parse(file.stem, key, {"source": node.get("source", "train"), **spec}))
    return out
