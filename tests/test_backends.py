"""Backends, precision, devices and launchers through the real CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST, cli


def results(root):
    return [json.loads(p.read_text()) for p in sorted(Path(root).rglob("result.json"))]


@pytest.mark.slow
def test_short_sweep_under_jax(tmp_path):
    pytest.importorskip("jax")
    cli("-m", "backend=jax", "seed=0,1", *FAST, f"results_dir={tmp_path}", cwd=tmp_path)
    runs = results(tmp_path)
    assert len(runs) == 2
    assert {r["versions"]["keras_backend"] for r in runs} == {"jax"}
    assert all(r["status"] == "completed" and r["metrics"]["test_accuracy"] > 0.3 for r in runs)


@pytest.mark.parametrize("setting,enabled", [(None, "True"),
                                             pytest.param("0", "False", marks=pytest.mark.slow),
                                             pytest.param("1", "True", marks=pytest.mark.slow)])
@pytest.mark.slow  # heavy end to end; CI runs it (README command stays fast)
def test_tensorflow_starts_with_onednn_unless_the_environment_says_otherwise(setting, enabled):
    pytest.importorskip("tensorflow")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    code = ("from experiments.tf_startup import start_tensorflow; start_tensorflow(); "
            "from tensorflow.python.util import _pywrap_util_port as port; "
            "print(port.IsMklEnabled())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == enabled


@pytest.mark.slow
def test_without_tensorflow_history_and_result_still_written(tmp_path):
    pytest.importorskip("jax")
    script = ("import sys, runpy; sys.modules['tensorflow'] = None; "
              "sys.argv = ['experiments.run'] + sys.argv[1:]; "
              "runpy.run_module('experiments.run', run_name='__main__')")
    proc = cli("backend=jax", *FAST, f"results_dir={tmp_path}", cwd=tmp_path,
               env={"KERAS_BACKEND": "jax"}, prefix=[sys.executable, "-c", script])
    assert proc.stderr.count("TensorBoard logs need tensorflow and tensorboard") == 1
    (run,) = [p.parent for p in tmp_path.rglob("result.json")]
    assert (run / "history.csv").exists() and not list(tmp_path.rglob("tensorboard"))
    assert results(tmp_path)[0]["status"] == "completed"


@pytest.mark.parametrize("extra", [
    pytest.param(["trainer.precision=mixed_bfloat16"], marks=pytest.mark.slow),
    pytest.param(["trainer.precision=mixed_float16", "trainer.diagnostics=true"],
                 marks=pytest.mark.slow),
    pytest.param(["trainer.distribute=true", "trainer.jit_compile=true",
                  "trainer.deterministic=false", "trainer.diagnostics=true"],
                 marks=pytest.mark.slow),
    pytest.param(["trainer.device=cpu", "schedule=plateau"], marks=pytest.mark.slow),
])
def test_precision_distribution_and_device(tmp_path, extra):
    cli(*extra, *FAST, f"results_dir={tmp_path}", cwd=tmp_path)
    (result,) = results(tmp_path)
    assert result["status"] == "completed" and result["metrics"]["test_accuracy"] > 0.3


@pytest.mark.slow
def test_gpu_requested_without_gpu_is_a_clear_error(tmp_path):
    from dlkit.training.environment import gpu_names

    if gpu_names():
        pytest.skip("this machine has a GPU")
    proc = cli("trainer.device=gpu", *FAST, f"results_dir={tmp_path}", cwd=tmp_path,
               check=False)
    assert proc.returncode != 0 and "no GPU is visible" in proc.stderr
    assert not results(tmp_path)


@pytest.mark.slow
def test_bad_backend_and_precision(tmp_path):
    proc = cli("backend=mxnet", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "use tensorflow, jax or torch" in proc.stderr
    proc = cli("trainer.precision=fp8", f"results_dir={tmp_path}", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "trainer.precision='fp8' is not accepted" in proc.stderr


@pytest.mark.slow
def test_submitit_local_launcher(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cli("-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10", "seed=0,1",
        *FAST, f"results_dir={tmp_path}", cwd=tmp_path)
    runs = results(tmp_path)
    assert len(runs) == 2 and all(r["status"] == "completed" for r in runs)


@pytest.mark.slow
def test_gpu_check_script_dry_run_without_gpu(tmp_path):
    """``benchmarks/gpu_check.sh`` end to end on CPU (``DLKIT_GPU_CHECK_DEVICE=auto``): the
    JAX sweep completes and each run reports its rate, device, XLA and precision."""
    pytest.importorskip("jax")
    root = Path(__file__).resolve().parents[1]
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "DLKIT_GPU_CHECK_DEVICE": "auto", "DLKIT_GPU_CHECK_EPOCHS": "2",
           "OUT": str(tmp_path),
           "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", str(root / "benchmarks" / "gpu_check.sh")], cwd=root,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if ": completed," in line]
    assert len(lines) == 2, proc.stdout
    for line in lines:
        assert "backend jax" in line and "XLA jit_compile=True" in line
        assert "precision=mixed_bfloat16" in line
        rate = float(line.split(" samples/s")[0].rsplit(" ", 1)[1])
        assert rate > 0
    assert len(results(tmp_path / "gpu_check")) == 2
    packed = [line for line in proc.stdout.splitlines() if line.startswith("packed-jax ")]
    assert len(packed) == 1 and float(packed[0].split()[2]) > 0  # runs/min


@pytest.mark.parametrize("gpus,job,preset,expected", [
    (3, 4, None, "1"), (3, 2, None, "2"), (1, 5, None, None), (0, 1, None, None),
    (4, 1, "3", None),
])
def test_parallel_worker_is_pinned_to_one_gpu(gpus, job, preset, expected, tmp_path,
                                              monkeypatch):
    """Job k of a parallel sweep takes GPU k mod n from ``nvidia-smi -L`` (a fake one here);
    one GPU, none, or a CUDA_VISIBLE_DEVICES already set leave the worker alone."""
    from experiments.devices import assign_worker_gpu

    fake = tmp_path / "nvidia-smi"
    listing = "".join(f"GPU {i}: NVIDIA H100 (UUID: GPU-{i})\\n" for i in range(gpus))
    fake.write_text(f"#!/bin/sh\nprintf '{listing}'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    if preset is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", preset)
    assert assign_worker_gpu(job) == expected
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == (expected or preset)
