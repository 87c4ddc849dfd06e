"""Executors over Qiskit primitives built from a backend request: what backend builders call.

:func:`estimator_executor` and :func:`sampler_executor` turn a
:class:`~hybridqml.execution.BackendRequest` and a primitive into the right executor:
an :class:`~hybridqml.execution._estimator_executor.EstimatorExecutor`, a
:class:`~hybridqml.execution._sampler_executor.SamplerExecutor` for Pauli observables, or a
:class:`~hybridqml.execution._probability_executor.ProbabilityExecutor` for probability outputs.
Every backend family that runs Qiskit primitives (Aer, the noisy simulator, IBM Runtime, any
``BaseSamplerV2``) builds its executors here, passing the job service it needs.

Example:
    >>> from qiskit.primitives import StatevectorSampler
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._outputs import Probabilities
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> from hybridqml.execution._executor import BackendRequest
    >>> spec = circuits.ry(1).with_outputs(Probabilities())
    >>> request = BackendRequest(ShiftableCircuit(spec), shots=100, seed=1)
    >>> type(sampler_executor(request, StatevectorSampler(), None, "sv")).__name__
    'ProbabilityExecutor'
"""

from __future__ import annotations

from typing import Any

from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2

from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._estimator_executor import EstimatorExecutor
from hybridqml.execution._executor import DEFAULT_DEVICE_SHOTS, BackendRequest
from hybridqml.execution._jobs import LOCAL_JOBS, Jobs
from hybridqml.execution._probability_executor import ProbabilityExecutor
from hybridqml.execution._sampler_executor import SamplerExecutor

__all__ = ["estimator_executor", "sampler_executor"]


def estimator_executor(
    request: BackendRequest,
    estimator: BaseEstimatorV2,
    name: str,
    target: Any = None,
    *,
    shots: int | None = None,
    jobs: Jobs = LOCAL_JOBS,
) -> EstimatorExecutor:
    """An :class:`EstimatorExecutor` with a backend request's settings.

    Args:
        request: The validated request.
        estimator: The primitive.
        name: Backend name.
        target: Backend whose ISA to transpile to (``None``: as built).
        shots: Shots the estimator was configured with, for counting (``None``: exact).
        jobs: How calls reach the estimator.

    Raises:
        ConfigurationError: the spec's outputs are probabilities (an estimator has no samples).
    """
    if request.shiftable.probabilities is not None:
        raise ConfigurationError(
            f"{name} is an Estimator: it computes expectation values, not the probability "
            "outputs of this circuit; pass a BaseSamplerV2 (or a backend name) instead"
        )
    settings = _settings(request, name, target, jobs)
    return EstimatorExecutor(request.shiftable, estimator, shots=shots, **settings)


def sampler_executor(
    request: BackendRequest,
    sampler: BaseSamplerV2,
    target: Any,
    name: str,
    device: Any = None,
    *,
    exact: bool = False,
    jobs: Jobs = LOCAL_JOBS,
) -> SamplerExecutor:
    """The executor of a sampler for any spec: probability outputs or Pauli observables.

    ``shots=None`` means exact values when ``exact`` (a sampler that computes its
    distribution), else :data:`~hybridqml.execution._executor.DEFAULT_DEVICE_SHOTS` (a device
    cannot be exact).
    """
    shots = request.shots
    if shots is None and not exact:
        shots = DEFAULT_DEVICE_SHOTS
    kind = ProbabilityExecutor if request.shiftable.probabilities is not None else SamplerExecutor
    settings = _settings(request, name, target, jobs)
    return kind(request.shiftable, sampler, shots=shots, device=device, **settings)


def _settings(request: BackendRequest, name: str, target: Any, jobs: Jobs) -> dict[str, Any]:
    """The constructor arguments every primitive executor takes from a request."""
    return {
        "name": name,
        "target": target,
        "seed": request.seed,
        "optimization_level": request.optimization_level,
        "jobs": jobs,
    }
