"""Gate matrices for the torch simulator: fixed matrices, trigonometric forms and builders.

Every gate of a circuit is described, once at compile time, by one of

* :class:`FixedGate` -- a constant matrix (any gate without free parameters that Qiskit can turn
  into an ``Operator``: standard gates, ``UnitaryGate``, custom gates with a definition);
* :class:`TrigGate` -- a one-parameter gate whose matrix is ``A + cos(t/w) Bc + sin(t/w) Bs``
  with constant ``A, Bc, Bs`` and ``w`` in {1, 2}: every Pauli rotation (``rx ... rzx``), phase
  gates (``p``, ``cp``, ``mcphase``...) and controlled rotations (``crx cry crz``). The three
  matrices are fitted from Qiskit's own matrices at three angles and verified at a fourth, so
  conventions (qubit order, phases) are Qiskit's by construction;
* :class:`BuiltGate` -- ``u``/``u3``, ``u2`` and ``r``, built from their closed forms.

Which gates have which form comes from the gate table, ``hybridqml.circuits._gates``.

Anything else with free parameters is decomposed through its Qiskit definition by the compiler.

Example:
    >>> from qiskit.circuit import Parameter
    >>> from qiskit.circuit.library import RYGate
    >>> g = describe(RYGate(Parameter("t")))
    >>> type(g).__name__, g.omega
    ('TrigGate', 2.0)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from qiskit.circuit import Gate, Instruction, ParameterExpression
from qiskit.quantum_info import Operator

from hybridqml.circuits._gates import CLOSED_FORM, frequency
from hybridqml.exceptions import CircuitError

__all__ = ["BuiltGate", "FixedGate", "TrigGate", "build_matrix", "describe", "fixed_matrix"]

#: Agreement required between a fitted trigonometric form and Qiskit's matrix.
_FIT_ATOL = 1e-12
_PROBE = 0.7137  # an angle with no special symmetry, for verifying fits

_fit_cache: dict[tuple, tuple | None] = {}


@dataclass(frozen=True)
class FixedGate:
    """A gate with a constant matrix (little-endian over the instruction's qubits)."""

    matrix: np.ndarray


@dataclass(frozen=True)
class TrigGate:
    """``A + cos(t / omega) Bc + sin(t / omega) Bs`` of the gate parameter ``t``."""

    a: np.ndarray
    bc: np.ndarray
    bs: np.ndarray
    omega: float


@dataclass(frozen=True)
class BuiltGate:
    """A multi-parameter one-qubit gate with a closed-form builder (``u``, ``u2``, ``r``)."""

    name: str


def fixed_matrix(op: Instruction) -> np.ndarray:
    """Qiskit's matrix of a parameter-free gate.

    Raises:
        CircuitError: if the gate has no matrix and no definition (an opaque gate).

    Example:
        >>> from qiskit.circuit.library import XGate
        >>> fixed_matrix(XGate()).real.tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    try:
        return np.asarray(Operator(op).data, dtype=complex)
    except Exception as exc:
        raise CircuitError(
            f"gate {op.name!r} has no matrix and no definition (an opaque gate); the torch "
            f"simulator needs one: give the gate a definition or a matrix ({exc})"
        ) from exc


def describe(op: Instruction) -> FixedGate | TrigGate | BuiltGate | None:
    """Describe a gate for the simulator, or ``None`` if it must be decomposed first.

    Example:
        >>> from qiskit.circuit.library import CXGate
        >>> describe(CXGate()).matrix.shape
        (4, 4)
    """
    if not any(isinstance(p, ParameterExpression) for p in op.params):
        return FixedGate(fixed_matrix(op))
    if op.name in CLOSED_FORM and op.num_qubits == 1 and len(op.params) == CLOSED_FORM[op.name]:
        return BuiltGate(op.name)
    if len(op.params) == 1 and isinstance(op, Gate) and _is_library_gate(op):
        fit = _trig_fit(op)
        if fit is not None:
            return TrigGate(*fit)
    return None


def _is_library_gate(op: Instruction) -> bool:
    return type(op).__module__.startswith("qiskit.circuit.library")


def _bound_matrix(op: Instruction, value: float) -> np.ndarray:
    bound = op.copy()
    bound.params = [value]
    return np.asarray(Operator(bound).data, dtype=complex)


def _trig_fit(op: Instruction) -> tuple | None:
    key = (type(op), op.name, op.num_qubits, getattr(op, "ctrl_state", None))
    if key in _fit_cache:
        return _fit_cache[key]
    result = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. scipy notes from matrix exponentials
            result = _fit(op)
    except Exception:  # no numeric matrix: decompose instead
        result = None
    _fit_cache[key] = result
    return result


def _fit(op: Instruction) -> tuple | None:
    known = frequency(op.name)  # the gate table's frequency; other gates try both
    for omega in (known,) if known is not None else (2.0, 1.0):
        u0 = _bound_matrix(op, 0.0)
        u_half = _bound_matrix(op, omega * math.pi / 2)
        u_pi = _bound_matrix(op, omega * math.pi)
        a = (u0 + u_pi) / 2
        bc = (u0 - u_pi) / 2
        bs = u_half - a
        probe = a + math.cos(_PROBE / omega) * bc + math.sin(_PROBE / omega) * bs
        if np.allclose(probe, _bound_matrix(op, _PROBE), atol=_FIT_ATOL, rtol=0):
            return a, bc, bs, omega
    return None


def build_matrix(name: str, angles: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """Closed-form (B, 2, 2) matrices of ``u``/``u3`` (theta, phi, lam), ``u2`` and ``r``.

    Args:
        name: Gate name.
        angles: One (B,) real tensor per gate parameter.
        dtype: Complex dtype of the result.

    Example:
        >>> import torch
        >>> t = torch.tensor([math.pi], dtype=torch.float64)
        >>> build_matrix("u", [t, 0 * t, 0 * t], torch.complex128).real.round().tolist()
        [[[0.0, -1.0], [1.0, 0.0]]]
    """
    if name == "u2":
        phi, lam = angles
        theta = torch.full_like(phi, math.pi / 2)
    elif name == "r":
        theta, phi = angles
        c, s = torch.cos(theta / 2).to(dtype), torch.sin(theta / 2).to(dtype)
        e = torch.exp(1j * phi.to(dtype))
        row0 = torch.stack([c, -1j * s / e], dim=-1)
        row1 = torch.stack([-1j * s * e, c], dim=-1)
        return torch.stack([row0, row1], dim=-2)
    else:
        theta, phi, lam = angles
    c, s = torch.cos(theta / 2).to(dtype), torch.sin(theta / 2).to(dtype)
    e_phi, e_lam = torch.exp(1j * phi.to(dtype)), torch.exp(1j * lam.to(dtype))
    row0 = torch.stack([c, -e_lam * s], dim=-1)
    row1 = torch.stack([e_phi * s, e_phi * e_lam * c], dim=-1)
    return torch.stack([row0, row1], dim=-2)
