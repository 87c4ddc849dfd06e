"""from_qiskit_ml reproduces EstimatorQNN, SamplerQNN and TorchConnector (issue 15)."""

import numpy as np
import pytest
import torch
from _doubles import ExactSampler
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.library import real_amplitudes, zz_feature_map
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp

import hybridqml as hq
from hybridqml.exceptions import CircuitError, ConfigurationError

qml_nn = pytest.importorskip("qiskit_machine_learning.neural_networks")
qml_grad = pytest.importorskip("qiskit_machine_learning.gradients")
TorchConnector = pytest.importorskip("qiskit_machine_learning.connectors").TorchConnector


def estimator_qnn(observables=None):
    fm, ansatz = zz_feature_map(3, reps=1), real_amplitudes(3, reps=1)
    est = StatevectorEstimator()
    return qml_nn.EstimatorQNN(
        circuit=fm.compose(ansatz),
        estimator=est,
        observables=observables,
        input_params=fm.parameters,
        weight_params=ansatz.parameters,
        input_gradients=True,
        gradient=qml_grad.ParamShiftEstimatorGradient(est),
        default_precision=0.0,
    )


def check_layer(layer, qnn, x, w):
    ref_out = qnn.forward(x, w)
    ref_in, ref_w = qnn.backward(x, w)
    xt = torch.from_numpy(x).requires_grad_()
    out = layer(xt)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, atol=1e-8, rtol=0)
    for o in range(out.shape[1]):
        gx, gw = torch.autograd.grad(out[:, o].sum(), (xt, layer.weight), retain_graph=True)
        np.testing.assert_allclose(gx.numpy(), ref_in[:, o], atol=1e-8, rtol=0)
        np.testing.assert_allclose(gw.double().numpy(), ref_w[:, o].sum(0), atol=1e-8, rtol=0)


def test_torch_connector_outputs_and_gradients_to_1e8():
    qnn = estimator_qnn()  # qiskit-ML's default observable: one Z...Z
    w0 = np.random.default_rng(1).uniform(-1, 1, qnn.num_weights)
    connector = TorchConnector(qnn, initial_weights=w0)
    layer = hq.from_qiskit_ml(connector).double()
    assert layer.n_outputs == 1 and layer.spec.observables[0] == SparsePauliOp("ZZZ")
    # the connector's weights, as TorchConnector stores them (float32), carried over exactly
    w = connector.weight.detach().double().numpy()
    assert np.array_equal(layer.weight.detach().numpy(), w)
    x = np.random.default_rng(2).uniform(-np.pi, np.pi, size=(4, 3))
    check_layer(layer, qnn, x, w)  # the connector's float64 computation, before its float cast
    # and the connector's own (float32) forward and backward
    xt = torch.from_numpy(x).float().requires_grad_()
    ref = connector(xt)
    ref.sum().backward()
    xl = torch.from_numpy(x).requires_grad_()
    out = layer(xl)
    out.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        layer.weight.grad.numpy(), connector.weight.grad.numpy(), rtol=1e-5, atol=1e-6
    )


def test_estimator_qnn_with_observables_on_torch():
    obs = [SparsePauliOp("IZX"), SparsePauliOp(["ZZI", "XII"], [0.5, -1.5])]
    qnn = estimator_qnn(obs)
    w = np.linspace(-1, 1, 6)
    layer = hq.from_qiskit_ml(qnn, backend="torch", init=torch.from_numpy(w))
    check_layer(layer, qnn, np.random.default_rng(3).uniform(-2, 2, (3, 3)), w)


def test_sampler_qnn_with_parity_interpret_and_partial_measurement():
    x, w = ParameterVector("x", 2), ParameterVector("w", 4)
    qc = QuantumCircuit(3, 2)
    qc.h(range(3))
    qc.ry(x[0], 0)
    qc.ry(x[1], 2)
    qc.cx(0, 1)
    qc.cx(1, 2)
    for q in range(3):
        qc.rx(w[q], q)
    qc.crz(w[3], 2, 1)
    qc.barrier()
    qc.measure(2, 0)  # qubit 2 into bit 0, qubit 0 into bit 1
    qc.measure(0, 1)
    sampler = ExactSampler()
    for interpret, shape in ((hq.circuits.parity, 2), (None, None), (lambda v: 3 - v, 4)):
        qnn = qml_nn.SamplerQNN(
            circuit=qc,
            sampler=sampler,
            input_params=list(x),
            weight_params=list(w),
            interpret=interpret,
            output_shape=shape,
            input_gradients=True,
            gradient=qml_grad.ParamShiftSamplerGradient(sampler),
        )
        weights = np.array([0.3, -0.7, 1.1, 0.4])
        layer = hq.from_qiskit_ml(qnn, init=torch.from_numpy(weights))
        assert isinstance(layer, hq.SamplerLayer) and layer.spec.probabilities.qubits == (2, 0)
        check_layer(layer, qnn, np.array([[0.2, -1.3], [2.2, 0.9]]), weights)


