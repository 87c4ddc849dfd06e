"""Independent references of the conformance suite: what a backend's numbers should be.

* :class:`StatevectorReference` -- noiseless values and probabilities from Qiskit's
  ``Statevector`` (no hybridqml code on the path).
* :class:`NoisyReference` -- the exact noisy values a noise model implies: the circuit transpiled
  for the noisy target as hybridqml transpiles it (same preset level, same transpiler seed, so
  the same layout and the same noise), its density matrix on Aer's ``density_matrix`` method,
  then each measured qubit's readout error (read from the public ``NoiseModel.to_dict()``).
  Observables must be diagonal (``Z``/``I`` Paulis), as in the suite's circuits.

Example:
    >>> import numpy as np
    >>> from hybridqml import circuits
    >>> StatevectorReference().values(circuits.ry(1), np.array([[np.pi / 2]])).round(6).tolist()
    [[-1.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.execution._executor import DEFAULT_OPTIMIZATION_LEVEL, DEFAULT_TRANSPILER_SEED

__all__ = ["NoisyReference", "StatevectorReference"]


def _bound(spec: ParameterizedCircuit, row: np.ndarray, circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` (the spec's, or its transpiled form) with ``row`` bound by parameter name."""
    by_name = {p.name: float(v) for p, v in zip(spec.parameters, row, strict=True)}
    return circuit.assign_parameters({p: by_name[p.name] for p in circuit.parameters})


class StatevectorReference:
    """Noiseless expectation values and outcome probabilities from ``Statevector``."""

    name = "Statevector"

    def values(self, spec: ParameterizedCircuit, theta: np.ndarray) -> np.ndarray:
        """(N, O) expectation values at parameter rows ``theta`` (N, P): inputs then weights."""
        circuit = spec.circuit
        out = []
        for row in np.atleast_2d(theta):
            state = Statevector(_bound(spec, row, circuit))
            out.append([state.expectation_value(o).real for o in spec.observables])
        return np.asarray(out, dtype=float)

    def probabilities(self, spec: ParameterizedCircuit, theta: np.ndarray) -> np.ndarray:
        """(N, 2**n) outcome probabilities over all qubits, little-endian."""
        circuit = spec.circuit
        rows = [Statevector(_bound(spec, r, circuit)).probabilities() for r in np.atleast_2d(theta)]
        return np.asarray(rows, dtype=float)


class NoisyReference:
    """Exact noisy values of a noise model on a target, on Aer's density-matrix method.

    Args:
        target: The backend hybridqml transpiles to (a fake device, or an ``AerSimulator``
            carrying the noise model).
        noise_model: The ``qiskit_aer.noise.NoiseModel`` the backend simulates.
        optimization_level: The layer's transpiler preset level.
        seed: The layer's ``seed`` (also its transpiler seed), ``None`` for hybridqml's default:
            the reference must pick the layer's layout, hence its noise.
    """

    name = "Aer density matrix"

    def __init__(
        self,
        target: Any,
        noise_model: Any,
        *,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
        seed: int | None = None,
    ) -> None:
        from qiskit_aer import AerSimulator

        self.target = target
        self.noise_model = noise_model
        self.optimization_level = optimization_level
        self.seed = DEFAULT_TRANSPILER_SEED if seed is None else seed
        self._simulator = AerSimulator(method="density_matrix", noise_model=noise_model)
        self._readout = _readout_matrices(noise_model)

    def _isa(self, spec: ParameterizedCircuit) -> tuple[QuantumCircuit, list[int]]:
        """The measured circuit on the target, without its measurements; the measured qubits."""
        from qiskit.transpiler import generate_preset_pass_manager

        measured = spec.circuit
        measured.measure_all()
        manager = generate_preset_pass_manager(
            optimization_level=self.optimization_level,
            backend=self.target,
            seed_transpiler=self.seed,
        )
        isa = manager.run(measured)
        physical = {
            isa.find_bit(i.clbits[0]).index: isa.find_bit(i.qubits[0]).index
            for i in isa.data
            if i.operation.name == "measure"
        }
        qubits = [physical[c] for c in range(spec.n_qubits)]
        return isa.remove_final_measurements(inplace=False), qubits

    def probabilities(self, spec: ParameterizedCircuit, theta: np.ndarray) -> np.ndarray:
        """(N, 2**n) recorded-outcome probabilities (gate noise, then readout error)."""
        body, qubits = self._isa(spec)
        body.save_density_matrix(qubits=qubits)
        circuits = [_bound(spec, row, body) for row in np.atleast_2d(theta)]
        result = self._simulator.run(circuits).result()
        probs = np.stack(
            [
                np.real(np.diag(np.asarray(result.data(i)["density_matrix"])))
                for i in range(len(circuits))
            ]
        )
        default = self._readout.get(None, np.eye(2))
        for bit, qubit in enumerate(qubits):
            matrix = self._readout.get(qubit, default)
            probs = _through_readout(probs, bit, len(qubits), matrix)
        return probs

    def values(self, spec: ParameterizedCircuit, theta: np.ndarray) -> np.ndarray:
        """(N, O) expectation values of the spec's diagonal observables."""
        return self.probabilities(spec, theta) @ _diagonals(spec.observables).T


def _diagonals(observables: tuple[SparsePauliOp, ...]) -> np.ndarray:
    """(O, 2**n) eigenvalue of each observable on each basis state (diagonal observables only)."""
    for obs in observables:
        if np.any(obs.paulis.x):
            raise ValueError(
                f"the noisy reference measures diagonal observables only, got {obs.paulis}"
            )
    return np.stack([np.real(obs.to_matrix(sparse=True).diagonal()) for obs in observables])


def _readout_matrices(noise_model: Any) -> dict[int | None, np.ndarray]:
    """Each qubit's 2x2 assignment matrix ``A[true, recorded]`` (key ``None``: all qubits).

    Read from the public dict form of the noise model; a qubit-specific readout error replaces
    the all-qubit one, as in Aer.
    """
    matrices: dict[int | None, np.ndarray] = {}
    for error in noise_model.to_dict()["errors"]:
        if error["type"] != "roerror":
            continue
        matrix = np.asarray(error["probabilities"], dtype=float)
        if matrix.shape != (2, 2):
            raise ValueError("the noisy reference applies one-qubit readout errors only")
        for qubits in error.get("gate_qubits") or [(None,)]:
            matrices[qubits[0] if qubits[0] is None else int(qubits[0])] = matrix
    return matrices


def _through_readout(probs: np.ndarray, bit: int, n_bits: int, matrix: np.ndarray) -> np.ndarray:
    """Apply one bit's assignment matrix to (N, 2**n_bits) little-endian probabilities."""
    tensor = probs.reshape(probs.shape[0], *([2] * n_bits))  # axis 1 is the highest bit
    axis = n_bits - bit
    tensor = np.moveaxis(np.tensordot(tensor, matrix, axes=([axis], [0])), -1, axis)
    return tensor.reshape(probs.shape[0], -1)
