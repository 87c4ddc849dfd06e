"""Executors over Qiskit primitives: one Estimator or Sampler call per batch of bindings.

The circuit is transpiled to the backend's ISA once, when the executor is built, and reused for
every call. Two paths:

* :class:`EstimatorExecutor` (exact Aer statevector through
  :class:`~hybridqml.backends.aer.estimator.AerExactEstimator`, or any ``BaseEstimatorV2``): one
  PUB with parameter values shaped (M, 1, K) against observables shaped (O,), so the simulator
  runs each binding once and evaluates every observable on the same state.
* :class:`SamplerExecutor` (Aer with ``shots``, fake IBM devices, IBM Quantum Runtime, any
  ``BackendV2`` or ``BaseSamplerV2``): the observables' Pauli terms are grouped into qubit-wise
  commuting sets (:mod:`~hybridqml.backends.measurement`); each set gets one measurement circuit
  and one PUB, all PUBs go in one ``run`` call, and expectation values come from the measured
  bitstrings: genuine finite-shot estimates, not Gaussian noise added to exact values. Each pass
  (each :meth:`~hybridqml.backends.base.Executor.run`) draws a fresh simulator seed from a
  generator seeded once with ``seed``, so runs are reproducible and the shot noise still changes
  from step to step; a pass split into several calls for memory draws exactly the values one
  call would (see :class:`SamplerExecutor`). Noiseless Aer samples through
  :class:`~hybridqml.backends.aer.sampler.AerBornSampler` (one statevector run for the exact Born
  probabilities of every binding, then the shots drawn from them, counted without building
  per-shot bitstrings); noisy Aer simulators (fake devices, noise models) the same way through
  :class:`~hybridqml.backends.aer.noisy.AerNoisySampler` (the exact noisy distribution), which
  with ``shots=None`` also gives the exact noisy expectation values (the same parities, weighted
  by the probabilities instead of counts); real devices through their own samplers. Jobs go into
  an open runtime ``Session``/``Batch`` on the same device.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.providers import BackendV2
from qiskit.transpiler import generate_preset_pass_manager

from hybridqml.backends.aer.estimator import AerExactEstimator
from hybridqml.backends.aer.sampler import AerBornSampler
from hybridqml.backends.base import (
    DEFAULT_DEVICE_SHOTS,
    DEFAULT_OPTIMIZATION_LEVEL,
    DEFAULT_TRANSPILER_SEED,
    BackendRequest,
    Executor,
)
from hybridqml.backends.cost import shot_seconds
from hybridqml.backends.devices import (
    backend_name,
    fetch_job,
    open_runtime_context,
    reopen_sampler,
    runtime_sampler,
)
from hybridqml.backends.measurement import (
    MEASURED_REGISTER,
    group_terms,
    measurement_circuit,
    outcomes,
    pauli_terms,
    support_mask,
)
from hybridqml.backends.resilience import DEFAULT_RETRY_POLICY, JobRunner, fingerprint
from hybridqml.circuits.shiftable import ANGLE_VECTOR_NAME, ShiftableCircuit
from hybridqml.exceptions import BackendError, ConfigurationError

__all__ = ["EstimatorExecutor", "SamplerExecutor", "estimator_executor", "sampler_executor"]

#: Aer seeds experiment ``e`` of a run with ``seed_simulator + 2113 * e``, numbering the
#: bindings of its circuits in turn (circuit ``c``, binding ``i`` of ``m``: ``e = c * m + i``).
AER_BINDING_SEED_STRIDE = 2113


def _transpile(
    circuits: list[QuantumCircuit], backend: BackendV2 | None, level: int, seed: int | None
):
    if backend is None:
        return circuits
    try:
        pm = generate_preset_pass_manager(
            optimization_level=level,
            backend=backend,
            seed_transpiler=DEFAULT_TRANSPILER_SEED if seed is None else seed,
        )
        return pm.run(circuits)
    except Exception as exc:
        raise BackendError(
            f"cannot transpile the circuit for backend {backend_name(backend)!r}: {exc}"
        ) from exc


def _columns(isa: QuantumCircuit, k: int) -> np.ndarray:
    """Column of the (M, K) angle array feeding each parameter of a transpiled circuit.

    Matched by name: the transpiler may rebuild ``ParameterVectorElement`` objects as plain
    ``Parameter`` objects, and ``circuit.parameters`` sorts names, not occurrence order.
    """
    index = {f"{ANGLE_VECTOR_NAME}[{i}]": i for i in range(k)}
    try:
        return np.asarray([index[p.name] for p in isa.parameters], dtype=int)
    except KeyError as exc:  # pragma: no cover - defensive
        raise BackendError(f"transpiled circuit has an unexpected parameter {exc}") from None


def _bindings(
    isa: QuantumCircuit, cols: np.ndarray, angles: np.ndarray, shape: tuple[int, ...]
) -> BindingsArray:
    """Bindings of ``isa``'s parameters from the angle columns ``cols`` (see :func:`_columns`)."""
    if len(cols) == 0:
        return BindingsArray(shape=shape)
    values = angles[:, cols].reshape(*shape, len(cols))
    return BindingsArray({tuple(isa.parameters): values}, shape=shape)


