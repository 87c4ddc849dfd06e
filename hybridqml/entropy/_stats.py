"""Offline randomness statistics: SP 800-22 monobit, block-frequency, runs; MCV min-entropy.

References: NIST SP 800-22 rev. 1a, sections 2.1-2.3 (a test passes when ``P >= 0.01``);
NIST SP 800-90B section 6.3.1 (most common value estimate). These are sanity checks for a report,
not proof of randomness: a PRNG passes them all.

Example:
    >>> import os
    >>> from hybridqml.entropy._stats import randomness_report
    >>> report = randomness_report(os.urandom(4096))
    >>> 0.0 <= report.monobit_p <= 1.0
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.special import erfc, gammaincc

from hybridqml.exceptions import ConfigurationError

__all__ = [
    "DEFAULT_BLOCK_BITS",
    "PASS_THRESHOLD",
    "RandomnessReport",
    "block_frequency_test",
    "mcv_min_entropy",
    "monobit_test",
    "randomness_report",
    "runs_test",
]

#: SP 800-22 significance level.
PASS_THRESHOLD: Final[float] = 0.01
#: Block length M of the block-frequency test.
DEFAULT_BLOCK_BITS: Final[int] = 128
#: z_(1 - 0.005): upper 99 % confidence bound in the MCV estimate.
_Z_99: Final[float] = 2.5758293035489008


def _bits(data: bytes | np.ndarray) -> np.ndarray:
    if isinstance(data, (bytes, bytearray, memoryview)):
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    else:
        bits = np.asarray(data, dtype=np.uint8).ravel()
        if bits.size and bits.max() > 1:
            raise ConfigurationError("bit arrays must hold only 0 and 1")
    if bits.size < 2:
        raise ConfigurationError("need at least 2 bits")
    return bits


def monobit_test(data: bytes | np.ndarray) -> float:
    """Frequency (monobit) test: ``P = erfc(|S| / sqrt(2 n))``, ``S = sum(2 e_i - 1)``.

    Args:
        data: Bytes (bits taken most significant first) or an array of 0/1 bits.
    """
    bits = _bits(data)
    s = 2 * int(np.count_nonzero(bits)) - bits.size
    return float(erfc(abs(s) / math.sqrt(2 * bits.size)))


def block_frequency_test(data: bytes | np.ndarray, block_bits: int = DEFAULT_BLOCK_BITS) -> float:
    """Block frequency test: ``chi2 = 4 M sum (pi_i - 1/2)^2``, ``P = igamc(N / 2, chi2 / 2)``."""
    bits = _bits(data)
    if not isinstance(block_bits, int) or block_bits < 2:
        raise ConfigurationError("block_bits must be an int >= 2")
    blocks = bits.size // block_bits
    if blocks < 1:
        raise ConfigurationError(f"need at least {block_bits} bits for the block-frequency test")
    pi = bits[: blocks * block_bits].reshape(blocks, block_bits).mean(axis=1)
    chi2 = 4.0 * block_bits * float(np.sum((pi - 0.5) ** 2))
    return float(gammaincc(blocks / 2.0, chi2 / 2.0))


def runs_test(data: bytes | np.ndarray) -> float:
    """Runs test; returns 0.0 when the monobit pre-condition ``|pi - 1/2| < 2 / sqrt(n)`` fails."""
    bits = _bits(data)
    n = bits.size
    pi = float(np.count_nonzero(bits)) / n
    if abs(pi - 0.5) >= 2.0 / math.sqrt(n):
        return 0.0
    v = 1 + int(np.count_nonzero(bits[1:] != bits[:-1]))
    q = pi * (1.0 - pi)
    return float(erfc(abs(v - 2.0 * n * q) / (2.0 * math.sqrt(2.0 * n) * q)))


def mcv_min_entropy(data: bytes | np.ndarray) -> float:
    """Most-common-value min-entropy estimate per sample (SP 800-90B 6.3.1), bits per byte.

    ``p_u = min(1, p + 2.576 sqrt(p (1 - p) / (L - 1)))``, ``H = -log2(p_u)``.

    Args:
        data: Samples: bytes, or an integer array (each element one sample).
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        samples = np.frombuffer(data, dtype=np.uint8)
    else:
        samples = np.asarray(data).ravel()
    if samples.size < 2:
        raise ConfigurationError("need at least 2 samples")
    _, counts = np.unique(samples, return_counts=True)
    p = counts.max() / samples.size
    p_u = min(1.0, p + _Z_99 * math.sqrt(p * (1.0 - p) / (samples.size - 1)))
    return 0.0 if p_u >= 1.0 else float(-math.log2(p_u))  # never -0.0


@dataclass(frozen=True)
class RandomnessReport:
    """SP 800-22 p-values and the MCV min-entropy estimate for one sample of bytes."""

    n_bytes: int
    monobit_p: float
    block_frequency_p: float
    runs_p: float
    mcv_min_entropy: float

    @property
    def passed(self) -> bool:
        """All three p-values are at least 0.01."""
        return min(self.monobit_p, self.block_frequency_p, self.runs_p) >= PASS_THRESHOLD


def randomness_report(data: bytes, *, block_bits: int = DEFAULT_BLOCK_BITS) -> RandomnessReport:
    """Run all statistics on ``data`` (at least ``block_bits / 8`` bytes)."""
    return RandomnessReport(
        n_bytes=len(data),
        monobit_p=monobit_test(data),
        block_frequency_p=block_frequency_test(data, block_bits),
        runs_p=runs_test(data),
        mcv_min_entropy=mcv_min_entropy(data),
    )
