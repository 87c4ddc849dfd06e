"""The workflow registry: every workflow ``hybridqml train`` and ``hybridqml demo`` know.

:func:`estimate_cost` finds a workflow by name (or by its config) and estimates a run of it.

Workflows are listed by module; each module defines ``WORKFLOW``, its
:class:`~hybridqml.workflows.Workflow` descriptor. Modules are imported on first use, so
importing this registry loads no workflow (and no torch).

Example:
    >>> workflow_names()
    ('textbook', 'noisy-mlp', 'qnn', 'gan')
"""

from __future__ import annotations

import importlib
from typing import Any, Final

from hybridqml.exceptions import ConfigurationError
from hybridqml.workflows._base import Workflow

__all__ = [
    "WORKFLOW_MODULES",
    "estimate_cost",
    "get_workflow",
    "register_workflow",
    "workflow_names",
    "workflows",
]

WORKFLOW_MODULES: Final[dict[str, str]] = {
    "textbook": "hybridqml.workflows._textbook",
    "noisy-mlp": "hybridqml.workflows._noisy_mlp",
    "qnn": "hybridqml.workflows._qnn",
    "gan": "hybridqml.workflows._gan",
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


def _workflow_of(config: Any) -> Workflow:
    for workflow in workflows():
        if isinstance(config, workflow.config):
            return workflow
    raise ConfigurationError(f"{type(config).__name__} is not the config of a registered workflow")


def estimate_cost(workflow: Any, /, **settings: Any) -> Any:
    """Count what a workflow run will send, without sending anything (a dry run).

    The workflow's train function runs on a copy of the config with at most two epochs, in a
    temporary folder, inside :func:`hybridqml.execution.dry_run`
    (:func:`hybridqml.runs.estimate_run`).

    Args:
        workflow: A workflow name (``"textbook"``, ``"qnn"``, ...) with its config settings as
            keyword arguments, or a workflow config (then no settings).
        **settings: Config settings (``out_dir`` may be left out: nothing is written there).

    Returns:
        The :class:`~hybridqml.runs.CostEstimate`; ``print(estimate.format())`` shows it.

    Raises:
        ConfigurationError: unknown workflow or invalid settings.

    Example:
        >>> est = estimate_cost("qnn", n_samples=48, epochs=3, shots=100, progress=False)
        >>> est.total.calls == est.before.calls + 3 * est.per_epoch.calls + est.after.calls
        True
        >>> sorted(est.per_epoch_by_kind)
        ['forward', 'parameter-shift']
    """
    from hybridqml.runs import estimate_run

    if isinstance(workflow, str):
        wf = get_workflow(workflow)
        config = wf.make_config(**({"out_dir": "."} | settings))
    else:
        if settings:
            raise ConfigurationError("pass either a workflow config or a name with settings")
        config, wf = workflow, _workflow_of(workflow)
    return estimate_run(config, wf.train, workflow=wf.name)
