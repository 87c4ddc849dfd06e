"""Tests of hybridqml.data: MNIST folders (real and corrupt), subsets, sklearn digits, circles."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from hybridqml.data import (
    MNIST_MEAN,
    MNIST_STD,
    find_mnist_raw_dir,
    load_circles,
    load_mnist,
    load_sklearn_digits,
    select_digits,
)
from hybridqml.exceptions import ConfigurationError, DataError

SHARED_DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
needs_shared_mnist = pytest.mark.skipif(
    not (SHARED_DATASETS / "MNIST" / "raw").is_dir(),
    reason=f"shared MNIST t10k files not found at {SHARED_DATASETS}",
)

IMAGES = "t10k-images-idx3-ubyte"
LABELS = "t10k-labels-idx1-ubyte"


def _idx_images(images: np.ndarray, *, magic: int = 2051) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">4I", magic, n, rows, cols) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray, *, magic: int = 2049) -> bytes:
    return struct.pack(">2I", magic, len(labels)) + labels.astype(np.uint8).tobytes()


def _write_t10k(root: Path, *, n_per_class: int = 6, gz: bool = False) -> Path:
    """Write a small valid t10k pair into root/MNIST/raw; return the raw folder."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    labels = np.repeat(np.arange(10), n_per_class)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.arange(len(labels))  # unique marker per image
    images[:, 14, 14] = 255
    for name, data in ((IMAGES, _idx_images(images)), (LABELS, _idx_labels(labels))):
        if gz:
            (raw / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (raw / name).write_bytes(data)
    return raw


# --------------------------------------------------------------------------- shared t10k folder


@needs_shared_mnist
def test_shared_t10k_is_split_deterministically_and_disjointly() -> None:
    first = load_mnist(data_dir=SHARED_DATASETS)
    second = load_mnist(data_dir=SHARED_DATASETS)
    assert first.info.source == "mnist-t10k-split"
    assert (first.info.n_train, first.info.n_test) == (8333, 1667)
    assert first.info.n_train + first.info.n_test == 10_000
    for a, b in ((first.train, second.train), (first.test, second.test)):
        assert torch.equal(a.tensors[0], b.tensors[0])
        assert torch.equal(a.tensors[1], b.tensors[1])
    x_train, y_train = first.train.tensors
    x_test, y_test = first.test.tensors
    assert x_train.shape == (8333, 1, 28, 28) and x_train.dtype == torch.float32
    assert y_train.dtype == torch.int64
    assert float(x_train.min()) == 0.0 and float(x_train.max()) == 1.0
    # disjoint and complete: the 10,000 t10k images are distinct, so no image may repeat
    both = torch.cat([x_train, x_test]).flatten(1)
    assert torch.unique(both, dim=0).shape[0] == 10_000
    # stratified: every digit is in the test half at ~1/6 of its count
    counts_test = torch.bincount(y_test, minlength=10)
    counts_all = counts_test + torch.bincount(y_train, minlength=10)
    assert torch.all((counts_test - counts_all / 6).abs() <= 1)


@needs_shared_mnist
def test_other_split_seed_gives_another_split() -> None:
    a = load_mnist(data_dir=SHARED_DATASETS, split_seed=0, digits=[0, 1])
    b = load_mnist(data_dir=SHARED_DATASETS, split_seed=1, digits=[0, 1])
    assert a.info.n_test == b.info.n_test
    assert not torch.equal(a.test.tensors[0], b.test.tensors[0])


@needs_shared_mnist
@pytest.mark.parametrize("sub", ["", "MNIST", "MNIST/raw"])
def test_data_dir_may_be_root_mnist_or_raw_folder(sub: str) -> None:
    path = SHARED_DATASETS / sub if sub else SHARED_DATASETS
    assert find_mnist_raw_dir(path).resolve() == (SHARED_DATASETS / "MNIST" / "raw").resolve()
    split = load_mnist(data_dir=path, digits=[0, 1], max_test_per_class=5)
    assert split.info.n_test == 10


@needs_shared_mnist
def test_digit_subset_and_normalisation() -> None:
    plain = load_mnist(data_dir=SHARED_DATASETS, digits=[7, 3])
    assert plain.info.classes == (7, 3) and plain.info.n_classes == 2
    assert set(plain.train.tensors[1].tolist()) == {0, 1}
    full = load_mnist(data_dir=SHARED_DATASETS)
    sevens = full.train.tensors[0][full.train.tensors[1] == 7]
    assert torch.equal(plain.train.tensors[0][plain.train.tensors[1] == 0], sevens)
    norm = load_mnist(data_dir=SHARED_DATASETS, digits=[7, 3], normalize=True)
    assert torch.allclose(norm.train.tensors[0], (plain.train.tensors[0] - MNIST_MEAN) / MNIST_STD)
    assert norm.info.normalized


# ------------------------------------------------------------------------ small files in tmp_path


@pytest.mark.parametrize("gz", [False, True])
def test_small_valid_folder_loads_plain_and_gz(tmp_path: Path, gz: bool) -> None:
    _write_t10k(tmp_path, gz=gz)
    split = load_mnist(data_dir=tmp_path, test_fraction=0.5, verify_md5=False)
    assert (split.info.n_train, split.info.n_test) == (30, 30)
    assert torch.equal(torch.bincount(split.test.tensors[1]), torch.full((10,), 3))
    markers = torch.cat([split.train.tensors[0], split.test.tensors[0]])[:, 0, 0, 0] * 255
    assert sorted(markers.round().long().tolist()) == list(range(60))


def test_missing_folder_and_missing_files_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist.*--data-dir"):
        load_mnist(data_dir=tmp_path / "nowhere")
    raw = _write_t10k(tmp_path)
    (raw / LABELS).unlink()
    with pytest.raises(DataError, match=rf"{LABELS}.*missing.*download=True"):
        load_mnist(data_dir=tmp_path)


def test_wrong_magic_number(tmp_path: Path) -> None:
    raw = _write_t10k(tmp_path)
    data = bytearray((raw / IMAGES).read_bytes())
    data[:4] = struct.pack(">I", 2049)
    (raw / IMAGES).write_bytes(bytes(data))
    with pytest.raises(DataError, match=rf"{IMAGES}.*magic number 2049, expected 2051"):
        load_mnist(data_dir=tmp_path)


@pytest.mark.parametrize("keep", [5, 1000])
def test_truncated_file(tmp_path: Path, keep: int) -> None:
    raw = _write_t10k(tmp_path)
    (raw / IMAGES).write_bytes((raw / IMAGES).read_bytes()[:keep])
    with pytest.raises(DataError, match=rf"{IMAGES}.*truncated"):
        load_mnist(data_dir=tmp_path)


def test_truncated_gz_archive(tmp_path: Path) -> None:
    raw = _write_t10k(tmp_path, gz=True)
    gz = raw / f"{LABELS}.gz"
    gz.write_bytes(gz.read_bytes()[:-10])
    with pytest.raises(DataError, match=rf"{LABELS}\.gz"):
        load_mnist(data_dir=tmp_path, verify_md5=False)


def test_label_and_image_counts_must_agree(tmp_path: Path) -> None:
    raw = _write_t10k(tmp_path)
    (raw / LABELS).write_bytes(_idx_labels(np.arange(50) % 10))
    with pytest.raises(DataError, match="60 images but 50 labels"):
        load_mnist(data_dir=tmp_path, verify_md5=False)


@pytest.mark.parametrize("gz", [False, True])
def test_md5_of_official_names_is_checked_on_the_content(tmp_path: Path, gz: bool) -> None:
    raw = _write_t10k(tmp_path, gz=gz)  # valid IDX content, but not the official data
    name = f"{IMAGES}.gz" if gz else IMAGES
    with pytest.raises(DataError, match=rf"{name}' does not hold the official.*md5"):
        load_mnist(data_dir=tmp_path, verify_md5=True)
    assert load_mnist(data_dir=tmp_path, verify_md5=False).info.n_train == 50
    assert (raw / name).is_file()


def _copy_shared_t10k(tmp_path: Path) -> Path:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in (IMAGES, LABELS):
        (raw / name).write_bytes((SHARED_DATASETS / "MNIST" / "raw" / name).read_bytes())
    return raw


@needs_shared_mnist
def test_edited_unpacked_official_file_is_refused_naming_it(tmp_path: Path) -> None:
    raw = _copy_shared_t10k(tmp_path)
    data = bytearray((raw / IMAGES).read_bytes())
    data[16 + 14 * 28 + 14] ^= 0xFF  # one pixel of the first image; header and size stay valid
    (raw / IMAGES).write_bytes(bytes(data))
    with pytest.raises(DataError, match=rf"{IMAGES}' does not hold the official") as info:
        load_mnist(data_dir=tmp_path, digits=[7])
    assert str(raw / IMAGES) in str(info.value)
    assert load_mnist(data_dir=tmp_path, digits=[7], verify_md5=False).info.n_train > 0


@needs_shared_mnist
@pytest.mark.parametrize("level", [1, 9])
def test_official_data_recompressed_with_another_gzip_level_loads(
    tmp_path: Path, level: int
) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in (IMAGES, LABELS):
        content = (SHARED_DATASETS / "MNIST" / "raw" / name).read_bytes()
        packed = gzip.compress(content, compresslevel=level, mtime=0)
        official = (SHARED_DATASETS / "MNIST" / "raw" / f"{name}.gz").read_bytes()
        assert packed != official  # another archive of the same content
        (raw / f"{name}.gz").write_bytes(packed)
    split = load_mnist(data_dir=tmp_path)
    reference = load_mnist(data_dir=SHARED_DATASETS)
    assert torch.equal(split.train.tensors[0], reference.train.tensors[0])
    assert torch.equal(split.test.tensors[1], reference.test.tensors[1])


def test_bad_test_fraction(tmp_path: Path) -> None:
    _write_t10k(tmp_path)
    with pytest.raises(ConfigurationError, match="test_fraction"):
        load_mnist(data_dir=tmp_path, test_fraction=1.0)


# ----------------------------------------------------------------------- subsets and offline sets


def test_select_digits_relabels_in_given_order_and_caps() -> None:
    labels = torch.tensor([3, 8, 1, 3, 8, 3])
    ds = TensorDataset(torch.arange(6.0).unsqueeze(1), labels)
    sub = select_digits(ds, [8, 3])
    assert sub.tensors[1].tolist() == [1, 0, 1, 0, 1]
    assert sub.tensors[0].flatten().tolist() == [0, 1, 3, 4, 5]
    capped = select_digits(ds, [3, 8], max_per_class=1)
    assert capped.tensors[0].flatten().tolist() == [0, 1]
    with pytest.raises(DataError, match="label 5"):
        select_digits(ds, [5])
    with pytest.raises(ConfigurationError):
        select_digits(ds, [3, 3])


def test_sklearn_digits_offline() -> None:
    split = load_sklearn_digits(digits=[0, 1])
    x, y = split.train.tensors
    assert x.shape[1:] == (1, 8, 8) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert set(y.tolist()) == {0, 1}
    assert split.info.source == "sklearn-digits" and split.info.n_train == len(y)
    again = load_sklearn_digits(digits=[0, 1])
    assert torch.equal(split.test.tensors[0], again.test.tensors[0])


def test_circles_seeded_standardised_and_validated() -> None:
    a = load_circles(n_samples=300, seed=3)
    b = load_circles(n_samples=300, seed=3)
    c = load_circles(n_samples=300, seed=4)
    assert torch.equal(a.train.tensors[0], b.train.tensors[0])
    assert not torch.equal(a.train.tensors[0], c.train.tensors[0])
    x = a.train.tensors[0]
    assert x.shape == (250, 2) and x.dtype == torch.float32
    assert torch.allclose(x.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(x.std(0, unbiased=False), torch.ones(2), atol=1e-4)
    assert torch.bincount(a.test.tensors[1]).tolist() == [25, 25]
    with pytest.raises(ConfigurationError, match="factor"):
        load_circles(factor=1.5)


def test_full_mnist_folder_uses_the_official_split(tmp_path: Path) -> None:
    raw = _write_t10k(tmp_path, n_per_class=2)
    labels = np.repeat(np.arange(10), 3)
    (raw / "train-images-idx3-ubyte").write_bytes(_idx_images(np.zeros((30, 28, 28))))
    (raw / "train-labels-idx1-ubyte").write_bytes(_idx_labels(labels))
    split = load_mnist(data_dir=tmp_path / "MNIST", digits=[4, 2], verify_md5=False)
    assert split.info.source == "mnist-full" and split.info.split_seed is None
    assert (split.info.n_train, split.info.n_test) == (6, 4)


@pytest.mark.parametrize("present", ["images", "labels", "broken-images-link", "images-dir"])
def test_half_a_train_pair_is_an_error_not_a_silent_t10k_split(
    tmp_path: Path, present: str
) -> None:
    raw = _write_t10k(tmp_path, n_per_class=2)
    images, labels = raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte"
    train_labels = _idx_labels(np.repeat(np.arange(10), 3))
    if present == "images":
        images.write_bytes(_idx_images(np.zeros((30, 28, 28))))
        expected = r"train-labels-idx1-ubyte'\[\.gz\] is missing"
    elif present == "labels":
        labels.write_bytes(train_labels)
        expected = r"train-images-idx3-ubyte'\[\.gz\] is missing"
    elif present == "broken-images-link":
        labels.write_bytes(train_labels)
        images.symlink_to(tmp_path / "gone")
        expected = r"train-images-idx3-ubyte' is not a readable file \(a broken link"
    else:
        labels.write_bytes(train_labels)
        (raw / "train-images-idx3-ubyte.gz").mkdir()
        expected = r"train-images-idx3-ubyte\.gz' is not a readable file"
    with pytest.raises(DataError, match=expected) as info:
        load_mnist(data_dir=tmp_path)
    message = str(info.value)
    assert "only part of the training set" in message and "remove the train-* files" in message
    assert "--download" in message


def test_missing_files_name_the_python_field_and_the_cli_flag(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_mnist(data_dir=tmp_path)
    assert "download=True" in str(info.value) and "--download" in str(info.value)


def test_download_is_opt_in_and_failures_are_data_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets

    calls: list[tuple[str, bool, bool]] = []

    class OfflineMNIST:
        def __init__(self, root: str, *, train: bool, download: bool) -> None:
            calls.append((root, train, download))
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", OfflineMNIST)
    with pytest.raises(DataError, match="missing"):
        load_mnist(data_dir=tmp_path)
    assert calls == []  # no download unless allowed
    with pytest.raises(DataError, match=r"downloading MNIST.*Error downloading"):
        load_mnist(data_dir=tmp_path / "new", download=True)
    assert calls == [(str(tmp_path / "new"), True, True)]
