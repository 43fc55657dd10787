"""``claims.md``, ``claims.json`` and one figure per claim (PNG plus the CSV it plots)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from dlkit.training.files import atomic_write_text
from experiments.claims import Claim, load, protocol, statistics
from experiments.claims.engine import ClaimResult, evaluate, judge
from experiments.claims.protocol import ALPHA, TUNING_SEEDS, MissingRuns


def collect(results_dir, claims: list[Claim] | None = None,
            extra=()) -> tuple[list[ClaimResult], list]:
    """Evaluate every claim whose runs are all on disk under ``results_dir`` (read only);
    returns the judged results and the (claim, reason) pairs that could not be evaluated.
    ``extra``: overrides the runs were made with (``python -m experiments.claims
    --override``)."""
    from experiments.claims.runs import Runs

    runs = Runs(results_dir, execute=False, extra=extra)
    done, missing = [], []
    for claim in claims if claims is not None else load():
        try:
            done.append(evaluate(claim, runs))
        except MissingRuns as err:
            missing.append((claim, f"runs missing ({err})"))
    return judge(done), missing


def _num(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else (x if math.isfinite(x) else ("inf" if x > 0 else "-inf"))


def _comparison(c: protocol.Comparison) -> dict:
    return {"test": c.test, "n_pairs": c.n, "effect": _num(c.effect),
            "ci95": [_num(c.ci[0]), _num(c.ci[1])], "p": _num(c.p), "p_holm": _num(c.p_holm),
            "direction": c.direction, "summary_a": _num(c.mean_a), "summary_b": _num(c.mean_b),
            "note": c.note, **({"counts": c.extra} if c.extra else {})}


def _arm(arm, claim: Claim) -> dict:
    out = {"label": arm.label, "chosen_rate": arm.rate, "n": len(arm.final),
           "final": [_num(v) for v in arm.final], "seeds": claim.final_seeds}
    if arm.tuning is None:
        out["tuning"] = {"tuned": False, "why": claim.fixed}
    else:
        t = arm.tuning
        out["tuning"] = {"tuned": True, "variant": t.variant,
                         "variant_scores": {k: [_num(x) for x in v]
                                            for k, v in t.variant_scores.items()},
                         "grid": [min(t.rates), max(t.rates)],
                         "rates": t.rates, "best_at_edge": t.at_edge,
                         "limits": [claim.tuning.low, claim.tuning.high],
                         "seeds": list(TUNING_SEEDS),
                         "curve": {f"{r:.6g}": [_num(v) for v in t.values[r]]
                                   for r in t.rates}}
    return out


def to_json(results: list[ClaimResult], missing) -> dict:
    claims = []
    for r in results:
        c = r.claim
        stat = statistics.REGISTRY[c.statistic]
        claims.append({
            "key": c.key, "claim": c.text, "preset": c.preset, "verdict": r.verdict,
            "statistic": {"name": c.statistic, "args": c.args, "unit": stat.unit,
                          "censored": stat.censored, "expect": f"A {c.expect} than B",
                          "tuned_on": c.tune_on or c.statistic},
            "a": _arm(r.a, c), "b": _arm(r.b, c), "comparison": _comparison(r.comparison),
            "control": {"verdict": r.control_verdict, "seeds": c.control_seeds,
                        "values": [_num(v) for v in r.control],
                        "comparison": _comparison(r.control_comparison)},
            "note": c.note})
    return {"alpha": ALPHA, "correction": "Holm, over the claims of this report (controls "
            "as their own family)", "claims": claims,
            "not_evaluated": [{"key": c.key, "preset": c.preset, "why": why}
                              for c, why in missing]}


def _fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "never"
    return f"{x:.{digits}g}"


def _describe(c: Claim) -> str:
    stat = statistics.REGISTRY[c.statistic]
    return stat.describe.format(**{**_defaults(stat.fn), **c.args})


def _defaults(fn) -> dict:
    import inspect

    return {k: v.default for k, v in inspect.signature(fn).parameters.items()
            if v.default is not inspect.Parameter.empty}


def _effect_text(c: protocol.Comparison, claim: Claim) -> str:
    if c.test.startswith("sign"):
        e = c.extra
        share = (f"share {_fmt(c.effect)}, 95% CI {_fmt(c.ci[0])}–{_fmt(c.ci[1])}"
                 if c.n else "no ordered pair")
        return (f"A sooner in {e.get('a_sooner', 0)} of {c.n} ordered pairs ({share}); "
                f"{e.get('ties', 0)} pair(s) without order; reached the target: A "
                f"{e.get('reached_a', 0)}/{e.get('pairs', 0)}, B "
                f"{e.get('reached_b', 0)}/{e.get('pairs', 0)}")
    return (f"mean A − B = {_fmt(c.effect)} (95% CI {_fmt(c.ci[0])} to {_fmt(c.ci[1])}), "
            f"A {_fmt(c.mean_a)} vs B {_fmt(c.mean_b)}, {c.n} pairs"
            + (f"; {c.note}" if c.note else ""))


def _arm_line(arm, claim: Claim) -> str:
    if arm.tuning is None or claim.tune_on:
        if arm.tuning is not None:
            t = arm.tuning
            edge = "**yes (limit reached)**" if t.at_edge else "no"
            return (f"| {arm.label} | {arm.rate:.3g} (tuned on {claim.tune_on}) | "
                    f"{min(t.rates):.3g} – {max(t.rates):.3g} ({len(t.rates)} rates) | "
                    f"{edge} |")
        return f"| {arm.label} | {arm.rate:.3g} (fixed: {claim.fixed}) | – | – |"
    t = arm.tuning
    edge = "**yes (limit reached)**" if t.at_edge else "no"
    variant = f", {t.variant}" if t.variant else ""
    return (f"| {arm.label} | {arm.rate:.3g}{variant} | {min(t.rates):.3g} – "
            f"{max(t.rates):.3g} ({len(t.rates)} rates) | {edge} |")


RULE = ("Verdict rule: a paired test per claim (paired t-test; an exact sign test when the "
        "statistic is a time-to-target that may be censored), two-sided, Holm-corrected "
        f"over all claims of this report; **supported** when the corrected p < {ALPHA} and "
        "the effect points the claimed way, **not supported** when it is significant the "
        "other way, **inconclusive** otherwise; **invalid** when the A/A control (arm A "
        "against itself on other seeds, same statistic and test, Holm over the controls) "
        "is significant.")


def to_markdown(results: list[ClaimResult], missing, figures: dict,
                extras: dict | None = None) -> str:
    lines = ["# The seed's claims, tested with a fair protocol", "",
             "Every arm runs at its own learning rate, tuned on the validation split over a "
             "half-decade log grid on tuning seeds "
             f"{', '.join(map(str, TUNING_SEEDS))} (the grid grows at an edge until the best "
             "rate is inside it); the final runs use other seeds, paired across arms (same "
             "data split, data order and initial-weight seed); an A/A control runs beside "
             "every claim. Nothing here is written by hand.", "", RULE, "",
             "| claim | preset | statistic | verdict | A/A control |",
             "| --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| [{r.claim.text}](#{r.claim.key}) | `{r.claim.preset}` | "
                     f"{r.claim.statistic} | **{r.verdict}** | {r.control_verdict} |")
    for c, why in missing:
        lines.append(f"| {c.text} | `{c.preset}` | {c.statistic} | not evaluated: {why} | – |")
    for r in results:
        c = r.claim
        lines += ["", f'<a id="{c.key}"></a>', f"## {c.text}", "",
                  f"- preset: `{c.preset}`; A = {c.a.label}, B = {c.b.label}; claimed: A's "
                  f"statistic is {'lower' if c.expect == 'less' else 'higher'} than B's",
                  f"- statistic: {_describe(c)}",
                  f"- test: {r.comparison.test}; {_effect_text(r.comparison, c)}; "
                  f"p = {_fmt(r.comparison.p)}, Holm-corrected p = "
                  f"{_fmt(r.comparison.p_holm)}",
                  f"- A/A control ({c.a.label}, seeds {c.control_seeds[0]}–"
                  f"{c.control_seeds[-1]} against {c.final_seeds[0]}–{c.final_seeds[-1]}): "
                  f"{_effect_text(r.control_comparison, c)}; Holm-corrected p = "
                  f"{_fmt(r.control_comparison.p_holm)} → {r.control_verdict}",
                  f"- verdict: **{r.verdict}**"]
        if c.note:
            lines.append(f"- note: {c.note}")
        lines += ["", "| arm | chosen rate | grid | best at the grid's edge |",
                  "| --- | --- | --- | --- |", _arm_line(r.a, c), _arm_line(r.b, c), ""]
        seeds = pd.DataFrame({"seed": c.final_seeds,
                              f"A: {c.a.label}": [_fmt(v, 4) for v in r.a.final],
                              f"B: {c.b.label}": [_fmt(v, 4) for v in r.b.final],
                              "A/A control seed": c.control_seeds,
                              "control": [_fmt(v, 4) for v in r.control]})
        lines.append(seeds.to_markdown(index=False))
        acc = _test_summary(r)
        if acc:
            lines += ["", acc]
        if c.key in figures:
            lines += ["", f"![{c.key}]({figures[c.key].name})"]
        if extras and c.key in extras:
            lines += ["", extras[c.key]]
    return "\n".join(lines) + "\n"


def _test_summary(r: ClaimResult) -> str:
    parts = []
    for arm in (r.a, r.b):
        for metric in ("test_accuracy", "test_mse", "test_loss"):
            values = [m.get(metric) for m in arm.metrics if m.get(metric) is not None]
            if values:
                parts.append(f"{arm.label} {metric} {np.mean(values):.4g} ± "
                             f"{np.std(values, ddof=1) if len(values) > 1 else 0:.2g}")
                break
    return ("Test split, final runs (mean ± std over seeds): " + "; ".join(parts)) \
        if parts else ""


def figure_data(r: ClaimResult) -> pd.DataFrame:
    rows = []
    for name, arm in (("A", r.a), ("B", r.b)):
        if arm.tuning is not None:
            for rate in arm.tuning.rates:
                for seed, v in zip(TUNING_SEEDS, arm.tuning.values[rate]):
                    rows.append({"stage": "tune", "arm": name, "label": arm.label,
                                 "rate": rate, "seed": seed, "value": v,
                                 "chosen": rate == arm.rate})
        for seed, v in zip(r.claim.final_seeds, arm.final):
            rows.append({"stage": "final", "arm": name, "label": arm.label, "rate": arm.rate,
                         "seed": seed, "value": v, "chosen": True})
    for seed, v in zip(r.claim.control_seeds, r.control):
        rows.append({"stage": "control", "arm": "A", "label": r.a.label, "rate": r.a.rate,
                     "seed": seed, "value": v, "chosen": True})
    return pd.DataFrame(rows)


def _axis_label(claim, stat) -> str:
    """The statistic in words for an axis: ``final mape (val when tuning, test in the
    final runs)`` for a final metric, else its name and unit."""
    column = claim.args.get("column")
    if claim.statistic == "final_metric" and column:
        return f"final {column} (validation when tuning, test in final runs)"
    return f"{claim.statistic} ({stat.unit})"


def _tune_label(claim) -> str | None:
    """The tuning panel's axis when the rate is tuned on another statistic than the claim's:
    ``tuned on: final validation loss``."""
    if not claim.tune_on:
        return None
    column = claim.tune_args.get("column")
    if claim.tune_on == "final_metric" and column:
        return f"tuned on: final validation {column}"
    args = ", ".join(f"{k} {v}" for k, v in claim.tune_args.items())
    return f"tuned on: {claim.tune_on}" + (f" ({args})" if args else "")


def write(results: list[ClaimResult], missing, out) -> list[Path]:
    """claims.json, claims.md and one figure per claim (PNG + CSV) into ``out``."""
    from dlkit.analysis import figures as fig

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for r in results:
        data = figure_data(r)
        stat = statistics.REGISTRY[r.claim.statistic]
        png = out / f"claim_{r.claim.key}.png"
        fig.write_csv(data, png.with_suffix(".csv"))
        made[r.claim.key] = fig.claim_figure(
            data, png, title=r.claim.text, statistic=_axis_label(r.claim, stat),
            better=statistics.REGISTRY[r.claim.tuning_statistic[0]].better,
            verdict=f"{r.verdict} (A/A: {r.control_verdict})",
            scale=_scale_for(data[data["stage"] != "tune"] if r.claim.tune_on else data),
            tune_label=_tune_label(r.claim))
    atomic_write_text(out / "claims.json", json.dumps(to_json(results, missing), indent=2) + "\n")
    atomic_write_text(out / "claims.md", to_markdown(results, missing, made,
                                                     _extras(results, out)))
    return [out / "claims.md", out / "claims.json", *made.values()]


def _extras(results: list[ClaimResult], out: Path) -> dict:
    """key -> markdown of the claim's extra section (see ``extras.py``)."""
    from experiments.claims import extras

    return {r.claim.key: extras.REGISTRY[r.claim.extra](out, r)
            for r in results if r.claim.extra}


def _scale_for(data: pd.DataFrame) -> str:
    v = pd.to_numeric(data["value"], errors="coerce")
    v = v[np.isfinite(v)]
    if len(v) and (v > 0).all() and v.max() / max(v.min(), 1e-300) > 30:
        return "log"
    return "linear"
