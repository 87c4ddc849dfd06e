"""Executors of noiseless Aer: ``"aer"`` and a user's ``AerSimulator`` without a noise model.

One decision, :func:`aer_executor`: exact statevector estimation
(:class:`~hybridqml.backends.aer.AerExactEstimator`, ``shots=None``), exact
probabilities or Born sampling (:class:`~hybridqml.backends.aer.AerBornSampler`, probability
outputs or ``shots=N``), and Aer's own sampler above
:data:`~hybridqml.execution._distribution.MAX_MEASURED_QUBITS` measured qubits. The executors are
the core's generic primitive executors (``hybridqml.execution._primitive_executors``); Aer
supplies the primitives, the core asks them what they can do. Noise models and fake devices
are simulated by :mod:`hybridqml.backends.mixed`.

Memory: before building anything, :func:`~hybridqml.execution._simulators.check_state_memory`
refuses circuits whose state cannot fit. Each executor gets :func:`binding_bytes`, the peak
memory one binding costs in a call, so that large passes are split under the memory budget.

Example:
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> from hybridqml.execution._executor import BackendRequest
    >>> ex = build_aer("aer", BackendRequest(ShiftableCircuit(circuits.ry(1)), shots=10))
    >>> type(ex.sampler).__name__, ex.shots
    ('AerBornSampler', 10)
"""

from __future__ import annotations

import copy
from typing import Any

from hybridqml.backends.aer._born import AerBornSampler
from hybridqml.backends.aer._estimator import AerExactEstimator
from hybridqml.execution._distribution import MAX_MEASURED_QUBITS
from hybridqml.execution._executor import DEFAULT_DEVICE_SHOTS, BackendRequest, Executor
from hybridqml.execution._isa import backend_name
from hybridqml.execution._measurement import group_terms, pauli_terms
from hybridqml.execution._primitive_executors import estimator_executor, sampler_executor
from hybridqml.execution._simulators import (
    AER_EXACT_OPTIONS,
    AER_RESULT_BYTES,
    AER_TERM_BYTES,
    check_state_memory,
    configure,
    qiskit_aer,
    sampled_binding_bytes,
    state_bytes,
)
from hybridqml.hardware._jobs import RUNTIME_JOBS

__all__ = [
    "aer_executor",
    "binding_bytes",
    "build_aer",
    "build_aer_simulator",
]


def binding_bytes(sim: Any, request: BackendRequest, kind: str) -> int:
    """Estimated peak bytes one binding costs in a call of the ``kind`` of executor.

    Aer with runtime parameter binding keeps the state of every binding of a call, plus its
    result objects; exact estimation adds the Pauli terms, Born sampling the probabilities and
    counts (3 arrays of ``2**n``), Aer's sampler every shot of every measurement group.

    Args:
        sim: The ``AerSimulator``.
        request: The backend request (circuit, shots).
        kind: ``"exact"``, ``"born"`` or ``"sampler"``.
    """
    shiftable = request.shiftable
    n = shiftable.circuit.num_qubits
    if kind == "exact":
        terms = {label for obs in shiftable.observables for label in obs.paulis.to_labels()}
        return state_bytes(sim, n) + AER_RESULT_BYTES + AER_TERM_BYTES * len(terms)
    if kind == "born":
        return state_bytes(sim, n) + AER_RESULT_BYTES + 3 * 8 * (1 << n)
    groups = max(1, len(group_terms(pauli_terms(shiftable.observables)[0])))
    return sampled_binding_bytes(sim, n, groups, request.shots or DEFAULT_DEVICE_SHOTS)


def aer_executor(sim: Any, name: str, request: BackendRequest) -> Executor:
    """The executor of a noiseless ``AerSimulator`` (see the module for the decision)."""
    n_qubits = request.shiftable.circuit.num_qubits
    check_state_memory(sim, n_qubits, name, budget=request.max_memory_bytes)
    jobs = RUNTIME_JOBS
    executor: Executor
    if request.shots is None and request.shiftable.probabilities is not None:
        executor = sampler_executor(request, AerBornSampler(sim), sim, name, exact=True, jobs=jobs)
        kind = "born"
    elif request.shots is None:
        executor = estimator_executor(request, AerExactEstimator(sim), name, target=sim, jobs=jobs)
        kind = "exact"
    elif n_qubits <= MAX_MEASURED_QUBITS:
        executor = sampler_executor(request, AerBornSampler(sim), sim, name, jobs=jobs)
        kind = "born"
    else:
        sampler = qiskit_aer().primitives.SamplerV2.from_backend(sim)
        executor = sampler_executor(request, sampler, sim, name, jobs=jobs)
        kind = "sampler"
    executor.binding_bytes = binding_bytes(sim, request, kind)
    return executor


def build_aer(backend: str, request: BackendRequest) -> Executor:
    """``"aer"``: exact statevector, or sampled with ``shots``."""
    sim = configure(qiskit_aer().AerSimulator, {**AER_EXACT_OPTIONS, **request.options})
    return aer_executor(sim, backend, request)


def build_aer_simulator(backend: Any, request: BackendRequest) -> Executor:
    """A user's noiseless ``AerSimulator`` (copied before ``backend_options`` are applied)."""
    sim = backend
    if request.options:
        sim = copy.copy(backend)
        configure(sim.set_options, request.options)
    return aer_executor(sim, backend_name(sim), request)
