"""The quantum model behind a layer: parameters in, expectation values and Jacobians out.

A :class:`CircuitEngine` ties together the lower layers of the architecture: the circuit in
shiftable form (``hybridqml.circuits._shiftable``), the executor built by the backend registry
(``hybridqml.execution._registry``) and the gradient rule (:mod:`hybridqml.gradients`), as its
:class:`EngineOptions` say (the same options every quantum layer takes). Its
:meth:`~CircuitEngine.forward` / :meth:`~CircuitEngine.jacobian` API is numpy;
``hybridqml.nn._function`` wraps it for torch. When the backend computes a gradient natively
in torch (``backend="torch"`` with ``"backprop"`` or ``"adjoint"``), the engine holds that
backend's :class:`~hybridqml.execution.NativeExecutor` instead of a gradient rule.

Example:
    >>> import numpy as np
    >>> from hybridqml import circuits
    >>> engine = CircuitEngine(circuits.ry(1))
    >>> engine.forward(np.array([[np.pi / 2]])).round(6).tolist()   # <Z> = -sin(x)
    [[-1.0]]
"""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hybridqml import _ranks
from hybridqml._validation import check_seed
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import BackendError, CircuitError, ConfigurationError
from hybridqml.execution import _registry as registry
from hybridqml.execution import _tracking as tracking
from hybridqml.execution._executor import (
    DEFAULT_OPTIMIZATION_LEVEL,
    Executor,
    NativeExecutor,
    valid_optimization_level,
)
from hybridqml.gradients import GradientRule, get_rule
from hybridqml.mitigation._options import as_mitigation
from hybridqml.nn._shot_seeds import claim_stream, derived_seed

__all__ = ["CircuitEngine", "EngineOptions", "default_gradient"]

#: Smallest finite-difference / SPSA step accepted with shot noise: the noise of a difference
#: quotient grows like 1 / (step * sqrt(shots)), so tiny steps turn gradients into noise.
MIN_STEP_WITH_SHOTS = 0.05


def _check_step_with_shots(rule: GradientRule | None, shots: int | None) -> None:
    epsilon = getattr(rule, "epsilon", None)
    if rule is None or shots is None or epsilon is None or epsilon >= MIN_STEP_WITH_SHOTS:
        return
    noise = 1.0 / (2.0 * epsilon * shots**0.5)
    raise ConfigurationError(
        f"gradient {rule.name!r} with step {epsilon:g} under {shots}-shot noise would be noise "
        f"itself (about +-{noise:.3g} per derivative); use gradient='parameter-shift' (unbiased "
        f"with shots) or a step >= {MIN_STEP_WITH_SHOTS}, e.g. "
        f"{type(rule).__name__}(epsilon=0.1)"
    )


def default_gradient(backend: Any) -> str:
    """The gradient used when none is chosen: the backend's native one, else parameter shift.

    Example:
        >>> default_gradient("torch"), default_gradient("aer")
        ('backprop', 'parameter-shift')
    """
    return registry.default_gradient(backend)


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """Where and how a circuit runs: what a quantum layer takes besides its circuit.

    Attributes:
        backend: Backend spec, see :func:`hybridqml.execution.make_executor`.
        shots: Shots per evaluation, ``None`` for exact (noisy on fake devices and noisy Aer).
        seed: Seed for shot sampling (and SPSA directions when ``gradient="spsa"``). Engines
            alive at the same time with the same seed draw independent streams derived from
            it (see ``hybridqml.nn._shot_seeds``).
        gradient: ``"parameter-shift"``, ``"finite-diff"``, ``"spsa"`` or a
            :class:`~hybridqml.gradients.GradientRule`; with ``backend="torch"`` also
            ``"backprop"`` or ``"adjoint"``. ``None`` picks :func:`default_gradient`.
        backend_options: Extra ``AerSimulator`` options for Aer-based backends
            (``{"max_memory_bytes": ...}`` for ``"torch"``).
        optimization_level: Transpiler preset level.
        mitigation: Error mitigation of every evaluation: ``None``, ``"readout"``, ``"zne"``,
            ``"readout+zne"`` or a :class:`~hybridqml.mitigation.Mitigation` (see
            :mod:`hybridqml.mitigation`).

    Example:
        >>> EngineOptions(shots=100).backend
        'aer'
    """

    backend: Any = "aer"
    shots: int | None = None
    seed: int | None = None
    gradient: str | GradientRule | None = None
    backend_options: Mapping[str, Any] | None = None
    optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL
    mitigation: Any = None


def _backend_label(backend: Any) -> str:
    return f"backend={backend!r}" if isinstance(backend, str) else f"backend {backend!r}"


