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

from hybridqml import exceptions
from hybridqml._lazy import attach
from hybridqml._version import __version__ as __version__
from hybridqml.exceptions import *  # noqa: F403  (the whole tree, as exceptions.__all__ lists it)

#: Subpackages and modules loaded on first attribute access.
_MODULES = (
    "analysis",
    "backends",
    "circuits",
    "data",
    "entropy",
    "execution",
    "gradients",
    "hardware",
    "mitigation",
    "nn",
    "plotting",
    "runs",
    "testing",
    "training",
    "workflows",
)
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

#: Every error of the tree, the classes above, and the subpackages users import.
__all__ = sorted(
    [
        *exceptions.__all__,
        *_NAMES,
        "__version__",
        "exceptions",
        *_MODULES,
    ]
)

__getattr__, __dir__ = attach(__name__, _NAMES, submodules=_MODULES)
