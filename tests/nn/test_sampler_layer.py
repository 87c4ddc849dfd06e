"""Probability outputs (SamplerLayer) against qiskit-ML's SamplerQNN and Statevector."""

import numpy as np
import pytest
import torch
from _doubles import ExactSampler
from _noisy_reference import aer_reference
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.primitives import StatevectorEstimator, StatevectorSampler
from qiskit.quantum_info import Statevector

import hybridqml as hq
from hybridqml import circuits
from hybridqml.exceptions import CircuitError, ConfigurationError
from hybridqml.execution._tracking import Tracker

qml_nn = pytest.importorskip("qiskit_machine_learning.neural_networks")
qml_grad = pytest.importorskip("qiskit_machine_learning.gradients")


def three_qubit_spec():
    x, w = ParameterVector("x", 3), ParameterVector("w", 6)
    qc = QuantumCircuit(3)
    for q in range(3):
        qc.h(q)
        qc.ry(x[q], q)
    qc.rzz(w[0], 0, 1)
    qc.cx(1, 2)
    for q in range(3):
        qc.rx(w[1 + q], q)
    qc.crz(w[4], 2, 0)
    qc.ry(w[5] * x[0], 1)  # a product of an input and a weight: chain rule
    return hq.ParameterizedCircuit(qc, list(x), list(w))


def reference_qnn(spec, interpret=None, output_shape=None):
    sampler = ExactSampler()
    qc = spec.circuit
    qc.measure_all()
    return qml_nn.SamplerQNN(
        circuit=qc,
        sampler=sampler,
        input_params=list(spec.input_params),
        weight_params=list(spec.weight_params),
        interpret=interpret,
        output_shape=output_shape,
        input_gradients=True,
        gradient=qml_grad.ParamShiftSamplerGradient(sampler),
    )


@pytest.mark.parametrize(
    ("backend", "gradient"),
    [("aer", None), ("torch", None), ("torch", "parameter-shift")],
)
def test_parity_layer_matches_sampler_qnn_to_1e8(backend, gradient):
    spec = three_qubit_spec()
    qnn = reference_qnn(spec, circuits.parity, 2)
    rng = np.random.default_rng(3)
    x = rng.uniform(-np.pi, np.pi, size=(4, 3))
    w = rng.uniform(-np.pi, np.pi, size=6)
    ref_out = qnn.forward(x, w)
    ref_in, ref_w = qnn.backward(x, w)  # (B, O, 3), (B, O, 6)

    layer = hq.SamplerLayer(
        spec,
        interpret=circuits.parity,
        output_size=2,
        backend=backend,
        gradient=gradient,
        init=torch.from_numpy(w),
    )
    xt = torch.from_numpy(x).requires_grad_()
    out = layer(xt)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, atol=1e-8, rtol=0)
    for o in range(2):  # the full Jacobian, one output at a time
        gx, gw = torch.autograd.grad(out[:, o].sum(), (xt, layer.weight), retain_graph=True)
        np.testing.assert_allclose(gx.numpy(), ref_in[:, o, :], atol=1e-8, rtol=0)
        np.testing.assert_allclose(gw.numpy(), ref_w[:, o, :].sum(0), atol=1e-8, rtol=0)


def test_full_distribution_matches_sampler_qnn_and_sums_to_one():
    spec = three_qubit_spec()
    qnn = reference_qnn(spec)
    x = np.random.default_rng(4).uniform(-2, 2, size=(3, 3))
    w = np.linspace(-1, 1, 6)
    layer = hq.SamplerLayer(spec, init=torch.from_numpy(w))
    out = layer(torch.from_numpy(x)).detach().numpy()
    assert out.shape == (3, 8)
    np.testing.assert_allclose(out, qnn.forward(x, w), atol=1e-10, rtol=0)
    np.testing.assert_allclose(out.sum(1), 1.0, atol=1e-12)


