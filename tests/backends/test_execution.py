"""Backends: exact and sampled Aer, fake devices, IBM Runtime in local mode, error translation."""

import numpy as np
import pytest
import torch
from qiskit.primitives import BaseEstimatorV2, StatevectorEstimator
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSampler

import hybridqml as hq
from hybridqml import circuits
from hybridqml.exceptions import BackendError, ConfigurationError
from hybridqml.nn._engine import CircuitEngine

runtime = pytest.importorskip("qiskit_ibm_runtime")
from _circuits import mixed_spec, statevector_expectations  # noqa: E402
from _doubles import CountingSampler  # noqa: E402
from qiskit_ibm_runtime.fake_provider import FakeManilaV2  # noqa: E402


def test_shots_follow_the_binomial_law():
    # textbook circuit: <Z> = -sin x, one shot is +-1 with P(+1) = (1 - sin x) / 2
    shots, n, x = 100, 2000, 0.7
    engine = CircuitEngine(circuits.ry(1), shots=shots, seed=11)
    values = engine.forward(np.full((n, 1), x))[:, 0]
    mean, var = -np.sin(x), (1 - np.sin(x) ** 2) / shots
    # genuine sampling: every estimate is a multiple of 2 / shots
    k = (values + 1) * shots / 2  # number of +1 outcomes
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    assert abs(values.mean() - mean) < 5 * np.sqrt(var / n)
    # sample variance of n draws: relative standard error sqrt(2 / (n - 1)) ~ 3.2%
    assert 0.85 < values.var(ddof=1) / var < 1.15


def test_shots_reproducible_by_seed_and_fresh_per_call():
    theta = np.full((50, 1), 0.3)
    first = CircuitEngine(circuits.ry(1), shots=64, seed=5).forward(theta)  # freed: stream 0
    a = CircuitEngine(circuits.ry(1), shots=64, seed=5)
    np.testing.assert_array_equal(first, a.forward(theta))
    assert not np.array_equal(first, a.forward(theta))  # noise is not frozen across steps
    c = CircuitEngine(circuits.ry(1), shots=64, seed=6)
    assert not np.array_equal(first, c.forward(theta))


def test_sampled_mixed_observables_converge_to_exact():
    spec = mixed_spec()
    theta = np.array([[0.4, -1.2], [2.0, 0.5]])
    engine = CircuitEngine(spec, shots=40_000, seed=3)
    # each term has variance <= 1: |error| <= sum |coeff| * 4 / sqrt(shots) with margin
    np.testing.assert_allclose(
        engine.forward(theta), statevector_expectations(spec, theta), atol=0.04
    )
    assert len(engine.executor.isa_circuits) == 3  # ZI+XZ?, IX, YY: qubit-wise commuting groups


def test_sampled_gradients_are_close_to_exact():
    spec = circuits.variational(2, 1)
    theta = np.array([[0.3, -0.4, 1.0, 0.2]])
    noisy = CircuitEngine(spec, shots=20_000, seed=9).jacobian(theta)
    np.testing.assert_allclose(noisy, CircuitEngine(spec).jacobian(theta), atol=0.05)


def test_exact_aer_matches_statevector():
    spec = mixed_spec()
    theta = np.random.default_rng(0).uniform(-2, 2, size=(5, 2))
    np.testing.assert_allclose(
        CircuitEngine(spec).forward(theta), statevector_expectations(spec, theta), atol=1e-12
    )


def test_one_sampler_call_per_forward_and_backward():
    counter = CountingSampler(AerSampler())
    layer = hq.QuantumLayer(mixed_spec(), backend=counter, shots=128, seed=1)
    x = torch.rand(6, 1, requires_grad=True)
    layer(x).sum().backward()
    assert counter.calls == [3, 3]  # two calls, each holding one PUB per measurement group


def test_fake_device_runs_with_noise_and_layout():
    spec = circuits.variational(3, 1)
    engine = CircuitEngine(spec, backend="fake_manila", shots=4000, seed=2)
    assert engine.shots == 4000
    isa = engine.executor.isa_circuits[0]
    assert isa.num_qubits == FakeManilaV2().num_qubits
    assert set(isa.count_ops()) <= set(FakeManilaV2().operation_names) | {"barrier"}
    theta = np.array([[0.1, 0.2, 0.3, 0.5, -0.5, 1.0]])
    noisy = engine.forward(theta)
    ideal = statevector_expectations(spec, theta)
    assert np.abs(noisy - ideal).max() < 0.25  # device noise + shot noise, same physics
    jac = engine.jacobian(theta)
    assert jac.shape == (1, 3, 6) and np.isfinite(jac).all()


