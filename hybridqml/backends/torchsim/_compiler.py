"""Compile a Qiskit circuit, once, into a schedule of batched statevector operations.

The compiler walks the circuit (decomposing gates it cannot describe directly through their
Qiskit definitions), describes each gate with ``hybridqml.backends.torchsim._gates``, and
schedules:

* **one-qubit runs**: consecutive one-qubit gates on a qubit are fused into one 2x2 product
  (gates on different qubits commute, so each qubit's run is only closed when a multi-qubit gate
  touches it). A run on a qubit nothing has touched yet acts on ``|0>`` and joins the
  **initial product state**, built by Kronecker products instead of full-state updates;
* **monomial blocks**: consecutive fixed gates whose matrices have one non-zero per row (CX, CZ,
  SWAP, CCX, X, S, ...) are composed into one permutation with phases: a whole CNOT ring is one
  gather;
* **general gates**: any other k-qubit matrix (controlled rotations, ``rzz``, fixed unitaries).

Each parameter occurrence becomes an angle *slot*: a torch function of the (B, P) parameter
matrix (``hybridqml.backends.torchsim._expressions``).

Example:
    >>> from hybridqml import circuits
    >>> spec = circuits.variational(3, layers=2)
    >>> program = compile_circuit(spec.circuit, spec.parameters)
    >>> [op.kind for op in program.ops]
    ['monomial', 'one', 'one', 'one', 'monomial']
    >>> len(program.initial), len(program.slots)
    (3, 9)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Instruction, Parameter, ParameterExpression

from hybridqml.backends.torchsim._expressions import AngleFunction, compile_expression
from hybridqml.backends.torchsim._gates import BuiltGate, FixedGate, TrigGate, describe
from hybridqml.circuits._gates import SIMULATOR_BASIS, expand_gate
from hybridqml.exceptions import CircuitError

__all__ = ["GateRef", "Op", "Program", "compile_circuit"]

#: Instructions that are not unitary gates and cannot be simulated as such.
_UNSUPPORTED = {"measure": "measurement", "reset": "reset", "initialize": "initialize"}
#: Instructions without effect on the statevector.
_SKIP = {"barrier", "delay", "global_phase"}
_MAX_DEPTH = 20


@dataclass(frozen=True)
class GateRef:
    """One gate's matrix: a constant, a trigonometric gate or a built gate, with its slots.

    Attributes:
        kind: ``"const"``, ``"trig"`` or ``"built"``.
        dim: Matrix dimension 2^k.
        matrix: The constant matrix (``const``).
        trig: The trigonometric form (``trig``).
        name: Builder name (``built``).
        slots: Angle slots feeding the gate's parameters (constants are slots too).
    """

    kind: str
    dim: int
    matrix: np.ndarray | None = None
    trig: TrigGate | None = None
    name: str = ""
    slots: tuple[int, ...] = ()


@dataclass
class Op:
    """A scheduled statevector operation.

    Attributes:
        kind: ``"one"`` (fused one-qubit run), ``"general"`` (k-qubit matrix) or ``"monomial"``.
        qubits: Qubits acted on, in the matrix's little-endian order.
        factors: Gates whose product (last applied first) is the op's matrix.
        perm: Monomial gather indices: ``out[i] = phase[i] * psi[perm[i]]``.
        phase: Monomial phases, ``None`` when all are 1.
    """

    kind: str
    qubits: tuple[int, ...]
    factors: list[GateRef] = field(default_factory=list)
    perm: np.ndarray | None = None
    phase: np.ndarray | None = None

    @property
    def parameterized(self) -> bool:
        """Whether the op's matrix depends on the parameters."""
        return any(f.kind != "const" for f in self.factors)


@dataclass
class Program:
    """A compiled circuit.

    Attributes:
        n_qubits: Number of qubits.
        n_params: Number of parameter columns the program reads.
        slots: Angle functions, one per parameter occurrence.
        initial: One-qubit runs applied to ``|0...0>`` as a product state.
        ops: The remaining operations, in order.
    """

    n_qubits: int
    n_params: int
    slots: list[AngleFunction]
    initial: list[Op]
    ops: list[Op]


