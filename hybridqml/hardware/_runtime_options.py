"""Error suppression and mitigation options of IBM runtime backends, validated and applied.

Runtime backends (``"ibm:<name>"``, an ``IBMBackend``, a ``Session``/``Batch``, a runtime
primitive, the fault-injecting stand-in) read three keys of ``backend_options``:

* ``"resilience_level"`` -- 0, 1 or 2: the runtime Estimator's error mitigation (1: readout
  mitigation by twirled readout error extinction; 2: plus zero-noise extrapolation). The
  Sampler has no mitigation, so with a resilience level the layer's expectation values come
  from the runtime *Estimator* (shots per binding = ``shots``, set as its ``default_shots``;
  mitigation may run extra circuits and shots that IBM bills and estimates do not include);
* ``"twirling"`` -- ``True``/``False``: Pauli twirling of gates (``twirling.enable_gates``);
* ``"dynamical_decoupling"`` -- ``False``, ``True`` (``"XX"``) or a sequence ``"XX"``,
  ``"XpXm"``, ``"XY4"`` (``dynamical_decoupling.enable`` and ``.sequence_type``).

They are recorded in ``metrics.json`` with the rest of the config (``config.backend_options``).
Backends whose capabilities have no ``runtime_options`` (``"aer"``, ``"fake_<device>"``,
``"torch"``) refuse them (:func:`hybridqml.execution.make_executor`): they would be
silently ignored there.

Example:
    >>> options = {"twirling": True, "dynamical_decoupling": "XY4", "max_memory_bytes": 10}
    >>> runtime = RuntimeOptions.pop_from(options)
    >>> runtime.to_json(), options
    ({'twirling': True, 'dynamical_decoupling': 'XY4'}, {'max_memory_bytes': 10})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hybridqml.exceptions import ConfigurationError

__all__ = [
    "DD_SEQUENCES",
    "RESILIENCE_LEVELS",
    "RuntimeOptions",
    "apply_mitigation",
    "runtime_extrapolator",
]

DD_SEQUENCES: Final[tuple[str, ...]] = ("XX", "XpXm", "XY4")
"""Dynamical decoupling sequences of qiskit-ibm-runtime."""
RESILIENCE_LEVELS: Final[tuple[int, ...]] = (0, 1, 2)
"""Resilience levels of the runtime Estimator."""


@dataclass(frozen=True)
class RuntimeOptions:
    """Validated runtime options (``None``: leave the primitive's default).

    Attributes:
        resilience_level: 0, 1 or 2 (runtime Estimator).
        twirling: Pauli twirling of gates.
        dynamical_decoupling: ``None``, ``"off"`` or a sequence of :data:`DD_SEQUENCES`.
    """

    resilience_level: int | None = None
    twirling: bool | None = None
    dynamical_decoupling: str | None = None

    def __post_init__(self) -> None:
        level = self.resilience_level
        if level is not None and (isinstance(level, bool) or level not in RESILIENCE_LEVELS):
            raise ConfigurationError(
                f"resilience_level must be 0, 1 or 2 (the runtime Estimator's levels), got "
                f"{level!r}"
            )
        if self.twirling is not None and not isinstance(self.twirling, bool):
            raise ConfigurationError(f"twirling must be True or False, got {self.twirling!r}")
        dd = self.dynamical_decoupling
        if dd is not None and dd not in (*DD_SEQUENCES, "off"):
            raise ConfigurationError(
                f"dynamical_decoupling must be off or one of {', '.join(DD_SEQUENCES)} "
                f"(True means XX), got {dd!r}"
            )

    @classmethod
    def pop_from(cls, options: dict[str, Any]) -> RuntimeOptions:
        """Take the runtime keys out of a ``backend_options`` dict, validated."""
        dd = options.pop("dynamical_decoupling", None)
        if dd is True:
            dd = "XX"
        elif dd is False or (isinstance(dd, str) and dd.lower() in ("off", "none", "false")):
            dd = "off"
        return cls(
            resilience_level=options.pop("resilience_level", None),
            twirling=options.pop("twirling", None),
            dynamical_decoupling=dd,
        )

    def is_empty(self) -> bool:
        """Whether no option is set."""
        return not self.to_json()

    def to_json(self) -> dict[str, Any]:
        """The options that are set, as JSON values."""
        values = {
            "resilience_level": self.resilience_level,
            "twirling": self.twirling,
            "dynamical_decoupling": self.dynamical_decoupling,
        }
        return {k: v for k, v in values.items() if v is not None}

    def apply(self, primitive: Any) -> Any:
        """Set the options on a runtime primitive's ``options``; returns the primitive.

        Raises:
            ConfigurationError: the primitive has no such option (e.g. ``resilience_level`` on
                a Sampler).
        """
        options = getattr(primitive, "options", None)
        if self.resilience_level is not None:
            if options is None or not hasattr(options, "resilience_level"):
                raise ConfigurationError(
                    f"resilience_level: {type(primitive).__name__} has no error mitigation "
                    "(only the runtime Estimator has): use backend 'ibm:<name>' or a "
                    "Session/Batch, whose layers switch to the Estimator for it"
                )
            options.resilience_level = self.resilience_level
        if self.twirling is not None:
            _set(options, "twirling", "enable_gates", self.twirling, primitive)
        if self.dynamical_decoupling is not None:
            enable = self.dynamical_decoupling != "off"
            _set(options, "dynamical_decoupling", "enable", enable, primitive)
            if enable:
                sequence = self.dynamical_decoupling
                _set(options, "dynamical_decoupling", "sequence_type", sequence, primitive)
        return primitive


def _set(options: Any, group: str, name: str, value: Any, primitive: Any) -> None:
    holder = getattr(options, group, None)
    if holder is None or not hasattr(holder, name):
        raise ConfigurationError(
            f"{type(primitive).__name__} has no {group}.{name} option: runtime options need a "
            "qiskit-ibm-runtime primitive"
        )
    setattr(holder, name, value)


def runtime_extrapolator(mitigation: Any) -> str:
    """The runtime Estimator's ``zne.extrapolator`` for a :class:`~hybridqml.mitigation.Mitigation`.

    Richardson through S points is the polynomial of degree S - 1 (at most 7 on the runtime).

    Example:
        >>> from hybridqml.mitigation import Mitigation
        >>> runtime_extrapolator(Mitigation(zne=True))
        'polynomial_degree_2'
    """
    name = mitigation.extrapolator
    if name == "richardson":
        return f"polynomial_degree_{min(len(mitigation.scale_factors) - 1, 7)}"
    if name == "polynomial":
        return f"polynomial_degree_{min(mitigation.order, 7)}"
    return name  # "linear", "exponential"


def apply_mitigation(estimator: Any, mitigation: Any) -> dict[str, Any]:
    """Map a :class:`~hybridqml.mitigation.Mitigation` onto a runtime Estimator's own options.

    Readout -> ``resilience.measure_mitigation`` (TREX, twirled readout error extinction);
    ZNE -> ``resilience.zne_mitigation`` with ``zne.noise_factors`` and ``zne.extrapolator``;
    ``resilience_level`` 0 underneath, so nothing else is switched on.

    Returns:
        The options set, as JSON values (recorded in ``metrics.json``).

    Raises:
        ConfigurationError: the estimator has no such options.
    """
    options = getattr(estimator, "options", None)
    resilience = getattr(options, "resilience", None)
    if options is None or resilience is None or not hasattr(resilience, "zne_mitigation"):
        raise ConfigurationError(
            f"{type(estimator).__name__} has no resilience options: runtime mitigation needs "
            "a qiskit-ibm-runtime EstimatorV2"
        )
    options.resilience_level = 0
    resilience.measure_mitigation = bool(mitigation.readout)
    resilience.zne_mitigation = bool(mitigation.zne)
    done: dict[str, Any] = {
        "resilience.measure_mitigation": bool(mitigation.readout),
        "resilience.zne_mitigation": bool(mitigation.zne),
    }
    if mitigation.zne:
        resilience.zne.noise_factors = list(mitigation.scale_factors)
        resilience.zne.extrapolator = runtime_extrapolator(mitigation)
        done["resilience.zne.noise_factors"] = list(mitigation.scale_factors)
        done["resilience.zne.extrapolator"] = resilience.zne.extrapolator
    return done
