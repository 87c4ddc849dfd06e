"""Devices: fake IBM devices by name, IBM Quantum backends, runtime sessions and primitives.

``"fake_<device>"`` names a qiskit-ibm-runtime fake backend (shared by the quantum layers, for
noisy local simulation of a device, and the entropy sources, for Hadamard bits with a device's
readout bias); ``"ibm:<name>"`` an IBM Quantum backend of the saved account. The helpers below
also find the device behind a runtime ``Session``/``Batch`` or primitive, and the ``with`` block
of a session open on a device. qiskit-ibm-runtime is optional: without it the error
(:class:`~hybridqml.exceptions.MissingDependencyError`) says how to install it.

Example:
    >>> fake_device("fake_manila").num_qubits  # doctest: +SKIP
    5
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import sys
from typing import Any

from qiskit.providers import BackendV2

from hybridqml.exceptions import BackendError, ConfigurationError, MissingDependencyError
from hybridqml.execution._isa import backend_name

__all__ = [
    "FAKE_PREFIX",
    "IBM_INSTALL_HINT",
    "IBM_PREFIX",
    "device_noise_model",
    "fake_device",
    "fake_device_names",
    "fetch_job",
    "ibm_backend",
    "is_fake_device",
    "is_ibm_backend",
    "is_runtime_mode",
    "open_runtime_context",
    "primitive_backend",
    "reopen_sampler",
    "runtime_backend",
    "runtime_estimator",
    "runtime_sampler",
]

#: Prefix of fake device names.
FAKE_PREFIX = "fake_"
#: Prefix of IBM Quantum backend names.
IBM_PREFIX = "ibm:"
#: How to get qiskit-ibm-runtime.
IBM_INSTALL_HINT = 'install the IBM extra: pip install "hybridqml[ibm]"'


def _fake_provider() -> Any:
    return _import("qiskit_ibm_runtime.fake_provider", "fake devices")


def fake_device_names() -> list[str]:
    """Names of every fake V2 device qiskit-ibm-runtime provides (``fake_manila``, ...)."""
    provider = _fake_provider()
    return sorted(
        FAKE_PREFIX + c[4:-2].lower()
        for c in dir(provider)
        if c.startswith("Fake") and c.endswith("V2") and c[4:-2]
    )


def fake_device(name: str) -> Any:
    """Instantiate the fake backend ``Fake<Device>V2`` named ``fake_<device>``.

    Args:
        name: ``"fake_<device>"``, e.g. ``"fake_manila"`` or ``"fake_sherbrooke"``.

    Raises:
        ConfigurationError: unknown device (the message lists the known ones).
        MissingDependencyError: qiskit-ibm-runtime is not installed.
    """
    provider = _fake_provider()
    stem = name[len(FAKE_PREFIX) :] if name.startswith(FAKE_PREFIX) else ""
    class_name = "Fake" + stem.replace("_", " ").title().replace(" ", "") + "V2"
    cls = getattr(provider, class_name, None) if stem else None
    if not isinstance(cls, type):
        raise ConfigurationError(
            f"unknown fake device {name!r}; available: {', '.join(fake_device_names())}"
        )
    return cls()


def device_noise_model(device: Any) -> Any:
    """The noise model a fake device's own ``run`` simulates, or ``None`` for other backends.

    qiskit-ibm-runtime builds it from the device's calibration properties: gate errors with
    thermal relaxation and each qubit's asymmetric readout error (``prob_meas1_prep0`` and
    ``prob_meas0_prep1``). ``AerSimulator.from_backend`` alone builds a coarser one from the
    target (a symmetric readout error), so the executors pass this one to it: a layer, a
    Hadamard source and ``device.run`` then simulate the same device.
    """
    build = getattr(device, "_get_noise_model_from_backend_v2", None)
    if not is_fake_device(device) or build is None:
        return None
    try:
        return build()
    except Exception:  # no properties: Aer's model from the target is used instead
        return None


def is_fake_device(backend: Any) -> bool:
    """Whether ``backend`` is one of qiskit-ibm-runtime's fake devices."""
    return type(backend).__module__.startswith("qiskit_ibm_runtime.fake_provider")


def _import(module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".")[0].replace("_", "-")
        raise MissingDependencyError(
            f"{what}: {package} is not installed; {IBM_INSTALL_HINT}", package=package
        ) from exc


def runtime_sampler(mode: Any) -> Any:
    """A qiskit-ibm-runtime sampler (client-side ``executor_sampler`` when available)."""
    try:
        from qiskit_ibm_runtime.executor_sampler import Sampler
    except ImportError:
        Sampler = _import("qiskit_ibm_runtime", "IBM Quantum Runtime").SamplerV2
    return Sampler(mode=mode)


def runtime_estimator(mode: Any) -> Any:
    """A qiskit-ibm-runtime estimator (client-side ``executor_estimator`` when available)."""
    try:
        from qiskit_ibm_runtime.executor_estimator import Estimator
    except ImportError:
        Estimator = _import("qiskit_ibm_runtime", "IBM Quantum Runtime").EstimatorV2
    return Estimator(mode=mode)