@pytest.mark.parametrize("backend", ["aer", "torch"])
@pytest.mark.parametrize("qubits", [[2, 0], [1], [0, 1, 2]])
def test_subset_of_qubits_is_the_little_endian_marginal(backend, qubits):
    spec = three_qubit_spec()
    w = np.linspace(0.3, 2.0, 6)
    x = np.array([[0.2, -1.1, 2.4]])
    layer = hq.SamplerLayer(spec, qubits=qubits, backend=backend, init=torch.from_numpy(w))
    out = layer(torch.from_numpy(x)).detach().numpy()[0]
    bound = spec.circuit.assign_parameters(dict(zip(spec.parameters, [*x[0], *w], strict=True)))
    # Statevector.probabilities(qargs): qargs[0] is the least significant bit
    np.testing.assert_allclose(out, Statevector(bound).probabilities(qubits), atol=1e-10)


def test_shots_sample_the_exact_distribution_and_passes_are_one_call_each():
    spec = circuits.variational(3, 1)
    w = torch.linspace(-1.0, 1.0, 3, dtype=torch.float64)
    x = torch.tensor([[0.3, 1.2, -0.7], [2.0, 0.1, 0.5]], dtype=torch.float64)
    exact = hq.SamplerLayer(spec, init=w)(x).detach().numpy()
    layer = hq.SamplerLayer(spec, shots=20_000, seed=5, init=w)
    xs = x.clone().requires_grad_()
    with Tracker() as tracker:
        out = layer(xs)
        out[:, 3].sum().backward()
    assert tracker.calls == 2 and tracker.shots == 20_000 * (2 + 2 * 2 * 6)
    sampled = out.detach().numpy()
    assert np.all(sampled * 20_000 == np.round(sampled * 20_000))  # genuine counts
    sigma = np.sqrt(exact * (1 - exact) / 20_000)
    assert np.all(np.abs(sampled - exact) < 5 * sigma + 1e-12)
    assert not np.allclose(sampled, exact, atol=1e-6)  # really sampled


def test_fake_device_exact_noise_includes_readout_and_matches_trajectories():
    spec = circuits.variational(2, 1)
    w = torch.tensor([0.4, -0.8], dtype=torch.float64)
    x = torch.tensor([[0.0, 0.0], [1.3, -0.4]], dtype=torch.float64)
    ideal = hq.SamplerLayer(spec, init=w)(x).detach().numpy()
    noisy = hq.SamplerLayer(spec, backend="fake_manila", init=w)(x).detach().numpy()
    assert np.abs(noisy - ideal).max() > 0.01  # the device's noise shows
    # at x = w = 0 the ideal state is |00>: every other outcome is gate or readout error
    assert noisy[0, 0] < 1.0 - 1e-3
    shots = 20_000
    trajectories = hq.SamplerLayer(
        spec,
        backend="fake_manila",
        shots=shots,
        seed=3,
        init=w,
        backend_options={"noisy_simulation": "trajectories"},  # Aer's own noisy sampler
    )
    sampled = trajectories(x).detach().numpy()
    sigma = np.sqrt(noisy * (1 - noisy) / shots)
    assert np.all(np.abs(sampled - noisy) < 5 * sigma + 2e-3)


def test_any_sampler_v2_counts_its_bitstrings():
    spec = circuits.variational(2, 1)
    w = torch.tensor([0.4, -0.8], dtype=torch.float64)
    x = torch.tensor([[0.5, 1.0]], dtype=torch.float64, requires_grad=True)
    exact = hq.SamplerLayer(spec, interpret=circuits.parity, output_size=2, init=w)
    layer = hq.SamplerLayer(
        spec,
        interpret=circuits.parity,
        output_size=2,
        backend=StatevectorSampler(seed=11),
        shots=40_000,
        init=w,
    )
    with Tracker() as tracker:
        out = layer(x)
        out[:, 1].sum().backward()
    assert tracker.calls == 2
    np.testing.assert_allclose(out.detach().numpy(), exact(x).detach().numpy(), atol=0.015)
    ex_grad = torch.autograd.grad(exact(x)[:, 1].sum(), x)[0]
    np.testing.assert_allclose(x.grad.numpy(), ex_grad.numpy(), atol=0.03)


