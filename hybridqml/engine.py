"""The quantum model behind a layer: parameters in, expectation values and Jacobians out.

A :class:`CircuitEngine` ties together the three lower layers of the architecture: the circuit
in shiftable form (:mod:`hybridqml.gradients`), the executor (:mod:`hybridqml.execution`) and
the gradient rule. Its :meth:`~CircuitEngine.forward` / :meth:`~CircuitEngine.jacobian` API is
numpy; :mod:`hybridqml.autograd` wraps it for torch. With ``backend="torch"`` and a torch-native
gradient (``"backprop"``, ``"adjoint"``) it also holds a
:class:`~hybridqml.torchsim.simulator.TorchSimulator` of the circuit, which the autograd layer
runs directly on tensors.

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
from hybridqml.exceptions import BackendError, CircuitError, ConfigurationError
from hybridqml.execution import (
    DEFAULT_OPTIMIZATION_LEVEL,
    TORCH_BACKEND,
    TORCH_OPTIONS,
    Executor,
    make_executor,
    valid_seed,
)
from hybridqml.gradients import GradientRule, ShiftableCircuit, get_rule

__all__ = ["NATIVE_GRADIENTS", "CircuitEngine", "default_gradient"]

#: Gradients computed by torch itself; they need ``backend="torch"``.
NATIVE_GRADIENTS = ("backprop", "adjoint")
#: Smallest finite-difference / SPSA step accepted with shot noise: the noise of a difference
#: quotient grows like 1 / (step * sqrt(shots)), so tiny steps turn gradients into noise.
MIN_STEP_WITH_SHOTS = 0.05


def _check_step_with_shots(rule: GradientRule | None, shots: int | None) -> None:
    epsilon = getattr(rule, "epsilon", None)
    if shots is None or epsilon is None or epsilon >= MIN_STEP_WITH_SHOTS:
        return
    noise = 1.0 / (2.0 * epsilon * shots**0.5)
    raise ConfigurationError(
        f"gradient {rule.name!r} with step {epsilon:g} under {shots}-shot noise would be noise "
        f"itself (about +-{noise:.3g} per derivative); use gradient='parameter-shift' (unbiased "
        f"with shots) or a step >= {MIN_STEP_WITH_SHOTS}, e.g. "
        f"{type(rule).__name__}(epsilon=0.1)"
    )


def default_gradient(backend: Any) -> str:
    """The gradient used when none is chosen: ``"backprop"`` on ``"torch"``, else parameter shift.

    Example:
        >>> default_gradient("torch"), default_gradient("aer")
        ('backprop', 'parameter-shift')
    """
    return "backprop" if _is_torch(backend) else "parameter-shift"


def _is_torch(backend: Any) -> bool:
    return isinstance(backend, str) and backend == TORCH_BACKEND


class CircuitEngine:
    """Evaluates a :class:`~hybridqml.circuits.ParameterizedCircuit` and its Jacobian.

    Parameter arrays have shape (N, P): the spec's inputs then its weights. Each
    :meth:`forward` and each :meth:`jacobian` is exactly one primitive call (one batched
    simulation on ``"torch"``).

    Args:
        spec: The circuit specification.
        backend: Backend spec, see :func:`hybridqml.execution.make_executor`.
        shots: Shots per evaluation, ``None`` for exact (on ``"aer"``).
        seed: Seed for shot sampling (and SPSA directions when ``gradient="spsa"``).
        gradient: ``"parameter-shift"``, ``"finite-diff"``, ``"spsa"`` or a
            :class:`~hybridqml.gradients.GradientRule`; with ``backend="torch"`` also
            ``"backprop"`` or ``"adjoint"``. ``None`` picks :func:`default_gradient`.
        backend_options: Extra ``AerSimulator`` options for Aer-based backends
            (``{"max_memory_bytes": ...}`` for ``"torch"``).
        optimization_level: Transpiler preset level.

    Attributes:
        gradient: Name of the gradient in use.
        rule: The shift-plan rule, or ``None`` for torch-native gradients.
        simulator: The torch simulator of the circuit (torch-native gradients only).

    Raises:
        ConfigurationError: unknown gradient, a torch-native gradient on another backend, or
            shots with ``backend="torch"``.
    """

    def __init__(
        self,
        spec: ParameterizedCircuit,
        *,
        backend: Any = "aer",
        shots: int | None = None,
        seed: int | None = None,
        gradient: str | GradientRule | None = None,
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
        seed = valid_seed(seed)
        self._requested = gradient
        self._config = {
            "backend": backend,
            "shots": shots,
            "seed": seed,
            "backend_options": dict(backend_options or {}),
            "optimization_level": optimization_level,
        }
        self.gradient, self.rule = self._resolve_gradient(gradient, backend, seed)
        self.simulator = self._build_simulator()
        self._shiftable: ShiftableCircuit | None = None
        # torch-native gradients need neither the shiftable form nor an executor up front
        self._executor: Executor | None = None if self.simulator else self._build_executor()
        _check_step_with_shots(self.rule, self.shots)

    @property
    def shiftable(self) -> ShiftableCircuit:
        """The circuit in per-occurrence Pauli-rotation form (built on first use)."""
        if self._shiftable is None:
            self._shiftable = ShiftableCircuit(self.spec)
        return self._shiftable

    def _resolve_gradient(
        self, gradient: str | GradientRule | None, backend: Any, seed: int | None
    ) -> tuple[str, GradientRule | None]:
        if gradient is None:
            gradient = default_gradient(backend)
        if isinstance(gradient, str) and gradient in NATIVE_GRADIENTS:
            if not _is_torch(backend):
                raise ConfigurationError(
                    f"gradient {gradient!r} is computed by torch and needs backend='torch'; "
                    "use gradient='parameter-shift' (or leave it unset) on other backends"
                )
            return gradient, None
        try:
            rule = get_rule(gradient, seed=seed)
        except ConfigurationError:
            if not _is_torch(backend):
                raise
            raise ConfigurationError(
                f"unknown gradient {gradient!r} for backend='torch'; choose one of "
                f"{', '.join(NATIVE_GRADIENTS)}, parameter-shift, finite-diff, spsa, or pass a "
                "GradientRule instance"
            ) from None
        return rule.name, rule

    def _build_simulator(self):
        if self.rule is not None or not _is_torch(self._config["backend"]):
            return None
        from hybridqml.torchsim.simulator import TorchSimulator

        if self._config["shots"] is not None:
            raise ConfigurationError(
                f"the torch backend is exact and has no shots (got shots="
                f"{self._config['shots']}); use backend='aer' with shots=... for sampling"
            )
        opts = self._config["backend_options"]
        unknown = set(opts) - set(TORCH_OPTIONS)
        if unknown:
            raise ConfigurationError(
                f"unknown backend_options for the torch backend: {sorted(unknown)}; "
                f"it accepts {list(TORCH_OPTIONS)}"
            )
        spec = self.spec
        return TorchSimulator(spec.circuit, spec.parameters, spec.observables, **opts)

    def _build_executor(self) -> Executor:
        return make_executor(self.shiftable, **self._config)

    @property
    def executor(self) -> Executor:
        """The executor running this engine's circuits (built on first use for torch gradients)."""
        if self._executor is None and self._config["backend"] is not None:
            self._executor = self._build_executor()
        if self._executor is None:
            raise BackendError(
                "this layer was unpickled without its backend object (it could not be pickled); "
                "attach one with layer.set_backend(...)"
            )
        return self._executor

    @property
    def backend_name(self) -> str:
        """Name of the backend in use."""
        return TORCH_BACKEND if self.simulator is not None else self.executor.name

    @property
    def shots(self) -> int | None:
        """Shots per evaluation, ``None`` when exact."""
        return None if self.simulator is not None else self.executor.shots

    def set_backend(self, backend: Any, **options: Any) -> None:
        """Switch to another backend (same spec); options as in ``__init__``.

        ``options`` may include ``gradient``; otherwise the gradient requested at construction
        is kept (an unset gradient follows the new backend's default). When switching between
        ``"torch"`` and another backend, ``shots`` and ``backend_options`` are not inherited.
        """
        gradient = options.pop("gradient", self._requested)
        if "seed" in options:
            options["seed"] = valid_seed(options["seed"])
        inherited = dict(self._config)
        if _is_torch(backend) != _is_torch(inherited["backend"]):
            inherited.update(shots=None, backend_options={})
        config = {**inherited, "backend": backend, **options}
        config["backend_options"] = dict(config["backend_options"] or {})
        name, rule = self._resolve_gradient(gradient, backend, config["seed"])
        old = (self._config, self.gradient, self.rule, self.simulator, self._executor)
        self._config, self.gradient, self.rule = config, name, rule
        try:
            self.simulator = self._build_simulator()
            self._executor = None if self.simulator else make_executor(self.shiftable, **config)
            _check_step_with_shots(self.rule, self.shots)
        except Exception:
            self._config, self.gradient, self.rule, self.simulator, self._executor = old
            raise
        self._requested = gradient

    def random_state(self) -> dict[str, Any]:
        """States of the generators behind shot seeds and SPSA directions (may be empty).

        Exact backends have none; a seeded shot-based executor and the SPSA rule each add an
        entry. :meth:`set_random_state` puts them back, so a training run resumed from a
        checkpoint draws exactly the noise an uninterrupted run would have drawn.
        """
        state: dict[str, Any] = {}
        executor_state = self._executor.random_state() if self._executor is not None else None
        if executor_state is not None:
            state["executor"] = executor_state
        if hasattr(self.rule, "random_state"):
            state["rule"] = self.rule.random_state()
        return state

    def set_random_state(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`random_state` snapshot; entries this engine has no use for are ignored.

        A snapshot taken on another backend or gradient rule carries no matching entry, so
        loading it leaves this engine's generators as they are.
        """
        if "executor" in state and self._config["backend"] is not None:
            self.executor.set_random_state(state["executor"])
        if "rule" in state and hasattr(self.rule, "set_random_state"):
            self.rule.set_random_state(state["rule"])

    def forward(self, theta: np.ndarray) -> np.ndarray:
        """Expectation values (N, O) at parameter values ``theta`` (N, P): one primitive call."""
        if self.simulator is not None:
            import torch

            with torch.no_grad():
                t = torch.from_numpy(np.asarray(theta, dtype=float))
                return self.simulator.expectations(t).numpy()
        return self.executor.run(self.shiftable.angles(theta))

    def jacobian(self, theta: np.ndarray, wrt: np.ndarray | None = None) -> np.ndarray:
        """Jacobian (N, O, P) d output / d parameter: one primitive call.

        Args:
            theta: Parameter values (N, P).
            wrt: Boolean mask (P,) of the parameters to differentiate (others get zeros).
        """
        if self.rule is None:
            return self._autograd_jacobian(np.asarray(theta, dtype=float), wrt)
        plan = self.rule.plan(self.shiftable, np.asarray(theta, dtype=float), wrt)
        return plan.recombine(self.executor.run(plan.angles))

    def _autograd_jacobian(self, theta: np.ndarray, wrt: np.ndarray | None) -> np.ndarray:
        """Jacobian by torch autograd through the simulator (torch-native gradients)."""
        import torch

        t = torch.from_numpy(theta).requires_grad_()
        out = self.simulator.expectations(t)
        rows = [
            torch.autograd.grad(out[:, o].sum(), t, retain_graph=True)[0]
            for o in range(out.shape[1])
        ]
        jac = torch.stack(rows, dim=1).numpy()
        if wrt is not None:
            jac = jac * np.asarray(wrt, dtype=bool)
        return jac

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_random_state"] = self.random_state()  # the executor's generator travels too
        state["_executor"] = None
        state["_shiftable"] = None  # holds lambdified expressions: rebuilt on first use
        state["simulator"] = None  # compiled closures: rebuilt on load
        backend = self._config["backend"]
        if not isinstance(backend, str):
            try:
                pickle.dumps(backend)
            except Exception:
                state["_config"] = {**self._config, "backend": None}
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        random_state = state.pop("_random_state", {})
        self.__dict__.update(state)
        if self._config["backend"] is not None:
            self.simulator = self._build_simulator()
            self._executor = None if self.simulator else self._build_executor()
        self.set_random_state(random_state)

    def __repr__(self) -> str:
        name = self._executor.name if self._executor is not None else None
        if self.simulator is not None:
            name = TORCH_BACKEND
        return (
            f"CircuitEngine(backend={name!r}, shots={self._config['shots']}, "
            f"gradient={self.gradient!r})"
        )
