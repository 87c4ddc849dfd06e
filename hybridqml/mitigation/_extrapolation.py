"""Zero-noise extrapolation: values at noise scales ``lambda_i`` -> the value at ``lambda = 0``.

Richardson, linear and polynomial extrapolation (mitiq's ``RichardsonFactory``,
``LinearFactory`` and ``PolyFactory``) are *linear* maps of the measured values: the
zero-noise estimate is ``sum_i w_i y_i`` with weights that depend on the scale factors only,
the intercept of a (least-squares) polynomial fit. :func:`extrapolation_weights` computes them
once per layer (a Vandermonde least-squares solve), so a whole (scales, bindings, outputs)
array is extrapolated with one matrix product, and the parameter-shift rule stays exact through
it. The tests check these weights against mitiq's ``Factory.extrapolate``; they are not taken
from mitiq at run time because importing mitiq loads cirq and PennyLane (about 10 s per
process). The exponential extrapolator is not linear and is mitiq's own
(``ExpFactory.extrapolate``, imported when used).

Example:
    >>> extrapolation_weights((1, 3, 5), "richardson").round(6).tolist()
    [1.875, -1.25, 0.375]
    >>> float(extrapolate((1, 2), np.array([0.8, 0.6]), "linear").round(6))
    1.0
"""

from __future__ import annotations

import numpy as np

from hybridqml.exceptions import ConfigurationError, MissingDependencyError

__all__ = ["extrapolate", "extrapolation_weights"]


def extrapolation_weights(
    scale_factors: tuple[float, ...] | list[float], extrapolator: str, order: int = 2
) -> np.ndarray:
    """Weights ``w`` (S,) with ``value(0) = w @ values`` for a linear extrapolator.

    Args:
        scale_factors: The S noise scale factors.
        extrapolator: ``"richardson"`` (degree S - 1, through every point), ``"linear"``
            (least-squares line) or ``"polynomial"`` (least squares of degree ``order``).
        order: Degree for ``"polynomial"``.

    Raises:
        ConfigurationError: an unknown or non-linear extrapolator, or too few scale factors.
    """
    x = np.asarray(scale_factors, dtype=float)
    degree = {"richardson": len(x) - 1, "linear": 1, "polynomial": order}.get(extrapolator)
    if degree is None:
        raise ConfigurationError(
            f"{extrapolator!r} is not a linear extrapolator (richardson, linear, polynomial)"
        )
    if not 1 <= degree < len(x) + (extrapolator == "richardson"):
        raise ConfigurationError(
            f"{extrapolator} extrapolation of degree {degree} needs more than {degree} distinct "
            f"scale factors, got {len(x)}"
        )
    vandermonde = np.vander(x, degree + 1, increasing=True)  # columns 1, x, x^2, ...
    # intercept of the least-squares fit: first row of the pseudo-inverse
    return np.linalg.pinv(vandermonde)[0]


def extrapolate(
    scale_factors: tuple[float, ...] | list[float],
    values: np.ndarray,
    extrapolator: str,
    order: int = 2,
) -> np.ndarray:
    """Zero-noise values from ``values`` (S, ...) measured at the S scale factors.

    With ``"exponential"``, a value whose fit fails in mitiq (e.g. values of mixed sign, which
    an exponential decay to 0 cannot pass through) falls back to Richardson extrapolation.

    Raises:
        ConfigurationError: see :func:`extrapolation_weights`.
        MissingDependencyError: ``"exponential"`` without mitiq installed.
    """
    values = np.asarray(values, dtype=float)
    if extrapolator != "exponential":
        weights = extrapolation_weights(scale_factors, extrapolator, order)
        return np.tensordot(weights, values, axes=1)
    try:
        from mitiq.zne.inference import ExpFactory
    except ImportError as exc:  # pragma: no cover - mitiq is in the dev extra
        raise MissingDependencyError(
            "extrapolator='exponential' uses mitiq: pip install 'hybridqml[mitigation]'",
            package="mitiq",
        ) from exc
    flat = values.reshape(values.shape[0], -1)
    out = np.empty(flat.shape[1])
    for j in range(flat.shape[1]):
        try:
            out[j] = ExpFactory.extrapolate(list(scale_factors), list(flat[:, j]), asymptote=0.0)
        except Exception:  # a failed fit (e.g. values of mixed sign): fall back to Richardson
            weights = extrapolation_weights(scale_factors, "richardson")
            out[j] = weights @ flat[:, j]
    return out.reshape(values.shape[1:])