class EstimatorExecutor(Executor):
    """Runs one Estimator PUB: values (M, 1, K) against observables (O,).

    Args:
        shiftable: The circuit to run.
        estimator: Any ``BaseEstimatorV2``.
        name: Backend name for messages.
        target: Backend whose ISA to transpile to, or ``None`` to run the circuit as is.
        optimization_level: Transpiler preset level.
        seed: Transpiler seed (:data:`DEFAULT_TRANSPILER_SEED` when ``None``).
        shots: Shots per binding the estimator was configured with (a runtime Estimator's
            ``default_shots``), for counting; ``None`` when it computes exact values.
    """

    def __init__(
        self,
        shiftable: ShiftableCircuit,
        estimator: BaseEstimatorV2,
        *,
        name: str,
        target: BackendV2 | None = None,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
        seed: int | None = None,
        shots: int | None = None,
    ) -> None:
        super().__init__(shiftable, name=name, shots=shots)
        self.device = target
        self.estimator = estimator
        (self.isa_circuit,) = _transpile([shiftable.circuit], target, optimization_level, seed)
        layout = self.isa_circuit.layout
        self.isa_observables = ObservablesArray.coerce(  # coerced once, not on every call
            [obs.apply_layout(layout) if layout else obs for obs in shiftable.observables]
        )
        self._columns = _columns(self.isa_circuit, shiftable.n_angles)
        self._lean = isinstance(estimator, AerExactEstimator) and len(self._columns) > 0
        #: How failed jobs are retried (:mod:`~hybridqml.backends.resilience`).
        self.retry_policy = DEFAULT_RETRY_POLICY

    def call_seconds(self, bindings: int) -> float:
        """QPU seconds of a call with ``shots`` on a device with gate durations (else 0).

        Counts the circuit once per binding and shot: a mitigating runtime Estimator runs
        more (measurement bases, twirls, noise factors) than this lower bound.
        """
        if self.shots is None:
            return 0.0
        per_shot = shot_seconds([self.isa_circuit], self.device)
        return float(bindings * self.shots * per_shot[0]) if per_shot else 0.0

    def _run(self, angles: np.ndarray) -> np.ndarray:
        if self._lean:  # AerExactEstimator: the same simulation without the PUB containers
            values = angles[:, self._columns]
            return self.estimator.expectation_values(self.isa_circuit, self.isa_observables, values)
        values = _bindings(self.isa_circuit, self._columns, angles, (angles.shape[0], 1))
        pub = (self.isa_circuit, self.isa_observables, values)
        result = JobRunner(self.name, self.retry_policy).run(
            lambda: self.estimator.run([pub]),
            fingerprint=fingerprint([self.isa_circuit], angles, self.shots, None),
            info=self.job_info,
            fetch=lambda job_id: fetch_job(self.estimator, job_id),
            reopen=self._reopen,
            size={"circuits": 1, "bindings": angles.shape[0], "shots": self.shots},
        )
        return np.asarray(result[0].data.evs, dtype=float).reshape(angles.shape[0], -1)

    def _reopen(self) -> None:
        """Replace an estimator whose session closed with one on a new session (same options)."""
        self.estimator = reopen_sampler(self.estimator)


