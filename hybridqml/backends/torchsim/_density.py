"""Batched density matrices in torch: a noisy block of a circuit, differentiable end to end.

A block of ``n`` qubits is held as a (B, 2, ..., 2) tensor with ``2n`` qubit axes (ket axes
then bra axes, each in Qiskit's big-endian axis order: axis ``1 + n - 1 - q`` is the ket of
qubit ``q``). Every pass applies one superoperator to a few qubits of all B density matrices:

* every instruction becomes a superoperator (a gate ``U``: ``U (x) conj(U)``; a channel with
  Kraus operators ``K_j``: ``sum_j K_j (x) conj(K_j)``); a one-parameter gate (every Pauli
  rotation, ``rz``, ``p``, controlled rotations...) is ``sum_k f_k(t) M_k``
  (:func:`trig_superoperator`: constant ``M_k``, ``f_k`` in 1, cos, sin);
* instructions are fused into passes on at most two qubits at compile time, each joining the
  last pass that touches its qubits (it commutes with every later one), or any pass if none
  does: an encoding rotation, its error, the trainable rotation after it and the two-qubit gate
  that follows become one pass. A pass's superoperator is ``sum_t c_t M_t``: constant matrices
  ``M_t`` and products ``c_t`` of its rotations' factors, so one small real matrix product per
  batch gives every row's (16, 16) superoperator and one batched matrix product applies it;
  a pass without parameters is one matrix product (GEMM) over the whole batch;
* any other parameterized gate (``u``, ``r``) is its own pass, a batched ``(B, d^2, d^2)``
  superoperator ``U_b (x) conj(U_b)``.

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
#: A pass fuses instructions on at most this many qubits (a (16, 16) superoperator per sample):
#: wider ones cost more in their matrix product than the passes they save. An instruction on
#: more qubits is its own pass (instructions on a subset of its qubits still join it).
_FUSED_QUBITS = 2
#: Products of the fused one-parameter gates' factors (1, cos, sin) of one pass at most.
_MAX_TERMS = 243
#: Entries of fused superoperators below this are rounding residue, set to zero.
_NEGLIGIBLE = 1e-15


def superoperator(kraus: np.ndarray) -> np.ndarray:
    """``sum_j K_j (x) conj(K_j)`` of ``(J, d, d)`` Kraus operators (a unitary: ``J = 1``).

    Example:
        >>> superoperator(np.eye(2)[None]).shape
        (4, 4)
    """
    return np.sum([np.kron(k, k.conj()) for k in np.asarray(kraus, dtype=complex)], axis=0)


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


def _expand_stack(stack: np.ndarray, sub: Sequence[int], sup: Sequence[int]) -> np.ndarray:
    """:func:`_expand` of one superoperator (D, D) or of each of a stack (K, D, D)."""
    if stack.ndim == 2:
        return _expand(stack, sub, sup)
    return np.stack([_expand(m, sub, sup) for m in stack])


@dataclass(frozen=True)
class _Factor:
    """A one-parameter gate's angle in a fused pass: ``f_k(angle / omega)`` for its terms."""

    angle: Callable[[torch.Tensor], torch.Tensor]
    omega: float
    terms: tuple[tuple[int, str], ...]  # (multiple, "one" | "cos" | "sin")


@dataclass(frozen=True)
class _Step:
    """One pass: a fixed superoperator, fused one-parameter gates, or a general gate.

    ``"super"``: ``superop`` is (D, D). ``"trig"``: ``superop`` is (T, D, D), the pass's
    superoperator is ``sum_t c_t M_t`` with ``c_t`` the products of the ``factors``' terms
    (index ``t`` runs over the factors' terms with the last factor's fastest), restricted to
    ``kept``. ``"gate"``: ``gate`` is a :class:`BuiltGate` or :class:`TrigGate` with ``angles``.
    """

    kind: str  # "super", "trig" or "gate"
    axes: tuple[int, ...]
    superop: np.ndarray | None = None
    angles: tuple[Callable[[torch.Tensor], torch.Tensor], ...] = ()
    gate: Any = None
    factors: tuple[_Factor, ...] = ()
    kept: tuple[int, ...] = ()


