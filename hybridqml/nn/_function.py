"""The one path from tensors to expectation values: :func:`expectations` and its autograd Function.

:func:`expectations` is the single entry point of every layer and every backend. It checks the
inputs once, then either

* runs :class:`QuantumFunction`, the thin ``torch.autograd.Function`` around a
  :class:`~hybridqml.nn.CircuitEngine` (shift-plan gradients on any backend: tensors are
  converted to float64 numpy once on the way in, results restored to the input's dtype and device
  on the way out, and the backward pass asks the engine for the Jacobian of only the arguments
  that need gradients, ``ctx.needs_input_grad``), or
* hands the tensors to the engine's :class:`~hybridqml.execution.NativeExecutor` when the
  backend computes the gradient in torch itself (``backend="torch"`` with ``"backprop"`` or
  ``"adjoint"``): those gradients are torch's own autograd graph and cannot pass through a numpy
  Function without recomputing the forward pass.

Under ``torch.compile`` the numpy Function and the finiteness check run eagerly (a graph
break, no error); the torch simulator's operations are compiled (same values and gradients).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from hybridqml.exceptions import InputError
from hybridqml.nn._engine import CircuitEngine

__all__ = ["QuantumFunction", "check_device", "check_finite", "expectations"]


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(device="cpu", dtype=torch.float64).numpy()


def check_finite(inputs: np.ndarray | torch.Tensor, weight: np.ndarray | torch.Tensor) -> None:
    """Raise :class:`~hybridqml.exceptions.InputError` for NaN/inf inputs (naming rows) or weights.

    Args:
        inputs: (B, n_inputs) numpy array or tensor (any device).
        weight: (n_weights,) or (B, n_weights) numpy array or tensor.

    Example:
        >>> check_finite(np.zeros((2, 1)), np.array([np.nan]))
        Traceback (most recent call last):
        ...
        hybridqml.exceptions.InputError: weight contains NaN or inf (did training diverge?)
    """
    finite = _finite(inputs)
    if not bool(finite.all()):
        row_ok = cast(list[bool], finite.all(1).tolist())  # a (B,) mask of either kind
        rows = [i for i, ok in enumerate(row_ok) if not ok]
        more = "..." if len(rows) > 10 else ""
        raise InputError(
            f"inputs contain NaN or inf (rows {rows[:10]}{more}); a rotation angle must be finite"
        )
    if not bool(_finite(weight).all()):
        raise InputError("weight contains NaN or inf (did training diverge?)")


def check_device(inputs: torch.Tensor, weight: torch.Tensor) -> None:
    """Raise :class:`~hybridqml.exceptions.InputError` for tensors without data (meta device).

    Meta tensors carry shapes only (e.g. a model built under ``torch.device("meta")``); a
    circuit needs the values.

    Example:
        >>> try:
        ...     check_device(torch.zeros(1, 1, device="meta"), torch.zeros(0))
        ... except InputError as exc:
        ...     print(str(exc).split(";")[0])
        inputs are on the meta device (shapes without values)
    """
    for name, verb, tensor in (("inputs", "are", inputs), ("weight", "is", weight)):
        if isinstance(tensor, torch.Tensor) and tensor.is_meta:
            raise InputError(
                f"{name} {verb} on the meta device (shapes without values); move it to a real "
                f'device (e.g. {name}.to("cpu")), or materialize a meta-built model with '
                "model.to_empty(device=...) and initialize its weights"
            )


def _finite(values: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Elementwise finiteness, computed where the values live (numpy, CPU or CUDA tensor)."""
    if isinstance(values, torch.Tensor):
        return torch.isfinite(values.detach())
    return np.isfinite(values)


