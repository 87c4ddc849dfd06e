"""The numpy noisy simulator against Aer's own density matrix (issue 24).

See ``tests/_noisy_reference.py`` for the reference.

Reference: each binding bound into the ISA circuit, its final measurements replaced by
``save_density_matrix``, run on ``AerSimulator(method="density_matrix")`` with the noise model
(so Aer itself chooses which error follows which gate), then the measured qubits' probabilities
from ``qiskit.quantum_info.DensityMatrix`` and the readout errors applied by a written-out sum
over true outcomes. Nothing is shared with the code under test but the noise model.
"""

from __future__ import annotations

import numpy as np
import pytest
from _circuits import mixed_spec, rich_spec
from _noisy_reference import check_against_aer
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit_aer.noise import NoiseModel, ReadoutError, amplitude_damping_error, depolarizing_error

from hybridqml import circuits
from hybridqml.backends.mixed._density_sampler import DensityMatrixSampler
from hybridqml.circuits import ParameterizedCircuit
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.execution._registry import make_executor


def _phase_spec() -> ParameterizedCircuit:
    """Parameterized ``p`` gates whose sign shows: H, P(x), RX(w) gives <Z> = -sin(w) sin(x)."""
    x, y, w = Parameter("x"), Parameter("y"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.h([0, 1])
    qc.p(x, 0)
    qc.p(y - x, 1)
    qc.cx(0, 1)
    qc.rx(w, 0)
    qc.rx(w, 1)
    return ParameterizedCircuit(qc, [x, y], [w])


def _precedence_noise() -> NoiseModel:
    """An all-qubit error and a different, qubit-specific one on the same gate."""
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.02, 1), ["rx", "ry", "rz", "h", "p"])
    noise.add_quantum_error(amplitude_damping_error(0.4), ["rx", "ry", "h"], [0])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx"])
    noise.add_all_qubit_readout_error(ReadoutError([[0.95, 0.05], [0.1, 0.9]]))
    noise.add_readout_error(ReadoutError([[0.8, 0.2], [0.3, 0.7]]), [1])
    return noise


CASES = {
    "phase": _phase_spec,
    "mixed": mixed_spec,
    "rich": rich_spec,
    "variational": lambda: circuits.variational(3, 1),
}


@pytest.mark.parametrize(
    ("backend", "spec_name"),
    [
        ("aer", "phase"),  # untranspiled: the parameterized p gates reach the simulator
        ("aer", "mixed"),
        ("aer", "rich"),
        ("fake_manila", "phase"),
        ("fake_manila", "variational"),
    ],
)
def test_noisy_probabilities_equal_aers_density_matrix_with_the_noise_applied_by_aer(
    backend, spec_name
):
    spec = CASES[spec_name]()
    shiftable = ShiftableCircuit(spec)
    options = {"noise_model": _precedence_noise()} if backend == "aer" else None
    executor = make_executor(shiftable, backend, backend_options=options)
    sampler = executor.sampler
    assert isinstance(sampler, DensityMatrixSampler)
    noise = sampler.simulator.options.noise_model
    theta = np.random.default_rng(4).uniform(-np.pi, np.pi, size=(3, len(spec.parameters)))
    angles = shiftable.angles(theta)
    for isa, cols in zip(executor.isa_circuits, executor._columns, strict=True):
        check_against_aer(sampler, isa, angles[:, cols], noise)
