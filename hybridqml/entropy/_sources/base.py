"""The entropy-source contract: :class:`EntropySource`, source kinds and read-size limits.

Every source returns exactly the number of bytes asked for or raises an
:class:`~hybridqml.exceptions.EntropyError`; it never pads, repeats or caches bytes. ``kind`` says
honestly where the bytes come from:

* ``"quantum"``: a QRNG service or real quantum hardware;
* ``"simulated-quantum"``: a quantum circuit sampled by a classical simulator (Aer uses a seeded
  pseudo-random generator for measurement sampling, so these bytes are *not* quantum);
* ``"os"``: the operating system CSPRNG (``os.urandom``);
* ``"pseudo"``: a seeded, reproducible pseudo-random generator.

A source that talks to a service may also expose integer attributes ``requests_made`` and
``failures`` (as :class:`~hybridqml.entropy._sources.qrng.QRNGSource` does, counting HTTP requests);
an :class:`~hybridqml.entropy.EntropyPool` then reports those in its provenance.

Single reads are capped at :data:`MAX_READ_BYTES` (1 GiB) by default: a request such as
``read(10**12)`` raises :class:`~hybridqml.exceptions.ConfigurationError` before any I/O instead of
buffering gigabytes until ``MemoryError``.
"""

from __future__ import annotations

import abc
from typing import Final, Literal

import numpy as np

from hybridqml.exceptions import ConfigurationError, EntropyError

__all__ = [
    "DEFAULT_CLAIMED_MIN_ENTROPY",
    "MAX_READ_BYTES",
    "SOURCE_KINDS",
    "EntropySource",
    "SourceKind",
    "check_byte_count",
]

SourceKind = Literal["quantum", "simulated-quantum", "os", "pseudo"]
SOURCE_KINDS: Final[tuple[str, ...]] = ("quantum", "simulated-quantum", "os", "pseudo")

#: Min-entropy per output byte a source claims by default (bits); health-test cutoffs use it.
DEFAULT_CLAIMED_MIN_ENTROPY: Final[float] = 8.0
#: Largest single read (1 GiB) accepted by sources, pools, expanded generators and samplers by
#: default; pools and generators take a ``max_read_bytes`` argument to change it.
MAX_READ_BYTES: Final[int] = 1 << 30


def check_byte_count(n: object, limit: int | None = None, *, owner: str = "") -> int:
    """Validate a requested byte count and return it as an ``int``.

    Args:
        n: The requested count.
        limit: Largest count allowed (``None``: no limit).
        owner: Who enforces ``limit`` (named in the error message).

    Raises:
        ConfigurationError: ``n`` is not an int, is negative, or exceeds ``limit``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ConfigurationError(f"byte count must be an int, got {type(n).__name__}")
    if n < 0:
        raise ConfigurationError(f"byte count must be >= 0, got {n}")
    if limit is not None and n > limit:
        where = f" of {owner}" if owner else ""
        raise ConfigurationError(
            f"a single read of {int(n)} bytes exceeds max_read_bytes={limit}{where}; read in "
            "smaller pieces or raise max_read_bytes"
        )
    return int(n)


class EntropySource(abc.ABC):
    """A producer of random bytes.

    Subclasses implement :meth:`_read`; :meth:`read` validates the request and checks that exactly
    ``n`` bytes came back.

    Attributes:
        name: Short human-readable identifier (no secrets).
        kind: One of ``"quantum"``, ``"simulated-quantum"``, ``"os"``, ``"pseudo"``.
        claimed_min_entropy: Min-entropy per byte (bits) the source claims; used by health tests.
        max_read_bytes: Largest single :meth:`read` (default :data:`MAX_READ_BYTES`).

    Example:
        >>> from hybridqml.entropy import PRNGSource
        >>> len(PRNGSource(seed=1).read(5))
        5
    """

    name: str = "source"
    kind: SourceKind = "pseudo"
    claimed_min_entropy: float = DEFAULT_CLAIMED_MIN_ENTROPY
    max_read_bytes: int = MAX_READ_BYTES

    def read(self, n: int) -> bytes:
        """Return exactly ``n`` fresh bytes.

        Args:
            n: Number of bytes (>= 0, at most ``max_read_bytes``).

        Returns:
            ``n`` bytes never returned before by this source.

        Raises:
            ConfigurationError: ``n`` is not a non-negative int or exceeds ``max_read_bytes``.
            EntropyError: The source cannot deliver (subclasses raise more specific errors).
        """
        n = check_byte_count(n, self.max_read_bytes, owner=self.name)
        if n == 0:
            return b""
        data = self._read(n)
        if len(data) != n:
            raise EntropyError(f"{self.name} returned {len(data)} bytes instead of {n}")
        return bytes(data)

    @abc.abstractmethod
    def _read(self, n: int) -> bytes:
        """Produce exactly ``n`` > 0 bytes."""

    def close(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Release resources held by the source (network sessions, ...)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, kind={self.kind!r})"
