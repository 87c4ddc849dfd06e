"""Module names of the first, flat layout, kept importable as aliases of their new homes.

``import hybridqml.layers`` (or ``tracking``, ``torchsim``, ``noise``, ``engine``, ``autograd``,
``devices``, ``aer_estimator``, ``aer_sampler``, and ``hybridqml.entropy.cli``, now
``hybridqml.cli.entropy``) gives the module of the new layout, with a
``DeprecationWarning`` naming it. Layers pickled whole with the first layout unpickle through
these aliases too. The finder only answers for the names below, and imports nothing until one
of them is imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Final

__all__ = ["MOVED", "install"]

MOVED: Final[dict[str, str]] = {
    "hybridqml.aer_estimator": "hybridqml.backends.aer.estimator",
    "hybridqml.aer_sampler": "hybridqml.backends.aer.born",
    "hybridqml.autograd": "hybridqml.nn.function",
    "hybridqml.devices": "hybridqml.hardware.devices",
    "hybridqml.engine": "hybridqml.nn.engine",
    "hybridqml.entropy.cli": "hybridqml.cli.entropy",
    "hybridqml.layers": "hybridqml.nn.layers",
    "hybridqml.noise": "hybridqml.nn.entropy_noise",
    "hybridqml.torchsim": "hybridqml.backends.torchsim",
    "hybridqml.tracking": "hybridqml.execution.tracking",
}
"""Old module name -> its new home (submodules of a moved package follow it)."""


def _new_name(fullname: str) -> str | None:
    for old, new in MOVED.items():
        if fullname == old or fullname.startswith(old + "."):
            return new + fullname[len(old) :]
    return None


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.new}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """The new module is already executed."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = _new_name(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())  # before the path finder: no second copies