def _shift_rule_by_hand(engine, theta):
    """d<O>/dθ_j = [f(θ + π/2 e_j) - f(θ - π/2 e_j)] / 2 from the engine's forward values.

    Exact for the noisy device too: its noise does not depend on the angles, so every expectation
    stays a first-order trigonometric polynomial in each RY angle."""
    p = theta.shape[1]
    shifts = np.eye(p) * np.pi / 2
    plus = engine.forward(theta + shifts)  # (P, O)
    minus = engine.forward(theta - shifts)
    return ((plus - minus) / 2).T[None]  # (1, O, P)


def test_fake_device_gradients_have_the_right_values():
    spec = circuits.variational(2, 1)
    theta = np.array([[0.3, -0.4, 1.0, 0.2]])
    exact = CircuitEngine(spec).jacobian(theta)
    engine = CircuitEngine(spec, backend="fake_manila", shots=20_000, seed=5)
    jac = engine.jacobian(theta)
    # same noisy device, independent recombination: two shot-noise estimates (std <= 0.01 each)
    np.testing.assert_allclose(jac, _shift_rule_by_hand(engine, theta), atol=0.05)
    # and close to the noiseless gradient: device noise only shrinks it a little
    np.testing.assert_allclose(jac, exact, atol=0.15)
    assert np.abs(exact).max() > 0.5  # the premise: a wrong sign or scale would show


def test_fake_device_noise_is_really_applied():
    # H then RY(pi/2) prepares |1>: ideal sampling gives <Z> = -1 exactly on every shot, so any
    # deviation is the device's noise model (readout and gate errors), not shot noise
    theta = np.full((10, 1), np.pi / 2)
    ideal = CircuitEngine(circuits.ry(1), backend="aer", shots=2000, seed=1).forward(theta)
    np.testing.assert_array_equal(ideal, -1.0)
    noisy = CircuitEngine(circuits.ry(1), backend="fake_manila", shots=2000, seed=1)
    assert noisy.forward(theta).mean() > -0.99


def test_aer_with_a_noise_model_in_backend_options_is_exact_or_sampled_with_noise():
    from qiskit_aer.noise import NoiseModel, ReadoutError

    noise = NoiseModel()
    noise.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.1, 0.9]]))
    theta = np.full((10, 1), np.pi / 2)  # |1>: <Z> = -1 without noise, -0.8 with this readout
    exact = CircuitEngine(circuits.ry(1), backend_options={"noise_model": noise})
    assert exact.shots is None  # shots=None: the exact noisy value, never silently noiseless
    np.testing.assert_allclose(exact.forward(theta), -0.8, atol=1e-12)
    sampled = CircuitEngine(
        circuits.ry(1), shots=2000, seed=3, backend_options={"noise_model": noise}
    )
    assert sampled.shots == 2000
    assert abs(sampled.forward(theta).mean() + 0.8) < 0.05  # 4 SE of 20000 shots: 0.017


def test_fake_device_without_shots_gives_exact_noisy_values():
    engine = CircuitEngine(circuits.ry(1), backend="fake_manila", seed=0)
    assert engine.shots is None
    theta = np.full((3, 1), np.pi / 2)
    first, again = engine.forward(theta), engine.forward(theta)
    np.testing.assert_array_equal(first, again)  # exact: no shot noise
    assert -0.99 < first[0, 0] < -0.8  # device noise (mostly readout) moves <Z> of |1> off -1


def test_noisy_fake_backend_object_and_aer_simulator():
    e1 = CircuitEngine(circuits.ry(1), backend=FakeManilaV2(), shots=100, seed=0)
    assert e1.shots == 100
    sim = AerSimulator(method="statevector")
    e2 = CircuitEngine(circuits.ry(1), backend=sim)
    assert e2.shots is None
    np.testing.assert_allclose(e2.forward(np.array([[0.5]])), [[-np.sin(0.5)]], atol=1e-12)


def test_generic_backend_v2_uses_backend_sampler():
    from qiskit.providers.fake_provider import GenericBackendV2

    backend = GenericBackendV2(num_qubits=3, seed=1)
    engine = CircuitEngine(circuits.ry(2), backend=backend, shots=2000, seed=4)
    out = engine.forward(np.array([[0.0, np.pi / 2]]))
    np.testing.assert_allclose(out, [[0.0, -1.0]], atol=0.15)


