"""One table of bad inputs to dlkit's constructors and files: each raises ValueError with a
message naming the bad value and what is accepted. (The CLI's own table is in test_cli.py:
bad overrides exit non-zero before training and leave no result.json.)"""

import numpy as np
import pytest

from dlkit import complexity, data, layers, losses, models, optimizers


def _corrupt(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"\x00not an npz")
    return str(path)


def _checkpoint(tmp_path):
    from dlkit.training import checkpoint

    path = tmp_path / "epoch_0001.npz"
    path.write_bytes(b"garbage")
    return lambda: checkpoint.read(path)


CASES = [
    ("unknown loss", lambda t: losses.get("focal"), r"'focal'.*cross_entropy"),
    ("unknown optimizer", lambda t: optimizers.get("lion"), r"'lion'.*adam"),
    ("unknown model", lambda t: models.get("vgg16", (32, 32, 3), 10), r"'vgg16'.*resnet20"),
    ("unknown dataset", lambda t: data.load("imagenet"), r"'imagenet'.*digits"),
    ("negative learning rate", lambda t: optimizers.get("sgd", learning_rate=-1.0),
     r"learning_rate must be a positive.*-1.0"),
    ("beta_1 = 1", lambda t: optimizers.get("adam", beta_1=1.0), r"beta_1.*\[0.0, 1.0\).*1.0"),
    ("rho > 1", lambda t: optimizers.get("rmsprop", rho=2.0), r"rho.*\[0.0, 1.0\].*2.0"),
    ("string epsilon", lambda t: losses.get("mse", epsilon="tiny"), r"epsilon.*'tiny'"),
    ("from_logits not bool", lambda t: losses.get("logistic", from_logits="yes"),
     r"from_logits must be True or False.*'yes'"),
    ("padding of 3 pairs", lambda t: layers.Conv2D(8, 3, padding=[[0, 0], [1, 1], [1, 1]]),
     r"\[\[0, 0\], \[1, 1\], \[1, 1\]\].*\"valid\", \"same\""),
    ("channel padding", lambda t: layers.Conv2D(8, 3, padding=[[0, 0], [1, 1], [1, 1], [1, 0]]),
     r"batch and channel padding must be \[0, 0\]"),
    ("negative padding", lambda t: layers.Conv2D(8, 3, padding=[[0, 0], [-1, 1], [1, 1], [0, 0]]),
     r"-1.*non-negative integers"),
    ("mismatched loss shapes", lambda t: losses.get("mse")(np.zeros((4, 3)), np.zeros((4, 5))),
     r"\(4, 3\).*\(4, 5\)"),
    ("zero classes", lambda t: models.get("mlp", (8,), 0), r"num_classes must be a positive.*0"),
    ("zero-sized input", lambda t: models.get("cnn", (0, 8, 1), 10), r"input_shape.*\(0, 8, 1\)"),
    ("image too small", lambda t: models.get("lenet5", (8, 8, 1), 10),
     r"at least 32x32.*dataset.image_size=32"),
    ("zero stride", lambda t: complexity.conv_output_size(32, 3, 0), r"stride.*0"),
    ("missing dataset file", lambda t: data.load("mnist", path=str(t / "none.npz")),
     r"none.npz.*does not exist.*x_train"),
    ("corrupt dataset file", lambda t: data.load("cifar10", path=_corrupt(t)),
     r"corrupt.npz.*not a readable .npz"),
    ("corrupt checkpoint", lambda t: _checkpoint(t)(), r"epoch_0001.npz.*cannot be loaded"),
    ("adding length 1", lambda t: data.load("adding", length=1), r"dataset.length.*>= 2.*1"),
    ("subset not an int", lambda t: data.load("digits", subset="abc"),
     r"dataset.subset must be a positive int or null, got 'abc'"),
    ("fraction not a number", lambda t: data.load("digits", val_fraction="abc"),
     r"dataset.val_fraction must be a number in \(0, 1\), got 'abc'"),
    ("subset too small to split", lambda t: data.load("digits", subset=5),
     r"dataset=digits with dataset.subset=5 cannot be split into train, validation and test "
     r"sets \(5 examples: .*\); use a larger dataset.subset"),
]


