"""The benchmarks' CPU dry runs. Throughput: every row measured, both paths (``fit`` on arrays
and the CLI), the CPU named in the header; pack engines: both timed, bad counts refused."""

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_throughput_benchmark_dry_run_measures_every_row_and_names_the_cpu():
    import importlib.util

    from benchmarks._timing import machine

    has_torch = importlib.util.find_spec("torch") is not None  # the bench extra

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.throughput", "--rounds", "1",
                           "--samples", "1024", "--epochs", "1"], cwd=root,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert machine().rsplit(",", 1)[0] in lines[0]  # the CPU model, e.g. "AMD EPYC, 2 cores"
    rows, unavailable = {}, set()
    for line in lines[3:]:
        if line.endswith("unavailable"):
            unavailable.add(line.rsplit(None, 1)[0].strip())
            continue
        name, rate, ratio, _ = line.rsplit(None, 3)
        rows[name.strip()] = (float(rate), ratio)
    assert {"tensorflow", "tensorflow, plain keras", "tensorflow, CLI (experiments.run)",
            "jax", "jax, plain keras", "raw jax"} <= set(rows)
    assert all(rate > 0 for rate, _ in rows.values())
    if has_torch:
        assert rows["pytorch"][1] == "1.00x" and not unavailable
    else:
        assert unavailable == {"pytorch"}


@pytest.mark.slow
def test_pack_engines_benchmark_dry_run_times_both_engines():
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.pack_engines", "--packs", "2",
                           "--runs", "2", "--epochs", "1", "--rounds", "1"], cwd=root,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[2:4]}
    assert set(rows) == {"stateless", "per-model"}
    assert all(v > 0 for values in rows.values() for v in values)
    assert lines[-1].startswith("per-model / stateless time: ")


def test_pack_engines_benchmark_refuses_bad_counts(capsys):
    from benchmarks.pack_engines import main

    assert main(["--runs", "1"]) == 2
    assert "--runs at least 2 (got 4, 1, 30, 2)" in capsys.readouterr().err
