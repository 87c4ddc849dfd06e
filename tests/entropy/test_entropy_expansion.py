"""ExpandedGenerator: >= 256-bit seeds, reseed schedule, 'expanded' labelling and ratio."""

from __future__ import annotations

import pytest
from entropy_testing import ScriptedSource, prng_bytes

from hybridqml.entropy import EntropyPool, ExpandedGenerator, PRNGSource, normal
from hybridqml.exceptions import ConfigurationError


def test_reseed_schedule_and_accounting():
    pool = EntropyPool(PRNGSource(seed=3), health_tests=False)
    gen = pool.generator(reseed_interval=1000, seed_bytes=32)
    out = b"".join(gen.read(n) for n in (1, 999, 1, 2500, 499))
    assert len(out) == 4000
    prov = gen.provenance()
    assert prov.mode == "expanded" and prov.kind == "pseudo"
    assert prov.reseeds == 4 and prov.source_bytes == 4 * 32
    assert prov.delivered_bytes == 4000
    assert prov.source_to_delivered == pytest.approx(128 / 4000)
    assert pool.provenance().delivered_bytes == 128  # seeds drawn from the pool, used once


def test_output_depends_on_pool_and_not_on_read_sizes():
    def gen(seed):
        return ExpandedGenerator(EntropyPool(PRNGSource(seed=seed)), reseed_interval=777)

    a, b = gen(1), gen(1)
    assert b"".join(a.read(n) for n in (5, 3000, 11)) == b.read(3016)
    assert gen(1).read(64) != gen(2).read(64)


def test_all_256_seed_bits_are_used():
    def with_seed(seed: bytes) -> bytes:
        source = ScriptedSource(lambda n, off: seed[off : off + n])
        return ExpandedGenerator(source, seed_bytes=32).read(64)

    base = bytes(range(1, 33))
    flipped = base[:31] + bytes([base[31] ^ 0x80])  # differs only in bit 255
    assert with_seed(base) != with_seed(flipped)
    assert with_seed(base) not in (base + base,)


def test_seed_too_small_is_rejected():
    with pytest.raises(ConfigurationError, match="256"):
        ExpandedGenerator(EntropyPool(PRNGSource(seed=0)), seed_bytes=8)


def test_expanded_output_feeds_sampling_faster_than_the_source():
    source = ScriptedSource(prng_bytes(0))
    gen = EntropyPool(source).generator()
    z = normal(gen, (64, 100))
    assert z.isfinite().all()
    assert len(source.served) <= 4096  # one pool refill (start-up) covers the 32-byte seed


def test_expanded_provenance_carries_the_pool_request_and_conditioner_counts():
    pool = EntropyPool(PRNGSource(seed=4), conditioning="sha256", health_tests=False)
    gen = pool.generator(reseed_interval=100)
    gen.read(250)
    prov, pool_prov = gen.provenance(), pool.provenance()
    assert prov.reseeds == prov.source_reads == 3
    assert (prov.requests, prov.failures) == (pool_prov.requests, pool_prov.failures) == (1, 0)
    assert prov.conditioner_input_bytes == pool_prov.conditioner_input_bytes > 0
    assert prov.conditioner_output_bytes == pool_prov.conditioner_output_bytes >= 96
