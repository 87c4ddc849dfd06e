"""Entropy for hybrid models: honest sources, a use-once health-tested pool, correct sampling.

Data flow::

    source (QRNG | Aer/IBM Hadamard | OS | PRNG) -> EntropyPool (health tests, conditioning,
    use-once buffer, prefetch) -> [ExpandedGenerator] -> uniform() / normal() -> torch tensors

Layout: :mod:`~hybridqml.entropy.sources` (the contract and every source),
:mod:`~hybridqml.entropy.registry` (the only map from a source name to a source, used by the
``hybridqml entropy`` command and by :class:`EntropyStream`), :mod:`~hybridqml.entropy.stream`
(per-epoch entropy for workflows), and pool, health, conditioning, expansion, sampling, stats,
provenance. ``hybridqml.entropy.aer`` and ``hybridqml.entropy.qrng`` are kept as aliases of
``sources.hadamard`` and ``sources.qrng``.

Example:
    >>> from hybridqml.entropy import EntropyPool, OSSource, normal
    >>> with EntropyPool(OSSource()) as pool:
    ...     z = normal(pool, (4, 8))
    >>> z.shape
    torch.Size([4, 8])
"""

import sys

from hybridqml.entropy import sources as _sources
from hybridqml.entropy.conditioning import Conditioner, Sha256Conditioner, VonNeumannConditioner
from hybridqml.entropy.expansion import ExpandedGenerator
from hybridqml.entropy.health import (
    HealthResult,
    HealthTests,
    adaptive_proportion_cutoff,
    repetition_count_cutoff,
)
from hybridqml.entropy.pool import EntropyPool
from hybridqml.entropy.provenance import Provenance
from hybridqml.entropy.registry import SourceOptions, make_source
from hybridqml.entropy.sampling import normal, uniform
from hybridqml.entropy.sources import (
    MAX_READ_BYTES,
    SOURCE_KINDS,
    AerHadamardSource,
    EntropySource,
    OSSource,
    PRNGSource,
    QRNGSource,
)
from hybridqml.entropy.stats import (
    RandomnessReport,
    block_frequency_test,
    mcv_min_entropy,
    monobit_test,
    randomness_report,
    runs_test,
)
from hybridqml.entropy.stream import EntropySettings, EntropyStream
from hybridqml.exceptions import (
    EntropyError,
    HealthTestError,
    QRNGAuthError,
    QRNGError,
    QRNGProtocolError,
    QRNGUnavailableError,
)

__all__ = [
    "MAX_READ_BYTES",
    "SOURCE_KINDS",
    "AerHadamardSource",
    "Conditioner",
    "EntropyError",
    "EntropyPool",
    "EntropySettings",
    "EntropySource",
    "EntropyStream",
    "ExpandedGenerator",
    "HealthResult",
    "HealthTestError",
    "HealthTests",
    "OSSource",
    "PRNGSource",
    "Provenance",
    "QRNGAuthError",
    "QRNGError",
    "QRNGProtocolError",
    "QRNGSource",
    "QRNGUnavailableError",
    "RandomnessReport",
    "Sha256Conditioner",
    "SourceOptions",
    "VonNeumannConditioner",
    "adaptive_proportion_cutoff",
    "block_frequency_test",
    "make_source",
    "mcv_min_entropy",
    "monobit_test",
    "normal",
    "randomness_report",
    "repetition_count_cutoff",
    "runs_test",
    "uniform",
]

# The first layout's module names, kept importable: ``import hybridqml.entropy.aer`` and
# ``import hybridqml.entropy.qrng`` give the modules that now hold those sources.
aer = sys.modules.setdefault(f"{__name__}.aer", _sources.hadamard)
qrng = sys.modules.setdefault(f"{__name__}.qrng", _sources.qrng)
