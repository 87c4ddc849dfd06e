"""The noisy torch engine against independent references.

References: Aer's ``density_matrix`` method on the very circuits the engine simulates (its
transpiled ISA circuits, bound with ``ShiftableCircuit.angles``), with the readout error applied
as the written-out Kronecker product of the assignment matrices; the ``fake_<device>`` backend
(numpy blocks / Aer); central differences; closed forms.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _circuits import mixed_spec, rich_spec
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator
from qiskit_aer.noise import (
    NoiseModel,
    ReadoutError,
    amplitude_damping_error,
    depolarizing_error,
    phase_damping_error,
)
from scipy.stats import chi2

import hybridqml as hq
from hybridqml import circuits
from hybridqml.backends.torchsim._noisy_executor import NoisyTorchExecutor, check_noisy_options
from hybridqml.circuits._outputs import Probabilities
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.exceptions import BackendError, ConfigurationError
from hybridqml.hardware import device_noise_model, fake_device

RNG = np.random.default_rng(23)


def _noise_model() -> NoiseModel:
    """Depolarizing, amplitude and phase damping on gates, and asymmetric readout errors."""
    noise = NoiseModel()
    one = depolarizing_error(0.02, 1).compose(amplitude_damping_error(0.05))
    noise.add_all_qubit_quantum_error(one.compose(phase_damping_error(0.03)), ["ry", "rx", "u"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.04, 2), ["cx", "cry", "crx", "rzz"])
    noise.add_all_qubit_quantum_error(phase_damping_error(0.07), ["rz", "h"])
    noise.add_all_qubit_readout_error(ReadoutError([[0.95, 0.05], [0.1, 0.9]]))
    noise.add_readout_error(ReadoutError([[0.9, 0.1], [0.03, 0.97]]), [1])
    return noise


def _readout(noise: NoiseModel, qubit: int) -> np.ndarray:
    error = noise._local_readout_errors.get((qubit,), noise._default_readout_error)
    return np.eye(2) if error is None else np.asarray(error.probabilities)


def _aer_probabilities(isa: QuantumCircuit, values: np.ndarray, sim: AerSimulator, noise):
    """Recorded-outcome probabilities (bit j: clbit j) per row, by Aer's density matrix."""
    rows = []
    for row in np.atleast_2d(values):
        bound = isa.assign_parameters(dict(zip(isa.parameters, row, strict=True)))
        body = bound.copy_empty_like()
        measured = {}
        for inst in bound.data:
            if inst.operation.name == "measure":
                measured[bound.find_bit(inst.clbits[0]).index] = bound.find_bit(
                    inst.qubits[0]
                ).index
            else:
                body.append(inst)
        order = [measured[c] for c in sorted(measured)]
        body.save_probabilities(order, label="p")
        p = np.asarray(sim.run(body).result().data()["p"])
        full = np.ones((1, 1))
        for q in order:  # kron: the last measured bit is the most significant
            full = np.kron(_readout(noise, q), full)
        rows.append(p @ full)
    return np.array(rows)


def _reference(executor: NoisyTorchExecutor, spec, theta: np.ndarray, sim, noise) -> np.ndarray:
    """Outputs of the executor's circuits computed with Aer and written-out sums."""
    shiftable = ShiftableCircuit(spec)
    angles = shiftable.angles(theta)
    out = np.zeros((len(theta), spec.n_outputs))
    for isa, terms in zip(executor.isa_circuits, executor._terms, strict=True):
        from hybridqml.execution._isa import parameter_columns

        cols = parameter_columns(isa, shiftable.n_angles)
        p = _aer_probabilities(isa, angles[:, cols], sim, noise)
        if spec.probabilities is not None:
            return spec.probabilities.combine(p)
        labels = [
            (label, coeff, o)
            for o, obs in enumerate(spec.observables)
            for label, coeff in zip(obs.paulis.to_labels(), obs.coeffs, strict=True)
            if set(label) != {"I"}
        ]
        for t in terms:
            label, coeff, o = labels[t]
            n = len(label)
            mask = sum(1 << q for q in range(n) if label[n - 1 - q] != "I")
            parity = np.array([(-1) ** bin(x & mask).count("1") for x in range(p.shape[1])])
            out[:, o] += coeff.real * (p @ parity)
    for o, obs in enumerate(spec.observables):  # identity terms
        for label, coeff in zip(obs.paulis.to_labels(), obs.coeffs, strict=True):
            if set(label) == {"I"}:
                out[:, o] += coeff.real
    return out


