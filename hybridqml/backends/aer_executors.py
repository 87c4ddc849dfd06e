"""Executors for Aer-based backend specs: ``"aer"``, ``"fake_<device>"``, an ``AerSimulator``.

All three end in one decision, :func:`aer_executor`:

* noiseless: exact statevector estimation (``shots=None``) or Born sampling (``shots=N``);
* noisy (a fake device, or a noise model in ``backend_options``): exact noisy values
  (``shots=None``) or shots drawn from the exact noisy distribution (``shots=N``), both from
  :class:`~hybridqml.backends.aer.noisy.AerNoisySampler`; or Aer's own trajectory sampling, chosen
  with the option ``noisy_simulation="trajectories"`` or automatically (with shots) when the
  circuit has no exact density-matrix form (too many connected active qubits, non-terminal
  measurements, noise with no per-instruction channel).

They live beside, not inside, :mod:`hybridqml.backends.aer` because they build the Qiskit
executors that use its primitives. Registered in :mod:`hybridqml.backends.registry`.

Memory: before building anything, :func:`check_aer_memory` refuses circuits whose state cannot
fit (Aer would otherwise fail per experiment, surfacing as a missing result key). Each executor
gets :func:`binding_bytes`, the peak memory one binding costs in a call, so that large passes
are split under the memory budget (:mod:`hybridqml.backends.memory`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from qiskit.providers import BackendV2

from hybridqml.backends import devices
from hybridqml.backends.aer import (
    AER_EXACT_OPTIONS,
    AerBornSampler,
    AerExactEstimator,
    aer_simulator,
)
from hybridqml.backends.aer.noisy import NOISY_SIMULATIONS, AerNoisySampler
from hybridqml.backends.aer.sampler import MAX_MEASURED_QUBITS
from hybridqml.backends.base import DEFAULT_DEVICE_SHOTS, BackendRequest, Executor
from hybridqml.backends.measurement import group_terms, pauli_terms
from hybridqml.backends.memory import available_memory_bytes, human_bytes
from hybridqml.backends.probabilities import sampler_executor
from hybridqml.backends.qiskit import estimator_executor
from hybridqml.exceptions import BackendError, ConfigurationError, HybridQMLError

__all__ = [
    "NOISY_OPTION",
    "aer_executor",
    "binding_bytes",
    "build_aer",
    "build_aer_simulator",
    "build_fake",
    "check_aer_memory",
    "device_simulator",
    "is_aer_simulator",
    "state_bytes",
]

#: The ``backend_options`` key choosing how noisy circuits are simulated (not an Aer option).
NOISY_OPTION = "noisy_simulation"

#: Aer's bytes per binding besides the state (result objects, metadata), measured with Aer 0.18
#: at 4 to 16 qubits: about 16 KiB, plus about 0.5 KiB per measured Pauli term.
AER_RESULT_BYTES = 16 << 10
AER_TERM_BYTES = 512
#: Bytes Aer's sampler keeps per shot and measurement group (one stored outcome each).
AER_SHOT_BYTES = 64
#: State dimension of each simulation method, as a power of 2**n (methods not listed hold far
#: less than a statevector: matrix-product states, stabilizers).
_STATE_POWER = {"automatic": 1, "statevector": 1, "density_matrix": 2, "unitary": 2, "superop": 4}


def state_bytes(sim: Any, n_qubits: int) -> int:
    """Bytes of one ``n_qubits`` state of ``sim``'s method and precision (0 when not dense).

    Example:
        >>> from qiskit_aer import AerSimulator
        >>> state_bytes(AerSimulator(method="statevector"), 10)   # 2**10 complex128
        16384
    """
    power = _STATE_POWER.get(getattr(sim.options, "method", None) or "automatic", 0)
    itemsize = 8 if getattr(sim.options, "precision", "double") == "single" else 16
    return itemsize << (power * n_qubits) if power else 0


def check_aer_memory(sim: Any, n_qubits: int, name: str) -> None:
    """Refuse a circuit whose state does not fit Aer's limit or the available memory.

    The limit is the smaller of Aer's ``max_memory_mb`` (when set > 0; Aer's own default is the
    machine's memory) and the host memory available now (CPU simulation only).

    Raises:
        BackendError: naming the qubits, the bytes one state needs and the limit.
    """
    need = state_bytes(sim, n_qubits)
    if need == 0:
        return
    limits = []
    aer_mb = getattr(sim.options, "max_memory_mb", None)
    if aer_mb is not None and aer_mb > 0:
        limits.append((aer_mb << 20, "Aer's max_memory_mb"))
    if str(getattr(sim.options, "device", "CPU")).upper() == "CPU":
        free = available_memory_bytes()
        if free is not None:
            limits.append((free, "the memory available"))
    if not limits:
        return
    limit, what = min(limits)
    if need > limit:
        method = getattr(sim.options, "method", None) or "automatic"
        raise BackendError(
            f"backend {name!r} cannot simulate {n_qubits} qubits: one {method} state needs "
            f"{need:,} bytes ({human_bytes(need)}) but the limit is {limit:,} bytes "
            f"({human_bytes(limit)}, {what}); use fewer qubits or "
            "backend_options={'method': 'matrix_product_state'}"
        )


def binding_bytes(sim: Any, request: BackendRequest, kind: str) -> int:
    """Estimated peak bytes one binding costs in a call of the ``kind`` of executor.

    Aer with runtime parameter binding keeps the state of every binding of a call, plus its
    result objects (:data:`AER_RESULT_BYTES`); exact estimation adds the Pauli terms, Born
    sampling the probabilities and counts (3 arrays of ``2**n``), Aer's sampler every shot of
    every measurement group.

    Args:
        sim: The ``AerSimulator``.
        request: The backend request (circuit, shots).
        kind: ``"exact"``, ``"born"``, ``"noisy"`` (the exact noisy distribution) or
            ``"sampler"``.
    """
    shiftable = request.shiftable
    n = shiftable.circuit.num_qubits
    cost = state_bytes(sim, n) + AER_RESULT_BYTES
    if kind == "exact":
        terms = {label for obs in shiftable.observables for label in obs.paulis.to_labels()}
        return cost + AER_TERM_BYTES * len(terms)
    if kind == "born":
        return cost + 3 * 8 * (1 << n)
    if kind == "noisy":  # a density matrix of the (at most n) active qubits, then probabilities
        return 16 * (1 << (2 * n)) + AER_RESULT_BYTES + 3 * 8 * (1 << n)
    groups = max(1, len(group_terms(pauli_terms(shiftable.observables)[0])))
    return cost + AER_SHOT_BYTES * groups * (request.shots or DEFAULT_DEVICE_SHOTS)


def aer_executor(
    sim: Any,
    name: str,
    request: BackendRequest,
    device: BackendV2 | None = None,
    noisy_simulation: str = "auto",
) -> Executor:
    """The executor of an ``AerSimulator`` (see the module for the decision)."""
    from qiskit_aer.primitives import SamplerV2 as AerSampler

    n_qubits = request.shiftable.circuit.num_qubits
    check_aer_memory(sim, n_qubits, name)
    if device is not None or sim.options.noise_model is not None:
        executor = _noisy_executor(sim, name, request, device, noisy_simulation)
        kind = "sampler" if not isinstance(executor.sampler, AerNoisySampler) else "noisy"
    elif request.shots is None and request.shiftable.probabilities is not None:
        executor = sampler_executor(request, AerBornSampler(sim), sim, name, device, exact=True)
        kind = "born"
    elif request.shots is None:
        executor = estimator_executor(request, AerExactEstimator(sim), name, target=sim)
        kind = "exact"
    elif n_qubits <= MAX_MEASURED_QUBITS:
        executor = sampler_executor(request, AerBornSampler(sim), sim, name, device)
        kind = "born"
    else:
        executor = sampler_executor(request, AerSampler.from_backend(sim), sim, name, device)
        kind = "sampler"
    executor.binding_bytes = binding_bytes(sim, request, kind)
    return executor


def _noisy_executor(
    sim: Any, name: str, request: BackendRequest, device: BackendV2 | None, mode: str
) -> Executor:
    """Exact noisy distribution (values or shots), or Aer's trajectories (shots only)."""
    from qiskit_aer.primitives import SamplerV2 as AerSampler

    exact = request.shots is None
    if mode == "trajectories":
        if exact:
            raise ConfigurationError(
                "noisy_simulation='trajectories' samples shots: give shots=N (exact noisy values "
                "come from noisy_simulation='auto' or 'density_matrix')"
            )
        return sampler_executor(request, AerSampler.from_backend(sim), sim, name, device)
    sampler = AerNoisySampler(sim)
    executor = sampler_executor(request, sampler, sim, name, device, exact=exact)
    try:
        for isa in executor.isa_circuits:
            sampler.check(isa)
    except HybridQMLError as exc:
        if exact or mode == "density_matrix":
            raise ConfigurationError(f"no exact noisy simulation on {name!r}: {exc}") from exc
        executor.sampler = AerSampler.from_backend(sim)  # auto: Aer's trajectories, same ISA
    return executor


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