def test_ibm_runtime_local_session_runs_probabilities():
    runtime = pytest.importorskip("qiskit_ibm_runtime")
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    spec = circuits.ry(1)
    with runtime.Session(backend=FakeManilaV2()) as session:
        layer = hq.SamplerLayer(spec, backend=session, shots=4000, seed=1)
        out = layer(torch.tensor([[np.pi / 2], [-np.pi / 2]])).detach().numpy()
    # H then RY(+-pi/2): |1> and |0>, up to the device's noise
    np.testing.assert_allclose(out, [[0.0, 1.0], [1.0, 0.0]], atol=0.1)


def test_estimator_backends_and_adjoint_are_refused_with_a_hint():
    spec = circuits.ry(1)
    with pytest.raises(ConfigurationError, match="BaseSamplerV2"):
        hq.SamplerLayer(spec, backend=StatevectorEstimator())
    with pytest.raises(ConfigurationError, match="backprop"):
        hq.SamplerLayer(spec, backend="torch", gradient="adjoint")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"interpret": circuits.parity}, "output_size"),
        ({"interpret": lambda v: v, "output_size": 2}, r"interpret\(2\) returned 2"),
        ({"interpret": lambda v: 1 / 0, "output_size": 2}, "ZeroDivisionError"),
        ({"output_size": 3}, "8 outcomes"),
        ({"qubits": [0, 0]}, "twice"),
        ({"qubits": [5]}, "0..2"),
        ({"qubits": []}, "distinct"),
        ({"interpret": circuits.parity, "output_size": 0}, "positive"),
    ],
)
def test_bad_readouts_are_clear_circuit_errors(kwargs, match):
    with pytest.raises(CircuitError, match=match):
        hq.SamplerLayer(circuits.ry(3), **kwargs)


def test_probability_spec_pickles_without_its_interpret_function():
    import pickle

    layer = hq.SamplerLayer(circuits.ry(2), interpret=lambda v: v % 2, output_size=2)
    x = torch.tensor([[0.4, 1.1]])
    clone = pickle.loads(pickle.dumps(layer))
    torch.testing.assert_close(clone(x), layer(x))
    assert clone.spec.probabilities == layer.spec.probabilities


def test_readout_combine_equals_the_dense_matrix_in_any_outcome_order():
    readout = circuits.Probabilities(
        qubits=[2, 0, 3], interpret=lambda v: (7 * v) % 5, output_size=5
    ).resolve(4)
    rng = np.random.default_rng(8)
    dist = rng.random((3, 8))
    np.testing.assert_allclose(readout.combine(dist), dist @ readout.matrix(), atol=1e-15)
    seen = np.array([6, 1, 3])  # a sampler reports only the outcomes it saw, in its order
    np.testing.assert_allclose(
        readout.combine(dist[:, :3], seen), dist[:, :3] @ readout.matrix()[seen], atol=1e-15
    )
    full = circuits.Probabilities().resolve(2)
    assert full.is_identity and not readout.is_identity
    np.testing.assert_array_equal(full.combine(dist[:, :4], np.array([3, 2, 1, 0])), dist[:, 3::-1])


@pytest.mark.parametrize("backend", ["aer", "torch"])
def test_a_16_qubit_distribution_is_exact_without_a_dense_outcome_matrix(backend):
    # a dense 2**16 x 2**16 outcome -> output matrix would need 32 GiB: building one fails here
    n = 16
    spec = circuits.variational(n, 1)
    w = torch.linspace(-1.0, 1.0, n, dtype=torch.float64)
    x = torch.linspace(0.1, 2.9, 2 * n, dtype=torch.float64).reshape(2, n)
    layer = hq.SamplerLayer(spec, backend=backend, init=w)
    out = layer(x.clone().requires_grad_() if backend == "torch" else x)
    assert out.shape == (2, 1 << n)
    for row in range(2):
        values = dict(zip(spec.parameters, [*x[row].tolist(), *w.tolist()], strict=True))
        ref = Statevector(spec.circuit.assign_parameters(values)).probabilities()
        np.testing.assert_allclose(out[row].detach().numpy(), ref, atol=1e-10, rtol=0)
    if backend == "torch":  # backprop through the distribution: d p_0 / dw against shifts
        (gw,) = torch.autograd.grad(out[0, 0], layer.weight)
        shifted = []
        for sign in (1, -1):
            ws = w.clone()
            ws[0] += sign * np.pi / 2
            shifted.append(hq.SamplerLayer(spec, backend="torch", init=ws)(x[:1])[0, 0].item())
        assert gw[0].item() == pytest.approx((shifted[0] - shifted[1]) / 2, abs=1e-10)


