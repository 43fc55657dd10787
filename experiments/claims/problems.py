"""One claim, several problems: a claim declared once in its preset is judged on the
preset's own problem and on every problem listed under ``problems:``::

    claims:
      ce_vs_mse:
        ...                           # the claim, on the preset's own problem
        problem: digits MLP           # that problem's name in the report
        problems:
          mnist1d CNN:                # the same claim on another problem
            overrides: [dataset=mnist1d, model=cnn1d]   # added to every run of both arms
            args: {target: 0.6}       # statistic arguments that differ there
            why: MNIST-1D's CNN reaches about 90%; 0.6 is reached by both arms

Each problem becomes a claim of its own, keyed ``<key>@<problem>``, judged by the same
protocol, with its own tuning, seeds and controls, in the same family. The report groups a
claim's problems ("holds on k of n problems"): a claim that holds on one problem and fails
on another is a finding, reported as such.

A problem may replace the statistic's ``args``, ``tune_args`` (merged key by key), and the
claim's ``seeds`` and margin keys (the units of a statistic can differ between problems);
everything else is the claim's.
"""

from __future__ import annotations

import copy
import re

SEPARATOR = "@"
MERGED = ("args", "tune_args")
REPLACED = ("seeds", "margin", "margin_relative", "margin_reason")
ACCEPTED = {"overrides", "why", *MERGED, *REPLACED}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+-]*$")


class ProblemSpecError(ValueError):
    """A claim's ``problems:`` block is malformed."""


def base_key(key: str) -> str:
    """The declared claim a (possibly expanded) claim key belongs to."""
    return key.split(SEPARATOR, 1)[0]


def problem_of(key: str, default: str = "") -> str:
    """The problem part of an expanded key (``default`` for the preset's own problem)."""
    return key.split(SEPARATOR, 1)[1] if SEPARATOR in key else default


def expand(key: str, node: dict, where: str) -> list[tuple[str, str, dict]]:
    """``(key, problem, node)`` for the claim on its preset's problem, then on each listed
    problem, every node free of ``problem`` and ``problems``."""
    node = dict(node)
    problems = node.pop("problems", None) or {}
    own = str(node.pop("problem", "") or "the preset's problem")
    if not isinstance(problems, dict):
        raise ProblemSpecError(f"{where}: problems maps a problem's name to its overrides")
    out = [(key, own, node)]
    for name, spec in problems.items():
        here = f"{where}.problems.{name}"
        if not isinstance(name, str) or not _NAME.match(name) or SEPARATOR in name:
            raise ProblemSpecError(f"{here}: a problem's name is letters, digits, spaces and "
                                   "._+- (no @)")
        if not isinstance(spec, dict) or not isinstance(spec.get("overrides"), list) or \
                not spec["overrides"]:
            raise ProblemSpecError(f"{here}: needs overrides: [a list of key=value]")
        unknown = sorted(set(spec) - ACCEPTED)
        if unknown:
            raise ProblemSpecError(f"{here}: unknown key(s) {', '.join(unknown)}; accepted: "
                                   f"{', '.join(sorted(ACCEPTED))}")
        claim = copy.deepcopy(node)
        extra = [str(o) for o in spec["overrides"]]
        for arm in ("a", "b"):
            if isinstance(claim.get(arm), dict):
                claim[arm] = {**claim[arm],
                              "overrides": [*(claim[arm].get("overrides") or ()), *extra]}
        for field in MERGED:
            if field in spec:
                claim[field] = {**(claim.get(field) or {}), **(spec[field] or {})}
        for field in REPLACED:
            if field in spec:
                claim[field] = spec[field]
        if "margin" in spec:
            claim.pop("margin_relative", None)
        if "margin_relative" in spec:
            claim.pop("margin", None)
        out.append((f"{key}{SEPARATOR}{name}", name, claim))
    return out


def holds_on(verdicts: dict) -> tuple[int, int]:
    """(problems where the claim is supported, problems judged) from ``{problem:
    verdict}``."""
    return sum(v == "supported" for v in verdicts.values()), len(verdicts)