@pytest.mark.parametrize("what,call,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_value_error(what, call, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        call(tmp_path)



# ---- the run's own settings and files: refused in one line, before training, leaving nothing

def _npz(tmp_path, name, **changes):
    good = {"x_train": np.zeros((40, 8, 8), "uint8"), "y_train": np.arange(40) % 2,
            "x_test": np.zeros((10, 8, 8), "uint8"), "y_test": np.arange(10) % 2}
    path = tmp_path / f"{name}.npz"
    np.savez(path, **({} if changes.get("empty") else {**good, **changes}))
    return ["dataset=mnist", f"dataset.path={path}"]


RUN_CASES = [
    ("seed too large", lambda t: ["seed=4294967296"], "seed=4294967296 is not accepted: it "
     "must be an int from 0 to 4294967295"),
    ("subset not a number", lambda t: ["dataset.subset=abc"], "dataset.subset='abc' is not "
     "accepted: it must be a positive int"),
    ("subset too small to split", lambda t: ["dataset.subset=5"], "dataset=digits with "
     "dataset.subset=5"),
    ("fraction not a number", lambda t: ["dataset.val_fraction=abc"],
     "dataset.val_fraction='abc' is not accepted: it must be a number in (0, 1)"),
    ("empty test split", lambda t: ["dataset.test_fraction=0.0001"],
     "dataset.test_fraction=0.0001 cannot be split into train, validation and test sets"),
    ("empty npz", lambda t: _npz(t, "empty", empty=True), "lacks arrays"),
    ("test images of another shape", lambda t: _npz(t, "shape", x_test=np.zeros((10, 9, 9))),
     "x_test holds examples of shape (9, 9, 1), the training set (8, 8, 1)"),
    ("one class", lambda t: _npz(t, "one", y_train=np.zeros(40, "int64")),
     "the training set holds one class ([0]); classification needs at least two"),
    ("300-character name", lambda t: ["name=" + "n" * 300], "(300 bytes) is not accepted: a "
     "folder name has at most 255 bytes"),
]


@pytest.mark.parametrize("what,overrides,message", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_a_bad_run_setting_is_one_line_and_leaves_nothing(tmp_path, what, overrides, message):
    from experiments.lifecycle import execute
    from experiments.spec import RunSpecError
    from tests.test_spec import config

    out = tmp_path / "out"
    cfg = config(out, "trainer.epochs=1", "trainer.verbose=false", *overrides(tmp_path))
    with pytest.raises(RunSpecError) as info:
        execute(cfg, verbose=False)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not out.exists()  # no run folder, not even one holding only its lock


def test_a_results_dir_that_cannot_be_made_is_one_line(tmp_path):
    from experiments.lifecycle import execute
    from experiments.spec import RunSpecError
    from tests.test_spec import config

    with pytest.raises(RunSpecError, match=r"results_dir='/proc/x' is not accepted: /proc, "
                                           r"where it would be made, cannot be written"):
        execute(config("/proc/x"), verbose=False)


def test_a_read_only_results_dir_is_one_line(tmp_path, monkeypatch):
    """Simulated (a root user may write to a read-only folder): the folder refuses writes."""
    import os

    from experiments.lifecycle import execute
    from experiments.spec import RunSpecError
    from tests.test_spec import config

    out = tmp_path / "read-only"
    out.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(out)
                        else real(p, mode, **kw))
    with pytest.raises(RunSpecError, match=r"results_dir='.*read-only' is not accepted: it "
                                           r"cannot be written \(Permission denied\)"):
        execute(config(out), verbose=False)
    assert not list(out.iterdir())


def test_a_run_folder_that_cannot_be_made_is_one_line(tmp_path, monkeypatch):
    """The check passed, then the folder could not be made (a full or lost disk): one line,
    not a traceback."""
    from pathlib import Path

    from experiments.lifecycle import execute
    from experiments.spec import RunSpecError
    from tests.test_spec import config

    def refuse(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    cfg = config(tmp_path / "out")
    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(RunSpecError, match=r"the run folder .* cannot be made \(No space left"):
        execute(cfg, verbose=False)
