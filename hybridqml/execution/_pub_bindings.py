"""The bindings of one call, per circuit: plain rows, or per-copy parameter-shift rows.

A mitigated sampler call runs every folded circuit (PUB) at its own bindings. Without per-copy
forms, or for plain rows, each PUB binds the call's rows (its circuit's parameters taken from
their columns). With ZNE's per-copy rule (:mod:`hybridqml.mitigation._gate_angles`) and a
parameter-shift plan's rows, a row ``phi +- s e_k`` runs one binding per gate ``g`` of the PUB
whose angle depends on ``phi_k`` (that gate's angle shifted by ``+- s``), and the row's value is
their sum weighted by ``d gamma_g / d phi_k`` (:meth:`PubBindings.gather`). PUBs then have
different numbers of bindings; :func:`circuit_bindings` and :func:`row_factor` count them for
trackers, budgets and memory chunks.

Example:
    >>> import numpy as np
    >>> pub = PubBindings(np.zeros((3, 1)), rows=np.array([0, 0, 1]), weights=np.array([1, -1, 2]))
    >>> pub.gather(np.array([[1.0], [0.25], [0.5]]), 2).ravel().tolist()
    [0.75, 1.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hybridqml.gradients import ShiftedRows
    from hybridqml.mitigation._gate_angles import GateAngles

__all__ = ["PubBindings", "circuit_bindings", "row_bindings", "row_factor"]


@dataclass(frozen=True)
class PubBindings:
    """The bindings of one PUB of a call, and how they add up to the call's rows.

    Attributes:
        values: (B, n) values of the circuit's parameters, in ``circuit.parameters`` order.
        rows: (B,) the row each binding adds to (``None``: binding ``i`` is row ``i``).
        weights: (B,) the weight it adds with (``d gamma_g / d phi_k`` of its shifted gate).
    """

    values: np.ndarray
    rows: np.ndarray | None = None
    weights: np.ndarray | None = None

    def gather(self, dense: np.ndarray, m: int) -> np.ndarray:
        """The (m, X) row values from the (B, X) values of the bindings."""
        if self.rows is None:
            return dense
        assert self.weights is not None
        out = np.zeros((m, dense.shape[1]))
        np.add.at(out, self.rows, self.weights[:, None] * dense)
        return out


def row_bindings(
    forms: list[GateAngles] | None,
    columns: list[np.ndarray],
    angles: np.ndarray,
    shifts: ShiftedRows | None,
) -> list[PubBindings]:
    """Per PUB, the bindings evaluating the (m, K) rows ``angles`` of a call.

    Args:
        forms: Per PUB, its circuit with one angle per gate (``None``: the circuits take the
            occurrence angles themselves).
        columns: Per PUB, the column feeding each circuit parameter (occurrence angles, or
            gate angles with ``forms``).
        angles: The call's occurrence angles.
        shifts: The rows' shifts when they are a parameter-shift plan's (used with ``forms``).
    """
    if forms is None:
        return [PubBindings(angles[:, cols]) for cols in columns]
    if shifts is None:
        return [
            PubBindings(form.angles(angles)[:, cols])
            for form, cols in zip(forms, columns, strict=True)
        ]
    base = shifts.unshifted(angles)
    out = []
    for form, cols in zip(forms, columns, strict=True):
        gates = [form.gates_of[k] for k in shifts.occurrence]
        rows = np.repeat(np.arange(len(gates)), [len(g) for g in gates])
        gate = np.concatenate(gates).astype(int) if gates else np.zeros(0, dtype=int)
        values = form.angles(base)[rows]
        values[np.arange(len(rows)), gate] += shifts.amount[rows]
        weights = form.coeffs[gate, shifts.occurrence[rows]]
        out.append(PubBindings(values[:, cols], rows, weights))
    return out


def circuit_bindings(
    forms: list[GateAngles] | None, n_circuits: int, m: int, shifts: ShiftedRows | None
) -> list[int]:
    """Per PUB, the bindings of a call of ``m`` rows (see :func:`row_bindings`)."""
    if forms is None or shifts is None:
        return [m] * n_circuits
    return [int(form.copies[shifts.occurrence].sum()) for form in forms]


def row_factor(forms: list[GateAngles] | None, shifts: ShiftedRows | None) -> int:
    """Most bindings of one row over all PUBs, per PUB (1 unless per-copy shift rows)."""
    if forms is None or shifts is None or len(shifts) == 0:
        return 1
    per_row = np.sum([form.copies[shifts.occurrence] for form in forms], axis=0)
    return max(1, math.ceil(int(per_row.max()) / len(forms)))
