"""Where the examples find MNIST: $HYBRIDQML_DATA_DIR, else ../shared/datasets next to the repo."""

import os
from pathlib import Path


def mnist_dir() -> str | None:
    """The MNIST folder, or None (the examples then use scikit-learn's offline digits)."""
    candidates = [os.environ.get("HYBRIDQML_DATA_DIR")]
    candidates.append(str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    for path in candidates:
        if path and (Path(path) / "MNIST" / "raw").is_dir():
            return path
    return None
