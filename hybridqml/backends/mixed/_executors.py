"""Executors of noisy Aer simulations: fake devices, noise models, noisy ``AerSimulator`` objects.

One decision, :func:`noisy_executor`: the exact noisy distribution
(:class:`~hybridqml.backends.mixed.DensityMatrixSampler`: exact noisy values with
``shots=None``, shots drawn from it with ``shots=N``), or Aer's own trajectory sampling, chosen
with the option ``noisy_simulation="trajectories"`` or automatically (with shots) when the
circuit has no exact density-matrix form (too many connected active qubits, non-terminal
measurements, noise with no per-instruction channel). Both run on the core's generic sampler
executor (``hybridqml.execution._primitive_executors``) with the hardware room's job service
(QPU-time estimates of fake devices, the job log).

Example:
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> from hybridqml.execution._executor import BackendRequest
    >>> ex = build_fake("fake_manila", BackendRequest(ShiftableCircuit(circuits.ry(1))))
    >>> type(ex.sampler).__name__, ex.shots
    ('DensityMatrixSampler', None)
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Final

from hybridqml.backends.mixed._density_sampler import NOISY_SIMULATIONS, DensityMatrixSampler
from hybridqml.exceptions import ConfigurationError, HybridQMLError
from hybridqml.execution._executor import DEFAULT_DEVICE_SHOTS, BackendRequest, Executor
from hybridqml.execution._isa import backend_name
from hybridqml.execution._measurement import group_terms, pauli_terms
from hybridqml.execution._primitive_executors import sampler_executor
from hybridqml.execution._sampler_executor import SamplerExecutor
from hybridqml.execution._simulators import (
    AER_EXACT_OPTIONS,
    AER_RESULT_BYTES,
    check_state_memory,
    configure,
    qiskit_aer,
    sampled_binding_bytes,
)
from hybridqml.hardware import _devices as devices
from hybridqml.hardware._jobs import RUNTIME_JOBS
from hybridqml.hardware._noise import device_simulator

__all__ = [
    "NOISY_OPTION",
    "binding_bytes",
    "build_fake",
    "build_noisy_aer",
    "build_noisy_simulator",
    "device_simulator",
    "noisy_executor",
]

NOISY_OPTION: Final[str] = "noisy_simulation"
"""The ``backend_options`` key choosing how noisy circuits are simulated (not an Aer option)."""


def binding_bytes(sim: Any, request: BackendRequest, kind: str) -> int:
    """Estimated peak bytes one binding costs in a call of the ``kind`` of executor.

    Args:
        sim: The noisy ``AerSimulator``.
        request: The backend request (circuit, shots).
        kind: ``"noisy"`` (a density matrix of the at most ``n`` active qubits, then
            probabilities) or ``"sampler"`` (Aer's trajectories: every shot of every group).
    """
    n = request.shiftable.circuit.num_qubits
    if kind == "noisy":
        return 16 * (1 << (2 * n)) + AER_RESULT_BYTES + 3 * 8 * (1 << n)
    groups = max(1, len(group_terms(pauli_terms(request.shiftable.observables)[0])))
    return sampled_binding_bytes(sim, n, groups, request.shots or DEFAULT_DEVICE_SHOTS)


def noisy_executor(
    sim: Any, name: str, request: BackendRequest, device: Any = None, mode: str = "auto"
) -> Executor:
    """Exact noisy distribution (values or shots), or Aer's trajectories (shots only)."""
    n_qubits = request.shiftable.circuit.num_qubits
    check_state_memory(sim, n_qubits, name, budget=request.max_memory_bytes)
    exact = request.shots is None
    executor: SamplerExecutor
    if mode == "trajectories":
        if exact:
            raise ConfigurationError(
                "noisy_simulation='trajectories' samples shots: give shots=N (exact noisy values "
                "come from noisy_simulation='auto' or 'density_matrix')"
            )
        executor = _trajectories(sim, name, request, device)
    else:
        sampler = DensityMatrixSampler(sim)
        executor = sampler_executor(
            request, sampler, sim, name, device, exact=exact, jobs=RUNTIME_JOBS
        )
        try:
            for isa in executor.isa_circuits:
                sampler.check(isa)
        except HybridQMLError as exc:
            if exact or mode == "density_matrix":
                raise ConfigurationError(f"no exact noisy simulation on {name!r}: {exc}") from exc
            executor.sampler = qiskit_aer().primitives.SamplerV2.from_backend(sim)  # same ISA
    kind = "noisy" if isinstance(executor.sampler, DensityMatrixSampler) else "sampler"
    executor.binding_bytes = binding_bytes(sim, request, kind)
    return executor


def _trajectories(sim: Any, name: str, request: BackendRequest, device: Any) -> SamplerExecutor:
    sampler = qiskit_aer().primitives.SamplerV2.from_backend(sim)
    return sampler_executor(request, sampler, sim, name, device, jobs=RUNTIME_JOBS)


def _split_options(request: BackendRequest) -> tuple[BackendRequest, str]:
    """The request without :data:`NOISY_OPTION`, and that option's value (default "auto")."""
    if NOISY_OPTION not in request.options:
        return request, "auto"
    options = dict(request.options)
    mode = options.pop(NOISY_OPTION)
    if mode not in NOISY_SIMULATIONS:
        raise ConfigurationError(
            f"backend_options[{NOISY_OPTION!r}] must be one of {', '.join(NOISY_SIMULATIONS)}, "
            f"got {mode!r}"
        )
    return dataclasses.replace(request, options=options), mode


def build_fake(backend: Any, request: BackendRequest) -> Executor:
    """``"fake_<device>"`` or a fake device object: its noise and coupling map, on Aer."""
    request, mode = _split_options(request)
    if isinstance(backend, str):
        device, name = devices.fake_device(backend), backend
    else:
        device, name = backend, backend_name(backend)
    sim = device_simulator(device, request.options)
    return noisy_executor(sim, name, request, device=device, mode=mode)


def build_noisy_aer(backend: str, request: BackendRequest) -> Executor:
    """``"aer"`` with a ``noise_model`` (or a ``noisy_simulation``) in ``backend_options``."""
    request, mode = _split_options(request)
    sim = configure(qiskit_aer().AerSimulator, {**AER_EXACT_OPTIONS, **request.options})
    return noisy_executor(sim, backend, request, mode=mode)


def build_noisy_simulator(backend: Any, request: BackendRequest) -> Executor:
    """A user's ``AerSimulator`` with noise (copied before ``backend_options`` are applied)."""
    request, mode = _split_options(request)
    sim = backend
    if request.options:
        sim = copy.copy(backend)
        configure(sim.set_options, request.options)
    return noisy_executor(sim, backend_name(sim), request, mode=mode)
