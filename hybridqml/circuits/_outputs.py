"""Probability outputs: the measured bitstring distribution as a layer's outputs.

A :class:`Probabilities` passed as a spec's ``observables`` makes output ``j`` the probability of
the outcomes that ``interpret`` maps to ``j`` (qiskit-machine-learning's ``SamplerQNN``,
PennyLane's ``qml.probs``). Bit order is Qiskit's little-endian one: measuring ``qubits`` =
``(q0, q1, ...)``, the outcome integer has bit ``j`` equal to the value of qubit ``qubits[j]``;
over all qubits, ``|q_{n-1} ... q_1 q_0>`` is the integer ``sum(q_i << i)``, as ``SamplerQNN``
reads a circuit whose qubit ``i`` is measured into classical bit ``i``.

Each probability is the expectation value of a projector onto computational basis states, so
the parameter-shift rule holds exactly, as for Pauli observables.

Example:
    >>> readout = Probabilities(interpret=lambda v: bin(v).count("1") % 2, output_size=2)
    >>> resolved = readout.resolve(n_qubits=2)
    >>> resolved.qubits, resolved.table.tolist(), resolved.output_size
    ((0, 1), [0, 1, 1, 0], 2)
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hybridqml.exceptions import CircuitError

__all__ = ["MAX_PROBABILITY_QUBITS", "Probabilities", "ProbabilityReadout", "parity"]

#: Most measured qubits of a probability output (2**20 outcomes per sample).
MAX_PROBABILITY_QUBITS = 20


def parity(outcome: int) -> int:
    """Parity of an outcome's bits: the usual ``interpret`` of a two-class ``SamplerQNN``.

    Example:
        >>> [parity(v) for v in range(4)]
        [0, 1, 1, 0]
    """
    return int(outcome).bit_count() % 2


@dataclass(frozen=True)
class ProbabilityReadout:
    """A resolved :class:`Probabilities`: measured qubits and the outcome -> output table.

    Attributes:
        qubits: Measured qubits; outcome bit ``j`` is qubit ``qubits[j]``.
        table: (2**k,) int array, output index of each outcome.
        output_size: Number of outputs.
    """

    qubits: tuple[int, ...]
    table: np.ndarray
    output_size: int

    def matrix(self) -> np.ndarray:
        """(2**k, output_size) 0/1 float matrix: outputs = distribution @ matrix.

        Dense: 2**k x output_size numbers (2**2k without ``interpret``), so for small readouts
        and inspection only; :meth:`combine` computes the same outputs in O(2**k).

        Example:
            >>> Probabilities().resolve(1).matrix().tolist()
            [[1.0, 0.0], [0.0, 1.0]]
        """
        m = np.zeros((len(self.table), self.output_size))
        m[np.arange(len(self.table)), self.table] = 1.0
        return m

    @property
    def is_identity(self) -> bool:
        """Whether every outcome is its own output (no ``interpret``)."""
        return self.output_size == len(self.table) and bool(
            np.array_equal(self.table, np.arange(len(self.table)))
        )

    def combine(self, distribution: np.ndarray, outcomes: np.ndarray | None = None) -> np.ndarray:
        """Outputs (M, output_size) of a distribution (M, C): ``distribution @ matrix()[outcomes]``.

        Sums the weight of the outcomes each output collects, without the dense matrix (memory
        O(M x (C + output_size)) at any number of measured qubits).

        Args:
            distribution: (M, C) probabilities or counts over ``C`` outcomes.
            outcomes: (C,) outcome integer of each column; ``None``: column ``c`` is outcome
                ``c`` (``C = 2**k``).

        Example:
            >>> r = Probabilities(interpret=parity, output_size=2).resolve(2)
            >>> r.combine(np.array([[0.1, 0.2, 0.3, 0.4]])).round(6).tolist()  # even, odd
            [[0.5, 0.5]]
            >>> r.combine(np.array([[0.25, 0.75]]), outcomes=np.array([3, 1])).tolist()
            [[0.25, 0.75]]
        """
        dist = np.asarray(distribution, dtype=float)
        index = self.table if outcomes is None else self.table[np.asarray(outcomes, np.int64)]
        if index.shape != dist.shape[1:]:
            raise ValueError(f"{dist.shape[1]} columns for {index.shape[0]} outcomes")
        if outcomes is None and self.is_identity:
            return dist.copy()
        rows = dist.shape[0]
        flat = (np.arange(rows)[:, None] * self.output_size + index[None, :]).ravel()
        out = np.bincount(flat, weights=dist.ravel(), minlength=rows * self.output_size)
        return out.reshape(rows, self.output_size)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ProbabilityReadout)
            and self.qubits == other.qubits
            and self.output_size == other.output_size
            and np.array_equal(self.table, other.table)
        )

    def __hash__(self) -> int:
        return hash((self.qubits, self.output_size, self.table.tobytes()))


@dataclass(frozen=True)
class Probabilities:
    """Measure the circuit: outputs are the bitstring distribution (optionally interpreted).

    Args:
        qubits: Qubits to measure, ``None`` for all (in order 0..n-1). Outcome bit ``j`` is
            qubit ``qubits[j]`` (little-endian, as Qiskit).
        interpret: Maps an outcome integer (``0 .. 2**k - 1``) to an output index, e.g.
            :func:`parity`. ``None``: one output per outcome.
        output_size: Number of outputs; required with ``interpret`` (as ``SamplerQNN``'s
            ``output_shape``), must be ``2**k`` (or ``None``) without it.

    Example:
        >>> Probabilities(qubits=[1]).resolve(n_qubits=3).table.tolist()
        [0, 1]
    """

    qubits: Sequence[int] | None = None
    interpret: Callable[[int], int] | None = None
    output_size: int | None = None

    def resolve(self, n_qubits: int) -> ProbabilityReadout:
        """Check against a circuit of ``n_qubits`` and tabulate ``interpret``.

        Raises:
            CircuitError: a bad qubit list, a missing or bad ``output_size``, or an
                ``interpret`` that fails or returns an index outside ``0 .. output_size - 1``.
        """
        qubits = self._qubits(n_qubits)
        k = len(qubits)
        size = self.output_size
        if size is not None and (
            not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1
        ):
            raise CircuitError(f"output_size must be a positive integer, got {size!r}")
        if self.interpret is None:
            if size is not None and size != 1 << k:
                raise CircuitError(
                    f"output_size={size} but {k} measured qubits give {1 << k} outcomes; pass "
                    "interpret=... to map outcomes to fewer outputs, or leave output_size unset"
                )
            return ProbabilityReadout(qubits, np.arange(1 << k), 1 << k)
        if size is None:
            raise CircuitError(
                "interpret needs output_size: the number of outputs it maps outcomes to "
                "(qiskit-machine-learning's output_shape)"
            )
        table = np.empty(1 << k, dtype=np.int64)
        for v in range(1 << k):
            try:
                j = self.interpret(v)
            except Exception as exc:
                raise CircuitError(f"interpret({v}) failed: {type(exc).__name__}: {exc}") from exc
            if isinstance(j, bool) or not isinstance(j, numbers.Integral) or not 0 <= j < size:
                raise CircuitError(
                    f"interpret({v}) returned {j!r}; it must return an int in 0..{size - 1} "
                    f"(output_size={size})"
                )
            table[v] = int(j)
        return ProbabilityReadout(qubits, table, int(size))

    def _qubits(self, n_qubits: int) -> tuple[int, ...]:
        if self.qubits is None:
            qubits = tuple(range(n_qubits))
        else:
            try:
                qubits = tuple(self.qubits)
            except TypeError:
                raise CircuitError(
                    f"qubits must be a sequence of qubit indices, got {self.qubits!r}"
                ) from None
        bad = [
            q
            for q in qubits
            if isinstance(q, bool) or not isinstance(q, numbers.Integral) or not 0 <= q < n_qubits
        ]
        if bad or not qubits:
            raise CircuitError(
                f"qubits must be distinct indices in 0..{n_qubits - 1}, got {self.qubits!r}"
            )
        if len(set(qubits)) != len(qubits):
            raise CircuitError(f"qubits lists a qubit twice: {self.qubits!r}")
        if len(qubits) > MAX_PROBABILITY_QUBITS:
            raise CircuitError(
                f"{len(qubits)} measured qubits give 2**{len(qubits)} probabilities; measure at "
                f"most {MAX_PROBABILITY_QUBITS} (pass qubits=[...] or an interpret)"
            )
        return tuple(int(q) for q in qubits)
