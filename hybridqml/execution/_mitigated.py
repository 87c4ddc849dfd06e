"""Error mitigation inside a sampler executor's call: readout correction and ZNE, linear.

:class:`MitigationPlan` is attached to a
:class:`~hybridqml.execution._sampler_executor.SamplerExecutor` (Pauli observables) or a
:class:`~hybridqml.execution._probability_executor.ProbabilityExecutor` (probability outputs)
by :meth:`~hybridqml.execution._sampler_executor.SamplerExecutor.enable_mitigation`. It

* folds every transpiled measurement circuit to each ZNE scale factor
  (:func:`hybridqml.mitigation.fold_circuit` on the ISA circuit, then translated to the ISA at
  optimization level 0 on the same physical qubits), so every scale of every measurement group
  is one PUB of the same primitive call;
* corrects each PUB's measured distribution with the readout calibration of its physical
  qubits (exact tensored inverse with ``shots=None``, mthree's M3 with shots);
* extrapolates each output over the scale factors with fixed weights.

Every step is linear in the measured distribution (unless the exponential extrapolator or the
simplex projection is asked for), and a parameter-shift backward pass's shifted bindings are
mitigated exactly like the forward pass's. With readout correction alone that is the exact
gradient of the mitigated values. With ZNE a folded circuit holds each rotation several times
(``G``, ``G^dagger``, ``G`` ...) with one shared angle, and with noise between the copies the
two-term rule on that angle is approximate. So, with ``shift_rule="per-copy"`` (the default),
every folded circuit is rewritten with one angle per gate
(:func:`hybridqml.mitigation._gate_angles.gate_angles`) and a backward pass shifts each copy
on its own (:mod:`hybridqml.execution._pub_bindings`): exact. ``shift_rule="shared"`` keeps
the cheaper approximate rule; the record says which (``"shift_rule_exact"``).

Readout calibrations are cached per backend, noise model and physical qubits
(:data:`CALIBRATIONS`), with their age; calibration circuits run on the backend as one call of
two circuits (counted by trackers and budgets, also in dry runs).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

from hybridqml._validation import user_stacklevel
from hybridqml.exceptions import BackendError, CircuitError, ConfigurationError
from hybridqml.execution import _tracking as tracking
from hybridqml.execution._distribution import DistributionSampler
from hybridqml.execution._isa import (
    BINDING_SEED_STRIDE,
    backend_name,
    bindings,
    parameter_columns,
    set_sampler_seed,
)
from hybridqml.execution._jobs import PrimitiveCall
from hybridqml.execution._measurement import MEASURED_REGISTER, outcomes
from hybridqml.execution._pub_bindings import (
    PubBindings,
    circuit_bindings,
    row_bindings,
    row_factor,
)
from hybridqml.mitigation._extrapolation import extrapolate
from hybridqml.mitigation._folding import fold_circuit, folded_scale
from hybridqml.mitigation._gate_angles import GATE_VECTOR_NAME, GateAngles, gate_angles
from hybridqml.mitigation._options import Mitigation
from hybridqml.mitigation._readout import (
    ReadoutCalibration,
    calibration_from_counts,
    calibration_from_noise_model,
    correct_counts,
    correct_distribution,
    project_simplex,
)

if TYPE_CHECKING:
    from hybridqml.gradients import ShiftedRows

#: A ``hybridqml.execution._sampler_executor.SamplerExecutor`` (not imported: it imports this).
SamplerExecutor = Any

__all__ = [
    "CALIBRATIONS",
    "CALIBRATION_KIND",
    "MAX_MITIGATED_BITS",
    "MitigationPlan",
    "PubBindings",
    "measured_qubits",
    "to_device_isa",
]

CALIBRATION_KIND: Final[str] = "readout-calibration"
"""The pass kind (``Tracker.by_kind``, dry runs) of calibration circuits."""

MAX_MITIGATED_BITS: Final[int] = 16
"""Most measured bits of a mitigated circuit (distributions are held densely, 2**k per binding)."""
CALIBRATIONS: dict[tuple, ReadoutCalibration] = {}
"""Readout calibrations by (backend name, source, noise model readout errors, physical qubits)."""


def measured_qubits(isa: QuantumCircuit) -> tuple[int, ...]:
    """Physical qubit read into each bit of register ``hq`` of a transpiled circuit."""
    register = next((r for r in isa.cregs if r.name == MEASURED_REGISTER), None)
    if register is None:
        raise BackendError(f"the transpiled circuit has no {MEASURED_REGISTER!r} register")
    qubits: list[int | None] = [None] * len(register)
    for ci in isa.data:
        if ci.operation.name == "measure":
            bit = isa.find_bit(ci.clbits[0])
            for reg, index in bit.registers:
                if reg == register:
                    qubits[index] = isa.find_bit(ci.qubits[0]).index
    if any(q is None for q in qubits):
        raise BackendError("a bit of the measured register is never measured")
    return tuple(int(q) for q in qubits)  # type: ignore[arg-type]


def to_device_isa(circuit: QuantumCircuit, target: Any) -> QuantumCircuit:
    """A circuit already on ``target``'s physical qubits, translated to its ISA in place."""
    if target is None:
        return circuit
    try:
        pm = generate_preset_pass_manager(
            optimization_level=0,
            backend=target,
            initial_layout=list(range(circuit.num_qubits)),
            layout_method="trivial",
        )
        return pm.run(circuit)
    except Exception as exc:
        raise BackendError(
            f"cannot translate a folded circuit for {backend_name(target)!r}: {exc}"
        ) from exc


