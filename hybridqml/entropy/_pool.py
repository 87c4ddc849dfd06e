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
second alarm comes within ``alarm_memory_bytes`` of source data from the previous one, or when the
source raises HealthTestError itself (the QRNG replay check). A stuck or heavily biased source
latches at once, a good one survives rare false alarms; ``alpha=2**-40`` makes them rarer still.

Refill sizes: without conditioning a refill reads ``max(missing, chunk_bytes)`` source bytes; with
conditioning it reads what the conditioner needs for the missing output
(:meth:`~hybridqml.entropy.Conditioner.input_needed`: whole SHA-256 blocks, or the
observed Von Neumann yield), at least ``chunk_bytes``. So little source data (QRNG quota) is left
unused in the buffer when the pool closes.

Sources are checked, not trusted: ``kind`` must be one of
:data:`~hybridqml.entropy._sources.base.SOURCE_KINDS` (a source without ``kind`` counts as
``"pseudo"``), every read must return exactly the bytes asked for, and an error that is not a
:class:`~hybridqml.exceptions.HybridQMLError` (``OSError``, ``ValueError``, ...) is raised as an
:class:`~hybridqml.exceptions.EntropyError` naming the source.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any, Final, NoReturn

import numpy as np

from hybridqml._validation import check_positive_int
from hybridqml.entropy._conditioning import Conditioner, make_conditioner
from hybridqml.entropy._health import DEFAULT_ALPHA, STARTUP_SAMPLES, HealthResult, HealthTests
from hybridqml.entropy._provenance import Provenance
from hybridqml.entropy._sources.base import (
    MAX_READ_BYTES,
    SOURCE_KINDS,
    EntropySource,
    check_byte_count,
)
from hybridqml.exceptions import (
    ConfigurationError,
    EntropyError,
    HealthTestError,
    HybridQMLError,
)

__all__ = [
    "DEFAULT_ALARM_MEMORY_BYTES",
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_CLOSE_TIMEOUT",
    "MAX_CHUNK_BYTES",
    "MAX_READ_BYTES",
    "EntropyPool",
]

#: Bytes read from the source per refill (more when a single read needs more).
DEFAULT_CHUNK_BYTES: Final[int] = 4096
#: Largest single source read issued by the pool.
MAX_CHUNK_BYTES: Final[int] = 1 << 24
#: A second health alarm within this many source bytes of the previous one latches the pool.
DEFAULT_ALARM_MEMORY_BYTES: Final[int] = 1 << 24
#: Seconds :meth:`EntropyPool.close` waits for a prefetch thread busy in a source read.
DEFAULT_CLOSE_TIMEOUT: Final[float] = 1.0
_COMPACT_BYTES: Final[int] = 1 << 20


