"""What a backend author needs to test a backend: fault injection and the conformance suite.

* :mod:`~hybridqml.testing.faults` -- :class:`FaultInjectingSampler`: a local runtime sampler
  on a fake device that fails on chosen attempts (transient errors, closed sessions, timeouts,
  crashes), to test retries, the job log and resumed runs;
* :func:`check_backend` -- the conformance suite of :mod:`hybridqml.testing.conformance` (loaded
  on first use).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from hybridqml.testing.faults import (
    FAULT_KINDS,
    Fault,
    FaultInjectingSampler,
    FaultyJob,
    SimulatedCrash,
)

__all__ = [
    "FAULT_KINDS",
    "Fault",
    "FaultInjectingSampler",
    "FaultyJob",
    "SimulatedCrash",
]
if importlib.util.find_spec("hybridqml.testing.conformance") is not None:
    __all__ += ["check_backend"]  # the conformance suite, imported on first use


def __getattr__(name: str) -> Any:
    """``check_backend``, imported from :mod:`hybridqml.testing.conformance` on first use."""
    if name == "check_backend":
        from hybridqml.testing.conformance import check_backend

        return check_backend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
