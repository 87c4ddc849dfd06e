"""A use-once, thread-safe, health-tested buffer in front of an entropy source.

Pipeline: ``source.read`` -> SP 800-90B health tests on the raw bytes -> optional conditioning ->
FIFO buffer -> ``read(n)``. Every byte leaves the buffer once: no byte is ever returned twice (the
tutorial code this replaces cached "quantum" bytes and served them again). Without conditioning,
bytes come out in exactly the order the source produced them.

Health-test alarm policy (documented choice, see ``shared/entropy.md``): at ``alpha = 2^-30`` a
perfect byte source trips the Repetition Count Test about once per 4.3 GB, which is every ~20 s for
a fast OS/PRNG pool. So a single continuous-test alarm is treated as *intermittent*: the chunk that
fired is discarded (never delivered), the start-up test is re-run on at least 1024 fresh samples,
and output resumes only if it passes. The pool *latches* (raises
:class:`~hybridqml.exceptions.HealthTestError` now and on every later read, and delivers nothing
further, not even bytes already buffered) when the start-up test or a re-test fails, or when a
second alarm comes within ``alarm_memory_bytes`` of source data from the previous one. A stuck or
heavily biased source therefore latches at once, while a good source survives rare false alarms.
Pass ``alpha`` (e.g. ``2**-40``) to make alarms rarer still.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import numpy as np

from hybridqml.entropy.conditioning import Conditioner, make_conditioner
from hybridqml.entropy.health import DEFAULT_ALPHA, STARTUP_SAMPLES, HealthResult, HealthTests
from hybridqml.entropy.provenance import Provenance
from hybridqml.entropy.sources import EntropySource, check_byte_count
from hybridqml.exceptions import ConfigurationError, EntropyError, HealthTestError

__all__ = [
    "DEFAULT_ALARM_MEMORY_BYTES",
    "DEFAULT_CHUNK_BYTES",
    "MAX_CHUNK_BYTES",
    "EntropyPool",
]

#: Bytes read from the source per refill (more when a single read needs more).
DEFAULT_CHUNK_BYTES: Final[int] = 4096
#: Largest single source read issued by the pool.
MAX_CHUNK_BYTES: Final[int] = 1 << 24
#: A second health alarm within this many source bytes of the previous one latches the pool.
DEFAULT_ALARM_MEMORY_BYTES: Final[int] = 1 << 24
_COMPACT_BYTES: Final[int] = 1 << 20


class EntropyPool:
    """Use-once buffer with health tests, optional conditioning and background prefetch.

    Args:
        source: The entropy source.
        health_tests: Run SP 800-90B start-up and continuous tests on the raw source bytes.
        prefetch: Keep at least this many bytes buffered with a background thread (0: no thread).
            If the source raises in that thread, the next ``read`` re-raises the error and the
            pool continues without prefetch (reads then fetch synchronously).
        conditioning: ``None``, ``"von-neumann"``, ``"sha256"`` or a
            :class:`~hybridqml.entropy.conditioning.Conditioner`.
        chunk_bytes: Source bytes per refill.
        alpha: Health-test false-positive probability per test.
        claimed_entropy: Min-entropy per source byte for the health tests and SHA-256 conditioning;
            default: the source's ``claimed_min_entropy``.
        alarm_memory_bytes: See the alarm policy in the module docstring.

    Example:
        >>> from hybridqml.entropy import EntropyPool, PRNGSource
        >>> with EntropyPool(PRNGSource(seed=0)) as pool:
        ...     a, b = pool.read(16), pool.read(16)
        >>> a != b and pool.provenance().delivered_bytes == 32
        True
    """

    def __init__(
        self,
        source: EntropySource,
        *,
        health_tests: bool = True,
        prefetch: int = 0,
        conditioning: str | Conditioner | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        alpha: float = DEFAULT_ALPHA,
        claimed_entropy: float | None = None,
        alarm_memory_bytes: int = DEFAULT_ALARM_MEMORY_BYTES,
    ) -> None:
        if not callable(getattr(source, "read", None)):
            raise ConfigurationError("source must have a read(n) method")
        if not isinstance(prefetch, int) or prefetch < 0:
            raise ConfigurationError("prefetch must be a non-negative int")
        if not isinstance(chunk_bytes, int) or not 1 <= chunk_bytes <= MAX_CHUNK_BYTES:
            raise ConfigurationError(f"chunk_bytes must be an int in [1, {MAX_CHUNK_BYTES}]")
        if claimed_entropy is None:
            claimed_entropy = float(getattr(source, "claimed_min_entropy", 8.0))
        self.source = source
        self.name = getattr(source, "name", type(source).__name__)
        self.kind = getattr(source, "kind", "pseudo")
        self.chunk_bytes = chunk_bytes
        self.prefetch = prefetch
        self.alarm_memory_bytes = alarm_memory_bytes
        self.health: HealthTests | None = (
            HealthTests(claimed_entropy=claimed_entropy, alpha=alpha) if health_tests else None
        )
        self.conditioner = make_conditioner(conditioning, claimed_entropy=claimed_entropy)

        self._cond = threading.Condition(threading.Lock())
        self._source_lock = threading.Lock()
        self._buf = bytearray()
        self._pos = 0
        self._started = not health_tests
        self._failure: HealthTestError | None = None
        self._worker_error: BaseException | None = None
        self._closed = False
        self._last_alarm_at: int | None = None
        self.source_bytes = 0
        self.delivered_bytes = 0
        self.discarded_bytes = 0
        self.requests = 0
        self.failures = 0
        self.health_alarms = 0
        self.health_results: list[HealthResult] = []
        self._worker: threading.Thread | None = None
        if prefetch:
            self._worker = threading.Thread(
                target=self._prefetch_loop, name="hybridqml-entropy-prefetch", daemon=True
            )
            self._worker.start()

    # ------------------------------------------------------------------ public API
    def read(self, n: int) -> bytes:
        """Return the next ``n`` bytes; each byte is delivered once, in source order.

        Raises:
            HealthTestError: A health test failed (now or earlier): the pool is latched.
            EntropyError: The pool is closed or the source failed.
        """
        n = check_byte_count(n)
        while True:
            with self._cond:
                self._raise_if_unusable()
                if len(self._buf) - self._pos >= n:
                    out = bytes(self._buf[self._pos : self._pos + n])
                    self._pos += n
                    self.delivered_bytes += n
                    if self._pos >= _COMPACT_BYTES and self._pos * 2 >= len(self._buf):
                        del self._buf[: self._pos]
                        self._pos = 0
                    self._cond.notify_all()
                    return out
                missing = n - (len(self._buf) - self._pos)
            self._produce(missing)

    def generator(self, **kwargs: Any) -> Any:
        """An expanded generator seeded (and reseeded) from this pool.

        Keyword arguments go to :class:`~hybridqml.entropy.expansion.ExpandedGenerator`.
        """
        from hybridqml.entropy.expansion import ExpandedGenerator

        return ExpandedGenerator(self, **kwargs)

    def provenance(self) -> Provenance:
        """A snapshot of the accounting (mode ``"pure"``)."""
        with self._cond:
            return Provenance(
                source_name=self.name,
                kind=self.kind,
                mode="pure",
                source_bytes=self.source_bytes,
                delivered_bytes=self.delivered_bytes,
                requests=self.requests,
                failures=self.failures,
                health_tests=self.health is not None,
                health_alarms=self.health_alarms,
                discarded_bytes=self.discarded_bytes,
                conditioning=None if self.conditioner is None else self.conditioner.name,
            )

    @property
    def buffered(self) -> int:
        """Bytes currently buffered and not yet delivered."""
        with self._cond:
            return len(self._buf) - self._pos

    @property
    def failed(self) -> bool:
        """``True`` once a health test has latched the pool."""
        return self._failure is not None

    def close(self) -> None:
        """Stop the prefetch thread and drop buffered bytes (they are never delivered)."""
        with self._cond:
            self._closed = True
            self._buf = bytearray()
            self._pos = 0
            self._cond.notify_all()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join()

    def __enter__(self) -> EntropyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"EntropyPool(source={self.name!r}, kind={self.kind!r}, "
            f"health_tests={self.health is not None}, prefetch={self.prefetch})"
        )

    # ------------------------------------------------------------------ internals
    def _raise_if_unusable(self) -> None:
        if self._failure is not None:
            raise HealthTestError(str(self._failure))
        if self._closed:
            raise EntropyError("the entropy pool is closed")
        if self._worker_error is not None:
            error, self._worker_error = self._worker_error, None
            raise error

    def _latch(self, result: HealthResult, when: str) -> None:
        message = f"health test failed on {self.name} ({when}): {result.test}: {result.detail}"
        with self._cond:
            self._failure = HealthTestError(message)
            self._buf = bytearray()
            self._pos = 0
            self._cond.notify_all()
        raise HealthTestError(message)

    def _read_source(self, n: int) -> np.ndarray:
        try:
            data = self.source.read(n)
        except Exception:
            with self._cond:
                self.failures += 1
                self.requests += 1
            raise
        with self._cond:
            self.requests += 1
            self.source_bytes += len(data)
        return np.frombuffer(data, dtype=np.uint8)

    def _produce(self, missing: int) -> None:
        """Read one chunk from the source, test, condition and append it (in source order)."""
        with self._source_lock:
            with self._cond:
                self._raise_if_unusable()
            want = min(max(missing, self.chunk_bytes), MAX_CHUNK_BYTES)
            if self.conditioner is not None:
                want = min(max(want * 4, self.chunk_bytes), MAX_CHUNK_BYTES)
            tested = self.health is not None
            raw = self._tested_chunk(want) if tested else self._read_source(want)
            data = raw.tobytes()
            if self.conditioner is not None:
                data = self.conditioner.process(data)
            with self._cond:
                if self._closed or self._failure is not None:
                    return
                self._buf += data
                self._cond.notify_all()

    def _tested_chunk(self, want: int) -> np.ndarray:
        assert self.health is not None
        if not self._started:
            raw = self._read_source(max(want, STARTUP_SAMPLES))
            result = self.health.startup(raw)
            self.health_results.append(result)
            if not result.passed:
                self._latch(result, "start-up test")
            self._started = True
            return raw
        raw = self._read_source(want)
        result = self.health.check(raw)
        if result.passed:
            return raw
        # Intermittent-alarm policy (module docstring): discard, re-test, maybe latch.
        self.health_results.append(result)
        with self._cond:
            self.health_alarms += 1
            self.discarded_bytes += raw.size
            recent = (
                self._last_alarm_at is not None
                and self.source_bytes - self._last_alarm_at <= self.alarm_memory_bytes
            )
            self._last_alarm_at = self.source_bytes
        if recent:
            self._latch(result, "second alarm in a short span")
        retest = self._read_source(max(want, STARTUP_SAMPLES))
        again = self.health.startup(retest)
        self.health_results.append(again)
        if not again.passed:
            self._latch(again, "re-test after an alarm")
        return retest

    def _prefetch_loop(self) -> None:
        while True:
            with self._cond:
                while (
                    not self._closed
                    and self._failure is None
                    and self._worker_error is None
                    and len(self._buf) - self._pos >= self.prefetch
                ):
                    self._cond.wait()
                if self._closed or self._failure is not None or self._worker_error is not None:
                    return
            try:
                self._produce(self.chunk_bytes)
            except HealthTestError:
                return  # latched: readers see the failure
            except BaseException as exc:  # handed to the next reader, which re-raises it
                with self._cond:
                    if not self._closed:
                        self._worker_error = exc
                    self._cond.notify_all()
                return
