"""Probability outputs and their torch implementation against qiskit's Statevector.

Every output is compared with ``Statevector.probabilities(qargs)`` (Qiskit's own little-endian
marginal) summed by a written-out loop over ``interpret``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import Statevector

from hybridqml.backends.torchsim._probabilities import marginal, probabilities
from hybridqml.backends.torchsim._simulator import TorchSimulator
from hybridqml.circuits._outputs import (
    MAX_PROBABILITY_QUBITS,
    Probabilities,
    ProbabilityReadout,
    parity,
)
from hybridqml.exceptions import CircuitError


def circuit(n=3):
    theta = ParameterVector("t", 2 * n)
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(theta[q], q)
    for q in range(n - 1):
        qc.cx(q, q + 1)
    for q in range(n):
        qc.rx(theta[n + q], q)
    return qc, list(theta)


def reference(qc, params, values, qubits, interpret=None, size=None):
    """Statevector marginal, then outputs summed by hand."""
    rows = []
    for row in values:
        bound = qc.assign_parameters(dict(zip(params, row, strict=True)))
        p = Statevector(bound).probabilities(qargs=list(qubits))
        if interpret is None:
            rows.append(p)
            continue
        out = np.zeros(size)
        for v, pv in enumerate(p):
            out[interpret(v)] += pv
        rows.append(out)
    return np.array(rows)


VALUES = np.array([[0.3, -1.1, 2.0, 0.4, 0.9, -0.2], [1.5, 0.2, -0.7, 2.2, -1.3, 0.6], [0.0] * 6])


@pytest.mark.parametrize(
    ("qubits", "interpret", "size"),
    [
        (None, None, None),
        ((2, 0), None, None),
        ((1,), None, None),
        ((0, 2, 1), None, None),
        (None, lambda v: 7 - v, 8),  # a permutation: as many outputs as outcomes, not identity
        ((2, 1), lambda v: [3, 2, 0, 1][v], 4),
        (None, parity, 2),
        ((1, 2), lambda v: min(v, 2), 3),
    ],
)
def test_torch_probabilities_equal_the_statevector_marginal(qubits, interpret, size):
    qc, params = circuit(3)
    readout = Probabilities(qubits=qubits, interpret=interpret, output_size=size).resolve(3)
    sim = TorchSimulator(qc, params, ())
    got = probabilities(sim, torch.tensor(VALUES, dtype=torch.float64), readout)
    want = reference(qc, params, VALUES, readout.qubits, interpret, readout.output_size)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12, rtol=0)
    combined = readout.combine(reference(qc, params, VALUES, readout.qubits))
    np.testing.assert_allclose(combined, want, atol=1e-12, rtol=0)
    dense = reference(qc, params, VALUES, readout.qubits) @ readout.matrix()
    np.testing.assert_allclose(dense, want, atol=1e-12, rtol=0)


def test_marginal_over_four_qubits_in_every_listed_order():
    qc, params = circuit(4)
    sim = TorchSimulator(qc, params, ())
    values = np.array([[0.3, -1.1, 2.0, 0.4, 0.9, -0.2, 1.0, 0.5]])
    psi = sim.state(torch.tensor(values, dtype=torch.float64))
    probs = psi.real**2 + psi.imag**2
    for qubits in [(3,), (0, 3), (3, 0), (1, 3, 2), (2, 0, 3, 1), (0, 1, 2, 3)]:
        got = marginal(probs, 4, qubits)
        want = reference(qc, params, values, qubits)
        np.testing.assert_allclose(got.numpy(), want, atol=1e-12, rtol=0)


def test_probabilities_backpropagate_like_finite_differences():
    qc, params = circuit(2)
    readout = Probabilities(qubits=(1, 0), interpret=lambda v: [1, 0, 0, 1][v], output_size=2)
    resolved = readout.resolve(2)
    sim = TorchSimulator(qc, params, ())
    theta = torch.tensor([[0.4, -0.3, 1.2, 0.8]], dtype=torch.float64, requires_grad=True)
    out = probabilities(sim, theta, resolved)
    (grad,) = torch.autograd.grad(out[0, 1], theta)
    eps = 1e-6
    for i in range(4):
        plus, minus = VALUES[:1, :4].copy(), VALUES[:1, :4].copy()
        base = theta.detach().numpy().copy()
        plus, minus = base.copy(), base.copy()
        plus[0, i] += eps
        minus[0, i] -= eps
        fd = (
            reference(qc, params, plus, resolved.qubits, readout.interpret, 2)[0, 1]
            - reference(qc, params, minus, resolved.qubits, readout.interpret, 2)[0, 1]
        ) / (2 * eps)
        assert grad[0, i].item() == pytest.approx(fd, abs=1e-7)


def test_combine_with_outcome_columns_and_a_column_mismatch():
    r = Probabilities(qubits=(0, 1), interpret=lambda v: v % 3, output_size=3).resolve(2)
    assert r.table.tolist() == [0, 1, 2, 0]
    dist = np.array([[1.0, 2.0, 4.0], [0.5, 0.0, 0.25]])
    # columns are outcomes 3, 1, 2 -> outputs 0, 1, 2
    assert r.combine(dist, outcomes=np.array([3, 1, 2])).tolist() == [
        [1.0, 2.0, 4.0],
        [0.5, 0.0, 0.25],
    ]
    assert r.combine(dist, outcomes=[0, 3, 1]).tolist() == [[3.0, 4.0, 0.0], [0.5, 0.25, 0.0]]
    with pytest.raises(ValueError, match="3 columns for 4 outcomes"):
        r.combine(dist)
    ident = Probabilities().resolve(1)
    counts = np.array([[3, 5]])
    out = ident.combine(counts)
    assert out.tolist() == [[3.0, 5.0]] and out.dtype == np.float64
    src = np.array([[0.25, 0.75]])
    copy = ident.combine(src)
    copy[0, 0] = 9.0
    assert src[0, 0] == 0.25
    # identity readout with explicit outcome columns follows the columns
    assert ident.combine(np.array([[0.25, 0.75]]), outcomes=[1, 0]).tolist() == [[0.75, 0.25]]


def test_identity_permutation_and_equality():
    ident = Probabilities().resolve(2)
    assert ident.is_identity and ident.table.tolist() == [0, 1, 2, 3] and ident.qubits == (0, 1)
    perm = Probabilities(interpret=lambda v: 3 - v, output_size=4).resolve(2)
    assert not perm.is_identity
    fewer = Probabilities(interpret=lambda v: v, output_size=5).resolve(2)
    assert not fewer.is_identity and fewer.output_size == 5
    assert fewer.matrix().shape == (4, 5) and fewer.matrix()[:, 4].tolist() == [0.0] * 4
    same = ProbabilityReadout((0, 1), np.arange(4), 4)
    assert ident == same and hash(ident) == hash(same)
    assert ident != perm and ident != ProbabilityReadout((1, 0), np.arange(4), 4)
    assert ident != ProbabilityReadout((0, 1), np.arange(4), 5)
    assert ident != "not a readout"
    assert hash(ident) != hash(perm)
    assert perm.matrix().tolist() == [
        [0.0, 0.0, 0.0, 1.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0, 0.0],
    ]


def test_parity_of_large_and_numpy_outcomes():
    assert [parity(v) for v in (0, 1, 2, 3, 7, 8, 255, 2**40 + 1)] == [0, 1, 1, 0, 1, 1, 0, 0]
    assert parity(np.int64(5)) == 0 and isinstance(parity(np.int64(5)), int)


@pytest.mark.parametrize(
    ("kwargs", "n", "message"),
    [
        ({"output_size": 0}, 2, "output_size must be a positive integer, got 0"),
        ({"output_size": True}, 1, "output_size must be a positive integer, got True"),
        ({"output_size": 2.0}, 1, "output_size must be a positive integer, got 2.0"),
        (
            {"output_size": 3},
            2,
            "output_size=3 but 2 measured qubits give 4 outcomes; pass interpret",
        ),
        ({"interpret": parity}, 2, "interpret needs output_size: the number of outputs"),
        (
            {"interpret": lambda v: 1 // (1 - v), "output_size": 2},
            1,
            "interpret(1) failed: ZeroDivisionError: ",
        ),
        (
            {"interpret": lambda v: v, "output_size": 3},
            2,
            "interpret(3) returned 3; it must return an int in 0..2 (output_size=3)",
        ),
        ({"interpret": lambda v: -1, "output_size": 2}, 1, "interpret(0) returned -1"),
        ({"interpret": lambda v: True, "output_size": 2}, 1, "interpret(0) returned True"),
        ({"interpret": lambda v: 0.0, "output_size": 2}, 1, "interpret(0) returned 0.0"),
        ({"qubits": 3}, 2, "qubits must be a sequence of qubit indices, got 3"),
        ({"qubits": []}, 2, "qubits must be distinct indices in 0..1, got []"),
        ({"qubits": [2]}, 2, "qubits must be distinct indices in 0..1, got [2]"),
        ({"qubits": [-1]}, 2, "qubits must be distinct indices in 0..1"),
        ({"qubits": [True]}, 2, "qubits must be distinct indices"),
        ({"qubits": [0.0]}, 2, "qubits must be distinct indices"),
        ({"qubits": [1, 1]}, 2, "qubits lists a qubit twice: [1, 1]"),
    ],
)
def test_bad_readouts_are_named(kwargs, n, message):
    with pytest.raises(CircuitError) as info:
        Probabilities(**kwargs).resolve(n)
    assert str(info.value).startswith(message)


def test_the_measured_qubit_limit_is_20():
    assert MAX_PROBABILITY_QUBITS == 20
    with pytest.raises(
        CircuitError, match=r"21 measured qubits give 2\*\*21 probabilities; measure at most 20"
    ):
        Probabilities().resolve(21)
    r = Probabilities(qubits=[20], interpret=lambda v: 0, output_size=1).resolve(21)
    assert r.qubits == (20,) and r.table.tolist() == [0, 0]


def test_resolved_values_are_plain_ints():
    r = Probabilities(
        qubits=np.array([1, 0]), interpret=lambda v: np.int64(v // 2), output_size=np.int64(2)
    ).resolve(2)
    assert r.qubits == (1, 0) and all(type(q) is int for q in r.qubits)
    assert type(r.output_size) is int and r.table.dtype == np.int64
    assert r.table.tolist() == [0, 0, 1, 1]
    assert Probabilities(output_size=4).resolve(2).output_size == 4


def test_probabilities_check_the_batch_against_the_memory_limit():
    """A limit that fits a batch of two exactly: a third sample, or autograd history, is refused.

    The limit is the simulator's own estimate at batch 2; the test checks that ``probabilities``
    asks for the batch it runs (rows, not parameters), its complex dtype and its autograd history.
    """
    from hybridqml.exceptions import BackendError

    qc, params = circuit(3)
    readout = Probabilities(interpret=parity, output_size=2).resolve(3)
    for real, complex_ in ((torch.float64, torch.complex128), (torch.float32, torch.complex64)):
        sim = TorchSimulator(qc, params, ())
        sim.max_memory_bytes = sim.estimate_bytes(2, complex_, backprop=False)
        two = torch.tensor(VALUES[:2], dtype=real)
        out = probabilities(sim, two, readout)  # fits exactly
        assert out.shape == (2, 2) and out.dtype == real
        with pytest.raises(BackendError, match="with batch 3"):
            probabilities(sim, torch.tensor(VALUES, dtype=real), readout)
        with pytest.raises(BackendError, match="with batch 2"):
            probabilities(sim, two.clone().requires_grad_(), readout)
    sim = TorchSimulator(qc, params, ())
    sim.max_memory_bytes = sim.estimate_bytes(2, torch.complex64, backprop=False)
    with pytest.raises(BackendError):  # float64 needs complex128: twice the bytes
        probabilities(sim, torch.tensor(VALUES[:2]), readout)


def test_without_a_limit_large_batches_ask_the_device_for_free_memory(monkeypatch):
    from hybridqml.backends.torchsim import _simulator

    asked = []
    monkeypatch.setattr(_simulator, "_UNCHECKED_BYTES", 0)  # every batch counts as large
    monkeypatch.setattr(
        _simulator, "available_memory", lambda device: asked.append(device) or 10**12
    )
    qc, params = circuit(2)
    sim = TorchSimulator(qc, params, ())
    probabilities(sim, torch.tensor(VALUES[:1, :4]), Probabilities().resolve(2))
    assert asked and all(device == torch.device("cpu") for device in asked)


def test_interpret_without_output_size_names_qiskit_mls_equivalent():
    with pytest.raises(CircuitError) as info:
        Probabilities(interpret=parity).resolve(2)
    assert str(info.value) == (
        "interpret needs output_size: the number of outputs it maps outcomes to "
        "(qiskit-machine-learning's output_shape)"
    )


def test_exactly_20_measured_qubits_are_allowed():
    r = Probabilities().resolve(20)
    assert len(r.qubits) == 20 and r.output_size == 2**20
