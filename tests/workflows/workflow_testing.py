"""Helpers shared by the workflow tests (unique module name: tests/ has no __init__.py)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
HAS_MNIST = (SHARED_DATASETS / "MNIST" / "raw").is_dir()


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 whose port nobody listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/entropy"


def assert_same_state(a: Any, b: Any, where: str = "state") -> None:
    """Assert two (nested) state dicts are identical: tensors bitwise, everything else by ==."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}[{key!r}]")
    else:
        assert a == b, where


@contextlib.contextmanager
def unwritable_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot write: mode 0o500, or (as root) the kernel's /sys/kernel."""
    import pytest

    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root ignores the mode
            folder = Path("/sys/kernel")
            if not folder.is_dir() or (os.access(folder, os.W_OK) and _probe_writes(folder)):
                pytest.skip("no unwritable folder available")
        yield folder
    finally:
        (tmp_path / "read-only").chmod(0o700)


def _probe_writes(folder: Path) -> bool:
    probe = folder / f".probe.{os.getpid()}"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True


def read_metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


class CountingSource:
    """A read(n) source that records every request and never repeats a byte."""

    name = "counting"
    kind = "pseudo"

    def __init__(self) -> None:
        self.counter = 0
        self.requests: list[int] = []

    def read(self, n: int) -> bytes:
        self.requests.append(n)
        out = bytes((self.counter + i) * 2654435761 % 251 for i in range(n))
        self.counter += n
        return out


def write_fake_t10k(root: Path, *, n_per_class: int = 12) -> Path:
    """Write a tiny valid t10k IDX pair (digits 0-9, a blob per digit) into root/MNIST/raw."""
    import struct

    import numpy as np

    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    labels = np.repeat(np.arange(10, dtype=np.uint8), n_per_class)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    for i, digit in enumerate(labels):
        images[i, 2 * digit : 2 * digit + 6, 4:24] = 200 + i % 50
    (raw / "t10k-images-idx3-ubyte").write_bytes(
        struct.pack(">4I", 2051, len(labels), 28, 28) + images.tobytes()
    )
    (raw / "t10k-labels-idx1-ubyte").write_bytes(
        struct.pack(">2I", 2049, len(labels)) + labels.tobytes()
    )
    return raw
