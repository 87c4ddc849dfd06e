"""Exact noisy simulation (DensityMatrixSampler) against Aer's own noisy sampling, as the reference.

Law checks: on fake_manila (5 qubits) and fake_nairobi (7), for several circuits and every
measurement group, N noisy outcomes drawn by the new path and N outcomes of Aer's native noisy
sampler (trajectories, ``qiskit_aer.primitives.SamplerV2`` on the same simulator) are compared
with a two-sample G-test (cells with fewer than 5 expected outcomes pooled); p > 0.001 is
required. The exact noisy expectation values must lie within 4 standard errors of Aer's native
estimate. N = 40,000 in the default run, 200,000 in the slow one.
"""

from __future__ import annotations

import numpy as np
import pytest
from _circuits import mixed_spec, rich_spec
from _noisy_reference import check_against_aer
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error
from qiskit_aer.primitives import SamplerV2 as AerSampler
from scipy.stats import chi2_contingency

from hybridqml import circuits
from hybridqml.backends.mixed._density_sampler import (
    MAX_DENSITY_MATRIX_QUBITS,
    DensityMatrixSampler,
    apply_readout,
)
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._registry import make_executor
from hybridqml.nn._engine import CircuitEngine

SPECS = {"variational": lambda: circuits.variational(3, 1), "rich": rich_spec, "mixed": mixed_spec}


def _g_test(a: np.ndarray, b: np.ndarray) -> float:
    """p-value of a two-sample G-test of homogeneity, sparse cells pooled."""
    table = np.stack([a, b]).astype(float)
    expected = table.sum(axis=0) / 2
    keep = expected >= 5
    pooled = table[:, ~keep].sum(axis=1, keepdims=True)
    table = np.concatenate([table[:, keep], pooled], axis=1) if (~keep).any() else table[:, keep]
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(chi2_contingency(table, lambda_="log-likelihood").pvalue)


def _native_counts(sim, isa, values: np.ndarray, shots: int, outcome_map: np.ndarray, seed: int):
    """Aer's own noisy sampling: counts per binding over the sampler's outcome order."""
    params = list(isa.parameters)
    result = AerSampler.from_backend(sim, seed=seed).run([(isa, values)], shots=shots).result()
    bits = result[0].data.hq
    index = {int(v): i for i, v in enumerate(outcome_map)}
    counts = np.zeros((len(values), len(outcome_map)))
    for row in range(len(values)):
        for value, count in bits[row].get_int_counts().items():
            counts[row, index[value]] += count
    assert len(params) == values.shape[1]
    return counts


def _law_check(device: str, spec_name: str, shots: int) -> list[float]:
    spec = SPECS[spec_name]()
    shiftable = ShiftableCircuit(spec)
    exact = make_executor(shiftable, device, seed=1)
    sampler = exact.sampler
    assert isinstance(sampler, DensityMatrixSampler)
    rng = np.random.default_rng(7)
    theta = rng.uniform(-np.pi, np.pi, size=(2, len(spec.parameters)))
    angles = shiftable.angles(theta)
    p_values = []
    for isa, cols in zip(exact.isa_circuits, exact._columns, strict=True):
        values = angles[:, cols]
        counts, outcome_map = sampler.counts(isa, values, shots, np.random.default_rng(3))
        native = _native_counts(sampler.simulator, isa, values, shots, outcome_map, seed=5)
        p_values += [_g_test(counts[r], native[r]) for r in range(len(values))]
    assert min(p_values) > 1e-3, p_values
    # exact noisy values within 4 standard errors of Aer's native estimate
    native = make_executor(
        shiftable,
        device,
        shots=shots,
        seed=11,
        backend_options={"noisy_simulation": "trajectories"},
    )
    assert isinstance(native.sampler, AerSampler)
    estimate, values = native.run(angles), exact.run(angles)
    assert exact.shots is None and native.shots == shots
    for o, obs in enumerate(spec.observables):
        # a sum of Pauli terms with coefficients c: |SE| <= sum |c| sqrt((1 - <P>^2) / N)
        spread = np.sum(np.abs(obs.coeffs.real)) / np.sqrt(shots)
        assert np.all(np.abs(values[:, o] - estimate[:, o]) < 4 * spread), (o, values, estimate)
    return p_values