class QuantumFunction(torch.autograd.Function):
    """Expectation values of a parameterized circuit with parameter-shift gradients.

    ``QuantumFunction.apply(inputs, weight, engine)`` maps inputs (B, n_inputs) and weight
    (n_weights,) or per-sample weights (B, n_weights) to (B, n_outputs). Forward: one primitive
    call. Backward: one primitive call holding every shifted binding of every sample.

    Example:
        >>> import torch
        >>> from hybridqml import circuits
        >>> from hybridqml.nn._engine import CircuitEngine
        >>> engine = CircuitEngine(circuits.ry(1))
        >>> x = torch.zeros(2, 1, dtype=torch.float64, requires_grad=True)
        >>> QuantumFunction.apply(x, torch.zeros(0, dtype=torch.float64), engine).sum().backward()
        >>> x.grad.flatten().round(decimals=6).tolist()      # d(-sin x)/dx at 0
        [-1.0, -1.0]
    """

    @staticmethod
    def forward(
        ctx: Any, inputs: torch.Tensor, weight: torch.Tensor, engine: CircuitEngine
    ) -> torch.Tensor:
        """Evaluate the circuit for every row of ``inputs``."""
        x = _numpy(inputs)
        w = _numpy(weight)
        check_finite(x, w)  # in numpy: no extra torch work before the backend call
        theta = np.concatenate([x, np.broadcast_to(w, (x.shape[0], w.shape[-1]))], axis=1)
        out = engine.forward(theta)
        ctx.engine = engine
        ctx.theta = theta
        ctx.n_inputs = x.shape[1]
        ctx.input_meta = (inputs.dtype, inputs.device)
        ctx.weight_meta = (weight.dtype, weight.device)
        ctx.batched_weight = weight.ndim == 2
        return torch.from_numpy(out).to(dtype=inputs.dtype, device=inputs.device)

    @staticmethod
    @once_differentiable
    def backward(
        ctx: Any, grad_output: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        """Vector-Jacobian product from one batched gradient-rule execution."""
        need_inputs, need_weight = ctx.needs_input_grad[:2]
        if not (need_inputs or need_weight):
            return None, None, None
        n_in = ctx.n_inputs
        wrt = np.zeros(ctx.theta.shape[1], dtype=bool)
        wrt[:n_in] = need_inputs
        wrt[n_in:] = need_weight
        jac = ctx.engine.jacobian(ctx.theta, wrt)  # (N, O, P)
        vjp = np.einsum("no,nop->np", _numpy(grad_output), jac)
        grad_inputs = grad_weight = None
        if need_inputs:
            dtype, device = ctx.input_meta
            grad_inputs = torch.from_numpy(vjp[:, :n_in].copy()).to(dtype=dtype, device=device)
        if need_weight:
            dtype, device = ctx.weight_meta
            gw = vjp[:, n_in:] if ctx.batched_weight else vjp[:, n_in:].sum(axis=0)
            grad_weight = torch.from_numpy(np.ascontiguousarray(gw)).to(dtype=dtype, device=device)
        return grad_inputs, grad_weight, None


def expectations(inputs: torch.Tensor, weight: torch.Tensor, engine: CircuitEngine) -> torch.Tensor:
    """Layer outputs (B, n_outputs) with the engine's gradient method.

    Args:
        inputs: (B, n_inputs) floating tensor; the output follows its dtype and device.
        weight: (n_weights,) shared or (B, n_weights) per-sample weights.
        engine: The circuit engine.

    Example:
        >>> import torch
        >>> from hybridqml import circuits
        >>> engine = CircuitEngine(circuits.ry(1), backend="torch")
        >>> x = torch.full((1, 1), torch.pi / 2, dtype=torch.float64)
        >>> expectations(x, x.new_zeros(0), engine).round(decimals=12).tolist()   # -sin x
        [[-1.0]]
    """
    check_device(inputs, weight)
    if engine.native is None:
        return _apply(inputs, weight, engine)
    _check_finite_eagerly(inputs, weight)
    return engine.native.expectations(inputs, weight)


# torch.compile: work outside torch (numpy, Qiskit, Aer, remote jobs) is never traced. Dynamo
# runs these eagerly (a graph break), so a compiled model with any backend gives the eager
# values; the torch simulator's own operations (engine.native) are compiled into the graph.


@torch.compiler.disable
def _apply(inputs: torch.Tensor, weight: torch.Tensor, engine: CircuitEngine) -> torch.Tensor:
    return QuantumFunction.apply(inputs, weight, engine)


@torch.compiler.disable
def _check_finite_eagerly(inputs: torch.Tensor, weight: torch.Tensor) -> None:
    check_finite(inputs, weight)  # a data-dependent branch: not traceable
