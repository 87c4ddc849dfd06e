"""EntropyPool: use-once, order, thread safety, prefetch, accounting, conditioning."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest
from entropy_testing import ScriptedSource, prng_bytes

from hybridqml.entropy import EntropyPool, OSSource, PRNGSource
from hybridqml.entropy._sources.base import MAX_READ_BYTES
from hybridqml.exceptions import ConfigurationError, EntropyError, HealthTestError, QRNGError


def test_bytes_in_source_order_and_never_twice():
    pool = EntropyPool(PRNGSource(seed=9), chunk_bytes=1000)
    sizes = [1, 2, 3, 999, 1001, 4097, 0, 17] * 5
    out = b"".join(pool.read(n) for n in sizes)
    reference = PRNGSource(seed=9).read(pool.provenance().source_bytes)
    assert out == reference[: len(out)]


def test_concurrent_readers_get_disjoint_bytes():
    source = ScriptedSource(prng_bytes(1))
    pool = EntropyPool(source, chunk_bytes=512)
    results: list[list[bytes]] = [[] for _ in range(6)]

    def reader(slot):
        for _ in range(300):
            results[slot].append(pool.read(8))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = [block for r in results for block in r]
    assert len(set(got)) == len(got) == 1800
    served = bytes(source.served)
    blocks = [served[i : i + 8] for i in range(0, 1800 * 8, 8)]
    assert sorted(got) == sorted(blocks)
    # each thread saw its blocks in stream order
    position = {b: i for i, b in enumerate(blocks)}
    for r in results:
        assert [position[b] for b in r] == sorted(position[b] for b in r)


def test_prefetch_fills_in_background_and_keeps_order():
    source = ScriptedSource(prng_bytes(4))
    with EntropyPool(source, prefetch=20_000, chunk_bytes=4096) as pool:
        deadline = time.monotonic() + 5
        while pool.buffered < 20_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.buffered >= 20_000
        assert source.reads  # the worker read without any caller
        out = b"".join(pool.read(n) for n in (5, 50_000, 3, 7777))
        assert out == bytes(source.served[: len(out)])
    with pytest.raises(EntropyError, match="closed"):
        pool.read(1)


def test_prefetch_with_concurrent_readers():
    with EntropyPool(PRNGSource(seed=8), prefetch=4096, chunk_bytes=1024) as pool:
        seen: list[bytes] = []
        lock = threading.Lock()

        def reader():
            for _ in range(200):
                b = pool.read(16)
                with lock:
                    seen.append(b)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(set(seen)) == 800


def test_source_error_is_reported_and_counted_and_pool_recovers():
    calls = {"n": 0}
    good = prng_bytes(3)

    def flaky(n, offset):
        calls["n"] += 1
        if calls["n"] == 2:
            raise QRNGError("scripted outage")
        return good(n, offset)

    pool = EntropyPool(ScriptedSource(flaky), chunk_bytes=2048)
    pool.read(2048)
    with pytest.raises(QRNGError, match="outage"):
        pool.read(10)
    assert len(pool.read(10)) == 10
    prov = pool.provenance()
    assert prov.failures == 1 and prov.requests == 3


def test_provenance_record():
    pool = EntropyPool(OSSource())
    pool.read(100)
    prov = pool.provenance()
    assert (prov.source_name, prov.kind, prov.mode) == ("os.urandom", "os", "pure")
    assert prov.delivered_bytes == 100 and prov.source_bytes >= 1024  # start-up samples
    assert prov.requests == 1 and prov.failures == 0 and prov.health_tests
    assert prov.source_to_delivered == prov.source_bytes / 100
    with pytest.raises(dataclasses.FrozenInstanceError):
        prov.delivered_bytes = 0  # type: ignore[misc]


@pytest.mark.parametrize(("spec", "min_ratio"), [("von-neumann", 3.5), ("sha256", 1.2)])
def test_conditioning_in_pool(spec, min_ratio):
    pool = EntropyPool(PRNGSource(seed=1), conditioning=spec)
    out = pool.read(10_000)
    assert len(out) == 10_000
    prov = pool.provenance()
    assert prov.conditioning == spec
    assert prov.source_bytes / pool.conditioner.output_bytes >= min_ratio
    bits = np.unpackbits(np.frombuffer(out, dtype=np.uint8))
    assert abs(bits.mean() - 0.5) < 0.01


def test_read_validation():
    pool = EntropyPool(PRNGSource(seed=0))
    assert pool.read(0) == b""
    with pytest.raises(ConfigurationError):
        pool.read(-1)
    with pytest.raises(ConfigurationError):
        pool.read(1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        EntropyPool(PRNGSource(seed=0), prefetch=-1)
    with pytest.raises(ConfigurationError):
        EntropyPool(PRNGSource(seed=0), conditioning="xor")


def test_prng_stream_does_not_depend_on_read_sizes():
    a = PRNGSource(seed=5)
    split = b"".join(a.read(n) for n in (3, 5, 1, 15, 8, 100))
    assert split == PRNGSource(seed=5).read(132)
    assert PRNGSource(seed=5).read(32) != PRNGSource(seed=6).read(32)


# ---------------------------------------------------------------- refill sizing (conditioning)
@pytest.mark.parametrize(("entropy", "block"), [(8.0, 40), (6.0, 54)])
def test_sha256_refill_reads_only_what_the_conditioner_needs(entropy, block):
    source = ScriptedSource(prng_bytes(11))
    pool = EntropyPool(source, conditioning="sha256", claimed_entropy=entropy)
    out = pool.read(256 * 1024)
    assert len(out) == 256 * 1024
    needed = 256 * 1024 // 32 * block  # ceil(320 / H) input bytes per 32 output bytes
    prov = pool.provenance()
    assert source.reads == [needed] and prov.source_bytes == needed  # was 1 MiB (4x)
    assert pool.buffered == 0  # nothing read for nothing (QRNG quota)
    assert prov.source_to_delivered == pytest.approx(block / 32)
    assert (prov.conditioner_input_bytes, prov.conditioner_output_bytes) == (needed, len(out))
    assert prov.conditioner_ratio == pytest.approx(block / 32)


def test_sha256_refills_stay_in_order_across_odd_reads():
    import hashlib

    source = ScriptedSource(prng_bytes(12))
    pool = EntropyPool(source, conditioning="sha256", health_tests=False, chunk_bytes=100)
    out = b"".join(pool.read(n) for n in (1, 31, 33, 500, 7, 64, 1000))
    raw = bytes(source.served)
    expected = b"".join(hashlib.sha256(raw[i : i + 40]).digest() for i in range(0, len(raw), 40))
    assert out == expected[: len(out)]
    assert len(raw) - pool.conditioner.input_bytes < 40  # at most one partial block pending


def test_von_neumann_refills_adapt_to_the_observed_yield():
    rng = np.random.default_rng(5)

    def biased(n, offset):  # independent bits with P(1) = 0.8: VN yields 0.16 bits per bit
        return np.packbits(rng.random(8 * n) < 0.8).tobytes()

    source = ScriptedSource(biased)
    pool = EntropyPool(source, conditioning="von-neumann", health_tests=False)
    assert len(pool.read(50_000)) == 50_000
    assert len(source.reads) == 2  # a fixed 4x guess needs 5 rounds at this yield
    prov = pool.provenance()
    assert prov.conditioner_ratio == pytest.approx(1 / 0.16, rel=0.03)
    assert pool.buffered < 0.1 * 50_000


# ---------------------------------------------------------------- read-size cap
def test_huge_read_is_refused_before_any_io():
    source = ScriptedSource(prng_bytes(0))
    pool = EntropyPool(source)
    with pytest.raises(ConfigurationError, match="max_read_bytes"):
        pool.read(10**12)
    assert source.reads == [] and pool.provenance().source_bytes == 0
    small = EntropyPool(ScriptedSource(prng_bytes(0)), max_read_bytes=1000, health_tests=False)
    assert len(small.read(1000)) == 1000
    with pytest.raises(ConfigurationError, match="1001 bytes exceeds max_read_bytes=1000"):
        small.read(1001)
    with pytest.raises(ConfigurationError, match="max_read_bytes"):
        PRNGSource(seed=0).read(MAX_READ_BYTES + 1)
    with pytest.raises(ConfigurationError, match="max_read_bytes"):
        pool.generator().read(10**12)
    assert source.reads == []


# ---------------------------------------------------------------- provenance counts
def test_provenance_separates_source_requests_from_pool_reads():
    class Counting(ScriptedSource):
        def __init__(self):
            super().__init__(prng_bytes(2), name="counting")
            self.requests_made, self.failures = 7, 1  # earlier use, before the pool existed

        def _read(self, n):
            self.requests_made += 3  # e.g. 2 failed HTTP attempts and 1 good one
            self.failures += 2
            return super()._read(n)

    pool = EntropyPool(Counting(), health_tests=False, chunk_bytes=200)
    pool.read(100)
    pool.read(50)
    prov = pool.provenance()
    assert (prov.source_reads, prov.source_read_failures) == (1, 0)
    assert (prov.requests, prov.failures) == (3, 2)  # the source's own, since the pool began
    assert (pool.requests, pool.failures) == (3, 2)


# ---------------------------------------------------------------- untrusted sources
class DuckSource:
    """Not an EntropySource subclass: nothing checks its reads but the pool."""

    name = "duck"
    kind = "os"

    def __init__(self, reply):
        self.reply = reply

    def read(self, n):
        return self.reply(n)


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (lambda n: b"\x01" * (n - 1), "duck.*returned 4095 bytes instead of 4096"),
        (lambda n: b"\x01" * (n + 5), "duck.*returned 4101 bytes instead of 4096"),
        (lambda n: "x" * n, "duck.*returned str, not bytes"),
        (lambda n: None, "duck.*returned NoneType"),
    ],
)
def test_pool_checks_what_a_source_returns(reply, match):
    pool = EntropyPool(DuckSource(reply), health_tests=False)
    with pytest.raises(EntropyError, match=match):
        pool.read(10)
    assert pool.provenance().delivered_bytes == 0 and pool.buffered == 0
    assert pool.provenance().source_read_failures == 1


def test_pool_accepts_bytearray_and_memoryview_from_duck_sources():
    pool = EntropyPool(DuckSource(lambda n: memoryview(bytearray(range(256)) * (n // 256 + 1))[:n]))
    assert pool.read(300) == bytes(range(256)) + bytes(range(44))


@pytest.mark.parametrize("kind", ["Quantum", "true-random", "", None, 3])
def test_pool_refuses_unknown_source_kinds(kind):
    source = DuckSource(bytes)
    source.kind = kind
    with pytest.raises(ConfigurationError, match="kind must be one of"):
        EntropyPool(source)


@pytest.mark.parametrize("exc", [OSError("disk on fire"), ValueError("bad state"), KeyError(3)])
def test_foreign_source_errors_become_entropy_errors(exc):
    def broken(n, offset):
        raise exc

    pool = EntropyPool(ScriptedSource(broken, name="broken"))
    with pytest.raises(EntropyError, match=f"'broken' failed: {type(exc).__name__}") as info:
        pool.read(8)
    assert info.value.__cause__ is exc
    assert pool.provenance().failures == 1


# ---------------------------------------------------------------- close() and arguments
def test_close_does_not_wait_long_for_a_source_read_in_progress():
    entered, release = threading.Event(), threading.Event()

    def slow(n, offset):
        entered.set()
        release.wait(10)
        return bytes(n)

    pool = EntropyPool(ScriptedSource(slow), prefetch=10, health_tests=False, close_timeout=0.2)
    try:
        assert entered.wait(5)
        closer = threading.Thread(target=pool.close)
        start = time.monotonic()
        closer.start()
        closer.join(3)
        assert not closer.is_alive() and time.monotonic() - start < 2
        with pytest.raises(EntropyError, match="closed"):
            pool.read(1)
    finally:
        release.set()
    pool._worker.join(5)
    assert pool.buffered == 0  # the late read was discarded, never delivered


@pytest.mark.parametrize(
    "kwargs",
    [{"alarm_memory_bytes": 0}, {"alarm_memory_bytes": -5}, {"alarm_memory_bytes": 1.5},
     {"alarm_memory_bytes": True}, {"alpha": 0}, {"alpha": 1.0}, {"alpha": float("nan")},
     {"claimed_entropy": 0}, {"claimed_entropy": 9}, {"claimed_entropy": float("nan")},
     {"claimed_entropy": 9, "health_tests": False}, {"alpha": 2.0, "health_tests": False},
     {"chunk_bytes": 0}, {"chunk_bytes": True}, {"prefetch": 2.5}, {"max_read_bytes": 0},
     {"max_read_bytes": 100, "prefetch": 101}, {"close_timeout": -1},
     {"close_timeout": float("inf")}, {"alpha": 1.5}, {"alpha": 0, "health_tests": False},
     {"alpha": 1.0, "health_tests": False}, {"claimed_entropy": 0, "health_tests": False},
     {"chunk_bytes": (1 << 24) + 1}],
)  # fmt: skip
def test_numeric_arguments_are_validated(kwargs):
    name = next(key for key in kwargs if key != "health_tests")
    with pytest.raises(ConfigurationError, match=name):  # the message names the bad argument
        EntropyPool(PRNGSource(seed=0), **kwargs)


def test_arguments_at_their_limits_are_accepted():
    pool = EntropyPool(
        PRNGSource(seed=0),
        prefetch=0,
        max_read_bytes=4096,
        chunk_bytes=1 << 24,  # MAX_CHUNK_BYTES: allowed (nothing is read before the first read)
        claimed_entropy=0.5,
        alpha=2.0**-40,
        close_timeout=0,
        alarm_memory_bytes=1,
    )
    assert pool.health.claimed_entropy == 0.5 and pool.close_timeout == 0.0
    EntropyPool(PRNGSource(seed=0), prefetch=4096, max_read_bytes=4096).close()


def test_health_tests_use_the_claimed_entropy_and_alpha():
    # H = 4 bits/byte, alpha = 2^-20: RCT C = 1 + ceil(20 / 4) = 6; APT (W = 512) C = 62.
    pool = EntropyPool(PRNGSource(seed=0), claimed_entropy=4, alpha=2.0**-20)
    assert (pool.health.rct_cutoff, pool.health.apt_cutoff) == (6, 62)
    source = DuckSource(lambda n: bytes(n))
    source.claimed_min_entropy = 4.0  # the source's own claim is the default
    pool = EntropyPool(source, alpha=2.0**-20)
    assert (pool.health.rct_cutoff, pool.health.apt_cutoff) == (6, 62)


def test_source_without_name_or_kind_is_named_by_its_type_and_counts_as_pseudo():
    class Bare:
        def read(self, n):
            return bytes(range(256)) * (n // 256) + bytes(range(n % 256))

    pool = EntropyPool(Bare(), health_tests=False)
    prov = pool.provenance()
    assert (pool.name, pool.kind) == ("Bare", "pseudo") == (prov.source_name, prov.kind)


# --- Health-test policy, accounting and prefetch bounds, checked on crafted byte streams ---


def glitch_at(positions, seed=0):
    """Random bytes with a run of six 0x07 (RCT cutoff 5 at H = 8) at each stream position."""
    rng = np.random.default_rng(seed)

    def make(n, offset):
        x = bytearray(rng.bytes(n))
        for p in positions:
            if offset <= p <= offset + n - 6:
                x[p - offset : p - offset + 6] = b"\x07" * 6
        return bytes(x)

    return make


def test_startup_test_reads_1024_samples_once_then_chunks():
    source = ScriptedSource(prng_bytes(6))
    pool = EntropyPool(source, chunk_bytes=16)
    pool.read(10)
    assert source.reads == [1024]  # SP 800-90B start-up: >= 1024 samples before any output
    pool.read(1014 + 20)
    assert source.reads == [1024, 20]  # continuous tests afterwards, no second start-up
    (startup,) = pool.health_results  # passing continuous checks are not recorded
    assert startup.passed is True and startup.samples == 1024


def test_intermittent_alarm_records_results_and_counts_discarded_bytes():
    chunk = 4096
    # Alarms in stream chunks 2 and 6 (chunk 3 is the re-test), 4 chunks apart.
    source = ScriptedSource(glitch_at([2 * chunk + 10, 6 * chunk + 10]))
    pool = EntropyPool(source, chunk_bytes=chunk, alarm_memory_bytes=chunk)
    for _ in range(8):
        pool.read(chunk)
    prov = pool.provenance()
    assert prov.health_alarms == 2
    assert prov.discarded_bytes == 2 * chunk
    assert prov.delivered_bytes == 8 * chunk and prov.source_bytes == 10 * chunk
    results = pool.health_results
    assert [r.passed for r in results] == [True, False, True, False, True]
    assert [r.test for r in results] == [None, "repetition-count", None, "repetition-count", None]
    assert all(r.samples == chunk for r in results)


@pytest.mark.parametrize(("memory_delta", "latches"), [(0, True), (-1, False)])
def test_second_alarm_latches_exactly_within_alarm_memory(memory_delta, latches):
    chunk = 4096
    # First alarm after 3 chunks of source data, second after 7: 4 chunks apart.
    source = ScriptedSource(glitch_at([2 * chunk + 10, 6 * chunk + 10]))
    pool = EntropyPool(source, chunk_bytes=chunk, alarm_memory_bytes=4 * chunk + memory_delta)
    if latches:
        with pytest.raises(HealthTestError, match="second alarm") as info:
            for _ in range(8):
                pool.read(chunk)
        assert info.value.result.test == "repetition-count" and not info.value.result.passed
        assert pool.failed
    else:
        for _ in range(8):
            pool.read(chunk)
        assert not pool.failed and pool.provenance().health_alarms == 2


def test_failed_startup_latches_with_the_failing_result():
    pool = EntropyPool(ScriptedSource(glitch_at([500])))
    with pytest.raises(HealthTestError, match="start-up") as info:
        pool.read(1)
    assert info.value.result.test == "repetition-count" and info.value.result.passed is False
    assert pool.failed
    with pytest.raises(HealthTestError, match="start-up"):
        pool.read(1)


def test_failed_retest_after_an_alarm_latches():
    chunk = 4096
    # Alarm in chunk 2; the re-test (chunk 3) has a run too.
    source = ScriptedSource(glitch_at([2 * chunk + 10, 3 * chunk + 10]))
    pool = EntropyPool(source, chunk_bytes=chunk)
    pool.read(2 * chunk)
    with pytest.raises(HealthTestError, match="re-test") as info:
        pool.read(chunk)
    assert info.value.result.test == "repetition-count" and info.value.result.samples == chunk
    assert [r.passed for r in pool.health_results] == [True, False, False]
    assert pool.provenance().delivered_bytes == 2 * chunk


def test_provenance_without_conditioning_reports_no_conditioner_bytes():
    pool = EntropyPool(PRNGSource(seed=1))
    pool.read(100)
    prov = pool.provenance()
    assert prov.conditioning is None
    assert (prov.conditioner_input_bytes, prov.conditioner_output_bytes) == (0, 0)


class LazyCounterSource:
    """A client whose ``requests_made`` counter exists only after its first request."""

    kind = "pseudo"
    name = "lazy"
    failures = 0

    def __init__(self):
        self.requests_made = None
        self.rng = np.random.default_rng(0)

    def read(self, n):
        self.requests_made = (self.requests_made or 0) + 1
        return self.rng.bytes(n)


def test_request_counts_fall_back_to_pool_reads_without_counters_at_start():
    pool = EntropyPool(LazyCounterSource(), chunk_bytes=1024)
    pool.read(10)  # start-up read of 1024 bytes
    pool.read(2000)  # one more read
    prov = pool.provenance()
    assert (prov.requests, prov.failures) == (2, 0)
    assert (prov.source_reads, prov.source_read_failures) == (2, 0)


def test_generator_passes_its_options_on():
    pool = EntropyPool(PRNGSource(seed=2))
    gen = pool.generator(seed_bytes=64, reseed_interval=3)
    assert (gen.seed_bytes, gen.reseed_interval) == (64, 3)
    assert gen.pool is pool


def test_close_without_prefetch_refuses_later_reads():
    pool = EntropyPool(PRNGSource(seed=3))
    pool.read(10)
    pool.close()
    assert pool.buffered == 0  # buffered bytes are dropped, never delivered
    with pytest.raises(EntropyError, match="closed"):
        pool.read(1)


def test_close_stops_the_prefetch_thread():
    def slow(n, offset):
        time.sleep(0.05)
        return np.random.default_rng(offset).bytes(n)

    before = set(threading.enumerate())
    pool = EntropyPool(ScriptedSource(slow), prefetch=1 << 20, chunk_bytes=1024)
    (worker,) = set(threading.enumerate()) - before
    assert worker.daemon  # a thread stuck in a source read never blocks interpreter exit
    time.sleep(0.02)  # the worker is now inside a (slow) source read
    pool.close()
    assert not worker.is_alive()


def test_prefetch_tops_up_to_its_target_and_stops():
    chunk, target = 4096, 8192
    source = ScriptedSource(prng_bytes(7))
    with EntropyPool(source, prefetch=target, chunk_bytes=chunk) as pool:

        def settle(expected):
            deadline = time.monotonic() + 5
            while pool.buffered < expected and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(0.1)  # a worker that did not stop would read more meanwhile

        settle(target)
        assert pool.buffered == target and source.reads == [chunk, chunk]
        pool.read(100)  # below the target again: one more chunk
        settle(target - 100 + chunk)
        assert pool.buffered == target - 100 + chunk
        assert source.reads == [chunk, chunk, chunk]


def test_prefetch_error_is_raised_by_the_next_read_then_reads_are_synchronous():
    calls = {"n": 0}
    good = prng_bytes(8)

    def fails_once(n, offset):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("scripted outage in the prefetch thread")
        return good(n, offset)

    source = ScriptedSource(fails_once)
    pool = EntropyPool(source, prefetch=8192, chunk_bytes=4096)
    deadline = time.monotonic() + 5
    while calls["n"] < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)
    with pytest.raises(EntropyError, match="scripted outage"):
        pool.read(5000)
    assert len(pool.read(5000)) == 5000  # the pool continues, reading synchronously
    assert pool.provenance().source_read_failures == 1
    pool.close()


def test_repr_names_source_kind_and_settings():
    pool = EntropyPool(PRNGSource(seed=0), health_tests=False)
    assert repr(pool) == (
        f"EntropyPool(source={pool.name!r}, kind='pseudo', health_tests=False, prefetch=0)"
    )


def test_long_streams_stay_in_order_across_buffer_compaction():
    # The pool drops delivered bytes from its buffer once more than 1 MiB has been read.
    pool = EntropyPool(PRNGSource(seed=12), chunk_bytes=1 << 18, health_tests=False)
    out = b"".join(pool.read(n) for n in [300_001] * 10)
    assert out == PRNGSource(seed=12).read(len(out))


def test_failure_counters_accumulate_over_bad_reads():
    pool = EntropyPool(DuckSource(lambda n: b"\x01" * (n - 1)), health_tests=False)
    for _ in range(3):
        with pytest.raises(EntropyError, match="instead of"):
            pool.read(10)
    prov = pool.provenance()
    assert prov.source_read_failures == 3 and prov.discarded_bytes == 3 * 4095
    calls = {"n": 0}

    def broken(n, offset):
        calls["n"] += 1
        raise OSError("gone")

    pool = EntropyPool(ScriptedSource(broken), health_tests=False)
    for _ in range(2):
        with pytest.raises(EntropyError, match="gone"):
            pool.read(1)
    assert pool.provenance().source_read_failures == 2 == calls["n"]


def test_a_health_error_raised_by_the_source_latches_the_pool():
    from hybridqml.entropy._health import HealthResult

    result = HealthResult(False, "replay", "the service repeated a block", 512)

    def replaying(n, offset):
        raise HealthTestError("QRNG replay detected", result=result)

    pool = EntropyPool(ScriptedSource(replaying), health_tests=False)
    with pytest.raises(HealthTestError, match="QRNG replay detected") as info:
        pool.read(8)
    assert info.value.result is result and pool.failed
    with pytest.raises(HealthTestError, match="QRNG replay detected") as again:
        pool.read(1)  # latched: the same failure on every later read
    assert again.value.result is result


def test_oversized_read_names_the_pool_and_its_cap():
    pool = EntropyPool(PRNGSource(seed=0), max_read_bytes=100)
    with pytest.raises(ConfigurationError, match="max_read_bytes=100 of this EntropyPool"):
        pool.read(101)
    assert pool.provenance().source_bytes == 0
