"""Each registry entry carries its own facts: declared once at registration, refused when a
required one is missing, tied to its conf file, and true of the entry's behaviour."""

from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from dlkit import data, losses, models, optimizers, schedules
from dlkit.registry import Registry

CONF = Path(__file__).resolve().parents[1] / "conf"
# conf options that pick no registry entry of their own: ``natural`` is resolved to a
# dataset by the loss's task (the ``natural`` fact)
NOT_AN_ENTRY = {("dataset", "natural")}
REGISTRIES = {"dataset": data.REGISTRY, "model": models.REGISTRY, "loss": losses.REGISTRY,
              "optimizer": optimizers.REGISTRY, "schedule": schedules.REGISTRY}


def _conf_names(group):
    out = {}
    for file in sorted((CONF / group).glob("*.yaml")):
        if (group, file.stem) not in NOT_AN_ENTRY:
            out[file.stem] = (yaml.safe_load(file.read_text()) or {}).get("name")
    return out


@pytest.mark.parametrize("group", sorted(REGISTRIES))
def test_every_conf_file_picks_an_entry_and_every_entry_has_a_conf_file(group):
    registry = REGISTRIES[group]
    named = _conf_names(group)
    assert all(name in registry for name in named.values()), named
    assert set(registry.names()) <= set(named.values()), (
        f"{group} entries without a conf file: {set(registry.names()) - set(named.values())}")
    # a file named after an entry picks that entry (``alexnet_scaled`` may pick ``alexnet``)
    for stem, name in named.items():
        if stem in registry:
            assert name == stem, (stem, name)


def test_a_dataset_without_a_declared_task_is_refused_at_registration():
    registry = Registry("dataset", required=("task", "kind"), optional={"size": None})
    with pytest.raises(ValueError, match="must declare task"):
        registry.register("toy", kind="tabular")
    with pytest.raises(ValueError, match="unknown fact"):
        registry.register("toy", task="regression", kind="tabular", colour="red")
    assert "toy" not in registry
    registry.register("toy", task="regression", kind="tabular")(lambda seed=0: None)
    assert registry.facts("toy") == {"task": "regression", "kind": "tabular", "size": None}
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("toy", task="regression", kind="tabular")


def test_the_library_registries_declare_their_required_facts():
    assert data.REGISTRY.required == ("task", "kind")
    assert optimizers.REGISTRY.required == ("adaptive",)
    for name in data.REGISTRY.names():
        assert data.REGISTRY.facts(name)["task"] in (data.CLASSIFICATION, data.REGRESSION)


@pytest.mark.parametrize("name", ["digits", "digits_sequence", "diabetes", "adding", "mnist_5k"])
def test_a_datasets_declared_facts_are_what_it_loads(name):
    facts = data.REGISTRY.facts(name)
    options = {"samples": 200} if name == "adding" else {}
    ds = data.load(name, seed=0, **options)
    assert ds.task == facts["task"]
    rank = {"image": 3, "sequence": 2, "tabular": 1}[facts["kind"]]
    assert ds.x_train.ndim - 1 == rank
    if facts["size"] is not None:
        assert ds.x_train.shape[1:3] == (facts["size"], facts["size"])


def test_natural_datasets_are_one_per_task():
    assert data.natural_for(data.CLASSIFICATION) == "digits"
    assert data.natural_for(data.REGRESSION) == "diabetes"
    assert data.datasets_for(data.REGRESSION) == ["adding", "diabetes"]


def _first_step(name, gradient_scale):
    opt = optimizers.get(name)
    var = keras.Variable(np.ones(3, dtype="float32"))
    grad = keras.ops.convert_to_tensor(np.array([1.0, -2.0, 0.5], "float32") * gradient_scale)
    opt.apply_gradients([(grad, var)])
    return np.abs(1.0 - keras.ops.convert_to_numpy(var))


@pytest.mark.parametrize("name", optimizers.names())
def test_the_adaptive_fact_is_how_the_first_step_scales_with_the_gradient(name):
    """A plain method's step grows with the gradient (10x gradient, 10x step); an adaptive
    one divides by gradient statistics, so its step barely moves."""
    small, large = _first_step(name, 100.0), _first_step(name, 1000.0)
    ratio = float(np.median(large / small))
    if optimizers.REGISTRY.facts(name)["adaptive"]:
        assert ratio < 1.5, (name, ratio)
    else:
        assert ratio == pytest.approx(10.0, rel=1e-3), (name, ratio)


@pytest.mark.parametrize("name,shape", [("lenet5", (32, 32, 1)), ("rnn", (6, 3)),
                                        ("lstm", (6, 3)), ("mlp", (8,)), ("cnn", (8, 8, 1))])
def test_the_fixed_activation_fact_is_whether_activation_changes_the_model(name, shape):
    x = np.random.default_rng(0).normal(size=(4, *shape)).astype("float32")
    outputs = []
    for activation in ("relu", "sigmoid"):
        keras.utils.set_random_seed(3)
        model = models.get(name, shape, 3, activation=activation)
        outputs.append(keras.ops.convert_to_numpy(model(x)))
    same = np.allclose(outputs[0], outputs[1])
    assert same == (models.REGISTRY.facts(name)["fixed_activation"] is not None), name


def test_losses_and_optimizers_are_keras_serializable_through_the_one_registration():
    for registry, module in ((losses.REGISTRY, losses), (optimizers.REGISTRY, optimizers)):
        for name in registry.names():
            cls = registry.lookup(name)
            key = f"dlkit>{cls.__name__}"
            assert keras.saving.get_registered_object(key) is cls, key
            obj = module.get(name)
            clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
            assert type(clone) is cls
