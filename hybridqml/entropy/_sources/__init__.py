"""Entropy sources: the :class:`EntropySource` contract and every source.

* :mod:`~hybridqml.entropy.sources.base`: the contract, source kinds, read-size limits;
* :mod:`~hybridqml.entropy.sources.local`: :class:`OSSource`, :class:`PRNGSource`;
* :mod:`~hybridqml.entropy.sources.hadamard`: :class:`AerHadamardSource` (Aer, fake or real IBM
  devices);
* :mod:`~hybridqml.entropy.sources.qrng`: :class:`QRNGSource` (HTTP QRNG services).

Sources are selected by name through :mod:`hybridqml.entropy.registry`.
"""

from hybridqml._validation import check_positive_int
from hybridqml.entropy.sources.base import (
    DEFAULT_CLAIMED_MIN_ENTROPY,
    MAX_READ_BYTES,
    SOURCE_KINDS,
    EntropySource,
    SourceKind,
    check_byte_count,
)
from hybridqml.entropy.sources.hadamard import AerHadamardSource
from hybridqml.entropy.sources.local import OSSource, PRNGSource
from hybridqml.entropy.sources.qrng import QRNGSource

__all__ = [
    "DEFAULT_CLAIMED_MIN_ENTROPY",
    "MAX_READ_BYTES",
    "SOURCE_KINDS",
    "AerHadamardSource",
    "EntropySource",
    "OSSource",
    "PRNGSource",
    "QRNGSource",
    "SourceKind",
    "check_byte_count",
    "check_positive_int",
]
