"""Fusing compiled operations into passes over the state: the simulator's execution plan.

Consecutive one-qubit runs on distinct qubits (a layer of rotations) commute, so they are
applied together: the qubits are cut into contiguous chunks and each chunk's gates become one
Kronecker-product matrix applied in one pass (:func:`~hybridqml.backends.torchsim._kernels.
apply_block`). The chunks at the two ends of the register are up to :data:`EDGE_QUBITS` wide
(one batched GEMM each); chunks in between up to :data:`MIDDLE_QUBITS`. Monomial blocks (a
whole CNOT ring) are one permutation; other multi-qubit gates one general matrix each.

A :class:`Step` is one such pass; :func:`plan_steps` makes them, :func:`step_matrix` builds a
step's matrix from the ops' matrices, :func:`run_steps` applies a list of steps (with autograd,
or without it into two reused buffers).

Example:
    >>> from hybridqml import circuits
    >>> from hybridqml.backends.torchsim._compiler import compile_circuit
    >>> spec = circuits.variational(3, layers=2)
    >>> program = compile_circuit(spec.circuit, spec.parameters)
    >>> [(s.kind, s.lo, s.k) for s in plan_steps(program.ops, 3)]
    [('monomial', 0, 0), ('block', 0, 3), ('monomial', 0, 0)]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from hybridqml.backends.torchsim._compiler import Op
from hybridqml.backends.torchsim._kernels import (
    BlockFunction,
    PermuteFunction,
    apply_block,
    kron,
    permute,
)

__all__ = [
    "EDGE_QUBITS",
    "MIDDLE_QUBITS",
    "Step",
    "apply_step",
    "chunks",
    "plan_steps",
    "run_steps",
    "step_matrix",
]

#: Widest fused block on the lowest or highest qubits (a 16 x 16 GEMM per sample). Measured at
#: 16 qubits, batch 32: 4 beats 5 and 6 (wider blocks turn the passes from memory- to
#: compute-bound, and their gradient contractions more so).
EDGE_QUBITS = 4
#: Widest fused block on the qubits in between.
MIDDLE_QUBITS = 4


@dataclass(frozen=True)
class Step:
    """One pass over the state.

    Attributes:
        kind: ``"block"`` (one-qubit runs fused on ``[lo, lo + k)``), ``"monomial"`` or
            ``"general"``.
        ops: Indices of the ops applied (into the list given to :func:`plan_steps`, offset by
            its ``first``).
        lo: Lowest qubit of a block.
        k: Width of a block.
        qubits: The qubit of each op of a block (same order as ``ops``).
    """

    kind: str
    ops: tuple[int, ...]
    lo: int = 0
    k: int = 0
    qubits: tuple[int, ...] = ()


def chunks(n: int, edge: int | None = None, middle: int | None = None) -> list[tuple[int, int]]:
    """Contiguous qubit ranges ``[a, b)`` covering ``n`` qubits: the ends, then the middle.

    ``edge`` and ``middle`` default to :data:`EDGE_QUBITS` and :data:`MIDDLE_QUBITS`.

    Example:
        >>> chunks(16)
        [(0, 4), (4, 8), (8, 12), (12, 16)]
    """
    edge = EDGE_QUBITS if edge is None else edge
    middle = MIDDLE_QUBITS if middle is None else middle
    bottom = min(edge, n)
    top = max(bottom, n - edge)
    out = [(0, bottom)]
    out += [(a, min(a + middle, top)) for a in range(bottom, top, middle)]
    if top < n:
        out.append((top, n))
    return out


def plan_steps(
    ops: Sequence[Op],
    n: int,
    first: int = 0,
    *,
    edge: int | None = None,
    middle: int | None = None,
) -> list[Step]:
    """Group ``ops`` (applied in order) into passes; op ``i`` is named ``first + i``."""
    steps: list[Step] = []
    run: dict[int, int] = {}  # qubit -> op index of the current layer
    ranges = chunks(n, edge, middle)

    def close() -> None:
        for a, b in ranges:
            members = sorted(q for q in run if a <= q < b)
            if not members:
                continue
            if a == 0:
                lo, hi = 0, members[-1] + 1  # the lowest qubits: keep the GEMM form
            elif b == n:
                lo, hi = members[0], n  # the highest qubits
            else:
                lo, hi = members[0], members[-1] + 1
            steps.append(Step("block", tuple(run[q] for q in members), lo, hi - lo, tuple(members)))
        run.clear()

    for i, op in enumerate(ops):
        if op.kind == "one":
            if op.qubits[0] in run:
                close()
            run[op.qubits[0]] = first + i
            continue
        close()
        steps.append(Step(op.kind, (first + i,)))
    close()
    return steps


def step_matrix(step: Step, mats: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
    """The step's matrix: a block's Kronecker product (identity on idle qubits), else the op's."""
    if step.kind != "block":
        return mats[step.ops[0]]
    factors = dict(zip(step.qubits, (mats[i] for i in step.ops), strict=True))
    matrices = {q: f for q, f in factors.items() if f is not None}  # a block's ops all have one
    ref = matrices[step.qubits[0]]
    eye = torch.eye(2, dtype=ref.dtype, device=ref.device)
    m: torch.Tensor | None = None
    for q in range(step.lo, step.lo + step.k):
        f = matrices.get(q, eye)
        m = f if m is None else kron(f, m)
    return m


def apply_step(
    sim: Any,  # a TorchSimulator (not imported: it imports this module)
    step: Step,
    state: torch.Tensor,
    m: torch.Tensor | None,
    *,
    inverse: bool = False,
    out: torch.Tensor | None = None,
    track: bool = False,
) -> torch.Tensor:
    """Apply one step of ``sim`` (a ``TorchSimulator``); ``m`` is the matrix to use.

    For the inverse of a matrix step, pass the conjugate transpose as ``m``. With ``track``,
    through the autograd functions (``out`` is then ignored).
    """
    if step.kind == "monomial":
        perm, phase, inv, inv_phase = sim.monomial(step.ops[0], state.dtype, state.device)
        if inverse:
            perm, phase, inv, inv_phase = inv, inv_phase, perm, phase
        if track:
            return PermuteFunction.apply(state, perm, phase, inv, inv_phase)
        return permute(state, perm, phase, out=out)
    if step.kind == "general":
        return sim.apply(step.ops[0], state, m)
    if m is None:
        raise ValueError(f"a {step.kind!r} step needs its matrix")
    if track:
        return BlockFunction.apply(state, m, sim.n_qubits, step.lo, step.k)
    return apply_block(state, sim.n_qubits, step.lo, step.k, m, out=out)


def run_steps(
    sim: Any,  # a TorchSimulator (not imported: it imports this module)
    steps: Sequence[Step],
    psi: torch.Tensor,
    matrix: Callable[[Step], torch.Tensor | None],
    *,
    track: bool,
) -> torch.Tensor:
    """Apply ``steps`` to ``psi``: through autograd (``track``), else into two reused buffers.

    ``psi`` itself is never written to.
    """
    if track:
        for step in steps:
            psi = apply_step(sim, step, psi, matrix(step), track=True)
        return psi
    buffers: list[torch.Tensor] = []  # states this sweep allocated (at most two)
    for step in steps:
        spare = next((b for b in buffers if b is not psi), None)
        if spare is None:
            spare = torch.empty_like(psi, memory_format=torch.contiguous_format)
            buffers.append(spare)
        psi = apply_step(sim, step, psi.contiguous(), matrix(step), out=spare)
        if psi is not spare:  # a general gate allocated its own output: adopt it
            buffers = [spare, psi]
    return psi
