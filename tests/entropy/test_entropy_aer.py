"""Hadamard sources on Aer and on a fake IBM device; OS and PRNG sources."""

from __future__ import annotations

import numpy as np
import pytest

from hybridqml.entropy import SOURCE_KINDS, AerHadamardSource, OSSource, PRNGSource
from hybridqml.entropy._sources.hadamard import hex_memory_to_ints
from hybridqml.exceptions import ConfigurationError


def test_hex_memory_conversion_matches_python_int():
    rng = np.random.default_rng(0)
    values = [0, 1, 15, 16, 255, 2**32 - 1, 2**63, 2**64 - 1]
    values += [int(v) for v in rng.integers(0, 2**63, 200, dtype=np.int64)]
    assert hex_memory_to_ints([hex(v) for v in values]).tolist() == values


def test_aer_source_is_simulated_and_reproducible_by_seed():
    a = AerHadamardSource(n_qubits=8, seed=11)
    assert a.kind == "simulated-quantum" and "seed=11" in a.name
    first = a.read(70_000)  # more than one job of 2**16 one-byte shots
    assert a.jobs == 2
    again = AerHadamardSource(n_qubits=8, seed=11).read(70_000)
    other = AerHadamardSource(n_qubits=8, seed=12).read(70_000)
    assert first == again and first != other
    assert first[:1000] != first[65_536:66_536]  # jobs get distinct seeds: no repeated block
    bits = np.unpackbits(np.frombuffer(first, dtype=np.uint8))
    assert abs(bits.mean() - 0.5) < 0.005


def test_aer_bits_are_per_shot_in_clbit_order():
    from qiskit_aer import AerSimulator

    source = AerHadamardSource(n_qubits=8, seed=5)
    ops = source._circuit.count_ops()
    assert ops["h"] == 8 and ops["measure"] == 8
    data = source.read(1000)
    job_seed = int(np.random.default_rng(5).integers(0, 2**62))
    result = AerSimulator(method="statevector").run(
        source._circuit, shots=source.shots_per_job, memory=True, seed_simulator=job_seed
    )
    memory = result.result().get_memory()  # '01101...' with clbit 0 last
    expected = bytes(int(bitstring[::-1], 2) for bitstring in memory[:1000])
    assert data == expected


def test_bits_carry_across_shots_and_jobs_for_odd_qubit_counts():
    source = AerHadamardSource(n_qubits=5, seed=2)
    data = source.read(3 * 65_536 * 5 // 8 + 3)  # forces a 4th job (2**16 shots: no carry)
    assert len(data) == 3 * 65_536 * 5 // 8 + 3 and source.jobs == 4


def test_bits_left_over_at_a_job_boundary_carry_into_the_next_job():
    # 65,537 shots x 5 bits is not a whole number of bytes: 5 bits of job 1 must start the next
    # byte, followed by job 2's bits. Reference: the jobs rerun on Aer with the same per-job
    # seeds, every shot's bits in clbit order, concatenated and packed into bytes.
    from qiskit_aer import AerSimulator

    shots, n_qubits, seed = 65_537, 5, 4
    source = AerHadamardSource(n_qubits=n_qubits, seed=seed, shots_per_job=shots)
    sizes = [1, 40_958, 3, 7_777, 12_000, 5]  # reads not aligned with the job boundary
    data = b"".join(source.read(k) for k in sizes)
    assert source.jobs == 2
    seeds = np.random.default_rng(seed)
    bits = []
    for _ in range(2):
        job = AerSimulator(method="statevector").run(
            source._circuit,
            shots=shots,
            memory=True,
            seed_simulator=int(seeds.integers(0, 2**62)),
        )
        bits += [int(b) for bitstring in job.result().get_memory() for b in bitstring[::-1]]
    expected = np.packbits(np.array(bits[: 8 * len(data)], dtype=np.uint8)).tobytes()
    assert data == expected
    assert data == AerHadamardSource(n_qubits=n_qubits, seed=seed, shots_per_job=shots).read(
        len(data)
    )


@pytest.mark.parametrize("kwargs", [{"shots_per_job": 1000}, {"n_qubits": 0}, {"seed": -1}])
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigurationError):
        AerHadamardSource(**kwargs)


def test_fake_device_source_shows_readout_bias():
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    source = AerHadamardSource(backend=FakeManilaV2(), seed=3)
    assert source.kind == "simulated-quantum" and source.simulation == "density_matrix"
    assert source.n_qubits == 5 and source.claimed_min_entropy < 8
    data = source.read(20_000)
    assert data == AerHadamardSource(backend=FakeManilaV2(), seed=3).read(20_000)  # seeded
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    assert bits.mean() < 0.495  # readout error (1 -> 0 more often than 0 -> 1) pulls towards 0
    kwargs = {"backend": FakeManilaV2(), "seed": 3, "noisy_simulation": "trajectories"}
    trajectories = AerHadamardSource(**kwargs).read(20_000)
    assert AerHadamardSource(**kwargs, use_sampler=True).read(20_000) == trajectories


def _shots(data: bytes, n_qubits: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8)).reshape(-1, n_qubits)
    return bits @ (1 << np.arange(n_qubits))  # bit i of a shot is clbit i


def test_fake_device_bits_follow_aers_native_noisy_sampling():
    # two-sample G-test over the 32 outcomes of 200,000 shots each: the exact-distribution path
    # against Aer's own noisy sampling (trajectories) of the same device; p > 0.001 required
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2
    from scipy.stats import chi2_contingency

    n_bytes = 200_000 * 5 // 8
    exact = AerHadamardSource(backend=FakeManilaV2(), seed=1).read(n_bytes)
    native = AerHadamardSource(
        backend=FakeManilaV2(), seed=2, noisy_simulation="trajectories"
    ).read(n_bytes)
    table = np.stack([np.bincount(_shots(d, 5), minlength=32) for d in (exact, native)])
    assert chi2_contingency(table, lambda_="log-likelihood").pvalue > 1e-3


def test_fake_device_source_noisy_simulation_is_validated():
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    with pytest.raises(ConfigurationError, match="noisy_simulation must be one of"):
        AerHadamardSource(backend=FakeManilaV2(), noisy_simulation="magic")


def test_os_and_prng_sources():
    assert OSSource().kind == "os" and len(OSSource().read(33)) == 33
    assert PRNGSource(seed=1).kind == "pseudo"
    assert {OSSource().kind, PRNGSource(seed=1).kind} <= set(SOURCE_KINDS)
    with pytest.raises(ConfigurationError):
        PRNGSource(seed=-3)
    with pytest.raises(ConfigurationError):
        OSSource().read(-1)
