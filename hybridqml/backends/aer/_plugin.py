"""The Aer family's registry entries, declared as the ``aer`` entry point of hybridqml.

``"aer"`` (noiseless: exact, or sampled with ``shots``) and a user's noiseless
``AerSimulator``. With a ``noise_model`` (or ``noisy_simulation``) in ``backend_options``, or an
``AerSimulator`` that has one, :mod:`hybridqml.backends.mixed` takes the spec instead.

Example:
    >>> [entry.name for entry in ENTRIES]
    ['aer', 'an AerSimulator']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hybridqml.backends.aer._executors import build_aer, build_aer_simulator
from hybridqml.execution._capabilities import Capabilities
from hybridqml.execution._registry import BackendEntry
from hybridqml.execution._simulators import is_aer_simulator

__all__ = ["CAPABILITIES", "ENTRIES", "NOISE_KEYS"]

CAPABILITIES: Final = Capabilities(exact=True, shots=True)
"""Noiseless Aer: exact values with ``shots=None``, finite-shot sampling with ``shots=N``."""

NOISE_KEYS: Final[frozenset[str]] = frozenset({"noise_model", "noisy_simulation"})
"""``backend_options`` that make an Aer spec noisy (the mixed family's)."""


def _noiseless(options: Mapping[str, Any]) -> bool:
    return not NOISE_KEYS.intersection(options)


ENTRIES: Final[tuple[BackendEntry, ...]] = (
    BackendEntry(
        name="aer",
        build=build_aer,
        matches=lambda spec, options: spec == "aer" and _noiseless(options),
        capabilities=CAPABILITIES,
        help="Qiskit Aer: exact statevector, or finite-shot sampling with shots=N (noisy with a "
        "noise_model in backend_options)",
    ),
    BackendEntry(
        name="an AerSimulator",
        build=build_aer_simulator,
        matches=lambda spec, options: (
            is_aer_simulator(spec) and spec.options.noise_model is None and _noiseless(options)
        ),
        capabilities=CAPABILITIES,
        help="your own AerSimulator (exact or sampled; noisy ones go to the noisy simulator)",
        by_name=False,
        priority=1,  # before "a BackendV2"
    ),
)
"""The entries this family registers."""
