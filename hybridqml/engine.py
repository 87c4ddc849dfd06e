"""The numpy-level quantum model: parameters in, expectation values and Jacobians out.

A :class:`CircuitEngine` ties together the three lower layers of the architecture: the circuit
in shiftable form (:mod:`hybridqml.gradients`), the executor (:mod:`hybridqml.execution`) and
the gradient rule. It knows nothing about torch; :mod:`hybridqml.autograd` wraps it.

Example:
    >>> import numpy as np
    >>> from hybridqml import circuits
    >>> engine = CircuitEngine(circuits.ry(1))
    >>> engine.forward(np.array([[np.pi / 2]])).round(6).tolist()   # <Z> = -sin(x)
    [[-1.0]]
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import numpy as np

from hybridqml.circuits import ParameterizedCircuit
from hybridqml.exceptions import BackendError, CircuitError
from hybridqml.execution import DEFAULT_OPTIMIZATION_LEVEL, Executor, make_executor
from hybridqml.gradients import GradientRule, ShiftableCircuit, get_rule

__all__ = ["CircuitEngine"]


class CircuitEngine:
    """Evaluates a :class:`~hybridqml.circuits.ParameterizedCircuit` and its Jacobian.

    Parameter arrays have shape (N, P): the spec's inputs then its weights. Each
    :meth:`forward` and each :meth:`jacobian` is exactly one primitive call.

    Args:
        spec: The circuit specification.
        backend: Backend spec, see :func:`hybridqml.execution.make_executor`.
        shots: Shots per evaluation, ``None`` for exact (on ``"aer"``).
        seed: Seed for shot sampling (and SPSA directions when ``gradient="spsa"``).
        gradient: ``"parameter-shift"``, ``"finite-diff"``, ``"spsa"`` or a
            :class:`~hybridqml.gradients.GradientRule`.
        backend_options: Extra ``AerSimulator`` options for Aer-based backends.
        optimization_level: Transpiler preset level.
    """

    def __init__(
        self,
        spec: ParameterizedCircuit,
        *,
        backend: Any = "aer",
        shots: int | None = None,
        seed: int | None = None,
        gradient: str | GradientRule = "parameter-shift",
        backend_options: Mapping[str, Any] | None = None,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
    ) -> None:
        if not isinstance(spec, ParameterizedCircuit):
            raise CircuitError(
                f"expected a ParameterizedCircuit, got {type(spec).__name__}; build one with "
                "hybridqml.circuits.ParameterizedCircuit(...), circuits.ry() or "
                "circuits.variational()"
            )
        self.spec = spec
        self.rule = get_rule(gradient, seed=seed)
        self.shiftable = ShiftableCircuit(spec)
        self._config = {
            "backend": backend,
            "shots": shots,
            "seed": seed,
            "backend_options": dict(backend_options or {}),
            "optimization_level": optimization_level,
        }
        self._executor: Executor | None = self._build_executor()

    def _build_executor(self) -> Executor:
        return make_executor(self.shiftable, **self._config)

    @property
    def executor(self) -> Executor:
        """The executor running this engine's circuits."""
        if self._executor is None:
            raise BackendError(
                "this layer was unpickled without its backend object (it could not be pickled); "
                "attach one with layer.set_backend(...)"
            )
        return self._executor

    @property
    def backend_name(self) -> str:
        """Name of the backend in use."""
        return self.executor.name

    @property
    def shots(self) -> int | None:
        """Shots per evaluation, ``None`` when exact."""
        return self.executor.shots

    def set_backend(self, backend: Any, **options: Any) -> None:
        """Switch to another backend (same spec and gradient rule); options as in ``__init__``."""
        config = {**self._config, "backend": backend, **options}
        self._executor = make_executor(self.shiftable, **config)
        self._config = config

    def forward(self, theta: np.ndarray) -> np.ndarray:
        """Expectation values (N, O) at parameter values ``theta`` (N, P): one primitive call."""
        return self.executor.run(self.shiftable.angles(theta))

    def jacobian(self, theta: np.ndarray, wrt: np.ndarray | None = None) -> np.ndarray:
        """Jacobian (N, O, P) d output / d parameter: one primitive call.

        Args:
            theta: Parameter values (N, P).
            wrt: Boolean mask (P,) of the parameters to differentiate (others get zeros).
        """
        plan = self.rule.plan(self.shiftable, np.asarray(theta, dtype=float), wrt)
        return plan.recombine(self.executor.run(plan.angles))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_executor"] = None
        backend = self._config["backend"]
        if not isinstance(backend, str):
            try:
                pickle.dumps(backend)
            except Exception:
                state["_config"] = {**self._config, "backend": None}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._config["backend"] is not None:
            self._executor = self._build_executor()

    def __repr__(self) -> str:
        name = self._executor.name if self._executor is not None else None
        return f"CircuitEngine(backend={name!r}, shots={self._config['shots']}, rule={self.rule!r})"
