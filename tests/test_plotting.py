"""Tests of hybridqml.plotting: every plot writes a real PNG; bad inputs are clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hybridqml.exceptions import InputError
from hybridqml.plotting import (
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_history,
    save_image_grid,
)
from hybridqml.runs import write_metrics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR chunk)."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_history_from_records_and_from_metrics_json(tmp_path: Path) -> None:
    history = [
        {"epoch": 1, "loss": 0.9, "test_loss": 1.0, "accuracy": 0.5, "test_accuracy": 0.4},
        {"epoch": 2, "loss": 0.4, "test_loss": 0.6, "accuracy": 0.8, "test_accuracy": 0.7},
    ]
    one = plot_history(history, tmp_path / "sub" / "curves.png", title="run")
    assert one == tmp_path / "sub" / "curves.png"
    width, height = _png_size(one)
    assert width > height > 100  # two panels side by side
    metrics = json.loads(write_metrics(tmp_path / "m.json", history=history).read_text())
    two = plot_history(metrics, tmp_path / "from_json.png", metrics=["loss"])
    assert _png_size(two)[0] < width  # one panel only
    with pytest.raises(InputError, match="missing"):
        plot_history(history, tmp_path / "x.png", metrics=["nope"])


def test_confusion_matrix(tmp_path: Path) -> None:
    path = plot_confusion_matrix(
        np.array([[8, 2], [1, 9]]), tmp_path / "cm.png", class_names=["0", "1"], normalize=True
    )
    assert path.stat().st_size > 1000 and _png_size(path)[0] > 0
    with pytest.raises(InputError, match="square"):
        plot_confusion_matrix([[1, 2, 3]], tmp_path / "bad.png")
    with pytest.raises(InputError, match="class names"):
        plot_confusion_matrix([[1, 0], [0, 1]], tmp_path / "bad.png", class_names=["a"])


def test_decision_boundary_binary_and_multiclass(tmp_path: Path) -> None:
    torch.manual_seed(0)
    x = torch.randn(60, 2)
    calls: list[int] = []

    def radial(points: torch.Tensor) -> torch.Tensor:
        calls.append(len(points))
        return 1.0 - points.pow(2).sum(dim=1)

    path = plot_decision_boundary(
        radial, x, (x.norm(dim=1) < 1).long(), tmp_path / "db.png", resolution=50
    )
    assert calls == [2500]  # the whole grid in one call
    assert path.stat().st_size > 1000
    model = nn.Linear(2, 3).eval()
    path3 = plot_decision_boundary(model, x, torch.arange(60) % 3, tmp_path / "db3.png")
    assert _png_size(path3)[0] > 0
    with pytest.raises(InputError, match=r"\(N, 2\)"):
        plot_decision_boundary(radial, torch.zeros(5, 3), torch.zeros(5), tmp_path / "bad.png")


def test_image_grid_from_flat_generator_output(tmp_path: Path) -> None:
    images = torch.tanh(torch.randn(16, 784))
    path = save_image_grid(images, tmp_path / "grid.png", nrow=8)
    assert _png_size(path) == (8 * 30 + 2, 2 * 30 + 2)  # 28 px + 2 px padding per image
    path2 = save_image_grid(torch.rand(3, 1, 8, 8), tmp_path / "digits.png", value_range=None)
    assert _png_size(path2) == (3 * 10 + 2, 12)
    with pytest.raises(InputError, match="reshape"):
        save_image_grid(torch.zeros(2, 100), tmp_path / "bad.png")


def test_no_pyplot_figures_left_open(tmp_path: Path) -> None:
    plot_confusion_matrix([[1, 0], [0, 1]], tmp_path / "cm.png")
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        assert pyplot.get_fignums() == []


def _full_disk(target) -> None:
    """A write that reaches the disk in part, then fails with ENOSPC."""
    Path(target).write_bytes(b"\x89PNG partial")
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("kind", ["plot", "image grid"])
def test_a_full_disk_keeps_the_old_picture_and_is_named(tmp_path: Path, monkeypatch, kind) -> None:
    import matplotlib.figure
    import torchvision.utils

    from hybridqml.exceptions import StorageError

    path = tmp_path / "run" / "picture.png"

    def draw() -> Path:
        if kind == "plot":
            return plot_confusion_matrix([[3, 1], [0, 4]], path)
        return save_image_grid(torch.rand(4, 1, 8, 8), path)

    before = draw().read_bytes()
    if kind == "plot":
        monkeypatch.setattr(
            matplotlib.figure.Figure, "savefig", lambda self, target, **kw: _full_disk(target)
        )
    else:
        monkeypatch.setattr(
            torchvision.utils, "save_image", lambda batch, target, **kw: _full_disk(target)
        )
    with pytest.raises(StorageError) as info:
        draw()
    err = info.value
    assert err.path == path and "picture.png" in str(err) and "free" in str(err)
    assert path.read_bytes() == before  # the previous picture is intact
    assert [p.name for p in path.parent.iterdir()] == ["picture.png"]  # no partial temp file


def test_an_unwritable_folder_is_a_named_error(tmp_path: Path) -> None:
    from hybridqml.exceptions import StorageError

    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.raises(StorageError, match=r"cannot write 'cm\.png' in .*taken.*--out"):
        plot_confusion_matrix([[1, 0], [0, 1]], tmp_path / "taken" / "cm.png")
    with pytest.raises(StorageError, match=r"cannot write 'grid\.png'"):
        save_image_grid(torch.rand(2, 1, 4, 4), tmp_path / "taken" / "grid.png")
