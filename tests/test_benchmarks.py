"""The benchmarks: their records (``benchmarks/_record.py``), the graph census as a property,
bad counts refused, and CPU dry runs. The dry runs carry the ``bench`` marker (run them with
``python -m pytest -m bench``): throughput, every row measured on both paths (``fit`` on
arrays and the CLI), the CPU named in the header, a chosen subset of processes; the
dlkit/Keras crossing; pack engines; and one that shows a record is written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _records_elsewhere(tmp_path, monkeypatch):
    """Dry runs write their records into a temporary folder, never benchmarks/records."""
    monkeypatch.setenv("DLKIT_BENCH_RECORDS", str(tmp_path / "records"))


@pytest.mark.bench
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
    census = [line for line in lines[3:] if line.startswith("# ")]
    assert census[0].startswith("# train-step graph (TensorFlow)") and "identical" in census[0]
    assert census[1].endswith("plain keras extra: none)")  # dlkit's update adds, never lacks
    for line in lines[3:]:
        if line.startswith("# "):
            continue
        if line.endswith("unavailable"):
            unavailable.add(line.rsplit(None, 1)[0].strip())
            continue
        name, rate, ratio, _ = line.rsplit(None, 3)
        rows[name.strip()] = (float(rate), ratio)
    assert {"tensorflow", "tensorflow, plain keras", "tensorflow, CLI (experiments.run)",
            "tensorflow, 32 steps per call", "tensorflow, 32 steps per call, plain keras",
            "jax", "jax, plain keras", "jax, 32 steps per call",
            "jax, 32 steps per call, plain keras", "raw jax"} <= set(rows)
    assert all(rate > 0 for rate, _ in rows.values())
    if has_torch:
        assert rows["pytorch"][1] == "1.00x" and not unavailable
    else:
        assert unavailable == {"pytorch"}


def test_lenet5_train_step_is_plain_keras_op_for_op_and_the_census_sees_a_padding_op(
        monkeypatch):
    """dlkit's lenet5_modern + Adam against the same network from Keras's layers + Keras's
    Adam, as TensorFlow graphs: the forward and backward passes are the same multiset of ops
    on the same shapes; the update adds at most one elementwise op per variable (dlkit's
    Adam scales sqrt(v) by 1/sqrt(1 - beta_2^t), the textbook v-hat, where Keras folds it
    into the step) and lacks none of Keras's. Properties, not op counts: a TensorFlow or
    Keras release may rename or regroup ops. Forcing the explicit padding through
    keras.ops.pad (instead of one ``same`` convolution) must show up as a difference, or the
    census could not fail."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("a TensorFlow graph census")
    from benchmarks.throughput import _data, _plain_keras_lenet, graph_census
    from dlkit import layers, models, optimizers

    x, y = _data(128)
    plain_pass, plain_update = graph_census(_plain_keras_lenet(),
                                            keras.optimizers.Adam(epsilon=1e-8), x, y)
    model = models.get("lenet5_modern", (28, 28, 1), 10)
    dlkit_pass, dlkit_update = graph_census(model, optimizers.get("adam"), x, y)
    assert dlkit_pass == plain_pass
    assert {kind for kind, _ in dlkit_pass} >= {"Conv2D", "Conv2DBackpropFilter", "MaxPool",
                                                "MaxPoolGrad", "MatMul", "ReluGrad"}
    shapes = [tuple(v.shape) for v in model.trainable_variables]
    extra = dlkit_update - plain_update
    assert sum(extra.values()) <= len(shapes)  # at most one extra op per variable
    for (_, shape), n in extra.items():  # each elementwise: a variable's own shape
        assert n <= shapes.count(shape), (shape, n)
    assert not plain_update - dlkit_update

    monkeypatch.setattr(layers.Conv2D, "_explicit_is_same", lambda self: False)
    padded_pass, _ = graph_census(models.get("lenet5_modern", (28, 28, 1), 10),
                                  optimizers.get("adam"), x, y)
    extra = padded_pass - plain_pass  # the pad and its gradient: ops on the 32x32 input
    assert extra and {shape for _, shape in extra} == {(128, 32, 32, 1)}


@pytest.mark.bench
def test_run_breakdown_dry_run_times_every_phase_and_one_step_per_call():
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run_breakdown", "--repeats", "1",
                           "--epochs", "2"], cwd=root, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert out.count("## ") == 2 and out.count("steps_per_execution=auto") == 2
    for label in ("data load + split", "per-epoch checkpoint + state.json",
                  "fit (all epochs, incl. per-epoch work)", "evaluate train/val/test"):
        assert out.count(label) >= 2, out
    ratios = [float(line.split("(auto ")[1].split("x")[0]) for line in out.splitlines()
              if "steps_per_execution=1" in line]
    assert len(ratios) == 4 and all(r > 0 for r in ratios)


