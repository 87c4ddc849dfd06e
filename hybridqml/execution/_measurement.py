"""Pauli observables measured with a sampler: grouping, measurement circuits, parities.

The observables' Pauli terms are grouped into qubit-wise commuting sets; each set gets one
measurement circuit (basis rotations, then every qubit measured into register ``hq``) and the
expectation value of each term is recovered from the parity of the measured bits on its support.

Example:
    >>> from qiskit.quantum_info import SparsePauliOp
    >>> labels, coeffs, offsets = pauli_terms([SparsePauliOp(["ZI", "IZ"]), SparsePauliOp("XX")])
    >>> labels, group_terms(labels)
    (['ZI', 'IZ', 'XX'], [('ZZ', [0, 1]), ('XX', [2])])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

__all__ = [
    "MEASURED_REGISTER",
    "group_terms",
    "measurement_circuit",
    "outcomes",
    "pauli_terms",
    "support_mask",
]

#: Name of the classical register measurement circuits write to.
MEASURED_REGISTER = "hq"


def pauli_terms(
    observables: Sequence[SparsePauliOp],
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct non-identity Pauli labels, the (O, T) coefficient matrix and identity offsets."""
    labels: list[str] = []
    index: dict[str, int] = {}
    entries: list[tuple[int, int, float]] = []
    offsets = np.zeros(len(observables))
    for o, obs in enumerate(observables):
        for label, coeff in obs.to_list():
            c = float(np.real(coeff))
            if set(label) == {"I"}:
                offsets[o] += c
                continue
            if label not in index:
                index[label] = len(labels)
                labels.append(label)
            entries.append((o, index[label], c))
    coeffs = np.zeros((len(observables), len(labels)))
    for o, t, c in entries:
        coeffs[o, t] += c
    return labels, coeffs, offsets


def group_terms(labels: list[str]) -> list[tuple[str, list[int]]]:
    """Greedy qubit-wise commuting groups: (measurement basis label, term indices)."""
    if not labels:
        return []
    groups: list[tuple[list[str], list[int]]] = []
    for t, label in enumerate(labels):
        for basis, terms in groups:
            if all(a == "I" or b == "I" or a == b for a, b in zip(label, basis, strict=True)):
                for i, a in enumerate(label):
                    if a != "I":
                        basis[i] = a
                terms.append(t)
                break
        else:
            groups.append((list(label), [t]))
    return [("".join(basis), terms) for basis, terms in groups]


def measurement_circuit(circuit: QuantumCircuit, basis: str) -> QuantumCircuit:
    """Append basis rotations (X: H, Y: Sdg H) and measure every qubit into register ``hq``."""
    n = circuit.num_qubits
    qc = circuit.copy()
    qc.add_register(ClassicalRegister(n, MEASURED_REGISTER))
    for q in range(n):
        pauli = basis[n - 1 - q]  # labels are little-endian
        if pauli == "X":
            qc.h(q)
        elif pauli == "Y":
            qc.sdg(q)
            qc.h(q)
    qc.measure(range(n), range(n))
    return qc


def support_mask(label: str) -> int:
    """Bit mask of the qubits a Pauli label acts on (little-endian labels).

    Example:
        >>> support_mask("XIZ")
        5
    """
    n = len(label)
    return sum(1 << q for q in range(n) if label[n - 1 - q] != "I")


def outcomes(packed: np.ndarray) -> np.ndarray:
    """BitArray bytes (M, shots, nbytes), big-endian, to integer outcomes (M, shots) uint64."""
    m, shots, nbytes = packed.shape
    wide = np.zeros((m, shots, 8), dtype=np.uint8)
    wide[..., 8 - nbytes :] = packed
    return wide.view(">u8")[..., 0].astype(np.uint64)