def _noise_model(executor: SamplerExecutor, sampler: Any) -> Any:
    for holder in (getattr(executor, "target", None), getattr(sampler, "simulator", None)):
        noise = getattr(getattr(holder, "options", None), "noise_model", None)
        if noise is not None:
            return noise
    return None


class MitigationPlan:
    """The folded circuits, readout calibration and extrapolation of one executor.

    Args:
        executor: The sampler executor (its ``isa_circuits`` are replaced by the folded ones).
        mitigation: What to mitigate.

    Raises:
        ConfigurationError: more than :data:`MAX_MITIGATED_BITS` measured bits, or a
            circuit that cannot be folded.
    """

    def __init__(self, executor: SamplerExecutor, mitigation: Mitigation) -> None:
        self.executor = executor
        self.mitigation = mitigation
        base = list(executor.isa_circuits)
        self.n_base = len(base)
        self.qubits = [measured_qubits(isa) for isa in base]
        width = max(len(q) for q in self.qubits)
        if width > MAX_MITIGATED_BITS:
            raise ConfigurationError(
                f"mitigation holds each distribution densely: at most {MAX_MITIGATED_BITS} "
                f"measured bits, this circuit measures {width}"
            )
        self.scales = [[1.0] for _ in base]
        self.calibration: ReadoutCalibration | None = None
        self._dry_counted = False
        #: Per PUB, the folded circuit with one angle per gate (per-copy shift rule), or None.
        self.forms: list[GateAngles] | None = None
        #: Why the per-copy shift rule could not be used (``None``: it is, or was not asked for).
        self.fallback: str | None = None
        if mitigation.zne:
            factors = mitigation.scale_factors
            self.scales = [[folded_scale(isa, s) for s in factors] for isa in base]
            target = executor.target
            folded = [to_device_isa(fold_circuit(isa, s), target) for s in factors for isa in base]
            executor.isa_circuits = folded
            executor._columns = [
                parameter_columns(isa, executor.shiftable.n_angles) for isa in folded
            ]
            if mitigation.shift_rule == "per-copy":
                self._per_copy(folded)

    def _per_copy(self, folded: list[QuantumCircuit]) -> None:
        """Rewrite the folded circuits with one angle per gate (else warn and keep them)."""
        ex, k = self.executor, self.executor.shiftable.n_angles
        try:
            self.forms = [gate_angles(isa, k) for isa in folded]
        except CircuitError as exc:
            self.fallback = str(exc)
            warnings.warn(
                f"backend {ex.name!r}: the per-copy shift rule through ZNE needs every "
                f"parameterized gate of the transpiled circuit to be a Pauli rotation of a "
                f"linear angle ({exc}); parameter-shift gradients use the shared angle "
                '(approximate: the record says "shift_rule_exact": false)',
                UserWarning,
                stacklevel=user_stacklevel(),
            )
            return
        ex.isa_circuits = [form.circuit for form in self.forms]
        ex._columns = [
            parameter_columns(form.circuit, form.n_gates, GATE_VECTOR_NAME) for form in self.forms
        ]

    @property
    def all_qubits(self) -> tuple[int, ...]:
        """Every physical qubit measured by some circuit, sorted."""
        return tuple(sorted({q for qubits in self.qubits for q in qubits}))

    # ----------------------------------------------------------------------------- calibration

    def prepare(self) -> None:
        """Make sure a readout calibration is at hand (measured or counted in a dry run)."""
        if not self.mitigation.readout:
            return
        sampler = self.executor._call_sampler()
        noise = _noise_model(self.executor, sampler)
        source = self.mitigation.calibration
        if source == "auto":
            source = "noise_model" if noise is not None else "circuits"
        if source == "noise_model" and noise is None:
            raise ConfigurationError(
                f"calibration='noise_model': backend {self.executor.name!r} has no noise model "
                "to read readout errors from; use calibration='circuits' (or 'auto')"
            )
        # content, not identity: every build of a fake device makes a new, equal noise model
        model = None if noise is None else calibration_from_noise_model(noise, self.all_qubits)
        fingerprint = None if model is None else model.fingerprint()
        key = (self.executor.name, source, fingerprint, self.all_qubits)
        cached = CALIBRATIONS.get(key)
        fresh = cached is not None and (
            source == "noise_model" or cached.age < self.mitigation.max_calibration_age
        )
        if fresh:
            self.calibration = cached
            return
        if model is not None and source == "noise_model":
            self.calibration = model
        elif tracking.is_dry_run():
            if not self._dry_counted:  # what calibrating would send, once
                with tracking.pass_kind(CALIBRATION_KIND):
                    tracking.record(
                        self.executor.name, 1, self.mitigation.calibration_shots, circuits=2
                    )
                self._dry_counted = True
            return
        else:
            with tracking.pass_kind(CALIBRATION_KIND):
                self.calibration = self._measure(sampler)
        CALIBRATIONS[key] = self.calibration

    def _measure(self, sampler: Any) -> ReadoutCalibration:
        """Run the two calibration circuits (all 0, all 1) on the backend as one call."""
        ex, qubits, shots = self.executor, self.all_qubits, self.mitigation.calibration_shots
        n = self.executor.isa_circuits[0].num_qubits
        circuits = []
        for ones in (False, True):
            qc = QuantumCircuit(n)
            qc.add_register(ClassicalRegister(len(qubits), MEASURED_REGISTER))
            if ones:
                qc.x(list(qubits))
            qc.measure(list(qubits), list(range(len(qubits))))
            circuits.append(to_device_isa(qc, ex.target))
        call = tracking.start_call(ex.name, 2, 1, shots)
        info: dict[str, Any] = {"mitigation": "readout calibration"}
        try:
            if isinstance(sampler, DistributionSampler):
                rng = np.random.default_rng([ex.seed if ex.seed is not None else 0, 0xCA1])
                draws = []
                for qc in circuits:
                    probs, seen = sampler.probabilities(qc, None)
                    counts = rng.multinomial(shots, probs[0])
                    draws.append(np.repeat(seen.astype(np.uint64), counts))
            else:
                pubs = [(qc, None, shots) for qc in circuits]
                result = ex.jobs.run(
                    PrimitiveCall(
                        ex.name,
                        lambda: sampler.run(pubs, shots=shots),
                        sampler,
                        circuits,
                        np.zeros((1, 0)),
                        shots,
                        None,
                        info=info,
                        policy=ex.retry_policy,
                    )
                )
                arrays = [getattr(r.data, MEASURED_REGISTER).array for r in result]
                draws = [outcomes(a.reshape(-1, *a.shape[-2:]))[0] for a in arrays]
        except Exception as exc:
            call.finish("failed", info, error=exc)
            raise BackendError(f"readout calibration on {ex.name!r} failed: {exc}") from exc
        call.finish("done", info, qpu_seconds=0.0)
        tracking.record(ex.name, 1, shots, circuits=2)
        return calibration_from_counts(draws[0], draws[1], qubits, shots)

    # ------------------------------------------------------------------------------ evaluation

    def bindings(self, angles: np.ndarray, shifts: ShiftedRows | None) -> list[PubBindings]:
        """Per PUB, the bindings evaluating the (m, K) rows ``angles`` of a call.

        With per-copy forms and ``shifts`` (a parameter-shift plan's rows) each row runs one
        binding per gate depending on its occurrence (:func:`row_bindings`).
        """
        return row_bindings(self.forms, self.executor._columns, angles, shifts)

    def circuit_bindings(self, m: int, shifts: ShiftedRows | None) -> list[int]:
        """Per PUB, the bindings of a call of ``m`` rows (see :meth:`bindings`)."""
        return circuit_bindings(self.forms, len(self.executor.isa_circuits), m, shifts)

    def row_factor(self, shifts: ShiftedRows | None) -> int:
        """Most bindings of one row over all PUBs, per PUB (1 unless per-copy shift rows)."""
        return row_factor(self.forms, shifts)

    def distributions(
        self,
        sampler: Any,
        seed: int | None,
        row: int,
        pubs: list[PubBindings],
        m: int,
        key: np.ndarray,
    ) -> list[np.ndarray]:
        """Per PUB, the (m, 2**k) readout-corrected distribution of each of the call's rows.

        Args:
            sampler: The pass's sampler.
            seed: The pass's seed.
            row: The first row of the pass this call evaluates (seeds distinct experiments).
            pubs: The call's bindings (:meth:`bindings`).
            m: Rows of the call.
            key: The call's rows as sent (the job fingerprint).
        """
        ex = self.executor
        if isinstance(sampler, DistributionSampler):
            raw = [
                self._computed(sampler, isa, pub, rng) if pub.values.shape[0] else None
                for isa, pub, rng in zip(ex.isa_circuits, pubs, ex._pass["rngs"], strict=True)
            ]
        else:
            raw = self._sampled(sampler, seed, row, pubs, key)
        out = []
        for p, (pub, got) in enumerate(zip(pubs, raw, strict=True)):
            if got is None:  # no binding of this circuit in the call (no gate of its rows)
                out.append(np.zeros((m, 1 << len(self.qubits[p % self.n_base]))))
            else:
                out.append(pub.gather(self._correct(p, *got), m))
        return out

    def _computed(
        self, sampler: DistributionSampler, isa: QuantumCircuit, pub: PubBindings, rng: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """(B, C) probabilities (or drawn counts) and the (C,) outcomes of one PUB."""
        b = pub.values.shape[0]
        probs, seen = sampler.probabilities(isa, pub.values if pub.values.shape[1] else None)
        probs = np.broadcast_to(probs, (b, probs.shape[1]))  # one row if nothing is bound
        weights = (
            probs if self.executor.shots is None else rng.multinomial(self.executor.shots, probs)
        )
        return np.asarray(weights), seen.astype(np.int64)

    def _sampled(
        self, sampler: Any, seed: int | None, row: int, pubs: list[PubBindings], key: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """(B, C) counts and (C,) outcomes of every PUB with bindings, from one primitive call."""
        ex = self.executor
        call_seed = None if seed is None else seed + BINDING_SEED_STRIDE * len(pubs) * row
        if call_seed is not None:
            set_sampler_seed(sampler, call_seed)
        sent = [p for p, pub in enumerate(pubs) if pub.values.shape[0]]
        primitive_pubs = []
        for p in sent:
            isa, values = ex.isa_circuits[p], pubs[p].values
            array = bindings(isa, np.arange(values.shape[1]), values, (values.shape[0],))
            primitive_pubs.append((isa, array, ex.shots))
        results = ex._submit(primitive_pubs, key, call_seed) if primitive_pubs else []
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(pubs)
        for p, pub_result in zip(sent, results, strict=True):
            bits = outcomes(getattr(pub_result.data, MEASURED_REGISTER).array)
            seen, index = np.unique(bits, return_inverse=True)
            index = index.reshape(bits.shape)
            counts = np.stack([np.bincount(r, minlength=len(seen)) for r in index])
            out[p] = (counts, seen.astype(np.int64))
        return out

    def _correct(self, pub: int, weights: np.ndarray, seen: np.ndarray) -> np.ndarray:
        qubits = self.qubits[pub % self.n_base]
        k, m = len(qubits), weights.shape[0]
        exact = self.executor.shots is None
        if not self.mitigation.readout or self.calibration is None:
            dense = np.zeros((m, 1 << k))
            dense[:, seen] = weights if exact else weights / self.executor.shots
            return dense
        if exact:
            return correct_distribution(weights, seen, qubits, self.calibration)
        dense = np.zeros((m, 1 << k))
        rows_outcomes, rows_values = correct_counts(weights, seen, qubits, self.calibration)
        for i, (o, v) in enumerate(zip(rows_outcomes, rows_values, strict=True)):
            dense[i, o] = v
        return dense

    def combine(self, per_pub: list[np.ndarray]) -> list[np.ndarray]:
        """Extrapolate each base circuit's outputs over its scale factors (identity without ZNE)."""
        if not self.mitigation.zne:
            return per_pub
        out = []
        mitigation = self.mitigation
        for b in range(self.n_base):
            values = np.stack(per_pub[b :: self.n_base])  # (S, M, X)
            out.append(
                extrapolate(self.scales[b], values, mitigation.extrapolator, mitigation.order)
            )
        return out

    def project(self, outputs: np.ndarray) -> np.ndarray:
        """Probability outputs projected onto the simplex when asked for (else unchanged)."""
        return project_simplex(outputs) if self.mitigation.project else outputs

    def to_json(self) -> dict[str, Any]:
        """The settings, realized scale factors and the calibration in use (for the run record)."""
        out = self.mitigation.to_json()
        # through folded circuits only the per-copy rule is exact; a non-linear step never is
        out["shift_rule_exact"] = self.mitigation.linear and (
            not self.mitigation.zne or self.forms is not None
        )
        if self.fallback is not None:
            out["shift_rule"] = "shared"
            out["shift_rule_fallback"] = self.fallback
        if self.mitigation.zne:
            out["realized_scale_factors"] = [[round(s, 6) for s in row] for row in self.scales]
        if self.calibration is not None:
            out["readout_calibration"] = self.calibration.to_json()
        return out