class EntropyPool:
    """Use-once buffer with health tests, optional conditioning and background prefetch.

    Args:
        source: The entropy source.
        health_tests: Run SP 800-90B start-up and continuous tests on the raw source bytes.
        prefetch: Keep at least this many bytes buffered with a background thread (0: no thread;
            at most ``max_read_bytes``). If the source raises in that thread, the next ``read``
            re-raises the error and the pool continues without prefetch (reads then fetch
            synchronously).
        conditioning: ``None``, ``"von-neumann"``, ``"sha256"`` or a
            :class:`~hybridqml.entropy.Conditioner`.
        chunk_bytes: Smallest number of source bytes per refill.
        alpha: Health-test false-positive probability per test, in (0, 1).
        claimed_entropy: Min-entropy per source byte (bits, in (0, 8]) for the health tests and
            SHA-256 conditioning; default: the source's ``claimed_min_entropy``.
        alarm_memory_bytes: See the alarm policy in the module docstring (a positive int).
        max_read_bytes: Largest single :meth:`read` (default
            :data:`~hybridqml.entropy._sources.base.MAX_READ_BYTES`, 1 GiB); larger reads raise
            :class:`~hybridqml.exceptions.ConfigurationError` before any I/O. The samplers
            (:func:`~hybridqml.entropy.uniform`, ``normal``) honour it too.
        close_timeout: Seconds :meth:`close` waits for a prefetch thread that is inside a source
            read (>= 0).

    Raises:
        ConfigurationError: A bad argument, or a source without ``read`` or with a ``kind``
            outside :data:`~hybridqml.entropy._sources.base.SOURCE_KINDS`.

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
        max_read_bytes: int = MAX_READ_BYTES,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        if not callable(getattr(source, "read", None)):
            raise ConfigurationError("source must have a read(n) method")
        self.name = str(getattr(source, "name", type(source).__name__))
        self.kind = getattr(source, "kind", "pseudo")
        if self.kind not in SOURCE_KINDS:
            raise ConfigurationError(
                f"source {self.name!r} has kind {self.kind!r}; kind must be one of "
                f"{', '.join(SOURCE_KINDS)} (say honestly where the bytes come from)"
            )
        self.max_read_bytes = check_positive_int(max_read_bytes, "max_read_bytes")
        self.prefetch = check_positive_int(prefetch, "prefetch", minimum=0)
        if self.prefetch > self.max_read_bytes:
            raise ConfigurationError(
                f"prefetch ({prefetch}) must not exceed max_read_bytes ({self.max_read_bytes})"
            )
        if check_positive_int(chunk_bytes, "chunk_bytes") > MAX_CHUNK_BYTES:
            raise ConfigurationError(f"chunk_bytes must be an int in [1, {MAX_CHUNK_BYTES}]")
        self.alarm_memory_bytes = check_positive_int(alarm_memory_bytes, "alarm_memory_bytes")
        if claimed_entropy is None:
            claimed_entropy = getattr(source, "claimed_min_entropy", 8.0)
        claimed_entropy = _number(
            "claimed_entropy", claimed_entropy, lambda x: 0 < x <= 8, "in (0, 8] bits per byte"
        )
        alpha = _number("alpha", alpha, lambda x: 0 < x < 1, "in (0, 1)")
        self.close_timeout = _number(
            "close_timeout", close_timeout, lambda x: 0 <= x < math.inf, "of seconds >= 0, finite"
        )
        self.source = source
        self.chunk_bytes = chunk_bytes
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
        self.source_bytes = self.delivered_bytes = self.discarded_bytes = 0
        self.source_reads = self.source_read_failures = 0
        self._source_counters_at_start = self._source_counters()
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

        Args:
            n: Number of bytes, at most ``max_read_bytes``.

        Raises:
            ConfigurationError: ``n`` is not an int in ``[0, max_read_bytes]`` (checked before any
                source read).
            HealthTestError: A health test failed (now or earlier): the pool is latched.
            EntropyError: The pool is closed or the source failed.
        """
        n = check_byte_count(n, self.max_read_bytes, owner="this EntropyPool")
        while True:
            with self._cond:
                self._raise_if_unusable()
                if len(self._buf) - self._pos >= n:
                    with memoryview(self._buf) as view:  # one copy, not a slice then a copy
                        out = bytes(view[self._pos : self._pos + n])
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

        Keyword arguments go to :class:`~hybridqml.entropy.ExpandedGenerator`.
        """
        from hybridqml.entropy._expansion import ExpandedGenerator

        return ExpandedGenerator(self, **kwargs)

    def provenance(self) -> Provenance:
        """A snapshot of the accounting (mode ``"pure"``).

        ``requests``/``failures`` are the source's own counts (HTTP requests for a
        :class:`~hybridqml.entropy._sources.qrng.QRNGSource`, since this pool was created) when
        the source exposes ``requests_made`` and ``failures``, else the pool's reads from the
        source, which are always in ``source_reads``/``source_read_failures``.
        """
        with self._cond:
            return Provenance.of_pool(self, *self._request_counts())

    @property
    def requests(self) -> int:
        """Requests as reported in :meth:`provenance` (source's own count if it has one)."""
        with self._cond:
            return self._request_counts()[0]

    @property
    def failures(self) -> int:
        """Failures as reported in :meth:`provenance` (source's own count if it has one)."""
        with self._cond:
            return self._request_counts()[1]

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
        """Stop the prefetch thread and drop buffered bytes (they are never delivered).

        Waits at most ``close_timeout`` seconds for the prefetch thread. If it is inside a slow
        source read (an HTTP request can take its timeouts times its retries), ``close`` returns
        anyway: the daemon thread finishes that read in the background and its bytes are
        discarded, never delivered. Close the source only after that if it cannot be closed
        while in use.
        """
        with self._cond:
            self._closed = True
            self._buf = bytearray()
            self._pos = 0
            self._cond.notify_all()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=self.close_timeout)

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
            raise HealthTestError(str(self._failure), result=self._failure.result)
        if self._closed:
            raise EntropyError("the entropy pool is closed")
        if self._worker_error is not None:
            error, self._worker_error = self._worker_error, None
            raise error

    def _latch(self, result: HealthResult, when: str) -> NoReturn:
        message = f"health test failed on {self.name} ({when}): {result.test}: {result.detail}"
        self._fail(HealthTestError(message, result=result))

    def _fail(self, error: HealthTestError) -> NoReturn:  # latched: raised on every later read
        with self._cond:
            self._failure = error
            self._buf = bytearray()
            self._pos = 0
            self._cond.notify_all()
        raise HealthTestError(str(error), result=error.result)

    def _source_counters(self) -> tuple[int, int] | None:
        """The source's own ``(requests_made, failures)`` if it exposes both as ints."""
        counts = (
            getattr(self.source, "requests_made", None),
            getattr(self.source, "failures", None),
        )
        if all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            return counts  # type: ignore[return-value]
        return None

    def _request_counts(self) -> tuple[int, int]:
        now, start = self._source_counters(), self._source_counters_at_start
        if now is None or start is None:
            return self.source_reads, self.source_read_failures
        return now[0] - start[0], now[1] - start[1]

    def _read_source(self, n: int) -> np.ndarray:
        error: EntropyError | None = None
        try:
            data = self.source.read(n)
        except Exception as exc:
            with self._cond:
                self.source_reads += 1
                self.source_read_failures += 1
            if isinstance(exc, HealthTestError):  # the source's own check (QRNG replay check)
                self._fail(HealthTestError(str(exc), result=exc.result))
            if isinstance(exc, HybridQMLError):
                raise
            raise EntropyError(
                f"entropy source {self.name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        with self._cond:
            self.source_reads += 1
            if not isinstance(data, bytes):
                self.source_read_failures += 1
                error = EntropyError(
                    f"entropy source {self.name!r} returned {type(data).__name__}, not bytes"
                )
            else:
                self.source_bytes += len(data)
                if len(data) != n:
                    self.source_read_failures += 1
                    self.discarded_bytes += len(data)
                    error = EntropyError(
                        f"entropy source {self.name!r} returned {len(data)} bytes instead of {n}; "
                        "a source must return exactly the bytes asked for (never pad or truncate)"
                    )
        if error is not None:
            raise error
        return np.frombuffer(data, dtype=np.uint8)

    def _refill_bytes(self, missing: int) -> int:
        """Source bytes for one refill: what ``missing`` output bytes need, >= ``chunk_bytes``."""
        want = missing if self.conditioner is None else self.conditioner.input_needed(missing)
        return min(max(want, self.chunk_bytes), MAX_CHUNK_BYTES)

    def _produce(self, missing: int) -> None:
        """Read one chunk from the source, test, condition and append it (in source order)."""
        with self._source_lock:
            with self._cond:
                self._raise_if_unusable()
            want = self._refill_bytes(missing)
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


def _number(name: str, value: object, ok: Callable[[float], bool], rule: str) -> float:
    """``value`` as a float if it is a real number (not bool or NaN) with ``ok(value)``."""
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not real or math.isnan(value) or not ok(float(value)):  # type: ignore[arg-type]
        raise ConfigurationError(f"{name} must be a number {rule}, got {value!r}")
    return float(value)  # type: ignore[arg-type]
