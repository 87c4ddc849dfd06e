"""Device noise as per-instruction channels: what every exact noisy simulator reads.

A noise model (``qiskit_aer.noise.NoiseModel``, or the one a fake device's calibration gives,
:func:`~hybridqml.hardware._devices.device_noise_model`) attaches a quantum error to
instructions on given qubits and a readout (assignment) error to measurements. An exact noisy
simulator (the numpy blocks of :mod:`hybridqml.backends.mixed`, the torch density matrices of
:mod:`hybridqml.backends.torchsim`) needs the same facts, read the same way, so that both agree
with Aer and with each other:

* :func:`error_after` -- the error Aer applies after an instruction (a qubit-specific error
  replaces the all-qubit one; looked up by label, then name);
* :func:`kraus_matrices` -- an error as ``(J, d, d)`` Kraus operators;
* :func:`readout_matrix` -- a measured qubit's 2x2 assignment matrix ``A[true, recorded]``;
* :func:`check_noise` -- refuse noise with no per-instruction channel form;
* :func:`connected_groups` -- active qubits split into groups no instruction connects;
* :func:`device_simulator` -- ``AerSimulator.from_backend(device)`` with the device's own
  noise model: the ISA target both simulators transpile to.

Example:
    >>> from qiskit_aer.noise import NoiseModel, ReadoutError
    >>> noise = NoiseModel()
    >>> noise.add_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]), [0])
    >>> readout_matrix(noise, 0).tolist(), readout_matrix(noise, 1).tolist()
    ([[0.9, 0.1], [0.2, 0.8]], [[1.0, 0.0], [0.0, 1.0]])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._simulators import configure, qiskit_aer
from hybridqml.hardware import _devices as devices

__all__ = [
    "Ops",
    "check_noise",
    "connected_groups",
    "device_simulator",
    "error_after",
    "kraus_matrices",
    "lookup",
    "measured_ops",
    "readout_matrix",
]

#: A circuit body as ``(operation, physical qubits)`` pairs.
Ops = list[tuple[Any, tuple[int, ...]]]


def lookup(noise: Any, name: str, qubits: tuple[int, ...]) -> Any:
    """The quantum error Aer applies after instruction ``name`` on ``qubits`` (or ``None``)."""
    local = noise._local_quantum_errors.get(name, {})
    if qubits in local:
        return local[qubits]
    return noise._default_quantum_errors.get(name)


def error_after(noise: Any, op: Any, qubits: tuple[int, ...]) -> Any:
    """The error of ``op`` (looked up by its label, then its name) on ``qubits``, if any."""
    if noise is None:
        return None
    names = (op.label, op.name) if getattr(op, "label", None) else (op.name,)
    for name in names:
        error = lookup(noise, name, qubits)
        if error is not None:
            return error
    return None


def kraus_matrices(error: Any) -> np.ndarray:
    """``(J, d, d)`` Kraus operators of a quantum error (any ``QuantumError``)."""
    from qiskit.quantum_info import Kraus

    return np.asarray(Kraus(error.to_quantumchannel()).data, dtype=complex)


def readout_matrix(noise: Any, qubit: int) -> np.ndarray:
    """Assignment matrix ``A[true, recorded]`` of measuring ``qubit`` (identity: no error).

    Raises:
        ConfigurationError: an all-qubit readout error that is correlated over several qubits.
    """
    error = None
    if noise is not None:
        error = noise._local_readout_errors.get((qubit,), noise._default_readout_error)
    if error is None:
        return np.eye(2)
    matrix = np.asarray(error.probabilities, dtype=float)
    if matrix.shape != (2, 2):
        raise ConfigurationError(
            "correlated all-qubit readout error: only per-qubit readout errors are applied "
            "exactly; use noisy_simulation='trajectories'"
        )
    return matrix


def check_noise(noise: Any, ops: Ops, measured: Iterable[int]) -> None:
    """Refuse noise that has no exact per-instruction channel form.

    Raises:
        ConfigurationError: noise passes acting on delays, quantum errors on measurements, or
            readout errors correlated over several qubits.
    """
    if noise is None:
        return
    passes = getattr(noise, "_custom_noise_passes", [])
    relaxation_only = all(type(p).__name__ == "RelaxationNoisePass" for p in passes)
    if passes and (not relaxation_only or any(op.name == "delay" for op, _ in ops)):
        raise ConfigurationError(
            "the noise model adds noise through a pass (e.g. relaxation during delays), "
            "which has no per-instruction channel here: use noisy_simulation='trajectories'"
        )
    for qubit in measured:
        if lookup(noise, "measure", (qubit,)) is not None:
            raise ConfigurationError(
                f"the noise model has a quantum error on the measurement of qubit {qubit}; "
                "use noisy_simulation='trajectories'"
            )
        for qubits in getattr(noise, "_local_readout_errors", {}):
            if len(qubits) > 1 and qubit in qubits:
                raise ConfigurationError(
                    f"correlated readout error on qubits {qubits}: only independent "
                    "per-qubit readout errors are applied exactly; use "
                    "noisy_simulation='trajectories'"
                )


def connected_groups(ops: Ops, measured: Iterable[int]) -> list[list[int]]:
    """Groups of qubits no instruction connects, keeping those with a measured qubit.

    Qubits no instruction touches stay in ``|0>`` (a device noise model attaches errors to
    instructions only), so only the measured ones among them are kept, each alone.

    Example:
        >>> from qiskit.circuit.library import CXGate, HGate
        >>> connected_groups([(HGate(), (0,)), (CXGate(), (0, 2)), (HGate(), (3,))], [0, 1, 3])
        [[0, 2], [1], [3]]
    """
    measured = set(measured)
    parent = {q: q for _, where in ops for q in where} | {q: q for q in measured}

    def root(q: int) -> int:
        while parent[q] != q:
            parent[q] = parent[parent[q]]
            q = parent[q]
        return q

    for _, where in ops:
        for q in where[1:]:
            parent[root(q)] = root(where[0])
    groups: dict[int, list[int]] = {}
    for q in sorted(parent):
        groups.setdefault(root(q), []).append(q)
    return [g for g in groups.values() if measured.intersection(g)]


def device_simulator(device: Any, options: Mapping[str, Any] | None = None) -> Any:
    """``AerSimulator.from_backend(device)`` with the device's own noise model.

    That is :func:`~hybridqml.hardware._devices.device_noise_model`, unless ``options`` give one.
    """
    options = dict(options or {})
    if "noise_model" not in options:
        noise = devices.device_noise_model(device)
        if noise is not None:
            options["noise_model"] = noise
    return configure(qiskit_aer().AerSimulator.from_backend, options, device)


def measured_ops(circuit: Any, body: Any) -> Ops:
    """The non-barrier instructions of ``body`` as ``(operation, qubit indices of circuit)``."""
    return [
        (inst.operation, tuple(circuit.find_bit(q).index for q in inst.qubits))
        for inst in body.data
        if inst.operation.name != "barrier"
    ]
