"""The backend registry: the one place a backend spec (a name or an object) becomes an executor.

Each :class:`BackendEntry` says which specs it handles (``matches``), how it builds the
:class:`~hybridqml.backends.base.Executor` for shift-rule gradients (``build``), and, for backends
whose gradients torch computes, which native gradients it offers and how to build their
:class:`~hybridqml.backends.base.NativeExecutor`. :func:`make_executor`, :func:`native_executor`,
:func:`default_gradient` and :func:`native_gradients` read the table; nothing else in the package
decides what a backend name means.

Adding a backend is one module (its executor) plus one :func:`register_backend` call.

Example:
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits.shiftable import ShiftableCircuit
    >>> ex = make_executor(ShiftableCircuit(circuits.ry(1)), "aer")
    >>> ex.run([[0.0]]).round(6).tolist()
    [[0.0]]
    >>> default_gradient("torch"), default_gradient("aer")
    ('backprop', 'parameter-shift')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qiskit.primitives import BackendSamplerV2, BaseEstimatorV2, BaseSamplerV2
from qiskit.providers import BackendV2

from hybridqml.backends import devices
from hybridqml.backends.aer_executors import (
    build_aer,
    build_aer_simulator,
    build_fake,
    is_aer_simulator,
)
from hybridqml.backends.base import (
    DEFAULT_DEVICE_SHOTS,
    DEFAULT_OPTIMIZATION_LEVEL,
    BackendRequest,
    Executor,
    NativeExecutor,
    positive_shots,
    valid_optimization_level,
    valid_seed,
)
from hybridqml.backends.memory import MEMORY_OPTION, check_memory_limit
from hybridqml.backends.probabilities import sampler_executor
from hybridqml.backends.qiskit import EstimatorExecutor, estimator_executor
from hybridqml.backends.runtime_options import RuntimeOptions
from hybridqml.circuits.shiftable import ShiftableCircuit
from hybridqml.circuits.spec import ParameterizedCircuit
from hybridqml.exceptions import BackendError, ConfigurationError

__all__ = [
    "DEFAULT_GRADIENT",
    "BackendEntry",
    "all_native_gradients",
    "backend_entry",
    "default_gradient",
    "make_executor",
    "native_executor",
    "native_gradients",
    "register_backend",
    "registered_backends",
    "same_options",
]

DEFAULT_GRADIENT = "parameter-shift"
"""Gradient of backends that offer no torch-native one."""


NativeFactory = Callable[[ParameterizedCircuit, str, int | None, Mapping[str, Any]], NativeExecutor]


@dataclass(frozen=True)
class BackendEntry:
    """One kind of backend spec and how to build its executors.

    Attributes:
        name: How users name it (``"aer"``, ``"fake_<device>"``, ``"a BackendV2"``...), used in
            help texts and errors.
        by_name: The spec is a string (``"aer"``) rather than an object (a ``BackendV2``).
        matches: Whether a backend spec is handled by this entry.
        build: ``build(spec, request)`` -> the executor of shift-rule gradients.
        help: One line for documentation and error messages.
        native: Torch-native gradient names this backend offers; the first is its default.
        build_native: ``build_native(circuit, gradient, shots, options)`` -> the native executor.
        options: Which family of ``shots``/``backend_options`` it understands; a layer moved to a
            backend of another family does not carry them over.
    """

    name: str
    by_name: bool
    matches: Callable[[Any], bool]
    build: Callable[[Any, BackendRequest], Executor]
    help: str = ""
    native: tuple[str, ...] = ()
    build_native: NativeFactory | None = None
    options: str = "qiskit"


_REGISTRY: list[BackendEntry] = []


def register_backend(entry: BackendEntry, *, first: bool = False) -> None:
    """Add a backend kind; entries are tried in order (``first`` puts it before the built-ins).

    Raises:
        ConfigurationError: an entry with the same name is registered already.

    Example:
        >>> registered_backends()[:2]
        ('torch', 'aer')
    """
    if any(e.name == entry.name for e in _REGISTRY):
        raise ConfigurationError(f"a backend named {entry.name!r} is registered already")
    _REGISTRY.insert(0, entry) if first else _REGISTRY.append(entry)


def registered_backends() -> tuple[str, ...]:
    """Names of the registered backend kinds, in matching order."""
    return tuple(e.name for e in _REGISTRY)


def backend_entry(backend: Any) -> BackendEntry:
    """The registry entry handling ``backend``.

    Raises:
        BackendError: no entry handles it (the message lists the accepted specs).
    """
    for entry in _REGISTRY:
        if entry.matches(backend):
            return entry
    names = [e.name for e in _REGISTRY if e.by_name]
    objects = [e.name for e in _REGISTRY if not e.by_name]
    accepted = ", ".join(f"{n!r}" for n in names) + ", " + ", ".join(objects)
    if isinstance(backend, str):
        raise BackendError(f"unknown backend {backend!r}; use {accepted}")
    raise BackendError(
        f"unsupported backend object of type {type(backend).__name__}; pass a backend name or "
        f"one of: {', '.join(objects)}"
    )


def same_options(backend: Any, other: Any) -> bool:
    """Whether two backend specs understand the same ``shots``/``backend_options``.

    Example:
        >>> same_options("aer", "fake_manila"), same_options("aer", "torch")
        (True, False)
    """
    if other is None:
        return True
    return backend_entry(backend).options == backend_entry(other).options


def native_gradients(backend: Any) -> tuple[str, ...]:
    """Torch-native gradients the backend offers (empty for most).

    Example:
        >>> native_gradients("torch"), native_gradients("aer")
        (('backprop', 'adjoint'), ())
    """
    try:
        return backend_entry(backend).native
    except BackendError:
        return ()


def all_native_gradients() -> dict[str, list[str]]:
    """Every torch-native gradient name -> the backends offering it."""
    out: dict[str, list[str]] = {}
    for entry in _REGISTRY:
        for gradient in entry.native:
            out.setdefault(gradient, []).append(entry.name)
    return out


def default_gradient(backend: Any) -> str:
    """The gradient used when none is chosen: the backend's first native one, else shift."""
    native = native_gradients(backend)
    return native[0] if native else DEFAULT_GRADIENT


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
            model and coupling map, simulated locally by Aer); ``"ibm:<name>"`` (IBM Quantum
            Runtime, account from the saved configuration or environment); a ``BackendV2``; a
            qiskit-ibm-runtime ``Session`` or ``Batch`` (jobs share it); a ``BaseEstimatorV2``
            (used as given, exact or with its own precision); or a ``BaseSamplerV2``.
        shots: Shots per evaluation. ``None`` means exact on simulators: ``"aer"``, and exact
            noisy values on fake devices and Aer with a noise model; real devices (which cannot
            be exact) use :data:`~hybridqml.backends.base.DEFAULT_DEVICE_SHOTS`.
        seed: Makes shot sampling on simulators reproducible.
        backend_options: Extra ``AerSimulator`` options for Aer-based backends, e.g.
            ``{"device": "GPU"}`` with qiskit-aer-gpu installed, or ``{"max_parallel_threads": 1}``;
            and ``"noisy_simulation"`` (``"auto"``, ``"density_matrix"``, ``"trajectories"``): how
            noisy Aer backends simulate (see :mod:`hybridqml.backends.aer_executors`).
            Every backend also understands ``max_memory_bytes``: the budget of one call (a pass
            over it is split into the fewest calls under it, see
            :meth:`~hybridqml.backends.base.Executor.run`; default
            :data:`~hybridqml.backends.memory.DEFAULT_MAX_MEMORY_BYTES`); on ``"torch"`` it is
            the simulator's limit.
        optimization_level: Transpiler preset level for the backend's ISA, 0 to 3.

    Raises:
        BackendError: unknown backend names, missing optional packages, unreachable accounts,
            circuits too large for the simulator's memory.
        ConfigurationError: invalid ``shots``, ``optimization_level`` or ``max_memory_bytes``.
    """
    options = dict(backend_options or {})
    request = BackendRequest(
        shiftable=shiftable,
        shots=positive_shots(shots),
        seed=valid_seed(seed),
        options=options,
        optimization_level=valid_optimization_level(optimization_level),
        max_memory_bytes=check_memory_limit(options.pop(MEMORY_OPTION, None)),
    )
    entry = backend_entry(backend)
    if entry.name not in _RUNTIME_ENTRIES:
        RuntimeOptions.refuse_on(options, entry.name)
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
        ConfigurationError: the backend does not offer ``gradient`` natively.
    """
    entry = backend_entry(backend)
    if gradient not in entry.native or entry.build_native is None:
        raise ConfigurationError(f"backend {entry.name!r} has no torch-native {gradient!r}")
    return entry.build_native(spec, gradient, positive_shots(shots), dict(backend_options or {}))