def runtime_backend(mode: Any) -> BackendV2:
    """The device a runtime ``Session``/``Batch`` (or a backend itself) runs on."""
    backend = getattr(mode, "_backend", None) if not isinstance(mode, BackendV2) else mode
    if not isinstance(backend, BackendV2):
        raise BackendError(f"cannot determine the backend of runtime mode {mode!r}")
    return backend


def primitive_backend(primitive: Any) -> BackendV2 | None:
    """The backend a primitive runs on, whose ISA its circuits must match (``None`` if unknown)."""
    backend = getattr(primitive, "_backend", None)
    if callable(getattr(primitive, "backend", None)):  # qiskit-ibm-runtime primitives
        with contextlib.suppress(Exception):  # best effort: else the private attribute
            backend = primitive.backend()
    return backend if isinstance(backend, BackendV2) else None


def open_runtime_context(device: BackendV2 | None) -> Any:
    """The ``Session``/``Batch`` whose ``with`` block is open on ``device``, if any."""
    if device is None or "qiskit_ibm_runtime" not in sys.modules:
        return None
    from qiskit_ibm_runtime.utils.default_session import get_cm_session

    context = get_cm_session()
    on = getattr(context, "_backend", None)
    if on is None or backend_name(on) != backend_name(device):
        return None
    return context


def is_runtime_mode(obj: Any) -> bool:
    """Whether ``obj`` is a qiskit-ibm-runtime ``Session`` or ``Batch``."""
    module = type(obj).__module__
    return module.startswith("qiskit_ibm_runtime") and type(obj).__name__ in {"Session", "Batch"}


def is_ibm_backend(obj: Any) -> bool:
    """Whether ``obj`` is a qiskit-ibm-runtime ``IBMBackend`` (a real device)."""
    return type(obj).__module__.startswith("qiskit_ibm_runtime.ibm_backend")


def ibm_backend(name: str) -> BackendV2:
    """The IBM Quantum backend ``name`` of the saved account (or ``QISKIT_IBM_TOKEN``).

    Raises:
        MissingDependencyError: qiskit-ibm-runtime is not installed.
        BackendError: no account can be opened, or the backend is not available to it.
    """
    runtime = _import("qiskit_ibm_runtime", f"backend 'ibm:{name}'")
    try:
        service = runtime.QiskitRuntimeService()
    except Exception as exc:
        raise BackendError(
            "cannot open an IBM Quantum account: save one with "
            "QiskitRuntimeService.save_account(...) or set QISKIT_IBM_TOKEN "
            f"(and QISKIT_IBM_INSTANCE): {type(exc).__name__}: {exc}"
        ) from exc
    try:
        return service.backend(name)
    except Exception as exc:
        raise BackendError(f"IBM backend {name!r} is not available: {exc}") from exc


def _primitive_mode(primitive: Any) -> Any:
    mode = getattr(primitive, "mode", None)
    return getattr(primitive, "_mode", None) if mode is None else mode


def reopen_sampler(sampler: Any) -> Any:
    """A sampler like ``sampler`` on a new runtime ``Session``/``Batch`` (the old one closed).

    A sampler with its own ``reopen_session()`` (the fault-injecting stand-in of
    ``hybridqml.testing._faults``) reopens itself. A runtime sampler on a closed ``Session``
    or ``Batch`` gets a new one of the same kind on the same device, with the sampler's
    options copied. Other samplers have no session: they are returned as they are.
    """
    reopen = getattr(sampler, "reopen_session", None)
    if callable(reopen):
        reopen()
        return sampler
    mode = _primitive_mode(sampler)
    if not is_runtime_mode(mode):
        return sampler
    new_mode = type(mode)(backend=runtime_backend(mode))
    try:  # runtime primitives take their options at construction
        return type(sampler)(mode=new_mode, options=copy.deepcopy(sampler.options))
    except TypeError:
        return type(sampler)(mode=new_mode)


def fetch_job(primitive: Any, job_id: str) -> Any:
    """The job ``job_id`` of an earlier run, from the service behind ``primitive`` (or ``None``).

    The fault-injecting stand-in keeps its jobs (``primitive.job(job_id)``); runtime primitives
    ask their ``QiskitRuntimeService`` (``service.job(job_id)``). ``None`` when neither can.
    """
    own = getattr(primitive, "job", None)
    if callable(own):
        return own(job_id)
    mode = _primitive_mode(primitive)
    for holder in (mode, getattr(mode, "_backend", None), primitive_backend(primitive)):
        service = getattr(holder, "service", None) or getattr(holder, "_service", None)
        if (
            service is not None
            and callable(getattr(service, "job", None))
            and type(service).__name__ != "QiskitRuntimeLocalService"
        ):
            return service.job(job_id)
    return None
