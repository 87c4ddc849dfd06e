"""Readout-error mitigation: per-qubit calibration matrices, and their inverse applied.

A :class:`ReadoutCalibration` holds one 2x2 matrix per physical qubit,
``A[measured, prepared]`` (columns sum to 1), the convention of ``mthree``. Two ways to apply
its inverse to the distribution over the measured bits (bit ``j`` read from qubit
``qubits[j]``):

* :func:`correct_counts` (finite shots): ``mthree``'s matrix-free M3 solve on the observed
  bitstrings (Nation et al., PRX Quantum 2, 040326 (2021)), returning quasi-probabilities
  (they sum to 1; entries may be negative);
* :func:`correct_distribution` (exact noisy distributions, ``shots=None``): the full tensored
  inverse ``(A_{q_{k-1}} x ... x A_{q_0})^-1`` applied axis by axis: what M3 computes when
  every outcome lies in its subspace, without truncation.

Both are linear in the distribution. :func:`project_simplex` (opt-in for probability outputs)
is not.

Example:
    >>> cal = ReadoutCalibration({0: np.array([[0.9, 0.2], [0.1, 0.8]])}, source="given")
    >>> noisy = cal.matrix((0,)) @ np.array([0.25, 0.75])
    >>> correct_distribution(noisy[None, :], np.arange(2), (0,), cal).round(6).tolist()
    [[0.25, 0.75]]
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hybridqml.exceptions import BackendError, MissingDependencyError

__all__ = [
    "ReadoutCalibration",
    "calibration_from_counts",
    "calibration_from_noise_model",
    "correct_counts",
    "correct_distribution",
    "project_simplex",
]


@dataclass(frozen=True)
class ReadoutCalibration:
    """Readout matrices of physical qubits, with where and when they were measured.

    Attributes:
        matrices: Physical qubit -> 2x2 ``A[measured, prepared]``.
        source: ``"noise_model"``, ``"circuits"`` or a caller's label.
        shots: Shots per calibration circuit (``None`` for exact matrices).
        created: ``time.time()`` when the calibration was made.
    """

    matrices: Mapping[int, np.ndarray]
    source: str
    shots: int | None = None
    created: float = field(default_factory=time.time)

    @property
    def age(self) -> float:
        """Seconds since the calibration was made."""
        return time.time() - self.created

    def matrix(self, qubits: Sequence[int]) -> np.ndarray:
        """The dense tensored matrix over ``qubits`` (bit ``j`` is ``qubits[j]``); small k only."""
        out = np.ones((1, 1))
        for q in qubits:
            out = np.kron(self._get(q), out)
        return out

    def _get(self, qubit: int) -> np.ndarray:
        try:
            return np.asarray(self.matrices[int(qubit)], dtype=float)
        except KeyError:
            raise BackendError(
                f"no readout calibration for physical qubit {qubit} (calibrated: "
                f"{sorted(self.matrices)})"
            ) from None

    def fingerprint(self) -> bytes:
        """The matrices as bytes (qubits in order): equal calibrations, equal fingerprints."""
        return b"".join(
            np.int64(q).tobytes() + np.asarray(m, dtype=float).tobytes()
            for q, m in sorted(self.matrices.items())
        )

    def to_json(self) -> dict[str, Any]:
        """Source, shots, age and each qubit's readout errors (p(1|0), p(0|1))."""
        return {
            "source": self.source,
            "shots": self.shots,
            "age_seconds": round(self.age, 3),
            "qubits": {
                str(q): [round(float(m[1, 0]), 6), round(float(m[0, 1]), 6)]
                for q, m in sorted(self.matrices.items())
            },
        }


def calibration_from_noise_model(noise_model: Any, qubits: Sequence[int]) -> ReadoutCalibration:
    """The readout matrices an Aer ``NoiseModel`` applies to ``qubits`` (identity if none).

    Aer's ``ReadoutError.probabilities[prepared][measured]`` is the transpose of ``A``.
    """
    local = getattr(noise_model, "_local_readout_errors", {}) or {}
    default = getattr(noise_model, "_default_readout_error", None)
    matrices = {}
    for q in qubits:
        error = local.get((int(q),), default)
        if error is None:
            matrices[int(q)] = np.eye(2)
            continue
        probs = np.asarray(error.probabilities, dtype=float)
        if probs.shape != (2, 2):
            raise BackendError(
                f"qubit {q} has a correlated multi-qubit readout error; readout mitigation "
                "needs per-qubit errors (use calibration='circuits')"
            )
        matrices[int(q)] = probs.T
    return ReadoutCalibration(matrices, source="noise_model")


