"""Offline datasets, seeded and split: scikit-learn's bundled 8x8 digits and concentric circles."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import TensorDataset

from hybridqml.data._split import (
    DEFAULT_SPLIT_SEED,
    DEFAULT_TEST_FRACTION,
    DatasetSplit,
    _check_fraction,
    _maybe_subset,
    _new_split,
    _split_dataset,
    _split_indices,
)
from hybridqml.exceptions import ConfigurationError

__all__ = [
    "CIRCLES_FACTOR",
    "CIRCLES_NOISE",
    "CIRCLES_SAMPLES",
    "load_circles",
    "load_sklearn_digits",
]

CIRCLES_SAMPLES = 1000
"""Default number of points of the concentric-circles dataset."""
CIRCLES_NOISE = 0.1
"""Default Gaussian noise of the concentric-circles dataset."""
CIRCLES_FACTOR = 0.5
"""Default ratio of the inner to the outer circle radius."""

SOURCE_SKLEARN_DIGITS = "sklearn-digits"
SOURCE_CIRCLES = "circles"

_DIGITS_MAX_VALUE = 16.0


def load_sklearn_digits(
    *,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    split_seed: int = DEFAULT_SPLIT_SEED,
    digits: Sequence[int] | None = None,
    max_train_per_class: int | None = None,
    max_test_per_class: int | None = None,
) -> DatasetSplit:
    """Load scikit-learn's bundled 8x8 digits (1,797 images, offline) as a stratified split.

    Pixels (``0 .. 16`` in the original) are scaled to ``[0, 1]``.

    Args:
        test_fraction: Share held out for testing.
        split_seed: Seed of the stratified split.
        digits: Keep only these digits, relabelled ``0 .. k-1`` in the given order.
        max_train_per_class: Cap per kept digit in the training half.
        max_test_per_class: Cap per kept digit in the test half.

    Returns:
        A :class:`DatasetSplit` of ``float32`` images ``(N, 1, 8, 8)`` and ``int64`` labels.

    Example:
        >>> split = load_sklearn_digits()
        >>> split.train.tensors[0].shape[1:], split.info.n_train + split.info.n_test
        (torch.Size([1, 8, 8]), 1797)
    """
    from sklearn.datasets import load_digits

    _check_fraction(test_fraction)
    bunch = load_digits()
    images = torch.from_numpy(bunch.images / _DIGITS_MAX_VALUE).to(torch.float32).unsqueeze(1)
    labels = torch.from_numpy(bunch.target).to(torch.int64)
    train, test = _split_dataset(images, labels, test_fraction=test_fraction, seed=split_seed)
    split = _new_split(
        train,
        test,
        source=SOURCE_SKLEARN_DIGITS,
        classes=range(10),
        sample_shape=(1, 8, 8),
        split_seed=split_seed,
        test_fraction=test_fraction,
    )
    return _maybe_subset(split, digits, max_train_per_class, max_test_per_class)


def load_circles(
    *,
    n_samples: int = CIRCLES_SAMPLES,
    noise: float = CIRCLES_NOISE,
    factor: float = CIRCLES_FACTOR,
    seed: int = DEFAULT_SPLIT_SEED,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    standardize: bool = True,
) -> DatasetSplit:
    """Two concentric circles (:func:`sklearn.datasets.make_circles`), seeded and split.

    Features are standardised with a :class:`~sklearn.preprocessing.StandardScaler` fitted on the
    training half only (no test leakage).

    Args:
        n_samples: Total number of points (half per circle).
        noise: Standard deviation of the Gaussian noise added to the points.
        factor: Inner/outer radius ratio, in ``(0, 1)``.
        seed: Seed of both the generation and the stratified split.
        test_fraction: Share held out for testing.
        standardize: Standardise the features (zero mean, unit variance on the training half).

    Returns:
        A :class:`DatasetSplit` of ``float32`` features ``(N, 2)`` and ``int64`` labels
        (1 = inner circle).

    Raises:
        ConfigurationError: On out-of-range arguments.

    Example:
        >>> split = load_circles(n_samples=120, seed=1)
        >>> split.train.tensors[0].shape, split.info.n_test
        (torch.Size([100, 2]), 20)
    """
    from sklearn.datasets import make_circles
    from sklearn.preprocessing import StandardScaler

    _check_fraction(test_fraction)
    if n_samples < 4:
        raise ConfigurationError(f"n_samples must be >= 4, got {n_samples}")
    if noise < 0:
        raise ConfigurationError(f"noise must be >= 0, got {noise}")
    if not 0.0 < factor < 1.0:
        raise ConfigurationError(f"factor must be in (0, 1), got {factor}")
    x, y = make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=seed)
    labels = torch.from_numpy(y).to(torch.int64)
    train_idx, test_idx = _split_indices(labels, test_fraction=test_fraction, seed=seed)
    x_train, x_test = x[train_idx.numpy()], x[test_idx.numpy()]
    if standardize:
        scaler = StandardScaler().fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    return _new_split(
        TensorDataset(torch.from_numpy(x_train).to(torch.float32), labels[train_idx]),
        TensorDataset(torch.from_numpy(x_test).to(torch.float32), labels[test_idx]),
        source=SOURCE_CIRCLES,
        classes=(0, 1),
        sample_shape=(2,),
        split_seed=seed,
        test_fraction=test_fraction,
        normalized=standardize,
    )
