"""Helpers shared by the workflow tests (unique module name: tests/ has no __init__.py)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
HAS_MNIST = (SHARED_DATASETS / "MNIST" / "raw").is_dir()


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 whose port nobody listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/entropy"


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