def build_aer(backend: str, request: BackendRequest) -> Executor:
    """``"aer"``: exact statevector, or sampled with ``shots`` (noisy with a noise model)."""
    from qiskit_aer import AerSimulator

    request, mode = _split_options(request)
    sim = aer_simulator(AerSimulator, {**AER_EXACT_OPTIONS, **request.options})
    return aer_executor(sim, backend, request, noisy_simulation=mode)


def build_fake(backend: Any, request: BackendRequest) -> Executor:
    """``"fake_<device>"`` or a fake device object: its noise and coupling map, on Aer."""
    request, mode = _split_options(request)
    if isinstance(backend, str):
        device, name = devices.fake_device(backend), backend
    else:
        device, name = backend, devices.backend_name(backend)
    sim = device_simulator(device, request.options)
    return aer_executor(sim, name, request, device=device, noisy_simulation=mode)


def device_simulator(device: BackendV2, options: Mapping[str, Any] | None = None) -> Any:
    """``AerSimulator.from_backend(device)`` with the device's own noise model.

    That is :func:`~hybridqml.backends.devices.device_noise_model`, unless ``options`` give one.
    """
    from qiskit_aer import AerSimulator

    options = dict(options or {})
    if "noise_model" not in options:
        noise = devices.device_noise_model(device)
        if noise is not None:
            options["noise_model"] = noise
    return aer_simulator(AerSimulator.from_backend, options, device)


def build_aer_simulator(backend: Any, request: BackendRequest) -> Executor:
    """A user's ``AerSimulator`` (copied before ``backend_options`` are applied)."""
    request, mode = _split_options(request)
    sim = backend
    if request.options:
        sim = copy.copy(backend)
        aer_simulator(sim.set_options, request.options)
    return aer_executor(sim, devices.backend_name(sim), request, noisy_simulation=mode)


def is_aer_simulator(obj: Any) -> bool:
    """Whether ``obj`` is an ``AerSimulator``."""
    from qiskit_aer import AerSimulator

    return isinstance(obj, AerSimulator)
