"""Executors on the torch simulator: shift plans (numpy contract) and torch-native gradients.

* :class:`TorchExecutor` runs the whole (M, K) array of occurrence angles of a
  :class:`~hybridqml.circuits._shiftable.ShiftableCircuit` (forward bindings, or every shifted
  binding of a backward pass) as one batched simulation, exactly like one primitive call on Aer
  (``backend="torch", gradient="parameter-shift"``).
* :class:`TorchNativeExecutor` evaluates the spec's own parameters on tensors and lets torch
  differentiate: plain autograd through the simulation (``"backprop"``) or the memory-light
  reverse pass :class:`~hybridqml.backends.torchsim.AdjointExpectation` (``"adjoint"``).

Example:
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> ex = TorchExecutor(ShiftableCircuit(circuits.ry(1)))
    >>> ex.run([[0.0]]).round(6).tolist()
    [[0.0]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import torch

from hybridqml.backends.torchsim._adjoint import AdjointExpectation
from hybridqml.backends.torchsim._probabilities import probabilities
from hybridqml.backends.torchsim._simulator import TorchSimulator
from hybridqml.backends.torchsim._tracked import count_backward
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import ConfigurationError
from hybridqml.execution import _tracking as tracking
from hybridqml.execution._executor import Executor, NativeExecutor
from hybridqml.execution._memory import MEMORY_OPTION, check_memory_limit

__all__ = [
    "TORCH_BACKEND",
    "TORCH_OPTIONS",
    "TorchExecutor",
    "TorchNativeExecutor",
    "check_torch_options",
]

TORCH_BACKEND: Final[str] = "torch"
"""Name of the torch-native exact simulator backend."""
TORCH_OPTIONS: Final[tuple[str, ...]] = (MEMORY_OPTION,)
"""``backend_options`` understood by the torch backend."""


def check_torch_options(shots: int | None, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``shots`` and ``backend_options`` for the torch backend; return the options.

    Raises:
        ConfigurationError: shots given (the simulator is exact), unknown options or a
            ``max_memory_bytes`` that is not a positive int.

    Example:
        >>> check_torch_options(None, {"max_memory_bytes": 10**9})
        {'max_memory_bytes': 1000000000}
    """
    if shots is not None:
        raise ConfigurationError(
            f"the torch backend is exact and has no shots (got shots={shots}); use "
            "backend='aer' with shots=... for finite-shot sampling"
        )
    unknown = set(options) - set(TORCH_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"unknown backend_options for the torch backend: {sorted(unknown)}; "
            f"it accepts {list(TORCH_OPTIONS)}"
        )
    checked = dict(options)
    if MEMORY_OPTION in checked:
        checked[MEMORY_OPTION] = check_memory_limit(checked[MEMORY_OPTION])
    return checked


class TorchExecutor(Executor):
    """Evaluates (M, K) angle bindings of a shiftable circuit in float64 on the CPU.

    Args:
        shiftable: The circuit in per-occurrence Pauli-rotation form.
        max_memory_bytes: Memory limit passed to the simulator.
    """

    def __init__(self, shiftable: ShiftableCircuit, *, max_memory_bytes: int | None = None):
        super().__init__(shiftable, name=TORCH_BACKEND, shots=None)
        self.simulator = TorchSimulator(
            shiftable.circuit,
            list(shiftable.angle_vector),
            shiftable.observables,
            max_memory_bytes=max_memory_bytes,
        )
        self.readout = shiftable.probabilities

    def _run(self, angles: np.ndarray) -> np.ndarray:
        theta = torch.from_numpy(np.ascontiguousarray(angles))
        with torch.no_grad():
            if self.readout is not None:
                return probabilities(self.simulator, theta, self.readout).numpy()
            return self.simulator.expectations(theta).numpy()


@torch.compiler.disable
def _adjoint(inputs: torch.Tensor, weight: torch.Tensor, simulator: TorchSimulator) -> torch.Tensor:
    """:class:`AdjointExpectation`, run eagerly under ``torch.compile`` (a graph break).

    Its hand-written reverse pass caches tensors and works in place, which dynamo refuses to
    trace as a subgraph; eagerly it gives the same values and gradients.
    """
    return AdjointExpectation.apply(inputs, weight, simulator)


class TorchNativeExecutor(NativeExecutor):
    """The spec's circuit compiled once; outputs on tensors, gradients by torch.

    Args:
        spec: The circuit specification (its own parameters, not the shiftable form).
        gradient: ``"backprop"`` or ``"adjoint"``.
        max_memory_bytes: Memory limit passed to the simulator.

    Example:
        >>> from hybridqml import circuits
        >>> ex = TorchNativeExecutor(circuits.ry(1), gradient="adjoint")
        >>> x = torch.full((1, 1), torch.pi / 2, dtype=torch.float64)
        >>> ex.expectations(x, x.new_zeros(0)).round(decimals=12).tolist()   # -sin x
        [[-1.0]]
    """

    name = TORCH_BACKEND

    def __init__(
        self, spec: ParameterizedCircuit, *, gradient: str, max_memory_bytes: int | None = None
    ) -> None:
        if gradient not in ("backprop", "adjoint"):
            raise ConfigurationError(f"unknown torch-native gradient {gradient!r}")
        self.readout = spec.probabilities
        if self.readout is not None and gradient == "adjoint":
            raise ConfigurationError(
                "gradient='adjoint' differentiates Pauli observables; for probability outputs "
                "use gradient='backprop' (the default) or 'parameter-shift'"
            )
        self.gradient = gradient
        self.simulator = TorchSimulator(
            spec.circuit, spec.parameters, spec.observables, max_memory_bytes=max_memory_bytes
        )

    def expectations(self, inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Outputs (B, O) in the input's dtype, with autograd (see the class docstring)."""
        dtype = torch.float64 if inputs.dtype == torch.float64 else torch.float32
        x = inputs.to(dtype)
        tracking.record(self.name, x.shape[0], None)  # one simulation per sample
        if self.gradient == "adjoint":
            out = _adjoint(x, weight, self.simulator)
        else:
            w = weight.to(dtype)
            w = w.expand(x.shape[0], -1) if w.ndim == 1 else w
            out = self._outputs(torch.cat([x, w], dim=1))
        return count_backward(out, self.name, x.shape[0]).to(inputs.dtype)

    def _outputs(self, theta: torch.Tensor) -> torch.Tensor:
        if self.readout is not None:
            return probabilities(self.simulator, theta, self.readout)
        return self.simulator.expectations(theta)

    def run(self, theta: np.ndarray) -> np.ndarray:
        """Outputs (N, O) at ``theta`` (N, P), float64, without autograd."""
        with torch.no_grad():
            return self._outputs(torch.from_numpy(np.asarray(theta, dtype=float))).numpy()

    def jacobian(self, theta: np.ndarray, wrt: np.ndarray | None = None) -> np.ndarray:
        """Jacobian (N, O, P) by torch autograd through the simulator."""
        t = torch.from_numpy(np.asarray(theta, dtype=float)).requires_grad_()
        out = self._outputs(t)
        rows = [
            torch.autograd.grad(out[:, o].sum(), t, retain_graph=True)[0]
            for o in range(out.shape[1])
        ]
        jac = torch.stack(rows, dim=1).numpy()
        if wrt is not None:
            jac = jac * np.asarray(wrt, dtype=bool)
        return jac

    def __getstate__(self) -> dict:
        raise TypeError("rebuild a TorchNativeExecutor from its spec instead of pickling it")

    def __repr__(self) -> str:
        return f"TorchNativeExecutor(gradient={self.gradient!r})"
