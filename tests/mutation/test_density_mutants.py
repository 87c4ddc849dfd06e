"""The batched numpy density-matrix simulator (``_density.compile_block``) on its own.

References are closed forms written out here (``P(1) = sin(t/2)**2`` after ``rx(t)``, the
``1 - gamma`` left by amplitude damping, ...), not Aer and not a second call of the module: the
mutants these tests catch change what ``compile_block`` accepts (a program or ``None``: Aer), how
it fuses fixed instructions into passes (the module's documented cost model), or the
normalisation of the returned probabilities, which the sampler's comparisons hide because it
normalises and falls back to Aer with the same result.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.circuit import Barrier, Delay, Gate, Parameter
from qiskit.circuit.library import (
    CXGate,
    HGate,
    IGate,
    PhaseGate,
    RXGate,
    RYGate,
    RZGate,
    U1Gate,
    XGate,
)
from qiskit_aer.noise import amplitude_damping_error

from hybridqml.backends.mixed._density import MAX_BATCHED_QUBITS, DensityProgram, compile_block

A = Parameter("a")
T = np.array([0.3, 1.1, 2.0, -0.7])  # one binding per row
COS2, SIN2 = np.cos(T / 2) ** 2, np.sin(T / 2) ** 2


@pytest.mark.parametrize("gate", [RXGate, RYGate])
def test_rx_and_ry_are_batched_rotations(gate):
    program = compile_block([(gate(A), (0,))], [], 1, [0], {A: 0})
    assert isinstance(program, DensityProgram)
    probs = program.probabilities(T[:, None])
    np.testing.assert_allclose(probs, np.stack([COS2, SIN2], 1), atol=1e-12)


@pytest.mark.parametrize("gate", [RZGate, PhaseGate, U1Gate])
def test_rz_p_and_u1_are_batched_phases(gate):
    # H, phase(t), H: P(1) = sin(t/2)**2 for rz, p and u1 alike (they differ by a global phase)
    ops = [(HGate(), (0,)), (gate(A), (0,)), (HGate(), (0,))]
    program = compile_block(ops, [], 1, [0], {A: 0})
    assert isinstance(program, DensityProgram)
    assert len(program.steps) == 3  # H, the phase, H
    probs = program.probabilities(T[:, None])
    np.testing.assert_allclose(probs, np.stack([COS2, SIN2], 1), atol=1e-12)


def test_other_parameterized_gates_are_left_to_aer():
    one_qubit_other = Gate("tilt", 1, [A])  # one qubit, one parameter, not a known rotation
    two_qubit_rz = Gate("rz", 2, [A])  # a rotation's name on two qubits
    two_parameter_p = Gate("p", 1, [A, 2 * A])  # a rotation's name with two parameters
    assert compile_block([(one_qubit_other, (0,))], [], 1, [0], {A: 0}) is None
    assert compile_block([(two_qubit_rz, (0, 1))], [], 2, [0, 1], {A: 0}) is None
    assert compile_block([(two_parameter_p, (0,))], [], 1, [0], {A: 0}) is None


def test_the_largest_batched_block_has_max_batched_qubits():
    assert MAX_BATCHED_QUBITS == 6
    ops = [(RYGate(A), (5,)), (CXGate(), (5, 0))]
    program = compile_block(ops, [], 6, [0, 5], {A: 0})
    assert isinstance(program, DensityProgram)
    # ry(t) on qubit 5, copied onto qubit 0: outcomes 00 and 11 (bit 0: qubit 0, bit 1: qubit 5)
    zero = np.zeros_like(T)
    want = np.stack([COS2, zero, zero, SIN2], 1)
    np.testing.assert_allclose(program.probabilities(T[:, None]), want, atol=1e-12)
    ops7 = [(RYGate(A), (6,)), (CXGate(), (6, 0))]
    assert compile_block(ops7, [], 7, [0, 6], {A: 0}) is None


def test_fixed_gates_with_fixed_angles_are_superoperators():
    # x, then rz(0.25) (a float angle, no parameter): P(1) = 1, in one fused pass
    ops = [(XGate(), (0,)), (RZGate(0.25), (0,))]
    program = compile_block(ops, [], 1, [0], {})
    assert isinstance(program, DensityProgram)
    assert len(program.steps) == 1
    np.testing.assert_allclose(
        program.probabilities(np.zeros((2, 0))), [[0, 1], [0, 1]], atol=1e-12
    )


def test_barriers_ids_and_delays_do_not_split_a_fused_pass():
    ops = [
        (HGate(), (0,)),
        (Barrier(1), (1,)),
        (IGate(), (1,)),
        (Delay(100), (1,)),
        (HGate(), (0,)),
    ]
    program = compile_block(ops, [], 2, [0, 1], {})
    assert isinstance(program, DensityProgram)
    assert len(program.steps) == 1  # H and H on qubit 0, nothing on qubit 1
    np.testing.assert_allclose(program.probabilities(np.zeros((1, 0))), [[1, 0, 0, 0]], atol=1e-12)


def test_a_gate_on_the_same_qubits_in_another_order_joins_the_pass():
    # x(0); cx(0, 1); cx(1, 0): |00> -> q0=1 -> q0=q1=1 -> q0=0, q1=1: outcome 2 (bit 1 = q1)
    ops = [(XGate(), (0,)), (CXGate(), (0, 1)), (CXGate(), (1, 0))]
    program = compile_block(ops, [], 2, [0, 1], {})
    assert len(program.steps) == 1  # x widened into the cx pass; cx(1, 0) joins it
    np.testing.assert_allclose(program.probabilities(np.zeros((1, 0))), [[0, 0, 1, 0]], atol=1e-12)


def test_an_error_object_shared_by_two_gates_applies_after_each():
    damping = amplitude_damping_error(0.3)
    ops = [(XGate(), (0,)), (XGate(), (0,))]
    # x, damping: P(1) = 0.7; x: P(1) = 0.3; damping again: P(1) = 0.3 * 0.7 = 0.21
    program = compile_block(ops, [(0, damping), (1, damping)], 1, [0], {})
    np.testing.assert_allclose(program.probabilities(np.zeros((1, 0))), [[0.79, 0.21]], atol=1e-12)
    once = compile_block(ops[:1], [(0, damping)], 1, [0], {})
    np.testing.assert_allclose(once.probabilities(np.zeros((1, 0))), [[0.3, 0.7]], atol=1e-12)


def test_no_bindings_give_no_rows():
    program = compile_block([(RYGate(A), (1,))], [], 2, [0, 1], {A: 0})
    probs = program.probabilities(np.zeros((0, 1)))
    assert probs.shape == (0, 4)  # (B, 2**m) with B = 0 (a reshape error before the fix)


def test_many_bindings_run_in_slices_of_64_mib_of_density_matrices(monkeypatch):
    # 6 qubits: 16 * 4**6 bytes = 64 KiB per binding, so 1024 bindings per 64 MiB slice
    program = compile_block([(RYGate(A), (5,))], [], 6, [5], {A: 0})
    slices = []

    def run(values):
        slices.append(len(values))
        return np.tile([1.0, 0.0], (len(values), 1))

    monkeypatch.setattr(program, "_run", run)
    probs = program.probabilities(np.zeros((2500, 1)))
    assert slices == [1024, 1024, 452]
    assert probs.shape == (2500, 2)
