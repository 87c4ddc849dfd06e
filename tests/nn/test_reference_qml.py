"""Agreement with an independent implementation: qiskit-machine-learning's EstimatorQNN."""

import numpy as np
import pytest
import torch
from _circuits import rich_spec
from qiskit.primitives import StatevectorEstimator

import hybridqml as hq
from hybridqml import circuits

qml_nn = pytest.importorskip("qiskit_machine_learning.neural_networks")
qml_grad = pytest.importorskip("qiskit_machine_learning.gradients")


SPECS = {
    "reused-expressions-controlled": rich_spec,
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

    layer = hq.QuantumLayer(spec, init=torch.from_numpy(w))  # float64 weights kept
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
