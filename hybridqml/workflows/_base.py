"""What a workflow is to the rest of the package: a :class:`Workflow` descriptor.

A descriptor names a workflow, its config class and train function, which groups of shared
settings it has (its :attr:`~Workflow.traits`), its own command-line options, the headline
numbers of a result, its ``hybridqml demo`` settings, and the config fields a resumed run may
change. ``hybridqml train``, ``hybridqml demo`` and the docs are generated from the descriptors
in ``hybridqml.workflows._registry``; a new workflow is one module defining ``WORKFLOW`` plus
one registry entry (its config extends :class:`~hybridqml.runs.RunConfig`, its train function is
usually a :class:`~hybridqml.workflows.Trainer`).

Example:
    >>> from hybridqml.workflows._registry import get_workflow
    >>> wf = get_workflow("qnn")
    >>> wf.config.__name__, sorted(wf.traits)
    ('QNNConfig', ['quantum'])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from hybridqml.runs import RESUME_MUTABLE_FIELDS, TRAIT_CONFIGS, trait_fields

__all__ = ["SHARED_OPTIONS", "TRAITS", "Option", "Workflow"]


@dataclass(frozen=True)
class Option:
    """One command-line option that sets one config field.

    Attributes:
        flag: The option, e.g. ``"--noise-std"``.
        field: The config field it sets, e.g. ``"noise_std"``.
        kwargs: ``argparse`` keyword arguments (``type``, ``help``, ``action``, ``choices``...).
            Without an explicit ``default`` the option is left out when not given, so the
            config's own default applies.
    """

    flag: str
    field: str
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


TRAITS: Final[tuple[str, ...]] = tuple(TRAIT_CONFIGS)
"""Groups of shared settings: MNIST-like image data, a quantum backend, an entropy source."""

SHARED_OPTIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {trait: trait_fields(trait) for trait in ("run", *TRAITS)}
)
"""Config fields every workflow with a trait has (``run``: every workflow), read from
:class:`~hybridqml.runs.RunConfig` and the trait configs (:data:`~hybridqml.runs.TRAIT_CONFIGS`)."""


@dataclass(frozen=True)
class Workflow:
    """A workflow as the CLI, the demo and the docs see it.

    Attributes:
        name: Command name (``hybridqml train <name>``).
        help: One line for ``--help``.
        config: The frozen config dataclass (it has the fields of :data:`SHARED_OPTIONS` for
            ``"run"`` and for each trait).
        train: ``train(config) -> result``.
        traits: Subset of :data:`TRAITS`; by default those whose config
            (:data:`~hybridqml.runs.TRAIT_CONFIGS`) ``config`` extends.
        options: Workflow-specific command-line options.
        summary: ``summary(result) -> str``, the line ``hybridqml train`` prints.
        headline: ``headline(result) -> dict``, the numbers ``hybridqml demo`` records.
        demo: Config overrides of the small ``hybridqml demo`` run (data and entropy settings
            are added by the demo for the traits that need them).
        quick_demo: Overrides on top of ``demo`` for ``hybridqml demo --quick``, a smoke test of
            a few seconds per workflow (the test suite runs it; its numbers mean nothing).
        resume_mutable: Fields of this workflow's config (besides
            :data:`~hybridqml.runs.RESUME_MUTABLE_FIELDS`) a resumed run may change.
    """

    name: str
    help: str
    config: type
    train: Callable[[Any], Any]
    summary: Callable[[Any], str]
    headline: Callable[[Any], dict[str, Any]]
    traits: frozenset[str] = None  # type: ignore[assignment]  # derived from config if None
    options: tuple[Option, ...] = ()
    demo: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    quick_demo: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    resume_mutable: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.traits is None:
            derived = (t for t, cls in TRAIT_CONFIGS.items() if issubclass(self.config, cls))
            object.__setattr__(self, "traits", frozenset(derived))
        unknown = set(self.traits) - set(TRAITS)
        if unknown:
            raise ValueError(f"workflow {self.name!r}: unknown traits {sorted(unknown)}")

    @property
    def all_resume_mutable(self) -> frozenset[str]:
        """Every config field a resumed run of this workflow may change."""
        return RESUME_MUTABLE_FIELDS | self.resume_mutable

    def make_config(self, **settings: Any) -> Any:
        """The config with ``settings`` (the config validates them)."""
        return self.config(**settings)
