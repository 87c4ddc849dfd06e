"""The executor contract every backend implements.

An :class:`Executor` evaluates the observables of a
:class:`~hybridqml.circuits._shiftable.ShiftableCircuit` for an (M, K) array of angle bindings with
one primitive call (one batched simulation), returning (M, O) expectation values. Gradient rules
(:mod:`hybridqml.gradients`) turn a backward pass into one such array, so a backward pass is one
call too. The exception is memory: an executor that knows its peak bytes per binding
(:attr:`Executor.binding_bytes`, set for Aer) splits a pass that would exceed its budget
(:attr:`Executor.max_memory_bytes`) into the fewest calls under it
(:func:`~hybridqml.execution._memory.chunk_sizes`); the results are the same as one call's.

A backend whose gradients torch computes itself (the torch simulator's ``"backprop"`` and
``"adjoint"``) also provides a :class:`NativeExecutor`: it maps torch tensors to torch tensors
with autograd intact, which :func:`hybridqml.nn.expectations` uses instead of the
parameter-shift autograd Function.

Backends are built by name or object through :func:`hybridqml.execution.make_executor`,
from the :class:`BackendRequest` it validates.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hybridqml.exceptions import BackendError, ConfigurationError
from hybridqml.execution import _tracking as tracking
from hybridqml.execution._memory import DEFAULT_MAX_MEMORY_BYTES, chunk_sizes

if TYPE_CHECKING:
    import torch

    from hybridqml.circuits._shiftable import ShiftableCircuit
    from hybridqml.gradients import ShiftedRows

__all__ = [
    "DEFAULT_DEVICE_SHOTS",
    "DEFAULT_OPTIMIZATION_LEVEL",
    "DEFAULT_TRANSPILER_SEED",
    "MAX_SHOTS",
    "OPTIMIZATION_LEVELS",
    "BackendRequest",
    "Executor",
    "NativeExecutor",
    "positive_shots",
    "valid_optimization_level",
]

#: Shots used on real devices when the caller does not choose: they cannot be exact (simulated
#: devices, fake or with a noise model, give exact noisy values with ``shots=None``).
DEFAULT_DEVICE_SHOTS = 1024
#: Transpiler preset used to reach a backend's ISA.
DEFAULT_OPTIMIZATION_LEVEL = 1
#: Qiskit's preset pass managers: levels 0 (none) to 3 (heaviest).
OPTIMIZATION_LEVELS = range(4)
#: Most shots per binding: 10**8 already estimates an expectation value to +-1e-4 (use
#: ``shots=None`` for exact values), IBM devices accept far fewer per job (``max_shots`` is
#: 100,000 on current devices), and Aer's sampler stores every shot (about 8 bytes each per
#: binding), so more than this is a mistake rather than a request.
MAX_SHOTS = 10**8
#: Transpiler seed when the caller gives no ``seed``: the layout (and so device noise) is the
#: same every time a circuit is prepared, e.g. after unpickling a layer.
DEFAULT_TRANSPILER_SEED = 0


class Executor(ABC):
    """Evaluates (M, K) angle bindings into (M, O) expectation values, one primitive call each.

    Attributes:
        name: A human-readable backend name used in errors and reports.
        shots: Shots per binding, or ``None`` for exact expectation values.
        calls: Number of primitive calls made so far.
        evaluations: Number of circuit bindings evaluated so far.
        binding_bytes: Estimated peak bytes one binding costs inside a call (state, results),
            or ``None`` when unknown or not held here (remote devices): never split then.
        max_memory_bytes: Budget of one call; a pass over it is split (see :meth:`run`).
    """

    def __init__(self, shiftable: ShiftableCircuit, *, name: str, shots: int | None) -> None:
        self.shiftable = shiftable
        self.name = name
        self.shots = shots
        self.calls = 0
        self.evaluations = 0
        self.binding_bytes: int | None = None
        self.max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES
        #: What the last call's job reported (job id, usage, attempts), for the job log.
        self.job_info: dict[str, Any] = {}
        #: How this executor mitigates errors (JSON, for the run record), ``None``: it does not.
        self.mitigation_record: dict[str, Any] | None = None

    @property
    def n_circuits(self) -> int:
        """Circuits (PUBs) one call submits, each run at every binding (1 unless overridden)."""
        return 1

    def call_seconds(self, bindings: int) -> float:
        """Estimated QPU seconds of one call of ``bindings`` bindings (0 when not a device).

        Overridden by executors on devices whose target has gate durations
        (see ``hybridqml.hardware._qpu_time``).
        """
        del bindings
        return 0.0

    def enable_mitigation(self, mitigation: Any) -> None:
        """Mitigate every call from now on (executors over a sampler; others refuse).

        Raises:
            ConfigurationError: this executor has no bitstrings to correct or circuits to fold.
        """
        raise ConfigurationError(
            f"backend {self.name!r} ({type(self).__name__}) cannot mitigate {mitigation.label!r}: "
            "error mitigation corrects measured bitstrings and folds circuits, which needs a "
            "sampler-based backend (a fake device, 'aer' with a noise_model, a BaseSamplerV2, "
            "an IBM backend)"
        )

    def random_state(self) -> dict[str, Any] | None:
        """State of the generator behind this executor's randomness, ``None`` when it has none.

        Checkpoints store it so that a resumed training run draws the same shot noise as an
        uninterrupted one (see :meth:`hybridqml.QuantumLayer.random_state`).
        """
        return None

    def set_random_state(self, state: Mapping[str, Any] | None) -> None:
        """Restore a state from :meth:`random_state` (ignored when this executor has none)."""
        del state  # executors without a generator have nothing to restore

    def chunk_sizes(self, m: int, shifts: ShiftedRows | None = None) -> list[int]:
        """Bindings per call of a pass of ``m`` bindings: ``[m]`` whenever it fits the budget.

        Args:
            m: Rows of the pass.
            shifts: The rows' shifts when they are a shift-rule plan's (a row may then cost
                several bindings, see :meth:`_binding_bytes`).

        Example:
            >>> from hybridqml import circuits
            >>> from hybridqml.execution._registry import make_executor
            >>> from hybridqml.circuits._shiftable import ShiftableCircuit
            >>> ex = make_executor(ShiftableCircuit(circuits.ry(1)), "aer")
            >>> ex.binding_bytes, ex.max_memory_bytes = 1000, 4000
            >>> ex.chunk_sizes(3), ex.chunk_sizes(10)
            ([3], [4, 3, 3])
        """
        return chunk_sizes(m, self._binding_bytes(shifts), self.max_memory_bytes)

    def run(self, angles: np.ndarray, *, shifts: ShiftedRows | None = None) -> np.ndarray:
        """Evaluate every observable for each row of ``angles``: one primitive call if it fits.

        A pass whose estimated memory (``M * binding_bytes``) exceeds ``max_memory_bytes`` runs
        as the fewest calls under the budget (:meth:`chunk_sizes`), in row order, so memory
        stays flat as the batch grows; exact results are identical to one call's, and seeded
        shot sampling draws the same values however the pass is split (see
        :class:`~hybridqml.execution._sampler_executor.SamplerExecutor`).

        Args:
            angles: (M, K) occurrence angles.
            shifts: When the rows are a parameter-shift plan's
                (:class:`~hybridqml.gradients.ShiftedRows`), what each row shifts. Executors
                whose circuits repeat an occurrence (ZNE) use it to shift each copy on its
                own; the others evaluate the rows as they are.

        Returns:
            (M, O) float64 expectation values.

        Raises:
            BackendError: if a job fails or returns malformed results.
        """
        angles = np.asarray(angles, dtype=float)
        m = angles.shape[0]
        if m == 0:
            return np.zeros((0, self.shiftable.n_outputs))
        bounds = np.cumsum([0, *self.chunk_sizes(m, shifts)])
        chunks = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
        if tracking.is_dry_run():  # count what would be sent, send nothing, draw no seed
            for rows in chunks:
                part = None if shifts is None else shifts[rows]
                self._record(rows.stop - rows.start, *self._call_cost(rows.stop - rows.start, part))
            return np.zeros((m, self.shiftable.n_outputs))
        self._begin_pass()
        parts = [
            self._call(angles[rows], None if shifts is None else shifts[rows]) for rows in chunks
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _begin_pass(self) -> None:
        """Hook run once per :meth:`run`, before its calls (e.g. to draw the pass's seed)."""
        return None

    def _binding_bytes(self, shifts: ShiftedRows | None) -> int | None:
        """Peak bytes of one row of a call (:attr:`binding_bytes` unless a row costs more)."""
        del shifts  # a row is one binding of every circuit unless an executor says otherwise
        return self.binding_bytes

    def _call_cost(self, m: int, shifts: ShiftedRows | None) -> tuple[int, float]:
        """Bindings over every circuit, and estimated QPU seconds, of a call of ``m`` rows."""
        del shifts
        return self.n_circuits * m, self.call_seconds(m)

    def _call(self, angles: np.ndarray, shifts: ShiftedRows | None = None) -> np.ndarray:
        """One primitive call on (m, K) angles, checked and counted."""
        m = angles.shape[0]
        n_obs = self.shiftable.n_outputs
        self.job_info = {}
        executed, estimate = self._call_cost(m, shifts)
        call = tracking.start_call(
            self.name, self.n_circuits, m, self.shots, circuit_bindings=executed
        )
        try:
            raw = self._run(angles) if shifts is None else self._run_shifted(angles, shifts)
            out = np.asarray(raw, dtype=float)
            if out.shape != (m, n_obs) or not np.all(np.isfinite(out)):
                raise BackendError(
                    f"backend {self.name!r} returned malformed results: expected finite values "
                    f"of shape {(m, n_obs)}, got shape {out.shape}"
                )
        except Exception as exc:
            call.finish("failed", self.job_info, error=exc)
            if isinstance(exc, BackendError):
                raise
            raise BackendError(
                f"job on backend {self.name!r} failed ({m} bindings): {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            self.calls += 1
        reported = self.job_info.get("qpu_seconds")
        seconds = float(reported) if reported is not None else estimate
        call.finish("done", self.job_info, qpu_seconds=seconds)
        self.evaluations += m
        self._record(m, executed, seconds)
        return out

    def _record(self, m: int, executed: int, seconds: float) -> None:
        tracking.record(
            self.name,
            m,
            self.shots,
            circuits=self.n_circuits,
            qpu_seconds=seconds,
            circuit_bindings=executed,
        )

    def _run_shifted(self, angles: np.ndarray, shifts: ShiftedRows) -> np.ndarray:
        """Rows of a shift-rule plan (see :meth:`run`): evaluated as angles unless overridden."""
        del shifts
        return self._run(angles)

    @abstractmethod
    def _run(self, angles: np.ndarray) -> np.ndarray: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.name!r}, shots={self.shots})"


