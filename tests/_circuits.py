"""Circuits and an independent reference shared by the core tests."""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector

from hybridqml.circuits import ParameterizedCircuit


def statevector_expectations(spec: ParameterizedCircuit, theta: np.ndarray) -> np.ndarray:
    """<O_i> for each row of ``theta`` (inputs then weights) with qiskit's ``Statevector``."""
    out = []
    for row in np.atleast_2d(theta):
        bound = spec.circuit.assign_parameters(dict(zip(spec.parameters, row, strict=True)))
        sv = Statevector(bound)
        out.append([sv.expectation_value(o).real for o in spec.observables])
    return np.array(out)


def rich_spec() -> ParameterizedCircuit:
    """Reused parameters, expressions (2x, x*w, x/2 + w), controlled and generic rotations."""
    x0, x1, w0, w1 = (Parameter(n) for n in ("x0", "x1", "w0", "w1"))
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.ry(x0, 0)
    qc.rx(2 * x1, 1)
    qc.cry(w0, 0, 1)
    qc.rz(x0 * w1, 2)
    qc.crx(x1 / 2 + w0, 1, 2)
    qc.u(x0, w1, 0.3, 2)
    qc.rzz(w0, 0, 2)
    qc.ry(w1, 0)  # w1 reused
    qc.cp(x1, 2, 0)
    qc.cx(2, 1)
    qc.ry(x0, 2)  # x0 reused
    return ParameterizedCircuit(qc, [x0, x1], [w0, w1], observables=["ZII", "IXI", "YZX"])


def mixed_spec() -> ParameterizedCircuit:
    """Two qubits, observables mixing X, Y, Z terms, coefficients and an identity offset."""
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(x, 0)
    qc.rx(w, 1)
    qc.cx(0, 1)
    qc.rz(x + w, 1)
    obs = [SparsePauliOp(["ZI", "IX"], [0.5, -1.5]), "YY", SparsePauliOp(["II", "XZ"], [0.25, 1])]
    return ParameterizedCircuit(qc, [x], [w], observables=obs)
