"""Batched density matrices in torch: a noisy block of a circuit, differentiable end to end.

A block of ``n`` qubits is held as a (B, 2, ..., 2) tensor with ``2n`` qubit axes (ket axes
then bra axes, each in Qiskit's big-endian axis order: axis ``1 + n - 1 - q`` is the ket of
qubit ``q``). Every instruction is one pass over all B density matrices:

* fixed instructions (gates without free parameters, and every noise channel) become
  superoperators (a gate ``U``: ``U (x) conj(U)``; a channel with Kraus operators ``K_j``:
  ``sum_j K_j (x) conj(K_j)``), and consecutive ones on nested qubit sets (a gate, its error, the
  next gate there, ...) are multiplied into one at compile time, then applied as one matrix
  product (GEMM) over the whole batch;
* a parameterized diagonal gate (``rz``, ``p``, ...) is one elementwise phase
  ``rho[a, b] *= d[a] conj(d[b])``;
* any other parameterized gate is one batched ``(B, d^2, d^2)`` superoperator
  ``U_b (x) conj(U_b)``.

Everything after compilation is a torch operation, so autograd differentiates through the
channels (backprop), in float64/complex128 or float32/complex64, on the device of the values.
The result is the diagonal over the measured qubits, pushed through their readout (assignment)
matrices: what Aer's ``density_matrix`` method and a fake device's measurement give.

Example:
    >>> from qiskit.circuit import Parameter
    >>> from qiskit.circuit.library import RXGate
    >>> t = Parameter("t")
    >>> block = compile_density_block([(RXGate(t), (0,))], {}, 1, [0], [t], np.eye(2)[None])
    >>> block.probabilities(torch.tensor([[0.0], [torch.pi]], dtype=torch.float64)).round(
    ...     decimals=12).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from qiskit.circuit import Parameter, ParameterExpression

from hybridqml.backends.torchsim._expressions import compile_expression
from hybridqml.backends.torchsim._gates import BuiltGate, TrigGate, build_matrix, describe
from hybridqml.exceptions import CircuitError

__all__ = ["DensityBlock", "compile_density_block", "superoperator"]

_SKIPPED = ("barrier", "id", "delay")


def superoperator(kraus: np.ndarray) -> np.ndarray:
    """``sum_j K_j (x) conj(K_j)`` of ``(J, d, d)`` Kraus operators (a unitary: ``J = 1``).

    Example:
        >>> superoperator(np.eye(2)[None]).shape
        (4, 4)
    """
    return sum(np.kron(k, k.conj()) for k in np.asarray(kraus, dtype=complex))


def _axes(n: int, qubits: Sequence[int]) -> tuple[int, ...]:
    """Ket then bra axes of ``qubits`` (batch axis 0), each in a Qiskit matrix's factor order."""
    ket = tuple(1 + (n - 1 - q) for q in reversed(qubits))
    return ket + tuple(a + n for a in ket)


