"""MkDocs hooks: the parts of the site that are data, generated at build time.

A page asks for a generated part with a marker on a line of its own:

- ``<!-- dlkit:configuration -->``: every group, option and key of ``conf/``;
- ``<!-- dlkit:claims -->``: the claims table of ``results/reference/claims.json``;
- ``<!-- dlkit:performance -->``: every benchmark record of ``benchmarks/records/``;
- ``<!-- dlkit:summary NAME -->``: the mean test accuracy per configuration of the sweep
  ``NAME`` in ``results/reference/NAME_summary.csv``.

The figures of ``results/reference/`` are added to the site as ``reference/<file>.png``.

The functions take the folders as arguments, so the tests call them on the repository's
files (and on files they make) without building the site. Plain PyYAML and json only: the
site builds without TensorFlow.
"""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKERS = {
    "<!-- dlkit:configuration -->": lambda: configuration_markdown(ROOT / "conf"),
    "<!-- dlkit:claims -->": lambda: claims_markdown(ROOT / "results/reference/claims.json"),
    "<!-- dlkit:performance -->": lambda: performance_markdown(ROOT / "benchmarks/records",
                                                               ROOT / "benchmarks"),
}

# the order of the groups on the page (config.yaml's defaults list); any other folder of
# conf/ follows in alphabetical order, so a new group is never left out
GROUP_ORDER = ("dataset", "model", "loss", "activation", "optimizer", "schedule", "trainer",
               "experiment", "hydra/launcher")


