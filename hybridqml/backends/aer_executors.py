"""Executors for Aer-based backend specs: ``"aer"``, ``"fake_<device>"``, an ``AerSimulator``.

All three end in one decision, :func:`aer_executor`: exact estimation, Born sampling or Aer's own
(noisy) sampling. They live beside, not inside, :mod:`hybridqml.backends.aer` because they build
the Qiskit executors that use its primitives. Registered in :mod:`hybridqml.backends.registry`.
"""

from __future__ import annotations

import copy
from typing import Any

from qiskit.providers import BackendV2

from hybridqml.backends import devices
from hybridqml.backends.aer import (
    AER_EXACT_OPTIONS,
    AerBornSampler,
    AerExactEstimator,
    aer_simulator,
)
from hybridqml.backends.aer.sampler import MAX_MEASURED_QUBITS
from hybridqml.backends.base import BackendRequest, Executor
from hybridqml.backends.qiskit import estimator_executor, sampler_executor

__all__ = ["aer_executor", "build_aer", "build_aer_simulator", "build_fake", "is_aer_simulator"]


def aer_executor(
    sim: Any, name: str, request: BackendRequest, device: BackendV2 | None = None
) -> Executor:
    """Exact, Born-sampled or Aer-sampled execution on an ``AerSimulator``.

    Exact (``shots=None``) and Born sampling need a noiseless simulator that is not standing in
    for a device; a device or a noise model always samples through Aer's own sampler.
    """
    from qiskit_aer.primitives import SamplerV2 as AerSampler

    exact_ok = device is None and sim.options.noise_model is None
    if request.shots is None and exact_ok:
        return estimator_executor(request, AerExactEstimator(sim), name, target=sim)
    if exact_ok and request.shiftable.circuit.num_qubits <= MAX_MEASURED_QUBITS:
        return sampler_executor(request, AerBornSampler(sim), sim, name, device)
    return sampler_executor(request, AerSampler.from_backend(sim), sim, name, device)


def build_aer(backend: str, request: BackendRequest) -> Executor:
    """``"aer"``: exact statevector, or sampled with ``shots`` (noisy with a noise model)."""
    from qiskit_aer import AerSimulator

    sim = aer_simulator(AerSimulator, {**AER_EXACT_OPTIONS, **request.options})
    return aer_executor(sim, backend, request)  # noisy if backend_options hold a noise model


def build_fake(backend: Any, request: BackendRequest) -> Executor:
    """``"fake_<device>"`` or a fake device object: its noise and coupling map, on Aer."""
    from qiskit_aer import AerSimulator

    if isinstance(backend, str):
        device, name = devices.fake_device(backend), backend
    else:
        device, name = backend, devices.backend_name(backend)
    sim = aer_simulator(AerSimulator.from_backend, request.options, device)
    return aer_executor(sim, name, request, device=device)


def build_aer_simulator(backend: Any, request: BackendRequest) -> Executor:
    """A user's ``AerSimulator`` (copied before ``backend_options`` are applied)."""
    sim = backend
    if request.options:
        sim = copy.copy(backend)
        aer_simulator(sim.set_options, request.options)
    return aer_executor(sim, devices.backend_name(sim), request)


def is_aer_simulator(obj: Any) -> bool:
    """Whether ``obj`` is an ``AerSimulator``."""
    from qiskit_aer import AerSimulator

    return isinstance(obj, AerSimulator)