class NativeExecutor(ABC):
    """Expectation values computed in torch, differentiated by torch (no shift rule).

    Attributes:
        name: Backend name used in errors, reports and ``_tracking``.
        gradient: The torch-native gradient method it implements (e.g. ``"backprop"``).
    """

    name: str
    gradient: str

    @abstractmethod
    def expectations(self, inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Outputs (B, O), with autograd history, of already finite-checked tensors.

        Args:
            inputs: (B, n_inputs).
            weight: Shared (n_weights,) or per-sample (B, n_weights).
        """

    @abstractmethod
    def run(self, theta: np.ndarray) -> np.ndarray:
        """Expectation values (N, O) at parameter values (N, P), without autograd."""

    @abstractmethod
    def jacobian(self, theta: np.ndarray, wrt: np.ndarray | None = None) -> np.ndarray:
        """Jacobian (N, O, P) at ``theta`` (N, P); columns outside the mask ``wrt`` are zero."""


def positive_shots(shots: int | None) -> int | None:
    """``shots`` as an int, or ``None`` for exact; anything else is a :class:`ConfigurationError`.

    Example:
        >>> positive_shots(100), positive_shots(None)
        (100, None)
    """
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots <= 0:
        raise ConfigurationError(f"shots must be a positive integer or None (exact), got {shots!r}")
    if shots > MAX_SHOTS:
        raise ConfigurationError(
            f"shots must be at most {MAX_SHOTS:,} (got {shots:,}); use shots=None for exact "
            "expectation values"
        )
    return int(shots)


def valid_optimization_level(level: Any) -> int:
    """A transpiler preset level in 0..3; anything else is a :class:`ConfigurationError`.

    Example:
        >>> valid_optimization_level(3)
        3
    """
    if (
        isinstance(level, bool)
        or not isinstance(level, (int, np.integer))
        or level not in OPTIMIZATION_LEVELS
    ):
        raise ConfigurationError(
            f"optimization_level must be an integer from 0 to 3 (Qiskit's preset pass "
            f"managers), got {level!r}"
        )
    return int(level)


@dataclass(frozen=True)
class BackendRequest:
    """Everything a backend factory needs besides the spec (validated by ``make_executor``).

    Attributes:
        shiftable: The circuit in shiftable form.
        shots: Shots per binding, ``None`` for exact.
        seed: Seed of shot sampling and transpilation.
        options: ``backend_options`` (e.g. Aer simulator options), without ``max_memory_bytes``.
        optimization_level: Transpiler preset level.
        max_memory_bytes: The memory budget from ``backend_options`` (``None``: the default).
        mitigation: The :class:`~hybridqml.mitigation.Mitigation` asked for (``None``: none).
            A builder that has the backend do it itself sets the executor's
            ``mitigation_record``; otherwise ``make_executor`` enables it locally.
    """

    shiftable: ShiftableCircuit
    shots: int | None = None
    seed: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL
    max_memory_bytes: int | None = None
    mitigation: Any = None