def test_bad_networks_are_clear_errors():
    with pytest.raises(ConfigurationError, match="EstimatorQNN, a SamplerQNN or a TorchConnector"):
        hq.from_qiskit_ml(torch.nn.Linear(2, 2))
    qc = QuantumCircuit(2, 2)
    x = ParameterVector("x", 1)
    qc.ry(x[0], 0)
    qc.measure(0, 0)
    qc.x(1)  # after a measurement
    qc.measure(1, 1)
    qnn = qml_nn.SamplerQNN(circuit=qc, sampler=ExactSampler(), input_params=list(x))
    with pytest.raises(CircuitError, match="end with its measurements"):
        hq.from_qiskit_ml(qnn)


# -- circuits without inputs: the qiskit-ML PyTorch qGAN generator (issue 24) ---------------------


def qgan_generator(sampler):
    """The generator of qiskit-ML's PyTorch qGAN tutorial: H on every qubit, EfficientSU2."""
    from qiskit.circuit.library import efficient_su2

    qc = QuantumCircuit(2)
    qc.h(qc.qubits)
    qc.compose(efficient_su2(2, reps=6), inplace=True)
    qnn = qml_nn.SamplerQNN(
        circuit=qc,
        sampler=sampler,
        input_params=[],
        weight_params=qc.parameters,
        sparse=False,
        gradient=qml_grad.ParamShiftSamplerGradient(sampler),
    )
    return qc, qnn


def check_generator(layer, qnn, w):
    ref_out = qnn.forward(None, w).reshape(-1)  # an independent exact (Statevector) reference
    _, ref_w = qnn.backward(None, w)
    out = layer()
    assert out.shape == (4,)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, atol=1e-8, rtol=0)
    for o in range(4):
        (gw,) = torch.autograd.grad(out[o], layer.weight, retain_graph=True)
        np.testing.assert_allclose(gw.double().numpy(), ref_w[0, o], atol=1e-8, rtol=0)
    rows = layer(torch.zeros(3, 0, dtype=torch.float64))  # a (B, 0) batch: B equal rows
    np.testing.assert_allclose(rows.detach().numpy(), np.tile(ref_out, (3, 1)), atol=1e-8)


@pytest.mark.parametrize("backend", ["aer", "torch"])
def test_qgan_generator_ports_with_from_qiskit_ml_and_sampler_layer(backend):
    qc, qnn = qgan_generator(ExactSampler())
    w = np.random.default_rng(7).random(qc.num_parameters)
    connector = TorchConnector(qnn, initial_weights=w)
    ported = hq.from_qiskit_ml(connector, backend=backend).double()
    assert ported.n_inputs == 0 and isinstance(ported, hq.SamplerLayer)
    wc = connector.weight.detach().double().numpy()  # float32, as the connector stores them
    check_generator(ported, qnn, wc)
    spec = hq.circuits.from_qiskit(qc, inputs=[])
    direct = hq.SamplerLayer(spec, backend=backend, init=torch.from_numpy(w))
    check_generator(direct, qnn, w)


def test_qgan_generator_trains_like_the_torch_connector():
    qc, qnn = qgan_generator(ExactSampler())
    w = np.random.default_rng(8).random(qc.num_parameters)
    connector = TorchConnector(qnn, initial_weights=w)
    layer = hq.from_qiskit_ml(connector, backend="torch")  # float32 weights, as the connector's
    target = torch.tensor([0.1, 0.4, 0.4, 0.1])
    models = (connector, layer)
    # SGD, not Adam: Adam turns the float noise of a zero gradient into a full step
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.5) for m in models]
    losses = {0: [], 1: []}
    for _ in range(5):
        for i, (model, opt) in enumerate(zip(models, optimizers, strict=True)):
            opt.zero_grad()
            loss = ((model().reshape(-1) - target) ** 2).sum()
            loss.backward()
            opt.step()
            losses[i].append(loss.item())
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        layer.weight.detach().numpy(), connector.weight.detach().numpy(), atol=1e-4
    )
    assert losses[1][-1] < losses[1][0]


def test_init_wins_over_the_connector_weights():
    qc, qnn = qgan_generator(ExactSampler())
    connector = TorchConnector(qnn, initial_weights=np.zeros(qc.num_parameters))
    w = torch.linspace(-1, 1, qc.num_parameters, dtype=torch.float64)
    layer = hq.from_qiskit_ml(connector, init=w)
    assert torch.equal(layer.weight.detach(), w)
    check_generator(layer, qnn, w.numpy())
