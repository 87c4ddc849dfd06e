"""Helpers the examples share: where MNIST is, a scratch folder, and showing a saved plot."""

import os
import tempfile
from pathlib import Path


def mnist_dir() -> str | None:
    """The MNIST folder, or None (the examples then use scikit-learn's offline digits)."""
    candidates = [os.environ.get("HYBRIDQML_DATA_DIR")]
    candidates.append(str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    for path in candidates:
        if path and (Path(path) / "MNIST" / "raw").is_dir():
            return path
    return None


def run_folder(name: str) -> Path:
    """A fresh temporary folder for one example's run files (nothing lands in the repo)."""
    return Path(tempfile.mkdtemp(prefix=f"hybridqml-{name}-"))


def show_png(path, title: str | None = None) -> None:
    """Show a PNG the library wrote, as a matplotlib figure (so the gallery captures it)."""
    import matplotlib.image
    import matplotlib.pyplot as plt

    image = matplotlib.image.imread(str(path))
    height, width = image.shape[:2]
    figure = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(image)
    axes.set_axis_off()
    if title:
        figure.suptitle(title)
