"""Provenance records: where delivered random bytes came from and how they were produced."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = ["Mode", "Provenance"]

Mode = Literal["pure", "expanded"]


@dataclass(frozen=True)
class Provenance:
    """A snapshot of an entropy pool's or expanded generator's accounting.

    Attributes:
        source_name: The source's ``name`` (never holds credentials).
        kind: The source's honest ``kind`` (``"quantum"``, ``"simulated-quantum"``, ...).
        mode: ``"pure"``: every delivered byte was read from the source (possibly conditioned);
            ``"expanded"``: delivered bytes come from a generator seeded by the source.
        source_bytes: Bytes read from the source.
        delivered_bytes: Bytes handed to callers.
        requests: Requests made by the source itself when it counts them (a
            :class:`~hybridqml.entropy._sources.qrng.QRNGSource`: HTTP requests, retries included);
            otherwise the same as ``source_reads``.
        failures: Failed requests counted by the source (QRNG: failed HTTP requests, retried
            or not); otherwise the same as ``source_read_failures``.
        health_tests: Whether SP 800-90B health tests ran on the source bytes.
        health_alarms: Continuous-test alarms (intermittent or latched).
        discarded_bytes: Source bytes dropped because a health test fired on them.
        conditioning: ``None``, ``"von-neumann"`` or ``"sha256"``.
        reseeds: Expanded mode: times the generator was (re)seeded from the source.
        source_reads: ``read`` calls the pool issued to the source (expanded mode: seed reads
            from the pool).
        source_read_failures: Those reads that raised or returned the wrong number of bytes.
        conditioner_input_bytes: Raw bytes fed to the conditioner (0 without conditioning).
        conditioner_output_bytes: Conditioned bytes it produced; their ratio is the
            conditioner's own (SHA-256: ``ceil(320 / H)`` input bytes per 32 output bytes).
    """

    source_name: str
    kind: str
    mode: Mode
    source_bytes: int
    delivered_bytes: int
    requests: int
    failures: int
    health_tests: bool
    health_alarms: int = 0
    discarded_bytes: int = 0
    conditioning: str | None = None
    reseeds: int = 0
    source_reads: int = 0
    source_read_failures: int = 0
    conditioner_input_bytes: int = 0
    conditioner_output_bytes: int = 0

    @property
    def source_to_delivered(self) -> float:
        """Source bytes per delivered byte (< 1 means expanded output; ``nan`` before output)."""
        return self.source_bytes / self.delivered_bytes if self.delivered_bytes else math.nan

    @property
    def conditioner_ratio(self) -> float:
        """Conditioner input bytes per output byte (``nan`` without conditioned output)."""
        if not self.conditioner_output_bytes:
            return math.nan
        return self.conditioner_input_bytes / self.conditioner_output_bytes

    @classmethod
    def of_pool(cls, pool: Any, requests: int, failures: int) -> Provenance:
        """The snapshot of an :class:`~hybridqml.entropy.EntropyPool` (mode ``"pure"``)."""
        cond = pool.conditioner
        return cls(
            source_name=pool.name,
            kind=pool.kind,
            mode="pure",
            source_bytes=pool.source_bytes,
            delivered_bytes=pool.delivered_bytes,
            requests=requests,
            failures=failures,
            health_tests=pool.health is not None,
            health_alarms=pool.health_alarms,
            discarded_bytes=pool.discarded_bytes,
            conditioning=None if cond is None else cond.name,
            source_reads=pool.source_reads,
            source_read_failures=pool.source_read_failures,
            conditioner_input_bytes=0 if cond is None else cond.input_bytes,
            conditioner_output_bytes=0 if cond is None else cond.output_bytes,
        )

    def expanded(self, **own: Any) -> Provenance:
        """This pool snapshot as an expanded generator's: ``own`` counts replace the pool's."""
        return replace(self, mode="expanded", discarded_bytes=0, source_read_failures=0, **own)
