"""What a layer mitigates: :class:`Mitigation`, and the strings that name one.

``mitigation=`` on :class:`~hybridqml.QuantumLayer` and :class:`~hybridqml.SamplerLayer` (and
``hybridqml train --mitigation``) takes ``None``/``"none"``, ``"readout"``, ``"zne"``,
``"readout+zne"`` or a :class:`Mitigation` for the details (scale factors, extrapolator,
calibration, simplex projection).

Example:
    >>> as_mitigation("readout+zne").label
    'readout+zne'
    >>> as_mitigation(None) is None
    True
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Final

from hybridqml.exceptions import ConfigurationError

__all__ = [
    "CALIBRATIONS",
    "DEFAULT_CALIBRATION_SHOTS",
    "DEFAULT_MAX_CALIBRATION_AGE",
    "DEFAULT_SCALE_FACTORS",
    "EXTRAPOLATORS",
    "LINEAR_EXTRAPOLATORS",
    "MITIGATION_CHOICES",
    "SHIFT_RULES",
    "Mitigation",
    "as_mitigation",
]

MITIGATION_CHOICES: Final[tuple[str, ...]] = ("none", "readout", "zne", "readout+zne")
"""The names ``mitigation=`` and ``--mitigation`` accept."""
EXTRAPOLATORS: Final[tuple[str, ...]] = ("richardson", "linear", "polynomial", "exponential")
"""Zero-noise extrapolators (mitiq's Richardson, Linear, Poly and Exp factories)."""
LINEAR_EXTRAPOLATORS: Final[tuple[str, ...]] = ("richardson", "linear", "polynomial")
"""Extrapolators that are linear maps of the measured values: parameter shift stays exact."""
SHIFT_RULES: Final[tuple[str, ...]] = ("per-copy", "shared")
"""How parameter shift differentiates folded circuits (see :class:`Mitigation`)."""
CALIBRATIONS: Final[tuple[str, ...]] = ("auto", "noise_model", "circuits")
"""Readout calibration sources (see :class:`Mitigation`)."""
DEFAULT_SCALE_FACTORS: Final[tuple[float, ...]] = (1.0, 3.0, 5.0)
"""Noise scale factors of zero-noise extrapolation: the circuit, then one and two global folds."""
DEFAULT_CALIBRATION_SHOTS: Final[int] = 10_000
"""Shots of each of the two calibration circuits (all qubits in |0>, all in |1>)."""
DEFAULT_MAX_CALIBRATION_AGE: Final[float] = 3600.0
"""Seconds after which a calibration measured with circuits is measured again."""


@dataclass(frozen=True, kw_only=True)
class Mitigation:
    """Error mitigation applied to every evaluation of a layer (forward and every shifted one).

    Both techniques are linear in the measured values (with the default extrapolators), so the
    parameter-shift gradient of the mitigated values is exact: with ZNE, because every folded
    copy of a rotation is shifted on its own (``shift_rule="per-copy"``).

    Attributes:
        readout: Readout-error mitigation (M3, Nation et al., PRX Quantum 2, 040326 (2021)): the
            measured distribution is corrected with the inverse of the per-qubit readout
            matrices. With shots, ``mthree`` solves it on the observed bitstrings
            (quasi-probabilities: entries may be negative, they sum to 1); with ``shots=None``
            the same tensored inverse is applied to the exact noisy distribution.
        zne: Zero-noise extrapolation (Temme et al., PRL 119, 180509 (2017); Giurgica-Tiron et
            al., arXiv:2005.10921): the transpiled circuit is folded, ``U (U^dagger U)^k`` plus
            a partial fold of its last gates, to each scale factor, all folded circuits run in
            the same primitive call, and the values are extrapolated to zero noise.
        scale_factors: Noise scale factors, each >= 1, distinct, at least two (1 is the
            unfolded circuit).
        extrapolator: ``"richardson"`` (default; exact polynomial through the points),
            ``"linear"`` (least-squares line), ``"polynomial"`` (least squares of ``order``)
            or ``"exponential"`` (mitiq's ``ExpFactory``; not linear: the shift rule then
            differentiates an approximation, and mitiq is imported).
        order: Degree of the ``"polynomial"`` extrapolator.
        calibration: Where readout matrices come from: ``"noise_model"`` (the simulator's own
            readout errors: exact and free), ``"circuits"`` (two calibration circuits run on
            the backend, ``calibration_shots`` each, counted in budgets), or ``"auto"``
            (the noise model when the backend has one, else circuits).
        calibration_shots: Shots of each calibration circuit.
        max_calibration_age: Seconds after which circuit calibrations are measured again.
        project: Probability outputs only: project each mitigated distribution onto the
            probability simplex (nearest point in the 2-norm). Off by default: the projection
            is not linear, so it biases the values and makes the shift rule approximate.
        shift_rule: How parameter-shift gradients go through ZNE's folded circuits, where a
            rotation appears several times (``G``, ``G^dagger``, ``G``, ...) with one angle.
            ``"per-copy"`` (default, exact): each copy is shifted on its own and the chain rule
            sums them; a backward pass then runs about ``sum(scale_factors)`` times the
            unmitigated circuits instead of ``len(scale_factors)`` times (3x more with
            ``(1, 3, 5)``). ``"shared"``: the two-term rule on the shared angle, as cheap as
            the forward pass but approximate (with noise between the copies a value is not a
            degree-one trigonometric polynomial of the angle).

    Example:
        >>> m = Mitigation(zne=True, scale_factors=(1, 2, 3), extrapolator="linear")
        >>> m.label, m.cost_multiplier
        ('zne', 3.0)
    """

    readout: bool = False
    zne: bool = False
    scale_factors: tuple[float, ...] = DEFAULT_SCALE_FACTORS
    extrapolator: str = "richardson"
    order: int = 2
    calibration: str = "auto"
    calibration_shots: int = DEFAULT_CALIBRATION_SHOTS
    max_calibration_age: float = DEFAULT_MAX_CALIBRATION_AGE
    project: bool = False
    shift_rule: str = "per-copy"

    def __post_init__(self) -> None:
        try:
            factors = tuple(float(s) for s in self.scale_factors)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"scale_factors must be a sequence of numbers >= 1, got {self.scale_factors!r}"
            ) from None
        if len(factors) < 2 or len(set(factors)) != len(factors) or min(factors) < 1:
            raise ConfigurationError(
                f"scale_factors must be at least two distinct numbers >= 1 (e.g. (1, 3, 5)), "
                f"got {self.scale_factors!r}"
            )
        object.__setattr__(self, "scale_factors", factors)
        if self.extrapolator not in EXTRAPOLATORS:
            raise ConfigurationError(
                f"extrapolator must be one of {', '.join(EXTRAPOLATORS)}, got {self.extrapolator!r}"
            )
        if self.extrapolator == "polynomial" and not (
            _int(self.order) and 1 <= self.order < len(factors)
        ):
            raise ConfigurationError(
                f"order must be an int from 1 to len(scale_factors) - 1 = {len(factors) - 1}, "
                f"got {self.order!r}"
            )
        if self.shift_rule not in SHIFT_RULES:
            raise ConfigurationError(
                f"shift_rule must be one of {', '.join(SHIFT_RULES)}, got {self.shift_rule!r}"
            )
        if self.calibration not in CALIBRATIONS:
            raise ConfigurationError(
                f"calibration must be one of {', '.join(CALIBRATIONS)}, got {self.calibration!r}"
            )
        if not _int(self.calibration_shots) or self.calibration_shots < 1:
            raise ConfigurationError(
                f"calibration_shots must be a positive int, got {self.calibration_shots!r}"
            )
        if not isinstance(self.max_calibration_age, numbers.Real) or self.max_calibration_age <= 0:
            raise ConfigurationError(
                f"max_calibration_age must be a positive number of seconds, got "
                f"{self.max_calibration_age!r}"
            )

    @property
    def label(self) -> str:
        """``"none"``, ``"readout"``, ``"zne"`` or ``"readout+zne"``."""
        parts = [name for name, on in (("readout", self.readout), ("zne", self.zne)) if on]
        return "+".join(parts) or "none"

    @property
    def linear(self) -> bool:
        """Whether the mitigated values are a linear map of the measured ones (exact gradients)."""
        return (not self.zne or self.extrapolator in LINEAR_EXTRAPOLATORS) and not self.project

    @property
    def cost_multiplier(self) -> float:
        """Circuits run per unmitigated circuit (ZNE: one per scale factor; calibration aside)."""
        return float(len(self.scale_factors)) if self.zne else 1.0

    @property
    def gradient_cost_multiplier(self) -> float:
        """Shifted circuits per unmitigated one in a parameter-shift backward pass (about).

        ``"per-copy"`` shifts each folded copy of a rotation on its own: ``sum(scale_factors)``
        (exact for odd integer factors; partial folds copy only some gates).

        Example:
            >>> Mitigation(zne=True).gradient_cost_multiplier
            9.0
        """
        if self.zne and self.shift_rule == "per-copy":
            return float(sum(self.scale_factors))
        return self.cost_multiplier

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON values (recorded in ``metrics.json``)."""
        out: dict[str, Any] = {"mode": self.label}
        if self.readout:
            out.update(calibration=self.calibration, project=self.project)
            if self.calibration != "noise_model":
                out["calibration_shots"] = self.calibration_shots
        if self.zne:
            out.update(
                scale_factors=list(self.scale_factors),
                extrapolator=self.extrapolator,
                shift_rule=self.shift_rule,
            )
            if self.extrapolator == "polynomial":
                out["order"] = self.order
        return out


def _int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def as_mitigation(spec: Any) -> Mitigation | None:
    """A :class:`Mitigation` from ``mitigation=``'s value (``None`` when nothing is mitigated).

    Raises:
        ConfigurationError: an unknown name or type.

    Example:
        >>> as_mitigation("zne").scale_factors
        (1.0, 3.0, 5.0)
    """
    if spec is None:
        return None
    if isinstance(spec, Mitigation):
        return spec if spec.readout or spec.zne else None
    if isinstance(spec, str):
        name = spec.strip().lower().replace(" ", "")
        if name in ("zne+readout",):
            name = "readout+zne"
        if name in MITIGATION_CHOICES:
            if name == "none":
                return None
            return Mitigation(readout="readout" in name, zne="zne" in name)
    raise ConfigurationError(
        f"mitigation must be one of {', '.join(repr(c) for c in MITIGATION_CHOICES)}, None or a "
        f"hybridqml.mitigation.Mitigation, got {spec!r}"
    )
