"""Mitigated layers on fake_manila and Aer noise models, against Statevector references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.quantum_info import Statevector
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

import hybridqml as hq
from hybridqml.exceptions import ConfigurationError
from hybridqml.execution import _mitigated
from hybridqml.mitigation import Mitigation

RNG = np.random.default_rng(0)


def noiseless(spec, x, w=()):
    """<observable> from qiskit's Statevector: the independent noiseless reference."""
    out = []
    for row in np.atleast_2d(x):
        qc = spec.circuit.assign_parameters(dict(zip(spec.parameters, [*row, *w], strict=True)))
        state = Statevector(qc)
        out.append([state.expectation_value(o).real for o in spec.observables])
    return np.array(out)


def depolarizing_only():
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["sx", "x", "rz", "ry", "h"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx"])
    return noise


def readout_only():
    noise = NoiseModel()
    noise.add_readout_error(ReadoutError([[0.93, 0.07], [0.12, 0.88]]), [0])
    noise.add_readout_error(ReadoutError([[0.97, 0.03], [0.05, 0.95]]), [1])
    return noise


def _error(layer, x, ref):
    return float(np.abs(layer(torch.tensor(x)).detach().numpy() - ref).mean())


@pytest.mark.parametrize("shots", [None, 100_000])
def test_readout_cuts_the_error_3x_on_fake_manila(shots):
    spec = hq.circuits.ry(3)  # H and RY per qubit: the noise is mostly readout
    x = RNG.uniform(-np.pi, np.pi, size=(5, 3))
    ref = noiseless(spec, x)
    raw = hq.QuantumLayer(spec, backend="fake_manila", shots=shots, seed=3)
    fixed = hq.QuantumLayer(spec, backend="fake_manila", shots=shots, seed=3, mitigation="readout")
    before, after = _error(raw, x, ref), _error(fixed, x, ref)
    assert before > 0.03  # the device's readout error is there to be mitigated
    assert after * 3 <= before, (before, after)


@pytest.mark.parametrize("shots", [None, 100_000])
def test_zne_cuts_the_error_2x_under_depolarizing_gate_noise(shots):
    spec = hq.circuits.variational(3, 2)
    w = RNG.uniform(-np.pi, np.pi, size=spec.n_weights)
    x = RNG.uniform(-np.pi, np.pi, size=(3, 3))
    ref = noiseless(spec, x, w)
    options = {"backend": "aer", "shots": shots, "seed": 3, "init": torch.tensor(w)}
    options["backend_options"] = {"noise_model": depolarizing_only()}
    before = _error(hq.QuantumLayer(spec, **options), x, ref)
    after = _error(hq.QuantumLayer(spec, mitigation="zne", **options), x, ref)
    assert before > 0.05
    assert after * 2 <= before, (before, after)


def test_readout_only_noise_is_undone_exactly():
    spec = hq.circuits.ry(2)
    x = RNG.uniform(-np.pi, np.pi, size=(4, 2))
    options = {"backend": "aer", "backend_options": {"noise_model": readout_only()}}
    raw = hq.QuantumLayer(spec, **options)(torch.tensor(x)).detach().numpy()
    fixed = hq.QuantumLayer(spec, mitigation="readout", **options)(torch.tensor(x))
    ref = noiseless(spec, x)
    assert np.abs(raw - ref).max() > 0.05
    assert np.allclose(fixed.detach().numpy(), ref, atol=1e-10)
    # probabilities: the Born rule of the same states
    sampler = hq.SamplerLayer(spec, mitigation="readout", **options)
    probs = sampler(torch.tensor(x)).detach().numpy()
    for row, p in zip(x, probs, strict=True):
        qc = spec.circuit.assign_parameters(dict(zip(spec.parameters, row, strict=True)))
        assert np.allclose(p, Statevector(qc).probabilities(), atol=1e-10)


def _central(layer, x, eps=1e-5):
    """Central differences of the layer's mitigated outputs in every input and weight."""
    w0 = layer.weight.detach().clone()
    grads_x, grads_w = np.zeros(x.shape[1]), np.zeros(w0.shape[0])
    with torch.no_grad():
        for j in range(x.shape[1]):
            e = torch.zeros_like(x)
            e[:, j] = eps
            grads_x[j] = ((layer(x + e) - layer(x - e)).sum() / (2 * eps)).item()
        for j in range(w0.shape[0]):
            for sign, store in ((1, "plus"), (-1, "minus")):
                layer.weight.copy_(w0)
                layer.weight[j] += sign * eps
                if store == "plus":
                    plus = layer(x).sum().item()
                else:
                    minus = layer(x).sum().item()
            grads_w[j] = (plus - minus) / (2 * eps)
        layer.weight.copy_(w0)
    return grads_x, grads_w


def test_exact_gradients_are_central_differences_of_the_mitigated_values():
    """Readout correction and ZNE (per-copy rule): the shift rule is exact. (On this small
    circuit even the shared-angle rule is within ~5e-8; test_mitigated_backprop.py uses a
    circuit where it is not.)"""
    spec = hq.circuits.variational(2, 1)
    w = torch.tensor([0.4, -1.2], dtype=torch.float64)
    layer = hq.QuantumLayer(spec, backend="fake_manila", mitigation="readout+zne", init=w)
    x = torch.tensor([[0.3, -0.8]], dtype=torch.float64, requires_grad=True)
    layer(x).sum().backward()
    cx, cw = _central(layer, x.detach())
    assert np.allclose(x.grad.numpy()[0], cx, atol=1e-6)
    assert np.allclose(layer.weight.grad.numpy(), cw, atol=1e-6)
    readout = hq.QuantumLayer(spec, backend="fake_manila", mitigation="readout", init=w)
    x.grad = None
    readout(x).sum().backward()
    cx, cw = _central(readout, x.detach())
    assert np.allclose(x.grad.numpy()[0], cx, atol=1e-9)
    assert np.allclose(readout.weight.grad.numpy(), cw, atol=1e-9)
    # and the mitigated values really differ from the raw ones (a no-op would pass the above)
    raw = hq.QuantumLayer(spec, backend="fake_manila", init=w)
    assert not np.allclose(raw(x).detach().numpy(), layer(x).detach().numpy(), atol=1e-3)


@pytest.mark.parametrize("mode", ["readout", "readout+zne"])
def test_shot_gradients_agree_within_4_standard_errors(mode):
    """Against central differences of the exact mitigated values (ZNE: the per-copy rule)."""
    spec = hq.circuits.variational(2, 1)
    w = torch.tensor([0.4, -1.2], dtype=torch.float64)
    x = torch.tensor([[0.3, -0.8]], dtype=torch.float64)
    exact = hq.QuantumLayer(spec, backend="fake_manila", mitigation=mode, init=w)
    _, reference = _central(exact, x)
    layer = hq.QuantumLayer(
        spec, backend="fake_manila", shots=20_000, seed=11, mitigation=mode, init=w
    )
    grads = []
    for _ in range(8):
        layer.weight.grad = None
        layer(x).sum().backward()
        grads.append(layer.weight.grad.numpy().copy())
    grads = np.array(grads)
    se = grads.std(axis=0, ddof=1) / np.sqrt(len(grads))
    assert np.all(se > 0)  # shot noise is there
    assert np.all(np.abs(grads.mean(axis=0) - reference) <= 4 * se), (grads, reference)


def test_one_call_per_pass_with_every_scale_folded():
    spec = hq.circuits.variational(2, 1)
    layer = hq.QuantumLayer(spec, backend="fake_manila", mitigation="readout+zne")
    x = torch.rand(3, 2, requires_grad=True)
    with hq.Tracker() as tracker:
        layer(x).sum().backward()
    assert tracker.calls == 2  # forward + backward, every scale factor in the same call
    assert tracker.by_kind["forward"]["circuits"] == 3  # 1 measurement group x 3 scales
    assert tracker.by_kind["forward"]["evaluations"] == 3
    assert tracker.by_kind["parameter-shift"]["evaluations"] == 3 * 2 * 4


def test_circuit_calibration_is_counted_cached_and_dry_run():
    _mitigated.CALIBRATIONS.clear()
    spec = hq.circuits.ry(2)
    mitigation = Mitigation(readout=True, calibration="circuits", calibration_shots=4000)
    x = torch.rand(2, 2)
    with hq.execution.dry_run(), hq.Tracker() as dry:
        hq.QuantumLayer(spec, backend="fake_manila", shots=500, mitigation=mitigation)(x)
    with hq.Tracker() as tracker:
        layer = hq.QuantumLayer(
            spec, backend="fake_manila", shots=500, seed=1, mitigation=mitigation
        )
        layer(x)
    assert tracker.calls == 2 and tracker.circuits == 1 + 2
    assert tracker.shots == 2 * 500 + 4000 and tracker.executed_shots == 2 * 500 + 2 * 4000
    assert dry.snapshot()["shots"] == tracker.shots and dry.calls == tracker.calls
    record = layer.engine.mitigation["readout_calibration"]
    assert record["source"] == "circuits" and record["shots"] == 4000
    # the fake device's readout errors, measured: within a few standard errors of the model
    assert record["qubits"]["0"][1] == pytest.approx(0.0548, abs=0.02)
    with hq.Tracker() as again:  # same device and qubits: cached, no second calibration
        hq.QuantumLayer(spec, backend="fake_manila", shots=500, mitigation=mitigation)(x)
    assert again.calls == 1


def test_probabilities_projected_on_request():
    spec = hq.circuits.ry(2)
    x = torch.tensor([[0.0, 3.1], [1.5, -3.0]])
    plain = hq.SamplerLayer(spec, backend="fake_manila", shots=300, seed=2, mitigation="readout")
    projected = hq.SamplerLayer(
        spec,
        backend="fake_manila",
        shots=300,
        seed=2,
        mitigation=Mitigation(readout=True, project=True),
    )
    raw, proj = plain(x).detach().numpy(), projected(x).detach().numpy()
    assert np.allclose(raw.sum(1), 1, atol=1e-5) and raw.min() < 0  # quasi-probabilities
    assert np.allclose(proj.sum(1), 1) and proj.min() >= 0


@pytest.mark.parametrize(
    ("backend", "options", "match"),
    [
        ("aer", {}, "noiseless"),
        ("torch", {}, "noiseless"),
    ],
)
def test_mitigation_on_noiseless_backends_is_an_error(backend, options, match):
    with pytest.raises(ConfigurationError, match=match):
        hq.QuantumLayer(hq.circuits.ry(1), backend=backend, mitigation="readout", **options)


def test_unsupported_combinations_are_named():
    from qiskit.primitives import StatevectorEstimator, StatevectorSampler

    with pytest.raises(ConfigurationError, match="cannot mitigate"):
        hq.QuantumLayer(hq.circuits.ry(1), backend=StatevectorEstimator(), mitigation="zne")
    with pytest.raises(ConfigurationError, match="no noise model"):
        hq.QuantumLayer(  # calibrated when built: refused there
            hq.circuits.ry(1),
            backend=StatevectorSampler(seed=1),
            shots=100,
            mitigation=Mitigation(readout=True, calibration="noise_model"),
        )
    with pytest.raises(ConfigurationError, match="mitigation must be"):
        hq.QuantumLayer(hq.circuits.ry(1), backend="fake_manila", mitigation="pec")


def test_runtime_estimator_gets_its_own_options():
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    from hybridqml.backends.primitives._builders import _runtime_executor
    from hybridqml.circuits._shiftable import ShiftableCircuit
    from hybridqml.execution._executor import BackendRequest
    from hybridqml.hardware import _devices as devices
    from hybridqml.hardware._runtime_options import apply_mitigation

    estimator = devices.runtime_estimator(FakeManilaV2())
    done = apply_mitigation(estimator, Mitigation(readout=True, zne=True, scale_factors=(1, 2, 3)))
    resilience = estimator.options.resilience
    assert resilience.measure_mitigation is True and resilience.zne_mitigation is True
    assert list(resilience.zne.noise_factors) == [1.0, 2.0, 3.0]
    assert resilience.zne.extrapolator == "polynomial_degree_2"
    assert estimator.options.resilience_level == 0
    assert done["resilience.zne.extrapolator"] == "polynomial_degree_2"
    # a runtime backend: expectation values go to the Estimator with these options ...
    device = FakeManilaV2()
    spec = hq.circuits.ry(1)
    request = BackendRequest(ShiftableCircuit(spec), mitigation=Mitigation(readout=True))
    executor = _runtime_executor(request, device, device, "manila (runtime)")
    assert type(executor).__name__ == "EstimatorExecutor"
    assert executor.mitigation_record["runtime"]["resilience.measure_mitigation"] is True
    assert "shift_rule" not in executor.mitigation_record
    # the runtime's ZNE folds on the server: parameter shift shares the angle there
    zne = BackendRequest(ShiftableCircuit(spec), mitigation=Mitigation(zne=True))
    record = _runtime_executor(zne, device, device, "manila (runtime)").mitigation_record
    assert record["shift_rule"] == "runtime" and record["shift_rule_exact"] is False
    # ... probabilities stay on the Sampler (no runtime mitigation) and are mitigated locally
    probs = BackendRequest(ShiftableCircuit(spec.with_outputs(hq.circuits.Probabilities())))
    probs = BackendRequest(probs.shiftable, mitigation=Mitigation(readout=True))
    sampler = _runtime_executor(probs, device, device, "manila (runtime)")
    assert type(sampler).__name__ == "ProbabilityExecutor" and sampler.mitigation_record is None
    with pytest.raises(ConfigurationError, match="both choose"):
        both = BackendRequest(
            request.shiftable, options={"resilience_level": 1}, mitigation=Mitigation(zne=True)
        )
        _runtime_executor(both, device, device, "manila (runtime)")


def test_zne_on_probability_outputs():
    spec = hq.circuits.variational(2, 2)
    rng = np.random.default_rng(1)
    w, x = rng.uniform(-3, 3, spec.n_weights), rng.uniform(-3, 3, (3, 2))
    ref = []
    for row in x:
        qc = spec.circuit.assign_parameters(dict(zip(spec.parameters, [*row, *w], strict=True)))
        ref.append(Statevector(qc).probabilities())
    options = {"backend": "aer", "backend_options": {"noise_model": depolarizing_only()}}
    options["init"] = torch.tensor(w)
    raw = hq.SamplerLayer(spec, **options)(torch.tensor(x)).detach().numpy()
    fixed = hq.SamplerLayer(spec, mitigation="zne", **options)(torch.tensor(x)).detach().numpy()
    assert np.allclose(fixed.sum(1), 1)  # extrapolation is linear: still sums to 1
    assert np.abs(fixed - ref).mean() * 2 <= np.abs(raw - ref).mean()