# ---------------------------------------------------------------------------------------------
# the built-in backends


def _runtime_options(request: BackendRequest, backend: str) -> RuntimeOptions:
    """The runtime options of ``backend_options``; any other key is an error."""
    options = dict(request.options)
    runtime = RuntimeOptions.pop_from(options)
    if options:
        raise ConfigurationError(
            f"backend_options {sorted(options)} do not apply to the runtime backend "
            f"{backend!r}: it takes resilience_level, twirling, dynamical_decoupling and "
            "max_memory_bytes"
        )
    return runtime


def _runtime_executor(request: BackendRequest, mode: Any, device: Any, name: str) -> Executor:
    """A runtime Sampler executor, or the runtime Estimator's with a resilience level."""
    runtime = _runtime_options(request, name)
    if runtime.resilience_level is None:
        return sampler_executor(request, runtime.apply(devices.runtime_sampler(mode)), device, name)
    estimator = runtime.apply(devices.runtime_estimator(mode))
    shots = request.shots if request.shots is not None else DEFAULT_DEVICE_SHOTS
    estimator.options.default_shots = shots
    return EstimatorExecutor(
        request.shiftable,
        estimator,
        name=name,
        target=device,
        seed=request.seed,
        optimization_level=request.optimization_level,
        shots=shots,
    )