def _theta(spec, rows: int) -> np.ndarray:
    return RNG.uniform(-np.pi, np.pi, size=(rows, len(spec.parameters)))


SLOW = pytest.mark.slow
DEVICE_CASES = [
    pytest.param("fake_manila", lambda: circuits.variational(4, 2), marks=SLOW, id="manila-4"),
    pytest.param("fake_nairobi", lambda: circuits.variational(3, 1), marks=SLOW, id="nairobi-3"),
    pytest.param("fake_nairobi", lambda: circuits.variational(7, 1), marks=SLOW, id="nairobi-7"),
    pytest.param("fake_manila", mixed_spec, id="manila-mixed"),  # X, Y terms: several groups
]


@pytest.mark.parametrize(("device", "make"), DEVICE_CASES)
def test_fake_device_values_equal_aers_density_matrix(device, make):
    spec = make()
    ex = NoisyTorchExecutor(spec, check_noisy_options(None, {"device": device}))
    dev = fake_device(device)
    noise = device_noise_model(dev)
    sim = AerSimulator.from_backend(dev, method="density_matrix", noise_model=noise)
    theta = _theta(spec, 3)
    np.testing.assert_allclose(ex.run(theta), _reference(ex, spec, theta, sim, noise), atol=1e-10)
    if device == "fake_nairobi" and spec.circuit.num_qubits == 7:
        blocks = [b for isa in ex.isa_circuits for b in ex.sampler.blocks(isa)]
        assert max(b.n_qubits for b in blocks) >= 7


@pytest.mark.parametrize("make", [rich_spec, mixed_spec, lambda: circuits.variational(3, 2)])
def test_noise_model_values_equal_aers_density_matrix(make):
    spec, noise = make(), _noise_model()
    ex = NoisyTorchExecutor(spec, check_noisy_options(None, {"noise_model": noise}))
    sim = AerSimulator(method="density_matrix", noise_model=noise)
    theta = _theta(spec, 4)
    reference = _reference(ex, spec, theta, sim, noise)
    np.testing.assert_allclose(ex.run(theta), reference, atol=1e-10)
    layer = hq.QuantumLayer(spec, backend="torch", backend_options={"noise_model": noise})
    layer = layer.double()
    n_in = len(spec.input_params)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(theta[0, n_in:]))
        out = layer(torch.as_tensor(theta[:, :n_in])).numpy()
    shared = np.hstack([theta[:, :n_in], np.tile(theta[0, n_in:], (4, 1))])
    np.testing.assert_allclose(out, _reference(ex, spec, shared, sim, noise), atol=1e-10)


@pytest.mark.slow
def test_sampler_layer_probabilities_equal_aer_and_the_fake_device_backend():
    spec = circuits.variational(3, 1)
    theta = _theta(spec, 2)
    n_in = 3
    x = torch.as_tensor(theta[:, :n_in])
    torch_layer = hq.SamplerLayer(
        spec, backend="torch", backend_options={"device": "fake_manila"}
    ).double()
    fake_layer = hq.SamplerLayer(spec, backend="fake_manila").double()
    for layer in (torch_layer, fake_layer):
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(theta[0, n_in:]))
    with torch.no_grad():
        got, want = torch_layer(x).numpy(), fake_layer(x).numpy()
    np.testing.assert_allclose(got, want, atol=1e-10)
    readout_spec = spec.with_outputs(Probabilities())
    ex = NoisyTorchExecutor(readout_spec, check_noisy_options(None, {"device": "fake_manila"}))
    dev = fake_device("fake_manila")
    noise = device_noise_model(dev)
    sim = AerSimulator.from_backend(dev, method="density_matrix", noise_model=noise)
    full = np.hstack([theta[:, :n_in], np.tile(theta[0, n_in:], (2, 1))])
    np.testing.assert_allclose(got, _reference(ex, readout_spec, full, sim, noise), atol=1e-10)
    assert abs(got.sum(axis=1) - 1).max() < 1e-12


