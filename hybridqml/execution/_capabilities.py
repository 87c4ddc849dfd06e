"""What a backend can do, declared once: the generic code asks this instead of ``isinstance``.

Every registry entry (:class:`~hybridqml.execution.BackendEntry`) carries one
:class:`Capabilities`. The registry, the engine and the conformance suite read it:

* ``shots`` / ``exact`` -- :func:`~hybridqml.execution.make_executor` refuses
  ``shots=N`` on a backend that does not sample;
* ``probabilities`` -- probability outputs (:class:`~hybridqml.SamplerLayer`) are refused on a
  backend without samples (an Estimator primitive);
* ``native_gradients`` -- which torch-native gradients the engine may pick (the first is the
  default) and for which ones it must build a
  :class:`~hybridqml.execution.NativeExecutor`;
* ``runtime_options`` -- only such backends accept ``resilience_level``, ``twirling`` and
  ``dynamical_decoupling``;
* ``option_family`` -- ``backend_options`` carry over between backends of one family when a
  layer moves (``layer.set_backend``);
* ``noise`` -- outputs are noisy expectation values (a device or a noise model), so a reference
  must be noisy too.

Inside one call, the generic Qiskit-primitive executors ask the primitive itself: a sampler
that computes its distribution (:class:`~hybridqml.execution._distribution.DistributionSampler`)
gives exact values and counts without bitstrings; an estimator with ``expectation_values``
(:class:`~hybridqml.execution._estimator_executor.ArrayEstimator`) skips the PUB containers.

Example:
    >>> caps = Capabilities(exact=True, shots=False, native_gradients=("backprop",))
    >>> caps.default_gradient, caps.replace(shots=True).shots
    ('backprop', True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["DEFAULT_GRADIENT", "RUNTIME_OPTION_KEYS", "Capabilities"]

DEFAULT_GRADIENT: Final[str] = "parameter-shift"
"""Gradient of backends that offer no torch-native one."""

RUNTIME_OPTION_KEYS: Final[tuple[str, ...]] = (
    "resilience_level",
    "twirling",
    "dynamical_decoupling",
)
"""The ``backend_options`` keys of IBM runtime backends, refused by backends without
``runtime_options`` (they would be silently ignored there)."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend declares about itself.

    Attributes:
        exact: ``shots=None`` gives exact (noiseless or exactly noisy) expectation values; a
            device without it runs a default number of shots instead.
        shots: It samples finite shots (``shots=N``).
        noise: Its values carry device or model noise.
        probabilities: It has samples, so probability outputs work.
        native_gradients: Gradients torch computes on it (``"backprop"``, ``"adjoint"``); the
            first is its default gradient.
        runtime_options: It accepts the IBM runtime options of
            ``hybridqml.hardware._runtime_options``.
        option_family: Which ``backend_options`` it understands (``"qiskit"``, ``"torch"``...).
        native_mitigation: Its native executors mitigate errors themselves: ``build_native``
            takes ``mitigation=`` (a :class:`~hybridqml.mitigation.Mitigation`).
    """

    exact: bool = True
    shots: bool = False
    noise: bool = False
    probabilities: bool = True
    native_gradients: tuple[str, ...] = ()
    runtime_options: bool = False
    option_family: str = "qiskit"
    native_mitigation: bool = False

    @property
    def default_gradient(self) -> str:
        """The gradient used when none is chosen: the first native one, else parameter shift."""
        return self.native_gradients[0] if self.native_gradients else DEFAULT_GRADIENT

    def replace(self, **changes: Any) -> Capabilities:
        """A copy with ``changes`` (e.g. a noisy variant of a simulator's capabilities)."""
        return dataclasses.replace(self, **changes)
