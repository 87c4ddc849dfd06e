"""Agreement with an independent implementation: qiskit-machine-learning's EstimatorQNN."""

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorEstimator

import hybridqml as hq
from hybridqml import circuits
from hybridqml.circuits import ParameterizedCircuit

qml_nn = pytest.importorskip("qiskit_machine_learning.neural_networks")
qml_grad = pytest.importorskip("qiskit_machine_learning.gradients")


def reused_and_expressions():
    x0, x1, w0, w1 = (Parameter(n) for n in ("x0", "x1", "w0", "w1"))
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.ry(x0, 0)
    qc.rx(2 * x1, 1)  # expression
    qc.cry(w0, 0, 1)  # controlled rotation
    qc.rz(x0 * w1, 2)  # product of an input and a weight
    qc.crx(x1 / 2 + w0, 1, 2)
    qc.ry(w1, 0)  # reused weight
    qc.ry(x0, 2)  # reused input
    qc.rzz(w0, 0, 2)
    qc.cx(2, 1)
    return ParameterizedCircuit(qc, [x0, x1], [w0, w1], observables=["ZII", "IXI", "YZX"])


SPECS = {
    "reused-expressions-controlled": reused_and_expressions,
    "variational-ring": lambda: circuits.variational(3, 2),
    "variational-full": lambda: circuits.variational(4, 1, entanglement="full"),
    "textbook": lambda: circuits.ry(1),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_matches_estimator_qnn_to_1e8(name):
    spec = SPECS[name]()
    est = StatevectorEstimator()
    qnn = qml_nn.EstimatorQNN(
        circuit=spec.circuit,
        estimator=est,
        observables=list(spec.observables),
        input_params=list(spec.input_params),
        weight_params=list(spec.weight_params),
        input_gradients=True,
        gradient=qml_grad.ParamShiftEstimatorGradient(est),
        default_precision=0.0,
    )
    rng = np.random.default_rng(42)
    x = rng.uniform(-np.pi, np.pi, size=(5, spec.n_inputs))
    w = rng.uniform(-np.pi, np.pi, size=spec.n_weights)
    ref_out = qnn.forward(x, w)
    ref_in, ref_w = qnn.backward(x, w)

    layer = hq.QuantumLayer(spec).double()  # float64 weights before copying them in
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
    xt = torch.from_numpy(x).requires_grad_()
    out = layer(xt)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, atol=1e-8, rtol=0)

    theta = np.concatenate([x, np.broadcast_to(w, (5, spec.n_weights))], axis=1)
    jac = layer.engine.jacobian(theta)
    np.testing.assert_allclose(jac[:, :, : spec.n_inputs], ref_in, atol=1e-8, rtol=0)
    if spec.n_weights:
        np.testing.assert_allclose(jac[:, :, spec.n_inputs :], ref_w, atol=1e-8, rtol=0)

    # and through autograd: vector-Jacobian product with a random upstream gradient
    g = torch.from_numpy(rng.normal(size=ref_out.shape))
    out.backward(g)
    np.testing.assert_allclose(
        xt.grad.numpy(), np.einsum("no,noi->ni", g.numpy(), ref_in), atol=1e-8, rtol=0
    )
    if spec.n_weights:
        np.testing.assert_allclose(
            layer.weight.grad.numpy(), np.einsum("no,now->w", g.numpy(), ref_w), atol=1e-8, rtol=0
        )
