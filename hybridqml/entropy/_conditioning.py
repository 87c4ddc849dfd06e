"""Conditioning: Von Neumann debiasing and SHA-256 conditioning, with their entropy accounting.

* Von Neumann (1951): bit pairs ``01 -> 0``, ``10 -> 1``, ``00``/``11`` dropped. Removes bias of
  independent bits exactly; yield ``N p (1 - p) <= N / 4`` output bits from ``N`` input bits. It
  does not remove correlation between bits.
* SHA-256 (SP 800-90B 3.1.5.1.2 vetted conditioning): each output block of 256 bits is the hash of
  ``ceil((256 + 64) / H)`` input bytes, ``H`` being the claimed min-entropy per input byte, so the
  input carries at least ``output bits + 64`` bits of min-entropy and the output has full entropy.

Both keep unused input (odd bits, partial blocks) for the next call: nothing is dropped or reused.
:meth:`Conditioner.input_needed` tells a pool how many raw bytes to read for a given number of
output bytes, so a refill reads what the conditioner needs rather than a fixed multiple: exactly
``ceil(missing / 32)`` blocks for SHA-256, and for Von Neumann an estimate from the yield observed
so far (never less than the ideal 4 input bytes per output byte).

Example:
    >>> from hybridqml.entropy._conditioning import VonNeumannConditioner
    >>> VonNeumannConditioner().process(bytes([0b01100110] * 8))  # pairs 01,10,01,10 -> 0101
    b'UUUU'
"""

from __future__ import annotations

import abc
import hashlib
import math
from typing import Final

import numpy as np

from hybridqml.exceptions import ConfigurationError

__all__ = [
    "CONDITIONING_CHOICES",
    "DEFAULT_INPUT_PER_OUTPUT",
    "ESTIMATE_MARGIN",
    "MIN_OBSERVED_OUTPUT",
    "SHA256_OUTPUT_BYTES",
    "SHA256_SECURITY_MARGIN_BITS",
    "VON_NEUMANN_MIN_INPUT_PER_OUTPUT",
    "Conditioner",
    "Sha256Conditioner",
    "VonNeumannConditioner",
    "make_conditioner",
]

SHA256_OUTPUT_BYTES: Final[int] = 32
#: Extra input min-entropy required for full-entropy output (SP 800-90B).
SHA256_SECURITY_MARGIN_BITS: Final[int] = 64
CONDITIONING_CHOICES: Final[tuple[str, ...]] = ("von-neumann", "sha256")
#: Von Neumann yields at most 1 output bit per 4 input bits (``p (1 - p) <= 1/4`` per bit).
VON_NEUMANN_MIN_INPUT_PER_OUTPUT: Final[int] = 4
#: Raw bytes per output byte assumed by :meth:`Conditioner.input_needed` before any output.
DEFAULT_INPUT_PER_OUTPUT: Final[int] = 4
#: Output bytes observed before :meth:`Conditioner.input_needed` trusts the observed ratio.
MIN_OBSERVED_OUTPUT: Final[int] = 256
#: Safety factor on an observed input/output ratio (5 %: fewer extra refills, little excess).
ESTIMATE_MARGIN: Final[float] = 1.05


class Conditioner(abc.ABC):
    """Turns raw source bytes into conditioned bytes, keeping leftovers for the next call.

    Attributes:
        name: Identifier recorded in provenance.
        input_bytes: Raw bytes consumed so far.
        output_bytes: Conditioned bytes produced so far.
    """

    name: str = "conditioner"

    def __init__(self) -> None:
        self.input_bytes = 0
        self.output_bytes = 0

    def process(self, data: bytes) -> bytes:
        """Condition ``data``; may return fewer bytes (or none) until enough input accumulates."""
        self.input_bytes += len(data)
        out = self._process(data)
        self.output_bytes += len(out)
        return out

    @abc.abstractmethod
    def _process(self, data: bytes) -> bytes:
        """Condition one chunk."""

    def input_needed(self, output_bytes: int) -> int:
        """Raw bytes to feed so that about ``output_bytes`` more conditioned bytes come out.

        The default assumes :data:`DEFAULT_INPUT_PER_OUTPUT` raw bytes per output byte until
        :data:`MIN_OBSERVED_OUTPUT` bytes have been produced, then uses the observed ratio plus
        :data:`ESTIMATE_MARGIN`. An underestimate only costs one more refill; the excess of an
        overestimate stays buffered (it is delivered later, never reused).

        Args:
            output_bytes: Conditioned bytes wanted (>= 0).

        Returns:
            Raw input bytes to read (0 when ``output_bytes`` is 0).
        """
        if output_bytes <= 0:
            return 0
        ratio = float(DEFAULT_INPUT_PER_OUTPUT)
        if self.output_bytes >= MIN_OBSERVED_OUTPUT:
            ratio = self.input_bytes / self.output_bytes * ESTIMATE_MARGIN
        return max(1, math.ceil(output_bytes * ratio))

    @property
    def ratio(self) -> float:
        """Raw input bytes per output byte so far (``inf`` before any output)."""
        return self.input_bytes / self.output_bytes if self.output_bytes else math.inf


