import pickle

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.quantum_info import Pauli, SparsePauliOp, Statevector

import hybridqml as hq
from hybridqml import circuits
from hybridqml.circuits import ParameterizedCircuit, from_qiskit
from hybridqml.exceptions import CircuitError, HybridQMLError, InputError


def _simple():
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(x, 0)
    qc.rx(w, 1)
    qc.cx(0, 1)
    return qc, x, w


def test_default_observables_are_z_per_qubit():
    qc, x, w = _simple()
    spec = ParameterizedCircuit(qc, [x], [w])
    labels = [op.paulis[0].to_label() for op in spec.observables]
    assert labels == ["IZ", "ZI"]
    assert spec.parameters == (x, w)
    assert (spec.n_qubits, spec.n_inputs, spec.n_weights, spec.n_outputs) == (2, 1, 1, 2)


def test_observables_accept_labels_and_paulis():
    qc, x, w = _simple()
    spec = ParameterizedCircuit(qc, [x], [w], observables=["XX", SparsePauliOp(["ZI", "IZ"])])
    assert spec.n_outputs == 2


@pytest.mark.parametrize("single", [SparsePauliOp(["ZI", "IX"], [0.5, 2.0]), "XZ", Pauli("YY")])
def test_a_single_observable_is_one_output_not_one_per_term(single):
    qc, x, w = _simple()
    spec = ParameterizedCircuit(qc, [x], [w], observables=single)
    assert spec.n_outputs == 1
    assert spec.observables[0] == SparsePauliOp(single).simplify()


def test_a_single_parameter_or_a_non_sequence_for_the_parameter_lists():
    qc, x, w = _simple()
    assert ParameterizedCircuit(qc, x, w).parameters == (x, w)
    with pytest.raises(CircuitError, match=r"sequence of qiskit Parameters.*int"):
        ParameterizedCircuit(qc, 5, [w])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("inputs", "weights", "message"),
    [
        (["x"], [], "neither inputs nor weights: w"),
        (["x", "w"], ["w"], "both input and weight: w"),
        (["x", "extra"], ["w"], "not present in the circuit: extra"),
        (["x", "x"], ["w"], "more than once"),
    ],
)
def test_parameter_validation(inputs, weights, message):
    qc, x, w = _simple()
    table = {"x": x, "w": w, "extra": Parameter("extra")}
    with pytest.raises(CircuitError, match=message):
        ParameterizedCircuit(qc, [table[n] for n in inputs], [table[n] for n in weights])


def test_a_circuit_without_inputs_is_a_spec_and_a_layer_called_without_arguments():
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(1)
    qc.ry(x, 0)
    qc.rx(w, 0)
    spec = ParameterizedCircuit(qc, [], [x, w])
    assert spec.n_inputs == 0 and spec.parameters == (x, w)
    layer = hq.QuantumLayer(spec, init=torch.tensor([0.4, -1.1], dtype=torch.float64))
    # written out: RY(x) then RX(w) on |0>: <Z> = cos(x) cos(w)
    expected = np.cos(0.4) * np.cos(-1.1)
    out = layer()
    assert out.shape == (1,) and out.dtype == torch.float64
    np.testing.assert_allclose(out.item(), expected, atol=1e-12)
    rows = layer(torch.zeros(5, 0, dtype=torch.float64))
    np.testing.assert_allclose(rows.detach().numpy(), np.full((5, 1), expected), atol=1e-12)
    out.backward()
    np.testing.assert_allclose(
        layer.weight.grad.numpy(),
        [-np.sin(0.4) * np.cos(-1.1), -np.cos(0.4) * np.sin(-1.1)],
        atol=1e-12,
    )


def test_from_qiskit_accepts_inputs_empty_and_its_error_names_it():
    qc, x, w = _simple()
    with pytest.raises(CircuitError, match=r"inputs=\[\] for a circuit without inputs"):
        from_qiskit(qc)
    spec = from_qiskit(qc, inputs=[])
    assert spec.input_params == () and set(spec.weight_params) == {x, w}


