import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.quantum_info import Statevector
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error
from scipy import stats

from hybridqml.backends.aer._born import AerBornSampler
from hybridqml.exceptions import CircuitError, ConfigurationError


def sampler(seed=None):
    return AerBornSampler(AerSimulator(method="statevector"), seed=seed)


def test_registers_and_bit_order_follow_qiskit():
    qr = QuantumRegister(3)
    a, b = ClassicalRegister(2, "a"), ClassicalRegister(1, "b")
    qc = QuantumCircuit(qr, a, b)
    qc.x(2)
    qc.measure(2, a[0])  # |1> into a[0]
    qc.measure(0, a[1])  # |0> into a[1]
    qc.measure(2, b[0])  # qubit 2 measured twice: not terminal
    with pytest.raises(CircuitError, match="after a measurement"):
        sampler(1).run([qc], shots=10)
    qc = QuantumCircuit(qr, a, b)
    qc.x(2)
    qc.h(1)
    qc.measure(2, a[0])
    qc.measure(0, a[1])
    qc.measure(1, b[0])
    data = sampler(1).run([qc], shots=4000).result()[0].data
    assert data.a.get_counts() == {"01": 4000}  # a[1] a[0] = 0 1
    counts = data.b.get_counts()
    assert set(counts) == {"0", "1"} and abs(counts["1"] - 2000) < 4 * np.sqrt(1000)


def test_parameter_broadcasting_shapes_and_born_law():
    theta = Parameter("t")
    qc = QuantumCircuit(1)
    qc.ry(theta, 0)
    qc.measure_all()
    values = np.linspace(0.2, 2.8, 6).reshape(2, 3, 1)
    shots = 3000
    bits = sampler(4).run([(qc, values)], shots=shots).result()[0].data.meas
    assert bits.shape == (2, 3) and bits.num_shots == shots
    ones = bits.bitcount().sum(axis=-1)  # number of |1> outcomes per binding
    p1 = np.sin(values[..., 0] / 2) ** 2
    z = (ones - shots * p1) / np.sqrt(shots * p1 * (1 - p1))
    assert np.abs(z).max() < 4.5  # binomial(shots, p1) for each binding


def test_matches_the_exact_distribution_on_an_entangled_circuit():
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.ry(0.7, 1)
    qc.cx(0, 2)
    qc.cry(1.1, 1, 2)
    probs = Statevector(qc).probabilities()
    qc.measure_all()
    shots = 20000
    counts = sampler(9).run([qc], shots=shots).result()[0].data.meas.get_int_counts()
    observed = np.array([counts.get(v, 0) for v in range(8)])
    mask = probs > 1e-12
    assert observed[~mask].sum() == 0  # impossible outcomes never appear
    chi2 = stats.chisquare(observed[mask], probs[mask] * shots)
    assert chi2.pvalue > 1e-4


def test_seeded_runs_repeat_and_unseeded_runs_differ():
    qc = QuantumCircuit(2)
    qc.h([0, 1])
    qc.measure_all()
    first = sampler(3).run([qc], shots=256).result()[0].data.meas.array
    assert np.array_equal(first, sampler(3).run([qc], shots=256).result()[0].data.meas.array)
    assert not np.array_equal(first, sampler(4).run([qc], shots=256).result()[0].data.meas.array)
    unseeded = sampler()
    assert not np.array_equal(
        unseeded.run([qc], shots=256).result()[0].data.meas.array,
        unseeded.run([qc], shots=256).result()[0].data.meas.array,
    )


def test_shots_are_in_random_order_not_sorted():
    qc = QuantumCircuit(1)
    qc.h(0)
    qc.measure_all()
    bits = sampler(5).run([qc], shots=1000).result()[0].data.meas.array[:, 0]
    assert np.count_nonzero(np.diff(bits.astype(int))) > 300  # iid: ~500 switches, sorted: 1


def test_unsupported_circuits_and_noisy_simulators_are_refused():
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    qc.x(0)
    with pytest.raises(CircuitError, match="terminal measurements"):
        sampler().run([qc])
    with pytest.raises(CircuitError, match="measures nothing"):
        sampler().run([QuantumCircuit(1, 1)])
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), ["x"])
    with pytest.raises(ConfigurationError, match="noise model"):
        AerBornSampler(AerSimulator(noise_model=noise))


def test_counts_are_the_histogram_of_the_sampled_shots():
    # the lean entry used by the layers draws exactly what run() would expand into bitstrings
    theta = Parameter("t")
    qc = QuantumCircuit(2)
    qc.ry(theta, 0)
    qc.cx(0, 1)
    qc.ry(0.4, 1)
    qc.measure_all()
    values = np.array([[0.3], [1.7], [2.9]])
    born = sampler(7)
    shots = 500
    bits = born.run([(qc, values)], shots=shots).result()[0].data.meas
    counts, outcomes = sampler().counts(qc, values, shots, np.random.default_rng(7))
    for row in range(3):
        histogram = bits[row].get_int_counts()
        assert {
            int(o): int(c) for o, c in zip(outcomes, counts[row], strict=True) if c
        } == histogram


def test_the_probability_run_simulates_one_shot_not_aers_default_1024():
    # save_probabilities averages over the run's shots: Aer's default 1024 made every shot
    # evaluation ~6x an exact one while giving the same numbers
    sim = AerSimulator(method="statevector")
    seen = []
    run = sim.run

    def spy(circuits, **kwargs):
        seen.append(kwargs.get("shots"))
        return run(circuits, **kwargs)

    sim.run = spy
    theta = Parameter("t")
    qc = QuantumCircuit(2)
    qc.ry(theta, 0)
    qc.cx(0, 1)
    qc.measure_all()
    AerBornSampler(sim, seed=1).run([(qc, [[0.3], [1.2]])], shots=5000).result()
    fixed = QuantumCircuit(1)
    fixed.h(0)
    fixed.measure_all()
    AerBornSampler(sim, seed=1).run([fixed], shots=5000).result()
    assert seen == [1, 1]


def _g_test_pvalue(observed: np.ndarray, probs: np.ndarray) -> float:
    """Goodness-of-fit G-test of counts against exact probabilities (sparse cells pooled)."""
    expected = probs * observed.sum()
    keep = expected >= 5
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return float(stats.power_divergence(obs, exp, lambda_="log-likelihood").pvalue)


def _layer_like(n: int, seed: int) -> QuantumCircuit:
    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(rng.uniform(0, np.pi), q)
    for layer in range(2):
        for q in range(n):
            qc.rx(rng.uniform(0, 2 * np.pi), q) if layer else qc.ry(rng.uniform(0, 6), q)
        for q in range(n):
            qc.cx(q, (q + 1) % n)
    return qc


@pytest.mark.parametrize("n, seed", [(3, 0), (5, 1), (8, 2)])
def test_sampled_counts_pass_a_g_test_against_statevector_probabilities(n, seed):
    qc = _layer_like(n, seed)
    probs = Statevector(qc).probabilities()  # independent reference: qiskit's Statevector
    qc.measure_all()
    shots = 200_000
    counts = sampler(100 + seed).run([qc], shots=shots).result()[0].data.meas.get_int_counts()
    observed = np.array([counts.get(v, 0) for v in range(1 << n)], dtype=float)
    assert observed[probs < 1e-14].sum() == 0
    assert _g_test_pvalue(observed, probs) > 1e-3
