"""The primitives family's registry entries, declared as the ``primitives`` entry point.

Example:
    >>> [entry.name for entry in ENTRIES][-1]
    'a BackendV2'
"""

from __future__ import annotations

from typing import Final

from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.providers import BackendV2

from hybridqml.backends.primitives._builders import (
    build_backend_v2,
    build_estimator,
    build_ibm_backend,
    build_ibm_name,
    build_runtime_mode,
    build_sampler,
)
from hybridqml.execution._capabilities import Capabilities
from hybridqml.execution._registry import BackendEntry
from hybridqml.hardware import _devices as devices

__all__ = ["ENTRIES", "RUNTIME", "SAMPLER"]

RUNTIME: Final = Capabilities(exact=False, shots=True, noise=True, runtime_options=True)
"""IBM Quantum Runtime: device shots (1024 when not chosen), runtime options."""
SAMPLER: Final = Capabilities(exact=False, shots=True, runtime_options=True)
"""Any sampler: its shots (a sampler computing its distribution may also be exact)."""
ESTIMATOR: Final = Capabilities(exact=True, shots=False, probabilities=False, runtime_options=True)
"""Any estimator: its own values (exact or at its precision), no samples."""


def _is_ibm_name(spec: object, options: object) -> bool:
    prefix = devices.IBM_PREFIX
    return isinstance(spec, str) and spec.startswith(prefix) and len(spec) > len(prefix)


ENTRIES: Final[tuple[BackendEntry, ...]] = (
    BackendEntry(
        name="ibm:<backend name>",
        build=build_ibm_name,
        matches=_is_ibm_name,
        capabilities=RUNTIME,
        help="an IBM Quantum backend of the saved account, through the runtime Sampler",
    ),
    BackendEntry(
        name="a BaseEstimatorV2",
        build=build_estimator,
        matches=lambda spec, options: isinstance(spec, BaseEstimatorV2),
        capabilities=ESTIMATOR,
        help="any Estimator V2 primitive, used as given",
        by_name=False,
    ),
    BackendEntry(
        name="a BaseSamplerV2",
        build=build_sampler,
        matches=lambda spec, options: isinstance(spec, BaseSamplerV2),
        capabilities=SAMPLER,
        help="any Sampler V2 primitive, expectation values from its bitstrings",
        by_name=False,
    ),
    BackendEntry(
        name="a runtime Session/Batch",
        build=build_runtime_mode,
        matches=lambda spec, options: devices.is_runtime_mode(spec),
        capabilities=RUNTIME,
        help="a qiskit-ibm-runtime Session or Batch: jobs run inside it",
        by_name=False,
    ),
    BackendEntry(
        name="an IBMBackend",
        build=build_ibm_backend,
        matches=lambda spec, options: devices.is_ibm_backend(spec),
        capabilities=RUNTIME,
        help="a qiskit-ibm-runtime IBMBackend",
        by_name=False,
        priority=1,  # before "a BackendV2"
    ),
    BackendEntry(
        name="a BackendV2",
        build=build_backend_v2,
        matches=lambda spec, options: isinstance(spec, BackendV2),
        capabilities=Capabilities(exact=False, shots=True),
        help="any other BackendV2, through Qiskit's BackendSamplerV2",
        by_name=False,
        priority=-1,  # the catch-all: after every more specific kind of BackendV2
    ),
)
"""The entries this family registers."""
