"""The two local sources, the OS CSPRNG and a seeded, reproducible PRNG, and their entries."""

from __future__ import annotations

import os
import threading

import numpy as np

from hybridqml.entropy._registry import SourceEntry
from hybridqml.entropy._sources.base import EntropySource, SourceKind
from hybridqml.exceptions import ConfigurationError

__all__ = ["OS", "PRNG", "OSSource", "PRNGSource"]


class _WordStream:
    """Bytes from a numpy bit generator, independent of how the stream is split into reads.

    ``Generator.bytes(n)`` discards the unused part of its last 32-bit word, so ``bytes(3) +
    bytes(5)`` differs from ``bytes(8)``. This keeps the leftover of each 64-bit word instead.
    """

    def __init__(self, bit_generator: np.random.BitGenerator) -> None:
        self._bit_generator = bit_generator
        self._leftover = b""

    def read(self, n: int) -> bytes:
        if n <= len(self._leftover):
            out, self._leftover = self._leftover[:n], self._leftover[n:]
            return out
        need = n - len(self._leftover)
        words = self._bit_generator.random_raw(-(-need // 8))
        raw = np.asarray(words, dtype="<u8").tobytes()
        out = self._leftover + raw[:need]
        self._leftover = raw[need:]
        return out


class OSSource(EntropySource):
    """Bytes from the operating system CSPRNG (:func:`os.urandom`).

    Example:
        >>> from hybridqml.entropy import OSSource
        >>> OSSource().kind
        'os'
    """

    name = "os.urandom"
    kind: SourceKind = "os"

    def __init__(self) -> None:
        pass

    def _read(self, n: int) -> bytes:
        return os.urandom(n)


class PRNGSource(EntropySource):
    """A reproducible pseudo-random baseline (numpy ``PCG64DXSM`` seeded with ``seed``).

    The byte stream depends only on ``seed``, not on how it is split into reads.

    Args:
        seed: Any seed accepted by :class:`numpy.random.SeedSequence`; ``None`` draws one from the
            OS (not reproducible).

    Example:
        >>> from hybridqml.entropy import PRNGSource
        >>> PRNGSource(seed=7).read(4) == PRNGSource(seed=7).read(4)
        True
    """

    kind: SourceKind = "pseudo"

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ConfigurationError(f"seed must be an int or None, got {type(seed).__name__}")
        if seed is not None and seed < 0:
            raise ConfigurationError(f"seed must be >= 0, got {seed}")
        self.seed = None if seed is None else int(seed)
        self.name = f"prng(PCG64DXSM, seed={self.seed})"
        self._stream = _WordStream(np.random.PCG64DXSM(self.seed))
        self._lock = threading.Lock()

    def _read(self, n: int) -> bytes:
        with self._lock:
            return self._stream.read(n)


OS = SourceEntry(
    factory=lambda settings, *, name, seed: OSSource(),
    help="the operating system CSPRNG",
    fallback=True,
)
"""The ``os`` source."""
PRNG = SourceEntry(
    factory=lambda settings, *, name, seed: PRNGSource(seed),
    help="seeded PCG64DXSM (reproducible baseline)",
    seeded=True,
    fallback=True,
)
"""The ``prng`` source: reproducible from the seed."""