@pytest.mark.parametrize(
    "options",
    [pytest.param({"device": "fake_manila"}, marks=SLOW), {"noise_model": "model"}],
)
def test_backprop_equals_parameter_shift_and_central_differences(options):
    spec = mixed_spec() if "noise_model" in options else circuits.variational(3, 1)
    if options.get("noise_model") == "model":
        options = {"noise_model": _noise_model()}
    x = torch.as_tensor(_theta(spec, 3)[:, : len(spec.input_params)], dtype=torch.float64)
    grads, outs = {}, {}
    for gradient in ("backprop", "parameter-shift"):
        layer = hq.QuantumLayer(spec, backend="torch", gradient=gradient, backend_options=options)
        layer = layer.double()
        with torch.no_grad():
            layer.weight.copy_(torch.linspace(-1.0, 1.3, layer.weight.numel(), dtype=torch.float64))
        xi = x.clone().requires_grad_()
        out = layer(xi)
        (out * torch.arange(1, out.shape[1] + 1)).sum().backward()
        grads[gradient] = (xi.grad.numpy(), layer.weight.grad.numpy())
        outs[gradient] = out.detach().numpy()
    np.testing.assert_allclose(outs["backprop"], outs["parameter-shift"], atol=1e-12)
    for a, b in zip(grads["backprop"], grads["parameter-shift"], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-7)
    # central differences of the forward values, weight by weight
    ex = NoisyTorchExecutor(spec, check_noisy_options(None, options))
    n_in = x.shape[1]
    theta = np.hstack([x.numpy(), np.tile(np.linspace(-1.0, 1.3, len(spec.weight_params)), (3, 1))])
    scale = np.arange(1, spec.n_outputs + 1)
    h = 1e-5
    for j in range(theta.shape[1]):
        plus, minus = theta.copy(), theta.copy()
        plus[:, j] += h
        minus[:, j] -= h
        diff = ((ex.run(plus) - ex.run(minus)) @ scale) / (2 * h)
        want = grads["backprop"][0][:, j] if j < n_in else grads["backprop"][1][j - n_in]
        got = diff if j < n_in else diff.sum()
        np.testing.assert_allclose(got, want, atol=1e-7)


def test_shots_follow_the_exact_noisy_distribution_g_test():
    spec = circuits.variational(3, 1)
    shots = 40_000
    layer = hq.SamplerLayer(
        spec,
        backend="torch",
        shots=shots,
        seed=11,
        gradient="parameter-shift",
        backend_options={"device": "fake_manila"},
    )
    exact = hq.SamplerLayer(spec, backend="torch", backend_options={"device": "fake_manila"})
    x = torch.as_tensor(_theta(spec, 3)[:, :3])
    with torch.no_grad():
        for lay in (layer, exact):
            lay.weight.copy_(torch.tensor([0.3, -1.1, 2.0]))
        counts = (layer(x).double().numpy() * shots).round()
        probs = exact(x).double().numpy()
    for c, p in zip(counts, probs, strict=True):
        assert c.sum() == shots
        keep = p * shots >= 5
        obs = np.append(c[keep], c[~keep].sum())
        exp = np.append(p[keep], p[~keep].sum()) * shots
        obs, exp = obs[exp > 0], exp[exp > 0]
        g = 2 * np.sum(np.where(obs > 0, obs * np.log(np.maximum(obs, 1) / exp), 0.0))
        assert chi2.sf(g, len(obs) - 1) > 1e-3