@pytest.mark.parametrize("spec_name", ["variational", "rich", "mixed"])
@pytest.mark.parametrize("device", ["fake_manila", "fake_nairobi"])
def test_noisy_outcomes_follow_aers_native_noisy_sampling(device, spec_name):
    _law_check(device, spec_name, shots=40_000)


@pytest.mark.slow
@pytest.mark.parametrize("spec_name", ["variational", "rich", "mixed"])
@pytest.mark.parametrize("device", ["fake_manila", "fake_nairobi"])
def test_noisy_outcomes_follow_aers_native_noisy_sampling_200k(device, spec_name):
    _law_check(device, spec_name, shots=200_000)


def test_parameter_shift_on_exact_noisy_values_equals_finite_differences():
    # the noise channels do not depend on the angles, so the noisy expectation is still a
    # trigonometric polynomial of each occurrence angle: the shift rule stays exact
    spec = rich_spec()  # entanglement, x0 and w1 reused, products of parameters
    engine = CircuitEngine(spec, backend="fake_manila", seed=0)
    assert engine.shots is None
    theta = np.array([[0.3, -1.1, 0.7, 0.4], [1.9, 0.2, -0.6, 2.5]])
    jac = engine.jacobian(theta)
    h = 1e-4
    fd = np.stack(
        [
            (engine.forward(theta + h * e) - engine.forward(theta - h * e)) / (2 * h)
            for e in np.eye(theta.shape[1])
        ],
        axis=-1,
    )
    np.testing.assert_allclose(jac, fd, atol=1e-6)
    ideal = CircuitEngine(spec, backend="aer").jacobian(theta)
    assert np.abs(jac - ideal).max() > 1e-3  # the noisy gradient is not the noiseless one


def test_shot_gradients_on_a_fake_device_converge_to_the_exact_noisy_gradient():
    spec = mixed_spec()
    theta = np.array([[0.4, -0.9]])
    exact = CircuitEngine(spec, backend="fake_manila").jacobian(theta)
    engine = CircuitEngine(spec, backend="fake_manila", shots=2000, seed=4)
    repeats = np.stack([engine.jacobian(theta) for _ in range(40)])
    mean, se = repeats.mean(axis=0), repeats.std(axis=0, ddof=1) / np.sqrt(len(repeats))
    assert np.all(se > 0)  # fresh shots on every call
    assert np.all(np.abs(mean - exact) < 4 * se), (mean, exact, se)


@pytest.mark.parametrize("backend", ["aer", "simulator"])
def test_readout_error_moves_z_by_the_closed_form(backend):
    # P(record 1 | 0) = a, P(record 0 | 1) = b: <Z> = (1 - a - b) <Z>_true + (b - a)
    a0, b0, a1, b1 = 0.1, 0.25, 0.03, 0.4
    noise = NoiseModel()
    noise.add_readout_error(ReadoutError([[1 - a0, a0], [b0, 1 - b0]]), [0])
    noise.add_readout_error(ReadoutError([[1 - a1, a1], [b1, 1 - b1]]), [1])
    spec = circuits.variational(2, 1, entanglement="linear")
    theta = np.array([[0.3, -1.2, 0.8, 2.0], [2.2, 0.1, -0.4, 1.0]])
    ideal = CircuitEngine(spec, backend="aer").forward(theta)
    target = AerSimulator(noise_model=noise) if backend == "simulator" else "aer"
    options = {"noise_model": noise} if backend == "aer" else None
    noisy = CircuitEngine(spec, backend=target, backend_options=options).forward(theta)
    expected = np.stack(
        [(1 - a0 - b0) * ideal[:, 0] + (b0 - a0), (1 - a1 - b1) * ideal[:, 1] + (b1 - a1)], axis=1
    )
    np.testing.assert_allclose(noisy, expected, atol=1e-12)


