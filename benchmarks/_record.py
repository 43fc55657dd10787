"""Benchmark results as records: every benchmark's ``main`` runs its body through ``run``,
which passes the printed table through to the console and, when the benchmark ends with
status 0,
writes the same figures as one JSON file under ``benchmarks/records/`` (or
``$DLKIT_BENCH_RECORDS``): the tables, the machine (CPU model, its vector flags, cores), the
versions of Python and the frameworks, the date and the command line.

The documentation's performance page is generated from these files (``docs/hooks.py``), so
a figure lives in one place: the record a run wrote.

A record::

    {"benchmark": "losses", "command": "python -m benchmarks.losses --repeats 30",
     "date": "2026-05-01T12:00:00+00:00", "source": "measured",
     "machine": {"cpu": "AMD EPYC", "flags": ["avx2"], "cores": 2,
                 "label": "AMD EPYC (AVX2), 2 cores"},
     "versions": {"python": "3.11.7", "tensorflow": "2.21.0", ...},
     "sections": [{"title": "loss value + gradient, batch 4096x10; ...",
                   "columns": ["loss", "dlkit (us)", "keras (us)", "ratio"],
                   "rows": [["mse", "870.8", "848.3", "1.027"], ...],
                   "notes": ["worst ratio 1.027 (target <= 1.10)"]}]}

Cells keep the printed text (``"1.00x"``, ``"0.5%"``), so the page shows what the console
showed.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import platform
import re
import sys
from pathlib import Path

RECORDS = Path(__file__).resolve().parent / "records"
ENV = "DLKIT_BENCH_RECORDS"  # another folder for the records (the tests' dry runs use one)
FLAGS = ("avx2", "avx512f", "amx_tile")  # the vector units that decide oneDNN's kernels
PACKAGES = ("tensorflow", "keras", "jax", "torch", "numpy")
_CELL = re.compile(r"\s{2,}")
_NUMBER = re.compile(r"^[-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?\s*(x|%|s|ms|us)?$", re.I)


def cpu(cpuinfo: str | None = None) -> dict:
    """The first processor's ``model name`` and which of ``FLAGS`` it has, from
    ``/proc/cpuinfo`` (or the text given); the core count from ``os.cpu_count``."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
    model, flags = None, set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model is None:
            model = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
            break
    model = model or platform.processor() or platform.machine()
    have = [flag for flag in FLAGS if flag in flags]
    return {"cpu": model, "flags": have, "cores": os.cpu_count(),
            "label": machine_label(model, have, os.cpu_count())}


def machine_label(model: str, flags, cores) -> str:
    """``Intel(R) Xeon(R) Processor (AVX-512, AMX), 2 cores``: what the page groups by."""
    width = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    units = [u for u in (width, "AMX" if "amx_tile" in flags else None) if u]
    return f"{model}{' (' + ', '.join(units) + ')' if units else ''}, {cores} cores"


def versions() -> dict:
    """Python and every framework of ``PACKAGES`` that is installed (others left out)."""
    from importlib import metadata

    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _cells(line: str) -> list[str]:
    return [cell for cell in _CELL.split(line.strip()) if cell]


def _numeric(cell: str) -> bool:
    return bool(_NUMBER.match(cell)) or cell in ("-", "unavailable", "nan")


def sections(text: str) -> list[dict]:
    """The printed output as sections: each starts at a ``# `` line (its title; further
    ``# `` lines are notes); a line of two or more cells (separated by two or more spaces)
    whose later cells are not numbers is the column header, the lines after it are rows;
    ``## `` lines start a group of rows; anything else is a note."""
    found: list[dict] = []
    current = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith("# "):
            if current is None or current["rows"] or current["columns"]:
                current = {"title": line[2:].strip(), "columns": [], "rows": [], "notes": []}
                found.append(current)
            else:
                current["notes"].append(line[2:].strip())
            continue
        if current is None:
            current = {"title": "", "columns": [], "rows": [], "notes": []}
            found.append(current)
        if line.startswith("## "):
            current["rows"].append([line[3:].strip()])
            continue
        cells = _cells(line)
        if len(cells) >= 2 and not current["columns"] and not current["rows"] \
                and not any(_numeric(c) for c in cells[1:]):
            current["columns"] = cells
        elif len(cells) >= 2 and any(_numeric(c) for c in cells[1:]):
            indent = len(line) - len(line.lstrip())
            current["rows"].append([" " * indent + cells[0], *cells[1:]])
        else:
            current["notes"].append(line.strip())
    return found


def command(benchmark: str, argv) -> str:
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join([f"python -m benchmarks.{benchmark}", *args])


def write(benchmark: str, printed: str, argv=None, folder: Path | str | None = None) -> Path:
    """One record of ``printed`` (a benchmark's console table) into ``folder`` (default
    ``$DLKIT_BENCH_RECORDS`` or ``benchmarks/records``); returns its path."""
    folder = Path(folder or os.environ.get(ENV) or RECORDS)
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    record = {"benchmark": benchmark, "command": command(benchmark, argv),
              "date": now.isoformat(), "source": "measured", "machine": cpu(),
              "versions": versions(), "sections": sections(printed)}
    path = folder / f"{benchmark}_{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{benchmark}_{now.strftime('%Y%m%dT%H%M%SZ')}_{n}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


class _Tee(io.TextIOBase):
    """Writes go to the console and into a buffer."""

    def __init__(self, stream):
        self.stream, self.text = stream, io.StringIO()

    def write(self, text):
        self.text.write(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


def run(benchmark: str, body, argv=None, workers=("--worker", "--bare")) -> int:
    """``body(argv)`` with its console output also kept; when it returns 0 (or None) and
    printed a table, the table is written as a record and the record's path goes to stderr.
    A worker process (``--worker``, ``--bare``: JSON for its parent) writes none, nor does a
    benchmark that stops on bad input or fails."""
    args = sys.argv[1:] if argv is None else list(argv)
    if any(arg.split("=", 1)[0] in workers for arg in args):
        return body(argv) or 0
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        status = body(argv) or 0
    if status == 0 and sections(tee.text.getvalue()):
        path = write(benchmark, tee.text.getvalue(), args)
        print(f"record: {path}", file=sys.stderr)
    return status
