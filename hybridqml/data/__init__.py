"""Datasets for the workflows: MNIST, digit subsets, scikit-learn's 8x8 digits, circles.

Every loader returns a :class:`DatasetSplit`: a train and a test
:class:`~torch.utils.data.TensorDataset` plus a :class:`DatasetInfo` describing where the data came
from. Images are ``float32`` tensors in ``[0, 1]`` of shape ``(N, 1, H, W)`` (optionally
normalised); labels are ``int64`` class indices.

MNIST is read from a local folder holding the raw IDX files (``<root>/MNIST/raw/...``, unpacked or
``.gz``), or downloaded by torchvision when the caller allows it. A folder with only the official
test files (``t10k-*``) is split deterministically into train and test (see :func:`load_mnist`).

Missing or corrupt files raise :class:`~hybridqml.exceptions.DataError` naming the file and saying
how to get it.

Modules: ``_split`` (containers, digit subsets, splits),
``_mnist`` (IDX files), ``_toy`` (8x8 digits, circles) and
``_images`` (28x28 images for the MNIST workflows). Import from this package.
"""

from hybridqml.data._images import DATASET_CHOICES, MNIST_HELP, load_image_split
from hybridqml.data._mnist import MNIST_MEAN, MNIST_SIDE, MNIST_STD, find_mnist_raw_dir, load_mnist
from hybridqml.data._split import (
    DEFAULT_SPLIT_SEED,
    DEFAULT_TEST_FRACTION,
    DEFAULT_VALIDATION_FRACTION,
    DatasetInfo,
    DatasetSplit,
    select_digits,
    split_validation,
)
from hybridqml.data._toy import (
    CIRCLES_FACTOR,
    CIRCLES_NOISE,
    CIRCLES_SAMPLES,
    load_circles,
    load_sklearn_digits,
)

__all__ = [
    "CIRCLES_FACTOR",
    "CIRCLES_NOISE",
    "CIRCLES_SAMPLES",
    "DATASET_CHOICES",
    "DEFAULT_SPLIT_SEED",
    "DEFAULT_TEST_FRACTION",
    "DEFAULT_VALIDATION_FRACTION",
    "MNIST_HELP",
    "MNIST_MEAN",
    "MNIST_SIDE",
    "MNIST_STD",
    "DatasetInfo",
    "DatasetSplit",
    "find_mnist_raw_dir",
    "load_circles",
    "load_image_split",
    "load_mnist",
    "load_sklearn_digits",
    "select_digits",
    "split_validation",
]
