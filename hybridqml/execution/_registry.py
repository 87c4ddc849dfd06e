"""The backend registry: the one place a backend spec (a name or an object) becomes an executor.

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

Example:
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> ex = make_executor(ShiftableCircuit(circuits.ry(1)), "aer")
    >>> ex.run([[0.0]]).round(6).tolist()
    [[0.0]]
    >>> default_gradient("torch"), default_gradient("aer")
    ('backprop', 'parameter-shift')
"""

from __future__ import annotations

import importlib.metadata
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hybridqml._validation import check_seed
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import ConfigurationError, MissingDependencyError
from hybridqml.execution._capabilities import DEFAULT_GRADIENT, RUNTIME_OPTION_KEYS, Capabilities
from hybridqml.execution._executor import (
    DEFAULT_OPTIMIZATION_LEVEL,
    BackendRequest,
    Executor,
    NativeExecutor,
    positive_shots,
    valid_optimization_level,
)
from hybridqml.execution._memory import MEMORY_OPTION, check_memory_limit

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackendEntry",
    "all_native_gradients",
    "backend_capabilities",
    "backend_entry",
    "default_gradient",
    "make_executor",
    "native_executor",
    "native_gradients",
    "register_backend",
    "registered_backends",
    "same_options",
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


def backend_entry(backend: Any, options: Mapping[str, Any] | None = None) -> BackendEntry:
    """The registry entry handling ``backend`` (with ``backend_options`` ``options``).

    Raises:
        MissingDependencyError: the plugin declaring ``backend`` could not be imported.
        ConfigurationError: no entry handles it (the message lists the accepted specs).
    """
    errors: list[str] = []
    for entry in _registry():
        try:
            if entry.handles(backend, options or {}):
                return entry
        except Exception as exc:  # one broken matcher must not hide every other backend
            errors.append(f"{entry.name!r} could not check it ({type(exc).__name__}: {exc})")
    if isinstance(backend, str) and backend in _failed:
        exc = _failed[backend]
        missing = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
        hint = (
            f"; the module {missing!r} is missing: install the package that provides it"
            f" (often: pip install {missing.split('.')[0]})"
            if missing
            else ""
        )
        error = MissingDependencyError if isinstance(exc, ImportError) else ConfigurationError
        raise error(
            f"the backend plugin {backend!r} could not be loaded: {type(exc).__name__}: {exc}{hint}"
        ) from exc
    raise ConfigurationError(_unknown(backend) + "".join(f"; {e}" for e in errors))


def _unknown(backend: Any) -> str:
    entries = _registry()
    names = ", ".join(repr(e.name) for e in entries if e.by_name)
    objects = ", ".join(e.name for e in entries if not e.by_name)
    broken = (
        " (plugins not registered: "
        + "; ".join(f"{n}: {type(e).__name__}: {e}" for n, e in sorted(_failed.items()))
        + ")"
        if _failed
        else ""
    )
    if not entries:
        return (
            "no backends are registered: they are declared as entry points of the group "
            f"{ENTRY_POINT_GROUP!r}; install hybridqml (pip install -e .) so that its "
            "metadata declares its own"
        )
    if isinstance(backend, str):
        return f"unknown backend {backend!r}; use {names}, {objects}{broken}"
    return (
        f"unsupported backend object of type {type(backend).__name__}; pass a backend name or "
        f"one of: {objects}{broken}"
    )


def backend_capabilities(backend: Any, options: Mapping[str, Any] | None = None) -> Capabilities:
    """What the backend declares it can do.

    Example:
        >>> backend_capabilities("torch").native_gradients
        ('backprop', 'adjoint')
    """
    return backend_entry(backend, options).capabilities


def same_options(backend: Any, other: Any) -> bool:
    """Whether two backend specs understand the same ``shots``/``backend_options``.

    Example:
        >>> same_options("aer", "fake_manila"), same_options("aer", "torch")
        (True, False)
    """
    if other is None:
        return True
    family = backend_capabilities(backend).option_family
    return family == backend_capabilities(other).option_family


def native_gradients(backend: Any) -> tuple[str, ...]:
    """Torch-native gradients the backend offers (empty for most, and for unknown specs).

    Example:
        >>> native_gradients("torch"), native_gradients("aer")
        (('backprop', 'adjoint'), ())
    """
    try:
        return backend_capabilities(backend).native_gradients
    except ConfigurationError:
        return ()


def all_native_gradients() -> dict[str, list[str]]:
    """Every torch-native gradient name -> the backends offering it."""
    out: dict[str, list[str]] = {}
    for entry in _registry():
        for gradient in entry.capabilities.native_gradients:
            out.setdefault(gradient, []).append(entry.name)
    return out


def default_gradient(backend: Any) -> str:
    """The gradient used when none is chosen: the backend's first native one, else shift."""
    native = native_gradients(backend)
    return native[0] if native else DEFAULT_GRADIENT


