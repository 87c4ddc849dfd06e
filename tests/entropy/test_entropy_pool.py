"""EntropyPool: use-once, order, thread safety, prefetch, accounting, conditioning."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest
from entropy_testing import ScriptedSource, prng_bytes

from hybridqml.entropy import EntropyPool, OSSource, PRNGSource
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
