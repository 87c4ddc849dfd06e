"""Old name of :mod:`hybridqml.workflows`, kept importable for now.

``hybridqml.models.X`` is ``hybridqml.workflows.X``: the same objects, and
``import hybridqml.models.textbook`` (or ``.gan``, ``.common`` for ``runs``, ...) gives the module
of the new layout. Importing this package warns with a ``DeprecationWarning``; use
``hybridqml.workflows``.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

from hybridqml import workflows as _workflows

warnings.warn(
    "hybridqml.models is the old name of hybridqml.workflows; import hybridqml.workflows",
    DeprecationWarning,
    stacklevel=2,
)

_SUBMODULES = {
    "textbook": "textbook",
    "noisy_mlp": "noisy_mlp",
    "qnn": "qnn",
    "gan": "gan",
    "gan_metrics": "gan_metrics",
    "common": "runs",
}
for _old, _new in _SUBMODULES.items():
    sys.modules.setdefault(
        f"{__name__}.{_old}", importlib.import_module(f"hybridqml.workflows.{_new}")
    )
sys.modules.setdefault(f"{__name__}.cli", importlib.import_module("hybridqml.cli.train"))

__all__ = list(_workflows.__all__)


def __getattr__(name: str) -> Any:
    return getattr(_workflows, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
