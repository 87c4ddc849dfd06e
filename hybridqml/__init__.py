"""hybridqml: hybrid quantum-classical machine learning on Qiskit and PyTorch."""

from hybridqml._version import __version__
from hybridqml.exceptions import HybridQMLError

__all__ = ["HybridQMLError", "__version__"]