def _takes_shifts(run: Any) -> bool:
    """Whether an executor's ``run`` accepts ``shifts=`` (a plugin's override may predate it).

    An executor that does not take the rows' shifts evaluates them as plain angles, as every
    executor did before the per-copy shift rule (exact unless its circuits repeat an angle).
    """
    try:
        params = inspect.signature(run).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return "shifts" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class CircuitEngine:
    """Evaluates a :class:`~hybridqml.circuits.ParameterizedCircuit` and its Jacobian.

    Parameter arrays have shape (N, P): the spec's inputs then its weights. Each
    :meth:`forward` and each :meth:`jacobian` is exactly one primitive call (one batched
    simulation on ``"torch"``).

    Args:
        spec: The circuit specification.
        options: Where and how it runs (:class:`EngineOptions`; default: exact Aer).
        **changes: Fields of :class:`EngineOptions` given directly (``backend="torch"``...).

    Attributes:
        gradient: Name of the gradient in use.
        rule: The shift-plan rule, or ``None`` for torch-native gradients.
        native: The backend's torch-native executor (torch-native gradients only), else ``None``.

    Raises:
        ConfigurationError: unknown gradient, a torch-native gradient on another backend,
            shots with ``backend="torch"``, shots above
            :data:`~hybridqml.execution._executor.MAX_SHOTS`, an ``optimization_level`` outside 0..3
            or a ``max_memory_bytes`` that is not a positive int.
        BackendError: the circuit's state cannot fit the simulator's memory.
    """

    def __init__(
        self, spec: ParameterizedCircuit, options: EngineOptions | None = None, **changes: Any
    ) -> None:
        if not isinstance(spec, ParameterizedCircuit):
            raise CircuitError(
                f"expected a ParameterizedCircuit, got {type(spec).__name__}; build one with "
                "hybridqml.circuits.ParameterizedCircuit(...), circuits.ry() or "
                "circuits.variational()"
            )
        self.spec = spec
        opts = dataclasses.replace(options or EngineOptions(), **changes)
        seed = check_seed(opts.seed, optional=True)
        self._stream = claim_stream(seed, self)
        self._config = {
            "backend": opts.backend,
            "shots": opts.shots,
            "seed": seed,
            "backend_options": dict(opts.backend_options or {}),
            "optimization_level": valid_optimization_level(opts.optimization_level),
            "mitigation": as_mitigation(opts.mitigation),
        }
        registry.check_mitigation(
            opts.backend, self._config["mitigation"], self._config["backend_options"]
        )
        self.gradient, self.rule = self._resolve_gradient(
            opts.gradient, opts.backend, self._seed(seed)
        )
        self.native = self._build_native()
        self._shiftable: ShiftableCircuit | None = None
        # torch-native gradients need neither the shiftable form nor an executor up front
        self._executor: Executor | None = None if self.native else self._build_executor()
        _check_step_with_shots(self.rule, self.shots)
        self._check_seed_used()

    def _check_seed_used(self) -> None:
        """Refuse a ``seed`` that nothing would use (an exact run without a transpiler layout).

        A seed drives shot sampling, noisy trajectories, SPSA directions and the transpiler's
        layout on devices with a coupling map; on an exact simulator with none of these it
        would be silently ignored.

        Raises:
            ConfigurationError: ``seed`` was given and has no effect.
        """
        if self._config["seed"] is None or self.random_state():
            return
        device = getattr(self._executor, "device", None)
        target = getattr(device, "target", None)
        if target is not None and target.build_coupling_map() is not None:
            return  # the seed picks the layout
        backend = _backend_label(self._config["backend"])
        raise ConfigurationError(
            f"seed={self._config['seed']} would have no effect: {backend} "
            f"with shots=None and gradient={self.gradient!r} is exact and deterministic. Drop "
            "seed=, or give shots=... (finite-shot sampling) or gradient='spsa', which use it"
        )

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
        native = registry.native_gradients(backend)
        offered = registry.all_native_gradients()
        if isinstance(gradient, str) and gradient in offered:
            if gradient not in native:
                where = " or ".join(f"backend={name!r}" for name in offered[gradient])
                raise ConfigurationError(
                    f"gradient {gradient!r} is computed by torch and needs {where}; "
                    "use gradient='parameter-shift' (or leave it unset) on other backends"
                )
            return gradient, None
        try:
            rule = get_rule(gradient, seed=seed)
        except ConfigurationError:
            if not native:
                raise
            raise ConfigurationError(
                f"unknown gradient {gradient!r} for {_backend_label(backend)}; choose one of "
                f"{', '.join(native)}, parameter-shift, finite-diff, spsa, or pass a "
                "GradientRule instance"
            ) from None
        return rule.name, rule

    def _seed(self, seed: int | None) -> int | None:
        """This engine's stream of ``seed`` (see ``hybridqml.nn._shot_seeds``), per rank.

        On the ranks of a data-parallel run the stream is further split per rank
        (:func:`hybridqml._ranks.rank_seed`), so ranks never draw the same shot noise; a single
        process is unchanged.
        """
        stream = derived_seed(seed, getattr(self, "_stream", 0))
        return None if stream is None else _ranks.rank_seed(stream)

    def _build_native(self) -> NativeExecutor | None:
        if self.rule is not None:
            return None
        config = self._config
        return registry.native_executor(
            self.spec,
            config["backend"],
            self.gradient,
            shots=config["shots"],
            backend_options=config["backend_options"],
            mitigation=config.get("mitigation"),
        )

    def _build_executor(self) -> Executor:
        executor = registry.make_executor(self.shiftable, **self._config)
        seed = self._config["seed"]
        stream = self._seed(seed)  # the transpiler keeps the seed itself: the same layout
        if stream != seed and executor.random_state() is not None:
            executor.set_random_state(np.random.default_rng(stream).bit_generator.state)
        return executor

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
        return self.native.name if self.native is not None else self.executor.name

    @property
    def mitigation(self) -> dict[str, Any] | None:
        """How evaluations are mitigated (settings, calibration in use), ``None`` when not."""
        if self._config.get("mitigation") is None:
            return None
        if self.native is not None:
            return getattr(self.native, "mitigation_record", None)
        plan = getattr(self.executor, "mitigation", None)
        if plan is not None and hasattr(plan, "to_json"):
            return plan.to_json()
        return self.executor.mitigation_record

    @property
    def shots(self) -> int | None:
        """Shots per evaluation, ``None`` when exact."""
        return None if self.native is not None else self.executor.shots

    def set_backend(self, backend: Any, **options: Any) -> None:
        """Switch to another backend (same spec); options as in ``__init__``.

        The new backend's defaults apply unless ``options`` say otherwise: ``shots`` (exact on
        simulators, :data:`~hybridqml.execution._executor.DEFAULT_DEVICE_SHOTS` on devices) and the
        gradient (its native one, else parameter shift) are not carried over; ``seed`` and
        ``optimization_level`` are; ``backend_options`` only between backends of the same
        family (the Qiskit ones, or ``"torch"``).
        """
        gradient = options.pop("gradient", None)
        if "seed" in options:
            options["seed"] = check_seed(options["seed"], optional=True)
        if "optimization_level" in options:
            options["optimization_level"] = valid_optimization_level(options["optimization_level"])
        inherited = {**self._config, "shots": None, "mitigation": None}
        if not registry.same_options(backend, inherited["backend"]):
            inherited.update(backend_options={})
        config = {**inherited, "backend": backend, **options}
        config["backend_options"] = dict(config["backend_options"] or {})
        config["mitigation"] = as_mitigation(config.get("mitigation"))
        registry.check_mitigation(backend, config["mitigation"], config["backend_options"])
        name, rule = self._resolve_gradient(gradient, backend, self._seed(config["seed"]))
        old = (self._config, self.gradient, self.rule, self.native, self._executor)
        self._config, self.gradient, self.rule = config, name, rule
        try:
            self.native = self._build_native()
            self._executor = None if self.native else self._build_executor()
            _check_step_with_shots(self.rule, self.shots)
            if options.get("seed") is not None:  # an inherited seed may lose its use: fine
                self._check_seed_used()
        except Exception:
            self._config, self.gradient, self.rule, self.native, self._executor = old
            raise

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
        if self.rule is not None and hasattr(self.rule, "random_state"):
            state["rule"] = self.rule.random_state()
        return state

    def set_random_state(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`random_state` snapshot; entries this engine has no use for are ignored.

        A snapshot taken on another backend or gradient rule carries no matching entry, so
        loading it leaves this engine's generators as they are.
        """
        if "executor" in state and self._config["backend"] is not None:
            self.executor.set_random_state(state["executor"])
        if "rule" in state and self.rule is not None and hasattr(self.rule, "set_random_state"):
            self.rule.set_random_state(state["rule"])

    def forward(self, theta: np.ndarray) -> np.ndarray:
        """Expectation values (N, O) at parameter values ``theta`` (N, P): one primitive call."""
        if self.native is not None:
            return self.native.run(theta)
        with tracking.pass_kind("forward"):
            return self.executor.run(self.shiftable.angles(theta))

    def jacobian(self, theta: np.ndarray, wrt: np.ndarray | None = None) -> np.ndarray:
        """Jacobian (N, O, P) d output / d parameter: one primitive call.

        Args:
            theta: Parameter values (N, P).
            wrt: Boolean mask (P,) of the parameters to differentiate (others get zeros).
        """
        if self.native is not None:
            return self.native.jacobian(np.asarray(theta, dtype=float), wrt)
        assert self.rule is not None  # no native gradients: a shift-plan rule
        plan = self.rule.plan(self.shiftable, np.asarray(theta, dtype=float), wrt)
        with tracking.pass_kind(self.gradient):
            if plan.shifts is None or not _takes_shifts(self.executor.run):
                return plan.recombine(self.executor.run(plan.angles))
            return plan.recombine(self.executor.run(plan.angles, shifts=plan.shifts))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_random_state"] = self.random_state()  # the executor's generator travels too
        state["_executor"] = None
        state["_shiftable"] = None  # holds lambdified expressions: rebuilt on first use
        state["native"] = None  # compiled closures: rebuilt on load
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
            self.native = self._build_native()
            self._executor = None if self.native else self._build_executor()
        self.set_random_state(random_state)

    def __repr__(self) -> str:
        name = self._executor.name if self._executor is not None else None
        if self.native is not None:
            name = self.native.name
        return (
            f"CircuitEngine(backend={name!r}, shots={self._config['shots']}, "
            f"gradient={self.gradient!r})"
        )