def test_a_layer_with_inputs_called_without_them_is_an_input_error():
    layer = hq.QuantumLayer(hq.circuits.ry(1))
    with pytest.raises(InputError, match=r"takes inputs of shape \(batch, 1\)"):
        layer()
    with pytest.raises(InputError, match=r"shape \(batch, 1\)"):
        layer(torch.zeros(2, 0))


def test_observable_width_and_hermiticity_checked():
    qc, x, w = _simple()
    with pytest.raises(CircuitError, match="acts on 3 qubits but the circuit has 2"):
        ParameterizedCircuit(qc, [x], [w], observables=["ZZZ"])
    with pytest.raises(CircuitError, match="complex coefficients"):
        ParameterizedCircuit(qc, [x], [w], observables=[SparsePauliOp(["ZI"], [1j])])
    with pytest.raises(CircuitError, match="not a Pauli operator"):
        ParameterizedCircuit(qc, [x], [w], observables=["AB"])


def test_measurements_rejected():
    qc, x, w = _simple()
    qc.measure_all()
    with pytest.raises(CircuitError, match="unitary"):
        ParameterizedCircuit(qc, [x], [w])


def test_circuit_errors_are_hybridqml_errors():
    with pytest.raises(HybridQMLError):
        ParameterizedCircuit("not a circuit", [], [])  # type: ignore[arg-type]


def test_spec_is_immutable_copy():
    qc, x, w = _simple()
    spec = ParameterizedCircuit(qc, [x], [w])
    qc.h(0)
    assert "h" not in spec.circuit.count_ops()
    spec.circuit.h(1)
    assert "h" not in spec.circuit.count_ops()


def test_ry_is_textbook_circuit():
    spec = circuits.ry(1)
    assert spec.n_weights == 0
    assert list(spec.circuit.count_ops()) == ["h", "ry"]
    for angle in (0.0, 0.4, 2.0):
        bound = spec.circuit.assign_parameters([angle])
        z = Statevector(bound).expectation_value(spec.observables[0]).real
        assert z == pytest.approx(-np.sin(angle), abs=1e-12)


@pytest.mark.parametrize(
    ("ent", "pairs"),
    [
        ("linear", [(0, 1), (1, 2), (2, 3)]),
        ("ring", [(0, 1), (1, 2), (2, 3), (3, 0)]),
        ("full", [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]),
    ],
)
def test_variational_structure(ent, pairs):
    spec = circuits.variational(n_qubits=4, layers=2, entanglement=ent)
    assert (spec.n_inputs, spec.n_weights, spec.n_outputs) == (4, 8, 4)
    ops = spec.circuit.count_ops()
    assert ops["ry"] == 4 + 8
    assert ops["cx"] == 2 * len(pairs)
    assert circuits.entangling_pairs(4, ent) == pairs


def test_variational_weight_order_is_layer_major():
    spec = circuits.variational(n_qubits=3, layers=2)
    ry_params = [ci.operation.params[0] for ci in spec.circuit.data if ci.operation.name == "ry"]
    assert ry_params[3:] == list(spec.weight_params)
    assert ry_params[:3] == list(spec.input_params)


def test_builder_argument_errors():
    with pytest.raises(CircuitError, match="unknown entanglement"):
        circuits.variational(3, 1, entanglement="star")  # type: ignore[arg-type]
    with pytest.raises(CircuitError, match="positive integer"):
        circuits.variational(0, 1)
    with pytest.raises(CircuitError, match="positive integer"):
        circuits.ry(2.5)  # type: ignore[arg-type]
    assert circuits.variational(np.int64(2), np.int64(1)).n_weights == 2  # numpy integers


def test_parameter_order_independent_of_names():
    # circuit.parameters sorts names as text (t10 before t2): the spec must keep the user's order.
    ps = [Parameter(f"t{i}") for i in range(12)]
    qc = QuantumCircuit(1)
    for p in ps:
        qc.ry(p, 0)
    spec = ParameterizedCircuit(qc, ps[:2], ps[2:])
    assert spec.parameters == tuple(ps)


