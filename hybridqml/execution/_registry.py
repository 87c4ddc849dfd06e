"""The backend registry: the one place a backend spec (a name or an object) becomes an executor.

The entries come from :mod:`hybridqml.execution._plugins` (entry points and run-time
registration); this module resolves a spec to its entry and builds the executors.

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

from collections.abc import Callable, Mapping
from typing import Any

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
from hybridqml.execution._plugins import (
    ENTRY_POINT_GROUP,
    BackendEntry,
    _failed,
    _registry,
    register_backend,
    registered_backends,
    unregister_backend,
)
from hybridqml.mitigation._options import Mitigation, as_mitigation

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackendEntry",
    "all_native_gradients",
    "backend_capabilities",
    "backend_entry",
    "check_mitigation",
    "default_gradient",
    "make_executor",
    "native_executor",
    "native_gradients",
    "register_backend",
    "registered_backends",
    "same_options",
    "unregister_backend",
]


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
        failure = _failed[backend]
        missing = getattr(failure, "name", None) if isinstance(failure, ImportError) else None
        hint = (
            f"; the module {missing!r} is missing: install the package that provides it"
            f" (often: pip install {missing.split('.')[0]})"
            if missing
            else ""
        )
        error = MissingDependencyError if isinstance(failure, ImportError) else ConfigurationError
        raise error(
            f"the backend plugin {backend!r} could not be loaded: "
            f"{type(failure).__name__}: {failure}{hint}"
        ) from failure
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


def check_mitigation(
    backend: Any, mitigation: Any, options: Mapping[str, Any] | None = None
) -> None:
    """Refuse mitigation where there is no noise to mitigate (a noiseless simulator).

    Example:
        >>> try:
        ...     check_mitigation("aer", "readout")
        ... except ConfigurationError as exc:
        ...     print(str(exc).split(",")[0])
        mitigation='readout': backend 'aer' is a noiseless simulator
    """
    _check_mitigation(backend_entry(backend, options), as_mitigation(mitigation))


def _check_mitigation(entry: BackendEntry, mitigation: Any) -> None:
    caps = entry.capabilities
    if mitigation is not None and caps.exact and caps.probabilities and not caps.noise:
        raise ConfigurationError(
            f"mitigation={mitigation.label!r}: backend {entry.name!r} is a noiseless simulator, "
            "there is no readout or gate noise to mitigate; use a noisy backend "
            "('fake_<device>', 'aer' with backend_options={'noise_model': ...}, an IBM device) "
            "or mitigation=None"
        )


def make_executor(
    shiftable: ShiftableCircuit,
    backend: Any = "aer",
    *,
    shots: int | None = None,
    seed: int | None = None,
    backend_options: Mapping[str, Any] | None = None,
    optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
    mitigation: Any = None,
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
        mitigation: ``None``, ``"readout"``, ``"zne"``, ``"readout+zne"`` or a
            :class:`~hybridqml.mitigation.Mitigation`: IBM runtime backends hand expectation
            values to the runtime Estimator's own mitigation; sampler-based executors
            mitigate every call themselves (``hybridqml.execution._mitigated``).

    Raises:
        ConfigurationError: an unknown backend name or object, invalid ``shots``, ``seed``,
            ``optimization_level`` or ``max_memory_bytes``, an option the backend's
            capabilities rule out, or mitigation on a noiseless simulator or on an executor
            without bitstrings.
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
        mitigation=as_mitigation(mitigation),
    )
    entry = backend_entry(backend, options)
    _check_request(entry, request.shots, shiftable.probabilities is not None, options)
    _check_mitigation(entry, request.mitigation)
    executor = entry.build(backend, request)
    if request.mitigation is not None and executor.mitigation_record is None:
        executor.enable_mitigation(request.mitigation)
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
    mitigation: Mitigation | None = None,
) -> NativeExecutor:
    """Build the torch-native executor of ``gradient`` on ``backend``.

    Args:
        spec: The circuit specification.
        backend: The backend spec (a name, or an object a plugin handles).
        gradient: One of the backend's ``native_gradients``.
        shots: Shots per evaluation (``None``: exact).
        backend_options: The backend's options.
        mitigation: Error mitigation; only for backends whose capabilities declare
            ``native_mitigation`` (their ``build_native`` takes ``mitigation=``).

    Raises:
        ConfigurationError: the backend does not offer ``gradient`` natively, or ``shots``,
            options or a mitigation its capabilities rule out.
    """
    options = dict(backend_options or {})
    entry = backend_entry(backend, options)
    if gradient not in entry.capabilities.native_gradients or entry.build_native is None:
        raise ConfigurationError(f"backend {entry.name!r} has no torch-native {gradient!r}")
    shots = positive_shots(shots)
    _check_request(entry, shots, spec.probabilities is not None, options)
    if mitigation is None:
        return entry.build_native(spec, gradient, shots, options)
    if not entry.capabilities.native_mitigation:
        noisy = "" if entry.capabilities.noise else " on a noiseless simulator"
        raise ConfigurationError(
            f"mitigation={mitigation.label!r} is not available with gradient {gradient!r} on "
            f"backend {entry.name!r}{noisy}: torch computes that gradient without measured "
            "circuits; use gradient='parameter-shift' (every shifted evaluation is mitigated)"
        )
    build: Callable[..., NativeExecutor] = entry.build_native
    return build(spec, gradient, shots, options, mitigation=mitigation)