def compile_circuit(circuit: QuantumCircuit, parameters: Sequence[Parameter]) -> Program:
    """Compile ``circuit`` for parameter columns ``parameters``.

    Args:
        circuit: A unitary circuit (no measurements, resets or classical control).
        parameters: The columns of the (B, P) parameter matrix, in order.

    Raises:
        CircuitError: measurements, resets, classical control, opaque gates, or parameters not
            listed in ``parameters``.

    Example:
        >>> from qiskit.circuit import Parameter
        >>> t = Parameter("t")
        >>> qc = QuantumCircuit(2)
        >>> _ = qc.h(0)
        >>> _ = qc.cx(0, 1)
        >>> _ = qc.crx(2 * t, 1, 0)
        >>> [op.kind for op in compile_circuit(qc, [t]).ops]
        ['monomial', 'general']
    """
    if circuit.num_clbits and any(ci.operation.name == "measure" for ci in circuit.data):
        raise CircuitError(
            "the torch simulator computes exact expectation values of a unitary circuit; the "
            "circuit has a (mid-circuit) measurement. Remove it, or use backend='aer' with shots"
        )
    builder = _Builder(circuit.num_qubits, parameters)
    builder.walk(circuit, list(range(circuit.num_qubits)), 0)
    return builder.finish()


class _Builder:
    def __init__(self, n_qubits: int, parameters: Sequence[Parameter]) -> None:
        self.n = n_qubits
        self.parameters = tuple(parameters)
        self.slots: list[AngleFunction] = []
        self.pending: dict[int, list[GateRef]] = {q: [] for q in range(n_qubits)}
        self.touched: set[int] = set()
        self.initial: list[Op] = []
        self.ops: list[Op] = []

    # -- walking -------------------------------------------------------------------------------

    def walk(self, circuit: QuantumCircuit, qubit_map: list[int], depth: int) -> None:
        for ci in circuit.data:
            op = ci.operation
            qubits = tuple(qubit_map[circuit.find_bit(q).index] for q in ci.qubits)
            self.instruction(op, qubits, depth)

    def instruction(self, op: Instruction, qubits: tuple[int, ...], depth: int) -> None:
        name = op.name
        if name in _SKIP or op.num_qubits == 0:
            return
        if name in _UNSUPPORTED:
            raise CircuitError(
                f"the torch simulator cannot simulate a {_UNSUPPORTED[name]} ({name!r}): it "
                "computes exact expectation values of unitary circuits. Remove it, or use "
                "backend='aer'"
            )
        if getattr(op, "blocks", None):
            raise CircuitError(f"classical control flow ({name!r}) cannot be simulated")
        if op.num_clbits:
            raise CircuitError(f"instruction {name!r} uses classical bits; it cannot be simulated")
        description = describe(op)
        if description is None:
            self.decompose(op, qubits, depth)
            return
        self.gate(self.ref(op, description), qubits)

    def decompose(self, op: Instruction, qubits: tuple[int, ...], depth: int) -> None:
        if depth >= _MAX_DEPTH:
            raise CircuitError(f"gate {op.name!r} does not decompose into simulable gates")
        definition = op.definition
        if definition is None:
            try:
                definition = expand_gate(op, SIMULATOR_BASIS)
            except Exception as exc:
                raise CircuitError(
                    f"gate {op.name!r} has parameters but no matrix form the torch simulator "
                    f"knows and no definition to decompose it with: {exc}"
                ) from exc
        self.walk(definition, list(qubits), depth + 1)

    def ref(self, op: Instruction, description: FixedGate | TrigGate | BuiltGate) -> GateRef:
        dim = 1 << op.num_qubits
        if isinstance(description, FixedGate):
            return GateRef("const", dim, matrix=description.matrix)
        slots = tuple(self.slot(p) for p in op.params)
        if isinstance(description, TrigGate):
            return GateRef("trig", dim, trig=description, slots=slots)
        assert isinstance(description, BuiltGate)
        return GateRef("built", dim, name=description.name, slots=slots)

    def slot(self, value: ParameterExpression | float) -> int:
        self.slots.append(compile_expression(value, self.parameters))
        return len(self.slots) - 1

    # -- scheduling ----------------------------------------------------------------------------

    def gate(self, ref: GateRef, qubits: tuple[int, ...]) -> None:
        if len(qubits) == 1:
            self.pending[qubits[0]].append(ref)
            return
        if any(self.pending[q] for q in qubits):
            # one-qubit runs commute with this gate's neighbours: closing every run now keeps
            # the following fixed multi-qubit gates (a CNOT ring) in one monomial block
            for q in range(self.n):
                self.flush(q)
        self.touched.update(qubits)
        factors = _monomial_factors(ref) if ref.kind == "const" else None
        if factors is None:
            self.ops.append(Op("general", qubits, [ref]))
            return
        last = self.ops[-1] if self.ops else None
        if last is not None and last.kind == "monomial":
            last.qubits = tuple(sorted(set(last.qubits) | set(qubits)))
        else:
            dtype = np.int32 if self.n < 31 else np.int64
            last = Op("monomial", qubits, perm=np.arange(1 << self.n, dtype=dtype))
            self.ops.append(last)
        assert last.perm is not None  # set until finish()
        last.phase = _compose_monomial(last.perm, last.phase, qubits, self.n, *factors)

    def flush(self, q: int) -> None:
        run = self.pending[q]
        if not run:
            return
        self.pending[q] = []
        op = Op("one", (q,), _fold_constants(run))
        if q in self.touched:
            self.ops.append(op)
        else:
            self.initial.append(op)
        self.touched.add(q)

    def finish(self) -> Program:
        for q in range(self.n):
            self.flush(q)
        for op in self.ops:
            if op.kind == "monomial" and op.phase is not None and np.all(op.phase == 1):
                op.phase = None
        return Program(self.n, len(self.parameters), self.slots, self.initial, self.ops)


