"""A torch-native exact statevector simulator for quantum layers (``backend="torch"``).

A :class:`~hybridqml.backends.torchsim.simulator.TorchSimulator` compiles a Qiskit circuit once
(:mod:`~hybridqml.backends.torchsim.compiler`) into batched tensor operations on a (B, 2^n)
statevector and evaluates Pauli-sum observables (:mod:`~hybridqml.backends.torchsim.observables`)
from one state. Gradients: torch autograd through the simulation (``"backprop"``), a memory-light
reverse pass (:class:`~hybridqml.backends.torchsim.adjoint.AdjointExpectation`, ``"adjoint"``),
both through :class:`~hybridqml.backends.torchsim.executor.TorchNativeExecutor`, or the
parameter-shift rule through :class:`~hybridqml.backends.torchsim.executor.TorchExecutor`.

Example:
    >>> import torch, hybridqml as hq
    >>> layer = hq.QuantumLayer(hq.circuits.variational(2, 1), backend="torch")
    >>> layer(torch.rand(3, 2)).shape
    torch.Size([3, 2])
"""

from hybridqml.backends.torchsim.adjoint import AdjointExpectation
from hybridqml.backends.torchsim.executor import TorchExecutor, TorchNativeExecutor
from hybridqml.backends.torchsim.simulator import TorchSimulator

__all__ = ["AdjointExpectation", "TorchExecutor", "TorchNativeExecutor", "TorchSimulator"]
