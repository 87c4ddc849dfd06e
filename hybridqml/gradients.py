"""Gradient rules as pure plans: which angles to run and how to recombine the results.

Nothing here executes a circuit. A rule's :meth:`~GradientRule.plan` returns a
:class:`GradientPlan`: an array of angle bindings for the executor (all of them run in one
primitive call) and a function that turns the executor's results into the Jacobian.

The rules work on a :class:`~hybridqml.circuits._shiftable.ShiftableCircuit`: the user's circuit
with every parameterized gate a Pauli rotation and one angle ``phi[k] = expr_k(theta)`` per
parameter occurrence. The parameter-shift rule (Mitarai et al., PRA 98, 032309 (2018); Schuld
et al., PRA 99, 032331 (2019)) then applies per occurrence,
``df/dphi_k = [f(phi + pi/2 e_k) - f(phi - pi/2 e_k)] / 2``, and the chain rule through the
expressions gives ``df/dtheta_j = sum_k dphi_k/dtheta_j * df/dphi_k``.

Example:
    >>> import numpy as np
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> shiftable = ShiftableCircuit(circuits.ry(1))
    >>> plan = ParameterShift().plan(shiftable, np.array([[0.3]]))
    >>> plan.angles.shape          # one sample x one occurrence x (+, -)
    (2, 1)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybridqml.circuits._gates import PAULI_ROTATIONS
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.exceptions import ConfigurationError

__all__ = [
    "PAULI_ROTATIONS",
    "SPSA",
    "FiniteDifference",
    "GradientPlan",
    "GradientRule",
    "ParameterShift",
    "ShiftableCircuit",
    "ShiftedRows",
    "get_rule",
]

DEFAULT_SHIFT = math.pi / 2
DEFAULT_FD_EPSILON = 1e-6
DEFAULT_SPSA_EPSILON = 0.01


# ---------------------------------------------------------------------------------------------
# plans and rules


@dataclass(frozen=True)
class ShiftedRows:
    """What each row of a shift-rule plan shifts: row ``i`` is ``phi + amount[i] e_occurrence[i]``.

    ``phi`` is the sample's unshifted occurrence angles, and the plan's ``recombine`` uses the
    rows only through the differences ``(f(+s) - f(-s)) / (2 sin s)`` of a row pair. An executor
    whose circuits hold an occurrence more than once (ZNE's folded circuits) uses this to
    shift every copy on its own and return, per row, the sum over copies (the per-copy rule,
    exact; see :mod:`hybridqml.mitigation._gate_angles`); other executors evaluate the rows as
    angles and ignore it.

    Attributes:
        occurrence: (M,) the occurrence each row shifts.
        amount: (M,) the shift (``+s`` or ``-s``).
    """

    occurrence: np.ndarray
    amount: np.ndarray

    def __getitem__(self, rows: slice) -> ShiftedRows:
        return ShiftedRows(self.occurrence[rows], self.amount[rows])

    def __len__(self) -> int:
        return int(self.occurrence.shape[0])

    def unshifted(self, angles: np.ndarray) -> np.ndarray:
        """The (M, K) angles ``angles`` with each row's shift taken back off."""
        out = np.array(angles, dtype=float)
        out[np.arange(len(self)), self.occurrence] -= self.amount
        return out


@dataclass(frozen=True)
class GradientPlan:
    """Angles to execute and how to turn their results into a Jacobian.

    Attributes:
        angles: (M, K) angle bindings, executed in one primitive call.
        recombine: Maps the (M, O) results to the (N, O, P) Jacobian d output / d parameter
            (columns of parameters not requested are zero).
        shifts: For shift-rule plans, the occurrence and shift of every row (else ``None``).
    """

    angles: np.ndarray
    recombine: Callable[[np.ndarray], np.ndarray]
    shifts: ShiftedRows | None = None


class GradientRule(ABC):
    """A way to compute d<O>/dtheta from extra circuit evaluations."""

    name: str = ""

    @abstractmethod
    def plan(
        self, shiftable: ShiftableCircuit, theta: np.ndarray, wrt: np.ndarray | None = None
    ) -> GradientPlan:
        """Plan the evaluations for the Jacobian at ``theta`` (N, P).

        Args:
            shiftable: The circuit in shiftable form.
            theta: Parameter values, inputs then weights, shape (N, P).
            wrt: Boolean mask (P,) of the parameters to differentiate; all when ``None``.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _mask(shiftable: ShiftableCircuit, wrt: np.ndarray | None) -> np.ndarray:
    if wrt is None:
        return np.ones(shiftable.n_params, dtype=bool)
    return np.asarray(wrt, dtype=bool)


class ParameterShift(GradientRule):
    """The exact two-term parameter-shift rule, applied per parameter occurrence.

    Runs ``N x 2 x K'`` bindings, K' being the occurrences that depend on a requested parameter.

    Example:
        >>> import numpy as np
        >>> from hybridqml import circuits
        >>> s = ShiftableCircuit(circuits.ry(1))
        >>> plan = ParameterShift().plan(s, np.array([[0.0]]))
        >>> f = lambda a: -np.sin(a)                      # <Z> of the textbook circuit
        >>> float(plan.recombine(f(plan.angles))[0, 0, 0])  # d(-sin x)/dx at 0
        -1.0
    """

    name = "parameter-shift"

    def plan(
        self, shiftable: ShiftableCircuit, theta: np.ndarray, wrt: np.ndarray | None = None
    ) -> GradientPlan:
        """Plan ``phi +- pi/2`` for every occurrence that depends on a requested parameter."""
        mask = _mask(shiftable, wrt)
        occ = np.flatnonzero(shiftable.depends[:, mask].any(axis=1))
        n, kk = theta.shape[0], len(occ)
        phi = shiftable.angles(theta)  # (N, K)
        shifted = np.repeat(phi[:, None, None, :], 2, axis=2)
        shifted = np.repeat(shifted, kk, axis=1)  # (N, K', 2, K)
        rows = np.arange(kk)
        shifted[:, rows, 0, occ] += DEFAULT_SHIFT
        shifted[:, rows, 1, occ] -= DEFAULT_SHIFT
        jac_phi = shiftable.jacobian(theta)[:, occ, :] * mask  # (N, K', P)

        def recombine(results: np.ndarray) -> np.ndarray:
            r = results.reshape(n, kk, 2, results.shape[-1])
            d_phi = 0.5 * (r[:, :, 0, :] - r[:, :, 1, :])  # (N, K', O)
            return np.einsum("nko,nkp->nop", d_phi, jac_phi)

        shifts = ShiftedRows(
            np.tile(np.repeat(occ, 2), n), np.tile([DEFAULT_SHIFT, -DEFAULT_SHIFT], n * kk)
        )
        return GradientPlan(shifted.reshape(n * kk * 2, shiftable.n_angles), recombine, shifts)


class FiniteDifference(GradientRule):
    """Central finite differences in the spec parameters: ``[f(t + h e_j) - f(t - h e_j)] / 2h``.

    Biased (O(h^2)) and ill-suited to shot noise; useful as an independent check.

    Args:
        epsilon: The step ``h``.
    """

    name = "finite-diff"

    def __init__(self, *, epsilon: float = DEFAULT_FD_EPSILON) -> None:
        if not epsilon > 0:
            raise ConfigurationError(f"epsilon must be > 0, got {epsilon}")
        self.epsilon = float(epsilon)

    def plan(
        self, shiftable: ShiftableCircuit, theta: np.ndarray, wrt: np.ndarray | None = None
    ) -> GradientPlan:
        """Plan ``theta +- h`` for each requested parameter."""
        mask = _mask(shiftable, wrt)
        cols = np.flatnonzero(mask)
        n, p, h = theta.shape[0], shiftable.n_params, self.epsilon
        shifted = np.repeat(theta[:, None, None, :], 2, axis=2)
        shifted = np.repeat(shifted, len(cols), axis=1)  # (N, J, 2, P)
        rows = np.arange(len(cols))
        shifted[:, rows, 0, cols] += h
        shifted[:, rows, 1, cols] -= h
        angles = shiftable.angles(shifted.reshape(-1, p))

        def recombine(results: np.ndarray) -> np.ndarray:
            r = results.reshape(n, len(cols), 2, results.shape[-1])
            out = np.zeros((n, r.shape[-1], p))
            out[:, :, cols] = np.moveaxis((r[:, :, 0] - r[:, :, 1]) / (2 * h), 1, 2)
            return out

        return GradientPlan(angles, recombine)

    def __repr__(self) -> str:
        return f"FiniteDifference(epsilon={self.epsilon})"


class SPSA(GradientRule):
    """Simultaneous-perturbation stochastic approximation (Spall, IEEE TAC 37, 332 (1992)).

    For each sample, ``batch_size`` random directions ``d`` in {-1, +1}^P' give the estimate
    ``[f(t + c d) - f(t - c d)] / (2 c) * d``, averaged. 2 x ``batch_size`` evaluations per
    sample regardless of P: cheap and noisy.

    Args:
        epsilon: Perturbation size ``c``.
        batch_size: Directions averaged per sample.
        seed: Seed of the direction generator (drawn from once per plan, so successive plans
            use fresh directions).
    """

    name = "spsa"

    def __init__(
        self, *, epsilon: float = DEFAULT_SPSA_EPSILON, batch_size: int = 1, seed: int | None = None
    ) -> None:
        if not epsilon > 0:
            raise ConfigurationError(f"epsilon must be > 0, got {epsilon}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.epsilon = float(epsilon)
        self.batch_size = batch_size
        self._rng = np.random.default_rng(seed)

    def random_state(self) -> dict[str, Any]:
        """State of the direction generator (for exact resume from a checkpoint)."""
        return dict(self._rng.bit_generator.state)

    def set_random_state(self, state: Mapping[str, Any]) -> None:
        """Continue the direction sequence from a :meth:`random_state` snapshot."""
        self._rng.bit_generator.state = dict(state)

    def plan(
        self, shiftable: ShiftableCircuit, theta: np.ndarray, wrt: np.ndarray | None = None
    ) -> GradientPlan:
        """Plan ``theta +- c d`` for random sign vectors ``d`` over the requested parameters."""
        mask = _mask(shiftable, wrt)
        n, p, c, b = theta.shape[0], shiftable.n_params, self.epsilon, self.batch_size
        d = self._rng.choice([-1.0, 1.0], size=(n, b, p)) * mask
        shifted = np.stack([theta[:, None, :] + c * d, theta[:, None, :] - c * d], axis=2)
        angles = shiftable.angles(shifted.reshape(-1, p))

        def recombine(results: np.ndarray) -> np.ndarray:
            r = results.reshape(n, b, 2, results.shape[-1])
            diff = (r[:, :, 0] - r[:, :, 1]) / (2 * c)  # (N, B, O)
            return np.einsum("nbo,nbp->nop", diff, d) / b

        return GradientPlan(angles, recombine)

    def __repr__(self) -> str:
        return f"SPSA(epsilon={self.epsilon}, batch_size={self.batch_size})"


_RULES: dict[str, type[GradientRule]] = {
    ParameterShift.name: ParameterShift,
    FiniteDifference.name: FiniteDifference,
    SPSA.name: SPSA,
}


def get_rule(gradient: str | GradientRule, *, seed: int | None = None) -> GradientRule:
    """Resolve a rule name (``"parameter-shift"``, ``"finite-diff"``, ``"spsa"``) or instance.

    Args:
        gradient: A rule name or a :class:`GradientRule` (returned unchanged).
        seed: Seed for stochastic rules (SPSA directions).

    Raises:
        ConfigurationError: for unknown names.

    Example:
        >>> get_rule("finite-diff")
        FiniteDifference(epsilon=1e-06)
    """
    if isinstance(gradient, GradientRule):
        return gradient
    if gradient == SPSA.name:
        return SPSA(seed=seed)
    try:
        return _RULES[gradient]()
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"unknown gradient {gradient!r}; choose one of {', '.join(_RULES)} "
            "or pass a GradientRule instance"
        ) from None
