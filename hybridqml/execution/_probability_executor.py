"""Probability outputs on Qiskit samplers: one measurement circuit, one PUB per call.

A spec whose outputs are :class:`~hybridqml.circuits.Probabilities` is measured in the
computational basis on its readout qubits only (qubit ``qubits[j]`` into classical bit ``j`` of
register ``hq``), and the outputs are the outcome distribution pushed through the readout's
outcome -> output table. The same samplers as for Pauli observables do the work
(:class:`~hybridqml.execution._sampler_executor.SamplerExecutor` supplies transpilation, seeding
and runtime contexts):

* samplers computing their distribution
  (:class:`~hybridqml.execution._distribution.DistributionSampler`: noiseless Aer, noise models
  with gate and readout error): the exact distribution with ``shots=None``, or a multinomial
  draw of ``shots`` outcomes from it;
* any other sampler (IBM Runtime ``SamplerV2``, ``BackendSamplerV2``, Aer's trajectories):
  the measured bitstrings, counted.

A forward pass and every shifted binding of a backward pass are one ``run`` call each.

Example:
    >>> from hybridqml import circuits
    >>> from hybridqml.execution import make_executor
    >>> from hybridqml.circuits._outputs import Probabilities
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> spec = circuits.ry(1).with_outputs(Probabilities())
    >>> ex = make_executor(ShiftableCircuit(spec), "aer")
    >>> ex.run([[0.0]]).round(6).tolist()      # H then RY(0): |+>, p(0) = p(1) = 1/2
    [[0.5, 0.5]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.primitives import BaseSamplerV2

from hybridqml.circuits._outputs import ProbabilityReadout
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.execution._distribution import DistributionSampler
from hybridqml.execution._isa import (
    BINDING_SEED_STRIDE,
    bindings,
    parameter_columns,
    set_sampler_seed,
    transpile_for,
)
from hybridqml.execution._measurement import MEASURED_REGISTER, outcomes
from hybridqml.execution._sampler_executor import SamplerExecutor

__all__ = ["ProbabilityExecutor", "readout_circuit"]


def readout_circuit(circuit: QuantumCircuit, readout: ProbabilityReadout) -> QuantumCircuit:
    """``circuit`` measuring ``readout.qubits[j]`` into bit ``j`` of register ``hq``.

    Example:
        >>> from hybridqml.circuits._outputs import Probabilities
        >>> qc = readout_circuit(QuantumCircuit(3), Probabilities(qubits=[2, 0]).resolve(3))
        >>> [(qc.find_bit(i.qubits[0]).index, qc.find_bit(i.clbits[0]).index) for i in qc.data]
        [(2, 0), (0, 1)]
    """
    qc = circuit.copy()
    qc.add_register(ClassicalRegister(len(readout.qubits), MEASURED_REGISTER))
    qc.measure(list(readout.qubits), list(range(len(readout.qubits))))
    return qc


class ProbabilityExecutor(SamplerExecutor):
    """Outputs: the readout's combination of the measured distribution, one call per pass.

    Args: as :class:`~hybridqml.execution._sampler_executor.SamplerExecutor`;
    ``shiftable.probabilities`` must be set.
    """

    def __init__(self, shiftable: ShiftableCircuit, sampler: BaseSamplerV2, **kwargs: Any) -> None:
        super().__init__(shiftable, sampler, **kwargs)  # no Pauli terms: no Pauli circuits
        readout = shiftable.probabilities
        assert readout is not None, "ProbabilityExecutor needs a probability readout"
        self.readout = readout
        self._groups = [("Z" * len(readout.qubits), [])]  # one measurement, one seed stream
        target = kwargs.get("target")
        level, seed = kwargs.get("optimization_level", 1), kwargs.get("seed")
        circuit = readout_circuit(shiftable.circuit, readout)
        self.isa_circuits = transpile_for([circuit], target, level, seed)
        self._columns = [parameter_columns(isa, shiftable.n_angles) for isa in self.isa_circuits]

    def _mitigated_values(self, dists: list[np.ndarray]) -> np.ndarray:
        """The readout's outputs of the corrected distributions, extrapolated (and projected)."""
        plan = self.mitigation
        assert plan is not None
        (values,) = plan.combine([self.readout.combine(dense) for dense in dists])
        return plan.project(values)

    def _run(self, angles: np.ndarray) -> np.ndarray:
        if self.mitigation is not None:
            return self._mitigated_values(self._mitigated_distributions(angles, None))
        m = angles.shape[0]
        sampler, seed, row = self._next_rows(m)
        (isa,), (cols,) = self.isa_circuits, self._columns
        if isinstance(sampler, DistributionSampler):
            probs, seen = sampler.probabilities(isa, angles[:, cols] if len(cols) else None)
            probs = np.broadcast_to(probs, (m, probs.shape[1]))
            seen = seen.astype(np.int64)  # columns in the sampler's outcome order
            if self.shots is None:
                return self.readout.combine(probs, seen)
            (rng,) = self._pass["rngs"]
            return self.readout.combine(rng.multinomial(self.shots, probs), seen) / self.shots
        call_seed = None if seed is None else seed + BINDING_SEED_STRIDE * row
        if call_seed is not None:
            set_sampler_seed(sampler, call_seed)
        pub = (isa, bindings(isa, cols, angles, (m,)), self.shots)
        # one job, retried, logged in jobs.jsonl and recovered by id like every sampler call
        result = self._submit([pub], angles, call_seed)
        bits = outcomes(getattr(result[0].data, MEASURED_REGISTER).array)  # (M, shots)
        index = self.readout.table[bits.astype(np.int64)]  # output of every shot
        size = self.readout.output_size
        counts = np.stack([np.bincount(row_, minlength=size) for row_ in index])
        return counts / bits.shape[1]
