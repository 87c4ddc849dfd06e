"""One regression test per tutorial bug listed in shared/entropy.md."""

from __future__ import annotations

import torch
from entropy_testing import FAST_RETRY, TOKEN, ScriptedSource

from hybridqml.entropy import EntropyPool, PRNGSource, QRNGSource, normal


def test_no_cached_repeated_bytes(qrng_server):
    """Bug 1: an lru_cache keyed on (size, time slot) served the same bytes for equal-size calls."""
    source = QRNGSource(qrng_server.url, TOKEN, **FAST_RETRY)
    pool = EntropyPool(source, health_tests=False, chunk_bytes=512)
    first, second = pool.read(512), pool.read(512)
    assert first != second
    assert len(qrng_server.requests) == 2  # each equal-size request went to the service
    assert first + second == bytes(qrng_server.served)
    z1, z2 = normal(pool, (64, 100)), normal(pool, (64, 100))
    assert not torch.equal(z1, z2)


def test_no_infinite_normals_and_no_3_33_cap():
    """Bug 2: Box-Muller on byte/255 gave -inf for a zero byte and capped |z| at 3.33."""
    zeros = ScriptedSource(lambda n, off: bytes(n))
    assert bool(normal(zeros, (64, 100)).isfinite().all())  # a batch made only of zero bytes
    z = normal(EntropyPool(PRNGSource(seed=0)), (64, 100 * 200))
    assert bool(z.isfinite().all())
    assert z.abs().max().item() > 4.0  # > 3.33 is reachable (and occurs)


class _TestNoise(torch.nn.Module):
    """Test-local stand-in for a future noise layer: noise only in training mode."""

    def __init__(self, pool):
        super().__init__()
        self.pool = pool

    def forward(self, x):
        if not self.training:
            return x
        return x + 0.1 * normal(self.pool, x.shape, dtype=x.dtype)


def test_eval_mode_draws_no_entropy():
    """Bug 3: noise was added in eval mode too. The pool's accounting makes this checkable."""
    pool = EntropyPool(PRNGSource(seed=1))
    layer = _TestNoise(pool)
    x = torch.ones(4, 3)
    layer.train()
    assert not torch.equal(layer(x), x)
    drawn = pool.provenance().delivered_bytes
    assert drawn == 4 * 3 * 4
    layer.eval()
    assert torch.equal(layer(x), x)
    assert pool.provenance().delivered_bytes == drawn  # not a single byte drawn in eval mode
    assert normal(pool, (0, 3)).numel() == 0 and pool.provenance().delivered_bytes == drawn
