"""Fake IBM devices by name: ``"fake_<device>"`` -> a qiskit-ibm-runtime fake backend.

Shared by the quantum layers (noisy local simulation of a device) and the entropy sources
(Hadamard bits with a device's readout bias). qiskit-ibm-runtime is optional: without it the
error says how to install it.

Example:
    >>> fake_device("fake_manila").num_qubits  # doctest: +SKIP
    5
"""

from __future__ import annotations

import importlib
from typing import Any

from hybridqml.exceptions import BackendError

__all__ = ["FAKE_PREFIX", "IBM_INSTALL_HINT", "fake_device", "fake_device_names"]

#: Prefix of fake device names.
FAKE_PREFIX = "fake_"
#: How to get qiskit-ibm-runtime.
IBM_INSTALL_HINT = 'install the IBM extra: pip install "hybridqml[ibm]"'


def _fake_provider() -> Any:
    try:
        return importlib.import_module("qiskit_ibm_runtime.fake_provider")
    except ImportError as exc:
        raise BackendError(f"fake devices need qiskit-ibm-runtime: {IBM_INSTALL_HINT}") from exc


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
        BackendError: unknown device (the message lists the known ones) or qiskit-ibm-runtime
            missing.
    """
    provider = _fake_provider()
    stem = name[len(FAKE_PREFIX) :] if name.startswith(FAKE_PREFIX) else ""
    class_name = "Fake" + stem.replace("_", " ").title().replace(" ", "") + "V2"
    cls = getattr(provider, class_name, None) if stem else None
    if not isinstance(cls, type):
        raise BackendError(
            f"unknown fake device {name!r}; available: {', '.join(fake_device_names())}"
        )
    return cls()
