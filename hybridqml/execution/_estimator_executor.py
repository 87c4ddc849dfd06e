"""The executor over any Estimator V2 primitive: one PUB per call, every observable at once.

:class:`EstimatorExecutor` sends one PUB with parameter values shaped (M, 1, K) against
observables shaped (O,), so the simulator runs each binding once and evaluates every
observable on the same state (values tiled to (M, O, K) would run M x O times on Aer). An
estimator that also offers ``expectation_values`` on plain arrays (:class:`ArrayEstimator`,
e.g. :class:`~hybridqml.backends.aer.AerExactEstimator`) is asked through it: the
same simulation without the PUB and result containers.

Example:
    >>> from qiskit.primitives import StatevectorEstimator
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> ex = EstimatorExecutor(ShiftableCircuit(circuits.ry(1)), StatevectorEstimator(),
    ...                        name="statevector")
    >>> ex.run([[0.0]]).round(6).tolist()
    [[0.0]]
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.primitives.containers.observables_array import ObservablesArray

from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.execution._executor import DEFAULT_OPTIMIZATION_LEVEL, Executor
from hybridqml.execution._isa import bindings, parameter_columns, transpile_for
from hybridqml.execution._jobs import LOCAL_JOBS, Jobs, PrimitiveCall

__all__ = ["ArrayEstimator", "EstimatorExecutor"]


@runtime_checkable
class ArrayEstimator(Protocol):
    """An estimator that also evaluates validated arrays directly (no PUB containers)."""

    def expectation_values(
        self, circuit: QuantumCircuit, observables: ObservablesArray, values: np.ndarray
    ) -> np.ndarray:
        """(N, O) exact ``<O_j>`` for value rows (N, n_params) in ``circuit.parameters`` order."""


class EstimatorExecutor(Executor):
    """Runs one Estimator PUB: values (M, 1, K) against observables (O,).

    Args:
        shiftable: The circuit to run.
        estimator: Any ``BaseEstimatorV2``.
        name: Backend name for messages.
        target: Backend whose ISA to transpile to, or ``None`` to run the circuit as is.
        optimization_level: Transpiler preset level.
        seed: Transpiler seed (``DEFAULT_TRANSPILER_SEED`` when ``None``).
        shots: Shots per binding the estimator was configured with (a runtime Estimator's
            ``default_shots``), for counting; ``None`` when it computes exact values.
        jobs: How calls reach the estimator (:class:`~hybridqml.execution._jobs.Jobs`).
    """

    def __init__(
        self,
        shiftable: ShiftableCircuit,
        estimator: BaseEstimatorV2,
        *,
        name: str,
        target: Any = None,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
        seed: int | None = None,
        shots: int | None = None,
        jobs: Jobs = LOCAL_JOBS,
    ) -> None:
        super().__init__(shiftable, name=name, shots=shots)
        self.device = target
        self.estimator = estimator
        self.jobs = jobs
        (self.isa_circuit,) = transpile_for([shiftable.circuit], target, optimization_level, seed)
        layout = self.isa_circuit.layout
        self.isa_observables = ObservablesArray.coerce(  # coerced once, not on every call
            [obs.apply_layout(layout) if layout else obs for obs in shiftable.observables]
        )
        self._columns = parameter_columns(self.isa_circuit, shiftable.n_angles)
        self._lean = isinstance(estimator, ArrayEstimator) and len(self._columns) > 0
        #: How failed jobs are retried (read by the job service, e.g. a
        #: :class:`hybridqml.hardware._retry.RetryPolicy`; ``None``: its default).
        self.retry_policy: Any = None

    def call_seconds(self, bindings: int) -> float:
        """QPU seconds of a call with ``shots`` on a device with gate durations (else 0).

        Counts the circuit once per binding and shot: a mitigating runtime Estimator runs
        more (measurement bases, twirls, noise factors) than this lower bound.
        """
        if self.shots is None:
            return 0.0
        per_shot = self.jobs.shot_seconds([self.isa_circuit], self.device)
        return float(bindings * self.shots * per_shot[0]) if per_shot else 0.0

    def _run(self, angles: np.ndarray) -> np.ndarray:
        if self._lean:  # the same simulation without the PUB containers
            values = angles[:, self._columns]
            return self.estimator.expectation_values(self.isa_circuit, self.isa_observables, values)
        values = bindings(self.isa_circuit, self._columns, angles, (angles.shape[0], 1))
        pub = (self.isa_circuit, self.isa_observables, values)
        call = PrimitiveCall(
            self.name,
            lambda: self.estimator.run([pub]),
            self.estimator,
            [self.isa_circuit],
            angles,
            self.shots,
            info=self.job_info,
            reopen=self._reopen,
            policy=self.retry_policy,
        )
        result = self.jobs.run(call)
        return np.asarray(result[0].data.evs, dtype=float).reshape(angles.shape[0], -1)

    def _reopen(self) -> None:
        """Replace an estimator whose session closed with one on a new session (same options)."""
        self.estimator = self.jobs.reopen(self.estimator)
