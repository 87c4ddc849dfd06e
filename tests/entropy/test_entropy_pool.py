"""EntropyPool: use-once, order, thread safety, prefetch, accounting, conditioning."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest
from entropy_testing import ScriptedSource, prng_bytes

from hybridqml.entropy import EntropyPool, OSSource, PRNGSource
from hybridqml.entropy.sources import MAX_READ_BYTES
from hybridqml.exceptions import ConfigurationError, EntropyError, QRNGError


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
     {"close_timeout": float("inf")}],
)  # fmt: skip
def test_numeric_arguments_are_validated(kwargs):
    with pytest.raises(ConfigurationError):
        EntropyPool(PRNGSource(seed=0), **kwargs)
