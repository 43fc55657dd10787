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
]


@pytest.mark.parametrize("what,call,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_value_error(what, call, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        call(tmp_path)

