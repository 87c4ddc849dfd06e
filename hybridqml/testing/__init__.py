"""What a backend author needs: the conformance suite and fault injection.

* :func:`check_backend` -- the backend conformance suite: values against ``Statevector`` (or the
  exact noisy reference), gradients against central differences, one call per pass, dry runs,
  chunked passes and the law of the shots, with one call;
* :class:`FaultInjectingSampler` -- a local runtime sampler on a fake device that fails on chosen
  attempts (transient errors, closed sessions, timeouts, crashes), to test retries, the job log
  and resumed runs.

Example:
    >>> from hybridqml.testing import check_backend
    >>> check_backend("aer", checks=["values"]).ran
    ('values',)
"""

from hybridqml.testing._conformance import ConformanceReport, check_backend
from hybridqml.testing._faults import (
    FAULT_KINDS,
    Fault,
    FaultInjectingSampler,
    FaultyJob,
    SimulatedCrash,
)

__all__ = [
    "FAULT_KINDS",
    "ConformanceReport",
    "Fault",
    "FaultInjectingSampler",
    "FaultyJob",
    "SimulatedCrash",
    "check_backend",
]
