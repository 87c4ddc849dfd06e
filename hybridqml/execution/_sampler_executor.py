"""The executor over any Sampler V2 primitive: expectation values from measured bitstrings.

The observables' Pauli terms are grouped into qubit-wise commuting sets
(``_measurement``); each set gets one measurement circuit, transpiled
once to the target's ISA, and one PUB; all PUBs go in one ``run`` call, and expectation values
come from the measured bitstrings: genuine finite-shot estimates, not Gaussian noise added to
exact values. Each pass (each :meth:`~hybridqml.execution.Executor.run`) draws a fresh
simulator seed from a generator seeded once with ``seed``, so runs are reproducible and the shot
noise still changes from step to step; a pass split into several calls for memory draws exactly
the values one call would (see :class:`SamplerExecutor`).

A sampler that computes its distribution
(:class:`~hybridqml.execution._distribution.DistributionSampler`: noiseless Aer's Born sampler,
the density-matrix sampler of noise models) is asked for it instead: one run for the exact
probabilities of every binding, then the shots drawn as counts (no per-shot bitstrings), or,
with ``shots=None``, the exact values (the same parities weighted by the probabilities). Other
samplers (IBM Runtime, ``BackendSamplerV2``, Aer's trajectories) are run through the
executor's :class:`~hybridqml.execution._jobs.Jobs`: on devices the hardware room's, which
retries, logs, recovers pending jobs and sends jobs into an open runtime ``Session``/``Batch``.

Example:
    >>> from qiskit.primitives import StatevectorSampler
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> ex = SamplerExecutor(ShiftableCircuit(circuits.ry(1)), StatevectorSampler(seed=1),
    ...                      shots=1000, name="statevector", seed=1)
    >>> bool(abs(ex.run([[0.0]])[0, 0]) < 0.1)
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit.primitives import BaseSamplerV2

from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._distribution import DistributionSampler
from hybridqml.execution._executor import DEFAULT_OPTIMIZATION_LEVEL, Executor
from hybridqml.execution._isa import (
    BINDING_SEED_STRIDE,
    bindings,
    parameter_columns,
    set_sampler_seed,
    transpile_for,
)
from hybridqml.execution._jobs import LOCAL_JOBS, Jobs, PrimitiveCall
from hybridqml.execution._measurement import (
    MEASURED_REGISTER,
    group_terms,
    measurement_circuit,
    outcomes,
    pauli_terms,
    support_mask,
)
from hybridqml.execution._mitigated import MitigationPlan
from hybridqml.mitigation._options import Mitigation

if TYPE_CHECKING:
    from hybridqml.gradients import ShiftedRows

__all__ = ["SamplerExecutor"]


class SamplerExecutor(Executor):
    """Measures qubit-wise commuting groups of Pauli terms, one PUB per group, one call in all.

    Args:
        shiftable: The circuit to run.
        sampler: Any ``BaseSamplerV2``.
        shots: Shots per binding (> 0), or ``None`` for the exact values of the distribution an
            :class:`~hybridqml.execution._distribution.DistributionSampler` computes.
        name: Backend name for messages.
        target: Backend whose ISA to transpile to, or ``None`` to run the circuits as built.
        seed: Seeds the generator that draws one simulator seed per call (simulators only)
            and the transpiler (:data:`DEFAULT_TRANSPILER_SEED` when ``None``).
        optimization_level: Transpiler preset level.
        device: The device this executor stands for (e.g. the fake device behind an Aer
            simulator of it); defaults to ``target``.
        jobs: How calls reach the sampler (:class:`~hybridqml.execution._jobs.Jobs`).

    While a qiskit-ibm-runtime ``Session`` or ``Batch`` context is open on the same device
    (``with Session(backend=...):``), calls run inside it.

    Seeding: with ``seed``, every pass draws one seed from a generator seeded once. A pass split
    into several calls (see :meth:`~hybridqml.execution.Executor.run`) is reproducible and
    never reuses a seed within the pass. On a distribution sampler it draws exactly
    what one call would: each measurement group draws from its own generator, spawned from the
    pass seed, in row order across the calls. On Aer's own sampler (trajectories)
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
        target: Any = None,
        seed: int | None = None,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
        device: Any = None,
        jobs: Jobs = LOCAL_JOBS,
    ) -> None:
        super().__init__(shiftable, name=name, shots=shots)
        if shots is None and not isinstance(sampler, DistributionSampler):
            raise ConfigurationError(
                f"{type(sampler).__name__} samples shots: exact values need a sampler that "
                "computes its distribution (a DistributionSampler, e.g. AerBornSampler)"
            )
        n = shiftable.circuit.num_qubits
        if n > 63:
            raise ConfigurationError(
                f"the sampler path measures at most 63 logical qubits, this circuit has {n}"
            )
        self.sampler = sampler
        self.jobs = jobs
        self.target = target
        self.seed = seed
        self.device = device if device is not None else target
        #: The error mitigation of every call (see :meth:`enable_mitigation`), or ``None``.
        self.mitigation: MitigationPlan | None = None
        self._context_sampler: tuple[Any, BaseSamplerV2] | None = None
        self._rng = np.random.default_rng(seed)
        self._seeded = seed is not None
        labels, self._coeffs, self._offsets = pauli_terms(shiftable.observables)
        self._groups = group_terms(labels)  # list of (basis label, term indices)
        circuits = [measurement_circuit(shiftable.circuit, basis) for basis, _ in self._groups]
        self.isa_circuits = transpile_for(circuits, target, optimization_level, seed)
        self._columns = [parameter_columns(isa, shiftable.n_angles) for isa in self.isa_circuits]
        self._masks = [
            np.array([support_mask(labels[t]) for t in terms], dtype=np.uint64)
            for _, terms in self._groups
        ]
        self._n_terms = len(labels)
        self._pass: dict[str, Any] = {}
        self._shot_seconds: list[float] | bool | None = False  # False: not computed yet
        #: How failed jobs are retried (read by the job service, e.g. a
        #: :class:`hybridqml.hardware._retry.RetryPolicy`; ``None``: its default).
        self.retry_policy: Any = None

    @property
    def n_circuits(self) -> int:
        """One measurement circuit (PUB) per qubit-wise commuting group of Pauli terms."""
        return len(self.isa_circuits)

    def call_seconds(self, bindings: int) -> float:
        """QPU seconds of a call on a device with gate durations, else 0.

        See ``_qpu_time`` for the estimate and its assumptions.
        """
        return self._seconds([bindings] * len(self.isa_circuits))

    def _seconds(self, per_circuit: list[int]) -> float:
        """QPU seconds of a call running ``per_circuit[p]`` bindings of circuit ``p``."""
        if self._shot_seconds is False:
            self._shot_seconds = self.jobs.shot_seconds(self.isa_circuits, self.device)
        if not isinstance(self._shot_seconds, list) or not self._shot_seconds or self.shots is None:
            return 0.0
        pairs = zip(per_circuit, self._shot_seconds, strict=True)
        return float(self.shots * sum(b * seconds for b, seconds in pairs))

    def _per_copy(self, shifts: ShiftedRows | None) -> bool:
        """Whether shift rows run one binding per folded copy (ZNE, per-copy rule)."""
        return (
            shifts is not None and self.mitigation is not None and self.mitigation.forms is not None
        )

    def _binding_bytes(self, shifts: ShiftedRows | None) -> int | None:
        if self.binding_bytes is None or not self._per_copy(shifts):
            return self.binding_bytes
        assert self.mitigation is not None
        return self.binding_bytes * self.mitigation.row_factor(shifts)

    def _call_cost(self, m: int, shifts: ShiftedRows | None) -> tuple[int, float]:
        if not self._per_copy(shifts):
            return super()._call_cost(m, shifts)
        assert self.mitigation is not None
        per_circuit = self.mitigation.circuit_bindings(m, shifts)
        return sum(per_circuit), self._seconds(per_circuit)

    def random_state(self) -> dict[str, Any] | None:
        """The per-call seed generator's state (``None`` when unseeded: nothing to replay)."""
        return dict(self._rng.bit_generator.state) if self._seeded else None

    def set_random_state(self, state: Mapping[str, Any] | None) -> None:
        """Continue the per-call seed sequence from ``state`` (seeded executors only)."""
        if state is not None and self._seeded:
            self._rng.bit_generator.state = dict(state)

    def _call_sampler(self) -> BaseSamplerV2:
        """The sampler for this call: a runtime context's on the same device, else our own."""
        context = self.jobs.session(self.device)
        if context is None:
            return self.sampler
        if self._context_sampler is None or self._context_sampler[0] is not context:
            self._context_sampler = (context, self.jobs.session_sampler(context))
        return self._context_sampler[1]

    def _begin_pass(self) -> None:
        """Choose the pass's sampler and draw its seed (one per pass, however many calls)."""
        sampler = self._call_sampler()
        seed = int(self._rng.integers(2**31 - 1)) if self._seeded else None
        self._pass = {"sampler": sampler, "seed": seed, "row": 0}
        if isinstance(sampler, DistributionSampler):
            base = seed if self._seeded else sampler.options.seed_simulator
            # one stream per PUB (the first ones are those of the unmitigated groups)
            streams = np.random.SeedSequence(base).spawn(len(self.isa_circuits))
            self._pass["rngs"] = [np.random.default_rng(s) for s in streams]

    def _next_rows(self, m: int) -> tuple[BaseSamplerV2, int | None, int]:
        """The pass's sampler and seed, and the first of the ``m`` rows this call evaluates."""
        if not self._pass:
            self._begin_pass()
        sampler, seed, row = self._pass["sampler"], self._pass["seed"], self._pass["row"]
        self._pass["row"] = row + m
        return sampler, seed, row

    def enable_mitigation(self, mitigation: Mitigation) -> None:
        """Mitigate every call from now on (see ``hybridqml.execution._mitigated``).

        Raises:
            ConfigurationError: the circuit cannot be folded or measures too many bits.
        """
        self.mitigation = MitigationPlan(self, mitigation)
        self.mitigation_record = mitigation.to_json()
        self.mitigation.prepare()  # calibrate now: counted before the first epoch
        self._shot_seconds = False  # the folded circuits take longer

    def run(self, angles: np.ndarray, *, shifts: ShiftedRows | None = None) -> np.ndarray:
        """As :meth:`Executor.run`, after making sure a readout calibration is at hand."""
        if self.mitigation is not None:
            self.mitigation.prepare()
        return super().run(angles, shifts=shifts)

    def _run_shifted(self, angles: np.ndarray, shifts: ShiftedRows) -> np.ndarray:
        """Per-copy shift rows through ZNE (see ``_mitigated``); plain rows otherwise."""
        if not self._per_copy(shifts):
            return self._run(angles)
        return self._mitigated_values(self._mitigated_distributions(angles, shifts))

    def _mitigated_distributions(
        self, angles: np.ndarray, shifts: ShiftedRows | None
    ) -> list[np.ndarray]:
        """Per PUB, the call's (m, 2**k) readout-corrected distributions (rows gathered)."""
        plan = self.mitigation
        assert plan is not None
        self.job_info["mitigation"] = plan.mitigation.label  # for the job log
        m = angles.shape[0]
        pubs = plan.bindings(angles, shifts)
        total = sum(pub.values.shape[0] for pub in pubs)
        # a call's experiments get distinct seeds: rows advance by its bindings per circuit
        sampler, seed, row = self._next_rows(max(m, math.ceil(total / len(pubs))))
        key = angles
        if shifts is not None:
            key = np.column_stack([angles, shifts.occurrence, shifts.amount])
        return plan.distributions(sampler, seed, row, pubs, m, key)

    def _run(self, angles: np.ndarray) -> np.ndarray:
        if self.mitigation is not None:
            return self._mitigated_values(self._mitigated_distributions(angles, None))
        m = angles.shape[0]
        sampler, seed, row = self._next_rows(m)
        if isinstance(sampler, DistributionSampler):
            return self._run_distribution(sampler, angles)
        if seed is not None:
            stride = BINDING_SEED_STRIDE * len(self._groups)
            set_sampler_seed(sampler, seed + stride * row)
        pubs = [
            (isa, bindings(isa, cols, angles, (m,)), self.shots)
            for isa, cols in zip(self.isa_circuits, self._columns, strict=True)
        ]
        call_seed = None if seed is None else seed + BINDING_SEED_STRIDE * len(pubs) * row
        result = self._submit(pubs, angles, call_seed)
        term_values = np.zeros((m, self._n_terms))
        for (_, terms), masks, pub_result in zip(self._groups, self._masks, result, strict=True):
            bits = outcomes(getattr(pub_result.data, MEASURED_REGISTER).array)  # (M, shots)
            for t, mask in zip(terms, masks, strict=True):
                parity = np.bitwise_count(bits & mask) & 1
                term_values[:, t] = 1.0 - 2.0 * parity.mean(axis=1)
        return term_values @ self._coeffs.T + self._offsets

    def _mitigated_values(self, dists: list[np.ndarray]) -> np.ndarray:
        """Term values from the plan's corrected distributions, extrapolated, then observables."""
        plan = self.mitigation
        assert plan is not None
        per_pub = []
        for p, dense in enumerate(dists):
            masks = self._masks[p % plan.n_base]
            seen = np.arange(dense.shape[1], dtype=np.uint64)
            signs = (1.0 - 2.0 * (np.bitwise_count(seen[None, :] & masks[:, None]) & 1)).T
            per_pub.append(dense @ signs)
        term_values = np.zeros((dists[0].shape[0], self._n_terms))
        for (_, terms), values in zip(self._groups, plan.combine(per_pub), strict=True):
            term_values[:, terms] = values
        return term_values @ self._coeffs.T + self._offsets

    def _submit(self, pubs: list[Any], angles: np.ndarray, seed: int | None) -> Any:
        """Run ``pubs`` on the pass's sampler as one job: retried, logged, recovered by id.

        Args:
            pubs: The call's PUBs.
            angles: The call's (m, K) angles (part of the job's fingerprint).
            seed: The simulator seed set for this call (kept by every retry).
        """
        call = PrimitiveCall(
            self.name,
            lambda: self._pass["sampler"].run(pubs, shots=self.shots),
            self._pass["sampler"],
            self.isa_circuits,
            angles,
            self.shots,
            seed,
            info=self.job_info,
            reopen=lambda: self._reopen(seed),
            policy=self.retry_policy,
        )
        return self.jobs.run(call)

    def _reopen(self, seed: int | None) -> None:
        """Replace a sampler whose session closed with one on a new session (same options)."""
        old = self._pass["sampler"]
        new = self.jobs.reopen(old)
        if seed is not None:  # the retried call keeps the seed of its first attempt
            set_sampler_seed(new, seed)
        self._pass["sampler"] = new
        if self._context_sampler is not None and self._context_sampler[1] is old:
            self._context_sampler = (self._context_sampler[0], new)
        elif self.sampler is old:
            self.sampler = new

    def _run_distribution(self, sampler: DistributionSampler, angles: np.ndarray) -> np.ndarray:
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