class _Group:
    """Instructions fused into one pass at compile time: their (T, D, D) superoperator terms."""

    def __init__(
        self,
        qubits: list[int],
        stack: np.ndarray,
        factors: list[_Factor],
        general: tuple[tuple[Any, ...], Any] | None = None,
    ) -> None:
        self.qubits = qubits
        self.stack = stack
        self.factors = factors
        self.general = general  # (angles, gate) of a general parameterized gate

    def admits(self, qubits: Sequence[int], terms: int) -> bool:
        """Whether an instruction on ``qubits`` with ``terms`` terms may join this pass."""
        if self.general is not None or len(self.stack) * terms > _MAX_TERMS:
            return False
        union = set(self.qubits) | set(qubits)
        return len(union) <= max(_FUSED_QUBITS, len(self.qubits), len(qubits))

    def join(self, qubits: Sequence[int], stack: np.ndarray, factor: _Factor | None) -> None:
        """Apply ``stack`` (K, d, d) on ``qubits`` after this pass: (T * K, D, D) terms."""
        wide = self.qubits + [q for q in qubits if q not in self.qubits]
        if wide != self.qubits:
            self.stack = _expand_stack(self.stack, self.qubits, wide)
            self.qubits = wide
        stack = _expand_stack(stack, qubits, wide)
        product = np.einsum("kij,tjl->tkil", stack, self.stack)
        self.stack = product.reshape(-1, *self.stack.shape[1:])
        if factor is not None:
            self.factors.append(factor)

    def step(self, n_qubits: int) -> _Step:
        axes = _axes(n_qubits, self.qubits)
        if self.general is not None:
            return _Step("gate", axes, None, self.general[0], self.general[1])
        # rounding residue (~1e-33) of fused products would become subnormal numbers in the
        # backward pass, which the CPU handles ~100x slower: zero it
        stack = np.where(np.abs(self.stack) < _NEGLIGIBLE, 0, self.stack)
        if not self.factors:
            return _Step("super", axes, stack[0])
        kept = tuple(int(t) for t in np.flatnonzero(np.abs(stack).max(axis=(1, 2)) > 0))
        return _Step("trig", axes, stack[list(kept)], factors=tuple(self.factors), kept=kept)


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
                None if st.superop is None else _constant(st, dtype, device) for st in self.steps
            ] + [torch.as_tensor(self.readout).to(device, torch.empty(0, dtype=dtype).real.dtype)]
        return self._cache[key]

    def initial(self, rows: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """``rows`` copies of ``|0><0|`` as (rows, 2, ..., 2)."""
        rho = torch.zeros((rows, *([2] * (2 * self.n_qubits))), dtype=dtype, device=device)
        rho[(slice(None),) + (0,) * (2 * self.n_qubits)] = 1.0
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
        rows = rho.shape[0]
        for i in range(start, self.n_steps if stop is None else stop):
            st = self.steps[i]
            const = consts[i]
            if st.kind == "super":
                assert const is not None  # fixed steps always carry their superoperator
                rho = _apply_fixed(rho, const, st.axes)
            elif st.kind == "trig":
                assert const is not None  # so do trigonometric steps
                rho = _apply_batched(rho, _fused(st, const, values), st.axes)
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
        assert readout is not None  # the last constant is the readout matrices
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


def _constant(st: _Step, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A step's superoperator as a tensor; a fused pass's (T, D, D) terms as real (T, 2 D D)."""
    tensor = torch.as_tensor(st.superop).to(device, dtype)
    if st.kind == "trig":
        return torch.view_as_real(tensor).reshape(len(tensor), -1)
    return tensor


def _fused(st: _Step, terms: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """(B, D, D) superoperators of a fused pass at each row of ``values``.

    The coefficients are products of real cos/sin factors and the terms are stored as real
    (re, im) pairs, so the sum is one real matrix product: a complex cast of the coefficients
    made torch's backward pass ~20x slower once the angles fed a dozen steps.
    """
    coeffs: torch.Tensor | None = None
    for factor in st.factors:
        t = factor.angle(values) / factor.omega
        f = torch.stack([_term(kind, m, t) for m, kind in factor.terms], dim=-1)  # (B, K)
        coeffs = f if coeffs is None else (coeffs[:, :, None] * f[:, None, :]).flatten(1)
    assert coeffs is not None  # a fused pass has at least one factor
    if len(st.kept) < coeffs.shape[1]:
        coeffs = coeffs[:, list(st.kept)]
    d = 1 << len(st.axes)
    w = torch.matmul(coeffs.to(terms.dtype), terms)  # (B, 2 D D)
    return torch.view_as_complex(w.reshape(len(w), d, d, 2))


def _term(kind: str, multiple: int, t: torch.Tensor) -> torch.Tensor:
    if kind == "one":
        return torch.ones_like(t)
    return torch.cos(multiple * t) if kind == "cos" else torch.sin(multiple * t)


def trig_superoperator(gate: TrigGate) -> tuple[list[tuple[int, str]], np.ndarray]:
    """``U(t) (x) conj(U(t)) = sum_k f_k(t / omega) M_k`` of a one-parameter gate, exactly.

    ``U = a + cos(u) bc + sin(u) bs`` with ``u = t / omega``, so its superoperator is a
    trigonometric polynomial of degree 2 in ``u``; terms that vanish are dropped (a Pauli
    rotation keeps three: 1, cos t, sin t).

    Returns:
        The terms ``(multiple, "one" | "cos" | "sin")`` and their ``(K, d**2, d**2)`` matrices.

    Example:
        >>> from qiskit.circuit import Parameter
        >>> from qiskit.circuit.library import RYGate
        >>> terms, stack = trig_superoperator(describe(RYGate(Parameter("t"))))
        >>> terms, stack.shape
        ([(0, 'one'), (2, 'cos'), (2, 'sin')], (3, 4, 4))
    """

    def k(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.kron(x, y.conj())

    a, bc, bs = gate.a, gate.bc, gate.bs
    candidates = [
        ((0, "one"), k(a, a) + (k(bc, bc) + k(bs, bs)) / 2),
        ((1, "cos"), k(a, bc) + k(bc, a)),
        ((1, "sin"), k(a, bs) + k(bs, a)),
        ((2, "cos"), (k(bc, bc) - k(bs, bs)) / 2),
        ((2, "sin"), (k(bc, bs) + k(bs, bc)) / 2),
    ]
    kept = [(term, m) for term, m in candidates if np.abs(m).max() > 1e-14]
    return [term for term, _ in kept], np.stack([m for _, m in kept])


def _matrix(gate: Any, angles: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """(B, d, d) matrices of a parameterized gate at (B,) angles."""
    if isinstance(gate, BuiltGate):
        return build_matrix(gate.name, angles, dtype)
    t = angles[0] / gate.omega
    a, bc, bs = (torch.as_tensor(m).to(t.device, dtype) for m in (gate.a, gate.bc, gate.bs))
    return (
        a + torch.cos(t).to(dtype)[:, None, None] * bc + torch.sin(t).to(dtype)[:, None, None] * bs
    )


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
    groups: list[_Group] = []

    def place(qubits: tuple[int, ...], stack: np.ndarray, factor: _Factor | None) -> None:
        """Fuse one instruction (``stack``: its (K, d, d) superoperator terms) into a pass."""
        wanted = set(qubits)
        touching = [g for g in groups if wanted & set(g.qubits)]
        # it commutes with every pass after the last one that touches its qubits, so it may
        # join that pass; one on untouched qubits may join any pass
        for group in touching[-1:] if touching else reversed(groups):
            if group.admits(qubits, len(stack)):
                group.join(qubits, stack, factor)
                return
        groups.append(_Group(list(qubits), stack, [] if factor is None else [factor]))

    for i, (op, qubits) in enumerate(ops):
        if op.name in _SKIPPED:
            pass
        elif any(isinstance(p, ParameterExpression) and p.parameters for p in op.params):
            gate = describe(op)
            if not isinstance(gate, TrigGate | BuiltGate):
                raise CircuitError(
                    f"the noisy torch engine cannot simulate the parameterized {op.name!r}"
                )
            exprs = op.params[:1] if isinstance(gate, TrigGate) else op.params
            angles = tuple(compile_expression(e, parameters) for e in exprs)
            if isinstance(gate, TrigGate):
                terms, stack = trig_superoperator(gate)
                place(qubits, stack, _Factor(angles[0], gate.omega, tuple(terms)))
            else:  # a general gate (u, r): its own pass, nothing fuses into it
                groups.append(_Group(list(qubits), np.zeros((0, 1, 1)), [], (angles, gate)))
        else:
            from qiskit.quantum_info import Operator

            try:
                u = Operator(op).data
            except Exception as exc:
                raise CircuitError(
                    f"the noisy torch engine needs unitary instructions, got {op.name!r}"
                ) from exc
            place(qubits, np.kron(u, u.conj())[None], None)
        for superop in errors.get(i, ()):
            place(qubits, np.asarray(superop)[None], None)
    steps = [group.step(n_qubits) for group in groups]
    return DensityBlock(n_qubits, steps, measured, readout)
