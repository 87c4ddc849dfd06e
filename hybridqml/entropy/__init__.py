"""Entropy for hybrid models: honest sources, a use-once health-tested pool, correct sampling.

Data flow::

    sources (entry points: QRNG | Aer/IBM Hadamard | OS | PRNG | yours) -> EntropyPool (health
    tests, conditioning, use-once buffer, prefetch) -> [ExpandedGenerator] -> uniform() /
    normal() -> torch tensors

Sources are selected by name (:func:`make_source`, :func:`source_names`) from the entry points
of the group ``hybridqml.entropy_sources``; each names a :class:`SourceEntry`. hybridqml's own
sources are declared that way in its ``pyproject.toml``, and another package adds one the same
way::

    [project.entry-points."hybridqml.entropy_sources"]
    dice = "my_package.dice:DICE"   # DICE = SourceEntry(factory=..., help="...")

:func:`register_source` and :func:`unregister_source` do the same at run time.
:class:`EntropySettings` holds every option of every source, once: the Python API, the flags of
``hybridqml entropy`` and ``hybridqml train``, and the record in ``metrics.json``.
:class:`EntropyStream` gives a workflow fresh entropy per epoch.

Example:
    >>> from hybridqml.entropy import EntropyPool, OSSource, normal
    >>> with EntropyPool(OSSource()) as pool:
    ...     z = normal(pool, (4, 8))
    >>> z.shape
    torch.Size([4, 8])
"""

from hybridqml.entropy._conditioning import Conditioner, Sha256Conditioner, VonNeumannConditioner
from hybridqml.entropy._epochs import EntropyStream
from hybridqml.entropy._expansion import ExpandedGenerator
from hybridqml.entropy._health import HealthResult, HealthTests
from hybridqml.entropy._pool import EntropyPool
from hybridqml.entropy._provenance import Provenance
from hybridqml.entropy._registry import (
    SourceEntry,
    register_source,
    source_names,
    unregister_source,
)
from hybridqml.entropy._settings import EntropySettings, make_source
from hybridqml.entropy._sources.base import SOURCE_KINDS, EntropySource
from hybridqml.entropy._sources.hadamard import AerHadamardSource
from hybridqml.entropy._sources.local import OSSource, PRNGSource
from hybridqml.entropy._sources.qrng.client import QRNGSource
from hybridqml.entropy._stats import RandomnessReport, randomness_report
from hybridqml.entropy._tensors import normal, uniform

__all__ = [
    "SOURCE_KINDS",
    "AerHadamardSource",
    "Conditioner",
    "EntropyPool",
    "EntropySettings",
    "EntropySource",
    "EntropyStream",
    "ExpandedGenerator",
    "HealthResult",
    "HealthTests",
    "OSSource",
    "PRNGSource",
    "Provenance",
    "QRNGSource",
    "RandomnessReport",
    "Sha256Conditioner",
    "SourceEntry",
    "VonNeumannConditioner",
    "make_source",
    "normal",
    "randomness_report",
    "register_source",
    "source_names",
    "uniform",
    "unregister_source",
]
