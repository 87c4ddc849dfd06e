"""An exact Estimator V2 primitive on Aer that prepares each circuit once.

``qiskit_aer.primitives.EstimatorV2`` rebuilds its measured circuit on every ``run`` (a copy plus
one ``save_expectation_value`` per Pauli term) and runs it on a worker thread. For a training loop
that sends the same circuit thousands of times, that fixed cost is comparable to simulating a
batch of 32 small circuits. :class:`AerExactEstimator` keeps the prepared circuit per
(circuit, Pauli terms) and runs synchronously; the simulation itself is the same single
``AerSimulator.run`` with ``parameter_binds`` that Aer's primitive uses, so the results are the
same exact statevector expectation values.

It implements ``BaseEstimatorV2``, so anything written against the primitive interface (including
IBM Runtime's estimator) is interchangeable with it.

Example:
    >>> from qiskit import QuantumCircuit
    >>> from qiskit_aer import AerSimulator
    >>> qc = QuantumCircuit(1)
    >>> _ = qc.h(0)
    >>> job = AerExactEstimator(AerSimulator()).run([(qc, "X")])
    >>> round(float(job.result()[0].data.evs), 6)
    1.0
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.primitives.containers import DataBin, EstimatorPubLike, PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.quantum_info import Pauli

from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._jobs import DoneJob, IdentityCache

__all__ = ["AerExactEstimator"]

#: Prepared circuits kept per estimator (oldest evicted first).
_CACHE_SIZE = 32


class AerExactEstimator(BaseEstimatorV2):
    """Exact expectation values on an ``AerSimulator``, with prepared circuits cached.

    Args:
        simulator: The ``AerSimulator`` to run on (its options, e.g. ``method``, ``device`` or
            ``max_parallel_threads``, apply).

    Raises:
        ConfigurationError: on ``run`` with a precision > 0 (this estimator is exact; use shots
            through a sampler for finite-sample statistics).
    """

    def __init__(self, simulator: Any) -> None:
        self._backend = simulator
        self._prepared = IdentityCache(_CACHE_SIZE)  # (circuit, labels) -> measured copy
        self._terms_cache = IdentityCache(_CACHE_SIZE)  # observables -> (labels, coefficients)

    @property
    def simulator(self) -> Any:
        """The simulator running the circuits."""
        return self._backend

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None) -> DoneJob:
        """Evaluate the PUBs exactly and return a finished job."""
        if precision:
            raise ConfigurationError("AerExactEstimator is exact: precision must be 0 or None")
        coerced = [EstimatorPub.coerce(pub, 0.0) for pub in pubs]
        for pub in coerced:
            if pub.precision:
                raise ConfigurationError("AerExactEstimator is exact: precision must be 0")
        return DoneJob(
            PrimitiveResult([self._run_pub(p) for p in coerced], metadata={"version": 2})
        )

    def _prepare(self, circuit: QuantumCircuit, labels: tuple[str, ...]) -> QuantumCircuit:
        def build() -> QuantumCircuit:
            prepared = circuit.copy()
            for label in labels:
                prepared.save_expectation_value(
                    Pauli(label), qubits=range(circuit.num_qubits), label=label
                )
            return prepared

        return self._prepared.get(circuit, build, labels)

    def _terms(self, observables: ObservablesArray) -> tuple[tuple[str, ...], np.ndarray]:
        """Pauli labels measured and the (*observables.shape, n_labels) coefficient array."""
        return self._terms_cache.get(observables, lambda: _pauli_coefficients(observables))

    def _simulate(
        self, circuit: QuantumCircuit, labels: tuple[str, ...], values: np.ndarray | None
    ) -> np.ndarray:
        """Term expectation values (N, n_labels) for value rows (N, n_params), one Aer run."""
        prepared = self._prepare(circuit, labels)
        if values is None:
            result = self._backend.run(prepared).result()
        else:
            params = list(circuit.parameters)
            binds = [{p: values[:, j] for j, p in enumerate(params)}]
            result = self._backend.run(prepared, parameter_binds=binds).result()
        terms = np.empty((len(result.results), len(labels)))
        for i, experiment in enumerate(result.results):
            data = experiment.data.to_dict()
            terms[i] = [data[label] for label in labels]
        return terms

    def expectation_values(
        self, circuit: QuantumCircuit, observables: ObservablesArray, values: np.ndarray
    ) -> np.ndarray:
        """Exact ``<O_j>`` for each row of ``values``: what :meth:`run` computes for one PUB.

        A lean entry for callers that already hold validated arrays (the layer's executor
        sends the same circuit and observables thousands of times), skipping the PUB and
        result containers.

        Args:
            circuit: A parameterized circuit.
            observables: Observables of shape (O,), coerced once by the caller.
            values: (N, n_params) values in ``circuit.parameters`` order.

        Returns:
            (N, O) expectation values.
        """
        labels, coeffs = self._terms(observables)
        terms = self._simulate(circuit, labels, np.asarray(values, dtype=float))
        return terms @ coeffs.T

    def _run_pub(self, pub: EstimatorPub) -> PubResult:
        circuit, observables, values = pub.circuit, pub.observables, pub.parameter_values
        labels, coeffs = self._terms(observables)
        params = list(circuit.parameters)
        if params:
            flat = values.as_array(params).reshape(-1, len(params))
            terms = self._simulate(circuit, labels, flat)
            terms = terms.reshape(*values.shape, len(labels))
        else:
            terms = self._simulate(circuit, labels, None)[0]
        evs = np.sum(terms * coeffs, axis=-1)  # broadcasts values.shape against observables.shape
        shape = evs.shape
        return PubResult(
            DataBin(evs=evs, stds=np.zeros(shape), shape=shape),
            metadata={"target_precision": 0.0, "circuit_metadata": circuit.metadata},
        )


def _pauli_coefficients(observables: ObservablesArray) -> tuple[tuple[str, ...], np.ndarray]:
    """Distinct Pauli labels and the (*observables.shape, n_labels) real coefficient array."""
    flat_obs = list(observables.ravel())
    labels = tuple(sorted({label for obs in flat_obs for label in obs}))
    column = {label: j for j, label in enumerate(labels)}
    coeffs = np.zeros((len(flat_obs), len(labels)))  # observable x Pauli term
    for o, obs in enumerate(flat_obs):
        for label, coeff in obs.items():
            coeffs[o, column[label]] += float(np.real(coeff))
    return labels, coeffs.reshape(*observables.shape, len(labels))