def _build_ibm_name(backend: str, request: BackendRequest) -> Executor:
    device = devices.ibm_backend(backend[len(devices.IBM_PREFIX) :])
    return _runtime_executor(request, device, device, backend)


def _build_ibm_backend(backend: Any, request: BackendRequest) -> Executor:
    return _runtime_executor(request, backend, backend, devices.backend_name(backend))


def _build_runtime_mode(backend: Any, request: BackendRequest) -> Executor:
    device = devices.runtime_backend(backend)
    return _runtime_executor(request, backend, device, f"{devices.backend_name(device)} (runtime)")


def _primitive_name(primitive: Any) -> tuple[BackendV2 | None, str]:
    target = devices.primitive_backend(primitive)
    suffix = f" on {devices.backend_name(target)}" if target else ""
    return target, type(primitive).__name__ + suffix


def _build_estimator(backend: Any, request: BackendRequest) -> Executor:
    if request.shots is not None:
        raise ConfigurationError(
            "shots applies to sampler-based backends; set the precision on your estimator"
        )
    target, name = _primitive_name(backend)
    _runtime_options(request, name).apply(backend)
    return estimator_executor(request, backend, name, target=target)


def _build_sampler(backend: Any, request: BackendRequest) -> Executor:
    target, name = _primitive_name(backend)
    _runtime_options(request, name).apply(backend)
    return sampler_executor(request, backend, target, name)


def _build_backend_v2(backend: Any, request: BackendRequest) -> Executor:
    name = devices.backend_name(backend)
    return sampler_executor(request, BackendSamplerV2(backend=backend), backend, name)