def calibration_from_counts(
    zeros: np.ndarray, ones: np.ndarray, qubits: Sequence[int], shots: int
) -> ReadoutCalibration:
    """Matrices from two calibration circuits: every qubit prepared in 0, every qubit in 1.

    Args:
        zeros: (shots,) outcome integers of the all-0 preparation (bit ``j`` is ``qubits[j]``).
        ones: (shots,) outcome integers of the all-1 preparation.
        qubits: Physical qubits measured into bits 0, 1, ...
        shots: Shots of each circuit.

    (mthree's ``"marginal"`` calibration: it assumes uncorrelated readout errors.)
    """
    matrices = {}
    for j, q in enumerate(qubits):
        p10 = float(np.mean((np.asarray(zeros, np.uint64) >> np.uint64(j)) & np.uint64(1)))
        p01 = 1.0 - float(np.mean((np.asarray(ones, np.uint64) >> np.uint64(j)) & np.uint64(1)))
        matrices[int(q)] = np.array([[1 - p10, p01], [p10, 1 - p01]])
    return ReadoutCalibration(matrices, source="circuits", shots=shots)


def correct_distribution(
    probs: np.ndarray, seen: np.ndarray, qubits: Sequence[int], calibration: ReadoutCalibration
) -> np.ndarray:
    """Apply the tensored inverse to exact distributions ``probs`` (M, C) over outcomes ``seen``.

    Returns:
        (M, 2**k) quasi-probabilities over all outcomes ``0 .. 2**k - 1``.
    """
    k = len(qubits)
    m = probs.shape[0]
    full = np.zeros((m, 1 << k))
    full[:, np.asarray(seen, dtype=np.int64)] = probs
    # axis order of the reshape: the highest bit first (C order), so bit j is axis k - j
    tensor = full.reshape((m,) + (2,) * k)
    for j, q in enumerate(qubits):
        inverse = np.linalg.inv(calibration._get(q))
        tensor = np.moveaxis(np.tensordot(inverse, tensor, axes=([1], [k - j])), 0, k - j)
    return tensor.reshape(m, 1 << k)


def correct_counts(
    counts: np.ndarray, seen: np.ndarray, qubits: Sequence[int], calibration: ReadoutCalibration
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """M3 (``mthree``) on counts (M, C) over outcomes ``seen``: quasi-probabilities per row.

    Returns:
        Per row: the outcome integers and their quasi-probabilities.

    Raises:
        MissingDependencyError: mthree is not installed.
    """
    mthree = _mthree()
    mit = mthree.M3Mitigation()
    width = max(int(q) for q in qubits) + 1
    matrices: list[np.ndarray | None] = [None] * width
    for q in qubits:
        matrices[int(q)] = calibration._get(q).astype(np.float32)
    mit.cals_from_matrices(matrices)
    k = len(qubits)
    seen = np.asarray(seen, dtype=np.int64)
    keys = [format(int(v), f"0{k}b") for v in seen]
    rows = [
        {keys[c]: int(n) for c, n in enumerate(row) if n} for row in np.asarray(counts, np.int64)
    ]
    quasis = mit.apply_correction(rows, list(qubits), distance=k)
    values, outcomes = [], []
    for quasi in quasis:
        outcomes.append(np.array([int(b, 2) for b in quasi], dtype=np.int64))
        values.append(np.array(list(quasi.values()), dtype=float))
    return outcomes, values


def project_simplex(values: np.ndarray) -> np.ndarray:
    """Each row of ``values`` (M, C) projected onto the probability simplex (Euclidean).

    Duchi et al., ICML 2008: sort, find the threshold, clip.

    Example:
        >>> project_simplex(np.array([[1.1, -0.1]])).round(6).tolist()
        [[1.0, 0.0]]
    """
    v = np.asarray(values, dtype=float)
    u = -np.sort(-v, axis=1)
    css = np.cumsum(u, axis=1) - 1.0
    ind = np.arange(1, v.shape[1] + 1)
    rho = np.count_nonzero(u - css / ind > 0, axis=1)
    theta = css[np.arange(v.shape[0]), rho - 1] / rho
    return np.maximum(v - theta[:, None], 0.0)


def _mthree() -> Any:
    try:
        import mthree
    except ImportError as exc:
        raise MissingDependencyError(
            "readout mitigation with shots uses mthree: pip install 'hybridqml[mitigation]'",
            package="mthree",
        ) from exc
    return mthree
