"""Old home of the QRNG client: now :mod:`hybridqml.entropy.sources.qrng` (re-exported)."""

from hybridqml.entropy.sources.qrng import *  # noqa: F403
from hybridqml.entropy.sources.qrng import __all__  # noqa: F401