class SamplerExecutor(Executor):
    """Measures qubit-wise commuting groups of Pauli terms, one PUB per group, one call in all.

    Args:
        shiftable: The circuit to run.
        sampler: Any ``BaseSamplerV2``.
        shots: Shots per binding (> 0), or ``None`` for the exact values of the distribution an
            :class:`~hybridqml.backends.aer.sampler.AerBornSampler` (or its noisy subclass)
            computes.
        name: Backend name for messages.
        target: Backend whose ISA to transpile to, or ``None`` to run the circuits as built.
        seed: Seeds the generator that draws one simulator seed per call (simulators only)
            and the transpiler (:data:`DEFAULT_TRANSPILER_SEED` when ``None``).
        optimization_level: Transpiler preset level.
        device: The device this executor stands for (e.g. the fake device behind an Aer
            simulator of it); defaults to ``target``.

    While a qiskit-ibm-runtime ``Session`` or ``Batch`` context is open on the same device
    (``with Session(backend=...):``), calls run inside it.

    Seeding: with ``seed``, every pass draws one seed from a generator seeded once. A pass split
    into several calls (see :meth:`~hybridqml.backends.base.Executor.run`) is reproducible and
    never reuses a seed within the pass. On the Born sampler (noiseless Aer) it draws exactly
    what one call would: each measurement group draws from its own generator, spawned from the
    pass seed, in row order across the calls. On Aer's own sampler (noise models, fake devices)
    the call starting at row ``r`` gets seed ``pass seed + 2113 * G * r`` for ``G`` measurement
    groups, so the experiments of all calls get distinct consecutive seeds: with one group
    (e.g. Z on each qubit) exactly the seeds, and values, of one call; with several, the same
    seeds assigned to the (group, binding) pairs in another order.
    """

    def __init__(
        self,
        shiftable: ShiftableCircuit,
        sampler: BaseSamplerV2,
        *,
        shots: int | None,
        name: str,
        target: BackendV2 | None = None,
        seed: int | None = None,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
        device: BackendV2 | None = None,
    ) -> None:
        super().__init__(shiftable, name=name, shots=shots)
        if shots is None and not isinstance(sampler, AerBornSampler):
            raise ConfigurationError(
                f"{type(sampler).__name__} samples shots: exact values need a sampler that "
                "computes its distribution (AerBornSampler, AerNoisySampler)"
            )
        n = shiftable.circuit.num_qubits
        if n > 63:
            raise ConfigurationError(
                f"the sampler path measures at most 63 logical qubits, this circuit has {n}"
            )
        self.sampler = sampler
        self.device = device if device is not None else target
        self._context_sampler: tuple[Any, BaseSamplerV2] | None = None
        self._rng = np.random.default_rng(seed)
        self._seeded = seed is not None
        labels, self._coeffs, self._offsets = pauli_terms(shiftable.observables)
        self._groups = group_terms(labels)  # list of (basis label, term indices)
        circuits = [measurement_circuit(shiftable.circuit, basis) for basis, _ in self._groups]
        self.isa_circuits = _transpile(circuits, target, optimization_level, seed)
        self._columns = [_columns(isa, shiftable.n_angles) for isa in self.isa_circuits]
        self._masks = [
            np.array([support_mask(labels[t]) for t in terms], dtype=np.uint64)
            for _, terms in self._groups
        ]
        self._n_terms = len(labels)
        self._pass: dict[str, Any] = {}
        self._shot_seconds: list[float] | bool | None = False  # False: not computed yet
        #: How failed jobs are retried (:mod:`~hybridqml.backends.resilience`).
        self.retry_policy = DEFAULT_RETRY_POLICY

    @property
    def n_circuits(self) -> int:
        """One measurement circuit (PUB) per qubit-wise commuting group of Pauli terms."""
        return len(self.isa_circuits)

    def call_seconds(self, bindings: int) -> float:
        """QPU seconds of a call on a device with gate durations, else 0.

        See :mod:`~hybridqml.backends.cost` for the estimate and its assumptions.
        """
        if self._shot_seconds is False:
            self._shot_seconds = shot_seconds(self.isa_circuits, self.device)
        if not self._shot_seconds or self.shots is None:
            return 0.0
        return float(bindings * self.shots * sum(self._shot_seconds))

    def random_state(self) -> dict[str, Any] | None:
        """The per-call seed generator's state (``None`` when unseeded: nothing to replay)."""
        return dict(self._rng.bit_generator.state) if self._seeded else None

    def set_random_state(self, state: Mapping[str, Any] | None) -> None:
        """Continue the per-call seed sequence from ``state`` (seeded executors only)."""
        if state is not None and self._seeded:
            self._rng.bit_generator.state = dict(state)

    def _call_sampler(self) -> BaseSamplerV2:
        """The sampler for this call: a runtime context's on the same device, else our own."""
        context = open_runtime_context(self.device)
        if context is None:
            return self.sampler
        if self._context_sampler is None or self._context_sampler[0] is not context:
            self._context_sampler = (context, runtime_sampler(context))
        return self._context_sampler[1]

    def _begin_pass(self) -> None:
        """Choose the pass's sampler and draw its seed (one per pass, however many calls)."""
        sampler = self._call_sampler()
        seed = int(self._rng.integers(2**31 - 1)) if self._seeded else None
        self._pass = {"sampler": sampler, "seed": seed, "row": 0}
        if isinstance(sampler, AerBornSampler):
            base = seed if self._seeded else sampler.options.seed_simulator
            streams = np.random.SeedSequence(base).spawn(len(self._groups))
            self._pass["rngs"] = [np.random.default_rng(s) for s in streams]

    def _run(self, angles: np.ndarray) -> np.ndarray:
        m = angles.shape[0]
        if not self._pass:
            self._begin_pass()
        sampler, seed, row = self._pass["sampler"], self._pass["seed"], self._pass["row"]
        self._pass["row"] = row + m
        if isinstance(sampler, AerBornSampler):
            return self._run_distribution(sampler, angles)
        if seed is not None:
            stride = AER_BINDING_SEED_STRIDE * len(self._groups)
            _set_sampler_seed(sampler, seed + stride * row)
        pubs = [
            (isa, _bindings(isa, cols, angles, (m,)), self.shots)
            for isa, cols in zip(self.isa_circuits, self._columns, strict=True)
        ]
        call_seed = None if seed is None else seed + AER_BINDING_SEED_STRIDE * len(pubs) * row
        result = self._submit(pubs, angles, call_seed)
        term_values = np.zeros((m, self._n_terms))
        for (_, terms), masks, pub_result in zip(self._groups, self._masks, result, strict=True):
            bits = outcomes(getattr(pub_result.data, MEASURED_REGISTER).array)  # (M, shots)
            for t, mask in zip(terms, masks, strict=True):
                parity = np.bitwise_count(bits & mask) & 1
                term_values[:, t] = 1.0 - 2.0 * parity.mean(axis=1)
        return term_values @ self._coeffs.T + self._offsets

    def _submit(self, pubs: list[Any], angles: np.ndarray, seed: int | None) -> Any:
        """Run ``pubs`` on the pass's sampler as one job: retried, logged, recovered by id.

        Args:
            pubs: The call's PUBs.
            angles: The call's (m, K) angles (part of the job's fingerprint).
            seed: The simulator seed set for this call (kept by every retry).
        """
        return JobRunner(self.name, self.retry_policy).run(
            lambda: self._pass["sampler"].run(pubs, shots=self.shots),
            fingerprint=fingerprint(self.isa_circuits, angles, self.shots, seed),
            info=self.job_info,
            fetch=lambda job_id: fetch_job(self._pass["sampler"], job_id),
            reopen=lambda: self._reopen(seed),
            size={"circuits": len(pubs), "bindings": angles.shape[0], "shots": self.shots},
        )

    def _reopen(self, seed: int | None) -> None:
        """Replace a sampler whose session closed with one on a new session (same options)."""
        old = self._pass["sampler"]
        new = reopen_sampler(old)
        if seed is not None:  # the retried call keeps the seed of its first attempt
            _set_sampler_seed(new, seed)
        self._pass["sampler"] = new
        if self._context_sampler is not None and self._context_sampler[1] is old:
            self._context_sampler = (self._context_sampler[0], new)
        elif self.sampler is old:
            self.sampler = new

    def _run_distribution(self, sampler: AerBornSampler, angles: np.ndarray) -> np.ndarray:
        """Shots drawn as outcome counts (no per-shot bitstrings), or exact with shots=None.

        Each measurement group draws from its own generator of the pass (in row order), so a
        pass split into several calls draws exactly the values of one call.
        """
        term_values = np.zeros((angles.shape[0], self._n_terms))
        groups = zip(
            self._groups,
            self._masks,
            self.isa_circuits,
            self._columns,
            self._pass["rngs"],
            strict=True,
        )
        for (_, terms), masks, isa, cols, rng in groups:
            probs, seen = sampler.probabilities(isa, angles[:, cols] if len(cols) else None)
            probs = np.broadcast_to(probs, (angles.shape[0], probs.shape[1]))  # one row if fixed
            signs = (1.0 - 2.0 * (np.bitwise_count(seen[None, :] & masks[:, None]) & 1)).T
            if self.shots is None:
                term_values[:, terms] = probs @ signs
            else:  # each row its own draw; integer counts sum exactly, however a pass is split
                term_values[:, terms] = rng.multinomial(self.shots, probs) @ signs / self.shots
        return term_values @ self._coeffs.T + self._offsets


