"""Test doubles wrapping real primitives: they count calls and delegate."""

from __future__ import annotations

import numpy as np
from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.quantum_info import Statevector


class CountingEstimator(BaseEstimatorV2):
    """Delegates to another estimator and records every ``run`` call and its PUB shapes."""

    def __init__(self, inner: BaseEstimatorV2) -> None:
        self.inner = inner
        self.calls: list[list[tuple]] = []

    def run(self, pubs, *, precision=None):
        pubs = list(pubs)
        self.calls.append([tuple(p[2].shape) if len(p) > 2 else () for p in pubs])
        return self.inner.run(pubs, precision=precision)


class CountingSampler(BaseSamplerV2):
    """Delegates to another sampler and records every ``run`` call."""

    def __init__(self, inner: BaseSamplerV2) -> None:
        self.inner = inner
        self.calls: list[int] = []
        self._backend = getattr(inner, "_backend", None)

    def run(self, pubs, *, shots=None):
        pubs = list(pubs)
        self.calls.append(len(pubs))
        return self.inner.run(pubs, shots=shots)


class _Counts:
    def __init__(self, rows):
        self.rows = rows

    def get_counts(self, i=None):
        return self.rows[0 if i is None else i]


class _Pub:
    def __init__(self, rows):
        self.data = type("Data", (), {"meas": _Counts(rows)})()


class _Job:
    def __init__(self, results):
        self._results = results

    def result(self):
        return self._results


class ExactSampler(BaseSamplerV2):
    """Exact 'counts' (the Born probabilities, summing to 1) from qiskit's Statevector.

    SamplerQNN divides counts by their total, so its outputs and parameter-shift gradients are
    then exact: an independent float64 reference.
    """

    def run(self, pubs, *, shots=None):
        results = []
        for circuit, values in pubs:
            body = circuit.remove_final_measurements(inplace=False)
            qubit_of = {
                circuit.find_bit(i.clbits[0]).index: circuit.find_bit(i.qubits[0]).index
                for i in circuit.data
                if i.operation.name == "measure"
            }
            qargs = [qubit_of[c] for c in range(circuit.num_clbits)]  # bit j: clbit j's qubit
            rows = []
            for row in np.atleast_2d(np.asarray(values, dtype=float)):
                bound = body.assign_parameters(dict(zip(body.parameters, row, strict=True)))
                probs = Statevector(bound).probabilities(qargs)
                rows.append({format(v, f"0{len(qargs)}b"): p for v, p in enumerate(probs)})
            results.append(_Pub(rows))
        return _Job(results)
