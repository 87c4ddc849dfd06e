"""Executors of any Qiskit primitive or device, and of IBM Quantum Runtime.

* ``"ibm:<name>"``, an ``IBMBackend``, a runtime ``Session``/``Batch``: the runtime Sampler
  (expectation values from bitstrings), or the runtime Estimator when a ``resilience_level``
  asks for mitigation; runtime options (``hybridqml.hardware._runtime_options``) applied;
* any ``BaseEstimatorV2`` (used as given) or ``BaseSamplerV2`` (bitstrings counted);
* any other ``BackendV2``, through Qiskit's ``BackendSamplerV2``.

All of them run on the core's generic primitive executors with the hardware room's job service
(:data:`~hybridqml.hardware._jobs.RUNTIME_JOBS`: retries, the job log, sessions, QPU time).

Example:
    >>> from qiskit.primitives import StatevectorEstimator
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> from hybridqml.execution._executor import BackendRequest
    >>> request = BackendRequest(ShiftableCircuit(circuits.ry(1)))
    >>> build_estimator(StatevectorEstimator(), request).name
    'StatevectorEstimator'
"""

from __future__ import annotations

from typing import Any

from qiskit.primitives import BackendSamplerV2

from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._executor import DEFAULT_DEVICE_SHOTS, BackendRequest, Executor
from hybridqml.execution._isa import backend_name
from hybridqml.execution._primitive_executors import estimator_executor, sampler_executor
from hybridqml.hardware import _devices as devices
from hybridqml.hardware._jobs import RUNTIME_JOBS
from hybridqml.hardware._runtime_options import RuntimeOptions, apply_mitigation

__all__ = [
    "build_backend_v2",
    "build_estimator",
    "build_ibm_backend",
    "build_ibm_name",
    "build_runtime_mode",
    "build_sampler",
]


def _runtime_options(request: BackendRequest, backend: str) -> RuntimeOptions:
    """The runtime options of ``backend_options``; any other key is an error."""
    options = dict(request.options)
    runtime = RuntimeOptions.pop_from(options)
    if options:
        raise ConfigurationError(
            f"backend_options {sorted(options)} do not apply to the runtime backend "
            f"{backend!r}: it takes resilience_level, twirling, dynamical_decoupling and "
            "max_memory_bytes"
        )
    return runtime


def _runtime_executor(request: BackendRequest, mode: Any, device: Any, name: str) -> Executor:
    """A runtime Sampler executor, or the runtime Estimator's with a resilience level.

    Mitigation of expectation values runs on the runtime Estimator with its own options
    (TREX, ZNE: :func:`~hybridqml.hardware._runtime_options.apply_mitigation`); probability
    outputs stay on the Sampler, which has none, and are mitigated locally by the executor.
    """
    runtime = _runtime_options(request, name)
    on_runtime = request.mitigation is not None and request.shiftable.probabilities is None
    if on_runtime and runtime.resilience_level is not None:
        raise ConfigurationError(
            f"mitigation={request.mitigation.label!r} and resilience_level="
            f"{runtime.resilience_level} both choose the runtime's mitigation: give one of them"
        )
    if runtime.resilience_level is None and not on_runtime:
        sampler = runtime.apply(devices.runtime_sampler(mode))
        return sampler_executor(request, sampler, device, name, jobs=RUNTIME_JOBS)
    estimator = runtime.apply(devices.runtime_estimator(mode))
    shots = request.shots if request.shots is not None else DEFAULT_DEVICE_SHOTS
    estimator.options.default_shots = shots
    done = apply_mitigation(estimator, request.mitigation) if on_runtime else None
    executor = estimator_executor(request, estimator, name, device, shots=shots, jobs=RUNTIME_JOBS)
    if done is not None:
        record = {**request.mitigation.to_json(), "runtime": done}
        if request.mitigation.zne:  # the runtime amplifies the noise: no per-copy angles
            record.update(shift_rule="runtime", shift_rule_exact=False)
        executor.mitigation_record = record
    return executor


def build_ibm_name(backend: str, request: BackendRequest) -> Executor:
    """``"ibm:<name>"``: a device of the saved IBM Quantum account."""
    device = devices.ibm_backend(backend[len(devices.IBM_PREFIX) :])
    return _runtime_executor(request, device, device, backend)


def build_ibm_backend(backend: Any, request: BackendRequest) -> Executor:
    """A qiskit-ibm-runtime ``IBMBackend``."""
    return _runtime_executor(request, backend, backend, backend_name(backend))


def build_runtime_mode(backend: Any, request: BackendRequest) -> Executor:
    """A qiskit-ibm-runtime ``Session`` or ``Batch``: jobs run inside it."""
    device = devices.runtime_backend(backend)
    return _runtime_executor(request, backend, device, f"{backend_name(device)} (runtime)")


def _primitive_name(primitive: Any) -> tuple[Any, str]:
    target = devices.primitive_backend(primitive)
    suffix = f" on {backend_name(target)}" if target else ""
    return target, type(primitive).__name__ + suffix


def build_estimator(backend: Any, request: BackendRequest) -> Executor:
    """Any ``BaseEstimatorV2``, used as given (exact, or with its own precision)."""
    target, name = _primitive_name(backend)
    _runtime_options(request, name).apply(backend)
    return estimator_executor(request, backend, name, target, jobs=RUNTIME_JOBS)


def build_sampler(backend: Any, request: BackendRequest) -> Executor:
    """Any ``BaseSamplerV2``: expectation values (or probabilities) from its bitstrings."""
    target, name = _primitive_name(backend)
    _runtime_options(request, name).apply(backend)
    return sampler_executor(request, backend, target, name, jobs=RUNTIME_JOBS)


def build_backend_v2(backend: Any, request: BackendRequest) -> Executor:
    """Any other ``BackendV2``, through Qiskit's ``BackendSamplerV2``."""
    name = backend_name(backend)
    sampler = BackendSamplerV2(backend=backend)
    return sampler_executor(request, sampler, backend, name, jobs=RUNTIME_JOBS)
