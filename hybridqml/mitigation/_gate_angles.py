"""Folded circuits with one angle per gate: exact parameter-shift gradients through ZNE.

A folded circuit (:func:`~hybridqml.mitigation.fold_circuit`) holds each rotation several
times, ``G(phi)``, ``G(phi)^dagger``, ``G(phi)``, ..., all driven by the same occurrence angle
``phi_k``. With noise between the copies its value is a trigonometric polynomial of degree > 1
in ``phi_k``, and the two-term shift rule on ``phi_k`` is wrong. Each copy on its own is still a
Pauli rotation of its own angle ``gamma_g``, so the rule is exact per copy and the chain rule
sums the copies:

``d f / d phi_k = sum_g A[g, k] [f(gamma + s e_g) - f(gamma - s e_g)] / (2 sin s)``,

with ``gamma = A phi + b`` the (linear) gate angles of the transpiled circuit.
:func:`gate_angles` rewrites a circuit into that form: every parameterized gate gets its own
parameter ``γ[g]``, and :class:`GateAngles` keeps ``A`` and ``b``.

Example:
    >>> from qiskit import QuantumCircuit
    >>> from qiskit.circuit import ParameterVector
    >>> phi = ParameterVector("φ", 1)
    >>> qc = QuantumCircuit(1)
    >>> _ = qc.rz(phi[0], 0); _ = qc.rz(-phi[0] + 1.0, 0)
    >>> form = gate_angles(qc, 1)
    >>> form.coeffs.tolist(), form.offsets.tolist(), [g.tolist() for g in form.gates_of]
    ([[1.0], [-1.0]], [0.0, 1.0], [[0, 1]])
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import CircuitInstruction, ParameterExpression, ParameterVector

from hybridqml.circuits._gates import PAULI_ROTATIONS
from hybridqml.circuits._shiftable import ANGLE_VECTOR_NAME
from hybridqml.exceptions import CircuitError

__all__ = ["GATE_VECTOR_NAME", "GateAngles", "gate_angles"]

GATE_VECTOR_NAME = "γ"
"""Name of the parameter vector holding the per-gate angles of a rewritten circuit."""


@dataclass(frozen=True, eq=False)
class GateAngles:
    """A circuit whose parameterized gates each have their own angle, and how to compute them.

    Attributes:
        circuit: The circuit; its only parameters are ``γ[0..G-1]``, one per parameterized
            gate (a Pauli rotation), in the order of the instructions.
        coeffs: (G, K) ``d gamma_g / d phi_k`` (constant: the angles are linear in ``phi``).
        offsets: (G,) the gate angles at ``phi = 0``.
        gates_of: Per occurrence ``k``, the gates whose angle depends on it.
    """

    circuit: QuantumCircuit
    coeffs: np.ndarray
    offsets: np.ndarray
    gates_of: tuple[np.ndarray, ...]

    @property
    def copies(self) -> np.ndarray:
        """(K,) how many gates depend on each occurrence angle."""
        return np.array([len(g) for g in self.gates_of], dtype=int)

    @property
    def n_gates(self) -> int:
        """G, the number of parameterized gates."""
        return int(self.offsets.shape[0])

    def angles(self, phi: np.ndarray) -> np.ndarray:
        """Gate angles (M, G) of occurrence angles ``phi`` (M, K)."""
        return np.asarray(phi, dtype=float) @ self.coeffs.T + self.offsets


def _real(value: object) -> float | None:
    """``value`` as a float when it is a real number, else ``None``."""
    if isinstance(value, ParameterExpression):
        if value.parameters:
            return None
        value = complex(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, numbers.Complex):
        z = complex(value)
        return None if abs(z.imag) > 1e-12 else z.real
    return None


def _linear(expr: ParameterExpression, index: dict[str, int], n: int) -> tuple[np.ndarray, float]:
    """Coefficients (K,) and offset of an angle expression linear in the occurrence angles."""
    row = np.zeros(n)
    for p in expr.parameters:
        if p.name not in index:
            raise CircuitError(f"unexpected circuit parameter {p.name!r}")
        slope = _real(expr.gradient(p))
        if slope is None:
            raise CircuitError(f"the gate angle {expr} is not linear in {p.name}")
        row[index[p.name]] = slope
    offset = _real(expr.bind(dict.fromkeys(expr.parameters, 0.0)))
    if offset is None:  # pragma: no cover - a linear real expression has a real offset
        raise CircuitError(f"the gate angle {expr} is not real")
    return row, offset


def gate_angles(circuit: QuantumCircuit, n_angles: int) -> GateAngles:
    """``circuit`` (parameters ``φ[0..K-1]``) with one parameter per parameterized gate.

    The circuit's global phase is dropped when it depends on the parameters (it changes no
    measured value).

    Args:
        circuit: A circuit whose parameterized gates are one-angle Pauli rotations with angles
            linear in the occurrence angles (transpiled circuits are).
        n_angles: K, the number of occurrence angles.

    Raises:
        CircuitError: a parameterized gate that is not a Pauli rotation, or an angle that is
            not linear in the occurrence angles (the per-gate rule would not be exact).
    """
    index = {f"{ANGLE_VECTOR_NAME}[{k}]": k for k in range(n_angles)}
    parameterized = [
        ci
        for ci in circuit.data
        if any(isinstance(p, ParameterExpression) and p.parameters for p in ci.operation.params)
    ]
    gammas = ParameterVector(GATE_VECTOR_NAME, len(parameterized))
    out = circuit.copy_empty_like()
    if isinstance(out.global_phase, ParameterExpression) and out.global_phase.parameters:
        out.global_phase = 0.0
    coeffs, offsets = np.zeros((len(parameterized), n_angles)), np.zeros(len(parameterized))
    g = 0
    for ci in circuit.data:
        op = ci.operation
        params = [p for p in op.params if isinstance(p, ParameterExpression) and p.parameters]
        if not params:
            out.append(ci)
            continue
        if op.name not in PAULI_ROTATIONS or len(op.params) != 1:
            raise CircuitError(
                f"the parameterized gate {op.name!r} is not a one-angle Pauli rotation"
            )
        coeffs[g], offsets[g] = _linear(params[0], index, n_angles)
        op = op.copy()
        op.params = [gammas[g]]
        out.append(CircuitInstruction(op, ci.qubits, ci.clbits))
        g += 1
    gates_of = tuple(np.flatnonzero(coeffs[:, k]) for k in range(n_angles))
    return GateAngles(out, coeffs, offsets, gates_of)
