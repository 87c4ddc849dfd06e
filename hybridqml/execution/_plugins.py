"""The table of backend kinds: entry-point discovery and run-time registration.

Backends are plugins, found through the ``hybridqml.backends`` entry-point group, as PennyLane
finds its devices. Each entry point names a :class:`BackendEntry` (or a list of them: one family
of backends, or a function returning either); hybridqml's own families (``torch``, ``aer``,
``mixed``, ``primitives``) are declared the same way in its ``pyproject.toml``. The group is read
once, the first time a spec is resolved, from every installed distribution: hybridqml's own
families first, then plugins in entry-point name order. A plugin that cannot be imported, or that
claims a name already taken (a built-in always keeps its name), is left out whole with a
``RuntimeWarning``, and asking for its backend says why. :func:`register_backend` and
:func:`unregister_backend` add and remove entries at run time (notebooks, tests).

Each entry says which specs it handles (``matches(spec, options)``: the ``backend_options`` may
decide too, as ``"aer"`` with a ``noise_model`` goes to the noisy simulator), what it can do
(:class:`~hybridqml.execution.Capabilities`), how it builds the
:class:`~hybridqml.execution.Executor` of shift-rule gradients (``build``) and, for
backends whose gradients torch computes, the :class:`~hybridqml.execution.NativeExecutor`
(``build_native``). Entries are tried by ``priority`` (highest first; a catch-all such as "any
``BackendV2``" has a negative one), then in registration order.

A third-party backend is one module and one entry point, no edit of hybridqml::

    # mysim/hybridqml_backend.py
    from hybridqml.execution import BackendEntry, Capabilities, Executor

    class MyExecutor(Executor):
        def __init__(self, request):
            super().__init__(request.shiftable, name="mysim", shots=request.shots)

        def _run(self, angles):            # (M, K) occurrence angles -> (M, O) values
            ...

    ENTRY = BackendEntry(
        name="mysim",                      # backend="mysim"
        build=lambda spec, request: MyExecutor(request),
        capabilities=Capabilities(exact=True, shots=False),
        help="my simulator",
    )

    # pyproject.toml of mysim
    [project.entry-points."hybridqml.backends"]
    mysim = "mysim.hybridqml_backend:ENTRY"
"""

from __future__ import annotations

import importlib.metadata
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._capabilities import Capabilities
from hybridqml.execution._executor import BackendRequest, Executor, NativeExecutor

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackendEntry",
    "register_backend",
    "registered_backends",
    "unregister_backend",
]

ENTRY_POINT_GROUP: Final[str] = "hybridqml.backends"
"""The entry-point group backend plugins declare themselves in."""

NativeFactory = Callable[[ParameterizedCircuit, str, int | None, Mapping[str, Any]], NativeExecutor]


@dataclass(frozen=True)
class BackendEntry:
    """One kind of backend spec, what it can do, and how to build its executors.

    Attributes:
        name: How users name it (``"aer"``, ``"fake_<device>"``, ``"a BackendV2"``...): the
            spec itself for a plain name, else a description for help texts and errors.
        build: ``build(spec, request)`` -> the executor of shift-rule gradients, given the
            validated :class:`~hybridqml.execution.BackendRequest`.
        matches: ``matches(spec, options)``: whether this entry handles a spec with those
            ``backend_options`` (default: the spec equals ``name``).
        capabilities: What the backend declares (shots, exactness, native gradients...).
        help: One line for documentation and error messages.
        build_native: ``build_native(circuit, gradient, shots, options)`` -> the native
            executor of one of ``capabilities.native_gradients``.
        by_name: Users type ``name`` itself (``"aer"``), rather than pass an object (a
            ``BackendV2``) or a spec ``name`` describes; listed first in errors and help.
        priority: Entries with a higher priority are tried first.
    """

    name: str
    build: Callable[[Any, BackendRequest], Executor]
    matches: Callable[[Any, Mapping[str, Any]], bool] | None = None
    capabilities: Capabilities = field(default_factory=Capabilities)
    help: str = ""
    build_native: NativeFactory | None = None
    by_name: bool = True
    priority: int = 0

    def handles(self, spec: Any, options: Mapping[str, Any]) -> bool:
        """Whether this entry builds ``spec`` with ``options``."""
        if self.matches is None:
            return isinstance(spec, str) and spec == self.name
        return bool(self.matches(spec, options))


