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
from hybridqml.backends.base import BackendRequest, Executor
from hybridqml.backends.qiskit import estimator_executor, sampler_executor
from hybridqml.exceptions import ConfigurationError, HybridQMLError

__all__ = [
    "NOISY_OPTION",
    "aer_executor",
    "build_aer",
    "build_aer_simulator",
    "build_fake",
    "device_simulator",
    "is_aer_simulator",
]

#: The ``backend_options`` key choosing how noisy circuits are simulated (not an Aer option).
NOISY_OPTION = "noisy_simulation"


def aer_executor(
    sim: Any,
    name: str,
    request: BackendRequest,
    device: BackendV2 | None = None,
    noisy_simulation: str = "auto",
) -> Executor:
    """The executor of an ``AerSimulator`` (see the module for the decision)."""
    from qiskit_aer.primitives import SamplerV2 as AerSampler

    if device is not None or sim.options.noise_model is not None:
        return _noisy_executor(sim, name, request, device, noisy_simulation)
    if request.shots is None:
        return estimator_executor(request, AerExactEstimator(sim), name, target=sim)
    if request.shiftable.circuit.num_qubits <= MAX_MEASURED_QUBITS:
        return sampler_executor(request, AerBornSampler(sim), sim, name, device)
    return sampler_executor(request, AerSampler.from_backend(sim), sim, name, device)


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
