"""Every experiment preset composes into a sweep over at least 3 seeds, and runs through the
real CLI at a tiny size (one epoch, one seed, a data subset)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

CONF = Path(__file__).resolve().parents[1] / "conf"
PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml") if p.stem != "ravine")
# ravine.yaml holds claims about optimizer paths, not training runs (test_protocol.py)
EXPECTED = {"gd_regimes", "optimizers", "loss_activation", "mse_vs_ce", "depth_vanishing",
            "init_symmetry", "batchnorm", "architectures", "rnn_vs_lstm", "lr_schedules",
            "pooling"}

# overrides that collapse each sweep to one or two tiny runs
TINY = {
    "gd_regimes": ["trainer.batch_size=64,full"],
    "optimizers": ["optimizer=adam,sgd", "trainer.lr_scale=1.0"],
    "loss_activation": ["loss=mse,hinge", "activation=tanh"],
    "mse_vs_ce": ["loss=mse"],
    "depth_vanishing": ["activation=sigmoid", "model.depth=3"],
    "init_symmetry": ["model.kernel_initializer=constant"],
    "batchnorm": ["model.batchnorm=true"],
    "architectures": ["model=lenet5,googlenet_scaled"],
    "rnn_vs_lstm": ["model=lstm", "dataset.length=10", "dataset.samples=200"],
    "lr_schedules": ["schedule=plateau,cosine"],
    "pooling": ["model.pooling=true,false"],
}


def test_every_seed_claim_has_a_preset():
    assert EXPECTED <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("scale", ["small", "full"])
def test_preset_is_a_sweep_over_three_seeds(preset, scale):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={preset}", f"scale={scale}"],
                      return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert len(str(params["seed"]).split(",")) >= 3
    assert cfg.name == preset and cfg.trainer.epochs > 0


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_at_tiny_size(preset, tmp_path):
    subset = [] if preset == "rnn_vs_lstm" else ["dataset.subset=300"]
    if preset == "loss_activation":
        subset = []
    args = ["-m", f"experiment={preset}", "trainer.epochs=1", "seed=0", *TINY[preset], *subset,
            f"results_dir={tmp_path}", "trainer.verbose=false"]
    proc = subprocess.run([sys.executable, "-m", "experiments.run", *args], cwd=tmp_path,
                          env={**os.environ}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads(p.read_text()) for p in (tmp_path / preset).rglob("result.json")]
    assert results and all(r["status"] in ("completed", "diverged") for r in results)
    # the report renders the preset's figures, each with the CSV of what it draws
    report = subprocess.run([sys.executable, "-m", "experiments.report", str(tmp_path),
                             "--figures", "--out", str(tmp_path / "out")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr
    pngs = sorted((tmp_path / "out").glob(f"{preset}_*.png"))
    assert pngs, report.stdout
    for png in pngs:
        assert png.stat().st_size > 10_000 and png.with_suffix(".csv").exists()
