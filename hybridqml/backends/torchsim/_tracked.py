"""Backward passes of torch-native gradients, counted by ``_tracking``.

A torch-native forward pass records one call when it runs; its backward pass runs inside
torch's autograd engine, so :func:`count_backward` threads an identity autograd node after the
outputs whose backward records one call of the same bindings, as the shift-rule executors do.

Example:
    >>> import torch
    >>> from hybridqml.execution._tracking import Tracker
    >>> x = torch.ones(3, requires_grad=True)
    >>> with Tracker() as tracker:
    ...     count_backward(x * 2, "torch", 3).sum().backward()
    >>> tracker.calls, tracker.evaluations
    (1, 3)
"""

from __future__ import annotations

from typing import Any

import torch

from hybridqml.execution import _tracking as tracking

__all__ = ["count_backward"]


class _CountBackward(torch.autograd.Function):
    """Identity whose backward records one call on the active trackers."""

    @staticmethod
    def forward(ctx: Any, out: torch.Tensor, backend: str, evaluations: int) -> torch.Tensor:
        ctx.backend, ctx.evaluations = backend, evaluations
        return out.view_as(out)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        tracking.record(ctx.backend, ctx.evaluations, None)
        return grad, None, None


def count_backward(out: torch.Tensor, backend: str, evaluations: int) -> torch.Tensor:
    """``out`` unchanged; its backward pass is recorded as one call of ``evaluations`` bindings.

    Outputs without autograd history are returned as they are (nothing will flow back).
    """
    if not out.requires_grad:
        return out
    return _CountBackward.apply(out, backend, evaluations)
