"""Names of a package loaded on first access (PEP 562), as scientific Python's ``lazy_loader`` does.

A package whose import must stay light (``import hybridqml`` and ``import hybridqml.runs`` load
neither torch nor qiskit) says which module defines each of its public names and gets its module
``__getattr__`` and ``__dir__`` from :func:`attach`. A name is imported when it is first asked
for, then kept in the package's namespace so later accesses skip ``__getattr__``.

This module imports nothing of hybridqml's.

Example:
    >>> import types
    >>> package = types.ModuleType("demo")
    >>> package.__getattr__, package.__dir__ = attach("demo", {"dumps": "json"})
    >>> import sys; sys.modules["demo"] = package
    >>> package.dumps([1])
    '[1]'
    >>> "dumps" in vars(package)
    True
    >>> del sys.modules["demo"]
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, names: Mapping[str, str], *, submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names load on first access.

    Args:
        package: The package's ``__name__``.
        names: Public name -> the module defining it (imported when the name is first asked for).
        submodules: Submodules of ``package`` loaded on first access as attributes
            (``hybridqml.nn`` for ``"nn"``).

    Returns:
        ``(__getattr__, __dir__)``; ``__dir__`` lists the package's namespace and its
        ``__all__``.
    """
    names = dict(names)
    modules = {name: f"{package}.{name}" for name in submodules}

    def __getattr__(name: str) -> Any:
        if name in modules:
            value = importlib.import_module(modules[name])
        elif name in names:
            value = getattr(importlib.import_module(names[name]), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        vars(sys.modules[package])[name] = value  # later accesses skip this function
        return value

    def __dir__() -> list[str]:
        namespace = vars(sys.modules[package])
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
