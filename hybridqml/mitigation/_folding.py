"""Unitary folding: the same circuit with its gate noise scaled, for zero-noise extrapolation.

Global folding (Giurgica-Tiron et al., arXiv:2005.10921, as mitiq's ``fold_global``): a circuit
``U`` of ``d`` gates becomes ``U (U^dagger U)^k`` followed by ``L^dagger L`` for the last ``n``
gates ``L``, with ``k`` and ``n`` chosen so that ``(d (2k + 1) + 2n) / d`` is the requested
scale. The folds are separated by barriers so that no transpiler pass cancels them.

mitiq's own folding converts circuits through OpenQASM 2, which refuses unbound parameters;
this module folds *parameterized* Qiskit circuits with Qiskit's own ``inverse`` and
``compose``, so one folded template per scale factor serves every binding of a pass. Terminal
measurements stay at the end.

Example:
    >>> from qiskit import QuantumCircuit
    >>> from qiskit.circuit import Parameter
    >>> qc = QuantumCircuit(1, 1)
    >>> _ = qc.ry(Parameter("a"), 0)
    >>> _ = qc.measure(0, 0)
    >>> [i.operation.name for i in fold_circuit(qc, 3).data]
    ['ry', 'barrier', 'ry', 'barrier', 'ry', 'measure']
    >>> folded_scale(qc, 3)
    3.0
"""

from __future__ import annotations

import math

from qiskit import QuantumCircuit

from hybridqml.exceptions import CircuitError

__all__ = ["fold_circuit", "folded_scale"]

_SKIPPED = ("barrier", "measure", "delay")


def _split(circuit: QuantumCircuit) -> tuple[QuantumCircuit, list]:
    """The unitary body (gates only) and the terminal measurements of ``circuit``."""
    body = circuit.copy_empty_like()
    measures = []
    measured: set = set()
    for ci in circuit.data:
        name = ci.operation.name
        if name == "measure":
            measures.append(ci)
            measured.update(ci.qubits)
        elif name in ("barrier", "delay"):
            continue
        else:
            if measured.intersection(ci.qubits):
                raise CircuitError(
                    "cannot fold a circuit with mid-circuit measurements (a gate acts on a "
                    "measured qubit); zero-noise extrapolation needs terminal measurements"
                )
            if name == "reset" or not hasattr(ci.operation, "inverse"):
                raise CircuitError(f"cannot fold the non-unitary instruction {name!r}")
            body.append(ci)
    return body, measures


def _folds(d: int, scale: float) -> tuple[int, int]:
    """Full folds ``k`` and partially folded gates ``n`` for ``scale`` on ``d`` gates."""
    if scale < 1:
        raise CircuitError(f"a noise scale factor must be >= 1, got {scale!r}")
    k = math.floor((scale - 1) / 2 + 1e-9)
    n = round(d * (scale - 1 - 2 * k) / 2)
    return k, min(n, d)


def folded_scale(circuit: QuantumCircuit, scale: float) -> float:
    """The scale :func:`fold_circuit` actually reaches: ``(d (2k + 1) + 2n) / d`` for ``d`` gates.

    Odd integers are exact; other values are rounded to the nearest whole number of folded
    gates (use the value returned here when extrapolating).
    """
    body, _ = _split(circuit)
    d = len(body.data)
    if d == 0:
        return 1.0
    k, n = _folds(d, scale)
    return (d * (2 * k + 1) + 2 * n) / d


def fold_circuit(circuit: QuantumCircuit, scale: float) -> QuantumCircuit:
    """``circuit`` with its gates folded to noise scale ``scale`` (measurements kept last).

    Args:
        circuit: A circuit of unitary gates (parameterized or not) and terminal measurements.
        scale: Noise scale factor >= 1 (1 returns the gates unchanged).

    Raises:
        CircuitError: mid-circuit measurements, resets, or a scale below 1.
    """
    body, measures = _split(circuit)
    d = len(body.data)
    k, n = _folds(d, scale)
    out = body.copy()
    inverse = body.inverse()
    for _ in range(k):
        out.barrier()
        out.compose(inverse, inplace=True)
        out.barrier()
        out.compose(body, inplace=True)
    if n:
        tail = body.copy_empty_like()
        for ci in body.data[d - n :]:
            tail.append(ci)
        out.barrier()
        out.compose(tail.inverse(), inplace=True)
        out.barrier()
        out.compose(tail, inplace=True)
    for ci in measures:
        out.append(ci)
    return out
