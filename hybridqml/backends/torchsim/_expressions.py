"""Qiskit parameter expressions as differentiable torch functions of a parameter matrix.

:func:`compile_expression` turns a ``ParameterExpression`` (``x``, ``2*x``, ``x*w``,
``sin(x) + w/2``, ...) into a function of a (B, P) tensor of parameter values returning the (B,)
angles. It walks the expression's sympy form once, at compile time, and builds closures of torch
operations, so autograd differentiates the angles exactly (chain rule through products and
functions included) on any device and in any floating dtype. Qiskit's own lambdified gradients are
not used (see the design notes: they have evaluated products wrongly).

Example:
    >>> import torch
    >>> from qiskit.circuit import Parameter
    >>> x, w = Parameter("x"), Parameter("w")
    >>> f = compile_expression(x * w + 1, [x, w])
    >>> f(torch.tensor([[2.0, 3.0]])).tolist()
    [7.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import sympy
import torch
from qiskit.circuit import Parameter, ParameterExpression

from hybridqml.exceptions import CircuitError

__all__ = ["AngleFunction", "compile_expression"]


class AngleFunction(Protocol):
    """A compiled angle: (B, P) parameter values -> (B,) angles, tagged with what it reads."""

    columns: tuple[int, ...]  # the parameter columns it reads
    column: int | None  # the column, if the angle is one parameter as is

    def __call__(self, theta: torch.Tensor, /) -> torch.Tensor:
        """The (B,) angles for (B, P) parameter values."""
        ...


_Node = Callable[[torch.Tensor], "torch.Tensor | float"]

_FUNCTIONS: dict[type, Callable[[torch.Tensor], torch.Tensor]] = {
    sympy.sin: torch.sin,
    sympy.cos: torch.cos,
    sympy.tan: torch.tan,
    sympy.asin: torch.asin,
    sympy.acos: torch.acos,
    sympy.atan: torch.atan,
    sympy.sinh: torch.sinh,
    sympy.cosh: torch.cosh,
    sympy.tanh: torch.tanh,
    sympy.exp: torch.exp,
    sympy.log: torch.log,
    sympy.Abs: torch.abs,
    sympy.sign: torch.sign,
}


def compile_expression(
    expr: ParameterExpression | float, parameters: Sequence[Parameter]
) -> AngleFunction:
    """Compile an angle expression into a torch function of the parameter matrix.

    Args:
        expr: A ``Parameter``, a ``ParameterExpression`` over ``parameters``, or a number.
        parameters: The parameters in column order of the (B, P) matrix the function receives.

    Returns:
        A function mapping (B, P) values to (B,) angles of the same dtype and device. Its
        ``columns`` attribute lists the parameter columns it reads; ``column`` is that column
        when the expression is a bare parameter (else ``None``).

    Raises:
        CircuitError: if the expression uses a parameter not in ``parameters``, a function torch
            cannot evaluate, or a complex constant.

    Example:
        >>> import torch
        >>> from qiskit.circuit import Parameter
        >>> x = Parameter("x")
        >>> compile_expression(2 * x, [x])(torch.tensor([[0.25]])).tolist()
        [0.5]
    """
    columns = {p.name: j for j, p in enumerate(parameters)}
    if isinstance(expr, Parameter):
        try:
            j = columns[expr.name]
        except KeyError:
            raise CircuitError(f"gate parameter {expr.name!r} is not a circuit parameter") from None
        return _tag(lambda theta: theta[:, j], (j,), column=j)
    if not isinstance(expr, ParameterExpression):
        value = float(expr)
        return _tag(lambda theta: theta.new_full((theta.shape[0],), value), ())
    for p in expr.parameters:
        if p.name not in columns:
            raise CircuitError(f"gate parameter {p.name!r} is not a circuit parameter")
    node = _node(expr.sympify(), columns, str(expr))

    def angle(theta: torch.Tensor) -> torch.Tensor:
        value = node(theta)
        if isinstance(value, torch.Tensor):
            return value.expand(theta.shape[0])
        return theta.new_full((theta.shape[0],), float(value))

    return _tag(angle, tuple(sorted(columns[p.name] for p in expr.parameters)))


def _tag(
    fn: Callable[[torch.Tensor], torch.Tensor], columns: tuple[int, ...], column: int | None = None
) -> AngleFunction:
    """Record which parameter columns an angle reads (and the column, if it is one)."""
    tagged = cast(AngleFunction, fn)  # a plain function: the attributes go on it directly
    tagged.columns = columns
    tagged.column = column
    return tagged


def _node(sym: sympy.Expr, columns: dict[str, int], text: str) -> _Node:
    if isinstance(sym, sympy.Symbol):
        j = columns[sym.name]
        return lambda theta: theta[:, j]
    if sym.is_number:
        value = complex(sym)
        if value.imag:
            raise CircuitError(f"parameter expression {text} has a complex constant {value}")
        real = value.real
        return lambda theta: real
    args = [_node(a, columns, text) for a in sym.args]
    if isinstance(sym, sympy.Add):
        return lambda theta: _fold(args, theta, lambda a, b: a + b)
    if isinstance(sym, sympy.Mul):
        return lambda theta: _fold(args, theta, lambda a, b: a * b)
    if isinstance(sym, sympy.Pow):
        base, power = args
        return lambda theta: base(theta) ** power(theta)
    fn = _FUNCTIONS.get(type(sym)) or _FUNCTIONS.get(sym.func)
    if fn is None or len(args) != 1:
        raise CircuitError(
            f"parameter expression {text} uses {sym.func}, which the torch simulator cannot "
            f"evaluate; supported: +, *, **, {', '.join(f.__name__ for f in _FUNCTIONS)}"
        )
    (arg,) = args
    return lambda theta: fn(_tensor(arg(theta), theta))


def _fold(
    nodes: list[_Node], theta: torch.Tensor, op: Callable[[Any, Any], Any]
) -> torch.Tensor | float:
    value = nodes[0](theta)
    for node in nodes[1:]:
        value = op(value, node(theta))
    return value


def _tensor(value: torch.Tensor | float, theta: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    return theta.new_full((theta.shape[0],), float(value))
