"""dlkit.complexity against the seed's worked numbers and the papers' published sizes."""

import keras
import pytest

from dlkit import complexity, models
from dlkit import layers as dl


def _one_layer(layer, shape):
    model = keras.Sequential([keras.Input(shape), layer])
    return complexity.summary(model, totals=False).iloc[0]


def test_seed_conv_counts():
    row = _one_layer(dl.Conv2D(100, 3, padding="same"), (32, 32, 3))
    assert row["params"] == 2800 and row["flops"] == 5_427_200
    row = _one_layer(dl.Conv2D(64, 3, padding="same"), (224, 224, 3))
    assert row["params"] == 1792 and row["macs"] == 86_704_128
    assert _one_layer(keras.layers.Dense(10), (5,))["params"] == 60


def test_seed_local_connectivity_numbers():
    """The seed's argument for convolution: one neuron seeing a whole 100x100 image has
    10,000 weights; a 10x10 kernel has 100 weights plus a bias, 101 parameters; six such
    kernels 606, while the image size stays 100x100 (same padding)."""
    assert _one_layer(keras.layers.Dense(1, use_bias=False), (100 * 100,))["params"] == 10_000
    row = _one_layer(dl.Conv2D(1, 10, padding="same"), (100, 100, 1))
    assert row["params"] == 101 and row["output_shape"] == (100, 100, 1)
    assert _one_layer(dl.Conv2D(6, 10, padding="same"), (100, 100, 1))["params"] == 606


@pytest.mark.parametrize("n,k,s,padding,expected", [
    (32, 3, 1, "valid", 30), (32, 3, 2, "valid", 15), (7, 2, 2, "same", 4), (224, 3, 1, "same",
                                                                             224),
    (227, 11, 4, "valid", 55), (10, 3, 2, (1, 1), 5), (10, 4, 3, (2, 0), 3), (5, 3, 1, 1, 5),
])
def test_conv_output_size(n, k, s, padding, expected):
    assert complexity.conv_output_size(n, k, s, padding) == expected


def test_conv_output_size_bad_input():
    with pytest.raises(ValueError, match="stride must be a positive int"):
        complexity.conv_output_size(5, 3, 0)
    with pytest.raises(ValueError, match="padding must be"):
        complexity.conv_output_size(5, 3, 1, "full")


def test_lenet5_per_layer_table_of_lecun_1998():
    """LeCun et al. 1998, section II.B: parameters and connections per layer."""
    table = complexity.summary(models.get("lenet5", (32, 32, 1), 10)).set_index("name")
    paper = {"C1": (156, 122_304), "S2": (12, 5_880), "C3": (1_516, 151_600),
             "S4": (32, 2_000), "C5": (48_120, 48_120), "F6": (10_164, 10_164)}
    for layer, (params, connections) in paper.items():
        assert table.loc[layer, "params"] == params, layer
        assert table.loc[layer, "connections"] == connections, layer
    assert table.loc["C1", "output_shape"] == (28, 28, 6)
    assert table.loc["C3", "output_shape"] == (10, 10, 16)
    # "340,908 connections" (section II.B), OUTPUT's 84x10 RBF weights included
    assert table.loc["total", "connections"] == 340_908


@pytest.mark.parametrize("name,shape,classes,expected,source", [
    ("alexnet", (227, 227, 3), 1000, 60_965_224, "Krizhevsky 2012: 60 million, 2-GPU groups"),
    ("resnet20", (32, 32, 3), 10, 0.27e6, "He 2015, table 6: 0.27M"),
    ("resnet32", (32, 32, 3), 10, 0.46e6, "He 2015, table 6: 0.46M"),
    ("resnet56", (32, 32, 3), 10, 0.85e6, "He 2015, table 6: 0.85M"),
])
def test_total_parameters(name, shape, classes, expected, source):
    model = models.get(name, shape, classes)
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    if expected > 1e7:
        assert model.count_params() == expected, source
    else:
        assert round(trainable / 1e6, 2) == pytest.approx(expected / 1e6), source


@pytest.mark.slow
@pytest.mark.parametrize("name,params,gmacs,source", [
    ("resnet18", 11_689_512, 1.8, "He 2015 table 1: 1.8e9 FLOPs (multiply-adds)"),
    ("resnet34", 21_797_672, 3.6, "He 2015 table 1: 3.6e9"),
    ("resnet50", 25_557_032, 3.8, "He 2015 table 1: 3.8e9"),
    ("googlenet", 6.8e6, 1.5, "Szegedy 2014: table 1 sums to 6.8M parameters (biases not "
                              "counted there), 1.5 billion multiply-adds"),
])
def test_imagenet_models(name, params, gmacs, source):
    model = models.get(name, (224, 224, 3), 1000)
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    if name.startswith("resnet"):  # known exactly (torchvision's counts)
        assert trainable == params, source
    else:  # the paper's table leaves the biases out
        assert trainable == pytest.approx(params, rel=0.03), source
    total = complexity.summary(model).iloc[-1]
    assert total["params"] == model.count_params()
    assert round(total["macs"] / 1e9, 1) == pytest.approx(gmacs, abs=0.11), source


def test_params_column_equals_count_params():
    for name, shape in [("cnn", (8, 8, 1)), ("lenet5_modern", (28, 28, 1)), ("mlp", (64,)),
                        ("lstm", (8, 8)), ("resnet20", (16, 16, 3))]:
        model = models.get(name, shape, 10)
        assert complexity.summary(model).iloc[-1]["params"] == model.count_params(), name