def _fold_constants(run: list[GateRef]) -> list[GateRef]:
    """Multiply adjacent constant factors of a one-qubit run at compile time."""
    out: list[GateRef] = []
    for ref in run:
        if ref.kind == "const" and out and out[-1].kind == "const":
            assert ref.matrix is not None and out[-1].matrix is not None  # "const": a matrix
            out[-1] = GateRef("const", 2, matrix=ref.matrix @ out[-1].matrix)
        else:
            out.append(ref)
    return out


def _monomial_factors(ref: GateRef) -> tuple[np.ndarray, np.ndarray] | None:
    """``(cols, values)`` of a constant gate with one non-zero per row (``m[r, cols[r]]``)."""
    m = ref.matrix
    assert m is not None  # called for "const" references only
    nonzero = np.abs(m) > 1e-14
    if not np.all(nonzero.sum(axis=1) == 1):
        return None
    cols = nonzero.argmax(axis=1)
    return cols, m[np.arange(m.shape[0]), cols]


def _slab(qubits: tuple[int, ...], n: int, r: int) -> tuple[int | slice, ...]:
    """Index of the ``(2,) * n`` register where the gate's qubits hold local row ``r``."""
    index: list[int | slice] = [slice(None)] * n
    for j, q in enumerate(qubits):
        index[n - 1 - q] = (r >> j) & 1  # little-endian: qubit q is axis n - 1 - q
    return tuple(index)


def _compose_monomial(
    perm: np.ndarray,
    phase: np.ndarray | None,
    qubits: tuple[int, ...],
    n: int,
    cols: np.ndarray,
    values: np.ndarray,
) -> np.ndarray | None:
    """In place: ``perm`` (and the returned ``phase``) of the monomial so far, then this gate.

    The gate's permutation takes local row ``cols[r]`` to row ``r`` of its qubits, so the
    composed ``perm`` on the slab of row ``r`` is the old ``perm`` on the slab of row
    ``cols[r]``, and the phase is ``values[r]`` times the old phase there: only the slabs
    that move are copied (half the register for a CNOT), never a full-register index table.
    ``phase`` stays ``None`` while every non-zero is 1 (CNOT, SWAP, X...).
    """
    moved = [(r, int(c)) for r, c in enumerate(cols) if c != r]
    arrays = [perm] if phase is None else [perm, phase]
    if phase is None and not np.all(values == 1):
        phase = np.ones(perm.shape[0], dtype=np.result_type(values.dtype, np.complex128))
        arrays.append(phase)
    for array in arrays:
        view = array.reshape((2,) * n)
        sources = [view[_slab(qubits, n, c)].copy() for _, c in moved]
        for (r, _), source in zip(moved, sources, strict=True):
            view[_slab(qubits, n, r)] = source
    if phase is not None:
        view = phase.reshape((2,) * n)
        for r, value in enumerate(values):
            if value != 1:
                view[_slab(qubits, n, r)] *= value
    return phase
