"""An :class:`~hybridqml.execution.Executor` that runs shift plans on the torch simulator.

Used for ``backend="torch", gradient="parameter-shift"`` (and the numpy-level
:class:`~hybridqml.engine.CircuitEngine` API): the whole (M, K) array of occurrence angles of a
:class:`~hybridqml.gradients.ShiftableCircuit` (forward bindings, or every shifted binding of a
backward pass) is one batched simulation, exactly like one primitive call on Aer.

Example:
    >>> from hybridqml import circuits
    >>> from hybridqml.gradients import ShiftableCircuit
    >>> ex = TorchExecutor(ShiftableCircuit(circuits.ry(1)))
    >>> ex.run([[0.0]]).round(6).tolist()
    [[0.0]]
"""

from __future__ import annotations

import numpy as np
import torch

from hybridqml.execution import Executor
from hybridqml.gradients import ShiftableCircuit
from hybridqml.torchsim.simulator import TorchSimulator

__all__ = ["TorchExecutor"]


class TorchExecutor(Executor):
    """Evaluates (M, K) angle bindings of a shiftable circuit in float64 on the CPU.

    Args:
        shiftable: The circuit in per-occurrence Pauli-rotation form.
        max_memory_bytes: Memory limit passed to the simulator.
    """

    def __init__(self, shiftable: ShiftableCircuit, *, max_memory_bytes: int | None = None):
        super().__init__(shiftable, name="torch", shots=None)
        self.simulator = TorchSimulator(
            shiftable.circuit,
            list(shiftable.angle_vector),
            shiftable.observables,
            max_memory_bytes=max_memory_bytes,
        )

    def _run(self, angles: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = self.simulator.expectations(torch.from_numpy(np.ascontiguousarray(angles)))
        return out.numpy()
