"""Old home of the Hadamard source: now :mod:`hybridqml.entropy.sources.hadamard` (re-exported)."""

from hybridqml.entropy.sources.hadamard import *  # noqa: F403
from hybridqml.entropy.sources.hadamard import __all__  # noqa: F401
