"""The circuit in shiftable form: Pauli rotations only, one angle per parameter occurrence.

A :class:`ShiftableCircuit` is the user's circuit rewritten so that

* every parameterized gate is a Pauli rotation (:data:`~hybridqml.circuits._gates.PAULI_ROTATIONS`);
  other parameterized gates (``crx``, ``u``, custom gates, ...) are unrolled into them first, and
* every occurrence of a parameter gets its own angle ``phi[k] = expr_k(theta)``.

The gradient rules (:mod:`hybridqml.gradients`) shift these angles; the executors
(:mod:`hybridqml.execution`) bind them. The derivatives ``dphi_k/dtheta_j`` of the chain rule come
from the sympy form of each ``ParameterExpression`` (Qiskit's own ``ParameterExpression.gradient``
has evaluated products wrongly in some releases).

Why per-occurrence angles: the two-term rule is exact per occurrence of a Pauli rotation, the
transpiled ISA circuit stays a function of the same angles (so shifted bindings run on the circuit
transpiled once), and the chain rule through expressions is one small Jacobian.

Example:
    >>> import numpy as np
    >>> from hybridqml import circuits
    >>> shiftable = ShiftableCircuit(circuits.ry(1))
    >>> shiftable.n_angles, shiftable.angles(np.array([[0.3]])).tolist()
    (1, [[0.3]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import sympy
from qiskit import QuantumCircuit
from qiskit.circuit import CircuitInstruction, Parameter, ParameterExpression, ParameterVector

from hybridqml.circuits._gates import PAULI_ROTATIONS, SHIFT_BASIS, expand_gate
from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import GradientError

#: A compiled angle expression: ("column", j), ("const", value) or ("lambda", (used, f)).
_Compiled: TypeAlias = tuple[str, Any]

__all__ = ["ANGLE_VECTOR_NAME", "ShiftableCircuit"]

#: Name of the parameter vector holding the per-occurrence angles.
ANGLE_VECTOR_NAME = "φ"


class ShiftableCircuit:
    """A circuit in per-occurrence Pauli-rotation form, with the chain rule back to its parameters.

    Args:
        spec: The circuit specification.

    Attributes:
        circuit: The rewritten circuit; its only parameters are ``angles[0..K-1]``.
        observables: The spec's observables (empty with probability outputs).
        probabilities: The spec's probability readout, or ``None``.
        n_outputs: Number of outputs.
        n_angles: K, the number of parameter occurrences.
        n_params: P, the number of spec parameters (inputs then weights).
        depends: Boolean (K, P): occurrence k depends on parameter j.

    Raises:
        GradientError: if a parameterized gate cannot be unrolled into Pauli rotations.
    """

    def __init__(self, spec: ParameterizedCircuit) -> None:
        self.spec = spec
        self.params: tuple[Parameter, ...] = spec.parameters
        self.observables = spec.observables
        self.probabilities = spec.probabilities
        self.n_outputs = spec.n_outputs
        unrolled = _unroll(spec.circuit)
        exprs: list[ParameterExpression] = []
        for ci in unrolled.data:
            if _parameterized(ci.operation):
                exprs.extend(p for p in ci.operation.params if isinstance(p, ParameterExpression))
        self.angle_vector = ParameterVector(ANGLE_VECTOR_NAME, len(exprs))
        self.circuit = _rewrite(unrolled, self.angle_vector)
        self.expressions = tuple(exprs)
        self.n_angles = len(exprs)
        self.n_params = len(self.params)
        index = {p: j for j, p in enumerate(self.params)}
        self.depends = np.zeros((self.n_angles, self.n_params), dtype=bool)
        self._angle_fns: list[_Compiled] = []
        self._deriv_fns: list[list[tuple[int, _Compiled]]] = []
        for k, expr in enumerate(exprs):
            used = [index[p] for p in expr.parameters]
            self.depends[k, used] = True
            self._angle_fns.append(_compile_expr(expr, self.params, used))
            self._deriv_fns.append(_compile_derivatives(expr, self.params, used))

    def angles(self, theta: np.ndarray) -> np.ndarray:
        """Evaluate every occurrence angle: (N, P) parameter values -> (N, K) angles."""
        theta = np.asarray(theta, dtype=float)
        out = np.empty((theta.shape[0], self.n_angles))
        for k, fn in enumerate(self._angle_fns):
            out[:, k] = _evaluate(fn, theta)
        return out

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """D angle_k / d theta_j for each sample: (N, P) -> (N, K, P)."""
        theta = np.asarray(theta, dtype=float)
        out = np.zeros((theta.shape[0], self.n_angles, self.n_params))
        for k, derivs in enumerate(self._deriv_fns):
            for j, fn in derivs:
                out[:, k, j] = _evaluate(fn, theta)
        return out

    def __repr__(self) -> str:
        return f"ShiftableCircuit(n_angles={self.n_angles}, n_params={self.n_params})"


# ---------------------------------------------------------------------------------------------
# circuit rewriting


def _parameterized(op: Any) -> bool:
    # Not ``op.is_parameterized()``: it answers False for controlled rotations (CRY) in Qiskit 2.6.
    return any(isinstance(p, ParameterExpression) for p in op.params)


def _unroll(circuit: QuantumCircuit) -> QuantumCircuit:
    """Replace parameterized gates that are not Pauli rotations by equivalent rotations + CNOTs."""
    out = circuit.copy_empty_like()
    out.global_phase = 0.0
    for ci in circuit.data:
        op = ci.operation
        if not _parameterized(op) or op.name in PAULI_ROTATIONS:
            out.append(ci)
            continue
        try:
            expanded = expand_gate(op, SHIFT_BASIS)
        except Exception as exc:
            raise GradientError(
                f"cannot unroll the parameterized gate {op.name!r} into Pauli rotations for the "
                f"parameter-shift rule: {exc}"
            ) from exc
        for inner in expanded.data:
            if _parameterized(inner.operation) and inner.operation.name not in PAULI_ROTATIONS:
                raise GradientError(
                    f"gate {op.name!r} unrolled to unsupported {inner.operation.name!r}"
                )
            qubits = [ci.qubits[expanded.find_bit(q).index] for q in inner.qubits]
            out.append(inner.operation, qubits)
    return out


def _rewrite(circuit: QuantumCircuit, angles: ParameterVector) -> QuantumCircuit:
    """Give every parameter occurrence its own angle parameter (in order of appearance)."""
    out = circuit.copy_empty_like()
    out.global_phase = 0.0
    k = 0
    for ci in circuit.data:
        op = ci.operation
        if _parameterized(op):
            op = op.copy()
            new_params = []
            for p in op.params:
                if isinstance(p, ParameterExpression):
                    new_params.append(angles[k])
                    k += 1
                else:
                    new_params.append(p)
            op.params = new_params
            ci = CircuitInstruction(op, ci.qubits, ci.clbits)
        out.append(ci)
    return out


# ---------------------------------------------------------------------------------------------
# expressions: angle values and their derivatives, vectorised over the batch


def _symbol(p: Parameter) -> sympy.Symbol:
    return p.sympify()


def _compile_expr(
    expr: ParameterExpression, params: Sequence[Parameter], used: list[int]
) -> _Compiled:
    if isinstance(expr, Parameter):
        return ("column", used[0])
    sym = expr.sympify()
    return ("lambda", (used, sympy.lambdify([_symbol(params[j]) for j in used], sym, "numpy")))


def _compile_derivatives(
    expr: ParameterExpression, params: Sequence[Parameter], used: list[int]
) -> list[tuple[int, _Compiled]]:
    if isinstance(expr, Parameter):
        return [(used[0], ("const", 1.0))]
    # differentiate with real symbols: d|x|/dx is then sign(x), not Derivative(re(x), x)
    plain = [_symbol(params[j]) for j in used]
    symbols = [sympy.Symbol(s.name, real=True) for s in plain]
    sym = expr.sympify().subs(dict(zip(plain, symbols, strict=True)))
    out: list[tuple[int, _Compiled]] = []
    for j, s in zip(used, symbols, strict=True):
        d = sympy.diff(sym, s)
        if not d.free_symbols:
            value = complex(d)
            if value.imag:
                raise GradientError(f"parameter expression {expr} is not real")
            out.append((j, ("const", value.real)))
        else:
            out.append((j, ("lambda", (used, sympy.lambdify(symbols, d, "numpy")))))
    return out


def _evaluate(fn: _Compiled, theta: np.ndarray) -> np.ndarray:
    kind, payload = fn
    if kind == "column":
        return theta[:, payload]
    if kind == "const":
        return np.full(theta.shape[0], payload)
    used, f = payload
    value = np.asarray(f(*(theta[:, j] for j in used)))
    if np.iscomplexobj(value):
        if np.any(np.abs(value.imag) > 1e-12):
            raise GradientError("a parameter expression evaluated to a complex angle")
        value = value.real
    return np.broadcast_to(value, (theta.shape[0],)).astype(float)
