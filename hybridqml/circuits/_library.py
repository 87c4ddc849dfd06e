"""Builders of common parameterized circuits.

* :func:`ry` -- the Qiskit-textbook circuit: H then RY(input) on every qubit.
* :func:`variational` -- RY angle encoding of the inputs followed by ``layers`` blocks of trainable
  RY rotations and entangling CNOTs (pairs from :func:`entangling_pairs`).

Example:
    >>> from hybridqml import circuits
    >>> spec = circuits.variational(n_qubits=3, layers=2)
    >>> spec.n_inputs, spec.n_weights, spec.n_outputs
    (3, 6, 3)
"""

from __future__ import annotations

import numbers
from typing import Literal

from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import CircuitError

__all__ = ["ENTANGLEMENTS", "entangling_pairs", "ry", "variational"]

#: Entanglement patterns understood by :func:`variational`.
ENTANGLEMENTS = ("ring", "linear", "full")


def ry(n_qubits: int = 1) -> ParameterizedCircuit:
    """The Qiskit-textbook circuit: H then RY(x_i) on each qubit, measured in Z.

    With one qubit, ``<Z> = -sin(x)`` (H maps ``|0>`` to ``|+>``, then RY rotates it).
    The spec has no weights; the surrounding classical layers do the learning.

    Example:
        >>> ry(1).n_inputs, ry(1).n_weights
        (1, 0)
    """
    n_qubits = _check_positive("n_qubits", n_qubits)
    x = ParameterVector("x", n_qubits)
    qc = QuantumCircuit(n_qubits, name="ry")
    for q in range(n_qubits):
        qc.h(q)
        qc.ry(x[q], q)
    return ParameterizedCircuit(qc, list(x), [])


def entangling_pairs(
    n_qubits: int, entanglement: Literal["ring", "linear", "full"] = "ring"
) -> list[tuple[int, int]]:
    """Control/target pairs of the CNOTs in one entangling block.

    ``linear``: (0,1), (1,2), ...; ``ring``: linear plus (n-1, 0) when n > 2; ``full``: every
    pair i < j.

    Example:
        >>> entangling_pairs(3, "ring")
        [(0, 1), (1, 2), (2, 0)]
    """
    if entanglement not in ENTANGLEMENTS:
        raise CircuitError(
            f"unknown entanglement {entanglement!r}; choose one of {', '.join(ENTANGLEMENTS)}"
        )
    if entanglement == "full":
        return [(i, j) for i in range(n_qubits) for j in range(i + 1, n_qubits)]
    pairs = [(i, i + 1) for i in range(n_qubits - 1)]
    if entanglement == "ring" and n_qubits > 2:
        pairs.append((n_qubits - 1, 0))
    return pairs


def variational(
    n_qubits: int,
    layers: int = 1,
    entanglement: Literal["ring", "linear", "full"] = "ring",
) -> ParameterizedCircuit:
    """A hardware-efficient variational circuit with RY angle encoding.

    Structure: RY(x_i) on each qubit, then ``layers`` x [RY(w) on each qubit, CNOTs in the
    chosen ``entanglement`` pattern]. Inputs: ``n_qubits``; weights: ``n_qubits * layers``
    (layer-major); outputs: Z on each qubit.

    Args:
        n_qubits: Number of qubits (= inputs = outputs).
        layers: Number of trainable blocks.
        entanglement: ``"ring"``, ``"linear"`` or ``"full"``.

    Example:
        >>> spec = variational(n_qubits=4, layers=2)
        >>> spec.n_weights
        8
    """
    n_qubits = _check_positive("n_qubits", n_qubits)
    layers = _check_positive("layers", layers)
    pairs = entangling_pairs(n_qubits, entanglement)
    x = ParameterVector("x", n_qubits)
    w = ParameterVector("w", n_qubits * layers)
    qc = QuantumCircuit(n_qubits, name=f"variational_{entanglement}")
    for q in range(n_qubits):
        qc.ry(x[q], q)
    for layer in range(layers):
        for q in range(n_qubits):
            qc.ry(w[layer * n_qubits + q], q)
        for c, t in pairs:
            qc.cx(c, t)
    return ParameterizedCircuit(qc, list(x), list(w))


def _check_positive(name: str, value: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise CircuitError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