@pytest.mark.bench
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


def test_run_breakdown_times_the_phases_a_run_calls(tmp_path):
    """Each phase the run breakdown times is counted as often as a 2-epoch run calls it: a
    timer set on a name another module only re-exports counts nothing, since the callers
    reach the function in the module that defines it."""
    from benchmarks.run_breakdown import Timers, _compose, instrumented
    from experiments.lifecycle import execute

    timers = Timers()
    cfg = _compose(tmp_path, ["trainer.epochs=2", "dataset.subset=400"])
    with instrumented(timers):
        execute(cfg, verbose=False)
    assert {label: timers.calls[label] for label in (
        "data load + split", "model build + compile", "fit (all epochs, incl. per-epoch work)",
        "  per-epoch checkpoint + state.json", "evaluate train/val/test", "save model.keras")} \
        == {"data load + split": 1, "model build + compile": 1,
            "fit (all epochs, incl. per-epoch work)": 1,
            "  per-epoch checkpoint + state.json": 2, "evaluate train/val/test": 1,
            "save model.keras": 1}


def test_sweep_breakdown_times_each_function_in_its_defining_module():
    """A timer on a module's function reaches the callers only in the module that defines
    it (a name re-exported elsewhere is a copy no caller uses), so every phase that is a
    module's function names that module."""
    import importlib

    from benchmarks.sweep_breakdown import PHASES

    for module, path, _ in PHASES:
        owner = importlib.import_module(module)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        if not parents:
            assert getattr(owner, name).__module__ == module, (module, path)


def test_sweep_breakdown_refuses_bad_counts(capsys):
    from benchmarks.sweep_breakdown import main

    assert main(["--rates", "9"]) == 2
    assert "--rates 1-6 (at least 2 runs)" in capsys.readouterr().err


def test_keras_twin_table_medians_and_paired_ratio_from_known_rates():
    """The arithmetic of the crossed table on rates written by hand: medians, each against
    the twin with Keras's Adam, and the median of the per-round paired ratios (which here
    differs from the ratio of the medians, so the two cannot be confused)."""
    from benchmarks.keras_twin import PROGRAMS, table

    rates = {PROGRAMS[0]: [100.0, 300.0, 110.0], PROGRAMS[1]: [90.0, 90.0, 90.0],
             PROGRAMS[2]: [200.0, 200.0, 200.0], PROGRAMS[3]: [100.0, 100.0, 200.0]}
    lines = table(rates)
    columns = {line[:26].strip(): line[26:].split()[:4] for line in lines[1:5]}
    assert columns[PROGRAMS[0]] == ["110", "1.100x", "300", "1.500x"]  # best 300 : 200
    assert columns[PROGRAMS[2]] == ["200", "2.000x", "200", "1.000x"]
    assert columns[PROGRAMS[3]] == ["100", "1.000x", "200", "1.000x"]
    # paired ratios 1.0, 3.0, 0.55 -> median 1.0 (the ratio of medians is 1.1)
    assert lines[-1].endswith("= 1.000x over 3 rounds")


@pytest.mark.bench
def test_keras_twin_dry_run_times_all_four_programs_every_round(capsys):
    from benchmarks._timing import machine
    from benchmarks.keras_twin import PROGRAMS, main

    assert main(["--rounds", "2", "--samples", "256", "--epochs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert machine() in lines[0] and "1 step per call" in lines[0]
    for name, line in zip(PROGRAMS, lines[2:6]):
        assert line.startswith(name)
        per_round = [float(v) for v in line[26:].split()[4:]]
        assert len(per_round) == 2 and all(v > 0 for v in per_round)
    assert lines[6].endswith("over 2 rounds")


@pytest.mark.parametrize("argv", [["--rounds", "0"], ["--steps-per-execution", "-1"]])
def test_keras_twin_refuses_bad_counts(capsys, argv):
    from benchmarks.keras_twin import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and argv[1] in err[0] and "accepted" in err[0]


@pytest.mark.parametrize("argv", [["--processes", "tensorflow,pytroch"], ["--rounds", "0"]])
def test_throughput_refuses_unknown_processes_and_bad_counts(capsys, argv):
    from benchmarks.throughput import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and argv[1] in err[0] and "tensorflow,cli,onednn-off" in err[0]


@pytest.mark.bench
def test_throughput_dry_run_of_two_processes_prints_only_their_rows():
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.throughput", "--rounds", "1",
                           "--samples", "512", "--epochs", "1", "--processes", "cli,raw-jax"],
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines()[3:] if not line.startswith("# ")]
    assert [row[:56].strip() for row in rows] == ["tensorflow, CLI (experiments.run)", "raw jax"]
    for row in rows:  # no PyTorch and no keras worker: no ratio and no MACs, a rate each
        rate, ratio, fraction = row[56:].split()
        assert float(rate) > 0 and ratio == "-" and fraction == "-"


