"""MNIST from raw IDX files: locate, validate, read, optionally download, split t10k-only folders.

MNIST is read from a local folder holding the raw IDX files (``<root>/MNIST/raw/...``, unpacked or
``.gz``), or downloaded by torchvision when the caller allows it. A folder with only the official
test files (``t10k-*``) is split deterministically into train and test (see :func:`load_mnist`).
Missing or corrupt files raise :class:`~hybridqml.exceptions.DataError` naming the file and saying
how to get it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
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
)
from hybridqml.exceptions import DataError

__all__ = [
    "MNIST_MEAN",
    "MNIST_SIDE",
    "MNIST_STD",
    "find_mnist_raw_dir",
    "load_mnist",
]

MNIST_SIDE: Final[int] = 28
"""Height and width of an MNIST image (the workflows' images are ``(1, 28, 28)``)."""
MNIST_MEAN = 0.1307
"""Mean pixel value of the MNIST training set (used when ``normalize=True``)."""
MNIST_STD = 0.3081
"""Pixel standard deviation of the MNIST training set (used when ``normalize=True``)."""

SOURCE_MNIST_FULL = "mnist-full"
SOURCE_MNIST_T10K_SPLIT = "mnist-t10k-split"

_IMAGE_MAGIC = 2051
_LABEL_MAGIC = 2049
# md5 of the official files' *decompressed* content (LeCun's IDX files, as torchvision unpacks
# them; the same sums are published alongside many MNIST loaders). The content is checked, not the
# archive: a valid file re-compressed with another gzip level still loads, an edited unpacked file
# does not.
_IDX_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
_HOW_TO_GET = (
    "Pass data_dir (CLI: --data-dir) pointing at a folder that holds MNIST/raw/"
    "{t10k,train}-{images-idx3,labels-idx1}-ubyte[.gz] (the t10k pair alone is enough), "
    "or allow the download on a machine with network access (Python: download=True in "
    "load_mnist or a workflow config; CLI: hybridqml train ... --download)."
)


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
    if magic == _IMAGE_MAGIC and dims[1:] != [MNIST_SIDE, MNIST_SIDE]:
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

    reader = read_image_file if magic == _IMAGE_MAGIC else read_label_file
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                data = handle.read()
        else:
            data = path.read_bytes()
        _check_header(path, data, magic=magic)
        if verify_md5:
            _check_content(path, data)
        if path.suffix != ".gz":
            return reader(str(path))
        with tempfile.TemporaryDirectory() as tmp:
            unpacked = Path(tmp) / path.stem
            unpacked.write_bytes(data)
            return reader(str(unpacked))
    except DataError:
        raise
    except (OSError, EOFError, gzip.BadGzipFile, AssertionError, ValueError, TypeError) as exc:
        raise DataError(f"cannot read MNIST file {str(path)!r}: {exc}. {_HOW_TO_GET}") from exc


def _check_content(path: Path, data: bytes) -> None:
    """Compare the decompressed content of an official MNIST file with its known md5."""
    stem = path.name.removesuffix(".gz")
    known = _IDX_MD5.get(stem)
    if known is None:
        return
    found = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if found != known:
        raise DataError(
            f"MNIST file {str(path)!r} does not hold the official {stem} data: md5 of its "
            f"{'decompressed ' if path.suffix == '.gz' else ''}content is {found}, expected "
            f"{known} (edited, corrupt or another dataset). Delete it and get it again, or pass "
            f"verify_md5=False to load it anyway. {_HOW_TO_GET}"
        )


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


def _to_images(raw_images: torch.Tensor, *, normalize: bool) -> torch.Tensor:
    images = raw_images.to(torch.float32).div_(255.0).unsqueeze(1)
    return (images - MNIST_MEAN) / MNIST_STD if normalize else images


def load_mnist(
    *,
    data_dir: str | os.PathLike[str],
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

    Unpacked files are preferred over ``.gz``. With ``verify_md5`` (the default) the content of
    each official file (decompressed, for a ``.gz``) is checked against the known md5 of the
    official IDX data, so an edited file is refused whatever its packing while the official data
    re-compressed with another gzip level still loads. Every file's IDX header, size and item
    count is checked.

    Args:
        data_dir: The datasets root (holding ``MNIST/raw``), the ``MNIST`` folder or the raw folder.
        download: Allow torchvision to download missing files (needs network access).
        test_fraction: Share of the t10k images held out for testing (t10k split only).
        split_seed: Seed of the t10k split.
        normalize: Standardise pixels with ``MNIST_MEAN``/``MNIST_STD`` instead of ``[0, 1]``.
        digits: Keep only these digits, relabelled ``0 .. k-1`` in the given order.
        max_train_per_class: Cap per kept digit in the training half (first samples).
        max_test_per_class: Cap per kept digit in the test half (first samples).
        verify_md5: Check the (decompressed) content of each official file against its known md5
            (turn off only for your own IDX files saved under the official names).

    Returns:
        A :class:`DatasetSplit` of ``float32`` images ``(N, 1, 28, 28)`` and ``int64`` labels.

    Raises:
        DataError: If files are missing (and download is not allowed), truncated, corrupt or not
            the official data (md5 of the content, with ``verify_md5``), only
            one of the ``train-*`` pair is present, or the download fails. The message names
            the file and how to get it.
        ConfigurationError: If ``test_fraction`` is outside ``(0, 1)``.

    Example:
        >>> split = load_mnist(data_dir="../shared/datasets", digits=[0, 1])  # doctest: +SKIP
        >>> split.info.source, split.train.tensors[0].shape[1:]  # doctest: +SKIP
        ('mnist-t10k-split', torch.Size([1, 28, 28]))
    """
    _check_fraction(test_fraction)
    raw = _mnist_folder(data_dir, download=download)
    split = _read_mnist(
        raw,
        test_fraction=test_fraction,
        split_seed=split_seed,
        normalize=normalize,
        verify_md5=verify_md5,
    )
    return _maybe_subset(split, digits, max_train_per_class, max_test_per_class)


def _mnist_folder(data_dir: str | os.PathLike[str], *, download: bool) -> Path:
    """The raw folder to read (missing files downloaded first when allowed), train pair checked."""
    root = Path(data_dir).expanduser()
    if download:
        root.mkdir(parents=True, exist_ok=True)
        raw = find_mnist_raw_dir(root)
        if not (_has_part(raw, "train") and _has_part(raw, "t10k")):
            _download_mnist(root)
    raw = find_mnist_raw_dir(root)
    _check_train_pair(raw)
    return raw


def _read_mnist(
    raw: Path, *, test_fraction: float, split_seed: int, normalize: bool, verify_md5: bool
) -> DatasetSplit:
    """The official split when ``raw`` has both parts, else the seeded split of the t10k part."""
    if _has_part(raw, "train"):
        train, test = (
            TensorDataset(*_read_images(raw, part, normalize=normalize, verify_md5=verify_md5))
            for part in ("train", "t10k")
        )
        source, seed, fraction = SOURCE_MNIST_FULL, None, None
    else:
        images, labels = _read_images(raw, "t10k", normalize=normalize, verify_md5=verify_md5)
        train, test = _split_dataset(images, labels, test_fraction=test_fraction, seed=split_seed)
        source, seed, fraction = SOURCE_MNIST_T10K_SPLIT, split_seed, test_fraction
    return _new_split(
        train,
        test,
        source=source,
        classes=range(10),
        sample_shape=(1, MNIST_SIDE, MNIST_SIDE),
        split_seed=seed,
        test_fraction=fraction,
        normalized=normalize,
        path=str(raw),
    )


def _read_images(
    raw: Path, prefix: str, *, normalize: bool, verify_md5: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The float images ``(N, 1, 28, 28)`` and labels of one MNIST part."""
    images, labels = _read_pair(raw, prefix, verify_md5=verify_md5)
    return _to_images(images, normalize=normalize), labels


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
