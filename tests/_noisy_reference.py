"""An independent reference for noisy outcome distributions: Aer's density matrix (issue 24).

Each binding is bound into the ISA circuit, its final measurements replaced by
``save_density_matrix``, and run on ``AerSimulator(method="density_matrix")`` with the noise
model (Aer itself chooses which error follows which gate); the measured qubits' probabilities
come from ``qiskit.quantum_info.DensityMatrix`` and the readout errors are applied by a
written-out sum over true outcomes. Nothing is shared with hybridqml but the noise model.
"""

from __future__ import annotations

import itertools

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import DensityMatrix
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel


def _readout_matrix(noise: NoiseModel, qubit: int) -> np.ndarray:
    local = noise._local_readout_errors.get((qubit,))
    error = local if local is not None else noise._default_readout_error
    return np.eye(2) if error is None else np.asarray(error.probabilities)


def aer_reference(isa: QuantumCircuit, values: np.ndarray, noise: NoiseModel) -> np.ndarray:
    """(N, 2**k) recorded-outcome probabilities, outcome bit j = the j-th measured clbit."""
    measured = {
        isa.find_bit(i.clbits[0]).index: isa.find_bit(i.qubits[0]).index
        for i in isa.data
        if i.operation.name == "measure"
    }
    qubits = [measured[c] for c in sorted(measured)]
    body = isa.remove_final_measurements(inplace=False)
    body.save_density_matrix()
    sim = AerSimulator(method="density_matrix", noise_model=noise)
    matrices = [_readout_matrix(noise, q) for q in qubits]
    rows = []
    for row in np.atleast_2d(values):
        bound = body.assign_parameters(dict(zip(body.parameters, row, strict=True)))
        rho = DensityMatrix(sim.run(bound, shots=1).result().data(0)["density_matrix"])
        true = rho.probabilities(qubits)  # index bit j: qubits[j]
        recorded = np.zeros_like(true)
        for t, r in itertools.product(range(len(true)), repeat=2):
            factor = np.prod([matrices[j][t >> j & 1, r >> j & 1] for j in range(len(qubits))])
            recorded[r] += true[t] * factor
        rows.append(recorded)
    return np.array(rows)


def check_against_aer(sampler, isa: QuantumCircuit, values: np.ndarray, noise, atol=1e-9) -> None:
    """``sampler.probabilities(isa, values)`` equals :func:`aer_reference` (clbit order mapped)."""
    got, to_clbits = sampler.probabilities(isa, values)
    expected = aer_reference(isa, values, noise)
    k = got.shape[1].bit_length() - 1
    clbits = sorted(
        isa.find_bit(i.clbits[0]).index for i in isa.data if i.operation.name == "measure"
    )
    rank = {sum(1 << c for j, c in enumerate(clbits) if o >> j & 1): o for o in range(1 << k)}
    order = [rank[int(v)] for v in to_clbits]
    # Aer fuses gates on the 5-qubit device circuits: agreement to ~1e-10
    np.testing.assert_allclose(got, expected[:, order], atol=atol, rtol=0)
