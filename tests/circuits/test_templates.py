"""Templates against an independent numpy statevector and qiskit-machine-learning (issue 15)."""

import numpy as np
import pytest
import torch
from qiskit.circuit.library import efficient_su2, n_local, real_amplitudes, zz_feature_map
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp

import hybridqml as hq
from hybridqml import circuits
from hybridqml.exceptions import CircuitError

I2 = np.eye(2)


def rx(t):
    return np.array([[np.cos(t / 2), -1j * np.sin(t / 2)], [-1j * np.sin(t / 2), np.cos(t / 2)]])


def ry(t):
    return np.array([[np.cos(t / 2), -np.sin(t / 2)], [np.sin(t / 2), np.cos(t / 2)]])


def rz(t):
    return np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)])


ROT = {"x": rx, "y": ry, "z": rz}


def one(psi, n, q, m):
    """Apply a 2x2 matrix to qubit q (index bit q, little-endian) by explicit index pairs."""
    out = psi.copy()
    for i in range(1 << n):
        if not (i >> q) & 1:
            j = i | (1 << q)
            out[i] = m[0, 0] * psi[i] + m[0, 1] * psi[j]
            out[j] = m[1, 0] * psi[i] + m[1, 1] * psi[j]
    return out


def cnot(psi, n, c, t):
    out = psi.copy()
    for i in range(1 << n):
        if (i >> c) & 1:
            out[i] = psi[i ^ (1 << t)]
    return out


def z_expectations(psi, n):
    p = np.abs(psi) ** 2
    return [float(sum(p[i] * (1 - 2 * ((i >> q) & 1)) for i in range(1 << n))) for q in range(n)]


def strongly_entangling_reference(x, w, ranges, reupload=False):
    """PennyLane's AngleEmbedding(rotation='X') + StronglyEntanglingLayers, written out."""
    layers, n, _ = w.shape
    psi = np.zeros(1 << n, dtype=complex)
    psi[0] = 1
    for layer in range(layers):
        for q in range(n if layer == 0 or reupload else 0):
            psi = one(psi, n, q, rx(x[q]))
        for q in range(n):
            phi, theta, omega = w[layer, q]
            psi = one(psi, n, q, rz(omega) @ ry(theta) @ rz(phi))  # qml.Rot
        for q in range(n):
            psi = cnot(psi, n, q, (q + ranges[layer]) % n)
    return z_expectations(psi, n)


@pytest.mark.parametrize(
    ("n", "layers", "ranges", "reupload"),
    [(3, 2, None, False), (4, 3, [3, 1, 2], False), (2, 1, None, False), (3, 2, None, True)],
)
def test_strongly_entangling_matches_pennylanes_definition(n, layers, ranges, reupload):
    rng = np.random.default_rng(n)
    w = rng.uniform(-np.pi, np.pi, size=(layers, n, 3))  # PennyLane's weight shape
    x = rng.uniform(-np.pi, np.pi, size=n)
    spec = circuits.strongly_entangling(n, layers, ranges=ranges, reupload=reupload)
    layer = hq.QuantumLayer(spec, backend="torch", init=torch.from_numpy(w.reshape(-1)))
    default = [(i % (n - 1)) + 1 for i in range(layers)]
    expected = strongly_entangling_reference(x, w, ranges or default, reupload)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(), expected, atol=1e-10)


def test_rotation_layers_with_reuploading_match_a_written_out_circuit():
    n, layers, rotations = 3, 2, "xzy"
    rng = np.random.default_rng(7)
    w = rng.uniform(-np.pi, np.pi, size=(layers, n, len(rotations)))
    x = rng.uniform(-np.pi, np.pi, size=n)
    psi = np.zeros(1 << n, dtype=complex)
    psi[0] = 1
    for layer in range(layers):
        for q in range(n):  # encoded before every layer
            psi = one(psi, n, q, ry(x[q]))
        for q in range(n):
            for a, axis in enumerate(rotations):
                psi = one(psi, n, q, ROT[axis](w[layer, q, a]))
        for c, t in [(0, 1), (1, 2), (2, 0)]:
            psi = cnot(psi, n, c, t)
    spec = circuits.rotation_layers(n, layers, rotations=rotations, reupload=True)
    layer = hq.QuantumLayer(spec, init=torch.from_numpy(w.reshape(-1)))
    out = layer(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, z_expectations(psi, n), atol=1e-10)
    once = circuits.rotation_layers(n, layers, rotations=rotations)  # without re-uploading
    assert once.circuit.count_ops()["ry"] == n + layers * n  # one encoding + one y per block


@pytest.mark.parametrize(
    "make_ansatz",
    [
        lambda: efficient_su2(3, reps=1),
        lambda: real_amplitudes(3, reps=2),
        lambda: n_local(3, ["ry", "rz"], "cz", entanglement="circular", reps=2),
    ],
    ids=["efficient_su2", "real_amplitudes", "n_local"],
)
def test_from_qiskit_splits_library_circuits_like_qiskit_ml(make_ansatz):
    qml_nn = pytest.importorskip("qiskit_machine_learning.neural_networks")
    fm, ansatz = zz_feature_map(3, reps=2), make_ansatz()
    w = np.random.default_rng(0).uniform(-1, 1, ansatz.num_parameters)
    x = np.random.default_rng(1).uniform(-1, 1, (3, 3))
    qnn = qml_nn.EstimatorQNN(
        circuit=fm.compose(ansatz),
        estimator=StatevectorEstimator(),
        input_params=fm.parameters,
        weight_params=ansatz.parameters,
        default_precision=0.0,
    )
    for spec in (
        circuits.from_qiskit(fm, ansatz, observables="ZZZ"),
        circuits.from_qiskit(fm.compose(ansatz), observables="ZZZ"),
        circuits.from_qiskit(fm.compose(ansatz), inputs=fm, observables=SparsePauliOp("ZZZ")),
    ):
        assert spec.input_params == tuple(fm.parameters)
        assert spec.weight_params == tuple(ansatz.parameters)
        layer = hq.QuantumLayer(spec, init=torch.from_numpy(w))
        out = layer(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(out, qnn.forward(x, w), atol=1e-10)


def test_template_errors_name_the_fix():
    with pytest.raises(CircuitError, match="axes x, y, z"):
        circuits.rotation_layers(2, rotations="q")
    with pytest.raises(CircuitError, match="ranges"):
        circuits.strongly_entangling(3, 2, ranges=[1])
    with pytest.raises(CircuitError, match="ranges"):
        circuits.strongly_entangling(3, 1, ranges=[3])
    with pytest.raises(CircuitError, match="inputs="):
        circuits.from_qiskit(real_amplitudes(2))
    with pytest.raises(CircuitError, match="qubits"):
        circuits.from_qiskit(zz_feature_map(2), real_amplitudes(3))
