"""The noisy simulator's registry entries, declared as the ``mixed`` entry point of hybridqml.

Fake IBM devices (by name or object), ``"aer"`` with a ``noise_model`` or ``noisy_simulation``
in ``backend_options``, and an ``AerSimulator`` that has a noise model (or is given one).

Example:
    >>> [entry.name for entry in ENTRIES][:2]
    ['fake_<device>', "'aer' with a noise_model"]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hybridqml.backends.mixed._executors import (
    NOISY_OPTION,
    build_fake,
    build_noisy_aer,
    build_noisy_simulator,
)
from hybridqml.execution._capabilities import Capabilities
from hybridqml.execution._registry import BackendEntry
from hybridqml.execution._simulators import is_aer_simulator
from hybridqml.hardware import _devices as devices

__all__ = ["CAPABILITIES", "ENTRIES"]

CAPABILITIES: Final = Capabilities(exact=True, shots=True, noise=True)
"""Exact noisy values with ``shots=None``; shots drawn from the noisy distribution."""


def _noisy_options(options: Mapping[str, Any]) -> bool:
    return "noise_model" in options or NOISY_OPTION in options


def _noisy_simulator(spec: Any, options: Mapping[str, Any]) -> bool:
    if not is_aer_simulator(spec) or devices.is_fake_device(spec):
        return False
    return spec.options.noise_model is not None or _noisy_options(options)


ENTRIES: Final[tuple[BackendEntry, ...]] = (
    BackendEntry(
        name="fake_<device>",
        build=build_fake,
        matches=lambda spec, options: (
            isinstance(spec, str)
            and spec.startswith(devices.FAKE_PREFIX)
            and len(spec) > len(devices.FAKE_PREFIX)
        ),
        capabilities=CAPABILITIES,
        help="a qiskit-ibm-runtime fake device (e.g. 'fake_manila'): its noise, simulated on Aer "
        "(exact noisy values, or shots=N)",
    ),
    BackendEntry(
        name="'aer' with a noise_model",
        build=build_noisy_aer,
        matches=lambda spec, options: spec == "aer" and _noisy_options(options),
        capabilities=CAPABILITIES,
        help="Aer with a noise_model in backend_options: exact noisy values, or shots=N",
        by_name=False,
    ),
    BackendEntry(
        name="a noisy AerSimulator",
        build=build_noisy_simulator,
        matches=_noisy_simulator,
        capabilities=CAPABILITIES,
        help="your own AerSimulator with a noise model",
        by_name=False,
        priority=1,  # before "a BackendV2"
    ),
    BackendEntry(
        name="a fake device",
        build=build_fake,
        matches=lambda spec, options: devices.is_fake_device(spec),
        capabilities=CAPABILITIES,
        help="a qiskit-ibm-runtime fake backend object",
        by_name=False,
        priority=1,  # before "a BackendV2"
    ),
)
"""The entries this family registers."""
