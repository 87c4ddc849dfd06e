"""Statevector kernels: a matrix on a contiguous block of qubits, and a permutation with phases.

A state is a (..., B, 2^n) complex tensor (qubit ``q`` is bit ``q`` of the basis index). A
``k``-qubit matrix on the contiguous qubits ``[lo, lo + k)`` acts on the middle axis of the
(rows, 2^(n-lo-k), 2^k, 2^lo) view, so the whole block is one pass over the state:

* ``lo == 0`` (the lowest qubits): one batched GEMM ``(2^(n-k), 2^k) @ M^T`` per sample;
* ``lo + k == n`` (the highest qubits): one batched GEMM ``M @ (2^k, 2^(n-k))`` per sample;
* in between: ``M @ (2^(n-lo-k), 2^k, 2^lo)`` per sample.

All of them can write into a caller's buffer (``out``), which is how the no-grad paths (the
adjoint sweep, forward passes without autograd) avoid allocating a state per gate. The autograd
functions :class:`BlockFunction` and :class:`PermuteFunction` give backprop the same kernels
with hand-written backward passes (a permutation's is the inverse permutation, not the
scatter-add of a generic gather). Nothing here is CPU-specific: the same calls run on CUDA.

Example:
    >>> import torch
    >>> x = torch.tensor([[0, 1], [1, 0]], dtype=torch.complex128)
    >>> psi = torch.tensor([[1, 0, 0, 0]], dtype=torch.complex128)   # |00>
    >>> apply_block(psi, 2, 1, 1, x).real.tolist()                      # X on qubit 1: |10>
    [[0.0, 0.0, 1.0, 0.0]]
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = [
    "BlockFunction",
    "PermuteFunction",
    "apply_block",
    "apply_general",
    "apply_one",
    "block_contraction",
    "kron",
    "permute",
]


def apply_one(state: torch.Tensor, n: int, q: int, m: torch.Tensor) -> torch.Tensor:
    """Apply a 2x2 matrix (constant (2, 2) or batched (..., B, 2, 2)) to qubit ``q``.

    ``state`` is (..., B, 2^n); the matrix batch dimension aligns with ``B``.

    Example:
        >>> x = torch.tensor([[0, 1], [1, 0]], dtype=torch.complex128)
        >>> psi = torch.tensor([[1, 0, 0, 0]], dtype=torch.complex128)   # |00>
        >>> apply_one(psi, 2, 0, x).real.tolist()                          # X on qubit 0: |01>
        [[0.0, 1.0, 0.0, 0.0]]
    """
    lead = state.shape[:-1]
    if q == 0:  # (L, 2) @ (2, 2)^T per sample: one well-shaped batched product
        s = state.reshape(*lead, 1 << (n - 1), 2)
        return torch.matmul(s, m.transpose(-1, -2)).reshape(*lead, -1)
    s = state.reshape(*lead, 1 << (n - 1 - q), 2, 1 << q)
    if m.dim() > 2:
        m = m.unsqueeze(-3)
    return torch.matmul(m, s).reshape(*lead, -1)


def _general_axes(lead: int, n: int, qubits: tuple[int, ...]) -> tuple[list[int], list[int]]:
    k = len(qubits)
    axes = [lead + n - 1 - q for q in reversed(qubits)]
    return axes, list(range(lead + n - k, lead + n))


def _gather_axes(state: torch.Tensor, n: int, qubits: tuple[int, ...]) -> torch.Tensor:
    lead = state.shape[:-1]
    axes, dest = _general_axes(len(lead), n, qubits)
    s = state.reshape(*lead, *([2] * n)).movedim(axes, dest)
    return s.reshape(*lead, -1, 1 << len(qubits))


def apply_general(
    state: torch.Tensor, n: int, qubits: tuple[int, ...], m: torch.Tensor
) -> torch.Tensor:
    """Apply a 2^k x 2^k matrix (little-endian over ``qubits``) to a (..., B, 2^n) state.

    Example:
        >>> cx = torch.tensor(
        ...     [[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]], dtype=torch.complex128
        ... )                                                   # control = first listed qubit
        >>> psi = torch.tensor([[0, 0, 1, 0]], dtype=torch.complex128)   # qubit 1 set
        >>> apply_general(psi, 2, (1, 0), cx).real.tolist()             # CX(1 -> 0)
        [[0.0, 0.0, 0.0, 1.0]]
    """
    lead = state.shape[:-1]
    axes, dest = _general_axes(len(lead), n, qubits)
    s = state.reshape(*lead, *([2] * n)).movedim(axes, dest)
    shape = s.shape
    out = torch.matmul(s.reshape(*lead, -1, 1 << len(qubits)), m.transpose(-1, -2))
    return out.reshape(shape).movedim(dest, axes).reshape(*lead, -1)


def kron(high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
    """Batched Kronecker product ``high (x) low`` of (..., a, a) and (..., b, b) matrices.

    ``low`` acts on the lower qubits (little-endian), batch dimensions broadcast.

    Example:
        >>> z, i = torch.diag(torch.tensor([1.0, -1.0])), torch.eye(2)
        >>> torch.diagonal(kron(z, i)).tolist()      # Z on the higher qubit
        [1.0, 1.0, -1.0, -1.0]
    """
    a, b = high.shape[-1], low.shape[-1]
    batch = torch.broadcast_shapes(high.shape[:-2], low.shape[:-2])
    out = high[..., :, None, :, None] * low[..., None, :, None, :]
    return out.reshape(*batch, a * b, a * b)


def _rows_matrix(m: torch.Tensor, rows: int) -> torch.Tensor:
    """Per-sample (B, K, K) matrices repeated to ``rows`` = (leading states) x B."""
    return m if m.shape[0] == rows else m.repeat(rows // m.shape[0], 1, 1)


def apply_block(
    state: torch.Tensor,
    n: int,
    lo: int,
    k: int,
    m: torch.Tensor,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Apply a 2^k x 2^k matrix to the qubits ``[lo, lo + k)`` of a (..., B, 2^n) state.

    Args:
        state: The state (contiguous).
        n: Number of qubits.
        lo: Lowest qubit of the block.
        k: Number of qubits in the block.
        m: A constant (K, K) matrix or per-sample (B, K, K) matrices (little-endian over the
            block: row index ``sum_j bit_{lo+j} 2^j``).
        out: Optional contiguous buffer of the state's shape (must not alias ``state``).

    Returns:
        The new state (``out`` itself when given).
    """
    d, kk = state.shape[-1], 1 << k
    rows = state.numel() // d
    s = state.reshape(rows, d)
    o = torch.empty_like(s) if out is None else out.view(rows, d)
    batched = m.dim() == 3
    if batched:
        m = _rows_matrix(m, rows)
    if lo == 0:
        sv, ov = s.view(rows, d // kk, kk), o.view(rows, d // kk, kk)
        if batched:
            torch.bmm(sv, m.transpose(1, 2), out=ov)
        else:
            torch.mm(sv.view(-1, kk), m.transpose(0, 1), out=ov.view(-1, kk))
    elif lo + k == n:
        sv, ov = s.view(rows, kk, d // kk), o.view(rows, kk, d // kk)
        torch.bmm(m if batched else m.expand(rows, kk, kk), sv, out=ov)
    else:
        shape = (rows, d >> (lo + k), kk, 1 << lo)
        sv, ov = s.view(shape), o.view(shape)
        if batched:
            for r in range(rows):
                torch.matmul(m[r], sv[r], out=ov[r])
        else:
            flat = (rows * shape[1], kk, shape[3])
            torch.matmul(m, sv.reshape(flat), out=ov.view(flat))
    return o.view(state.shape) if out is None else out


def block_contraction(
    a: torch.Tensor,
    b: torch.Tensor,
    n: int,
    lo: int,
    k: int,
    scratch: torch.Tensor | None = None,
) -> torch.Tensor:
    """``C[r, i, j] = sum_rest conj(a[r, .. i ..]) b[r, .. j ..]`` over the block's complement.

    ``a`` and ``b`` are (R, 2^n) states; ``i, j`` index the block ``[lo, lo + k)``. This is the
    (R, K, K) gradient of a block matrix (the adjoint method's and backprop's). A complex GEMM
    with a conjugated operand makes torch materialize the conjugate in a new state-sized tensor,
    so: on the lowest qubits the product is taken in real arithmetic (one real GEMM over the
    interleaved (re, im) pairs), elsewhere ``conj(a)`` is written into ``scratch`` (an (R, 2^n)
    buffer the caller can spare) when given.
    """
    rows, d = a.shape
    kk = 1 << k
    if lo == 0:
        ra = torch.view_as_real(a.resolve_conj()).view(rows, d // kk, 2 * kk)
        rb = torch.view_as_real(b.resolve_conj()).view(rows, d // kk, 2 * kk)
        x = torch.bmm(ra.transpose(1, 2), rb).view(rows, kk, 2, kk, 2)
        return torch.complex(
            x[:, :, 0, :, 0] + x[:, :, 1, :, 1], x[:, :, 0, :, 1] - x[:, :, 1, :, 0]
        )
    ca = a.conj() if scratch is None else torch.conj_physical(a, out=scratch.view(rows, d))
    if lo + k == n:
        return torch.bmm(
            ca.reshape(rows, kk, d // kk), b.reshape(rows, kk, d // kk).transpose(1, 2)
        )
    shape = (rows, d >> (lo + k), kk, 1 << lo)
    av, bv = ca.reshape(shape), b.reshape(shape)
    out = a.new_empty(rows, kk, kk)
    for r in range(rows):
        torch.sum(torch.matmul(av[r], bv[r].transpose(1, 2)), dim=0, out=out[r])
    return out


def permute(
    state: torch.Tensor,
    perm: torch.Tensor,
    phase: torch.Tensor | None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``out[..., i] = phase[i] * state[..., perm[i]]`` (one gather, one in-place multiply)."""
    index = perm.expand(state.shape)
    o = torch.gather(state, -1, index) if out is None else torch.gather(state, -1, index, out=out)
    return o if phase is None else o.mul_(phase)


class BlockFunction(torch.autograd.Function):
    """:func:`apply_block` with autograd: ``BlockFunction.apply(state, m, n, lo, k)``.

    Backward: ``grad_state = M^H grad`` (the same kernel) and ``grad_M = grad state^H``
    summed over the block's complement (:func:`block_contraction`).
    """

    @staticmethod
    def forward(
        ctx: Any, state: torch.Tensor, m: torch.Tensor, n: int, lo: int, k: int
    ) -> torch.Tensor:
        """Apply the block; keep the input state only if ``m`` needs a gradient."""
        ctx.geometry = (n, lo, k)
        ctx.save_for_backward(state if ctx.needs_input_grad[1] else None, m)
        return apply_block(state.contiguous(), n, lo, k, m)

    @staticmethod
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None, None]:
        """Adjoint block on the gradient, contraction for the matrix."""
        state, m = ctx.saved_tensors
        n, lo, k = ctx.geometry
        grad = grad.contiguous()
        grad_state = torch.empty_like(grad) if ctx.needs_input_grad[0] else None
        grad_m = None
        if ctx.needs_input_grad[1]:  # first, with grad_state's memory as scratch
            d = grad.shape[-1]
            flat = (-1, d)
            c = block_contraction(
                grad.reshape(flat), state.reshape(flat), n, lo, k, scratch=grad_state
            ).conj()
            grad_m = c.sum(0) if m.dim() == 2 else c.view(-1, *m.shape).sum(0)
        if grad_state is not None:
            apply_block(grad, n, lo, k, m.conj().transpose(-1, -2), out=grad_state)
        return grad_state, grad_m, None, None, None


class PermuteFunction(torch.autograd.Function):
    """:func:`permute` with autograd; its backward is the inverse permutation.

    ``PermuteFunction.apply(state, perm, phase, inverse, inverse_phase)``, where
    ``inverse = argsort(perm)`` and ``inverse_phase = conj(phase)[inverse]``.
    """

    @staticmethod
    def forward(
        ctx: Any,
        state: torch.Tensor,
        perm: torch.Tensor,
        phase: torch.Tensor | None,
        inverse: torch.Tensor,
        inverse_phase: torch.Tensor | None,
    ) -> torch.Tensor:
        """Gather with phases."""
        ctx.inverse = (inverse, inverse_phase)
        return permute(state, perm, phase)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None, None]:
        """The inverse gather, conjugate phases."""
        inverse, inverse_phase = ctx.inverse
        return permute(grad.contiguous(), inverse, inverse_phase), None, None, None, None