CPUINFO = """processor\t: 0
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw
processor\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw amx_tile
"""


def test_record_names_the_cpu_its_vector_units_and_the_versions():
    from benchmarks import _record

    found = _record.cpu(CPUINFO)
    assert found["cpu"] == "AMD EPYC 7B13"  # the first processor's lines only
    assert found["flags"] == ["avx2", "avx512f"]
    assert found["label"] == f"AMD EPYC 7B13 (AVX-512), {found['cores']} cores"
    assert _record.machine_label("X", ["avx2"], 2) == "X (AVX2), 2 cores"
    assert _record.machine_label("X", ["avx2", "avx512f", "amx_tile"], 4) == \
        "X (AVX-512, AMX), 4 cores"
    assert _record.machine_label("X", [], 1) == "X, 1 cores"
    import platform

    versions = _record.versions()
    assert versions["python"] == platform.python_version()
    import keras

    assert versions["keras"] == keras.__version__


def test_record_sections_keep_every_figure_of_a_printed_table():
    from benchmarks._record import sections

    printed = """# train step, cnn on 8x8x1, batch 64; AMD EPYC, 2 cores
# a second title line is a note
optimizer     dlkit (ms)  keras (ms)   ratio
sgd                8.124       7.996   1.016
cross_entropy (sparse)   2248.4   2492.8   0.902
worst ratio 1.018 (target <= 1.05)

# where a run's time goes
## mlp, digits, 30 epochs
data load + split                                            0.025 s   0.5%
  per-epoch history.csv                                      0.037 s   0.7%
pytorch                                                unavailable
"""
    first, second = sections(printed)
    assert first["title"] == "train step, cnn on 8x8x1, batch 64; AMD EPYC, 2 cores"
    assert first["columns"] == ["optimizer", "dlkit (ms)", "keras (ms)", "ratio"]
    assert first["rows"] == [["sgd", "8.124", "7.996", "1.016"],
                             ["cross_entropy (sparse)", "2248.4", "2492.8", "0.902"]]
    assert first["notes"] == ["a second title line is a note",
                              "worst ratio 1.018 (target <= 1.05)"]
    assert second["columns"] == []
    assert second["rows"] == [["mlp, digits, 30 epochs"],
                              ["data load + split", "0.025 s", "0.5%"],
                              ["  per-epoch history.csv", "0.037 s", "0.7%"],
                              ["pytorch", "unavailable"]]


def test_record_run_writes_on_success_only_and_never_for_a_worker(tmp_path, capsys):
    from benchmarks._record import run

    def body(argv):
        print("# a table\nway   wall (s)\nbasic   80.4")
        return int(argv[0]) if argv and argv[0].isdigit() else 0

    folder = tmp_path / "records"
    assert run("demo", body, ["--rounds", "1"]) == 0
    (path,) = folder.glob("demo_*.json")
    record = json.loads(path.read_text())
    assert record["command"] == "python -m benchmarks.demo --rounds 1"
    assert record["source"] == "measured" and record["benchmark"] == "demo"
    assert record["sections"][0]["rows"] == [["basic", "80.4"]]
    assert {"cpu", "flags", "cores", "label"} <= set(record["machine"])
    assert record["date"].endswith("+00:00") and "python" in record["versions"]
    assert capsys.readouterr().out.startswith("# a table")  # the console still sees it
    assert run("demo", body, ["2"]) == 2  # bad input or a failure: no record
    assert run("demo", body, ["--worker", "keras"]) == 0  # a worker's JSON: no record
    assert len(list(folder.glob("demo_*.json"))) == 1


@pytest.mark.bench
def test_a_benchmark_dry_run_writes_its_table_as_a_record(tmp_path):
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.layers", "--repeats", "1"],
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = (tmp_path / "records").glob("layers_*.json")
    record = json.loads(path.read_text())
    rows = {row[0]: row[1:] for row in record["sections"][0]["rows"]}
    printed = {line[:16].strip(): line[16:].split() for line in proc.stdout.splitlines()[2:6]}
    assert rows == printed and set(rows) == {"keras same", "dlkit same", "dlkit [1,1]",
                                             "dlkit [0,2]"}
    assert record["command"] == "python -m benchmarks.layers --repeats 1"
