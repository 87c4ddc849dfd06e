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
"""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from hybridqml.exceptions import ConfigurationError, DataError

__all__ = [
    "CIRCLES_FACTOR",
    "CIRCLES_NOISE",
    "CIRCLES_SAMPLES",
    "DEFAULT_SPLIT_SEED",
    "DEFAULT_TEST_FRACTION",
    "DEFAULT_VALIDATION_FRACTION",
    "MNIST_MEAN",
    "MNIST_STD",
    "DatasetInfo",
    "DatasetSplit",
    "find_mnist_raw_dir",
    "load_circles",
    "load_mnist",
    "load_sklearn_digits",
    "select_digits",
    "split_validation",
]

DEFAULT_TEST_FRACTION = 1 / 6
"""Share held out for testing when a split is made here (MNIST t10k, digits, circles)."""
DEFAULT_SPLIT_SEED = 0
"""Seed of the deterministic train/test split."""
DEFAULT_VALIDATION_FRACTION = 0.1
"""Share of a training set held out for model selection by :func:`split_validation`."""
MNIST_MEAN = 0.1307
"""Mean pixel value of the MNIST training set (used when ``normalize=True``)."""
MNIST_STD = 0.3081
"""Pixel standard deviation of the MNIST training set (used when ``normalize=True``)."""
CIRCLES_SAMPLES = 1000
"""Default number of points of the concentric-circles dataset."""
CIRCLES_NOISE = 0.1
"""Default Gaussian noise of the concentric-circles dataset."""
CIRCLES_FACTOR = 0.5
"""Default ratio of the inner to the outer circle radius."""

SOURCE_MNIST_FULL = "mnist-full"
SOURCE_MNIST_T10K_SPLIT = "mnist-t10k-split"
SOURCE_SKLEARN_DIGITS = "sklearn-digits"
SOURCE_CIRCLES = "circles"

_IMAGE_MAGIC = 2051
_LABEL_MAGIC = 2049
_MNIST_SIDE = 28
_DIGITS_MAX_VALUE = 16.0
# torchvision's MNIST resources: file name -> md5 of the .gz archive.
_GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
_HOW_TO_GET = (
    "Pass data_dir (CLI: --data-dir) pointing at a folder that holds MNIST/raw/"
    "{t10k,train}-{images-idx3,labels-idx1}-ubyte[.gz] (the t10k pair alone is enough), "
    "or allow the download on a machine with network access (Python: download=True in "
    "load_mnist or a workflow config; CLI: hybridqml train ... --download)."
)


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
            >>> split = load_sklearn_digits().select_digits([0, 1])
            >>> split.info.n_classes, sorted(set(split.train.tensors[1].tolist()))
            (2, [0, 1])
        """
        train = select_digits(self.train, digits, max_per_class=max_train_per_class)
        test = select_digits(self.test, digits, max_per_class=max_test_per_class)
        original = tuple(int(self.info.classes[int(d)]) for d in digits)
        info = DatasetInfo(
            source=self.info.source,
            n_train=len(train),
            n_test=len(test),
            n_classes=len(digits),
            classes=original,
            sample_shape=self.info.sample_shape,
            split_seed=self.info.split_seed,
            test_fraction=self.info.test_fraction,
            normalized=self.info.normalized,
            path=self.info.path,
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
    inputs, labels = dataset.tensors[0], dataset.tensors[1]
    train_idx, val_idx = _split_indices(labels, test_fraction=fraction, seed=seed)
    return TensorDataset(inputs[train_idx], labels[train_idx]), TensorDataset(
        inputs[val_idx], labels[val_idx]
    )


# --------------------------------------------------------------------------- MNIST


def find_mnist_raw_dir(data_dir: str | Path) -> Path:
    """Locate the folder holding the raw MNIST IDX files.

    Accepts the datasets root (containing ``MNIST/raw``), the ``MNIST`` folder (containing ``raw``)
    or the raw folder itself.

    Args:
        data_dir: One of the three folders above.

    Returns:
        The raw folder (it may not contain any file yet).

    Raises:
        DataError: If ``data_dir`` does not exist or is not a folder.

    Example:
        >>> find_mnist_raw_dir("../shared/datasets")  # doctest: +SKIP
        PosixPath('../shared/datasets/MNIST/raw')
    """
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"MNIST data folder {str(path)!r} does not exist. {_HOW_TO_GET}")
    for candidate in (path / "MNIST" / "raw", path / "raw"):
        if candidate.is_dir():
            return candidate
    return path


