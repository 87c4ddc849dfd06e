"""The workflow registry: every workflow ``hybridqml train`` and ``hybridqml demo`` know.

Workflows are listed by module; each module defines ``WORKFLOW``, its
:class:`~hybridqml.workflows.base.Workflow` descriptor. Modules are imported on first use, so
importing this registry loads no workflow (and no torch).

Example:
    >>> workflow_names()
    ('textbook', 'noisy-mlp', 'qnn', 'gan')
"""

from __future__ import annotations

import importlib
from typing import Final

from hybridqml.exceptions import ConfigurationError
from hybridqml.workflows.base import Workflow

__all__ = ["WORKFLOW_MODULES", "get_workflow", "register_workflow", "workflow_names", "workflows"]

WORKFLOW_MODULES: Final[dict[str, str]] = {
    "textbook": "hybridqml.workflows.textbook",
    "noisy-mlp": "hybridqml.workflows.noisy_mlp",
    "qnn": "hybridqml.workflows.qnn",
    "gan": "hybridqml.workflows.gan",
}
"""Workflow name -> the module defining its ``WORKFLOW`` descriptor (command order)."""

_loaded: dict[str, Workflow] = {}


def workflow_names() -> tuple[str, ...]:
    """Names of the registered workflows, in command order (nothing imported)."""
    return tuple(WORKFLOW_MODULES)


def get_workflow(name: str) -> Workflow:
    """The descriptor of workflow ``name`` (its module is imported on first use).

    Raises:
        ConfigurationError: no workflow has that name (the message lists them).
    """
    if name not in _loaded:
        if name not in WORKFLOW_MODULES:
            raise ConfigurationError(
                f"unknown workflow {name!r}; choose one of {', '.join(WORKFLOW_MODULES)}"
            )
        workflow = importlib.import_module(WORKFLOW_MODULES[name]).WORKFLOW
        if workflow.name != name:
            raise ConfigurationError(
                f"{WORKFLOW_MODULES[name]}.WORKFLOW is named {workflow.name!r}, not {name!r}"
            )
        _loaded[name] = workflow
    return _loaded[name]


def workflows() -> tuple[Workflow, ...]:
    """Every registered workflow's descriptor, in command order."""
    return tuple(get_workflow(name) for name in WORKFLOW_MODULES)


def register_workflow(name: str, module: str) -> None:
    """Register a workflow defined (as ``WORKFLOW``) in ``module``.

    Raises:
        ConfigurationError: a workflow of that name is registered already.
    """
    if name in WORKFLOW_MODULES:
        raise ConfigurationError(f"a workflow named {name!r} is registered already")
    WORKFLOW_MODULES[name] = module