def _check_request(
    entry: BackendEntry, shots: int | None, probabilities: bool, options: Mapping[str, Any]
) -> None:
    """Refuse what the entry's capabilities rule out, in the user's terms."""
    caps = entry.capabilities
    if shots is not None and not caps.shots:
        raise ConfigurationError(
            f"shots={shots}: backend {entry.name!r} does not sample shots (it computes exact "
            "values, or values at an estimator's own precision); use backend='aer' with shots=N, "
            "or a BaseSamplerV2, for finite-shot sampling"
        )
    if probabilities and not caps.probabilities:
        raise ConfigurationError(
            f"{entry.name} computes expectation values, not the probability outputs of this "
            "circuit (it has no samples); pass a BaseSamplerV2 (or a backend name) instead"
        )
    found = sorted(set(options) & set(RUNTIME_OPTION_KEYS))
    if found and not caps.runtime_options:
        raise ConfigurationError(
            f"{', '.join(found)}: runtime options apply to IBM runtime backends "
            f"('ibm:<name>', a runtime Session/Batch or primitive), not to {entry.name!r}, "
            "which runs without them"
        )


def make_executor(
    shiftable: ShiftableCircuit,
    backend: Any = "aer",
    *,
    shots: int | None = None,
    seed: int | None = None,
    backend_options: Mapping[str, Any] | None = None,
    optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
) -> Executor:
    """Build the executor for a backend spec.

    Args:
        shiftable: The circuit to run.
        backend: ``"aer"``; ``"torch"`` (exact, the torch-native simulator of
            :mod:`hybridqml.backends.torchsim`; no shots; option ``max_memory_bytes``);
            ``"fake_<device>"`` (a qiskit-ibm-runtime fake device: its noise
            model and coupling map, simulated locally); ``"ibm:<name>"`` (IBM Quantum
            Runtime, account from the saved configuration or environment); a ``BackendV2``; a
            qiskit-ibm-runtime ``Session`` or ``Batch`` (jobs share it); a ``BaseEstimatorV2``
            (used as given, exact or with its own precision); a ``BaseSamplerV2``; or any
            spec a plugin registers (:func:`registered_backends`).
        shots: Shots per evaluation. ``None`` means exact on simulators: ``"aer"``, and exact
            noisy values on fake devices and Aer with a noise model; real devices (which cannot
            be exact) use :data:`~hybridqml.execution._executor.DEFAULT_DEVICE_SHOTS`.
        seed: Makes shot sampling on simulators reproducible (an int in ``[0, 2**32 - 1]``).
        backend_options: Extra ``AerSimulator`` options for Aer-based backends, e.g.
            ``{"device": "GPU"}`` with qiskit-aer-gpu installed, or ``{"max_parallel_threads": 1}``;
            a ``"noise_model"`` (simulated by :mod:`hybridqml.backends.mixed`) and
            ``"noisy_simulation"`` (``"auto"``, ``"density_matrix"``, ``"trajectories"``); the
            runtime options of ``hybridqml.hardware._runtime_options`` on runtime backends.
            Every backend also understands ``max_memory_bytes``: the budget of one call (a pass
            over it is split into the fewest calls under it, see
            :meth:`~hybridqml.execution.Executor.run`; default
            :data:`~hybridqml.execution._memory.DEFAULT_MAX_MEMORY_BYTES`); on ``"torch"`` it is
            the simulator's limit.
        optimization_level: Transpiler preset level for the backend's ISA, 0 to 3.

    Raises:
        ConfigurationError: an unknown backend name or object, invalid ``shots``, ``seed``,
            ``optimization_level`` or ``max_memory_bytes``, or an option the backend's
            capabilities rule out.
        MissingDependencyError: an optional package the backend needs is not installed.
        BackendError: unreachable accounts, circuits too large for the simulator's memory.
    """
    options = dict(backend_options or {})
    request = BackendRequest(
        shiftable=shiftable,
        shots=positive_shots(shots),
        seed=check_seed(seed, optional=True),
        options=options,
        optimization_level=valid_optimization_level(optimization_level),
        max_memory_bytes=check_memory_limit(options.pop(MEMORY_OPTION, None)),
    )
    entry = backend_entry(backend, options)
    _check_request(entry, request.shots, shiftable.probabilities is not None, options)
    executor = entry.build(backend, request)
    if request.max_memory_bytes is not None:
        executor.max_memory_bytes = request.max_memory_bytes
    return executor


def native_executor(
    spec: ParameterizedCircuit,
    backend: Any,
    gradient: str,
    *,
    shots: int | None = None,
    backend_options: Mapping[str, Any] | None = None,
) -> NativeExecutor:
    """Build the torch-native executor of ``gradient`` on ``backend``.

    Raises:
        ConfigurationError: the backend does not offer ``gradient`` natively, or ``shots`` or
            options its capabilities rule out.
    """
    options = dict(backend_options or {})
    entry = backend_entry(backend, options)
    if gradient not in entry.capabilities.native_gradients or entry.build_native is None:
        raise ConfigurationError(f"backend {entry.name!r} has no torch-native {gradient!r}")
    shots = positive_shots(shots)
    _check_request(entry, shots, spec.probabilities is not None, options)
    return entry.build_native(spec, gradient, shots, options)
