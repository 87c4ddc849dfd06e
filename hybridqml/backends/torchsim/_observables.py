"""Expectation values of Pauli-sum observables on a batch of statevectors.

A Pauli string ``P`` maps basis state ``|j>`` to ``phase_P(j) |j xor x_P>``, where ``x_P`` marks
the qubits carrying X or Y and ``phase_P(j) = i^(#Y) (-1)^popcount(j & z_P)`` (``z_P``: Z or Y).
So ``<psi|P|psi> = sum_j conj(psi[j xor x_P]) phase_P(j) psi[j]``. :class:`PauliTable` groups the
terms of all observables by ``x_P`` and folds their coefficients into one (2^n, O) weight matrix
per group: every observable then comes from the same state with one product per group (a single
``|psi|^2 @ W`` for diagonal observables such as the default Z on each qubit).

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


class PauliTable:
    """Observables compiled into per-flip-mask weight matrices.

    Args:
        observables: Hermitian ``SparsePauliOp`` observables on ``n_qubits`` qubits.
        n_qubits: Number of qubits.

    Attributes:
        masks: The distinct X/Y masks, identity (diagonal) first.
    """

    @staticmethod
    def estimate_bytes(observables: Sequence[SparsePauliOp], n_qubits: int) -> int:
        """Peak bytes of building the table and its torch copy, without building it.

        Per distinct X/Y mask (the diagonal one always): a complex (2^n, O) weight matrix and an
        int64 flip index, held twice (numpy and torch); plus the index, parity and phase arrays
        of one term while it is folded in.

        Example:
            >>> from qiskit.quantum_info import SparsePauliOp
            >>> PauliTable.estimate_bytes([SparsePauliOp("ZI"), SparsePauliOp("XX")], 2)
            832
        """
        masks = {0}
        for obs in observables:
            for label in obs.paulis.to_labels():
                masks.add(sum(1 << q for q in range(n_qubits) if label[n_qubits - 1 - q] in "XY"))
        dim, outputs = 1 << n_qubits, len(observables)
        per_mask = dim * (16 * outputs + 8)
        return 2 * len(masks) * per_mask + 3 * 16 * dim

    def __init__(self, observables: Sequence[SparsePauliOp], n_qubits: int) -> None:
        self.n_qubits = n_qubits
        self.n_outputs = len(observables)
        dim = 1 << n_qubits
        index = np.arange(dim, dtype=np.int64)
        weights: dict[int, np.ndarray] = {}
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
                parity = np.bitwise_count(index & z_mask) & 1
                phase = (1j**n_y) * (1 - 2 * parity.astype(float))
                w = weights.setdefault(x_mask, np.zeros((dim, self.n_outputs), dtype=complex))
                w[:, o] += complex(coeff).real * phase
        if 0 not in weights:
            weights[0] = np.zeros((dim, self.n_outputs), dtype=complex)
        self.masks = sorted(weights)
        self._weights = [weights[m] for m in self.masks]
        self._flips = [index ^ m for m in self.masks]
        self._cache: dict[tuple, list] = {}

    def _tensors(self, dtype: torch.dtype, device: torch.device) -> list:
        key = (dtype, device)
        if key not in self._cache:
            real = torch.empty(0, dtype=dtype).real.dtype
            out: list[tuple[torch.Tensor | None, torch.Tensor]] = []
            for m, w, flip in zip(self.masks, self._weights, self._flips, strict=True):
                if m == 0:
                    out.append((None, torch.as_tensor(w.real, dtype=real, device=device)))
                else:
                    out.append(
                        (
                            torch.as_tensor(flip, device=device),
                            torch.as_tensor(w, dtype=dtype, device=device),
                        )
                    )
            self._cache[key] = out
        return self._cache[key]

    def expectations(self, psi: torch.Tensor) -> torch.Tensor:
        """Expectation values (B, O) of every observable for states ``psi`` (B, 2^n).

        Differentiable with torch autograd.
        """
        tensors = self._tensors(psi.dtype, psi.device)
        _, diag = tensors[0]
        out = Probabilities.apply(psi) @ diag
        for flip, w in tensors[1:]:
            out = out + ((psi.index_select(1, flip).conj() * psi) @ w).real
        return out

    def weighted_apply(
        self, psi: torch.Tensor, weights: torch.Tensor, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``sum_o weights[:, o] O_o psi`` for states (B, 2^n) and real weights (B, O).

        This is half the gradient of ``sum_o weights_o <O_o>`` with respect to ``conj(psi)``:
        the starting bra of an adjoint sweep. ``(P psi)[i] = phase_P(i ^ x_P) psi[i ^ x_P]``,
        and ``i -> i ^ x_P`` is an involution, so each mask group is one gather. With ``out``
        (a (B, 2^n) buffer not aliasing ``psi``), the result is written there.
        """
        tensors = self._tensors(psi.dtype, psi.device)
        _, diag = tensors[0]
        out = torch.mul(psi, weights.to(diag.dtype) @ diag.T, out=out)
        for flip, w in tensors[1:]:
            out.add_(((weights.to(w.dtype) @ w.T) * psi).index_select(1, flip))
        return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state
