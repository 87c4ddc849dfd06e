"""A torch-native exact statevector simulator for quantum layers (``backend="torch"``).

A :class:`~hybridqml.backends.torchsim.TorchSimulator` compiles a Qiskit circuit once
(``_compiler``) into batched tensor operations on a (B, 2^n)
statevector and evaluates Pauli-sum observables (``_observables``)
from one state. Gradients: torch autograd through the simulation (``"backprop"``), a memory-light
reverse pass (:class:`~hybridqml.backends.torchsim.AdjointExpectation`, ``"adjoint"``),
both through :class:`~hybridqml.backends.torchsim.TorchNativeExecutor`, or the
parameter-shift rule through :class:`~hybridqml.backends.torchsim.TorchExecutor`.

Example:
    >>> import torch, hybridqml as hq
    >>> layer = hq.QuantumLayer(hq.circuits.variational(2, 1), backend="torch")
    >>> layer(torch.rand(3, 2)).shape
    torch.Size([3, 2])
"""

from hybridqml.backends.torchsim._adjoint import AdjointExpectation
from hybridqml.backends.torchsim._executor import TorchExecutor, TorchNativeExecutor
from hybridqml.backends.torchsim._simulator import TorchSimulator

__all__ = ["AdjointExpectation", "TorchExecutor", "TorchNativeExecutor", "TorchSimulator"]
