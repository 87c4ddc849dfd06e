"""The one map from a source name to an entropy source, filled from entry points.

Every source selectable by name (hybridqml's own and any installed package's) is declared as an
entry point of the group :data:`ENTRY_POINT_GROUP` whose object is a :class:`SourceEntry`::

    [project.entry-points."hybridqml.entropy_sources"]
    dice = "my_package.dice:DICE"      # DICE = SourceEntry(factory=..., help=...)

The group is read once, on the first lookup (importing :mod:`hybridqml.entropy` reads nothing).
:func:`register_source` and :func:`unregister_source` change the table at run time. Every place
that selects a source by name (``hybridqml entropy``, :class:`~hybridqml.entropy.EntropySettings`,
:class:`~hybridqml.entropy.EntropyStream`) looks it up here.

Example:
    >>> lookup("fake_manila")[0], lookup("prng")[1].seeded
    ('fake_<device>', True)
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, distributions
from typing import Any, Final

from hybridqml.exceptions import ConfigurationError

__all__ = [
    "ENTRY_POINT_GROUP",
    "SourceEntry",
    "lookup",
    "register_source",
    "source_help",
    "source_names",
    "unregister_source",
]

ENTRY_POINT_GROUP: Final[str] = "hybridqml.entropy_sources"
"""Entry-point group whose objects are :class:`SourceEntry` s, one per source name."""

SourceFactory = Callable[..., Any]
"""``factory(settings, *, name, seed) -> EntropySource`` (see :class:`SourceEntry`)."""


@dataclass(frozen=True, kw_only=True)
class SourceEntry:
    """How to build one selectable source, and what callers need to know about it.

    Attributes:
        factory: ``factory(settings, *, name, seed) -> EntropySource``: ``settings`` is an
            :class:`~hybridqml.entropy.EntropySettings` (the factory reads the fields it
            uses), ``name`` the name it was selected by (``"fake_manila"`` for a prefix entry)
            and ``seed`` an int or ``None``.
        help: One line for ``--help``.
        seeded: The bytes are reproducible from ``seed``; a stream reseeds such a source per
            epoch and records ``seeded`` in its provenance.
        fallback: May replace a failed source (local sources that need no service).
        workflows: Workflows offer it as ``--entropy``.
        prefix: Names starting with this select the entry (``"fake_"``); ``None``: the
            entry-point name only.
        required: :class:`~hybridqml.entropy.EntropySettings` fields that must be set.

    Example:
        >>> from hybridqml.entropy import OSSource
        >>> SourceEntry(factory=lambda settings, **_: OSSource(), help="the OS CSPRNG").seeded
        False
    """

    factory: SourceFactory
    help: str
    seeded: bool = False
    fallback: bool = False
    workflows: bool = True
    prefix: str | None = None
    required: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not callable(self.factory):
            raise ConfigurationError(f"SourceEntry.factory must be callable: {self.factory!r}")


_lock = threading.RLock()
_BUILTIN_PREFIX = "hybridqml."  # hybridqml's own entry points name modules of this package
_table: dict[str, SourceEntry] | None = None  # None until the entry points are read


def _discover() -> dict[str, SourceEntry]:
    """Every entry point of the group, loaded; a broken third-party one is warned about.

    Every installed distribution's metadata is read, not only the first of each name: a stale
    ``hybridqml.egg-info`` left in a source checkout by an editable install would otherwise
    hide the entry points of the installed metadata. hybridqml's own entry wins its name; among
    plugins, the first that loads (by module path) wins, and the others are warned about.
    """
    candidates: dict[str, list[EntryPoint]] = {}
    for dist in distributions():
        for point in dist.entry_points.select(group=ENTRY_POINT_GROUP):
            if point not in candidates.setdefault(point.name, []):
                candidates[point.name].append(point)
    found: dict[str, SourceEntry] = {}
    for name, points in sorted(candidates.items()):
        # hybridqml's own entry first: a plugin cannot silently replace a built-in source
        points.sort(key=lambda p: (not p.value.startswith(_BUILTIN_PREFIX), p.value))
        problems: list[str] = []
        winner: EntryPoint | None = None
        for point in points:
            if winner is not None:
                problems.append(f"{point.value} also declares it and is ignored ({winner.value})")
                continue
            try:
                entry = point.load()
            except Exception as exc:
                problems.append(f"{point.value}: {type(exc).__name__}: {exc}")
                continue
            if isinstance(entry, SourceEntry):
                found[name], winner = entry, point
            else:
                problems.append(f"{point.value} is a {type(entry).__name__}, not a SourceEntry")
        if problems:
            left_out = "is left out" if winner is None else "keeps its first declaration"
            warnings.warn(
                f"entropy source {name!r} {left_out}: {'; '.join(problems)}",
                RuntimeWarning,
                stacklevel=2,
            )
    if not found:
        raise ConfigurationError(
            f"no entropy sources are registered (entry-point group {ENTRY_POINT_GROUP!r}): "
            "install hybridqml (pip install -e .) so its package metadata exists"
        )
    return found


def _entries() -> dict[str, SourceEntry]:
    global _table
    with _lock:
        if _table is None:
            _table = _discover()
        return _table


def register_source(name: str, entry: SourceEntry, *, replace: bool = False) -> None:
    """Make ``entry`` selectable as ``name`` (for this process).

    Args:
        name: The name users type (for a prefix entry: the name ``--help`` lists, such as
            ``"fake_<device>"``).
        entry: How to build the source.
        replace: Replace an entry already registered under ``name``.

    Raises:
        ConfigurationError: ``name`` is taken (and ``replace`` is false), empty, or ``entry``
            is not a :class:`SourceEntry`.

    Example:
        >>> from hybridqml.entropy import PRNGSource, make_source
        >>> register_source("dice", SourceEntry(factory=lambda s, *, name, seed: PRNGSource(seed),
        ...                                     help="a seeded die", seeded=True))
        >>> make_source("dice", seed=1).kind
        'pseudo'
        >>> unregister_source("dice").help
        'a seeded die'
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"a source name must be a non-empty str, got {name!r}")
    if not isinstance(entry, SourceEntry):
        raise ConfigurationError(f"register_source needs a SourceEntry, got {type(entry).__name__}")
    with _lock:
        table = _entries()
        if name in table and not replace:
            raise ConfigurationError(
                f"entropy source {name!r} is already registered (pass replace=True)"
            )
        table[name] = entry


