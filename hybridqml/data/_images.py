"""28x28 digit images for the MNIST workflows: real MNIST, or the 8x8 digits upscaled offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

import torch
from torch.nn import functional as F

from hybridqml.data._mnist import MNIST_SIDE, load_mnist
from hybridqml.data._split import DatasetSplit
from hybridqml.data._toy import load_sklearn_digits
from hybridqml.exceptions import ConfigurationError, DataError

__all__ = ["DATASET_CHOICES", "MNIST_HELP", "load_image_split"]

DATASET_CHOICES: Final[tuple[str, ...]] = ("mnist", "digits")
"""``mnist``: IDX files from ``data_dir``; ``digits``: scikit-learn's 8x8 digits upscaled."""
MNIST_HELP: Final[str] = (
    "MNIST workflows need data_dir (CLI: --data-dir) pointing at a folder holding "
    "MNIST/raw/t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] (plus the train-* "
    "pair for the full split). With network access, set download=True (CLI: --download) to "
    "let torchvision fetch them into data_dir, or use dataset='digits' (CLI: --dataset digits) "
    "for scikit-learn's bundled 8x8 digits offline."
)


def _upscale(dataset: torch.utils.data.TensorDataset) -> torch.utils.data.TensorDataset:
    images, labels = dataset.tensors
    big = F.interpolate(images, size=(MNIST_SIDE, MNIST_SIDE), mode="bilinear")
    return torch.utils.data.TensorDataset(big.clamp_(0.0, 1.0), labels)


def load_image_split(
    *,
    dataset: str,
    data_dir: str | os.PathLike[str] | None,
    digits: Sequence[int] | None = None,
    max_train_per_class: int | None = None,
    max_test_per_class: int | None = None,
    download: bool = False,
) -> DatasetSplit:
    """28x28 digit images in ``[0, 1]`` for the MNIST workflows.

    ``dataset="mnist"`` reads ``data_dir`` with :func:`hybridqml.data.load_mnist` (the t10k-only
    folder is split 8333/1667); ``dataset="digits"`` uses scikit-learn's bundled 8x8 digits,
    upscaled bilinearly to 28x28 so the same networks apply (an offline stand-in, not MNIST).

    Args:
        dataset: ``"mnist"`` or ``"digits"``.
        data_dir: Folder holding ``MNIST/raw`` (required for ``"mnist"``).
        digits: Keep only these digits, relabelled ``0 .. k-1``.
        max_train_per_class: Cap per digit in the training half.
        max_test_per_class: Cap per digit in the test half.
        download: ``dataset="mnist"``: let torchvision download missing files into
            ``data_dir`` (needs network access); ignored for ``"digits"``.

    Returns:
        The split; ``info.source`` says which data it is.

    Raises:
        DataError: ``dataset="mnist"`` without ``data_dir``, or missing/corrupt files.
        ConfigurationError: Unknown ``dataset``.

    Example:
        >>> split = load_image_split(dataset="digits", data_dir=None, digits=[0, 1])
        >>> split.train.tensors[0].shape[1:]
        torch.Size([1, 28, 28])
    """
    if dataset not in DATASET_CHOICES:
        raise ConfigurationError(f"dataset must be one of {DATASET_CHOICES}, got {dataset!r}")
    if dataset == "mnist":
        if data_dir is None:
            raise DataError(f"no MNIST folder given. {MNIST_HELP}")
        return load_mnist(
            data_dir=data_dir,
            digits=digits,
            max_train_per_class=max_train_per_class,
            max_test_per_class=max_test_per_class,
            download=download,
        )
    split = load_sklearn_digits(
        digits=digits,
        max_train_per_class=max_train_per_class,
        max_test_per_class=max_test_per_class,
    )
    return DatasetSplit(train=_upscale(split.train), test=_upscale(split.test), info=split.info)
