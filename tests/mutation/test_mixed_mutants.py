"""The exact noisy simulator (numpy batched and Aer paths) against Aer's density matrix.

Reference: the same circuit, bound, on ``AerSimulator(method="density_matrix")`` with the same
noise model and ``save_density_matrix``; its diagonal marginalised by ``DensityMatrix`` and the
readout errors applied by a written-out sum over true outcomes. Small circuits (2-4 qubits) so the
file runs in seconds; every gate family the batched simulator specialises (rx, ry, rz, p, fixed
gates, two-qubit gates) appears with a parameter expression, and the noise model has a
qubit-specific error that must win over the all-qubit one. The sampler's own contract (its
options, the GPU fallback to Aer, the refusals and Aer's failure message) is checked against
written-out values, and two interleaved blocks against a closed form.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.quantum_info import DensityMatrix
from qiskit.result.models import ExperimentResult, ExperimentResultData
from qiskit_aer import AerSimulator
from qiskit_aer.noise import (
    NoiseModel,
    ReadoutError,
    amplitude_damping_error,
    depolarizing_error,
    phase_damping_error,
)

from hybridqml.backends.mixed import _density_sampler as ds
from hybridqml.exceptions import BackendError, CircuitError, ConfigurationError
from hybridqml.hardware._noise import connected_groups

A, B, C, D = (Parameter(n) for n in "abcd")


def noise_model():
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.08, 1), ["rx", "ry", "h", "sx"])
    noise.add_quantum_error(amplitude_damping_error(0.3), ["rx"], [1])  # replaces the above on q1
    noise.add_all_qubit_quantum_error(phase_damping_error(0.25), ["p", "rz"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx"])
    noise.add_quantum_error(depolarizing_error(0.2, 2), ["cx"], [1, 2])
    noise.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.15, 0.85]]))
    noise.add_readout_error(ReadoutError([[0.97, 0.03], [0.4, 0.6]]), [2])
    return noise


def body():
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.rx(A, 1)
    qc.ry(2 * B + 0.3, 0)
    qc.p(C, 0)  # phase sign: only visible through the next interference
    qc.sx(0)
    qc.cx(0, 1)
    qc.rz(-C, 1)
    qc.rx(D - A, 1)
    qc.h(1)
    qc.cx(1, 2)
    qc.ry(B, 2)
    qc.p(A + D, 2)
    qc.h(2)
    return qc


def measured(qc, order):
    """``qc`` measuring qubit ``order[j]`` into classical bit ``j``."""
    out = QuantumCircuit(qc.num_qubits, len(order))
    out.compose(qc, inplace=True)
    for clbit, qubit in enumerate(order):
        out.measure(qubit, clbit)
    return out


def reference(qc, noise, order, values):
    """Aer density matrix -> P(true clbits) -> readout applied by hand; rows per binding."""
    sim = AerSimulator(method="density_matrix", noise_model=noise)
    params = list(qc.parameters)
    rows = []
    for row in values:
        bound = qc.assign_parameters(dict(zip(params, row, strict=True)))
        bound.save_density_matrix()
        rho = DensityMatrix(sim.run(bound).result().data(0)["density_matrix"])
        true = rho.probabilities(qargs=list(order))  # bit j = qubit order[j]
        recorded = np.zeros_like(true)
        for t, r in itertools.product(range(len(true)), repeat=2):
            weight = true[t]
            for j, qubit in enumerate(order):
                matrix = readout_matrix(noise, qubit)
                weight *= matrix[(t >> j) & 1, (r >> j) & 1]
            recorded[r] += weight
        rows.append(recorded)
    return np.array(rows)


def readout_matrix(noise, qubit):
    local = noise._local_readout_errors.get((qubit,))
    error = local if local is not None else noise._default_readout_error
    return np.asarray(error.probabilities) if error is not None else np.eye(2)


VALUES = np.array([[0.4, -1.2, 0.9, 2.1], [2.5, 0.3, -0.7, -1.4], [0.0, 0.0, 1.3, 0.0]])


@pytest.mark.parametrize(("batched", "order"), [(True, (0, 1, 2)), (True, (2, 0)), (False, (1, 2))])
def test_noisy_probabilities_equal_aers_density_matrix(batched, order):
    noise = noise_model()
    sampler = ds.DensityMatrixSampler(AerSimulator(noise_model=noise), seed=1)
    sampler._batched = batched
    qc = body()
    probs, to_clbits = sampler.probabilities(measured(qc, order), VALUES)
    want = reference(qc, noise, order, VALUES)
    # outcome i of the sampler is the clbit integer to_clbits[i]
    np.testing.assert_allclose(probs, want[:, to_clbits], atol=1e-10, rtol=0)
    assert sampler.check(measured(qc, order)) == 3


def test_independent_qubits_and_a_parameter_free_block_multiply(monkeypatch):
    noise = noise_model()
    sampler = ds.DensityMatrixSampler(AerSimulator(noise_model=noise))
    qc = QuantumCircuit(4)
    qc.rx(A, 0)
    qc.p(B, 0)
    qc.sx(0)
    qc.h(1)  # no parameter: computed once
    qc.cx(1, 3)
    qc.ry(A + B, 2)
    order = (3, 0, 2, 1)
    values = np.array([[0.7, -0.4], [1.9, 2.6]])
    probs, to_clbits = sampler.probabilities(measured(qc, order), values)
    want = reference(qc, noise, order, values)
    np.testing.assert_allclose(probs, want[:, to_clbits], atol=1e-10, rtol=0)
    assert sampler.check(measured(qc, order)) == 4  # the groups {0}, {1, 3}, {2} packed in one


def test_a_parameter_free_circuit_has_one_row_and_needs_no_values():
    noise = noise_model()
    sampler = ds.DensityMatrixSampler(AerSimulator(noise_model=noise))
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    probs, to_clbits = sampler.probabilities(measured(qc, (1, 0)), None)
    want = reference(qc, noise, (1, 0), np.zeros((1, 0)))
    np.testing.assert_allclose(probs, want[:, to_clbits], atol=1e-10, rtol=0)
    probs3, _ = sampler.probabilities(measured(qc, (1, 0)), np.zeros((3, 0)))
    assert probs3.shape == (3, 4)


def test_parameters_without_values_are_refused():
    sampler = ds.DensityMatrixSampler(AerSimulator(noise_model=noise_model()))
    qc = QuantumCircuit(1)
    qc.rx(A, 0)
    with pytest.raises(ConfigurationError, match="the circuit has parameters: give their values"):
        sampler.probabilities(measured(qc, (0,)), None)
    with pytest.raises(ConfigurationError) as refused:
        sampler.probabilities(measured(qc, (0,)), None)
    assert str(refused.value) == "the circuit has parameters: give their values"


def test_without_noise_model_the_distribution_is_the_ideal_one():
    sampler = ds.DensityMatrixSampler(AerSimulator())
    qc = QuantumCircuit(2)
    qc.ry(A, 0)
    qc.cx(0, 1)
    probs, to_clbits = sampler.probabilities(measured(qc, (0, 1)), np.array([[1.0]]))
    c, s = np.cos(0.5) ** 2, np.sin(0.5) ** 2
    np.testing.assert_allclose(probs[0], np.array([c, 0, 0, s])[to_clbits], atol=1e-12)


def test_apply_readout_is_the_kron_of_the_assignment_matrices():
    m0 = np.array([[0.9, 0.1], [0.2, 0.8]])
    m1 = np.array([[0.7, 0.3], [0.05, 0.95]])
    probs = np.array([[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0]])
    # outcome index = bit0 + 2 * bit1: the kron puts bit 1 first
    np.testing.assert_allclose(ds.apply_readout(probs, np.stack([m0, m1])), probs @ np.kron(m1, m0))


def test_memory_of_a_density_matrix():
    assert ds.density_matrix_bytes(1) == 64
    assert ds.density_matrix_bytes(12) == 16 * 4**12
    assert ds.MAX_DENSITY_MATRIX_QUBITS == 12 and ds.PACKED_QUBITS == 8


def test_components_and_packing():
    cx, h = object(), object()
    ops = [(h, (0,)), (cx, (0, 3)), (cx, (3, 5)), (h, (1,)), (h, (7,))]
    assert connected_groups(ops, {0, 1, 4}) == [[0, 3, 5], [1], [4]]
    assert ds._packed([[0, 1, 2, 3, 4], [5, 6, 7], [8, 9], [10]]) == [
        [0, 1, 2, 3, 4, 5, 6, 7],
        [8, 9, 10],
    ]
    assert ds._packed([[0, 1, 2, 3, 4, 5, 6, 7]]) == [[0, 1, 2, 3, 4, 5, 6, 7]]
    with pytest.raises(
        ConfigurationError, match=r"13 connected active qubits need a density matrix of 1 GiB"
    ):
        ds._packed([list(range(13))])


def test_unsupported_noise_is_refused_with_the_fix():
    noise = NoiseModel()
    noise.add_quantum_error(depolarizing_error(0.1, 1), ["measure"], [0])
    sampler = ds.DensityMatrixSampler(AerSimulator(noise_model=noise))
    qc = QuantumCircuit(1)
    qc.rx(A, 0)
    with pytest.raises(ConfigurationError, match="quantum error on the measurement of qubit 0"):
        sampler.check(measured(qc, (0,)))
    correlated = NoiseModel()
    correlated.add_readout_error(
        ReadoutError([[0.9, 0.1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), [0, 1]
    )
    sampler = ds.DensityMatrixSampler(AerSimulator(noise_model=correlated))
    two = QuantumCircuit(2)
    two.rx(A, 0)
    with pytest.raises(ConfigurationError, match=r"correlated readout error on qubits \(0, 1\)"):
        sampler.check(measured(two, (0, 1)))


def test_a_component_of_exactly_the_limit_is_simulated_and_the_refusal_names_the_fix():
    twelve = list(range(12))
    assert ds._packed([twelve]) == [twelve]  # 12 qubits: allowed (256 MiB)
    with pytest.raises(ConfigurationError) as refused:
        ds._packed([list(range(14))])
    assert str(refused.value) == (
        "14 connected active qubits need a density matrix of 4 GiB (16 * 4**n bytes); the exact "
        "noisy simulation stops at 12 qubits: give shots (Aer's trajectory sampling) or use "
        "noisy_simulation='trajectories'"
    )


def test_saved_probabilities_and_aers_failure_message():
    saved = ExperimentResult(1, True, ExperimentResultData(probabilities=[0.25, 0.75]))
    got = ds._saved(saved)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    assert got.tolist() == [0.25, 0.75]
    failed = ExperimentResult(
        1, False, ExperimentResultData(), status="ERROR: heevx: input matrix not hermitian"
    )
    with pytest.raises(BackendError) as aer_said:
        ds._saved(failed)
    assert str(aer_said.value) == (
        "Aer's density-matrix simulation failed: ERROR: heevx: input matrix not hermitian"
    )
    silent = ExperimentResult(1, False, ExperimentResultData())  # no status attribute at all
    with pytest.raises(BackendError) as no_status:
        ds._saved(silent)
    assert str(no_status.value) == "Aer's density-matrix simulation failed: no probabilities saved"


def test_the_sampler_keeps_its_options_and_its_simulator():
    noisy = AerSimulator(noise_model=noise_model(), max_parallel_threads=1, max_memory_mb=512)
    sampler = ds.DensityMatrixSampler(noisy, seed=7, default_shots=123)
    assert sampler.simulator is noisy
    assert sampler.options.seed_simulator == 7
    assert sampler.options.default_shots == 123
    backend = sampler._backend.options
    assert backend.method == "density_matrix"
    assert backend.runtime_parameter_bind_enable is True  # one Aer run for all bindings
    assert backend.fusion_enable is False  # fusion broke 8-qubit noisy blocks on Aer 0.18
    assert (backend.max_parallel_threads, backend.max_memory_mb) == (1, 512)


def one_rx_block():
    qc = QuantumCircuit(2)
    qc.rx(A, 0)
    qc.cx(0, 1)
    return measured(qc, (0, 1))


def test_parameterized_blocks_run_in_numpy_on_cpu_and_on_aer_on_gpu():
    cpu = ds.DensityMatrixSampler(AerSimulator(noise_model=noise_model()))
    (block,) = cpu._prepare_circuit(one_rx_block()).blocks
    assert block.program is not None
    gpu = ds.DensityMatrixSampler(AerSimulator(noise_model=noise_model(), device="GPU"))
    assert gpu._backend.options.device == "GPU"  # carried over
    (block,) = gpu._prepare_circuit(one_rx_block()).blocks  # nothing runs while preparing
    assert block.program is None


def test_two_parameterized_blocks_with_interleaved_instructions_multiply():
    # {0..4} and {5..8} are not connected and too big to pack together (5 + 4 > 8): two blocks.
    # The first instruction belongs to the second block. Ideal: q4 copies q0 = ry(a)|0>, q8
    # copies q5 = rx(b)|0>, so P(q0, q4, q8) is cos^2/sin^2(a/2) on 00 / 11 times those of b/2.
    qc = QuantumCircuit(9)
    qc.rx(B, 5)
    qc.ry(A, 0)
    for q in range(4):
        qc.cx(q, q + 1)
    for q in range(5, 8):
        qc.cx(q, q + 1)
    sampler = ds.DensityMatrixSampler(AerSimulator())
    values = np.array([[0.4, 2.2], [1.7, -0.9]])  # (a, b) per row: circuit.parameters order
    probs, to_clbits = sampler.probabilities(measured(qc, (0, 4, 8)), values)
    assert len(sampler._prepare_circuit(measured(qc, (0, 4, 8))).blocks) == 2
    want = np.zeros((2, 8))
    for row, (a, b) in enumerate(values):
        for bit_ab, pa in ((0, np.cos(a / 2) ** 2), (3, np.sin(a / 2) ** 2)):
            for bit_b, pb in ((0, np.cos(b / 2) ** 2), (4, np.sin(b / 2) ** 2)):
                want[row, bit_ab | bit_b] = pa * pb
    np.testing.assert_allclose(probs, want[:, to_clbits], atol=1e-12)


def test_relaxation_on_delays_and_mid_circuit_measurements_are_refused():
    # a device noise model (T1/T2): its relaxation pass is fine without delays, refused with one
    device_noise = NoiseModel.from_backend(GenericBackendV2(num_qubits=2, seed=3))
    sampler = ds.DensityMatrixSampler(AerSimulator(noise_model=device_noise))
    qc = QuantumCircuit(1)
    qc.rx(A, 0)
    assert sampler.check(measured(qc, (0,))) == 1
    qc.delay(100, 0)
    with pytest.raises(
        ConfigurationError, match=r"noise through a pass \(e\.g\. relaxation during"
    ):
        sampler.check(measured(qc, (0,)))
    mid = QuantumCircuit(1, 1)
    mid.measure(0, 0)
    mid.rx(A, 0)
    with pytest.raises(
        CircuitError,
        match=r"'rx' after a measurement .*: the density-matrix noisy simulation needs",
    ):
        sampler.check(mid)
