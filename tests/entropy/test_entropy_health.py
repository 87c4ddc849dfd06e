"""SP 800-90B health tests: cutoffs, carry-over across chunks, stuck and biased sources."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from entropy_testing import ScriptedSource, prng_bytes

from hybridqml.entropy import EntropyPool, HealthTests, PRNGSource
from hybridqml.entropy._health import adaptive_proportion_cutoff, repetition_count_cutoff
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


# --- Exact boundaries on crafted byte streams (closed forms from SP 800-90B, shared/entropy.md) ---


def distinct_neighbours(n: int, seed: int, avoid: int | None = None) -> np.ndarray:
    """``n`` bytes with no two neighbours equal (no runs), optionally never equal to ``avoid``."""
    rng = np.random.default_rng(seed)
    values = [v for v in range(256) if v != avoid]
    out = [values[0]]
    while len(out) < n:
        v = values[rng.integers(len(values))]
        if v != out[-1]:
            out.append(v)
    return np.array(out, dtype=np.uint8)


@pytest.mark.parametrize("chunking", ["whole", "single-bytes"])
def test_repetition_count_fires_exactly_at_the_cutoff(chunking):
    # H = 8 bits/byte, alpha = 2^-30: C = 1 + ceil(30 / 8) = 5. A run of 4 passes, a run of 5 fails.
    for run, passes in ((4, True), (5, False)):
        x = np.concatenate([distinct_neighbours(100, 1, avoid=7), [7] * run, [8]]).astype(np.uint8)
        tests = HealthTests()
        chunks = [x] if chunking == "whole" else [x[i : i + 1] for i in range(x.size)]
        results = [tests.check(chunk) for chunk in chunks]
        failures = [r for r in results if not r.passed]
        assert tests.max_run == run
        assert tests.samples_tested == x.size
        if passes:
            assert not failures
        else:
            (failure,) = failures
            assert failure.passed is False and failure.test == "repetition-count"
            assert failure.samples == chunks[results.index(failure)].size
            assert "5" in failure.detail and f"run of {run}" in failure.detail


def test_repetition_count_matches_reference_over_tiny_chunks():
    # Chunks of 1..4 bytes exercise the run carried across chunks, chunks with no internal
    # repeat, and runs that do or do not reach a chunk's end.
    rng = np.random.default_rng(9)
    x = rng.integers(0, 3, size=3000).astype(np.uint8)
    sizes = rng.integers(1, 5, size=x.size)
    cuts = np.cumsum(sizes)
    cuts = cuts[cuts < x.size]
    tests = HealthTests(claimed_entropy=1.0)  # cutoff 31: never fires on this data
    for chunk in np.split(x, cuts):
        assert tests.check(chunk).passed
    assert tests.max_run == reference_max_run(x)
    assert tests.samples_tested == x.size


@pytest.mark.parametrize("seed", range(4))
def test_running_max_run_equals_reference_after_every_chunk(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=400).astype(np.uint8)
    tests = HealthTests(claimed_entropy=1.0)
    position = 0
    for size in rng.integers(1, 6, size=200):
        chunk = x[position : position + size]
        if chunk.size == 0:
            break
        tests.check(chunk)
        position += chunk.size
        assert tests.max_run == reference_max_run(x[:position])


def test_stream_without_repeats_has_runs_of_one_in_any_chunking():
    x = distinct_neighbours(600, 2)
    for size in (1, 2, 3, 600):
        tests = HealthTests()
        for start in range(0, x.size, size):
            assert tests.check(x[start : start + size]).passed
        assert tests.max_run == 1


def apt_window(first: int, count: int, window: int = 512, seed: int = 0) -> np.ndarray:
    """A window whose first value occurs exactly ``count`` times, never twice in a row."""
    x = distinct_neighbours(window, seed, avoid=first)
    positions = np.linspace(0, window - 2, count).astype(int)
    assert np.all(np.diff(positions) >= 2)
    x[positions] = first
    return x


@pytest.mark.parametrize(("count", "passes"), [(15, True), (16, False)])
def test_adaptive_proportion_fires_exactly_at_the_cutoff(count, passes):
    # W = 512, H = 8, alpha = 2^-30: C = 1 + CRITBINOM(512, 2^-8, 1 - 2^-30) = 16.
    x = np.concatenate([apt_window(42, count), distinct_neighbours(100, 3)])
    tests = HealthTests()
    assert tests.apt_cutoff == 16
    result = tests.check(x)
    assert tests.max_window_count == count
    assert tests.max_run == 1
    assert result.passed is passes
    assert result.samples == x.size
    if not passes:
        assert result.test == "adaptive-proportion"
        assert f"{count} times" in result.detail and "512" in result.detail


def test_adaptive_proportion_counts_only_completed_windows():
    tests = HealthTests()
    part = apt_window(42, 16)
    assert tests.check(part[:511]).passed  # window not complete yet: nothing counted
    assert tests.max_window_count == 0
    result = tests.check(part[511:])
    assert not result.passed and result.test == "adaptive-proportion"
    assert tests.max_window_count == 16


def test_fresh_tests_have_seen_nothing():
    tests = HealthTests(claimed_entropy=7.0, alpha=2.0**-20)
    assert (tests.samples_tested, tests.max_run, tests.max_window_count) == (0, 0, 0)
    assert (tests.claimed_entropy, tests.alpha) == (7.0, 2.0**-20)
    assert (tests.rct_cutoff, tests.apt_cutoff) == (1 + math.ceil(20 / 7), 18)


def test_empty_chunk_passes_and_changes_nothing():
    tests = HealthTests()
    tests.check(np.array([7, 7, 7, 7], dtype=np.uint8))
    result = tests.check(np.zeros(0, dtype=np.uint8))
    assert result.passed is True and result.test is None and result.samples == 0
    assert isinstance(result.detail, str) and result.detail
    assert tests.samples_tested == 4
    # The run of four 7s is still carried: one more 7 makes five.
    assert not tests.check(np.array([7], dtype=np.uint8)).passed


def test_passing_result_reports_its_samples():
    result = HealthTests().check(distinct_neighbours(700, 4))
    assert result.passed is True and result.test is None and result.samples == 700
    assert isinstance(result.detail, str) and result.detail


def test_reset_forgets_the_carried_run():
    tests = HealthTests()
    tests.check(np.array([1, 7, 7, 7, 7], dtype=np.uint8))
    tests.reset()
    assert tests.check(np.array([7, 9], dtype=np.uint8)).passed
    assert tests.max_run == 4


def test_startup_resets_state_and_reports_the_minimum():
    tests = HealthTests()
    tests.check(np.array([1, 7, 7, 7, 7], dtype=np.uint8))
    x = np.concatenate([[7], distinct_neighbours(1100, 5, avoid=7)]).astype(np.uint8)
    assert tests.startup(x).passed  # the carried run of 7s does not continue into a start-up
    with pytest.raises(ConfigurationError, match="1024"):
        tests.startup(x[:1023])


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.1])
def test_alpha_outside_open_unit_interval_is_refused(alpha):
    with pytest.raises(ConfigurationError, match="alpha"):
        HealthTests(alpha=alpha)
    with pytest.raises(ConfigurationError, match="alpha"):
        repetition_count_cutoff(alpha, 8)


@pytest.mark.parametrize("entropy", [0.0, -1.0, 64.5])
def test_claimed_entropy_outside_range_is_refused(entropy):
    with pytest.raises(ConfigurationError, match="entropy"):
        repetition_count_cutoff(2.0**-30, entropy)
    with pytest.raises(ConfigurationError, match="entropy"):
        adaptive_proportion_cutoff(512, entropy, 2.0**-30)
    with pytest.raises(ConfigurationError, match="entropy"):
        HealthTests(claimed_entropy=entropy)


def test_cutoffs_at_the_largest_claimed_entropy():
    # 64-bit samples with full entropy: C = 1 + ceil(30 / 64) = 2; a repeat is already suspicious.
    assert repetition_count_cutoff(2.0**-30, 64) == 2


def test_smallest_window():
    # W = 2, p = 1/2: P(count = 2) = 1/4 > alpha, so CRITBINOM = 2 and C = 3 (never reached).
    assert adaptive_proportion_cutoff(2, 1, 2.0**-30) == 3
    for window in (1, 0, 2.0, "512"):
        with pytest.raises(ConfigurationError, match="window"):
            adaptive_proportion_cutoff(window, 1, 2.0**-30)
