"""Every model builds at a small input size, takes one finite training step and round-trips
through a .keras file."""

import keras
import numpy as np
import pytest

from dlkit import models

SMALL = {
    "mlp": ((64,), {}), "cnn": ((8, 8, 1), {}), "lenet5": ((32, 32, 1), {}),
    "lenet5_modern": ((28, 28, 1), {}), "alexnet": ((32, 32, 3), {"width": 0.125}),
    "googlenet": ((32, 32, 3), {"width": 0.125}), "resnet18": ((32, 32, 3), {}),
    "resnet34": ((32, 32, 3), {}), "resnet50": ((32, 32, 3), {}),
    "resnet20": ((16, 16, 3), {}), "resnet32": ((16, 16, 3), {}),
    "resnet56": ((16, 16, 3), {}), "rnn": ((10, 2), {}), "lstm": ((10, 2), {}),
    "cnn1d": ((40, 1), {}),
}
HEAVY = {"alexnet", "resnet18", "resnet20", "resnet32", "resnet34", "resnet50", "resnet56",
         "googlenet"}


def test_registry_covers_every_model():
    assert sorted(SMALL) == models.names()


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in sorted(SMALL)])
def test_build_train_step_and_keras_file(name, tmp_path, rng):
    shape, kwargs = SMALL[name]
    model = models.get(name, shape, 3, **kwargs)
    x = rng.uniform(size=(4, *shape)).astype("float32")
    y = rng.integers(0, 3, size=4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    model.save(tmp_path / f"{name}.keras")
    loaded = keras.saving.load_model(tmp_path / f"{name}.keras")
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                               np.asarray(model.predict(x, verbose=0)), rtol=1e-4, atol=1e-5)


def test_cnn1d_is_mnist1ds_baseline_cnn():
    """Kernel 5, 3, 3 with 25 channels, stride 2 and one step of padding: 40 -> 19 -> 10 -> 5
    steps, so 25·5 = 125 features reach the output layer."""
    model = models.get("cnn1d", (40, 1), 10)
    conv = [(1 * 5 + 1) * 25, (25 * 3 + 1) * 25, (25 * 3 + 1) * 25]
    assert model.count_params() == sum(conv) + (125 + 1) * 10
    assert model.get_layer("flatten").output.shape[1:] == (125,)
    pooled = models.get("cnn1d", (40, 1), 10, pooling=True)
    assert pooled.get_layer("flatten").output.shape[1:] == (4 * 25,)  # 38->19, 19->9, 9->4
    with pytest.raises(ValueError, match="sequence inputs"):
        models.get("cnn1d", (8, 8, 1), 10)


def test_googlenet_aux_heads_give_three_outputs():
    model = models.get("googlenet", (64, 64, 3), 5, width=0.125, aux_heads=True)
    assert len(model.outputs) == 3


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown model 'vgg'.*alexnet"):
        models.get("vgg", (32, 32, 3), 10)
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        models.get("mlp", (8,), 0)
    with pytest.raises(ValueError, match="dataset.image_size=32"):
        models.get("lenet5", (8, 8, 1), 10)
    with pytest.raises(ValueError, match="sequence inputs"):
        models.get("lstm", (8, 8, 1), 10)
    with pytest.raises(ValueError, match="output_activation must be one of"):
        models.get("mlp", (8,), 3, output_activation="relu")


MODEL_DATA = {
    "mlp": [], "cnn": [], "lenet5": ["dataset.image_size=32"],
    "lenet5_modern": ["dataset.image_size=32"], "alexnet_scaled": ["dataset.image_size=32"],
    "googlenet_scaled": ["dataset.image_size=32"], "resnet20": ["dataset.image_size=16"],
    "resnet18": ["dataset.image_size=32"], "rnn": ["dataset=adding", "loss=mse",
                                                    "dataset.samples=300", "dataset.length=12"],
    "lstm": ["dataset=digits_sequence"],
}


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(MODEL_DATA))
def test_every_model_trains_through_the_cli(model, tmp_path):
    import json
    import subprocess
    import sys

    subset = [] if "dataset=adding" in MODEL_DATA[model] else ["dataset.subset=300"]
    proc = subprocess.run([sys.executable, "-m", "experiments.run", f"model={model}",
                           *MODEL_DATA[model], *subset, "trainer.epochs=1",
                           f"results_dir={tmp_path}", "trainer.verbose=false"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (result,) = [json.loads(p.read_text()) for p in tmp_path.rglob("result.json")]
    assert result["status"] == "completed" and np.isfinite(result["metrics"]["test_loss"])


@pytest.mark.slow
def test_keras_dataset_from_local_npz_through_the_cli(tmp_path):
    import json
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "fashion.npz", x_train=rng.integers(0, 255, (300, 28, 28), np.uint8),
             y_train=np.arange(300) % 10, x_test=rng.integers(0, 255, (60, 28, 28), np.uint8),
             y_test=np.arange(60) % 10)
    proc = subprocess.run([sys.executable, "-m", "experiments.run", "dataset=fashion_mnist",
                           f"dataset.path={tmp_path / 'fashion.npz'}", "model=lenet5_modern",
                           "trainer.epochs=1", f"results_dir={tmp_path}",
                           "trainer.verbose=false"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (result,) = [json.loads(p.read_text()) for p in tmp_path.rglob("result.json")]
    assert result["data"] == {"name": "fashion_mnist", "task": "classification", "train": 270,
                              "val": 30, "test": 60}
