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
        test: t                              # t, wilcoxon, log_t or rmst_permutation
        test_reason: the statistic is a difference of accuracies, not censored
        margin: 0.5                          # or margin_relative: 0.1 (of arm B's mean)
        margin_reason: half an epoch is below the resolution anyone acts on
        check: false                         # true: a definitional check, outside the family,
                                             # with check_reason: why it cannot fail
        mechanism:                           # a configuration without the mechanism
          why: with MSE on both arms the loss's effect is absent
          a: [loss=mse]                      # appended to arm A's overrides
          b: []                              # appended to arm B's overrides

Each of ``test``, a margin and ``mechanism`` is declared with its one-line reason before
the data is seen (``protocol.py`` says what each does);

so a new claim is one preset file plus, if it needs a new one, one statistic function.
``python -m experiments.claims`` runs the protocol (``protocol.py``) and
``python -m experiments.report --claims`` writes ``claims.md`` and ``claims.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from experiments.claims.protocol import (
    MIN_PAIRS,
    REPLICATION_OFFSET,
    REPLICATION_TUNING_SEEDS,
    TESTS,
    TUNING_SEEDS,
    Tuning,
    default_test,
)
from experiments.spec import CONF


@dataclass(frozen=True)
class Arm:
    label: str
    overrides: tuple = ()
    # several runs per seed (e.g. model.depth over 2..10) reduced to one value per seed
    sweep: tuple = ()  # ((key, (v1, v2, ...)), ...)
    after: tuple = ()  # overrides after the tuned rate's (a mechanism control's)

    def run_overrides(self) -> list[list[str]]:
        """The override lists of the runs behind one seed's value."""
        combos = [list(self.overrides)]
        for key, values in self.sweep:
            combos = [c + [f"{key}={v}"] for c in combos for v in values]
        return combos


@dataclass(frozen=True)
class Mechanism:
    """The mechanism control: overrides appended to each arm that remove the mechanism."""

    why: str
    a: tuple = ()
    b: tuple = ()
    # statistic arguments that differ without the mechanism (e.g. a matched loss level that
    # frozen weights never reach: the whole trajectory instead)
    args: dict = field(default_factory=dict, hash=False)


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
    test: str = ""  # the declared test (protocol.TESTS); "" = the statistic's default
    test_reason: str = ""
    margin: float | None = None  # smallest effect of interest, in the statistic's unit
    margin_relative: float | None = None  # ... or as a fraction of |arm B's mean|
    margin_reason: str = ""
    check: bool = False  # a definitional check: reported apart, outside the Holm family
    check_reason: str = ""
    mechanism: Mechanism | None = None
    tuning_seeds: tuple = TUNING_SEEDS
    seed_offset: int = 0  # the final and control seeds start here (replication: 1000)
    problem: str = ""  # the problem it is judged on (``problems.py``), as the report names it

    @property
    def test_name(self) -> str:
        """The declared test, or the default for the statistic (censored or not)."""
        from experiments.claims import statistics

        return self.test or default_test(statistics.REGISTRY[self.statistic].censored)

    @property
    def replicated(self) -> bool:
        return self.seed_offset != 0

    def replication(self) -> Claim:
        """The same claim on disjoint fresh seeds (``--replicate``)."""
        return replace(self, tuning_seeds=REPLICATION_TUNING_SEEDS,
                       seed_offset=REPLICATION_OFFSET)

    @property
    def tuning_statistic(self) -> tuple[str, dict]:
        return (self.tune_on, self.tune_args) if self.tune_on else (self.statistic, self.args)

    @property
    def final_seeds(self) -> list[int]:
        return list(range(self.seed_offset, self.seed_offset + self.seeds))

    @property
    def control_seeds(self) -> list[int]:
        """The A/A control's seeds; the mechanism control runs on them too."""
        return list(range(self.seed_offset + self.seeds, self.seed_offset + 2 * self.seeds))


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
                 dict(node.get("tune_args") or {}), **_declared(node, where))


def _line(node, key, where) -> str:
    """A required one-line reason: a non-empty string without a line break."""
    value = node.get(key)
    if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
        raise ClaimSpecError(f"{where}: {key} must be one line of text saying why, got "
                             f"{value!r}")
    return value.strip()


def _overrides(node, key, where) -> tuple:
    value = node.get(key) or []
    if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
        raise ClaimSpecError(f"{where}: {key} must be a list of overrides (key=value), got "
                             f"{value!r}")
    return tuple(value)


def _declared(node: dict, where: str) -> dict:
    """The claim's declared test, margin, check flag and mechanism control, each with its
    reason (``protocol.py``)."""
    out = {}
    if node.get("test") is not None:
        if node["test"] not in TESTS:
            raise ClaimSpecError(f"{where}: test must be one of {', '.join(TESTS)}, got "
                                 f"{node['test']!r}")
        out["test"] = node["test"]
        out["test_reason"] = _line(node, "test_reason", where)
    elif "test_reason" in node:
        raise ClaimSpecError(f"{where}: test_reason without test")
    given = [k for k in ("margin", "margin_relative") if node.get(k) is not None]
    if len(given) > 1:
        raise ClaimSpecError(f"{where}: margin and margin_relative both given; declare one")
    for key in given:
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value) or value <= 0:
            raise ClaimSpecError(f"{where}: {key} must be a positive number, got {value!r}")
        out[key] = float(value)
        out["margin_reason"] = _line(node, "margin_reason", where)
    if not given and "margin_reason" in node:
        raise ClaimSpecError(f"{where}: margin_reason without margin or margin_relative")
    check = node.get("check", False)
    if not isinstance(check, bool):
        raise ClaimSpecError(f"{where}: check must be true or false, got {check!r}")
    out["check"] = check
    if check:
        out["check_reason"] = _line(node, "check_reason", where)
    elif "check_reason" in node:
        raise ClaimSpecError(f"{where}: check_reason without check: true")
    mech = node.get("mechanism")
    if mech is not None:
        mwhere = f"{where}.mechanism"
        if not isinstance(mech, dict):
            raise ClaimSpecError(f"{mwhere}: must map why, a and b, got {mech!r}")
        unknown = set(mech) - {"why", "a", "b", "args"}
        if unknown:
            raise ClaimSpecError(f"{mwhere}: unknown key(s) {', '.join(sorted(unknown))}; "
                                 "accepted: why, a, b, args")
        if not isinstance(mech.get("args") or {}, dict):
            raise ClaimSpecError(f"{mwhere}: args maps statistic arguments to values, got "
                                 f"{mech['args']!r}")
        out["mechanism"] = Mechanism(_line(mech, "why", mwhere), _overrides(mech, "a", mwhere),
                                     _overrides(mech, "b", mwhere), dict(mech.get("args") or {}))
    return out


def load(conf: Path = CONF) -> list[Claim]:
    """Every claim declared by the presets, in file order; a claim declared with
    ``problems:`` once per problem (``experiments/claims/problems.py``)."""
    from experiments.claims import problems

    out = []
    for file in sorted((Path(conf) / "experiment").glob("*.yaml")):
        node = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for key, spec in (node.get("claims") or {}).items():
            where = f"conf/experiment/{file.stem}.yaml claims.{key}"
            try:
                expanded = problems.expand(key, {"source": node.get("source", "train"),
                                                 **spec}, where)
            except problems.ProblemSpecError as err:
                raise ClaimSpecError(str(err)) from None
            for claim_key, problem, claim_node in expanded:  # one claim per problem
                out.append(replace(parse(file.stem, claim_key, claim_node), problem=problem))
    return out
