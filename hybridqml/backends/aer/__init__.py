"""Qiskit Aer: the exact estimator, the Born sampler, and the executor for an Aer simulator.

* :class:`~hybridqml.backends.aer.estimator.AerExactEstimator` -- an Estimator V2 primitive on
  Aer's statevector that prepares each circuit once (exact expectation values).
* :class:`~hybridqml.backends.aer.sampler.AerBornSampler` -- a Sampler V2 primitive for noiseless
  Aer: exact Born probabilities from one statevector run, shots drawn from them.

Which of them (or Aer's own sampler, for noisy simulation) serves an ``AerSimulator`` is decided
in one place, :func:`hybridqml.backends.registry.make_executor`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from hybridqml.backends.aer.estimator import AerExactEstimator
from hybridqml.backends.aer.sampler import AerBornSampler
from hybridqml.exceptions import ConfigurationError

__all__ = [
    "AER_EXACT_OPTIONS",
    "AerBornSampler",
    "AerExactEstimator",
    "aer_simulator",
]

AER_EXACT_OPTIONS: Final[Mapping[str, Any]] = {
    "method": "statevector",
    "runtime_parameter_bind_enable": True,
}
"""Aer options for exact statevector runs: binding parameters inside Aer is ~2x faster."""


def aer_simulator(make: Callable[..., Any], options: Mapping[str, Any], *args: Any) -> Any:
    """Call an Aer constructor (or ``set_options``) with ``backend_options``.

    Raises:
        ConfigurationError: Aer rejected an option (the message names Aer's documented ones).
    """
    try:
        return make(*args, **options)
    except Exception as exc:
        raise ConfigurationError(
            f"invalid backend_options for Aer: {exc}; see AerSimulator's documented options "
            "(e.g. method, device, max_parallel_threads)"
        ) from exc
