"""uniform() and normal(): resolution, range, extremes, distribution, tails."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from entropy_testing import ScriptedSource
from scipy import stats

from hybridqml.entropy import EntropyPool, PRNGSource, normal, uniform
from hybridqml.exceptions import ConfigurationError, EntropyError


def constant(byte: int) -> ScriptedSource:
    return ScriptedSource(lambda n, off: bytes([byte]) * n)


def pool(seed=0):
    return EntropyPool(PRNGSource(seed=seed), health_tests=False)


@pytest.mark.parametrize(("dtype", "bits"), [(torch.float32, 24), (torch.float64, 53)])
def test_uniform_uses_every_mantissa_bit(dtype, bits):
    x = uniform(pool(), 20_000, dtype=dtype)
    assert x.dtype == dtype
    assert bool(((x >= 0) & (x < 1)).all())
    k = (x.double() * 2.0**bits).numpy()
    assert np.all(k == np.floor(k))  # exactly k / 2**bits
    ints = k.astype(np.uint64)
    for b in range(bits):
        column = (ints >> np.uint64(b)) & np.uint64(1)
        assert 0 < column.sum() < ints.size, f"bit {b} never varies"


@pytest.mark.parametrize(
    ("dtype", "top"), [(torch.float32, 1 - 2.0**-24), (torch.float64, 1 - 2.0**-53)]
)
def test_uniform_extreme_words(dtype, top):
    assert uniform(constant(0x00), 4, dtype=dtype).tolist() == [0.0] * 4
    hi = uniform(constant(0xFF), 4, dtype=dtype)
    assert hi.tolist() == [top] * 4 and bool((hi < 1).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("byte", [0x00, 0xFF, 0x7F, 0x80])
def test_normal_extreme_words_are_finite(dtype, byte):
    z = normal(constant(byte), (3, 5), dtype=dtype)
    assert z.dtype == dtype and z.shape == (3, 5)
    assert bool(z.isfinite().all())


def test_normal_extremes_reach_beyond_five_sigma():
    z32 = normal(constant(0x00), 1)  # sign 0, k = 0: the deepest tail, positive
    z64 = normal(constant(0x00), 1, dtype=torch.float64)
    assert 5.4 < z32.item() < 5.5
    assert 8.2 < z64.item() < 8.4
    sign_only = ScriptedSource(lambda n, off: (b"\x00\x00\x00\x80" * n)[:n])  # word 0x80000000
    assert -5.5 < normal(sign_only, 1).item() < -5.4  # sign bit set, k = 0: negative tail


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_normal_matches_standard_normal(dtype):
    z = normal(pool(7), 200_000, dtype=dtype).double().numpy()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01


def test_normal_tails_occur_at_their_rate():
    z = normal(pool(3), 1_000_000)
    beyond = int((z.abs() > 4).sum())
    expected = 1_000_000 * 2 * stats.norm.sf(4)  # ~63
    assert 0.5 * expected < beyond < 1.6 * expected
    assert bool(z.isfinite().all())


def test_sampling_consumes_exact_bytes_and_never_reuses():
    p = pool(1)
    a = normal(p, 100)
    b = normal(p, 100)
    assert p.provenance().delivered_bytes == 800
    assert not torch.equal(a, b)
    uniform(p, (2, 3), dtype=torch.float64)
    assert p.provenance().delivered_bytes == 848


def test_shape_device_and_validation():
    assert uniform(pool(), torch.Size([2, 0, 3])).shape == (2, 0, 3)
    assert normal(pool(), (2, 3), device="cpu").device.type == "cpu"
    with pytest.raises(ConfigurationError):
        normal(pool(), 4, dtype=torch.float16)
    with pytest.raises(ConfigurationError):
        uniform(pool(), (-1, 2))
    with pytest.raises(ConfigurationError):
        uniform(object(), 3)


@pytest.mark.parametrize("shape", [(2**32, 2**32), (2**33, 2**31 + 1), (2**62, 4), 2**40])
@pytest.mark.parametrize("sampler", [uniform, normal])
def test_huge_shapes_are_refused_before_reading(shape, sampler):
    p = pool()
    with pytest.raises(ConfigurationError, match="max_read_bytes"):
        sampler(p, shape)
    assert p.provenance().source_bytes == 0


def test_sampling_honours_the_pool_read_cap_and_duck_sources():
    small = EntropyPool(PRNGSource(seed=0), health_tests=False, max_read_bytes=400)
    assert uniform(small, 100).shape == (100,)
    with pytest.raises(ConfigurationError, match="max_read_bytes=400"):
        normal(small, 51, dtype=torch.float64)

    class Duck:
        def read(self, n):
            raise AssertionError("must not be reached")

    with pytest.raises(ConfigurationError, match="max_read_bytes"):
        uniform(Duck(), (2**20, 2**10, 2**10))  # 4 GiB > the 1 GiB default


def test_short_reads_from_a_duck_source_raise_entropy_error():
    class Short:
        def read(self, n):
            return bytes(n - 1)

    with pytest.raises(EntropyError, match="instead of"):
        uniform(Short(), 4)


@pytest.mark.parametrize("sampler", [uniform, normal])
def test_samples_are_moved_to_the_requested_device(sampler):
    # The "meta" device exists on every machine: it checks the move without a GPU.
    x = sampler(pool(), (2, 3), dtype=torch.float64, device="meta")
    assert x.device.type == "meta" and x.shape == (2, 3) and x.dtype == torch.float64


@pytest.mark.parametrize("sampler", [uniform, normal])
def test_refusal_names_the_shape_and_the_bytes_needed(sampler):
    small = EntropyPool(PRNGSource(seed=0), health_tests=False, max_read_bytes=16)
    with pytest.raises(ConfigurationError, match=r"shape \(2, 3\) needs 24 random bytes"):
        sampler(small, (2, 3))


@pytest.mark.parametrize("cap", [None, True, "16", 2.0**40])
def test_a_source_cap_that_is_not_an_int_means_the_default_cap(cap):
    class Duck:
        max_read_bytes = cap

        def read(self, n):
            return bytes(range(n % 256)) + bytes(n - n % 256)

    assert uniform(Duck(), (2, 3)).shape == (2, 3)
    with pytest.raises(ConfigurationError, match="max_read_bytes=1073741824"):
        uniform(Duck(), (2**20, 2**10, 2**10))


@pytest.mark.parametrize("shape", [(2, -1), (2, 1.0), (True, 2), "12"])
def test_bad_shapes_are_named(shape):
    with pytest.raises(ConfigurationError, match="shape must hold non-negative ints"):
        uniform(pool(), shape)


@pytest.mark.parametrize(
    ("dtype", "bits", "word"), [(torch.float32, 23, "<u4"), (torch.float64, 52, "<u8")]
)
def test_normal_of_crafted_words_matches_the_inverse_cdf(dtype, bits, word):
    """z = +-ndtri((k + 1/2) 2^-(b+1)), k the low b bits; the top bit set gives z < 0."""
    from scipy.special import ndtri

    top = 1 << (8 * np.dtype(word).itemsize - 1)
    ks = [0, 1, 2, 3, 5, (1 << bits) - 2, (1 << bits) - 1, 12345]
    words = np.array([k | s for k in ks for s in (0, top)], dtype=word)

    class Words:
        def read(self, n):
            assert n == words.nbytes
            return words.tobytes()

    z = normal(Words(), words.size, dtype=dtype).numpy().astype(np.float64)
    k = np.array([k for k in ks for _ in (0, 1)], dtype=np.float64)
    sign = np.array([s for _ in ks for s in (1.0, -1.0)])
    expected = sign * -ndtri((k + 0.5) * 2.0 ** -(bits + 1))
    np.testing.assert_allclose(z, expected, rtol=1e-6 if dtype == torch.float32 else 1e-13)


def test_every_float32_normal_is_within_two_ulp_of_the_float64_inverse_cdf():
    """All 2**23 magnitudes, both signs, against scipy's float64 ndtri (exhaustive)."""
    from scipy.special import ndtri

    k = np.arange(1 << 23, dtype=np.uint32)
    # bits 23..30 are not used: set them to a pattern so a mask bug shows
    words = np.concatenate([k | np.uint32(0x2A800000), k | np.uint32(0xD5000000)])

    class Words:
        def read(self, n):
            assert n == words.nbytes
            return words.tobytes()

    z = normal(Words(), words.size).numpy()
    magnitude = -ndtri((k.astype(np.float64) + 0.5) * 2.0**-24)
    expected = np.concatenate([magnitude, -magnitude])
    ulp = np.spacing(np.abs(expected).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(z - expected) / ulp) <= 2.0
    assert np.all(np.diff(z[: k.size]) <= 0)  # monotone in k: the law is the inverse CDF's


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_normal_bin_counts_pass_a_chi_square_test(dtype):
    z = normal(pool(11), 400_000, dtype=dtype).double().numpy()
    edges = stats.norm.ppf(np.linspace(0, 1, 51))  # 50 equiprobable bins
    counts = np.histogram(z, bins=edges)[0]
    assert counts.sum() == z.size
    assert stats.chisquare(counts).pvalue > 1e-3