class VonNeumannConditioner(Conditioner):
    """Von Neumann debiasing of the bit stream (bits taken most significant first).

    At most one output bit per input bit pair, and only ``2 p (1 - p) <= 1/2`` of the pairs give
    one, so at least 4 input bytes are needed per output byte; :meth:`input_needed` uses the
    observed yield once enough output exists, never less than that bound.
    """

    name = "von-neumann"

    def __init__(self) -> None:
        super().__init__()
        self._odd_bit: np.ndarray = np.zeros(0, dtype=np.uint8)
        self._out_bits = np.zeros(0, dtype=np.uint8)

    def _process(self, data: bytes) -> bytes:
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        if self._odd_bit.size:
            bits = np.concatenate((self._odd_bit, bits))
        usable = bits.size - bits.size % 2
        self._odd_bit = bits[usable:]
        pairs = bits[:usable].reshape(-1, 2)
        kept = pairs[pairs[:, 0] != pairs[:, 1], 0]
        out_bits = np.concatenate((self._out_bits, kept)) if self._out_bits.size else kept
        full = out_bits.size - out_bits.size % 8
        self._out_bits = out_bits[full:].copy()
        return np.packbits(out_bits[:full]).tobytes()

    def input_needed(self, output_bytes: int) -> int:
        """Observed-yield estimate, at least the ideal ``4 * output_bytes`` (yield <= 1/4)."""
        if output_bytes <= 0:
            return 0
        bound = VON_NEUMANN_MIN_INPUT_PER_OUTPUT * output_bytes
        return max(bound, super().input_needed(output_bytes))


class Sha256Conditioner(Conditioner):
    """SHA-256 over input blocks holding >= 320 bits of claimed min-entropy per 32 output bytes.

    Args:
        claimed_entropy: Claimed min-entropy per input byte (bits).
    """

    name = "sha256"

    def __init__(self, *, claimed_entropy: float = 8.0) -> None:
        super().__init__()
        if not 0.0 < claimed_entropy <= 8.0:
            raise ConfigurationError("claimed_entropy must be in (0, 8]")
        self.claimed_entropy = float(claimed_entropy)
        needed = SHA256_OUTPUT_BYTES * 8 + SHA256_SECURITY_MARGIN_BITS
        self.block_bytes = math.ceil(needed / claimed_entropy)
        self._pending = bytearray()

    def _process(self, data: bytes) -> bytes:
        self._pending += data
        blocks = len(self._pending) // self.block_bytes
        out = bytearray()
        for i in range(blocks):
            start = i * self.block_bytes
            out += hashlib.sha256(self._pending[start : start + self.block_bytes]).digest()
        del self._pending[: blocks * self.block_bytes]
        return bytes(out)

    def input_needed(self, output_bytes: int) -> int:
        """Exactly the input completing ``ceil(output_bytes / 32)`` blocks (pending bytes count)."""
        if output_bytes <= 0:
            return 0
        blocks = -(-output_bytes // SHA256_OUTPUT_BYTES)
        return max(0, blocks * self.block_bytes - len(self._pending))


def make_conditioner(
    spec: str | Conditioner | None, *, claimed_entropy: float
) -> Conditioner | None:
    """Build a conditioner from ``None``, ``"von-neumann"``, ``"sha256"`` or an instance."""
    if spec is None or isinstance(spec, Conditioner):
        return spec
    if spec == "von-neumann":
        return VonNeumannConditioner()
    if spec == "sha256":
        return Sha256Conditioner(claimed_entropy=claimed_entropy)
    raise ConfigurationError(f"conditioning must be one of {CONDITIONING_CHOICES} or None")
