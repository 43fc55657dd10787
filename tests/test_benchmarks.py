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


@pytest.mark.slow
def test_sweep_breakdown_dry_run_times_the_phases_of_a_packed_sweep():
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.sweep_breakdown", "--epochs", "2",
                           "--seeds", "2", "--rates", "1"], cwd=root,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("# packed sweep of 2 runs (seed=0,1 optimizer.learning_rate=")
    rows = {line[:48].strip(): line[48:].split() for line in lines[2:]}
    assert rows["Hydra composes a job's configuration"][1] == "2"  # once per job
    assert rows["train epochs (TensorFlow)"][1] == "2"  # one call per epoch for the pack
    assert rows["per-run epoch end (files)"][1] == "4"  # 2 runs x 2 epochs
    assert rows["launcher pass (finds packed runs done)"][1] == "2"
    seconds = {k: float(v[0]) for k, v in rows.items()}
    assert 0 < seconds["train the pack (all epochs)"] < seconds["packing: every pack of the sweep"]
    assert seconds["packing: every pack of the sweep"] < seconds["whole process (from its start)"]


def test_sweep_breakdown_refuses_bad_counts(capsys):
    from benchmarks.sweep_breakdown import main

    assert main(["--rates", "9"]) == 2
    assert "--rates 1-6 (at least 2 runs)" in capsys.readouterr().err
