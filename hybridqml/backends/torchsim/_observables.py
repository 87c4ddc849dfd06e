"""Expectation values of Pauli-sum observables on a batch of statevectors, without big tables.

A Pauli string ``P`` maps basis state ``|j>`` to ``phase_P(j) |j xor x_P>``, where ``x_P`` marks
the qubits carrying X or Y and ``phase_P(j) = i^(#Y) (-1)^popcount(j & z_P)`` (``z_P``: Z or Y).
So ``<psi|P|psi> = sum_j conj(psi[j xor x_P]) phase_P(j) psi[j]``. :class:`PauliTable` groups
the terms of all observables by ``x_P``; per group it forms the state-sized product
``v_j = conj(psi[j xor x_P]) psi[j]`` (``|psi_j|^2`` for the diagonal group, e.g. the default Z
on each qubit) and sums it against every term's sign ``(-1)^popcount(j & z)``.

The signs are never tabulated over all ``2^n`` indices: with ``j = h 2^c + l`` (``c = n // 2``
low bits), ``(-1)^popcount(j & z) = s_z(h) s_z(l)``, so each group keeps two small sign tables,
(2^(n-c), T) and (2^c, T), and the sum is one matrix product of ``v`` viewed as (B, 2^(n-c), 2^c)
with the low table, then a weighted sum over ``h``. Memory beyond the state: the tables
(``2 * 2^(n/2) * T`` numbers) and one or two state-sized temporaries while a group is summed.
The backward pass is ``2 sum_o g_o O_o psi`` (:meth:`PauliTable.weighted_apply`), computed the
same way, so autograd keeps no per-group copies of the state.

Example:
    >>> import torch
    >>> from qiskit.quantum_info import SparsePauliOp
    >>> table = PauliTable([SparsePauliOp("IZ"), SparsePauliOp("XI")], n_qubits=2)
    >>> psi = torch.tensor([[0, 1, 0, 0]], dtype=torch.complex128)   # |01>: qubit 0 is 1
    >>> table.expectations(psi).tolist()
    [[-1.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from qiskit.quantum_info import SparsePauliOp

__all__ = ["PauliTable", "Probabilities"]


class Probabilities(torch.autograd.Function):
    """``|psi|^2`` of (B, 2^n) states, with a one-pass backward ``grad_psi = 2 grad psi``.

    Autograd through ``psi.real.square() + psi.imag.square()`` takes several state-sized
    passes (zero-filled complex gradients of the real and imaginary views, then their sum).

    Example:
        >>> psi = torch.tensor([[0.6, 0.8j]], dtype=torch.complex128, requires_grad=True)
        >>> p = Probabilities.apply(psi)
        >>> p.detach().round(decimals=12).tolist()
        [[0.36, 0.64]]
    """

    @staticmethod
    def forward(ctx: Any, psi: torch.Tensor) -> torch.Tensor:
        """Squared magnitudes (one allocation)."""
        ctx.save_for_backward(psi)
        r = torch.view_as_real(psi.resolve_conj())
        return torch.mul(r[..., 0], r[..., 0]).addcmul_(r[..., 1], r[..., 1])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        """``2 grad psi`` (torch's convention for complex inputs of a real function)."""
        (psi,) = ctx.saved_tensors
        return psi * (2 * grad)


@dataclass(frozen=True)
class _Group:
    """The terms sharing one X/Y mask: their Z masks, phases ``i^#Y`` and coefficients."""

    x_mask: int
    z_masks: np.ndarray  # (T,) int64
    phases: np.ndarray  # (T,) complex: i^(#Y)
    coeffs: np.ndarray  # (T, O) real: coefficient of term t in observable o


def _signs(z_masks: np.ndarray, bits: int, shift: int) -> np.ndarray:
    """(2^bits, T) table of ``(-1)^popcount((k << shift) & z)`` for ``k < 2^bits``."""
    k = np.arange(1 << bits, dtype=np.int64) << shift
    return 1.0 - 2.0 * (np.bitwise_count(k[:, None] & z_masks[None, :]) & 1)


def _flip(psi: torch.Tensor, n_qubits: int, x_mask: int) -> torch.Tensor:
    """``out[..., j] = psi[..., j xor x_mask]`` as one ``torch.flip`` of the qubit axes."""
    lead = psi.shape[:-1]
    dims = [len(lead) + n_qubits - 1 - q for q in range(n_qubits) if x_mask >> q & 1]
    return psi.reshape(*lead, *([2] * n_qubits)).flip(dims).reshape(psi.shape)


class _Expectations(torch.autograd.Function):
    """Expectation values with backward ``2 sum_o g_o O_o psi`` (saves only ``psi``)."""

    @staticmethod
    def forward(ctx: Any, psi: torch.Tensor, table: PauliTable) -> torch.Tensor:
        ctx.save_for_backward(psi)
        ctx.table = table
        return table._expectations(psi)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (psi,) = ctx.saved_tensors
        return 2 * ctx.table.weighted_apply(psi, grad), None


class PauliTable:
    """Observables compiled into per-flip-mask groups of Z masks and coefficients.

    Args:
        observables: Hermitian ``SparsePauliOp`` observables on ``n_qubits`` qubits.
        n_qubits: Number of qubits.

    Attributes:
        masks: The distinct X/Y masks, identity (diagonal) first.
    """

    @staticmethod
    def estimate_bytes(observables: Sequence[SparsePauliOp], n_qubits: int) -> int:
        """Bytes of the compiled tables (two sign tables per group, phases, coefficients).

        The state-sized temporaries of a call (at most three states) are counted with the
        simulator's working states, not here.

        Example:
            >>> from qiskit.quantum_info import SparsePauliOp
            >>> PauliTable.estimate_bytes([SparsePauliOp("ZI"), SparsePauliOp("XX")], 2)
            128
        """
        terms: dict[int, set[int]] = {0: set()}
        for obs in observables:
            for label in obs.paulis.to_labels():
                x = sum(1 << q for q in range(n_qubits) if label[n_qubits - 1 - q] in "XY")
                z = sum(1 << q for q in range(n_qubits) if label[n_qubits - 1 - q] in "ZY")
                terms.setdefault(x, set()).add(z)
        low = n_qubits // 2
        rows = (1 << low) + (1 << (n_qubits - low))
        outputs = len(observables)
        # per term: its column of both sign tables, its phase and its row of coefficients
        return sum((8 * rows + 16 + 8 * outputs) * max(len(z), 1) for z in terms.values())

    def __init__(self, observables: Sequence[SparsePauliOp], n_qubits: int) -> None:
        self.n_qubits = n_qubits
        self.n_outputs = len(observables)
        self._low = n_qubits // 2
        found: dict[int, dict[int, tuple[complex, np.ndarray]]] = {0: {}}
        for o, obs in enumerate(observables):
            for label, coeff in obs.to_list():
                x_mask = z_mask = n_y = 0
                for q in range(n_qubits):
                    pauli = label[n_qubits - 1 - q]
                    if pauli in "XY":
                        x_mask |= 1 << q
                    if pauli in "ZY":
                        z_mask |= 1 << q
                    n_y += pauli == "Y"
                group = found.setdefault(x_mask, {})
                _, row = group.setdefault(z_mask, (1j**n_y, np.zeros(self.n_outputs, dtype=float)))
                row[o] += complex(coeff).real
        self._groups = []
        for x_mask in sorted(found):
            z = found[x_mask] or {0: (1.0 + 0j, np.zeros(self.n_outputs))}
            self._groups.append(
                _Group(
                    x_mask,
                    np.array(list(z), dtype=np.int64),
                    np.array([p for p, _ in z.values()], dtype=complex),
                    np.stack([row for _, row in z.values()]),
                )
            )
        self.masks = [g.x_mask for g in self._groups]
        self._cache: dict[tuple, list] = {}

    def _tensors(self, dtype: torch.dtype, device: torch.device) -> list:
        """Per group: (group, high signs, low signs, phase-weighted coefficients) as tensors."""
        key = (dtype, device)
        if key not in self._cache:
            real = torch.empty(0, dtype=dtype).real.dtype
            low = self._low
            out = []
            for g in self._groups:
                high_signs = _signs(g.z_masks, self.n_qubits - low, low)
                low_signs = _signs(g.z_masks, low, 0)
                out.append(
                    (
                        g,
                        torch.as_tensor(high_signs, dtype=real, device=device),
                        torch.as_tensor(low_signs, dtype=real, device=device),
                        torch.as_tensor(g.phases, dtype=dtype, device=device),
                        torch.as_tensor(g.coeffs, dtype=real, device=device),
                    )
                )
            self._cache[key] = out
        return self._cache[key]

    def _term_sums(self, v: torch.Tensor, high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        """``sum_j v[b, j] (-1)^popcount(j & z_t)`` for every term: (B, 2^n) -> (B, T)."""
        batch = v.shape[0]
        blocks = v.reshape(batch, high.shape[0], low.shape[0])
        return (torch.matmul(blocks, low.to(v.dtype)) * high.to(v.dtype)).sum(dim=1)

    def _expectations(self, psi: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor | None = None
        for g, high, low, phases, coeffs in self._tensors(psi.dtype, psi.device):
            if g.x_mask == 0:
                terms = self._term_sums(Probabilities.apply(psi), high, low)
            else:
                v = _flip(psi, self.n_qubits, g.x_mask).conj_physical_().mul_(psi)
                terms = (self._term_sums(v, high, low) * phases).real
                del v
            part = terms @ coeffs
            out = part if out is None else out + part
        assert out is not None  # a table has at least one group
        return out

    def expectations(self, psi: torch.Tensor) -> torch.Tensor:
        """Expectation values (B, O) of every observable for states ``psi`` (B, 2^n).

        Differentiable with torch autograd (the backward is one :meth:`weighted_apply`).
        """
        if torch.is_grad_enabled() and psi.requires_grad:
            return _Expectations.apply(psi, self)
        with torch.no_grad():
            return self._expectations(psi)

    def weighted_apply(
        self, psi: torch.Tensor, weights: torch.Tensor, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``sum_o weights[:, o] O_o psi`` for states (B, 2^n) and real weights (B, O).

        This is half the gradient of ``sum_o weights_o <O_o>`` with respect to ``conj(psi)``:
        the starting bra of an adjoint sweep. ``(P psi)[i] = phase_P(i ^ x_P) psi[i ^ x_P]``:
        per group, a state-sized diagonal ``d_j = sum_t a_t phase_t(j)`` (from the two small
        sign tables), one product with ``psi`` and one flip. With ``out`` (a (B, 2^n) buffer
        not aliasing ``psi``), the result is written there.
        """
        batch, dim = psi.shape
        result = out
        for g, high, low, phases, coeffs in self._tensors(psi.dtype, psi.device):
            a = weights.to(coeffs.dtype) @ coeffs.T  # (B, T) weight of every term
            if g.x_mask:
                a = a.to(psi.dtype) * phases
            # d[b, h, l] = sum_t a[b, t] high[h, t] low[l, t]
            d = torch.matmul(a[:, None, :] * high.to(a.dtype), low.T.to(a.dtype))
            d = d.reshape(batch, dim)
            if g.x_mask == 0:
                result = torch.mul(psi, d, out=result)
                continue
            term = _flip(d.mul_(psi), self.n_qubits, g.x_mask)
            result = term if result is None else result.add_(term)
        assert result is not None  # a table has at least one group
        return result

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state