def test_depolarizing_noise_shrinks_z_by_the_closed_form():
    # one RY then a depolarizing channel of parameter l after it: <Z> = (1 - l) cos(x)
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.2, 1), ["ry"])
    spec = circuits.variational(1, 1)  # RY(x) RY(w)
    theta = np.array([[0.4, 0.9]])
    out = CircuitEngine(spec, backend_options={"noise_model": noise}).forward(theta)
    np.testing.assert_allclose(out, [[0.8 * 0.8 * np.cos(1.3)]], atol=1e-12)


def test_apply_readout_matches_kron_of_assignment_matrices():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(8), size=3)
    mats = np.stack([m / m.sum(axis=1, keepdims=True) for m in rng.uniform(0.1, 1, (3, 2, 2))])
    full = np.kron(np.kron(mats[2], mats[1]), mats[0])  # bit 0 is the least significant
    np.testing.assert_allclose(apply_readout(probs, mats), probs @ full, atol=1e-15)


def test_noisy_shots_are_seeded_and_fresh_on_every_call():
    spec = circuits.variational(2, 1)
    theta = np.full((4, 4), 0.3)
    first = CircuitEngine(spec, backend="fake_manila", shots=500, seed=9).forward(theta)
    a = CircuitEngine(spec, backend="fake_manila", shots=500, seed=9)  # the first one is freed
    np.testing.assert_array_equal(first, a.forward(theta))  # reproducible with the seed
    first = a.forward(theta)
    assert not np.array_equal(first, a.forward(theta))  # fresh shots every call
    assert len(np.unique(first[:, 0])) > 1  # and every binding its own draw


def test_too_many_connected_qubits_fall_back_to_trajectories_with_shots_only():
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 2), ["cx"])
    n = MAX_DENSITY_MATRIX_QUBITS + 1
    shiftable = ShiftableCircuit(circuits.variational(n, 1, entanglement="linear"))
    options = {"noise_model": noise}
    with pytest.raises(ConfigurationError, match=r"no exact noisy simulation.*density matrix"):
        make_executor(shiftable, "aer", backend_options=options)
    sampled = make_executor(shiftable, "aer", shots=10, backend_options=options)
    assert isinstance(sampled.sampler, AerSampler)  # auto: Aer's trajectories
    with pytest.raises(ConfigurationError, match="density matrix"):
        make_executor(
            shiftable,
            "aer",
            shots=10,
            backend_options={**options, "noisy_simulation": "density_matrix"},
        )


def test_independent_qubits_are_simulated_in_small_blocks():
    # 13 measured qubits with no two-qubit gate: independent groups, no 13-qubit density matrix
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), ["ry"])
    spec = circuits.ry(MAX_DENSITY_MATRIX_QUBITS + 1)
    engine = CircuitEngine(spec, backend_options={"noise_model": noise})
    x = np.linspace(-1, 1, spec.n_inputs)[None, :]
    ideal = CircuitEngine(spec, backend="aer").forward(x)
    isa = engine.executor.isa_circuits[0]
    ry = [sum(i.operation.name == "ry" and i.qubits[0] == q for i in isa.data) for q in isa.qubits]
    # each RY (H is transpiled to one too) is followed by a depolarizing channel: Z shrinks 0.9x
    np.testing.assert_allclose(engine.forward(x), 0.9 ** np.array(ry) * ideal, atol=1e-12)


@pytest.mark.parametrize(
    ("options", "shots", "message"),
    [
        ({"noisy_simulation": "trajectories"}, None, "samples shots: give shots"),
        ({"noisy_simulation": "magic"}, 10, "must be one of auto, density_matrix, trajectories"),
    ],
)
def test_noisy_simulation_option_is_validated(options, shots, message):
    with pytest.raises(ConfigurationError, match=message):
        make_executor(
            ShiftableCircuit(circuits.ry(1)), "fake_manila", shots=shots, backend_options=options
        )


