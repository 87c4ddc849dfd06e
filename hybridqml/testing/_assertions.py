"""How the conformance checks compare numbers and say what differs.

Every check reports failures as messages naming the circuit, the quantity, the largest
difference, where it is, both numbers and the tolerance (:func:`compare`); sampled values are
held to the law of their shots (:func:`law_of_shots`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hybridqml.testing._cases import SIGMAS, Case

__all__ = ["compare", "law_of_shots"]


def compare(case: Case, what: str, got: Any, want: Any, atol: float, against: str) -> list[str]:
    """One failure message when ``got`` and ``want`` differ by more than ``atol`` anywhere.

    Example:
        >>> from hybridqml.testing._cases import cases
        >>> (message,) = compare(cases()[0], "values", [[0.5]], [[-0.5]], 1e-8, "Statevector")
        >>> message.partition("> ")[2]
        'tolerance 1e-08 at index (0, 0) (backend 0.5, Statevector -0.5)'
    """
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return [f"{case.describe()}: {what} have shape {got.shape}, expected {want.shape}"]
    err = np.where(np.isfinite(got), np.abs(got - want), np.inf)
    if err.size == 0 or err.max() <= atol:
        return []
    at = np.unravel_index(int(np.argmax(err)), err.shape)
    return [
        f"{case.describe()}: {what}: max |backend - {against}| = {err[at]:.3g} > tolerance "
        f"{atol:.3g} at index {tuple(int(i) for i in at)} (backend {got[at]:.8g}, {against} "
        f"{want[at]:.8g})"
    ]


def law_of_shots(
    case: Case, angles: Sequence[float], estimates: np.ndarray, exact: np.ndarray, shots: int
) -> list[str]:
    """Mean and variance of the estimates at each angle against the binomial law.

    Args:
        case: The circuit (for messages).
        angles: The A angles; ``estimates`` holds the same number of estimates of each, in
            order.
        estimates: (A * R,) estimates of one +-1 observable, each from ``shots`` shots.
        exact: (A,) exact values.
        shots: Shots per estimate.

    Returns:
        Failure messages (empty when the mean is within :data:`SIGMAS` standard errors and the
        sample variance within :data:`SIGMAS` of its own standard error of the law's).
    """
    failures = []
    for angle, rows, m in zip(angles, estimates.reshape(len(angles), -1), exact, strict=True):
        variance = (1 - m**2) / shots  # of the mean of `shots` outcomes +-1 with mean m
        mean_error = abs(rows.mean() - m)
        if mean_error > SIGMAS * np.sqrt(variance / rows.size) + 1e-12:
            failures.append(
                f"{case.describe()}: at x={angle} the mean of {rows.size} estimates is "
                f"{rows.mean():.6g}, exact {m:.6g}: off by {mean_error:.3g}, more than "
                f"{SIGMAS:g} standard errors ({np.sqrt(variance / rows.size):.3g})"
            )
        ratio = rows.var(ddof=1) / variance
        if abs(ratio - 1) > SIGMAS * np.sqrt(2 / (rows.size - 1)):
            failures.append(
                f"{case.describe()}: at x={angle} the estimates' variance is {ratio:.3g} times "
                f"the binomial law's (1 - m^2)/shots = {variance:.3g}"
            )
    return failures
