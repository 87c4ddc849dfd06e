"""SP 800-90B health tests: cutoffs, carry-over across chunks, stuck and biased sources."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from entropy_testing import ScriptedSource, prng_bytes

from hybridqml.entropy import EntropyPool, HealthTests, PRNGSource
from hybridqml.entropy.health import adaptive_proportion_cutoff, repetition_count_cutoff
from hybridqml.exceptions import ConfigurationError, HealthTestError


@pytest.mark.parametrize(("entropy", "cutoff"), [(1, 31), (8, 5), (7, 6)])
def test_repetition_count_cutoffs(entropy, cutoff):
    assert repetition_count_cutoff(2.0**-30, entropy) == cutoff


@pytest.mark.parametrize(
    ("window", "entropy", "cutoffs"),
    [
        (1024, 1, (589, 609, 625)),
        (512, 8, (13, 16, 19)),
        (512, 7, (18, 22, 26)),
        (512, 4, (62, 71, 78)),
    ],
)
def test_adaptive_proportion_cutoffs(window, entropy, cutoffs):
    got = tuple(adaptive_proportion_cutoff(window, entropy, 2.0**-a) for a in (20, 30, 40))
    assert got == cutoffs


def reference_max_run(x: np.ndarray) -> int:
    best = run = 1
    for a, b in itertools.pairwise(x.tolist()):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best


def test_repetition_count_matches_reference_across_random_chunk_splits():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, size=5000).astype(np.uint8)  # long runs are common with 3 symbols
    tests = HealthTests(claimed_entropy=1.0)
    cuts = np.sort(rng.choice(np.arange(1, x.size), size=40, replace=False))
    for chunk in np.split(x, cuts):
        tests.check(chunk)
    assert tests.max_run == reference_max_run(x)


def test_run_spanning_two_chunks_fires():
    tests = HealthTests()  # H = 8: cutoff 5
    good = np.arange(1, 200, dtype=np.uint8)
    assert tests.check(np.concatenate([good, [7, 7, 7]]).astype(np.uint8)).passed
    result = tests.check(np.array([7, 7, 9], dtype=np.uint8))
    assert not result.passed and result.test == "repetition-count"


def test_adaptive_proportion_window_spanning_chunks_matches_one_stream():
    x = np.random.default_rng(1).integers(0, 256, 512 * 7 + 100, dtype=np.uint8)
    x[512 * 3 : 512 * 4 : 2] = 42  # 256 copies of 42 in window 3, never adjacent
    x[512 * 3] = 42
    whole = HealthTests()
    whole.check(x)
    split = HealthTests()
    for chunk in np.array_split(x, 13):
        split.check(chunk)
    assert whole.max_window_count == split.max_window_count >= 256
    assert whole.max_run == split.max_run


def test_alternating_value_trips_adaptive_proportion_not_repetition():
    x = np.zeros(2048, dtype=np.uint8)
    x[1::2] = np.random.default_rng(0).integers(1, 256, 1024)
    result = HealthTests().startup(x)
    assert not result.passed and result.test == "adaptive-proportion"


def test_startup_needs_1024_samples():
    with pytest.raises(ConfigurationError):
        HealthTests().startup(np.zeros(1000, dtype=np.uint8))


def test_stuck_source_trips_and_latches_pool():
    source = ScriptedSource(lambda n, off: bytes(n), name="stuck")
    pool = EntropyPool(source)
    with pytest.raises(HealthTestError, match="repetition-count"):
        pool.read(10)
    assert pool.failed
    with pytest.raises(HealthTestError):
        pool.read(1)
    assert pool.provenance().delivered_bytes == 0


def test_heavily_biased_source_trips_health_tests():
    rng = np.random.default_rng(3)

    def biased(n, offset):
        x = rng.integers(0, 256, n, dtype=np.uint8)
        x[rng.random(n) < 0.25] = 0x00  # P(0x00) ~ 0.25: min-entropy 2 bits, claimed 8
        return x.tobytes()

    pool = EntropyPool(ScriptedSource(biased, name="biased"))
    with pytest.raises(HealthTestError):
        pool.read(100)
    with pytest.raises(HealthTestError):
        pool.read(100)


def test_source_failing_after_startup_latches_and_delivers_nothing_buffered():
    good = prng_bytes(2)

    def fails_later(n, offset):
        return good(n, offset) if offset < 4096 else bytes(n)

    pool = EntropyPool(ScriptedSource(fails_later), chunk_bytes=4096)
    first = pool.read(100)  # start-up passes, 4096 buffered
    assert len(first) == 100
    with pytest.raises(HealthTestError):
        pool.read(10_000)
    with pytest.raises(HealthTestError):
        pool.read(1)  # the 3996 tested bytes still buffered are not delivered either
    assert pool.provenance().delivered_bytes == 100


def test_single_alarm_is_intermittent_second_close_alarm_latches():
    rng = np.random.default_rng(11)
    glitches = [3 * 4096 + 100]  # absolute stream positions of a run of 6 identical bytes

    def glitchy(n, offset):
        x = bytearray(rng.bytes(n))
        for position in glitches:
            if offset <= position <= offset + n - 6:
                x[position - offset : position - offset + 6] = b"\x07" * 6
        return bytes(x)

    source = ScriptedSource(glitchy)
    pool = EntropyPool(source, chunk_bytes=4096, alarm_memory_bytes=1 << 20)
    out = b"".join(pool.read(4096) for _ in range(6))
    prov = pool.provenance()
    assert prov.health_alarms == 1
    assert prov.discarded_bytes == 4096
    served = bytes(source.served)
    # The alarmed chunk (stream bytes 12288..16383) was dropped; everything else in order.
    assert out == served[: 3 * 4096] + served[4 * 4096 : 7 * 4096]
    assert pool.read(10)  # still delivering after one intermittent alarm
    glitches.append(source.offset + 4096 + 50)
    with pytest.raises(HealthTestError, match="second alarm"):
        for _ in range(4):
            pool.read(4096)


def test_health_tests_are_vectorised():
    data = np.frombuffer(PRNGSource(seed=4).read(1 << 24), dtype=np.uint8)
    tests = HealthTests()
    start = time.perf_counter()
    for chunk in np.split(data, 16):
        assert tests.check(chunk).passed
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"16 MiB took {elapsed:.2f} s (a per-byte loop takes ~10 s)"


def test_bad_parameters():
    with pytest.raises(ConfigurationError):
        HealthTests(alpha=0)
    with pytest.raises(ConfigurationError):
        HealthTests(claimed_entropy=9)
