"""Initial weights of a quantum layer: a tensor, an array or an initializer.

``QuantumLayer(..., init=...)`` plays the part of qiskit-machine-learning's
``TorchConnector(initial_weights=...)`` and PennyLane's ``TorchLayer(init_method=...)``.

Example:
    >>> import torch
    >>> initial_weight(torch.nn.init.zeros_, 3).tolist()
    [0.0, 0.0, 0.0]
    >>> initial_weight([0.5, 1.0], 2).dtype          # arrays and lists keep float64
    torch.float64
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from hybridqml.exceptions import ConfigurationError

__all__ = ["WeightInit", "initial_weight"]

WeightInit = torch.Tensor | np.ndarray | Callable[[torch.Tensor], Any] | None


def _uniform(t: torch.Tensor) -> torch.Tensor:
    return torch.nn.init.uniform_(t, -math.pi, math.pi)


def initial_weight(init: WeightInit, n_weights: int) -> torch.Tensor:
    """The (n_weights,) starting weights.

    Args:
        init: ``None``: uniform in [-pi, pi) from torch's global generator. A tensor, numpy
            array or sequence of shape ``(n_weights,)`` (its dtype kept if floating, else
            float64; a tensor is copied). A callable: called on an empty float tensor of shape
            ``(n_weights,)`` and expected to fill it in place or return the weights, like
            ``torch.nn.init.uniform_`` or ``functools.partial(torch.nn.init.normal_, std=0.1)``.
        n_weights: Number of weights of the circuit.

    Raises:
        ConfigurationError: a wrong shape (the message shows how to flatten a peer's layout),
            non-finite values, or an initializer that fails or returns something else.
    """
    if init is None:
        init = _uniform
    if callable(init) and not isinstance(init, (torch.Tensor, np.ndarray)):
        empty = torch.empty(n_weights)
        try:
            result = init(empty)
        except Exception as exc:
            raise ConfigurationError(
                f"init {init!r} failed on a tensor of shape ({n_weights},): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        weight = empty if result is None else result
        if not isinstance(weight, torch.Tensor):
            raise ConfigurationError(
                f"init {init!r} returned {type(weight).__name__}; an initializer fills the "
                "tensor it is given (like torch.nn.init.uniform_) or returns a tensor"
            )
        where = f"init {init!r} returned"
    else:
        try:
            weight = torch.as_tensor(
                np.asarray(init) if not isinstance(init, torch.Tensor) else init
            )
        except Exception as exc:
            raise ConfigurationError(
                f"init must be a tensor, an array or an initializer, got {type(init).__name__}"
            ) from exc
        where = "init has"
    weight = weight.detach().clone()
    if weight.is_complex():
        raise ConfigurationError(
            f"{where} complex values ({weight.dtype}); weights are real rotation angles: pass "
            "the real part (init.real) if that is what you meant"
        )
    if tuple(weight.shape) != (n_weights,):
        raise ConfigurationError(
            f"{where} shape {tuple(weight.shape)} but the circuit has {n_weights} weights: "
            f"pass shape ({n_weights},); a peer's layout (e.g. PennyLane's (layers, qubits, 3)) "
            "flattens with .reshape(-1) when its order matches (see docs/guides/porting.md)"
        )
    if not weight.is_floating_point():
        weight = weight.to(torch.float64)
    if not bool(torch.isfinite(weight).all()):
        raise ConfigurationError("init contains NaN or inf")
    return weight