def test_ibm_runtime_local_mode_via_name(monkeypatch):
    class Service:
        def backend(self, name):
            assert name == "ibm_test"
            return FakeManilaV2()

    monkeypatch.setattr(runtime, "QiskitRuntimeService", Service)
    layer = hq.QuantumLayer(circuits.variational(2, 1), backend="ibm:ibm_test", shots=2000, seed=3)
    x = torch.tensor([[0.2, 0.4]], requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.shape == (1, 2) and x.grad is not None
    spec = layer.spec
    theta = np.concatenate([x.detach().numpy(), layer.weight.detach().numpy()[None]], axis=1)
    assert np.abs(y.detach().numpy() - statevector_expectations(spec, theta)).max() < 0.25
    # gradient values: the same fake device run directly, and the noiseless value
    direct = CircuitEngine(spec, backend="fake_manila", shots=2000, seed=3).jacobian(theta)
    exact = CircuitEngine(spec).jacobian(theta)
    grad_x = x.grad.numpy()[0]
    w_grad = layer.weight.grad.numpy()
    got = np.concatenate([grad_x, w_grad])
    # sum over the two outputs of four shot-noise differences: std <= 2 * sqrt(2) / sqrt(2000)
    np.testing.assert_allclose(got, direct[0].sum(axis=0), atol=0.2)
    np.testing.assert_allclose(got, exact[0].sum(axis=0), atol=0.3)
    assert np.abs(exact[0].sum(axis=0)).max() > 0.6


@pytest.mark.parametrize("mode_cls", ["Session", "Batch"])
def test_ibm_runtime_session_and_batch(mode_cls):
    mode = getattr(runtime, mode_cls)(backend=FakeManilaV2())
    with mode:
        engine = CircuitEngine(circuits.ry(1), backend=mode, shots=3000, seed=1)
        out = engine.forward(np.array([[np.pi / 2], [0.0]]))
    assert "runtime" in engine.backend_name
    np.testing.assert_allclose(out, [[-1.0], [0.0]], atol=0.15)


def test_layer_built_outside_runs_inside_an_open_session_on_its_device():
    layer = hq.QuantumLayer(circuits.ry(1), backend="fake_manila", shots=3000, seed=2)
    executor = layer.engine.executor
    x = torch.tensor([[np.pi / 2], [0.0]])
    layer(x)  # outside any session: the executor's own Aer sampler
    assert executor._context_sampler is None
    with runtime.Session(backend=FakeManilaV2()) as session:
        out = layer(x)
        context, sampler = executor._context_sampler
        assert context is session and sampler.mode is session
    np.testing.assert_allclose(out.detach().numpy(), [[-1.0], [0.0]], atol=0.15)
    with runtime.Batch(backend=runtime.fake_provider.FakeLimaV2()):
        layer(x)  # a context on another device is not this layer's: it is left alone
        assert executor._context_sampler[0] is session


def test_runtime_estimator_gets_circuits_in_its_device_isa():
    Estimator = pytest.importorskip("qiskit_ibm_runtime.executor_estimator").Estimator
    estimator = Estimator(mode=FakeManilaV2())
    engine = CircuitEngine(mixed_spec(), backend=estimator)
    assert "fake_manila" in engine.backend_name
    assert set(engine.executor.isa_circuit.count_ops()) <= {"rz", "sx", "x", "ecr", "cx", "id"}
    theta = np.array([[0.4, -1.1], [2.0, 0.3]])
    expected = statevector_expectations(mixed_spec(), theta)
    assert np.abs(engine.forward(theta) - expected).max() < 0.35  # noisy device, finite precision


def test_seed_fixes_the_transpiled_layout():
    spec = circuits.variational(5, 2, entanglement="full")  # needs routing (randomised)
    layouts = {
        tuple(
            CircuitEngine(spec, backend="fake_manila", seed=7)
            .executor.isa_circuits[0]
            .layout.final_index_layout()
        )
        for _ in range(6)
    }
    assert len(layouts) == 1


def test_ibm_without_account_is_a_clear_error(monkeypatch, tmp_path):
    def no_account(*args, **kwargs):
        raise runtime.accounts.AccountNotFoundError("Unable to find account.")

    monkeypatch.setattr(runtime, "QiskitRuntimeService", no_account)
    with pytest.raises(BackendError, match="save_account"):
        CircuitEngine(circuits.ry(1), backend="ibm:ibm_brisbane")


class FailingEstimator(BaseEstimatorV2):
    def run(self, pubs, *, precision=None):
        raise RuntimeError("device offline")


class GarbageEstimator(BaseEstimatorV2):
    def run(self, pubs, *, precision=None):
        result = StatevectorEstimator().run(pubs, precision=precision).result()
        result[0].data.evs[...] = np.nan
        return _Done(result)


class _Done:
    def __init__(self, result):
        self._result = result

    def result(self):
        return self._result


def test_failed_job_names_backend_and_cause():
    layer = hq.QuantumLayer(circuits.ry(1), backend=FailingEstimator())
    with pytest.raises(BackendError, match=r"FailingEstimator.*device offline"):
        layer(torch.rand(2, 1))


def test_malformed_results_rejected():
    layer = hq.QuantumLayer(circuits.ry(1), backend=GarbageEstimator())
    with pytest.raises(BackendError, match="malformed results"):
        layer(torch.rand(2, 1))


def test_estimator_instance_rejects_shots():
    with pytest.raises(ConfigurationError, match="precision"):
        CircuitEngine(circuits.ry(1), backend=StatevectorEstimator(), shots=100)


def test_estimator_instance_used_as_given():
    engine = CircuitEngine(circuits.ry(1), backend=StatevectorEstimator())
    np.testing.assert_allclose(engine.forward(np.array([[0.3]])), [[-np.sin(0.3)]], atol=1e-12)


def test_set_backend_switches_execution():
    layer = hq.QuantumLayer(circuits.ry(1))
    x = torch.full((3, 1), 0.4)
    exact_out = layer(x)
    layer.set_backend("aer", shots=10, seed=0)
    sampled = layer(x)
    assert layer.engine.shots == 10
    assert torch.all((sampled * 5) == torch.round(sampled * 5))
    assert not torch.allclose(exact_out, sampled)


def test_backend_options_reach_aer():
    engine = CircuitEngine(circuits.ry(1), backend_options={"max_parallel_threads": 1})
    assert engine.executor.estimator.simulator.options.max_parallel_threads == 1


def _bloch_spec(observables, *, entangle: bool):
    """Two qubits, each rotated RY(a) then RZ(p): Bloch vector (sin a cos p, sin a sin p, cos a),
    optionally followed by CX(0, 1); inputs (a0, p0, a1, p1)."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector

    from hybridqml.circuits import ParameterizedCircuit

    t = ParameterVector("t", 4)
    qc = QuantumCircuit(2)
    for q in range(2):
        qc.ry(t[2 * q], q)
        qc.rz(t[2 * q + 1], q)
    if entangle:
        qc.cx(0, 1)
    return ParameterizedCircuit(qc, list(t), [], observables=observables)


@pytest.mark.parametrize("entangle", [False, True])
def test_sampled_y_observables_match_exact_values_with_the_right_sign(entangle):
    # Terms with one Y factor far from 0, so a wrong basis change for Y (S instead of Sdg flips
    # the sign of every Y factor) moves IY, YI, XY, YX, YZ, ZY by about twice their size; YY
    # alone would hide it (two sign flips cancel). Shots on "aer" (the Sampler path).
    from qiskit.quantum_info import SparsePauliOp, Statevector

    odd = ["IY", "YI", "XY", "YX", "YZ", "ZY"]
    spec = _bloch_spec([SparsePauliOp(label) for label in [*odd, "YY"]], entangle=entangle)
    theta = np.array([[1.3, 1.2, 1.1, 2.0], [2.0, -1.4, 1.6, 0.9]])
    shots = 20_000
    values = CircuitEngine(spec, backend="aer", shots=shots, seed=4).forward(theta)
    for row, angles in enumerate(theta):
        state = Statevector(spec.circuit.assign_parameters(angles))
        exact = np.array([np.real(state.expectation_value(o)) for o in spec.observables])
        assert np.abs(exact[: len(odd)]).max() > 0.5  # the test's premise
        sigma = np.sqrt((1 - exact**2) / shots)  # one term's shot noise
        np.testing.assert_array_less(np.abs(values[row] - exact), 5 * sigma + 1e-3)


def test_pauli_terms_sum_repeated_terms_and_split_off_the_identity():
    """Unsimplified observables: repeated labels add up, identity terms become offsets."""
    from qiskit.quantum_info import SparsePauliOp

    from hybridqml.execution._measurement import pauli_terms

    a = SparsePauliOp(["ZI", "II", "ZI", "XX", "II"], [1.0, 0.25, 2.0, -0.5, 0.5])
    b = SparsePauliOp(["XX", "IZ"], [1.5, 1.0])
    labels, coeffs, offsets = pauli_terms([a, b])
    assert labels == ["ZI", "XX", "IZ"]  # distinct, non-identity, in order of appearance
    np.testing.assert_array_equal(coeffs, [[3.0, -0.5, 0.0], [0.0, 1.5, 1.0]])
    np.testing.assert_array_equal(offsets, [0.75, 0.0])
    # The same numbers as qiskit's own simplification (an independent reference).
    for obs, row, offset in zip((a, b), coeffs, offsets, strict=True):
        ref = dict(obs.simplify().to_list())
        assert offset == ref.pop("II", 0.0).real
        assert {lab: c for lab, c in zip(labels, row, strict=True) if c} == {
            k: v.real for k, v in ref.items()
        }
