"""Entropy for hybrid models: honest sources, a use-once health-tested pool, correct sampling.

Data flow::

    source (QRNG | Aer/IBM Hadamard | OS | PRNG) -> EntropyPool (health tests, conditioning,
    use-once buffer, prefetch) -> [ExpandedGenerator] -> uniform() / normal() -> torch tensors

Example:
    >>> from hybridqml.entropy import EntropyPool, OSSource, normal
    >>> with EntropyPool(OSSource()) as pool:
    ...     z = normal(pool, (4, 8))
    >>> z.shape
    torch.Size([4, 8])
"""

from hybridqml.entropy.aer import AerHadamardSource
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
from hybridqml.entropy.qrng import QRNGSource
from hybridqml.entropy.sampling import normal, uniform
from hybridqml.entropy.sources import (
    MAX_READ_BYTES,
    SOURCE_KINDS,
    EntropySource,
    OSSource,
    PRNGSource,
)
from hybridqml.entropy.stats import (
    RandomnessReport,
    block_frequency_test,
    mcv_min_entropy,
    monobit_test,
    randomness_report,
    runs_test,
)
from hybridqml.exceptions import EntropyError, HealthTestError, QRNGError

__all__ = [
    "MAX_READ_BYTES",
    "SOURCE_KINDS",
    "AerHadamardSource",
    "Conditioner",
    "EntropyError",
    "EntropyPool",
    "EntropySource",
    "ExpandedGenerator",
    "HealthResult",
    "HealthTestError",
    "HealthTests",
    "OSSource",
    "PRNGSource",
    "Provenance",
    "QRNGError",
    "QRNGSource",
    "RandomnessReport",
    "Sha256Conditioner",
    "VonNeumannConditioner",
    "adaptive_proportion_cutoff",
    "block_frequency_test",
    "mcv_min_entropy",
    "monobit_test",
    "normal",
    "randomness_report",
    "repetition_count_cutoff",
    "runs_test",
    "uniform",
]
