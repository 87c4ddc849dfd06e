"""Fixtures for the entropy tests."""

from __future__ import annotations

import pytest
from entropy_testing import QRNGStandIn


@pytest.fixture
def qrng_server():
    server = QRNGStandIn()
    yield server
    server.close()
