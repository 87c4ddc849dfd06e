"""hybridqml: hybrid quantum-classical machine learning on Qiskit and PyTorch.

Example:
    >>> import torch, hybridqml as hq
    >>> spec = hq.circuits.variational(n_qubits=2, layers=1)
    >>> layer = hq.QuantumLayer(spec, backend="aer")
    >>> layer(torch.rand(3, 2)).shape
    torch.Size([3, 2])
"""

from hybridqml import (
    analysis,
    circuits,
    data,
    entropy,
    exceptions,
    gradients,
    models,
    noise,
    plotting,
    torchsim,
    tracking,
    training,
)
from hybridqml._version import __version__
from hybridqml.autograd import QuantumFunction
from hybridqml.circuits import ParameterizedCircuit
from hybridqml.engine import CircuitEngine
from hybridqml.exceptions import (
    BackendError,
    CircuitError,
    ConfigurationError,
    DataError,
    EntropyError,
    GradientError,
    HealthTestError,
    HybridQMLError,
    InputError,
    QRNGError,
)
from hybridqml.layers import QuantumLayer
from hybridqml.torchsim import TorchSimulator

__all__ = [
    "BackendError",
    "CircuitEngine",
    "CircuitError",
    "ConfigurationError",
    "DataError",
    "EntropyError",
    "GradientError",
    "HealthTestError",
    "HybridQMLError",
    "InputError",
    "ParameterizedCircuit",
    "QRNGError",
    "QuantumFunction",
    "QuantumLayer",
    "TorchSimulator",
    "__version__",
    "analysis",
    "circuits",
    "data",
    "entropy",
    "exceptions",
    "gradients",
    "models",
    "noise",
    "plotting",
    "torchsim",
    "tracking",
    "training",
]
