"""The circuits, batches and tolerances of the conformance suite.

Three circuits at awkward sizes: the textbook 1-qubit RY circuit with a batch of one, a 3-qubit
variational ansatz with ring entanglement and an uneven batch of five, and a 2-qubit circuit of
parameter expressions (a product ``x0*w0``, ``2*x1 + w1``, ``w0 - x1/2``) fed one unbatched
1-D input. Every observable is diagonal, so noisy references can compute it exactly.

Example:
    >>> [case.name for case in cases()]
    ['ry', 'variational', 'expressions']
    >>> cases()[1].theta.shape   # 5 rows of 3 inputs and 3 weights
    (5, 6)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from hybridqml.circuits import ParameterizedCircuit, ry, variational

__all__ = ["SIGMAS", "Case", "cases", "shot_sigma"]

#: Standard errors a sampled number may stray from its exact value before a check fails.
SIGMAS = 5.0
#: Seed of the suite's own draws (inputs, weights, cotangents).
DATA_SEED = 2024


@dataclass(frozen=True)
class Case:
    """One circuit with its inputs and weights.

    Attributes:
        name: Short name used in failure messages.
        spec: The circuit.
        inputs: (B, n_inputs), or (n_inputs,) for an unbatched call.
        weights: (n_weights,).
        shift_weight: Bound on the sum of squared chain-rule factors of any parameter's
            occurrences (its parameter-shift estimate's variance is at most this over 2 shots).
    """

    name: str
    spec: ParameterizedCircuit
    inputs: np.ndarray
    weights: np.ndarray
    shift_weight: float = 1.0

    @property
    def batch(self) -> np.ndarray:
        """The inputs as (B, n_inputs)."""
        return np.atleast_2d(self.inputs)

    @property
    def theta(self) -> np.ndarray:
        """(B, P) parameter rows: inputs then weights."""
        b = self.batch
        return np.hstack([b, np.broadcast_to(self.weights, (b.shape[0], len(self.weights)))])

    def describe(self) -> str:
        """The circuit and its batch, for messages."""
        shape = "unbatched" if self.inputs.ndim == 1 else f"batch of {self.inputs.shape[0]}"
        qubits = f"{self.spec.n_qubits} qubit" + ("s" if self.spec.n_qubits > 1 else "")
        return f"circuit {self.name!r} ({qubits}, {shape})"


def _expressions() -> ParameterizedCircuit:
    x0, x1, w0, w1 = (Parameter(n) for n in ("x0", "x1", "w0", "w1"))
    qc = QuantumCircuit(2)
    qc.ry(x0 * w0, 0)
    qc.rx(2 * x1 + w1, 1)
    qc.cx(0, 1)
    qc.ry(w0 - x1 / 2, 1)
    return ParameterizedCircuit(qc, [x0, x1], [w0, w1], observables=["IZ", "ZI", "ZZ"])


def cases() -> list[Case]:
    """The suite's circuits, inputs and weights (the same on every call)."""
    rng = np.random.default_rng(DATA_SEED)
    return [
        Case("ry", ry(1), np.array([[0.7]]), np.zeros(0)),
        Case(
            "variational",
            variational(3, 1, entanglement="ring"),
            rng.uniform(-np.pi, np.pi, (5, 3)),
            rng.uniform(-np.pi, np.pi, 3),
        ),
        # |x|, |w| <= 1: the chain factors (w0, x0, 2, 1, -1/2) square-sum to at most 4.25
        Case("expressions", _expressions(), rng.uniform(-1, 1, 2), rng.uniform(-1, 1, 2), 4.25),
    ]


def shot_sigma(case: Case, shots: int) -> float:
    """Largest standard error of one output of ``case`` estimated from ``shots`` shots."""
    norm = max(float(np.abs(obs.coeffs).sum()) for obs in case.spec.observables)
    return norm / np.sqrt(shots)