def _existing(raw: Path, stem: str) -> Path | None:
    """Return the unpacked file if present, else the ``.gz``, else ``None``."""
    for name in (stem, f"{stem}.gz"):
        if (raw / name).is_file():
            return raw / name
    return None


def _check_header(path: Path, data: bytes, *, magic: int) -> int:
    """Validate an IDX header and payload size; return the number of items."""
    kind = "images" if magic == _IMAGE_MAGIC else "labels"
    n_dims = 3 if magic == _IMAGE_MAGIC else 1
    header_size = 4 * (1 + n_dims)
    if len(data) < header_size:
        raise DataError(
            f"MNIST {kind} file {str(path)!r} is truncated ({len(data)} bytes, header needs "
            f"{header_size}). Delete it and get it again. {_HOW_TO_GET}"
        )
    found, *dims = struct.unpack(f">{1 + n_dims}I", data[:header_size])
    if found != magic:
        raise DataError(
            f"MNIST {kind} file {str(path)!r} has magic number {found}, expected {magic}: not "
            f"an IDX {kind} file or corrupt. {_HOW_TO_GET}"
        )
    if magic == _IMAGE_MAGIC and dims[1:] != [_MNIST_SIDE, _MNIST_SIDE]:
        raise DataError(f"MNIST images file {str(path)!r} holds {dims[1:]} images, expected 28x28")
    expected = header_size + int(np.prod(dims))
    if len(data) != expected:
        raise DataError(
            f"MNIST {kind} file {str(path)!r} has {len(data)} bytes, expected {expected} for "
            f"{dims[0]} items: the file is truncated or corrupt. {_HOW_TO_GET}"
        )
    return dims[0]


def _read_idx(path: Path, *, magic: int, verify_md5: bool) -> torch.Tensor:
    """Read one IDX file (unpacked or ``.gz``) with torchvision after validating it."""
    from torchvision.datasets.mnist import read_image_file, read_label_file
    from torchvision.datasets.utils import check_md5

    reader = read_image_file if magic == _IMAGE_MAGIC else read_label_file
    try:
        if path.suffix == ".gz":
            known = _GZ_MD5.get(path.name)
            if verify_md5 and known is not None and not check_md5(str(path), known):
                raise DataError(
                    f"MNIST file {str(path)!r} fails its md5 check (expected {known}): corrupt or "
                    f"incomplete download. Delete it and get it again. {_HOW_TO_GET}"
                )
            with gzip.open(path, "rb") as handle:
                data = handle.read()
            _check_header(path, data, magic=magic)
            with tempfile.TemporaryDirectory() as tmp:
                unpacked = Path(tmp) / path.stem
                unpacked.write_bytes(data)
                return reader(str(unpacked))
        data = path.read_bytes()
        _check_header(path, data, magic=magic)
        return reader(str(path))
    except DataError:
        raise
    except (OSError, EOFError, gzip.BadGzipFile, AssertionError, ValueError, TypeError) as exc:
        raise DataError(f"cannot read MNIST file {str(path)!r}: {exc}. {_HOW_TO_GET}") from exc