def test_fake_devices_simulate_their_own_calibrated_noise_model():
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    executor = make_executor(ShiftableCircuit(circuits.ry(1)), "fake_manila")
    noise = executor.sampler.simulator.options.noise_model
    props = FakeManilaV2().properties()
    for q in range(5):  # the device's asymmetric readout, as FakeManilaV2().run applies it
        matrix = noise._local_readout_errors[(q,)].probabilities
        assert matrix[0, 1] == pytest.approx(props.qubit_property(q, "prob_meas1_prep0")[0])
        assert matrix[1, 0] == pytest.approx(props.qubit_property(q, "prob_meas0_prep1")[0])


def _noise_on_rotations() -> NoiseModel:
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 1), ["rx", "ry", "rz", "h"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.1, 2), ["cx"])
    noise.add_all_qubit_readout_error(ReadoutError([[0.95, 0.05], [0.1, 0.9]]))
    return noise


@pytest.mark.parametrize(
    ("backend", "spec_name", "batched"),
    [
        ("fake_manila", "variational", True),
        ("fake_manila", "rich", True),
        ("fake_nairobi", "rich", True),
        ("fake_nairobi", "mixed", True),
        ("aer", "mixed", True),  # untranspiled: parameterized rx, ry, rz with expressions
        ("aer", "rich", True),
        ("aer", "wide", False),  # 7 connected qubits: above MAX_BATCHED_QUBITS, Aer runs it
    ],
)
def test_batched_density_matrices_equal_aers_density_matrix(backend, spec_name, batched):
    spec = circuits.variational(7, 1) if spec_name == "wide" else SPECS[spec_name]()
    shiftable = ShiftableCircuit(spec)
    options = {"noise_model": _noise_on_rotations()} if backend == "aer" else None
    executor = make_executor(shiftable, backend, seed=1, backend_options=options)
    sampler = executor.sampler
    noise = sampler.simulator.options.noise_model
    theta = np.random.default_rng(2).uniform(-np.pi, np.pi, size=(5, len(spec.parameters)))
    angles = shiftable.angles(theta)
    for isa, cols in zip(executor.isa_circuits, executor._columns, strict=True):
        prepared = sampler._prepare_circuit(isa)
        assert any(b.program is not None for b in prepared.blocks) == batched
        # independent reference: Aer's density matrix of the whole circuit, noise applied by
        # Aer, readout written out (no noise lookup or readout code shared with the sampler)
        check_against_aer(sampler, isa, angles[:, cols], noise)


def test_an_8_qubit_noisy_block_runs_on_aer_and_equals_the_batched_simulation(monkeypatch):
    # Aer's gate fusion failed some bindings of this block ("heevx ... really hermitian")
    from hybridqml.backends.mixed import _density as density

    spec = circuits.variational(8, 2)
    shiftable = ShiftableCircuit(spec)
    options = {"noise_model": _noise_on_rotations()}
    executor = make_executor(shiftable, "aer", seed=1, backend_options=options)
    (isa,), (cols,) = executor.isa_circuits, executor._columns
    theta = np.random.default_rng(0).uniform(0, 1, size=(24, len(spec.parameters)))
    angles = shiftable.angles(theta)[:, cols]
    got, _ = executor.sampler.probabilities(isa, angles)  # 8 qubits: Aer's density matrix
    monkeypatch.setattr(density, "MAX_BATCHED_QUBITS", 8)
    batched = DensityMatrixSampler(executor.sampler.simulator)
    assert all(b.program is not None for b in batched._prepare_circuit(isa).blocks)
    expected, _ = batched.probabilities(isa, angles)
    np.testing.assert_allclose(got, expected, atol=1e-12, rtol=0)