def _apply_np(rho: np.ndarray, matrix: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Contract ``axes`` of a numpy ``rho`` with ``matrix`` (compile time only)."""
    k = len(axes)
    front = tuple(range(1, k + 1))
    moved = np.moveaxis(rho, axes, front)
    shape = moved.shape
    out = np.einsum("ij,bjr->bir", matrix, moved.reshape(shape[0], 1 << k, -1))
    return np.moveaxis(out.reshape(shape), front, axes)


def _expand(superop: np.ndarray, sub: Sequence[int], sup: Sequence[int]) -> np.ndarray:
    """A superoperator on qubits ``sub`` as one on ``sup`` (a superset): identity elsewhere."""
    if tuple(sub) == tuple(sup):
        return superop
    m = len(sup)
    identity = np.eye(4**m, dtype=complex).reshape(1, *([2] * (4 * m)))
    local = _axes(m, [list(sup).index(q) for q in sub])
    return _apply_np(identity, superop, local).reshape(4**m, 4**m)


@dataclass(frozen=True)
class _Step:
    """One pass: a fixed superoperator, a parameterized phase or a parameterized gate."""

    kind: str  # "super", "phase" or "gate"
    axes: tuple[int, ...]
    superop: np.ndarray | None = None
    angles: tuple[Callable[[torch.Tensor], torch.Tensor], ...] = ()
    gate: Any = None  # TrigGate or BuiltGate


class DensityBlock:
    """A compiled noisy block: :meth:`probabilities` of every binding in one batched pass.

    Build it with :func:`compile_density_block`.

    Attributes:
        n_qubits: Qubits of the block (its density matrix has ``4**n_qubits`` entries).
        n_steps: Passes over the density matrices (fused superoperators and parameterized gates).
    """

    def __init__(
        self, n_qubits: int, steps: list[_Step], measured: Sequence[int], readout: np.ndarray
    ) -> None:
        self.n_qubits = n_qubits
        self.steps = steps
        self.measured = tuple(measured)
        self.readout = np.asarray(readout, dtype=float)
        self.n_steps = len(steps)
        self._cache: dict[tuple, list[torch.Tensor | None]] = {}

    def _constants(self, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor | None]:
        key = (dtype, device)
        if key not in self._cache:
            self._cache[key] = [
                None if st.superop is None else torch.as_tensor(st.superop).to(device, dtype)
                for st in self.steps
            ] + [torch.as_tensor(self.readout).to(device, torch.empty(0, dtype=dtype).real.dtype)]
        return self._cache[key]

    def initial(self, rows: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """``rows`` copies of ``|0><0|`` as (rows, 2, ..., 2)."""
        rho = torch.zeros((rows, *([2] * (2 * self.n_qubits))), dtype=dtype, device=device)
        rho[(slice(None), *([0] * (2 * self.n_qubits)))] = 1.0
        return rho

    def evolve(
        self,
        rho: torch.Tensor,
        values: torch.Tensor,
        start: int = 0,
        stop: int | None = None,
    ) -> torch.Tensor:
        """Apply steps ``start:stop`` to ``rho`` (values (B, P), real, rows as ``rho``)."""
        consts = self._constants(rho.dtype, rho.device)
        n, rows = self.n_qubits, rho.shape[0]
        for i in range(start, self.n_steps if stop is None else stop):
            st = self.steps[i]
            if st.kind == "super":
                rho = _apply_fixed(rho, consts[i], st.axes)
            elif st.kind == "phase":
                d = _diagonal(st.gate, st.angles[0](values), rho.dtype)  # (B, 2)
                factor = d[:, :, None] * d[:, None, :].conj()
                shape = [rows] + [1] * (2 * n)
                shape[st.axes[0]] = shape[st.axes[1]] = 2
                rho = rho * factor.reshape(shape)
            else:
                u = _matrix(st.gate, [f(values) for f in st.angles], rho.dtype)  # (B, d, d)
                dd = u.shape[-1] ** 2
                w = (u[:, :, None, :, None] * u.conj()[:, None, :, None, :]).reshape(rows, dd, dd)
                rho = _apply_batched(rho, w, st.axes)
        return rho

    def measure(self, rho: torch.Tensor) -> torch.Tensor:
        """(B, 2**m) recorded-outcome probabilities (bit ``j``: ``measured[j]``) of ``rho``."""
        n, rows = self.n_qubits, rho.shape[0]
        diag = torch.diagonal(rho.reshape(rows, 1 << n, 1 << n), dim1=1, dim2=2).real
        p = diag.reshape(rows, *([2] * n))  # axis 1 + i is qubit n - 1 - i
        kept = [n - 1 - q for q in reversed(self.measured)]  # most significant bit first
        dropped = tuple(1 + a for a in range(n) if a not in kept)
        if dropped:
            p = p.sum(dim=dropped)
        order = [1 + sorted(kept).index(a) for a in kept]
        p = p.permute(0, *order)
        readout = self._constants(rho.dtype, rho.device)[-1]
        m = len(self.measured)
        for i in range(m):  # axis m - i is bit i
            axis = m - i
            p = torch.movedim(torch.tensordot(p, readout[i], dims=([axis], [0])), -1, axis)
        return p.reshape(rows, 1 << m)

    def probabilities(
        self,
        values: torch.Tensor,
        dtype: torch.dtype | None = None,
        segment: int | None = None,
    ) -> torch.Tensor:
        """(B, 2**m) probabilities at parameter values (B, P); differentiable.

        Args:
            values: Real (B, P) values in the column order given at compilation.
            dtype: Complex dtype of the density matrices (default: matching ``values``).
            segment: Under autograd, keep only the density matrix every ``segment`` steps and
                recompute the rest in the backward pass (``None``: keep everything).
        """
        if dtype is None:
            dtype = torch.complex128 if values.dtype == torch.float64 else torch.complex64
        rho = self.initial(values.shape[0], dtype, values.device)
        if segment is None or not torch.is_grad_enabled():
            return self.measure(self.evolve(rho, values))
        from torch.utils.checkpoint import checkpoint

        for start in range(0, self.n_steps, segment):
            stop = min(self.n_steps, start + segment)
            rho = checkpoint(self.evolve, rho, values, start, stop, use_reentrant=False)
        return self.measure(rho)


def _apply_fixed(rho: torch.Tensor, superop: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    """One GEMM: ``superop`` (4**k, 4**k) on ``axes`` of every density matrix of the batch."""
    k = len(axes)
    front = tuple(range(k))
    moved = torch.movedim(rho, tuple(axes), front)
    shape = moved.shape
    out = torch.matmul(superop, moved.reshape(1 << k, -1))
    return torch.movedim(out.reshape(shape), front, tuple(axes))


def _apply_batched(rho: torch.Tensor, w: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    """One batched matmul: ``w[b]`` on ``axes`` of density matrix ``b``."""
    k = len(axes)
    front = tuple(range(1, k + 1))
    moved = torch.movedim(rho, tuple(axes), front)
    shape = moved.shape
    out = torch.matmul(w, moved.reshape(shape[0], 1 << k, -1))
    return torch.movedim(out.reshape(shape), front, tuple(axes))


def _is_diagonal(gate: Any) -> bool:
    return isinstance(gate, TrigGate) and all(
        np.count_nonzero(m - np.diag(np.diag(m))) == 0 for m in (gate.a, gate.bc, gate.bs)
    )


def _matrix(gate: Any, angles: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """(B, d, d) matrices of a parameterized gate at (B,) angles."""
    if isinstance(gate, BuiltGate):
        return build_matrix(gate.name, angles, dtype)
    t = angles[0] / gate.omega
    a, bc, bs = (torch.as_tensor(m).to(t.device, dtype) for m in (gate.a, gate.bc, gate.bs))
    return (
        a + torch.cos(t).to(dtype)[:, None, None] * bc + torch.sin(t).to(dtype)[:, None, None] * bs
    )


def _diagonal(gate: TrigGate, angle: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, 2) diagonals of a diagonal one-qubit gate at (B,) angles."""
    t = angle / gate.omega
    a, bc, bs = (
        torch.as_tensor(np.diag(m).copy()).to(t.device, dtype) for m in (gate.a, gate.bc, gate.bs)
    )
    return a + torch.cos(t).to(dtype)[:, None] * bc + torch.sin(t).to(dtype)[:, None] * bs


def compile_density_block(
    ops: Sequence[tuple[Any, tuple[int, ...]]],
    errors: Mapping[int, Sequence[np.ndarray]],
    n_qubits: int,
    measured: Sequence[int],
    parameters: Sequence[Parameter],
    readout: np.ndarray,
) -> DensityBlock:
    """Compile a block's instructions and channels into torch passes.

    Args:
        ops: Instructions on the block's own qubits ``0 .. n_qubits - 1``.
        errors: ``i -> [superoperator, ...]``: the channels applied after ``ops[i]``.
        n_qubits: Qubits of the block.
        measured: Block qubits whose outcome distribution is returned (bit ``j``: ``measured[j]``).
        parameters: The columns of the value rows given to :meth:`DensityBlock.probabilities`.
        readout: (m, 2, 2) assignment matrices of the measured qubits.

    Raises:
        CircuitError: a non-unitary instruction (reset, ...) or a parameterized gate with no
            torch form.
    """
    steps: list[_Step] = []
    pending: list[Any] = []  # [qubits, superop] being multiplied together

    def flush() -> None:
        if pending:
            steps.append(_Step("super", _axes(n_qubits, pending[0]), pending[1]))
            pending.clear()

    def fixed(qubits: tuple[int, ...], superop: np.ndarray) -> None:
        if pending and set(qubits) <= set(pending[0]):
            pending[1] = _expand(superop, qubits, pending[0]) @ pending[1]
        elif pending and set(pending[0]) < set(qubits):
            pending[:] = [qubits, superop @ _expand(pending[1], pending[0], qubits)]
        else:
            flush()
            pending[:] = [qubits, superop]

    for i, (op, qubits) in enumerate(ops):
        if op.name in _SKIPPED:
            pass
        elif any(isinstance(p, ParameterExpression) and p.parameters for p in op.params):
            gate = describe(op)
            if not isinstance(gate, TrigGate | BuiltGate):
                raise CircuitError(
                    f"the noisy torch engine cannot simulate the parameterized {op.name!r}"
                )
            flush()
            exprs = op.params[:1] if isinstance(gate, TrigGate) else op.params
            angles = tuple(compile_expression(e, parameters) for e in exprs)
            if len(qubits) == 1 and _is_diagonal(gate):
                steps.append(_Step("phase", _axes(n_qubits, qubits), None, angles, gate))
            else:
                steps.append(_Step("gate", _axes(n_qubits, qubits), None, angles, gate))
        else:
            from qiskit.quantum_info import Operator

            try:
                u = Operator(op).data
            except Exception as exc:
                raise CircuitError(
                    f"the noisy torch engine needs unitary instructions, got {op.name!r}"
                ) from exc
            fixed(qubits, np.kron(u, u.conj()))
        for superop in errors.get(i, ()):
            fixed(qubits, superop)
    flush()
    return DensityBlock(n_qubits, steps, measured, readout)
