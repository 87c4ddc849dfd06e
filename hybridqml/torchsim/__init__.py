"""A torch-native exact statevector simulator for quantum layers (``backend="torch"``).

A :class:`~hybridqml.torchsim.simulator.TorchSimulator` compiles a Qiskit circuit once
(:mod:`~hybridqml.torchsim.compiler`) into batched tensor operations on a (B, 2^n) statevector
and evaluates Pauli-sum observables (:mod:`~hybridqml.torchsim.observables`) from one state.
Gradients: torch autograd through the simulation (``"backprop"``), a memory-light reverse pass
(:class:`~hybridqml.torchsim.adjoint.AdjointExpectation`, ``"adjoint"``), or the parameter-shift
rule through :class:`~hybridqml.torchsim.executor.TorchExecutor`.

Example:
    >>> import torch, hybridqml as hq
    >>> layer = hq.QuantumLayer(hq.circuits.variational(2, 1), backend="torch")
    >>> layer(torch.rand(3, 2)).shape
    torch.Size([3, 2])
"""

from hybridqml.torchsim.adjoint import AdjointExpectation
from hybridqml.torchsim.executor import TorchExecutor
from hybridqml.torchsim.simulator import TorchSimulator

__all__ = ["AdjointExpectation", "TorchExecutor", "TorchSimulator"]
