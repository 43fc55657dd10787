"""``claims.md``, ``claims.json``, one figure per claim (PNG plus the CSV it plots) and the
calibration of the A/A controls (a histogram of their p-values).

Why one file over 400 lines: ``claims.json`` and ``claims.md`` are two views of the same
records, written side by side so a field cannot appear in one and not the other.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from dlkit.training.files import atomic_write_text
from experiments.claims import Claim, load, problems, protocol, statistics
from experiments.claims.engine import ClaimResult, evaluate, judge
from experiments.claims.protocol import ALPHA, MissingRuns


def collect(results_dir, claims: list[Claim] | None = None,
            extra=()) -> tuple[list[ClaimResult], list]:
    """Evaluate every claim whose runs are all on disk under ``results_dir`` (read only);
    returns the judged results and the (claim, reason) pairs that could not be evaluated.
    ``extra``: overrides the runs were made with (``python -m experiments.claims
    --override``)."""
    from experiments.claims.runs import Runs

    runs = Runs(results_dir, execute=False, extra=extra)
    done, missing, replicated = [], [], []
    for claim in claims if claims is not None else load():
        try:
            done.append(evaluate(claim, runs))
        except MissingRuns as err:
            missing.append((claim, f"runs missing ({err})"))
            continue
        try:  # the replication on fresh seeds, when its runs are there
            replicated.append(evaluate(claim.replication(), runs))
        except MissingRuns:
            pass
    judge(done)
    again = {r.claim.key: r for r in judge(replicated, replication=True)}
    for r in done:
        r.replication = again.get(r.claim.key)
    return done, missing


def _num(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else (x if math.isfinite(x) else ("inf" if x > 0 else "-inf"))


def _comparison(c: protocol.Comparison) -> dict:
    return {"test": c.test, "n_pairs": c.n, "effect": _num(c.effect),
            "ci95": [_num(c.ci[0]), _num(c.ci[1])], "p": _num(c.p), "p_holm": _num(c.p_holm),
            "direction": c.direction, "summary_a": _num(c.mean_a), "summary_b": _num(c.mean_b),
            "margin": _num(c.margin), "tost_p": _num(c.tost_p),
            "tost_p_holm": _num(c.tost_p_holm), "detectable_effect": _num(c.detectable),
            "note": c.note, **({"counts": {k: _num(v) if isinstance(v, float) else v
                                          for k, v in c.extra.items()}} if c.extra else {})}


def _arm(arm, claim: Claim) -> dict:
    out = {"label": arm.label, "chosen_rate": arm.rate, "n": len(arm.final),
           "final": [_num(v) for v in arm.final], "seeds": claim.final_seeds,
           "horizons": [_num(h) for h in arm.horizons], "trains": arm.trains,
           "stability": arm.stability}
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
                         "seeds": list(t.seeds), "trains": t.trains, "flat": t.flat,
                         "curve": {f"{r:.6g}": [_num(v) for v in t.values[r]]
                                   for r in t.rates}}
    return out


def _claim_json(r: ClaimResult) -> dict:
    c = r.claim
    stat = statistics.REGISTRY[c.statistic]
    out = {
        "key": c.key, "claim": c.text, "preset": c.preset, "verdict": r.verdict,
        "base": problems.base_key(c.key), "problem": c.problem,
        "check": c.check, **({"check_reason": c.check_reason} if c.check else {}),
        "statistic": {"name": c.statistic, "args": c.args, "unit": stat.unit,
                      "censored": stat.censored, "expect": f"A {c.expect} than B",
                      "tuned_on": c.tune_on or c.statistic},
        "test": {"name": c.test_name, "declared": bool(c.test),
                 "reason": c.test_reason or "the protocol's default for this statistic"},
        "margin": {"value": c.margin, "relative": c.margin_relative,
                   "reason": c.margin_reason or "no margin declared"},
        "a": _arm(r.a, c), "b": _arm(r.b, c), "comparison": _comparison(r.comparison),
        "control": {"verdict": r.control_verdict, "seeds": c.control_seeds,
                    "values": [_num(v) for v in r.control],
                    "horizons": [_num(h) for h in r.control_horizons],
                    "comparison": _comparison(r.control_comparison)},
        "note": c.note}
    if c.mechanism is not None:
        a, b = r.mechanism_values or ([], [])
        out["mechanism"] = {"why": c.mechanism.why, "a": list(c.mechanism.a),
                            "b": list(c.mechanism.b), "verdict": r.mechanism_verdict,
                            "seeds": c.control_seeds, "values_a": [_num(v) for v in a],
                            "values_b": [_num(v) for v in b],
                            "comparison": None if r.mechanism is None
                            else _comparison(r.mechanism)}
    return out


def anchor(key: str) -> str:
    """The claim's section id in ``claims.md`` (a problem's key holds ``@`` and spaces)."""
    return "".join(ch if ch.isalnum() or ch in "_-" else "-" for ch in key)


def problem_summary(results: list[ClaimResult]) -> list[dict]:
    """Every declared claim judged on more than one problem: its verdict on each, and on
    how many it holds (is supported)."""
    by_base: dict = {}
    for r in results:
        by_base.setdefault(problems.base_key(r.claim.key), []).append(r)
    out = []
    for base, group in by_base.items():
        if len(group) < 2:
            continue
        verdicts = {r.claim.problem or problems.problem_of(r.claim.key): r.verdict
                    for r in group}
        held, judged = problems.holds_on(verdicts)
        out.append({"base": base, "claim": group[0].claim.text, "holds_on": held,
                    "problems": judged, "verdicts": verdicts,
                    "keys": [r.claim.key for r in group]})
    return out


def to_json(results: list[ClaimResult], missing, calib: dict | None = None) -> dict:
    claims = []
    for r in results:
        entry = _claim_json(r)
        if r.replication is not None:
            again = _claim_json(r.replication)
            again.pop("replication", None)
            entry["replication"] = {**again, "agrees": again["verdict"] == r.verdict}
        claims.append(entry)
    replicated = [r for r in results if r.replication is not None]
    family = results[0].family if results else {}
    return {"alpha": ALPHA,
            "correction": "Holm over the declared family (every declared claim that is not "
            "a check; members not evaluated here from the committed reference, see "
            "'family'); TOST p-values and A/A controls corrected over the same family; a "
            "check on its uncorrected p",
            "family": [{"key": k, "p": _num(v["p"]), "source": v["source"]}
                       for k, v in family.items()],
            "checks": [r.claim.key for r in results if r.claim.check],
            "problems": problem_summary(results),
            "claims": claims,
            "replication": {"replicated": len(replicated),
                            "agree": sum(r.replication.verdict == r.verdict
                                         for r in replicated),
                            "agreement": (sum(r.replication.verdict == r.verdict
                                              for r in replicated) / len(replicated))
                            if replicated else None},
            "calibration": calibration(results) if calib is None else calib,
            "not_evaluated": [{"key": c.key, "preset": c.preset, "why": why}
                              for c, why in missing]}


def calibration(results: list[ClaimResult]) -> dict:
    """The A/A controls' raw p-values (their number, a KS test of uniformity) and, per test
    type, the false-positive rate on resampled A/A splits of each claim's arm A final and
    control runs (``protocol.false_positive_rate``)."""
    from scipy import stats

    ps = [r.control_comparison.p for r in results if np.isfinite(r.control_comparison.p)]
    ks = stats.kstest(ps, "uniform") if len(ps) >= 2 else None
    pools: dict = {}
    for r in results:
        values = [*r.a.final, *r.control]
        horizons = [*r.a.horizons, *r.control_horizons]
        if len(values) >= 4:
            pools.setdefault(r.claim.test_name, []).append(
                (values, horizons if len(horizons) == len(values) else None))
    return {"aa_p": [_num(p) for p in ps],
            "aa_below_alpha": int(sum(p < ALPHA for p in ps)),
            "ks_uniform": None if ks is None else {"statistic": float(ks.statistic),
                                                   "p": float(ks.pvalue)},
            "splits_per_claim": protocol.CALIBRATION_SPLITS,
            "false_positive_rate": {test: protocol.false_positive_rate(p, test)
                                    for test, p in sorted(pools.items())}}


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
    if not c.n:
        return "no pairs" + (f" ({c.note})" if c.note else "")
    text = (f"mean A − B = {_fmt(c.effect)} (95% CI {_fmt(c.ci[0])} to {_fmt(c.ci[1])}), "
            f"A {_fmt(c.mean_a)} vs B {_fmt(c.mean_b)}, {c.n} pairs")
    if c.extra and "reached_a" in c.extra:
        e = c.extra
        text = (f"mean restricted time A − B = {_fmt(c.effect)} (95% CI {_fmt(c.ci[0])} to "
                f"{_fmt(c.ci[1])}) up to the horizon {_fmt(e.get('horizon'))}; A sooner in "
                f"{e['a_sooner']}, B sooner in {e['b_sooner']}, {e['ties']} tied of "
                f"{e['pairs']} pairs; reached the target: A {e['reached_a']}/{e['pairs']}, "
                f"B {e['reached_b']}/{e['pairs']}")
    return text + (f"; {c.note}" if c.note else "")


def _tuning_notes(arm) -> str:
    t = arm.tuning
    notes = []
    if t is not None and not t.trains:
        notes.append("**no rate trains within the budget**")
    if t is not None and t.flat:
        notes.append("flat tuning curve (every rate within the margin)")
    st = arm.stability or {}
    if st.get("flagged"):
        fell = (f"fallback to {st['fallback']:.3g}" if st.get("fallback") else
                "no smaller rate within the limit")
        after = st.get("after_fallback")
        if after:
            fell += f" ({after['unstable']}/{after['of']} unstable there)"
        notes.append(f"**unstable at {st['rate']:.3g}** ({st['unstable']}/{st['of']} final "
                     f"runs diverged or collapsed): {fell}")
    return "; ".join(notes) or "–"


def _arm_line(arm, claim: Claim) -> str:
    notes = _tuning_notes(arm)
    if arm.tuning is None:
        return f"| {arm.label} | {arm.rate:.3g} (fixed: {claim.fixed}) | – | – | {notes} |"
    t = arm.tuning
    edge = "**yes (limit reached)**" if t.at_edge else "no"
    variant = f", {t.variant}" if t.variant else ""
    tuned_on = f" (tuned on {claim.tune_on})" if claim.tune_on else ""
    return (f"| {arm.label} | {arm.rate:.3g}{variant}{tuned_on} | {min(t.rates):.3g} – "
            f"{max(t.rates):.3g} ({len(t.rates)} rates) | {edge} | {notes} |")


RULE = ("Verdict rule (the module docstring of `experiments/claims/protocol.py` is its "
        "specification): the test each claim declares, two-sided, Holm-corrected over the "
        "declared family (claims not evaluated in this report enter with their p from the "
        f"committed reference); **supported** when the corrected p < {ALPHA} and the effect "
        "points the claimed way, **not supported** when it is significant the other way; "
        "else **equivalent** when the paired TOST with the declared margin is significant "
        "after the same correction; else **inconclusive** (with the effect the design could "
        "have detected); **invalid** when the A/A control is significant; **no rate trains "
        "within the budget** when an arm has no rate that trains. Checks (definitional) are "
        "reported apart, on their uncorrected p.")


def _mechanism_text(r: ClaimResult) -> str:
    if r.claim.mechanism is None:
        return "–"
    return r.mechanism_verdict or "not run"


def _summary_row(r: ClaimResult) -> str:
    again = r.replication.verdict if r.replication is not None else "–"
    on = f" (on {r.claim.problem})" if r.claim.problem and "@" in r.claim.key else ""
    return (f"| [{r.claim.text}{on}](#{anchor(r.claim.key)}) | `{r.claim.preset}` | "
            f"{r.claim.statistic} | "
            f"{r.claim.test_name} | **{r.verdict}** | {r.control_verdict} | "
            f"{_mechanism_text(r)} | {again} |")


def to_markdown(results: list[ClaimResult], missing, figures: dict,
                extras: dict | None = None, calib: dict | None = None) -> str:
    seeds = sorted({s for r in results for arm in (r.a, r.b) if arm.tuning is not None
                    for s in arm.tuning.seeds})
    header = ["| claim | preset | statistic | test | verdict | A/A control | mechanism "
              "control | replication |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines = ["# The seed's claims, tested with a fair protocol", "",
             "Every arm runs at its own learning rate, tuned on the validation split over a "
             "half-decade log grid on tuning seeds "
             f"{', '.join(map(str, seeds)) or '–'} (median over the seeds; the grid grows at "
             "an edge until the best rate is inside it, and outwards to its limits while no "
             "rate trains); the final runs use other seeds, paired across arms (same data "
             "split, data order and initial-weight seed); an A/A control runs beside every "
             "claim, and a mechanism control where the claim declares one. Nothing here is "
             "written by hand.", "", RULE, "", *header]
    family = [r for r in results if not r.claim.check]
    checks = [r for r in results if r.claim.check]
    lines += [_summary_row(r) for r in family]
    for c, why in missing:
        lines.append(f"| {c.text} | `{c.preset}` | {c.statistic} | {c.test_name} | not "
                     f"evaluated: {why} | – | – | – |")
    several = problem_summary(results)
    if several:
        lines += ["", "## Claims on more than one problem", "",
                  "A claim that holds on one problem and not on another is a finding about "
                  "where it holds.", "", "| claim | holds on | verdict on each problem |",
                  "| --- | --- | --- |"]
        for item in several:
            each = "; ".join(f"[{p}](#{anchor(k)}): {v}" for (p, v), k in
                             zip(item["verdicts"].items(), item["keys"]))
            lines.append(f"| {item['claim']} | {item['holds_on']} of {item['problems']} "
                         f"problems | {each} |")
    if checks:
        lines += ["", "## Checks", "", "Definitional or implementation checks: true by "
                  "construction when the code is right, so outside the Holm family.", "",
                  *header, *[_summary_row(r) for r in checks]]
    replicated = [r for r in results if r.replication is not None]
    if replicated:
        agree = sum(r.replication.verdict == r.verdict for r in replicated)
        lines += ["", f"Replication on fresh seeds: {agree} of {len(replicated)} verdicts "
                  f"agree ({agree / len(replicated):.0%})."]
    if results:
        lines += ["", _family_text(results)]
    calib = calibration(results) if calib is None else calib
    if calib.get("aa_p"):
        lines += ["", _calibration_text(calib)]
    for r in results:
        lines += _claim_section(r, figures, extras)
    return "\n".join(lines) + "\n"


def _family_text(results) -> str:
    family = results[0].family
    outside = [k for k, v in family.items() if v["source"] != "this report"]
    text = f"Holm family: {len(family)} declared claims"
    if outside:
        text += (f"; {len(outside)} of them not evaluated in this report enter with their p "
                 f"from the committed reference: {', '.join(outside)}")
    return text + "."


def _calibration_text(calib: dict) -> str:
    ks = calib["ks_uniform"]
    lines = ["## Calibration of the controls", "",
             f"A/A controls: {len(calib['aa_p'])} raw p-values, {calib['aa_below_alpha']} "
             f"below {ALPHA}"
             + (f"; Kolmogorov–Smirnov test of uniformity p = {_fmt(ks['p'])}" if ks else "")
             + " (histogram: `claims_aa_pvalues.png`).", "",
             f"False-positive rate per test on resampled A/A splits (arm A's final and "
             f"control runs, {calib['splits_per_claim']} random splits per claim into two "
             f"paired groups): it must stay at or below {ALPHA} within 2 Monte Carlo standard "
             "errors.", "", "| test | splits | false-positive rate | MC s.e. | within |",
             "| --- | --- | --- | --- | --- |"]
    for test, row in calib["false_positive_rate"].items():
        lines.append(f"| {test} | {row['splits']} | {_fmt(row['rate'])} | "
                     f"{_fmt(row['mc_se'])} | {'yes' if row['within'] else '**no**'} |")
    return "\n".join(lines)


def _claim_section(r: ClaimResult, figures: dict, extras: dict | None) -> list[str]:
    c = r.claim
    comp = r.comparison
    reason = f" ({c.margin_reason})" if c.margin_reason else ""
    margin = (f"±{_fmt(comp.margin)}{reason}" if np.isfinite(comp.margin)
              else "no margin declared (no equivalence verdict possible)")
    on = f" (on {c.problem})" if c.problem and "@" in c.key else ""
    lines = ["", f'<a id="{anchor(c.key)}"></a>', f"## {c.text}{on}", "",
             f"- preset: `{c.preset}`; A = {c.a.label}, B = {c.b.label}; claimed: A's "
             f"statistic is {'lower' if c.expect == 'less' else 'higher'} than B's",
             f"- statistic: {_describe(c)}",
             f"- test: {c.test_name} ({c.test_reason or 'the default for this statistic'}); "
             f"{_effect_text(comp, c)}; p = {_fmt(comp.p)}, Holm-corrected p = "
             f"{_fmt(comp.p_holm)}" + (" (a check: uncorrected)" if c.check else ""),
             f"- margin: {margin}" + (f"; TOST p = {_fmt(comp.tost_p)}, corrected "
                                      f"{_fmt(comp.tost_p_holm)}"
                                      if np.isfinite(comp.tost_p) else ""),
             f"- A/A control ({c.a.label}, seeds {c.control_seeds[0]}–"
             f"{c.control_seeds[-1]} against {c.final_seeds[0]}–{c.final_seeds[-1]}): "
             f"{_effect_text(r.control_comparison, c)}; Holm-corrected p = "
             f"{_fmt(r.control_comparison.p_holm)} → {r.control_verdict}"]
    if c.mechanism is not None:
        m = r.mechanism
        lines.append(f"- mechanism control ({c.mechanism.why}; A + {list(c.mechanism.a)}, "
                     f"B + {list(c.mechanism.b)}, seeds {c.control_seeds[0]}–"
                     f"{c.control_seeds[-1]}): " + (
                         f"{_effect_text(m, c)}; p = {_fmt(m.p)}" + (
                             f", TOST p = {_fmt(m.tost_p)}" if np.isfinite(m.tost_p) else "")
                         if m is not None else "not run")
                     + f" → **{_mechanism_text(r)}**")
    lines.append(f"- verdict: **{r.verdict}**")
    if c.check:
        lines.append(f"- a check, outside the Holm family: {c.check_reason}")
    if r.verdict == protocol.INCONCLUSIVE and np.isfinite(comp.detectable):
        lines.append(f"- the design could have detected a mean difference of "
                     f"{_fmt(comp.detectable)} ({_unit(c)}) with power {protocol.POWER:.0%}")
    if r.replication is not None:
        again = r.replication
        lines.append(f"- replication (tuning seeds {', '.join(map(str, again.claim.tuning_seeds))}"
                     f", final seeds {again.claim.final_seeds[0]}–"
                     f"{again.claim.final_seeds[-1]}): **{again.verdict}** (p = "
                     f"{_fmt(again.comparison.p)}, Holm-corrected {_fmt(again.comparison.p_holm)}"
                     f"){'' if again.verdict == r.verdict else ' — **disagrees**'}")
    if c.note:
        lines.append(f"- note: {c.note}")
    lines += ["", "| arm | chosen rate | grid | best at the grid's edge | tuning and stability |",
              "| --- | --- | --- | --- | --- |", _arm_line(r.a, c), _arm_line(r.b, c), ""]
    if r.a.final and r.b.final:
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
    return lines


def _unit(c: Claim) -> str:
    return statistics.REGISTRY[c.statistic].unit or "the statistic's unit"


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
                for seed, v in zip(arm.tuning.seeds, arm.tuning.values[rate]):
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
    from experiments.claims import figures as fig

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for r in results:
        data = figure_data(r)
        stat = statistics.REGISTRY[r.claim.statistic]
        png = out / f"claim_{anchor(r.claim.key)}.png"
        fig.write_csv(data, png.with_suffix(".csv"))
        made[r.claim.key] = fig.claim_figure(
            data, png, title=r.claim.text, statistic=_axis_label(r.claim, stat),
            better=statistics.REGISTRY[r.claim.tuning_statistic[0]].better,
            verdict=f"{r.verdict} (A/A: {r.control_verdict})",
            scale=_scale_for(data[data["stage"] != "tune"] if r.claim.tune_on else data),
            tune_label=_tune_label(r.claim))
    calib = calibration(results)
    if calib["aa_p"]:
        made["claims_aa_pvalues"] = _pvalue_histogram(calib["aa_p"],
                                                      out / "claims_aa_pvalues.png")
    atomic_write_text(out / "claims.json",
                      json.dumps(to_json(results, missing, calib), indent=2) + "\n")
    atomic_write_text(out / "claims.md", to_markdown(results, missing, made,
                                                     _extras(results, out), calib))
    return [out / "claims.md", out / "claims.json", *made.values()]


def _pvalue_histogram(ps, path: Path) -> Path:
    """The A/A controls' raw p-values in ten bins, with the count a uniform distribution
    gives each bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlkit.training.files import atomic_write

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(ps, bins=10, range=(0, 1), color="#4c72b0", edgecolor="white")
    ax.axhline(len(ps) / 10, color="black", linestyle="--", linewidth=1,
               label="uniform (no difference anywhere)")
    ax.set_xlabel("A/A control raw p")
    ax.set_ylabel("controls")
    ax.set_title("A/A controls: raw p-values")
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=110))
    finally:
        plt.close(fig)
    return path


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
