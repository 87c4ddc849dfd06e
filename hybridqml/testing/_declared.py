"""What a backend declares about itself, and the reference its values are held to.

:func:`declared` is the one place the conformance suite asks what kind of backend it checks
(noisy? does it return probabilities? which gradients does torch compute for it?). The answer is
the backend's declared :class:`~hybridqml.execution.Capabilities`, looked up in the registry
with the layer's ``backend_options``; the noise model the noisy reference simulates is read from
the spec (a fake device, an ``AerSimulator``, or ``backend_options["noise_model"]``).

Whether a configuration samples is not a capability but a choice: the layer's ``shots``.

Example:
    >>> declared("aer", {})
    Declared(noise=False, probabilities=True, native_gradients=())
    >>> declared("fake_manila", {}).noise
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._executor import DEFAULT_OPTIMIZATION_LEVEL
from hybridqml.execution._registry import backend_capabilities
from hybridqml.hardware import _devices as devices
from hybridqml.testing._reference import NoisyReference, StatevectorReference

__all__ = ["Declared", "declared", "reference_for"]

#: ``reference=`` value forcing the noiseless ``Statevector`` reference.
STATEVECTOR = "statevector"


@dataclass(frozen=True)
class Declared:
    """A backend's declared kind, as far as the conformance checks need it.

    Attributes:
        noise: Its values are those of a noisy device (held to a noisy reference).
        probabilities: It returns outcome probabilities (``SamplerLayer``).
        native_gradients: Gradients torch computes on it (local, never sent anywhere).
    """

    noise: bool
    probabilities: bool
    native_gradients: tuple[str, ...]


def declared(backend: Any, options: Mapping[str, Any]) -> Declared:
    """What ``backend`` with the layer ``options`` declares (see the module docstring).

    Args:
        backend: The backend spec, as given to ``QuantumLayer``.
        options: The layer's options (``backend_options``, ...).
    """
    caps = backend_capabilities(backend, dict(options.get("backend_options") or {}))
    return Declared(
        noise=caps.noise,
        probabilities=caps.probabilities,
        native_gradients=tuple(caps.native_gradients),
    )


def _noise_source(backend: Any, backend_options: Mapping[str, Any]) -> tuple[Any, Any] | None:
    """``(target, noise model)`` of a noisy backend spec, ``None`` when it is noiseless."""
    noise_model = backend_options.get("noise_model")
    device = backend_options.get("device")  # the noisy torch engine's fake device
    if backend == "torch" and (
        devices.is_fake_device(device)
        or (isinstance(device, str) and device.startswith(devices.FAKE_PREFIX))
    ):
        backend = device
    if isinstance(backend, str) and backend.startswith(devices.FAKE_PREFIX):
        backend = devices.fake_device(backend)
    if devices.is_fake_device(backend):
        return backend, noise_model or devices.device_noise_model(backend)
    if _is_aer_simulator(backend):
        noise_model = noise_model or backend.options.noise_model
        return (backend, noise_model) if noise_model is not None else None
    if noise_model is not None:  # "aer" with a noise model: hybridqml transpiles to such a sim
        from qiskit_aer import AerSimulator

        return AerSimulator(noise_model=noise_model), noise_model
    return None


def _is_aer_simulator(obj: Any) -> bool:
    try:
        from qiskit_aer import AerSimulator
    except ImportError:  # pragma: no cover - qiskit-aer is a dependency
        return False
    return isinstance(obj, AerSimulator)


def reference_for(
    backend: Any, options: Mapping[str, Any], kind: Declared, reference: Any = None
) -> StatevectorReference | NoisyReference:
    """The reference a backend's values are checked against.

    Args:
        backend: The backend spec.
        options: The layer options (``backend_options``, ``seed``, ``optimization_level``).
        kind: What the backend declares.
        reference: ``None`` (noisy when the backend declares noise, else ``Statevector``),
            ``"statevector"``, or the noisy device to simulate: a fake device, an
            ``AerSimulator`` with a noise model, or any ``BackendV2`` (its
            ``NoiseModel.from_backend``).

    Raises:
        ConfigurationError: a noisy backend whose noise model cannot be found (pass
            ``reference``).
    """
    if reference == STATEVECTOR or (reference is None and not kind.noise):
        return StatevectorReference()
    source = _noise_source(
        backend if reference is None else reference,
        dict(options.get("backend_options") or {}) if reference is None else {},
    )
    if source is None and reference is not None:
        from qiskit_aer.noise import NoiseModel

        source = reference, NoiseModel.from_backend(reference)
    if source is None or source[1] is None:
        raise ConfigurationError(
            f"backend {backend!r} declares noise but its noise model is unknown here; pass "
            "reference=<the noisy device or AerSimulator it simulates>"
        )
    return NoisyReference(
        source[0],
        source[1],
        optimization_level=options.get("optimization_level", DEFAULT_OPTIMIZATION_LEVEL),
        seed=options.get("seed"),
    )