def test_fourteen_active_qubits_are_refused_before_allocating():
    spec = circuits.variational(14, 1)
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 2), ["cx"])
    with pytest.raises(BackendError, match=r"(?s)14 connected active qubits.*4\*\*14.*budget"):
        hq.QuantumLayer(spec, backend="torch", backend_options={"noise_model": noise})


def test_chunked_and_checkpointed_backprop_equals_one_pass():
    spec, noise = circuits.variational(4, 1), _noise_model()
    x = torch.as_tensor(_theta(spec, 5)[:, :4]).requires_grad_()
    results = []
    whole = NoisyTorchExecutor(spec, check_noisy_options(None, {"noise_model": noise}))
    plain, _ = whole._per_sample(torch.complex128, True)
    for budget in (None, plain - 1):  # just under one sample's graph: segments, chunks
        options = {"noise_model": noise} | ({} if budget is None else {"max_memory_bytes": budget})
        ex = NoisyTorchExecutor(spec, check_noisy_options(None, options))
        theta = torch.cat([x, torch.full((5, 4), 0.4, dtype=torch.float64)], 1)
        _, segment = ex._per_sample(torch.complex128, True)
        assert (segment is not None) == (budget is not None)
        out = ex._outputs(theta)
        (grad,) = torch.autograd.grad(out.sum(), x)
        results.append((out.detach(), grad))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=1e-12)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=0, atol=1e-12)


def test_one_sample_over_the_budget_is_refused_with_the_numbers():
    spec = circuits.variational(4, 1)
    with pytest.raises(BackendError, match=r"(?s)need [\d,]+ bytes.*budget is 4,000 bytes"):
        NoisyTorchExecutor(
            spec,
            check_noisy_options(None, {"noise_model": _noise_model(), "max_memory_bytes": 4000}),
        )


def test_complex64_on_request_and_output_dtype_follows_the_input():
    spec, noise = circuits.variational(3, 1), _noise_model()
    x = torch.as_tensor(_theta(spec, 2)[:, :3])
    exact = hq.QuantumLayer(spec, backend="torch", backend_options={"noise_model": noise})
    single = hq.QuantumLayer(
        spec, backend="torch", backend_options={"noise_model": noise, "dtype": "complex64"}
    )
    single.load_state_dict(exact.state_dict())
    a, b = exact(x), single(x.float())
    assert a.dtype == torch.float64 and b.dtype == torch.float32
    assert exact(x.float()).dtype == torch.float32
    torch.testing.assert_close(b.double(), a, rtol=0, atol=1e-5)


def test_independent_qubits_are_simulated_as_separate_blocks():
    spec = circuits.ry(3)  # no entangling gate: three one-qubit blocks
    ex = NoisyTorchExecutor(spec, check_noisy_options(None, {"noise_model": _noise_model()}))
    assert [b.n_qubits for b in ex.sampler.blocks(ex.isa_circuits[0])] == [1, 1, 1]
    noise = _noise_model()
    theta = _theta(spec, 2)
    sim = AerSimulator(method="density_matrix", noise_model=noise)
    np.testing.assert_allclose(ex.run(theta), _reference(ex, spec, theta, sim, noise), atol=1e-10)


@pytest.mark.parametrize(
    ("options", "shots", "gradient", "message"),
    [
        ({"device": "fake_manila"}, 100, None, "gradient='parameter-shift'"),
        ({"device": "fake_manila", "bogus": 1}, None, None, "unknown backend_options"),
        ({"device": "fake_manila", "dtype": "half"}, None, None, "complex64"),
        ({"device": object()}, None, None, "unknown backend_options"),  # plain torch
    ],
)
def test_bad_requests_are_refused_clearly(options, shots, gradient, message):
    with pytest.raises(ConfigurationError, match=message):
        hq.QuantumLayer(circuits.ry(1), backend="torch", shots=shots, backend_options=options)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_inputs_give_cuda_outputs_equal_to_the_cpu():  # pragma: no cover - no CUDA here
    spec = circuits.variational(3, 1)
    layer = hq.QuantumLayer(spec, backend="torch", backend_options={"device": "fake_manila"})
    x = torch.as_tensor(_theta(spec, 2)[:, :3])
    cpu = layer(x)
    gpu = layer.cuda()(x.cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-10)