def _read_pair(raw: Path, prefix: str, *, verify_md5: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Read the images and labels of one MNIST part (``train`` or ``t10k``)."""
    image_stem, label_stem = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    paths: dict[str, Path] = {}
    for stem in (image_stem, label_stem):
        found = _existing(raw, stem)
        if found is None:
            raise DataError(f"MNIST file {str(raw / stem)!r}[.gz] is missing. {_HOW_TO_GET}")
        paths[stem] = found
    images = _read_idx(paths[image_stem], magic=_IMAGE_MAGIC, verify_md5=verify_md5)
    labels = _read_idx(paths[label_stem], magic=_LABEL_MAGIC, verify_md5=verify_md5)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"MNIST {prefix} files in {str(raw)!r} disagree: {images.shape[0]} images but "
            f"{labels.shape[0]} labels. {_HOW_TO_GET}"
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) > 9):
        raise DataError(f"MNIST labels file in {str(raw)!r} holds labels outside 0..9")
    return images, labels


def _download_mnist(root: Path) -> None:
    """Download the full MNIST into ``root/MNIST/raw`` with torchvision."""
    from torchvision.datasets import MNIST

    try:
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    except (OSError, RuntimeError) as exc:
        raise DataError(
            f"downloading MNIST into {str(root)!r} failed: {exc}. Check the network, or copy the "
            f"IDX files into {str(root / 'MNIST' / 'raw')!r}."
        ) from exc


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


def _to_images(raw_images: torch.Tensor, *, normalize: bool) -> torch.Tensor:
    images = raw_images.to(torch.float32).div_(255.0).unsqueeze(1)
    return (images - MNIST_MEAN) / MNIST_STD if normalize else images


def load_mnist(
    *,
    data_dir: str | Path,
    download: bool = False,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    split_seed: int = DEFAULT_SPLIT_SEED,
    normalize: bool = False,
    digits: Sequence[int] | None = None,
    max_train_per_class: int | None = None,
    max_test_per_class: int | None = None,
    verify_md5: bool = True,
) -> DatasetSplit:
    """Load MNIST from raw IDX files, splitting the official test set when it is all there is.

    Sources, in order of preference:

    1. ``mnist-full``: all four files present: the official 60,000/10,000 split.
    2. ``mnist-t10k-split``: only ``t10k-images-idx3-ubyte[.gz]`` and
       ``t10k-labels-idx1-ubyte[.gz]``, and no ``train-*`` file at all (one ``train-*`` file
       without the other, or a broken link, is an error rather than a silent switch to this
       split): the 10,000 official test images split into train/test,
       stratified by digit, with :func:`sklearn.model_selection.train_test_split`
       (``random_state=split_seed``). Both halves keep the file order, so the split is the same
       on every call and machine.
    3. With ``download=True`` and files missing: torchvision downloads the full set into
       ``<data_dir>/MNIST/raw`` first.

    Unpacked files are preferred over ``.gz``; ``.gz`` files are md5-checked against torchvision's
    known sums when ``verify_md5`` is set. Every file's IDX header, size and item count is checked.

    Args:
        data_dir: The datasets root (holding ``MNIST/raw``), the ``MNIST`` folder or the raw folder.
        download: Allow torchvision to download missing files (needs network access).
        test_fraction: Share of the t10k images held out for testing (t10k split only).
        split_seed: Seed of the t10k split.
        normalize: Standardise pixels with ``MNIST_MEAN``/``MNIST_STD`` instead of ``[0, 1]``.
        digits: Keep only these digits, relabelled ``0 .. k-1`` in the given order.
        max_train_per_class: Cap per kept digit in the training half (first samples).
        max_test_per_class: Cap per kept digit in the test half (first samples).
        verify_md5: Check ``.gz`` archives against torchvision's md5 sums.

    Returns:
        A :class:`DatasetSplit` of ``float32`` images ``(N, 1, 28, 28)`` and ``int64`` labels.

    Raises:
        DataError: If files are missing (and download is not allowed), truncated or corrupt, only
            one of the ``train-*`` pair is present, or the download fails. The message names
            the file and how to get it.
        ConfigurationError: If ``test_fraction`` is outside ``(0, 1)``.

    Example:
        >>> split = load_mnist(data_dir="../shared/datasets", digits=[0, 1])  # doctest: +SKIP
        >>> split.info.source, split.train.tensors[0].shape[1:]  # doctest: +SKIP
        ('mnist-t10k-split', torch.Size([1, 28, 28]))
    """
    _check_fraction(test_fraction)
    root = Path(data_dir).expanduser()
    if download:
        root.mkdir(parents=True, exist_ok=True)
        raw = find_mnist_raw_dir(root)
        if not (_has_part(raw, "train") and _has_part(raw, "t10k")):
            _download_mnist(root)
    raw = find_mnist_raw_dir(root)
    _check_train_pair(raw)
    if _has_part(raw, "train"):
        train_x, train_y = _read_pair(raw, "train", verify_md5=verify_md5)
        test_x, test_y = _read_pair(raw, "t10k", verify_md5=verify_md5)
        source, seed, fraction = SOURCE_MNIST_FULL, None, None
    else:
        images, labels = _read_pair(raw, "t10k", verify_md5=verify_md5)
        train_idx, test_idx = _split_indices(labels, test_fraction=test_fraction, seed=split_seed)
        train_x, train_y = images[train_idx], labels[train_idx]
        test_x, test_y = images[test_idx], labels[test_idx]
        source, seed, fraction = SOURCE_MNIST_T10K_SPLIT, split_seed, test_fraction
    split = DatasetSplit(
        train=TensorDataset(_to_images(train_x, normalize=normalize), train_y),
        test=TensorDataset(_to_images(test_x, normalize=normalize), test_y),
        info=DatasetInfo(
            source=source,
            n_train=int(train_y.shape[0]),
            n_test=int(test_y.shape[0]),
            n_classes=10,
            classes=tuple(range(10)),
            sample_shape=(1, _MNIST_SIDE, _MNIST_SIDE),
            split_seed=seed,
            test_fraction=fraction,
            normalized=normalize,
            path=str(raw),
        ),
    )
    return _maybe_subset(split, digits, max_train_per_class, max_test_per_class)


def _has_part(raw: Path, prefix: str) -> bool:
    """Whether both files (images and labels) of an MNIST part exist in ``raw``."""
    return all(
        _existing(raw, f"{prefix}-{kind}-ubyte") is not None
        for kind in ("images-idx3", "labels-idx1")
    )


def _check_train_pair(raw: Path) -> None:
    """Refuse a folder holding only part of the ``train-*`` pair (or a broken ``train-*`` link).

    Falling back to the t10k-only split there would silently train on other data than the user
    put in place.
    """
    found: dict[str, list[Path]] = {}
    for kind in ("images-idx3", "labels-idx1"):
        stem = f"train-{kind}-ubyte"
        found[stem] = [raw / n for n in (stem, f"{stem}.gz") if os.path.lexists(raw / n)]
    if not any(found.values()) or _has_part(raw, "train"):
        return
    problems = []
    for stem, paths in found.items():
        if not paths:
            problems.append(f"{str(raw / stem)!r}[.gz] is missing")
        elif _existing(raw, stem) is None:
            names = ", ".join(repr(str(path)) for path in paths)
            problems.append(f"{names} is not a readable file (a broken link or not a file)")
    raise DataError(
        f"MNIST folder {str(raw)!r} holds only part of the training set: "
        f"{'; '.join(problems)}. Put both train-images-idx3-ubyte[.gz] and "
        "train-labels-idx1-ubyte[.gz] there for the full 60,000/10,000 split, or remove the "
        "train-* files to use the split of the t10k files alone. " + _HOW_TO_GET
    )


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


# --------------------------------------------------------------------------- offline datasets


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
    train_idx, test_idx = _split_indices(labels, test_fraction=test_fraction, seed=split_seed)
    split = DatasetSplit(
        train=TensorDataset(images[train_idx], labels[train_idx]),
        test=TensorDataset(images[test_idx], labels[test_idx]),
        info=DatasetInfo(
            source=SOURCE_SKLEARN_DIGITS,
            n_train=int(train_idx.numel()),
            n_test=int(test_idx.numel()),
            n_classes=10,
            classes=tuple(range(10)),
            sample_shape=(1, 8, 8),
            split_seed=split_seed,
            test_fraction=test_fraction,
        ),
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
    return DatasetSplit(
        train=TensorDataset(torch.from_numpy(x_train).to(torch.float32), labels[train_idx]),
        test=TensorDataset(torch.from_numpy(x_test).to(torch.float32), labels[test_idx]),
        info=DatasetInfo(
            source=SOURCE_CIRCLES,
            n_train=int(train_idx.numel()),
            n_test=int(test_idx.numel()),
            n_classes=2,
            classes=(0, 1),
            sample_shape=(2,),
            split_seed=seed,
            test_fraction=test_fraction,
            normalized=standardize,
        ),
    )
