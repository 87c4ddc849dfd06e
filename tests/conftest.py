"""Shared fixtures: seeded torch and the path to the shared datasets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from entropy_testing import QRNGStandIn

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(1234)


@pytest.fixture
def qrng_server():
    """A stand-in QRNG HTTP service on 127.0.0.1 (see tests/entropy/entropy_testing.py)."""
    server = QRNGStandIn()
    yield server
    server.close()