def unregister_source(name: str) -> SourceEntry:
    """Remove the source ``name`` (for this process) and return its entry.

    Raises:
        ConfigurationError: No source is registered under ``name``.
    """
    with _lock:
        table = _entries()
        if name not in table:
            raise ConfigurationError(f"no entropy source {name!r} is registered")
        return table.pop(name)


def source_names(*, workflows: bool = False, fallback: bool = False) -> tuple[str, ...]:
    """Names (patterns for prefix entries) of the registered sources, sorted.

    Args:
        workflows: Only sources workflows offer.
        fallback: Only sources that may replace a failed one.

    Example:
        >>> source_names(fallback=True)
        ('aer', 'os', 'prng')
    """
    return tuple(
        name
        for name, entry in sorted(_entries().items())
        if (entry.workflows or not workflows) and (entry.fallback or not fallback)
    )


def lookup(name: str) -> tuple[str, SourceEntry]:
    """The registered name and entry selected by ``name`` (exact, or prefix + anything).

    Raises:
        ConfigurationError: No entry matches.
    """
    table = _entries()
    if isinstance(name, str):
        entry = table.get(name)
        if entry is not None and entry.prefix is None:
            return name, entry
        for key, entry in sorted(table.items()):
            if entry.prefix is not None and name.startswith(entry.prefix):
                return key, entry
    raise ConfigurationError(f"unknown source {name!r}; choose one of {', '.join(source_names())}")


def source_help(*, workflows: bool = False) -> str:
    """``name: help; ...`` for a ``--help`` line.

    Example:
        >>> source_help().split("; ")[0]
        'aer: Hadamard bits measured on Aer (simulated quantum, seeded)'
    """
    return "; ".join(
        f"{name}: {entry.help}"
        for name, entry in sorted(_entries().items())
        if entry.workflows or not workflows
    )