def _central_difference(layer, x, output):
    """d layer(x)[:, output] / d x by central finite differences (rows are independent)."""
    grad = np.zeros(x.shape)
    h = 1e-4
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            plus, minus = x.clone(), x.clone()
            plus[i, j] += h
            minus[i, j] -= h
            diff = layer(plus)[i, output] - layer(minus)[i, output]
            grad[i, j] = diff.item() / (2 * h)
    return grad


def _noisy_parity_by_aer(layer, x, w):
    """Parity probabilities of ``layer``'s device circuit, independently: Aer's density matrix
    with the device's noise applied by Aer and readout written out (``tests/_noisy_reference``)
    then the parity summed by hand."""
    executor = layer.engine.executor
    (isa,), (cols,) = executor.isa_circuits, executor._columns
    theta = torch.cat([x, w.expand(len(x), -1)], dim=1).numpy()
    angles = layer.engine.shiftable.angles(theta)[:, cols]
    noise = executor.sampler.simulator.options.noise_model
    probs = aer_reference(isa, angles, noise)  # outcome bit j: the j-th clbit (qubit j here)
    parity = np.array([bin(o).count("1") % 2 for o in range(probs.shape[1])])
    return np.stack([probs[:, parity == 0].sum(1), probs[:, parity == 1].sum(1)], axis=1)


@pytest.mark.parametrize(
    ("backend", "options", "tolerance"),
    [
        ("torch", {}, 1e-10),
        ("torch", {"gradient": "parameter-shift"}, 1e-10),
        ("fake_manila", {}, 1e-6),
        ("fake_manila", {"shots": 40_000, "seed": 2}, 0.03),
        # local mode simulates AerSimulator.from_backend's coarser noise model: looser
        ("ibm-local-session", {"shots": 40_000, "seed": 2}, 0.05),
    ],
)
def test_every_backend_is_one_call_per_pass_with_gradients_by_value(backend, options, tolerance):
    spec = circuits.variational(2, 1)
    w = torch.tensor([0.4, -0.8], dtype=torch.float64)
    x0 = torch.tensor([[0.5, 1.0], [-0.7, 2.2]], dtype=torch.float64)
    noiseless = backend == "torch"
    if noiseless:  # noiseless reference: parameter shift on exact Aer
        reference = hq.SamplerLayer(spec, interpret=circuits.parity, output_size=2, init=w)
        xr = x0.clone().requires_grad_()
        expected_out = reference(xr)
        expected = torch.autograd.grad(expected_out[:, 1].sum(), xr)[0].numpy()
    else:  # the device's exact noisy distribution, differentiated by finite differences
        exact = hq.SamplerLayer(
            spec, interpret=circuits.parity, output_size=2, backend="fake_manila", init=w
        )
        expected_out = torch.from_numpy(_noisy_parity_by_aer(exact, x0, w))
        expected = _central_difference(exact, x0, 1)
    kwargs = dict(interpret=circuits.parity, output_size=2, init=w, **options)
    x = x0.clone().requires_grad_()
    if backend == "ibm-local-session":
        runtime = pytest.importorskip("qiskit_ibm_runtime")
        from qiskit_ibm_runtime.fake_provider import FakeManilaV2

        with runtime.Session(backend=FakeManilaV2()) as session:
            layer = hq.SamplerLayer(spec, backend=session, **kwargs)
            with Tracker() as tracker:
                out = layer(x)
                out[:, 1].sum().backward()
    else:
        layer = hq.SamplerLayer(spec, backend=backend, **kwargs)
        with Tracker() as tracker:
            out = layer(x)
            out[:, 1].sum().backward()
    assert tracker.calls == 2  # one forward call, one backward call
    out_tolerance = tolerance if "shots" not in options else min(tolerance, 0.03)
    np.testing.assert_allclose(
        out.detach().numpy(), expected_out.detach().numpy(), atol=out_tolerance, rtol=0
    )
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=tolerance, rtol=0)
