"""The one gate table: what the gradient rules and the torch simulator know about each gate.

Every piece of gate knowledge the package relies on lives here, read by
``hybridqml.circuits._shiftable`` (which gates take the two-term parameter-shift rule, which basis
other parameterized gates are unrolled to) and by :mod:`hybridqml.backends.torchsim` (which gates
it simulates natively, their trigonometric frequency, which have closed-form matrices).

A one-angle gate ``G(t)`` has the matrix ``A + cos(t / omega) Bc + sin(t / omega) Bs``; for a
Pauli rotation ``exp(-i t P / 2)`` (``omega = 2``) and the phase gate (``omega = 1``, equal to
``rz`` up to a global phase) the generator has two eigenvalues ``1/2`` apart, so the two-term
shift rule with shift ``pi/2`` is exact per occurrence (Mitarai et al., PRA 98, 032309 (2018);
Schuld et al., PRA 99, 032331 (2019)).

Example:
    >>> GATES["ry"].shift_rule, GATES["ry"].omega
    (True, 2.0)
    >>> sorted(PAULI_ROTATIONS)
    ['p', 'rx', 'rxx', 'ry', 'ryy', 'rz', 'rzx', 'rzz']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Instruction

__all__ = [
    "CLOSED_FORM",
    "GATES",
    "PAULI_ROTATIONS",
    "SHIFT_BASIS",
    "SIMULATOR_BASIS",
    "GateInfo",
    "expand_gate",
    "frequency",
]


@dataclass(frozen=True)
class GateInfo:
    """What the package knows about one Qiskit gate (by its ``name``).

    Attributes:
        name: Qiskit's gate name.
        num_qubits: Qubits it acts on.
        num_params: Angles it takes.
        shift_rule: One angle and a generator with eigenvalues ``+-1/2`` (up to a constant): the
            two-term parameter-shift rule is exact for each occurrence.
        omega: Frequency of a one-angle gate: its matrix is ``A + cos(t/omega) Bc +
            sin(t/omega) Bs``; ``None`` for other gates.
        simulated: The torch simulator applies it directly (others are decomposed to these).
        closed_form: A one-qubit gate of several angles whose matrix the simulator builds from
            its closed form (``u``, ``u2``, ``r``).
    """

    name: str
    num_qubits: int
    num_params: int
    shift_rule: bool = False
    omega: float | None = None
    simulated: bool = False
    closed_form: bool = False


def _table(*gates: GateInfo) -> MappingProxyType[str, GateInfo]:
    return MappingProxyType({g.name: g for g in gates})


GATES = _table(
    GateInfo("rx", 1, 1, shift_rule=True, omega=2.0, simulated=True),
    GateInfo("ry", 1, 1, shift_rule=True, omega=2.0, simulated=True),
    GateInfo("rz", 1, 1, shift_rule=True, omega=2.0, simulated=True),
    GateInfo("p", 1, 1, shift_rule=True, omega=1.0, simulated=True),
    GateInfo("rxx", 2, 1, shift_rule=True, omega=2.0, simulated=True),
    GateInfo("ryy", 2, 1, shift_rule=True, omega=2.0, simulated=True),
    GateInfo("rzz", 2, 1, shift_rule=True, omega=2.0, simulated=True),
    GateInfo("rzx", 2, 1, shift_rule=True, omega=2.0, simulated=True),
    GateInfo("cx", 2, 0, simulated=True),
    GateInfo("u", 1, 3, simulated=True, closed_form=True),
    GateInfo("u3", 1, 3, closed_form=True),
    GateInfo("u2", 1, 2, closed_form=True),
    GateInfo("r", 1, 2, closed_form=True),
    GateInfo("crx", 2, 1, omega=2.0),
    GateInfo("cry", 2, 1, omega=2.0),
    GateInfo("crz", 2, 1, omega=2.0),
    GateInfo("cp", 2, 1, omega=1.0),
)
"""Gate name -> :class:`GateInfo` (read-only)."""

PAULI_ROTATIONS = frozenset(name for name, g in GATES.items() if g.shift_rule)
"""Gates the two-term shift rule differentiates directly."""
SHIFT_BASIS = (*sorted(PAULI_ROTATIONS), "cx")
"""Basis the gradient rules unroll other parameterized gates to."""
SIMULATOR_BASIS = tuple(name for name, g in GATES.items() if g.simulated)
"""Basis the torch simulator decomposes gates without a direct form to."""
CLOSED_FORM = MappingProxyType({name: g.num_params for name, g in GATES.items() if g.closed_form})
"""One-qubit gates with closed-form matrices: name -> number of angles."""


def frequency(name: str) -> float | None:
    """The frequency ``omega`` of a one-angle gate in the table, else ``None``.

    Example:
        >>> frequency("p"), frequency("cry"), frequency("h")
        (1.0, 2.0, None)
    """
    info = GATES.get(name)
    return None if info is None else info.omega


def expand_gate(op: Instruction, basis_gates: Sequence[str]) -> QuantumCircuit:
    """The circuit of one gate translated into ``basis_gates`` (transpiler, no optimisation).

    Raises whatever the transpiler raises for a gate it cannot translate; callers turn that
    into their own error.

    Example:
        >>> from qiskit.circuit.library import CRYGate
        >>> sorted(expand_gate(CRYGate(0.3), ["ry", "cx"]).count_ops())
        ['cx', 'ry']
    """
    sub = QuantumCircuit(op.num_qubits)
    sub.append(op, range(op.num_qubits))
    return transpile(sub, basis_gates=list(basis_gates), optimization_level=0)
