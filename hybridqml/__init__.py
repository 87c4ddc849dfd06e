"""hybridqml: hybrid quantum-classical machine learning on Qiskit and PyTorch.

The package tree is the pipeline, bottom to top: :mod:`~hybridqml.circuits` ->
:mod:`~hybridqml.gradients` -> :mod:`~hybridqml.execution` (the executor contract, capabilities,
the backend registry) -> :mod:`~hybridqml.hardware` -> :mod:`~hybridqml.backends` (independent
plugin families) -> :mod:`~hybridqml.entropy` -> :mod:`~hybridqml.nn` -> :mod:`~hybridqml.data`,
:mod:`~hybridqml.plotting`, :mod:`~hybridqml.analysis`, :mod:`~hybridqml.testing` ->
:mod:`~hybridqml.runs` -> :mod:`~hybridqml.training` -> :mod:`~hybridqml.workflows` -> ``cli``.
Internal modules are private (``_name``); each package's ``__all__`` is its public API.
``import hybridqml`` loads only the exception tree; subpackages and the names below load on first
use.

Example:
    >>> import torch, hybridqml as hq
    >>> spec = hq.circuits.variational(n_qubits=2, layers=1)
    >>> layer = hq.QuantumLayer(spec, backend="aer")
    >>> layer(torch.rand(3, 2)).shape
    torch.Size([3, 2])
"""

from __future__ import annotations

import importlib
from typing import Any

from hybridqml._version import __version__
from hybridqml.exceptions import (
    BackendError,
    BudgetExceededError,
    CheckpointError,
    CircuitError,
    ConfigurationError,
    DataError,
    DistributedError,
    DivergenceError,
    EntropyError,
    GradientError,
    HealthTestError,
    HybridQMLError,
    InputError,
    JobFailedError,
    MissingDependencyError,
    QRNGError,
)

#: Subpackages and modules loaded on first attribute access (name -> module path).
_MODULES = {
    name: f"hybridqml.{name}"
    for name in (
        "analysis",
        "backends",
        "circuits",
        "data",
        "entropy",
        "execution",
        "gradients",
        "hardware",
        "nn",
        "plotting",
        "runs",
        "testing",
        "training",
        "workflows",
    )
}
#: Public classes loaded on first access (name -> defining module).
_NAMES = {
    "CircuitEngine": "hybridqml.nn._engine",
    "ParameterizedCircuit": "hybridqml.circuits._spec",
    "QuantumFunction": "hybridqml.nn._function",
    "QuantumLayer": "hybridqml.nn._layers",
    "SamplerLayer": "hybridqml.nn._sampler_layer",
    "from_qiskit_ml": "hybridqml.nn._porting",
    "TorchSimulator": "hybridqml.backends.torchsim._simulator",
    "Tracker": "hybridqml.execution._tracking",
    "estimate_cost": "hybridqml.workflows._registry",
}

__all__ = [
    "BackendError",
    "BudgetExceededError",
    "CheckpointError",
    "CircuitEngine",
    "CircuitError",
    "ConfigurationError",
    "DataError",
    "DistributedError",
    "DivergenceError",
    "EntropyError",
    "GradientError",
    "HealthTestError",
    "HybridQMLError",
    "InputError",
    "JobFailedError",
    "MissingDependencyError",
    "ParameterizedCircuit",
    "QRNGError",
    "QuantumFunction",
    "QuantumLayer",
    "SamplerLayer",
    "TorchSimulator",
    "Tracker",
    "__version__",
    "analysis",
    "backends",
    "circuits",
    "data",
    "entropy",
    "estimate_cost",
    "exceptions",
    "execution",
    "from_qiskit_ml",
    "gradients",
    "hardware",
    "nn",
    "plotting",
    "runs",
    "testing",
    "training",
    "workflows",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    else:
        raise AttributeError(f"module 'hybridqml' has no attribute {name!r}")
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
