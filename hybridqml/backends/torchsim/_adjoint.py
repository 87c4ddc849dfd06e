"""Adjoint differentiation: exact gradients from one reverse sweep, without autograd history.

For outputs ``f_o = <psi|O_o|psi>`` with ``psi = U_G ... U_1 |0>`` and an upstream gradient
``g``, the vector-Jacobian product is ``sum_k 2 Re <lam_k| dU_k |psi_{k-1}>`` with
``lam_G = sum_o g_o O_o psi`` and ``lam_{k-1} = U_k^dagger lam_k`` (Jones and Gacon,
arXiv:2009.02823). The sweep undoes one fused pass (``_fusion``)
at a time on the stacked pair (psi, lam), writing into one spare buffer, so memory is a few
statevectors whatever the depth. For each parameterized pass it keeps only the small (B, d, d)
contraction ``C = sum_rest conj(lam_k) psi_k^T`` of the pair *after* the pass; the parameter
gradient is then ``d/dtheta 2 Re sum (U_k(theta) U_k^dagger) * C``
(``<lam_k| dU_k |psi_{k-1}> = <lam_k| dU_k U_k^dagger |psi_k>``), taken by torch autograd over
the tiny graph of gate matrices and angle expressions: the chain rule through expressions such
as ``x*w`` is exact, with no state-sized history. The earliest pass that matters is never
undone.

Example:
    >>> import torch
    >>> from hybridqml import circuits
    >>> from hybridqml.backends.torchsim._simulator import TorchSimulator
    >>> spec = circuits.ry(1)
    >>> sim = TorchSimulator(spec.circuit, spec.parameters, spec.observables)
    >>> x = torch.zeros(2, 1, dtype=torch.float64, requires_grad=True)
    >>> AdjointExpectation.apply(x, x.new_zeros(0), sim).sum().backward()
    >>> x.grad.flatten().round(decimals=12).tolist()               # d(-sin x)/dx at 0
    [-1.0, -1.0]
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch.autograd.function import once_differentiable

from hybridqml.backends.torchsim._fusion import apply_step, step_matrix
from hybridqml.backends.torchsim._kernels import _gather_axes, block_contraction
from hybridqml.backends.torchsim._simulator import TorchSimulator, complex_dtype

__all__ = ["AdjointExpectation", "adjoint_vjp"]


def adjoint_vjp(
    simulator: TorchSimulator,
    theta: torch.Tensor,
    psi: torch.Tensor,
    grad_output: torch.Tensor,
    wrt: frozenset[int],
) -> torch.Tensor:
    """Vector-Jacobian product ``grad_output . d<O>/dtheta`` by one reverse sweep.

    Args:
        simulator: The compiled circuit.
        theta: Parameter values (B, P).
        psi: Final states (B, 2^n) at ``theta``.
        grad_output: Upstream gradient (B, O).
        wrt: Parameter columns whose gradients are needed (others come back as zeros).

    Returns:
        (B, P) gradient with respect to ``theta``.

    Example:
        >>> from hybridqml import circuits
        >>> spec = circuits.ry(1)                                   # <Z> = -sin(x)
        >>> sim = TorchSimulator(spec.circuit, spec.parameters, spec.observables)
        >>> theta = torch.zeros(1, 1, dtype=torch.float64)
        >>> psi = sim.state(theta)
        >>> g = adjoint_vjp(sim, theta, psi, torch.ones(1, 1, dtype=torch.float64), frozenset({0}))
        >>> g.round(decimals=12).tolist()                          # d(-sin x)/dx at 0
        [[-1.0]]
    """
    n = simulator.n_qubits
    steps = simulator.steps
    needed = [i for i, st in enumerate(steps) if simulator.step_depends(st) & wrt]
    if not needed:
        return torch.zeros_like(theta)
    with torch.enable_grad():
        leaf = theta.detach().requires_grad_()
        mats = simulator.op_matrices(leaf)
    with torch.no_grad():
        psi = psi.detach()
        pair = psi.new_empty((2, *psi.shape))  # (psi, lambda), lambda written in place
        pair[0].copy_(psi)
        simulator.table.weighted_apply(psi, grad_output, out=pair[1])
        spare = torch.empty_like(pair)
        groups: dict[tuple, tuple[list, list]] = {}  # matrix shape -> (matrices, cotangents)
        for index in range(len(steps) - 1, needed[0] - 1, -1):
            step = steps[index]
            with torch.enable_grad():
                m = step_matrix(step, mats)
            u0 = None if m is None else m.detach()
            if m is not None and simulator.step_depends(step) & wrt:
                # with the pair *after* the step: <lam_k| dU |psi_k-1> = <lam_k| dU U0^dag |psi_k>
                if step.kind == "block":
                    c = block_contraction(pair[1], pair[0], n, step.lo, step.k, scratch=spare[0])
                else:
                    g = _gather_axes(pair, n, simulator.all_ops[step.ops[0]].qubits)
                    c = torch.matmul(g[1].conj().transpose(-1, -2), g[0])
                # Re sum (U(theta) U0^dag) * C  ==  Re sum U(theta) * (C @ conj(U0))
                mats_, cots = groups.setdefault(tuple(m.shape), ([], []))
                mats_.append(m)
                assert u0 is not None  # m is not None here
                cots.append(torch.matmul(c, u0.conj()))
            if index == needed[0]:
                break  # nothing earlier needs the states
            u_dag = None if u0 is None else u0.conj().transpose(-1, -2)
            new = apply_step(simulator, step, pair, u_dag, inverse=m is None, out=spare)
            pair, spare = (new, pair) if new is spare else (new, spare)
    with torch.enable_grad():
        # a tensor: some step depends on wrt (else no sweep), so groups is not empty
        total = cast(
            torch.Tensor,
            sum((torch.stack(ms) * torch.stack(cs)).real.sum() for ms, cs in groups.values()),
        )
        (grad,) = torch.autograd.grad(2 * total, leaf, allow_unused=True)
    return torch.zeros_like(theta) if grad is None else grad


class AdjointExpectation(torch.autograd.Function):
    """Expectation values with adjoint-method gradients (``gradient="adjoint"``).

    ``AdjointExpectation.apply(inputs, weight, simulator)`` maps inputs (B, n_inputs) and weights
    (n_weights,) or (B, n_weights) to (B, n_outputs) in the inputs' dtype and device. The forward
    pass keeps only the final states; the backward pass is :func:`adjoint_vjp` restricted to the
    arguments that need gradients (``ctx.needs_input_grad``).

    Example:
        >>> from hybridqml import circuits
        >>> spec = circuits.variational(2, layers=1)
        >>> sim = TorchSimulator(spec.circuit, spec.parameters, spec.observables)
        >>> x = torch.rand(3, 2, dtype=torch.float64)
        >>> w = torch.rand(2, dtype=torch.float64, requires_grad=True)
        >>> AdjointExpectation.apply(x, w, sim).sum().backward()
        >>> w.grad.shape
        torch.Size([2])
    """

    @staticmethod
    def forward(
        ctx: Any, inputs: torch.Tensor, weight: torch.Tensor, simulator: TorchSimulator
    ) -> torch.Tensor:
        """Simulate without recording history."""
        w = weight.to(inputs.dtype)
        if w.ndim == 1:
            w = w.expand(inputs.shape[0], -1)
        theta = torch.cat([inputs, w], dim=1)
        simulator.check_input(theta)
        simulator.check_memory(theta.shape[0], complex_dtype(theta.dtype), theta.device)
        psi = simulator.state(theta)
        ctx.simulator = simulator
        ctx.batched_weight = weight.ndim == 2
        ctx.weight_dtype = weight.dtype
        ctx.n_inputs = inputs.shape[1]
        ctx.save_for_backward(theta, psi)
        return simulator.table.expectations(psi)

    @staticmethod
    @once_differentiable
    def backward(
        ctx: Any, grad_output: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        """One reverse sweep for the requested gradients."""
        need_inputs, need_weight = ctx.needs_input_grad[:2]
        if not (need_inputs or need_weight):
            return None, None, None
        theta, psi = ctx.saved_tensors
        sim = ctx.simulator
        n_in = ctx.n_inputs
        wrt = frozenset(
            ([*range(n_in)] if need_inputs else [])
            + ([*range(n_in, theta.shape[1])] if need_weight else [])
        )
        grad = adjoint_vjp(sim, theta, psi, grad_output.to(theta.dtype), wrt)
        grad_inputs = grad[:, :n_in] if need_inputs else None
        grad_weight = None
        if need_weight:
            gw = grad[:, n_in:]
            grad_weight = (gw if ctx.batched_weight else gw.sum(dim=0)).to(ctx.weight_dtype)
        return grad_inputs, grad_weight, None
