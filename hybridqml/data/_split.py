"""Dataset containers and splits: :class:`DatasetSplit`, digit subsets, validation hold-outs.

Every loader of :mod:`hybridqml.data` returns a :class:`DatasetSplit`; the stratified, seeded
train/test split they share is made here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from hybridqml.exceptions import ConfigurationError, DataError

__all__ = [
    "DEFAULT_SPLIT_SEED",
    "DEFAULT_TEST_FRACTION",
    "DEFAULT_VALIDATION_FRACTION",
    "DatasetInfo",
    "DatasetSplit",
    "select_digits",
    "split_validation",
]

DEFAULT_TEST_FRACTION = 1 / 6
"""Share held out for testing when a split is made here (MNIST t10k, digits, circles)."""
DEFAULT_SPLIT_SEED = 0
"""Seed of the deterministic train/test split."""
DEFAULT_VALIDATION_FRACTION = 0.1
"""Share of a training set held out for model selection by :func:`split_validation`."""


@dataclass(frozen=True, kw_only=True)
class DatasetInfo:
    """Where a dataset came from and how it was split.

    Attributes:
        source: ``"mnist-full"``, ``"mnist-t10k-split"``, ``"sklearn-digits"`` or ``"circles"``.
        n_train: Number of training samples.
        n_test: Number of test samples.
        n_classes: Number of classes (labels are ``0 .. n_classes - 1``).
        classes: Original class of each label (e.g. the digits kept by a subset).
        sample_shape: Shape of one sample (``(1, 28, 28)`` for MNIST, ``(2,)`` for circles).
        split_seed: Seed of the split made here, or ``None`` for an official split.
        test_fraction: Share held out for testing by the split made here, or ``None``.
        normalized: Whether images were standardised (MNIST mean/std) or features standardised.
        path: Folder the files were read from, if any.
    """

    source: str
    n_train: int
    n_test: int
    n_classes: int
    classes: tuple[int, ...]
    sample_shape: tuple[int, ...]
    split_seed: int | None = None
    test_fraction: float | None = None
    normalized: bool = False
    path: str | None = None


@dataclass(frozen=True, kw_only=True)
class DatasetSplit:
    """A train/test pair of tensor datasets and their description.

    Attributes:
        train: ``TensorDataset(inputs, labels)`` for training.
        test: ``TensorDataset(inputs, labels)`` held out for testing.
        info: Metadata (source, sizes, classes, split).
    """

    train: TensorDataset
    test: TensorDataset
    info: DatasetInfo

    def select_digits(
        self,
        digits: Sequence[int],
        *,
        max_train_per_class: int | None = None,
        max_test_per_class: int | None = None,
    ) -> DatasetSplit:
        """Keep only some classes in both halves and relabel them ``0 .. k-1`` in the given order.

        Args:
            digits: Original labels to keep, e.g. ``(0, 1)``; ``digits[i]`` becomes label ``i``.
            max_train_per_class: Keep at most this many training samples per class (first ones).
            max_test_per_class: Keep at most this many test samples per class (first ones).

        Returns:
            A new split whose ``info.classes`` lists the kept original labels.

        Example:
            >>> from hybridqml.data import load_sklearn_digits
            >>> split = load_sklearn_digits().select_digits([0, 1])
            >>> split.info.n_classes, sorted(set(split.train.tensors[1].tolist()))
            (2, [0, 1])
        """
        train = select_digits(self.train, digits, max_per_class=max_train_per_class)
        test = select_digits(self.test, digits, max_per_class=max_test_per_class)
        original = tuple(int(self.info.classes[int(d)]) for d in digits)
        info = replace(
            self.info,
            n_train=len(train),
            n_test=len(test),
            n_classes=len(digits),
            classes=original,
        )
        return DatasetSplit(train=train, test=test, info=info)


def select_digits(
    dataset: TensorDataset, digits: Sequence[int], *, max_per_class: int | None = None
) -> TensorDataset:
    """Keep the samples whose label is in ``digits`` and relabel them ``0 .. k-1``.

    Samples keep their order; ``digits[i]`` becomes label ``i``.

    Args:
        dataset: ``TensorDataset(inputs, labels)`` with integer labels.
        digits: Labels to keep, distinct, e.g. ``[3, 8]``.
        max_per_class: Keep only the first ``max_per_class`` samples of each kept label.

    Returns:
        A new ``TensorDataset`` with relabelled ``int64`` labels.

    Raises:
        ConfigurationError: If ``digits`` is empty, has duplicates, or ``max_per_class < 1``.
        DataError: If a requested digit has no samples.

    Example:
        >>> ds = TensorDataset(torch.zeros(4, 2), torch.tensor([3, 8, 1, 3]))
        >>> select_digits(ds, [3, 8]).tensors[1].tolist()
        [0, 1, 0]
    """
    wanted = [int(d) for d in digits]
    if not wanted or len(set(wanted)) != len(wanted):
        raise ConfigurationError(
            f"digits must be a non-empty list of distinct labels, got {digits!r}"
        )
    if max_per_class is not None and max_per_class < 1:
        raise ConfigurationError(f"max_per_class must be >= 1, got {max_per_class}")
    inputs, labels = dataset.tensors[0], dataset.tensors[1]
    keep: list[torch.Tensor] = []
    for digit in wanted:
        idx = torch.nonzero(labels == digit).flatten()
        if idx.numel() == 0:
            raise DataError(f"no samples with label {digit} in the dataset")
        keep.append(idx[:max_per_class] if max_per_class is not None else idx)
    order = torch.sort(torch.cat(keep)).values
    mapping = torch.full((int(labels.max()) + 1,), -1, dtype=torch.long)
    mapping[torch.tensor(wanted)] = torch.arange(len(wanted))
    return TensorDataset(inputs[order], mapping[labels[order].long()])


def split_validation(
    dataset: TensorDataset,
    *,
    fraction: float = DEFAULT_VALIDATION_FRACTION,
    seed: int = DEFAULT_SPLIT_SEED,
) -> tuple[TensorDataset, TensorDataset]:
    """Hold out a stratified, seeded validation part of a training set.

    Model selection (learning-rate schedules, best checkpoints) must not look at the test set;
    this carves the validation data it needs out of the training data instead.

    Args:
        dataset: ``TensorDataset(inputs, labels)`` with integer labels.
        fraction: Share of samples held out for validation, in (0, 1).
        seed: Split seed.

    Returns:
        ``(train, validation)``, both keeping the original sample order.

    Raises:
        ConfigurationError: ``fraction`` outside (0, 1).
        DataError: Too few samples to split.

    Example:
        >>> ds = TensorDataset(torch.arange(20.0)[:, None], torch.arange(20) % 2)
        >>> train, val = split_validation(ds, fraction=0.2)
        >>> len(train), len(val), sorted(val.tensors[1].tolist())
        (16, 4, [0, 0, 1, 1])
    """
    _check_fraction(fraction, "the validation fraction")
    return _split_dataset(dataset.tensors[0], dataset.tensors[1], test_fraction=fraction, seed=seed)


def _split_dataset(
    inputs: torch.Tensor, labels: torch.Tensor, *, test_fraction: float, seed: int
) -> tuple[TensorDataset, TensorDataset]:
    """Stratified, seeded ``(train, test)`` halves of ``(inputs, labels)``, both in input order."""
    train_idx, test_idx = _split_indices(labels, test_fraction=test_fraction, seed=seed)
    train = TensorDataset(inputs[train_idx], labels[train_idx])
    return train, TensorDataset(inputs[test_idx], labels[test_idx])


def _new_split(
    train: TensorDataset, test: TensorDataset, *, classes: Sequence[int], **info: Any
) -> DatasetSplit:
    """A :class:`DatasetSplit` whose info counts the samples of both halves and the classes.

    ``info`` holds the other :class:`DatasetInfo` fields (``source``, ``sample_shape``...).
    """
    counts: dict[str, Any] = {
        "n_train": len(train),
        "n_test": len(test),
        "n_classes": len(classes),
    }
    return DatasetSplit(
        train=train, test=test, info=DatasetInfo(classes=tuple(classes), **counts, **info)
    )


def _split_indices(
    labels: torch.Tensor, *, test_fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stratified, seeded split of ``range(len(labels))``; both halves sorted ascending."""
    from sklearn.model_selection import train_test_split

    index = np.arange(labels.shape[0])
    y = labels.numpy()
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and round(test_fraction * len(y)) >= len(counts) else None
    try:
        train_idx, test_idx = train_test_split(
            index, test_size=test_fraction, random_state=seed, shuffle=True, stratify=stratify
        )
    except ValueError as exc:
        raise DataError(
            f"cannot split {len(y)} samples with test_fraction={test_fraction}: {exc}"
        ) from exc
    return torch.from_numpy(np.sort(train_idx)), torch.from_numpy(np.sort(test_idx))


def _check_fraction(fraction: float, name: str = "test_fraction") -> None:
    if not 0.0 < fraction < 1.0:
        raise ConfigurationError(f"{name} must be in (0, 1), got {fraction}")


def _maybe_subset(
    split: DatasetSplit,
    digits: Sequence[int] | None,
    max_train_per_class: int | None,
    max_test_per_class: int | None,
) -> DatasetSplit:
    if digits is None and max_train_per_class is None and max_test_per_class is None:
        return split
    return split.select_digits(
        list(range(split.info.n_classes)) if digits is None else digits,
        max_train_per_class=max_train_per_class,
        max_test_per_class=max_test_per_class,
    )
