"""What a workflow is to the rest of the package: a :class:`Workflow` descriptor.

A descriptor names a workflow, its config class and train function, which groups of shared
settings it has (its :attr:`~Workflow.traits`), its own command-line options, the headline
numbers of a result, its ``hybridqml demo`` settings, and the config fields a resumed run may
change. ``hybridqml train``, ``hybridqml demo`` and the docs are generated from the descriptors
in :mod:`hybridqml.workflows.registry`; a new workflow is one module defining ``WORKFLOW`` plus
one registry entry.

Example:
    >>> from hybridqml.workflows.registry import get_workflow
    >>> wf = get_workflow("qnn")
    >>> wf.config.__name__, sorted(wf.traits)
    ('QNNConfig', ['quantum'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

__all__ = ["RESUME_MUTABLE_FIELDS", "SHARED_OPTIONS", "TRAITS", "Option", "Workflow"]


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
    kwargs: Mapping[str, Any] = field(default_factory=dict)


RESUME_MUTABLE_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "epochs",  # the new total: resuming with more epochs extends the run
        "resume",  # the resume switch itself
        "overwrite",  # replace an earlier run in out_dir instead of refusing (never with resume)
        "progress",  # progress bars only
        "out_dir",  # where the checkpoint is (any spelling of the folder)
        "data_dir",  # any spelling; the data themselves are compared by fingerprint
        "download",  # only allows fetching missing files; the loaded data are fingerprinted
        "entropy.qrng_retries",  # how often a failed QRNG request is retried, not its bytes
        "checkpoint_every",  # how often the state is saved, not what it is
        "max_shots",  # budgets stop a run, they do not change its steps
        "max_qpu_seconds",
    }
)
"""Config fields (dotted for nested settings) any workflow's resumed run may change.

A workflow adds its own in its descriptor
(:attr:`~hybridqml.workflows.base.Workflow.resume_mutable`, e.g. the GAN's ``grid_every``).

Every other field of a workflow config affects the results and must be repeated unchanged
(seed, lr, batch size, dataset, digits, limit, validation fraction, backend, shots,
backend_options as a whole, noise settings, the whole entropy setting except the retry count,
GAN sizes and classifier epochs, ...); :func:`resume_settings` records them in every checkpoint.
"""

TRAITS: Final[tuple[str, ...]] = ("mnist", "quantum", "entropy")
"""Groups of shared settings: MNIST-like image data, a quantum backend, an entropy source."""

SHARED_OPTIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "run": (
            "out_dir",
            "epochs",
            "seed",
            "resume",
            "overwrite",
            "batch_size",
            "lr",
            "progress",
            "checkpoint_every",
        ),
        "mnist": ("data_dir", "download", "dataset", "limit_per_class"),
        "quantum": ("backend", "shots", "backend_options", "max_shots", "max_qpu_seconds"),
        "entropy": ("entropy",),
    }
)
"""Config fields every workflow with a trait has (``run``: every workflow)."""


@dataclass(frozen=True)
class Workflow:
    """A workflow as the CLI, the demo and the docs see it.

    Attributes:
        name: Command name (``hybridqml train <name>``).
        help: One line for ``--help``.
        config: The frozen config dataclass (it has the fields of :data:`SHARED_OPTIONS` for
            ``"run"`` and for each trait).
        train: ``train(config) -> result``.
        traits: Subset of :data:`TRAITS`.
        options: Workflow-specific command-line options.
        summary: ``summary(result) -> str``, the line ``hybridqml train`` prints.
        headline: ``headline(result) -> dict``, the numbers ``hybridqml demo`` records.
        demo: Config overrides of the small ``hybridqml demo`` run (data and entropy settings
            are added by the demo for the traits that need them).
        quick_demo: Overrides on top of ``demo`` for ``hybridqml demo --quick``, a smoke test of
            a few seconds per workflow (the test suite runs it; its numbers mean nothing).
        resume_mutable: Fields of this workflow's config (besides
            :data:`RESUME_MUTABLE_FIELDS`) a resumed run may change.
    """

    name: str
    help: str
    config: type
    train: Callable[[Any], Any]
    traits: frozenset[str]
    summary: Callable[[Any], str]
    headline: Callable[[Any], dict[str, Any]]
    options: tuple[Option, ...] = ()
    demo: Mapping[str, Any] = field(default_factory=dict)
    quick_demo: Mapping[str, Any] = field(default_factory=dict)
    resume_mutable: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
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
