"""The one gate table agrees with Qiskit's own gate matrices and drives both consumers."""

import math

import numpy as np
import pytest
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Operator

from hybridqml.backends.torchsim import _gates as torch_gates
from hybridqml.circuits import _gates as gates

STANDARD = get_standard_gate_name_mapping()


@pytest.mark.parametrize("name", [n for n, g in gates.GATES.items() if g.omega is not None])
def test_frequency_matches_qiskit_matrices(name):
    """U(t) = A + cos(t/omega) Bc + sin(t/omega) Bs at random angles, omega from the table."""
    gate = STANDARD[name].base_class(Parameter("t"))
    omega = gates.frequency(name)

    def matrix(t):
        bound = gate.copy()
        bound.params = [t]
        return Operator(bound).data

    a = (matrix(0.0) + matrix(omega * math.pi)) / 2
    bc = (matrix(0.0) - matrix(omega * math.pi)) / 2
    bs = matrix(omega * math.pi / 2) - a
    for t in np.random.default_rng(0).uniform(-7, 7, size=5):
        expected = a + math.cos(t / omega) * bc + math.sin(t / omega) * bs
        np.testing.assert_allclose(matrix(t), expected, atol=1e-12)
    assert isinstance(torch_gates.describe(gate), torch_gates.TrigGate)
    assert torch_gates.describe(gate).omega == omega


@pytest.mark.parametrize("name", sorted(gates.PAULI_ROTATIONS))
def test_two_term_rule_is_exact_for_every_shift_gate(name):
    """<Z..Z> after G(t) on a fixed state obeys f'(t) = [f(t+pi/2) - f(t-pi/2)] / 2."""
    n = STANDARD[name].num_qubits
    rng = np.random.default_rng(1)

    def f(t):
        qc = QuantumCircuit(n)
        for q in range(n):
            qc.u(*rng_angles[q], q)
        qc.append(STANDARD[name].base_class(t), range(n))
        return Operator(qc).data[:, 0].conj() @ (np.diag(_zs(n)) @ Operator(qc).data[:, 0])

    rng_angles = rng.uniform(0, math.pi, size=(n, 3))
    for t in (0.3, 1.9):
        h = 1e-6
        numeric = (f(t + h) - f(t - h)).real / (2 * h)
        shifted = (f(t + math.pi / 2) - f(t - math.pi / 2)).real / 2
        assert shifted == pytest.approx(numeric, abs=1e-6)


def _zs(n):
    return np.array([(-1) ** bin(i).count("1") for i in range(2**n)], dtype=float)


def test_bases_derive_from_the_table():
    assert set(gates.SHIFT_BASIS) == gates.PAULI_ROTATIONS | {"cx"}
    assert "u" in gates.SIMULATOR_BASIS and "crx" not in gates.SIMULATOR_BASIS
    assert dict(gates.CLOSED_FORM) == {"u": 3, "u3": 3, "u2": 2, "r": 2}
    with pytest.raises(TypeError):
        gates.GATES["rx"] = None  # read-only


def test_frequency_of_gates_outside_the_table_is_none():
    assert gates.frequency("h") is None and gates.frequency("not-a-gate") is None
    assert gates.frequency("cx") is None  # in the table, but no angle


@pytest.mark.parametrize("gate", ["crz", "cp", "rzz"])
def test_expansion_does_not_depend_on_the_angle(gate):
    """No optimisation: a zero angle keeps every gate (the identity is not simplified away)."""
    basis = ["rz", "ry", "rx", "cx"]
    zero, other = (gates.expand_gate(STANDARD[gate].base_class(t), basis) for t in (0.0, 0.3))
    assert zero.count_ops() == other.count_ops() and len(zero) > 0
    np.testing.assert_allclose(Operator(zero).data, np.eye(4), atol=1e-12)