def _build_torch(backend: str, request: BackendRequest) -> Executor:
    from hybridqml.backends.torchsim.executor import TorchExecutor, check_torch_options

    options = check_torch_options(request.shots, request.options)
    return TorchExecutor(request.shiftable, max_memory_bytes=request.max_memory_bytes, **options)


def _build_torch_native(
    spec: ParameterizedCircuit, gradient: str, shots: int | None, options: Mapping[str, Any]
) -> NativeExecutor:
    from hybridqml.backends.torchsim.executor import TorchNativeExecutor, check_torch_options

    return TorchNativeExecutor(spec, gradient=gradient, **check_torch_options(shots, options))


_RUNTIME_ENTRIES = frozenset(
    {
        "ibm:<backend name>",
        "a BaseEstimatorV2",
        "a BaseSamplerV2",
        "a runtime Session/Batch",
        "an IBMBackend",
    }
)
"""Entries that take runtime options (``resilience_level``, ``twirling``, ...)."""


def _named(name: str) -> Callable[[Any], bool]:
    return lambda b: isinstance(b, str) and b == name


def _prefixed(prefix: str) -> Callable[[Any], bool]:
    return lambda b: isinstance(b, str) and b.startswith(prefix) and len(b) > len(prefix)


for _entry in (
    BackendEntry(
        name="torch",
        by_name=True,
        matches=_named("torch"),
        build=_build_torch,
        help="exact statevector in torch (CPU or CUDA); gradients backprop, adjoint or shift",
        native=("backprop", "adjoint"),
        build_native=_build_torch_native,
        options="torch",
    ),
    BackendEntry(
        name="aer",
        by_name=True,
        matches=_named("aer"),
        build=build_aer,
        help="Qiskit Aer: exact statevector, or finite-shot sampling with shots=N (noisy with a "
        "noise_model in backend_options)",
    ),
    BackendEntry(
        name="fake_<device>",
        by_name=True,
        matches=_prefixed(devices.FAKE_PREFIX),
        build=build_fake,
        help="a qiskit-ibm-runtime fake device (e.g. 'fake_manila'): its noise, simulated by Aer "
        "(exact noisy values, or shots=N)",
    ),
    BackendEntry(
        name="ibm:<backend name>",
        by_name=True,
        matches=_prefixed(devices.IBM_PREFIX),
        build=_build_ibm_name,
        help="an IBM Quantum backend of the saved account, through the runtime Sampler",
    ),
    BackendEntry(
        name="a BaseEstimatorV2",
        by_name=False,
        matches=lambda b: isinstance(b, BaseEstimatorV2),
        build=_build_estimator,
        help="any Estimator V2 primitive, used as given",
    ),
    BackendEntry(
        name="a BaseSamplerV2",
        by_name=False,
        matches=lambda b: isinstance(b, BaseSamplerV2),
        build=_build_sampler,
        help="any Sampler V2 primitive, expectation values from its bitstrings",
    ),
    BackendEntry(
        name="a runtime Session/Batch",
        by_name=False,
        matches=devices.is_runtime_mode,
        build=_build_runtime_mode,
        help="a qiskit-ibm-runtime Session or Batch: jobs run inside it",
    ),
    BackendEntry(
        name="an AerSimulator",
        by_name=False,
        matches=is_aer_simulator,
        build=build_aer_simulator,
        help="your own AerSimulator (exact, sampled, or noisy with a noise model)",
    ),
    BackendEntry(
        name="an IBMBackend",
        by_name=False,
        matches=devices.is_ibm_backend,
        build=_build_ibm_backend,
        help="a qiskit-ibm-runtime IBMBackend",
    ),
    BackendEntry(
        name="a fake device",
        by_name=False,
        matches=devices.is_fake_device,
        build=build_fake,
        help="a qiskit-ibm-runtime fake backend object",
    ),
    BackendEntry(
        name="a BackendV2",
        by_name=False,
        matches=lambda b: isinstance(b, BackendV2),
        build=_build_backend_v2,
        help="any other BackendV2, through Qiskit's BackendSamplerV2",
    ),
):
    register_backend(_entry)
del _entry