REFERENCE = ROOT / "results" / "reference"
_NUMERIC = re.compile(r"^[-+]?[\d.,]+(e[-+]?\d+)?\s*(x|%|s|ms|us)?$|^-$|^unavailable$")
_SUMMARY = re.compile(r"<!-- dlkit:summary (\w+) -->")


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001 (MkDocs' signature)
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return _SUMMARY.sub(lambda m: summary_markdown(REFERENCE / f"{m.group(1)}_summary.csv"),
                        markdown)


def on_files(files, config):
    """The reference figures, served as ``reference/<name>.png`` (read where they are)."""
    from mkdocs.structure.files import File

    for png in sorted(REFERENCE.glob("*.png")):
        files.append(File.generated(config, f"reference/{png.name}", abs_src_path=str(png)))
    return files


def summary_markdown(path: Path) -> str:
    """A sweep's configurations (the columns before ``n``) with the number of seeds and the
    test accuracy's mean and standard deviation, best first."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return f"(no runs in `{path.name}`)"
    header = list(rows[0])
    keys = header[:header.index("n")]
    keys = [k for k in keys if len({r[k] for r in rows}) > 1] or keys[:1]
    rows.sort(key=lambda r: -float(r.get("test_accuracy_mean") or "nan"))
    out = ["| " + " | ".join(f"`{k}`" for k in keys) + " | seeds | test accuracy (mean ± sd) |",
           "| " + " | ".join("---" for _ in keys) + " | ---: | ---: |"]
    for r in rows:
        mean, sd = float(r["test_accuracy_mean"]), float(r["test_accuracy_std"] or 0)
        out.append("| " + " | ".join(_cell(r[k]) for k in keys) + f" | {r['n']} | "
                   f"{100 * mean:.1f} ± {100 * sd:.1f}% |")
    return "\n".join(out) + f"\n\nRead from `results/reference/{path.name}`."


# --------------------------------------------------------------------------- configuration


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _prose(text) -> str:
    """A comment as table text: ``<model>`` is shown, not taken for HTML."""
    return _cell(text).replace("<", "&lt;").replace(">", "&gt;")


def _comments(path: Path) -> tuple[str, dict]:
    """The file's leading comment (its description) and each top-level key's comment (the
    comment lines just above it, or the comment at the end of its line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    head, keys, pending, started = [], {}, [], False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            if text.startswith("@package"):
                continue
            (pending if started else head).append(text)
            continue
        if not stripped:
            if not started and head:
                started = True
            continue
        started = True
        if not line.startswith((" ", "-")) and ":" in line:
            key, _, rest = line.partition(":")
            inline = rest.split(" #", 1)[1].strip() if " #" in rest else ""
            keys[key.strip()] = " ".join([*pending, inline]).strip()
        pending = []
    return " ".join(head), keys


def _value(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": "))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def conf_options(conf: Path) -> dict[str, dict[str, Path]]:
    """``{group: {option: file}}`` for every ``*.yaml`` below a folder of ``conf``."""
    groups: dict[str, dict[str, Path]] = {}
    for path in sorted(conf.rglob("*.yaml")):
        if path.parent == conf:
            continue
        group = path.parent.relative_to(conf).as_posix()
        groups.setdefault(group, {})[path.stem] = path
    order = [g for g in GROUP_ORDER if g in groups] + sorted(set(groups) - set(GROUP_ORDER))
    return {group: groups[group] for group in order}


def _keys_cell(data: dict, comments: dict, skip=("defaults",)) -> str:
    parts = []
    for key, value in data.items():
        if key in skip:
            continue
        text = f"`{key}: {_cell(_value(value))}`"
        if comments.get(key):
            text += f" ({_prose(comments[key])})"
        parts.append(text)
    return "<br>".join(parts) or "(no keys)"


def _preset_row(option: str, data: dict, description: str) -> str:
    sweep = ((data.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    sweep_text = "<br>".join(f"`{k}={_cell(v)}`" for k, v in sweep.items()) or "(none)"
    claims = data.get("claims") or {}
    claims_text = ", ".join(f"`{k}`" for k in claims) or "(none)"
    choices = [d for d in data.get("defaults") or [] if isinstance(d, dict)]
    picks = ", ".join(f"`{k.removeprefix('override /')}={v}`" for d in choices
                      for k, v in d.items()) or "(the defaults)"
    return (f"| `{option}` | {_prose(description)} | {picks} | {sweep_text} | "
            f"{claims_text} |")


def configuration_markdown(conf: Path) -> str:
    """Every group of ``conf`` with every option and every key of it, with the comments the
    files carry; ``experiment`` presets with their sweep and their claims."""
    conf = Path(conf)
    out = []
    top_comments = _comments(conf / "config.yaml")[1]
    top = yaml.safe_load((conf / "config.yaml").read_text(encoding="utf-8"))
    out += ["## Top-level keys", "", "| key | default | meaning |", "| --- | --- | --- |"]
    for key, value in top.items():
        if key in ("defaults", "hydra"):
            continue
        out.append(f"| `{key}` | `{_cell(_value(value))}` | "
                   f"{_prose(top_comments.get(key, ''))} |")
    defaults = [d for d in top.get("defaults", []) if isinstance(d, dict)]
    chosen = {k: v for d in defaults for k, v in d.items() if not k.startswith("override")}
    out.append("")
    for group, options in conf_options(conf).items():
        default = chosen.get(group)
        out += [f"## `{group}`", ""]
        if default:
            out += [f"Default: `{group}={default}`. Pick another with `{group}=<option>`; "
                    f"change one key with `{group}.<key>=<value>`.", ""]
        elif group == "experiment":
            out += ["No preset by default. A preset sets a sweep (run it with "
                    "`python -m experiments.run -m experiment=<preset>`) and declares the "
                    "claims `python -m experiments.claims` tests.", ""]
        else:
            out += [f"Pick one with `{group}=<option>`.", ""]
        if group == "experiment":
            out += ["| preset | what it is | config choices | sweep | claims |",
                    "| --- | --- | --- | --- | --- |"]
        elif len(options) == 1:
            (option, path), = options.items()
            description = _comments(path)[0]
            out += [f"One option, `{option}`" + (f": {_prose(description)}" if description
                                                 else "."),
                    "", "| key | default | meaning |", "| --- | --- | --- |"]
        else:
            out += ["| option | what it is | keys (defaults) |", "| --- | --- | --- |"]
        for option, path in options.items():
            description, comments = _comments(path)
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if group == "experiment":
                out.append(_preset_row(option, data, description))
            elif len(options) == 1:
                for key, value in data.items():
                    if key != "defaults":
                        out.append(f"| `{key}` | `{_cell(_value(value))}` | "
                                   f"{_prose(comments.get(key, ''))} |")
            else:
                out.append(f"| `{option}` | {_prose(description)} | "
                           f"{_keys_cell(data, comments)} |")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- claims


def _num(x, digits=3) -> str:
    if isinstance(x, str):
        return x
    if x is None:
        return "-"
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return str(x)
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def _a_vs_b(comparison: dict) -> str:
    counts = comparison.get("counts")
    if counts:
        return (f"A sooner in {counts['a_sooner']}/{counts['a_sooner'] + counts['b_sooner']} "
                f"ordered pairs (reached: A {counts['reached_a']}/{counts['pairs']}, "
                f"B {counts['reached_b']}/{counts['pairs']})")
    text = f"{_num(comparison.get('summary_a'))} vs {_num(comparison.get('summary_b'))}"
    ci = comparison.get("ci95")
    if ci and comparison.get("effect") is not None:
        text += (f" (diff {_num(comparison['effect'])}, CI {_num(ci[0])} to "
                 f"{_num(ci[1])})")
    return text


def claims_markdown(path: Path) -> str:
    """The reference verdicts, one row per claim, from ``claims.json`` as
    ``experiments.report --claims`` wrote it."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = [f"Read from `results/reference/claims.json`: {len(data['claims'])} claims; "
           f"α = {data.get('alpha')}, correction: {data.get('correction')}.", "",
           "| claim (`key`) | preset | statistic | A vs B (final runs) | corrected p | "
           "verdict | A/A control |", "| --- | --- | --- | --- | --- | --- | --- |"]
    tally: dict[str, int] = {}
    for claim in data["claims"]:
        comparison = claim.get("comparison") or {}
        verdict = claim.get("verdict", "-")
        tally[verdict] = tally.get(verdict, 0) + 1
        control = (claim.get("control") or {}).get("verdict", "-")
        out.append(f"| {_cell(claim.get('claim', ''))} (`{claim['key']}`) | "
                   f"`{claim.get('preset', '')}` | {claim['statistic']['name']} | "
                   f"{_cell(_a_vs_b(comparison))} | {_num(comparison.get('p_holm'))} | "
                   f"**{verdict}** | {control} |")
    out += ["", "Verdicts: " + ", ".join(f"{v} {n}" for v, n in sorted(tally.items())) + "."]
    missing = data.get("not_evaluated") or []
    if missing:
        out += ["", "Not evaluated (runs missing): " + ", ".join(f"`{k}`" for k in missing)]
    return "\n".join(out)


# --------------------------------------------------------------------------- performance


def _doc_summary(module: Path) -> str:
    """The first paragraph of a benchmark's module docstring (one home for what it does)."""
    try:
        doc = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError):
        return ""
    return " ".join(doc.split("\n\n")[0].split())


def _section_markdown(section: dict) -> list[str]:
    out = []
    if section.get("title"):
        out += [f"*{_cell(section['title'])}*", ""]
    rows = section.get("rows") or []
    if rows:
        width = max(len(section.get("columns") or []), *(len(r) for r in rows))
        columns = list(section.get("columns") or [])
        columns += [""] * (width - len(columns))
        if not any(columns):
            columns = ["", *["value"] * (width - 1)]
        out += ["| " + " | ".join(_cell(c) for c in columns) + " |",
                "| " + " | ".join("---:" if i and all(
                    len(r) <= i or _NUMERIC.match(r[i]) for r in rows) else "---"
                    for i in range(width)) + " |"]
        for row in rows:
            if len(row) == 1:  # a group of rows ("## mlp, digits, 30 epochs")
                out.append(f"| **{_cell(row[0])}** |" + " |" * (width - 1))
                continue
            cells = [_cell(row[0]).replace("  ", "&nbsp;&nbsp;"), *map(_cell, row[1:])]
            cells += [""] * (width - len(cells))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    for note in section.get("notes", []):
        out += [f"- {_cell(note)}"]
    if section.get("notes"):
        out.append("")
    return out


def load_records(records: Path) -> list[dict]:
    found = []
    for path in sorted(Path(records).glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["_file"] = path.name
        found.append(record)
    return found


def performance_markdown(records: Path, benchmarks: Path) -> str:
    """Every record, grouped by benchmark, then by machine kind (newest first within a
    machine): a reader compares like with like."""
    out = []
    by_bench: dict[str, list[dict]] = {}
    for record in load_records(records):
        by_bench.setdefault(record["benchmark"], []).append(record)
    if not by_bench:
        return "No benchmark records yet: run a benchmark (it writes one).\n"
    out += ["| benchmark | machine kinds with records | records |", "| --- | --- | ---: |"]
    for bench, recs in sorted(by_bench.items()):
        kinds = sorted({r["machine"]["label"] for r in recs})
        out.append(f"| [`{bench}`](#{bench}) | {_cell('; '.join(kinds))} | "
                   f"{len(recs)} |")
    out.append("")
    for bench, recs in sorted(by_bench.items()):
        out += [f"## {bench}", ""]
        summary = _doc_summary(Path(benchmarks) / f"{bench}.py")
        if summary:
            out += [summary, ""]
        machines: dict[str, list[dict]] = {}
        for r in recs:
            machines.setdefault(r["machine"]["label"], []).append(r)
        for label, group in sorted(machines.items()):
            out += [f"### {bench} on {label}", ""]
            for r in sorted(group, key=lambda r: r.get("date", ""), reverse=True):
                versions = ", ".join(f"{k} {v}" for k, v in (r.get("versions") or {}).items())
                out += [f"`{_cell(r['command'])}`  ", f"{r.get('date', '')[:10]}; "
                        f"{_cell(r.get('source', ''))}"
                        + (f"; {versions}" if versions else "")
                        + f"; record `benchmarks/records/{r['_file']}`", ""]
                for section in r.get("sections", []):
                    out += _section_markdown(section)
    return "\n".join(out)