_entries: list[BackendEntry] = []
_failed: dict[str, BaseException] = {}  # entry-point name -> why it was not registered
_discovered = False
_lock = threading.RLock()
_BUILTIN_PREFIX = "hybridqml."  # hybridqml's own entry points name modules of this package


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    """Every entry point of the group, from every distribution on the path, built-ins first.

    ``importlib.metadata.entry_points`` keeps one distribution per name, the first on
    ``sys.path``: a stale ``hybridqml.egg-info`` in the working directory would hide the
    installed metadata. Reading every distribution (duplicates dropped) avoids that.
    """
    points: dict[tuple[str, str], importlib.metadata.EntryPoint] = {}
    for dist in importlib.metadata.distributions():
        for point in dist.entry_points:
            if point.group == ENTRY_POINT_GROUP:
                points.setdefault((point.name, point.value), point)
    return sorted(
        points.values(),
        key=lambda p: (not p.value.startswith(_BUILTIN_PREFIX), p.name, p.value),
    )


def _discover() -> None:
    """Load every entry point of :data:`ENTRY_POINT_GROUP` once: built-ins, then plugins by name.

    A plugin that cannot be loaded, or that declares a name already registered (a built-in
    always wins), is left out whole with a ``RuntimeWarning`` naming the cause; asking for its
    backend later says why it is missing.
    """
    global _discovered
    with _lock:
        if _discovered:
            return
        _discovered = True
        for point in _entry_points():
            try:
                loaded = point.load()
                _add_all(_as_entries(loaded() if callable(loaded) else loaded))
            except Exception as exc:
                _failed[point.name] = exc
                warnings.warn(
                    f"hybridqml backend plugin {point.name!r} ({point.value}) was not "
                    f"registered: {type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=3,
                )


def _registry() -> list[BackendEntry]:
    _discover()
    return _entries


def _as_entries(entries: BackendEntry | Iterable[BackendEntry]) -> list[BackendEntry]:
    items = [entries] if isinstance(entries, BackendEntry) else list(entries)
    for entry in items:
        if not isinstance(entry, BackendEntry):
            raise ConfigurationError(f"expected a BackendEntry, got {type(entry).__name__}")
    return items


def _add_all(entries: list[BackendEntry]) -> None:
    """Register ``entries`` all together, or none of them when one name is taken."""
    with _lock:
        names = [e.name for e in entries]
        taken = sorted({n for n in names if any(e.name == n for e in _entries)})
        taken += sorted({n for n in names if names.count(n) > 1} - set(taken))
        if taken:
            raise ConfigurationError(
                f"a backend named {', '.join(map(repr, taken))} is registered already"
                " (or declared twice); unregister_backend(name) first to replace it"
            )
        _entries.extend(entries)
        _entries.sort(key=lambda e: -e.priority)  # stable: registration order within a priority


def register_backend(entry: BackendEntry | Iterable[BackendEntry]) -> None:
    """Add a backend kind (or a family's kinds) at run time, as an entry point would.

    All of them are registered, or none (when a name is taken or declared twice).

    Raises:
        ConfigurationError: an entry with the same name is registered already, or one is not
            a :class:`BackendEntry`.
    """
    _discover()
    _add_all(_as_entries(entry))


def unregister_backend(name: str) -> BackendEntry:
    """Remove the backend kind ``name`` (a built-in or a plugin) and return its entry.

    Raises:
        ConfigurationError: no backend of that name is registered.
    """
    with _lock:
        for entry in _registry():
            if entry.name == name:
                _entries.remove(entry)
                return entry
    raise ConfigurationError(f"no backend named {name!r} is registered")


def registered_backends(*, by_name: bool = False) -> tuple[str, ...]:
    """Names of the registered backend kinds: names users type, then kinds of objects.

    Args:
        by_name: Only the names users type (``"aer"``, ``"torch"``, ``"fake_<device>"``...).

    Example:
        >>> {"aer", "torch", "fake_<device>", "a BackendV2"} <= set(registered_backends())
        True
    """
    entries = _registry()
    names = [e.name for e in entries if e.by_name]
    if by_name:
        return tuple(names)
    return (*names, *(e.name for e in entries if e.name not in names))
