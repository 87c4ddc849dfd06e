"""Datasets for the workflows (moved into a package; split into modules in the next commit)."""

from hybridqml.data import mnist as _mnist
from hybridqml.data.mnist import *  # noqa: F403

__all__ = list(_mnist.__all__)