def _set_sampler_seed(sampler: BaseSamplerV2, seed: int) -> None:
    """Give simulator-backed samplers a fresh seed for this call (no-op for hardware)."""
    options = getattr(sampler, "options", None)
    if options is None:
        return
    if isinstance(getattr(options, "run_options", None), dict):  # qiskit-aer SamplerV2
        options.run_options["seed_simulator"] = seed
    elif hasattr(options, "seed_simulator"):  # qiskit BackendSamplerV2
        options.seed_simulator = seed
    elif hasattr(getattr(options, "simulator", None), "seed_simulator"):  # qiskit-ibm-runtime
        options.simulator.seed_simulator = seed


def estimator_executor(
    request: BackendRequest, estimator: BaseEstimatorV2, name: str, target: Any = None
) -> EstimatorExecutor:
    """An :class:`EstimatorExecutor` with a backend request's settings.

    Raises:
        ConfigurationError: the spec's outputs are probabilities (an estimator has no samples).
    """
    if request.shiftable.probabilities is not None:
        raise ConfigurationError(
            f"{name} is an Estimator: it computes expectation values, not the probability "
            "outputs of this circuit; pass a BaseSamplerV2 (or a backend name) instead"
        )
    return EstimatorExecutor(
        request.shiftable,
        estimator,
        name=name,
        target=target,
        seed=request.seed,
        optimization_level=request.optimization_level,
    )


def sampler_executor(
    request: BackendRequest,
    sampler: BaseSamplerV2,
    target: Any,
    name: str,
    device: Any = None,
    *,
    exact: bool = False,
    executor_class: type[SamplerExecutor] | None = None,
) -> SamplerExecutor:
    """A :class:`SamplerExecutor` with a backend request's settings (Pauli observables).

    For any spec, probability outputs included, use
    :func:`hybridqml.backends.probabilities.sampler_executor`, which passes its
    ``executor_class``. ``shots=None`` means exact values when ``exact`` (a sampler that
    computes its distribution), else :data:`~hybridqml.backends.base.DEFAULT_DEVICE_SHOTS` (a
    device cannot be exact).
    """
    shots = request.shots
    if shots is None and not exact:
        shots = DEFAULT_DEVICE_SHOTS
    return (executor_class or SamplerExecutor)(
        request.shiftable,
        sampler,
        shots=shots,
        name=name,
        target=target,
        seed=request.seed,
        optimization_level=request.optimization_level,
        device=device,
    )
