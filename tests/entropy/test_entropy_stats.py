"""SP 800-22 statistics against the worked examples in SP 800-22 rev. 1a, and MCV estimates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hybridqml.entropy import randomness_report
from hybridqml.entropy._stats import (
    block_frequency_test,
    mcv_min_entropy,
    monobit_test,
    runs_test,
)
from hybridqml.exceptions import ConfigurationError


def bits(text: str) -> np.ndarray:
    return np.array([int(c) for c in text], dtype=np.uint8)


def test_monobit_worked_example():
    assert monobit_test(bits("1011010101")) == pytest.approx(0.527089, abs=1e-6)


def test_block_frequency_worked_example():
    assert block_frequency_test(bits("0110011010"), 3) == pytest.approx(0.801252, abs=1e-6)


def test_runs_worked_example():
    assert runs_test(bits("1001101011")) == pytest.approx(0.147232, abs=1e-6)


def test_runs_precondition_failure_gives_zero():
    assert runs_test(bits("1111111110" * 10)) == 0.0


def test_mcv_estimate():
    data = bytes(range(256)) * 4
    p = 4 / 1024
    p_u = p + 2.5758293035489008 * math.sqrt(p * (1 - p) / 1023)
    assert mcv_min_entropy(data) == pytest.approx(-math.log2(p_u))
    assert mcv_min_entropy(bytes(100)) == 0.0


def test_report_on_good_and_bad_data():
    good = randomness_report(np.random.default_rng(0).bytes(1 << 16))
    assert good.passed and 7.5 < good.mcv_min_entropy <= 8
    biased = np.random.default_rng(1).random(1 << 19) < 0.53
    bad = randomness_report(np.packbits(biased).tobytes())
    assert not bad.passed and bad.monobit_p < 0.01


def test_validation():
    with pytest.raises(ConfigurationError):
        monobit_test(np.array([0, 2, 1]))
    with pytest.raises(ConfigurationError):
        block_frequency_test(b"\x00", 128)


def test_mcv_min_entropy_of_constant_data_is_positive_zero():
    h = mcv_min_entropy(bytes(100))
    assert h == 0.0 and math.copysign(1.0, h) == 1.0
    assert f"{h:.4f}" == "0.0000"
