"""Von Neumann and SHA-256 conditioning: outputs, yields, chunking invariance."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from hybridqml.entropy import Sha256Conditioner, VonNeumannConditioner
from hybridqml.exceptions import ConfigurationError


def test_von_neumann_known_pairs():
    # 0b01_10_00_11 -> pairs 01, 10 kept (0, 1); 00, 11 dropped
    vn = VonNeumannConditioner()
    assert vn.process(bytes([0b01100011] * 4)) == bytes([0b01010101])
    assert vn.process(bytes([0x00, 0xFF] * 10)) == b""


def test_von_neumann_removes_bias_of_independent_bits():
    rng = np.random.default_rng(0)
    bits = (rng.random(800_000) < 0.8).astype(np.uint8)
    vn = VonNeumannConditioner()
    out = np.unpackbits(np.frombuffer(vn.process(np.packbits(bits).tobytes()), dtype=np.uint8))
    assert abs(bits.mean() - 0.8) < 0.01
    assert abs(out.mean() - 0.5) < 0.005
    expected_yield = bits.size / 2 * 2 * 0.8 * 0.2  # N p (1 - p) output bits
    assert abs(out.size - expected_yield) < 0.02 * expected_yield
    assert vn.ratio > 1 / (2 * 0.8 * 0.2) / 8 * 8 - 0.5


def test_von_neumann_is_chunking_invariant():
    data = np.random.default_rng(1).bytes(5001)
    whole = VonNeumannConditioner().process(data)
    vn = VonNeumannConditioner()
    parts = b"".join(vn.process(data[i : i + 37]) for i in range(0, len(data), 37))
    assert parts == whole


@pytest.mark.parametrize(("entropy", "block"), [(8.0, 40), (6.0, 54), (1.0, 320)])
def test_sha256_block_size_follows_output_plus_64_bits(entropy, block):
    assert Sha256Conditioner(claimed_entropy=entropy).block_bytes == block


def test_sha256_output_and_chunking():
    data = np.random.default_rng(2).bytes(40 * 5 + 7)
    cond = Sha256Conditioner()
    out = b"".join(cond.process(data[i : i + 13]) for i in range(0, len(data), 13))
    expected = b"".join(hashlib.sha256(data[i : i + 40]).digest() for i in range(0, 200, 40))
    assert out == expected
    assert cond.input_bytes == len(data) and cond.output_bytes == 160
    with pytest.raises(ConfigurationError):
        Sha256Conditioner(claimed_entropy=0)


@pytest.mark.parametrize(("entropy", "block"), [(8.0, 40), (6.0, 54), (1.0, 320)])
def test_sha256_input_needed_is_exact(entropy, block):
    cond = Sha256Conditioner(claimed_entropy=entropy)
    assert cond.input_needed(0) == 0
    assert cond.input_needed(1) == cond.input_needed(32) == block
    assert cond.input_needed(33) == 2 * block
    cond.process(bytes(block + 7))  # one block out, 7 bytes pending
    assert cond.input_needed(32) == block - 7
    assert len(cond.process(bytes(cond.input_needed(64)))) == 64


def test_von_neumann_input_needed_starts_at_the_ideal_bound_then_follows_the_yield():
    vn = VonNeumannConditioner()
    assert vn.input_needed(0) == 0
    assert vn.input_needed(1000) == 4000  # yield <= 1/4: never ask for less
    rng = np.random.default_rng(3)
    vn.process(np.packbits(rng.random(80_000) < 0.9).tobytes())  # yield 0.09 bits per bit
    assert vn.input_needed(1000) == pytest.approx(1000 / 0.09 * 1.05, rel=0.05)
    assert vn.input_needed(1000) >= 4000
