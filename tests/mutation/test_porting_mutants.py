"""from_qiskit_ml: weights, options and measured qubits carried over (Statevector reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import SparsePauliOp, Statevector

import hybridqml as hq
from hybridqml.exceptions import CircuitError, ConfigurationError
from hybridqml.nn import _porting

qml_nn = pytest.importorskip("qiskit_machine_learning.neural_networks")
TorchConnector = pytest.importorskip("qiskit_machine_learning.connectors").TorchConnector

X, W = ParameterVector("x", 2), ParameterVector("w", 2)


def body():
    qc = QuantumCircuit(2)
    qc.ry(X[0], 0)
    qc.ry(X[1], 1)
    qc.cx(0, 1)
    qc.rx(W[0], 0)
    qc.ry(W[1], 1)
    return qc


def expectation(qc, x, w, label):
    bound = qc.assign_parameters({**dict(zip(X, x, strict=True)), **dict(zip(W, w, strict=True))})
    return Statevector(bound).expectation_value(SparsePauliOp(label)).real


def estimator_qnn(observables=None):
    return qml_nn.EstimatorQNN(
        circuit=body(), input_params=list(X), weight_params=list(W), observables=observables
    )


def test_the_connector_weights_become_the_layer_weights():
    w0 = np.array([0.7, -1.3])
    layer = hq.from_qiskit_ml(TorchConnector(estimator_qnn(), initial_weights=w0))
    assert torch.equal(layer.weight.detach(), torch.tensor(w0, dtype=torch.float32))
    x = np.array([0.3, 1.1])
    out = layer(torch.from_numpy(x[None])).detach().numpy()
    w32 = w0.astype(np.float32).astype(np.float64)
    assert out[0, 0] == pytest.approx(expectation(body(), x, w32, "ZZ"), abs=1e-6)


def test_init_wins_over_the_connector_weights():
    init = torch.tensor([0.25, 0.5], dtype=torch.float64)
    connector = TorchConnector(estimator_qnn(), initial_weights=np.array([0.7, -1.3]))
    layer = hq.from_qiskit_ml(connector, init=init)
    assert torch.equal(layer.weight.detach(), init)
    x = np.array([-0.4, 0.9])
    out = layer(torch.from_numpy(x[None])).detach().numpy()
    assert out[0, 0] == pytest.approx(expectation(body(), x, [0.25, 0.5], "ZZ"), abs=1e-10)


def test_estimator_observables_are_carried_in_order():
    layer = hq.from_qiskit_ml(
        estimator_qnn(["ZI", "IX", SparsePauliOp(["XX", "YY"], [0.5, -0.5])]),
        init=torch.tensor([0.3, -0.8], dtype=torch.float64),
    )
    x = np.array([1.2, -0.6])
    out = layer(torch.from_numpy(x[None])).detach().numpy()[0]
    expected = [
        expectation(body(), x, [0.3, -0.8], "ZI"),
        expectation(body(), x, [0.3, -0.8], "IX"),
        0.5 * expectation(body(), x, [0.3, -0.8], "XX")
        - 0.5 * expectation(body(), x, [0.3, -0.8], "YY"),
    ]
    np.testing.assert_allclose(out, expected, atol=1e-10)


def test_sampler_qnn_measuring_every_qubit_without_clbits():
    qnn = qml_nn.SamplerQNN(circuit=body(), input_params=list(X), weight_params=list(W))
    layer = hq.from_qiskit_ml(qnn, init=torch.tensor([0.4, 0.1], dtype=torch.float64))
    assert isinstance(layer, hq.SamplerLayer)
    assert layer.spec.probabilities.qubits == (0, 1) and layer.n_outputs == 4
    x = np.array([0.8, -0.2])
    bound = body().assign_parameters({**dict(zip(X, x, strict=True)), W[0]: 0.4, W[1]: 0.1})
    out = layer(torch.from_numpy(x[None])).detach().numpy()[0]
    np.testing.assert_allclose(out, Statevector(bound).probabilities(), atol=1e-10)


def test_measured_qubits_follow_the_classical_bits():
    qc = QuantumCircuit(3, 2, global_phase=0.3)
    qc.h(0)
    qc.barrier()  # before the measurements: kept
    qc.x(2)
    qc.measure(2, 0)
    qc.barrier()  # between measurements: dropped
    qc.measure(0, 1)
    body_, qubits = _porting._measured_qubits(qc)
    assert qubits == [2, 0]
    assert [i.operation.name for i in body_.data] == ["h", "barrier", "x"]
    assert body_.num_clbits == 0 and body_.global_phase == 0.3
    plain = QuantumCircuit(2)
    plain.h(1)
    copy, every = _porting._measured_qubits(plain)
    assert every == [0, 1] and copy is not plain and copy == plain


def test_measurements_must_be_terminal_and_cover_every_bit():
    late = QuantumCircuit(2, 1)
    late.measure(0, 0)
    late.h(1)
    with pytest.raises(CircuitError, match="must end with its measurements"):
        _porting._measured_qubits(late)
    partial = QuantumCircuit(2, 2)
    partial.measure(1, 1)
    with pytest.raises(CircuitError) as info:
        _porting._measured_qubits(partial)
    assert str(info.value) == (
        "every classical bit of the SamplerQNN circuit must hold one measured qubit (measured "
        "bits: [1], classical bits: 2)"
    )


def test_networks_it_cannot_port_are_named():
    with pytest.raises(ConfigurationError) as info:
        hq.from_qiskit_ml(object())
    assert str(info.value) == (
        "from_qiskit_ml takes an EstimatorQNN, a SamplerQNN or a TorchConnector, got object"
    )

    class EstimatorQNN:  # the right name, but no circuit
        pass

    with pytest.raises(ConfigurationError, match="got EstimatorQNN"):
        hq.from_qiskit_ml(EstimatorQNN())
    sparse = qml_nn.SamplerQNN(circuit=body(), input_params=list(X), weight_params=list(W))
    sparse._sparse = True
    with pytest.raises(
        ConfigurationError, match=r"^sparse SamplerQNN outputs have no hybridqml equivalent$"
    ):
        hq.from_qiskit_ml(sparse)


def test_a_transpiled_circuit_is_refused():
    from qiskit import transpile

    isa = transpile(
        body(), basis_gates=["rx", "ry", "cx"], coupling_map=[[0, 1], [1, 0]], initial_layout=[1, 0]
    )
    qnn = qml_nn.EstimatorQNN(circuit=isa, input_params=list(X), weight_params=list(W))
    with pytest.raises(CircuitError, match=r"^the EstimatorQNN's circuit is transpiled \(it has"):
        hq.from_qiskit_ml(qnn)


def test_multi_dimensional_interpret_outputs_are_refused():
    qnn = qml_nn.SamplerQNN(
        circuit=body(),
        input_params=list(X),
        weight_params=list(W),
        interpret=lambda v: (v % 2, v // 2),
        output_shape=(2, 2),
    )
    with pytest.raises(
        CircuitError, match=r"^interpret with output shape \(2, 2\): only 1-D outputs"
    ):
        hq.from_qiskit_ml(qnn)


def test_the_connector_detection():
    class TorchConnector:
        neural_network = None

    class Other:
        neural_network = None

    assert _porting._is_connector(TorchConnector())
    assert not _porting._is_connector(Other())
    assert not _porting._is_connector(type("TorchConnector", (), {})())


def test_the_terminal_measurement_error_says_what_is_allowed():
    late = QuantumCircuit(2, 1)
    late.measure(0, 0)
    late.h(1)
    with pytest.raises(CircuitError) as info:
        _porting._measured_qubits(late)
    assert str(info.value) == (
        "the SamplerQNN circuit must end with its measurements (nothing after them, "
        "no classical control)"
    )


def test_the_transpiled_circuit_error_says_what_to_do():
    from qiskit import transpile

    isa = transpile(
        body(), basis_gates=["rx", "ry", "cx"], coupling_map=[[0, 1], [1, 0]], initial_layout=[1, 0]
    )
    qnn = qml_nn.SamplerQNN(circuit=isa, input_params=list(X), weight_params=list(W))
    with pytest.raises(CircuitError) as info:
        hq.from_qiskit_ml(qnn)
    assert str(info.value) == (
        "the SamplerQNN's circuit is transpiled (it has a layout); build the network on the "
        "logical circuit: hybridqml transpiles for its backend itself"
    )


def test_the_layer_runs_on_the_backend_asked_for():
    sampler = qml_nn.SamplerQNN(circuit=body(), input_params=list(X), weight_params=list(W))
    for network in (estimator_qnn(), sampler):
        assert hq.from_qiskit_ml(network, backend="torch").engine.backend_name == "torch"
        assert hq.from_qiskit_ml(network).engine.backend_name == "aer"  # the default


def test_sampler_qnn_measured_qubits_and_interpret_are_carried_over():
    qc = body()
    qc.add_register(ClassicalRegister(2))
    qc.measure(1, 0)  # qubit 1 into bit 0, qubit 0 into bit 1
    qc.measure(0, 1)
    qnn = qml_nn.SamplerQNN(
        circuit=qc,
        input_params=list(X),
        weight_params=list(W),
        interpret=lambda v: 1 if v == 1 else 0,  # bit 0 set, bit 1 clear
        output_shape=2,
    )
    layer = hq.from_qiskit_ml(qnn, init=torch.tensor([0.4, 0.1], dtype=torch.float64))
    assert layer.spec.probabilities.qubits == (1, 0) and layer.n_outputs == 2
    x = np.array([0.8, -0.2])
    p = Statevector(
        body().assign_parameters({**dict(zip(X, x, strict=True)), W[0]: 0.4, W[1]: 0.1})
    ).probabilities()  # index q0 + 2 q1
    hit = p[2]  # bit 0 (qubit 1) = 1, bit 1 (qubit 0) = 0
    out = layer(torch.from_numpy(x[None])).detach().numpy()[0]
    np.testing.assert_allclose(out, [1 - hit, hit], atol=1e-10)