@pytest.mark.slow
def test_conformance_values_and_probabilities_on_a_noise_model():
    from hybridqml.testing import check_backend

    report = check_backend(
        "torch",
        backend_options={"noise_model": _noise_model()},
        checks=["values", "gradients", "probabilities"],
    )
    assert report.reference == "Aer density matrix"
    assert report.ran == ("values", "gradients", "probabilities")


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        {"seed": None},  # backprop transpiles with the default transpiler seed
        {"gradient": "parameter-shift", "shots": 2000},
    ],
)
def test_conformance_suite_passes_on_a_fake_device(options):
    from hybridqml.testing import check_backend

    report = check_backend("torch", backend_options={"device": "fake_manila"}, **options)
    assert report.reference == "Aer density matrix"
    assert {"values", "gradients", "probabilities"} <= set(report.ran)


@pytest.mark.slow
def test_ten_active_qubits_batch_eight_forward_and_backward_fit_the_default_budget():
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["ry"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 2), ["cx"])
    spec = circuits.variational(10, 1)
    ex = NoisyTorchExecutor(spec, check_noisy_options(None, {"noise_model": noise}))
    assert max(b.n_qubits for b in ex.sampler.blocks(ex.isa_circuits[0])) == 10
    x = torch.as_tensor(_theta(spec, 8)[:, :10]).requires_grad_()
    w = torch.full((10,), 0.3, dtype=torch.float64, requires_grad=True)
    out = ex.expectations(x, w)
    out.sum().backward()
    assert out.shape == (8, 10) and x.grad.shape == (8, 10) and torch.isfinite(w.grad).all()
    # the first sample against Aer's density matrix
    sim = AerSimulator(method="density_matrix", noise_model=noise)
    theta = np.hstack([x.detach().numpy()[:1], w.detach().numpy()[None]])
    reference = _reference(ex, spec, theta, sim, noise)
    np.testing.assert_allclose(out.detach().numpy()[:1], reference, atol=1e-10)


def test_probability_outputs_equal_aers_density_matrix_under_a_noise_model():
    spec, noise = (
        circuits.variational(3, 1).with_outputs(Probabilities(qubits=[2, 0])),
        _noise_model(),
    )
    ex = NoisyTorchExecutor(spec, check_noisy_options(None, {"noise_model": noise}))
    sim = AerSimulator(method="density_matrix", noise_model=noise)
    theta = _theta(spec, 3)
    got = ex.run(theta)
    np.testing.assert_allclose(got, _reference(ex, spec, theta, sim, noise), atol=1e-10)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-12)


def test_rotations_errors_and_entanglers_fuse_into_two_qubit_passes():
    """variational(8, 2) under gate noise: 40 gates and 40 channels in 16 passes.

    Each pass acts on at most two qubits; the values still equal Aer's (tests above), so the
    reordering the fusion does (an instruction joins the last pass on its qubits) is exact.
    """
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["ry"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 2), ["cx"])
    ex = NoisyTorchExecutor(
        circuits.variational(8, 2), check_noisy_options(None, {"noise_model": noise})
    )
    (block,) = ex.sampler.blocks(ex.isa_circuits[0])
    widths = [len(step.axes) // 2 for step in block.steps]
    assert block.n_qubits == 8 and max(widths) == 2
    # one pass per gate and channel would be 80; the old fusion (runs on nested qubit sets in
    # program order) made 31
    assert block.n_steps == 16
    assert sum(step.kind == "trig" for step in block.steps) == 8