def test_spec_pickles():
    spec = circuits.variational(3, 2)
    back = pickle.loads(pickle.dumps(spec))
    assert back.parameters == spec.parameters
    assert back.n_outputs == 3


def test_parameter_vector_accepted():
    x = ParameterVector("x", 2)
    qc = QuantumCircuit(2)
    qc.ry(x[0], 0)
    qc.ry(x[1], 1)
    assert ParameterizedCircuit(qc, x).n_inputs == 2


def test_ry_defaults_to_one_qubit_and_names_its_parts_like_variational():
    spec = circuits.ry()
    assert (spec.n_qubits, spec.n_inputs, spec.n_weights, spec.n_outputs) == (1, 1, 0, 1)
    two, var = circuits.ry(2), circuits.variational(2)
    assert [p.name for p in two.input_params] == [p.name for p in var.input_params]
    assert [p.name for p in two.input_params] == ["x[0]", "x[1]"]
    assert two.circuit.name == "ry" and var.circuit.name == "variational_ring"
    assert [p.name for p in var.weight_params] == ["w[0]", "w[1]"]


def test_variational_defaults_are_one_ring_layer():
    spec = circuits.variational(4)
    assert (spec.n_inputs, spec.n_weights) == (4, 4)
    assert circuits.entangling_pairs(4) == [(0, 1), (1, 2), (2, 3), (3, 0)]
    cx = [tuple(spec.circuit.find_bit(q).index for q in ci.qubits) for ci in spec.circuit.data
          if ci.operation.name == "cx"]  # fmt: skip
    assert cx == circuits.entangling_pairs(4, "ring")


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_builder_errors_name_the_argument(bad):
    with pytest.raises(CircuitError, match="n_qubits must be a positive integer"):
        circuits.ry(bad)
    with pytest.raises(CircuitError, match="n_qubits must be a positive integer"):
        circuits.variational(bad)
    with pytest.raises(CircuitError, match="layers must be a positive integer"):
        circuits.variational(2, bad)


def test_observables_keep_tiny_terms_and_merge_duplicates_exactly():
    qc, x, w = _simple()
    obs = SparsePauliOp(["ZI", "XI", "ZI"], [1.0, 1e-10, 0.5])
    spec = ParameterizedCircuit(qc, [x], [w], observables=[obs])
    (kept,) = spec.observables
    assert kept == SparsePauliOp(["ZI", "XI"], [1.5, 1e-10])  # nothing dropped by a tolerance
    assert kept.coeffs.dtype == complex


def test_spec_errors_say_what_is_wrong_and_where():
    qc, x, w = _simple()
    with pytest.raises(CircuitError, match="QuantumCircuit, got <class 'str'>"):
        ParameterizedCircuit("not a circuit", [x], [w])  # type: ignore[arg-type]
    with pytest.raises(
        CircuitError, match=r"input_params must be qiskit Parameters, got 3 \(int\)"
    ):
        ParameterizedCircuit(qc, [3], [w])
    with pytest.raises(CircuitError, match=r"weight_params must be qiskit Parameters, got 'w'"):
        ParameterizedCircuit(qc, [x], ["w"])
    with pytest.raises(CircuitError, match="no qubits"):
        ParameterizedCircuit(QuantumCircuit(0, global_phase=x), [x], [])
    with pytest.raises(CircuitError, match="observables must not be empty"):
        ParameterizedCircuit(qc, [x], [w], observables=[])
    with pytest.raises(CircuitError, match="observable 0 acts on 1 qubits"):
        ParameterizedCircuit(qc, [x], [w], observables="Z")
    with pytest.raises(CircuitError, match="observable 1 acts on 3 qubits"):
        ParameterizedCircuit(qc, [x], [w], observables=["ZI", "ZZZ"])


def test_classical_bits_alone_are_refused():
    x = Parameter("x")
    qc = QuantumCircuit(1, 1)  # a classical register, no measurement
    qc.ry(x, 0)
    with pytest.raises(CircuitError, match="found classical bits"):
        ParameterizedCircuit(qc, [x])
