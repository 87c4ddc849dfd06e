"""The shared training loop (moved into a package; split into modules in the next commit)."""

from hybridqml.training import loop as _loop
from hybridqml.training.loop import *  # noqa: F403

__all__ = list(_loop.__all__)
