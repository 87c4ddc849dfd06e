"""Expansion: a fast generator seeded from an entropy pool, reseeded on a schedule.

An HTTP QRNG delivers kilobytes per second; a GAN needs ~50 KB of latent randomness per step. As
QRNG vendors do, the slow source seeds a fast deterministic generator (numpy ``PCG64DXSM``) with
>= 256 bits through :class:`numpy.random.SeedSequence` (``torch.Generator.manual_seed`` would keep
only 64 bits) and reseeds it every ``reseed_interval`` delivered bytes. Output is labelled
``"expanded"`` in its :class:`~hybridqml.entropy.Provenance`, which also reports the
ratio of source bytes to delivered bytes. Expanded bytes are *not* pure source bytes: use
:class:`~hybridqml.entropy.EntropyPool` directly when every byte must come from the source.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import numpy as np

from hybridqml._validation import check_positive_int
from hybridqml.entropy._provenance import Provenance
from hybridqml.entropy._sources.base import MAX_READ_BYTES, check_byte_count
from hybridqml.entropy._sources.local import _WordStream
from hybridqml.exceptions import ConfigurationError

__all__ = ["DEFAULT_RESEED_INTERVAL", "DEFAULT_SEED_BYTES", "MIN_SEED_BYTES", "ExpandedGenerator"]

#: Minimum seed size: 256 bits.
MIN_SEED_BYTES: Final[int] = 32
DEFAULT_SEED_BYTES: Final[int] = 32
#: Delivered bytes between reseeds (1 MiB: a 10 KB/s QRNG can sustain ~300 MB/s of output).
DEFAULT_RESEED_INTERVAL: Final[int] = 1 << 20


class ExpandedGenerator:
    """A quantum-seeded (or OS/PRNG-seeded) fast generator with ``read(n)`` like a source.

    Args:
        pool: Any object with ``read(n) -> bytes`` (normally an
            :class:`~hybridqml.entropy.EntropyPool`); its ``name``/``kind`` are recorded.
        seed_bytes: Bytes drawn from ``pool`` per (re)seed, at least 32 (256 bits).
        reseed_interval: Delivered bytes after which the generator is reseeded.
        max_read_bytes: Largest single :meth:`read` (default
            :data:`~hybridqml.entropy._sources.base.MAX_READ_BYTES`, 1 GiB); larger reads raise
            :class:`~hybridqml.exceptions.ConfigurationError` before any work.

    Example:
        >>> from hybridqml.entropy import EntropyPool, PRNGSource
        >>> gen = EntropyPool(PRNGSource(seed=1)).generator(reseed_interval=1024)
        >>> len(gen.read(4096)), gen.provenance().mode, gen.provenance().reseeds
        (4096, 'expanded', 4)
    """

    def __init__(
        self,
        pool: Any,
        *,
        seed_bytes: int = DEFAULT_SEED_BYTES,
        reseed_interval: int = DEFAULT_RESEED_INTERVAL,
        max_read_bytes: int = MAX_READ_BYTES,
    ) -> None:
        if not callable(getattr(pool, "read", None)):
            raise ConfigurationError("pool must have a read(n) method")
        if not isinstance(seed_bytes, int) or seed_bytes < MIN_SEED_BYTES:
            raise ConfigurationError(f"seed_bytes must be an int >= {MIN_SEED_BYTES} (256 bits)")
        if not isinstance(reseed_interval, int) or reseed_interval < 1:
            raise ConfigurationError("reseed_interval must be a positive int")
        self.max_read_bytes = check_positive_int(max_read_bytes, "max_read_bytes")
        self.pool = pool
        self.seed_bytes = seed_bytes
        self.reseed_interval = reseed_interval
        self.kind = getattr(pool, "kind", "pseudo")
        self.name = f"expanded({getattr(pool, 'name', type(pool).__name__)})"
        self.source_bytes = 0
        self.delivered_bytes = 0
        self.reseeds = 0
        self._rng: _WordStream | None = None
        self._left = 0
        self._lock = threading.Lock()

    def reseed(self) -> None:
        """Draw ``seed_bytes`` fresh bytes from the pool and restart the generator from them."""
        with self._lock:
            self._reseed()

    def _reseed(self) -> None:
        seed = self.pool.read(self.seed_bytes)
        self.source_bytes += len(seed)
        sequence = np.random.SeedSequence(entropy=int.from_bytes(seed, "little"))
        self._rng = _WordStream(np.random.PCG64DXSM(sequence))
        self._left = self.reseed_interval
        self.reseeds += 1

    def read(self, n: int) -> bytes:
        """Return ``n`` expanded bytes, reseeding from the pool on schedule."""
        n = check_byte_count(n, self.max_read_bytes, owner="this ExpandedGenerator")
        parts = []
        with self._lock:
            got = 0
            while got < n:
                if self._rng is None or self._left == 0:
                    self._reseed()
                assert self._rng is not None
                take = min(n - got, self._left)
                parts.append(self._rng.read(take))
                self._left -= take
                got += take
            self.delivered_bytes += n
        return b"".join(parts)

    def provenance(self) -> Provenance:
        """Accounting snapshot, mode ``"expanded"``.

        ``requests``/``failures``, health-test and conditioning figures come from the pool's
        provenance (HTTP requests for a QRNG); ``source_reads`` counts the seed reads.
        """
        pool_prov = self.pool.provenance() if hasattr(self.pool, "provenance") else None
        with self._lock:
            own: dict[str, Any] = {
                "source_name": self.name,
                "kind": self.kind,
                "source_bytes": self.source_bytes,
                "delivered_bytes": self.delivered_bytes,
                "reseeds": self.reseeds,
                "source_reads": self.reseeds,
            }
        if pool_prov is None:  # a bare reader: no health tests, no conditioning
            return Provenance(
                mode="expanded", requests=self.reseeds, failures=0, health_tests=False, **own
            )
        return pool_prov.expanded(**own)

    def __repr__(self) -> str:
        return (
            f"ExpandedGenerator(source={self.name!r}, seed_bytes={self.seed_bytes}, "
            f"reseed_interval={self.reseed_interval})"
        )
