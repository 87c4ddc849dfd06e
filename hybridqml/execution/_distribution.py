"""Samplers that know their exact outcome distribution, and shots drawn from it.

Measuring ``shots`` times in the computational basis draws ``shots`` independent outcomes from
the circuit's outcome distribution. A simulator that computes that distribution exactly (the
Born probabilities of a statevector, the diagonal of a noisy density matrix) can draw the shots
with numpy instead of producing one bitstring per shot: a multinomial draw of the outcome
counts, expanded to per-shot samples in random order when a caller wants bitstrings. The
samples have exactly the law of measurement sampling; what is saved is a simulator producing
and Qiskit parsing one memory string per shot, which dominates at thousands of shots.

:class:`DistributionSampler` is that Sampler V2 primitive, with the distribution left to
subclasses (:class:`~hybridqml.backends.aer.AerBornSampler` for noiseless Aer,
:class:`~hybridqml.backends.mixed.DensityMatrixSampler` for noise models).
It is what the generic sampler executor asks for: with one, ``shots=None`` gives exact values.

Only circuits whose measurements are all terminal (nothing acts on a qubit after it is
measured, no resets, no classically controlled operations) can be sampled this way
(:func:`terminal_measurements`). The draws are reproducible with ``options.seed_simulator`` and
come from numpy's PCG64.

Example:
    >>> outcome_to_clbits([2, 0]).tolist()     # outcome bit 0 -> clbit 2, bit 1 -> clbit 0
    [0, 4, 1, 5]
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2
from qiskit.primitives.containers import (
    BitArray,
    DataBin,
    PrimitiveResult,
    SamplerPubLike,
    SamplerPubResult,
)
from qiskit.primitives.containers.sampler_pub import SamplerPub

from hybridqml.exceptions import CircuitError, ConfigurationError
from hybridqml.execution._jobs import DoneJob, IdentityCache

__all__ = [
    "DEFAULT_SHOTS",
    "MAX_MEASURED_QUBITS",
    "MAX_PROBABILITIES",
    "PROBABILITY_SHOTS",
    "DistributionSampler",
    "SamplerOptions",
    "normalized",
    "outcome_to_clbits",
    "terminal_measurements",
]

#: Most measured qubits sampled this way (2**20 probabilities per binding).
MAX_MEASURED_QUBITS = 20
#: Shots per PUB when neither the PUB nor ``run`` gives any.
DEFAULT_SHOTS = 1024
#: Probabilities held in memory at once (bindings are simulated in chunks below this).
MAX_PROBABILITIES = 1 << 22
#: Shots of a probability run on Aer. ``save_probabilities`` is averaged over the run's shots,
#: and Aer (0.18) simulates the circuit once per shot for it: its default 1024 shots made a
#: probability run ~6x slower than an exact expectation-value run. The state is deterministic
#: (no measurement; noise as channels on a density matrix), so one shot gives the exact
#: probabilities.
PROBABILITY_SHOTS = 1
#: Prepared circuits kept per sampler (oldest evicted first).
_CACHE_SIZE = 32
_NON_TERMINAL = {"reset", "initialize", "if_else", "while_loop", "for_loop", "switch_case"}


@dataclass
class SamplerOptions:
    """Options of a :class:`DistributionSampler`.

    Attributes:
        seed_simulator: Seed of the shot draws of the next ``run`` (``None``: fresh entropy).
        default_shots: Shots per PUB when neither the PUB nor ``run`` sets them.
    """

    seed_simulator: int | None = None
    default_shots: int = DEFAULT_SHOTS


class DistributionSampler(BaseSamplerV2):
    """A Sampler V2 primitive that computes each circuit's exact outcome distribution.

    Subclasses say how a circuit is prepared (:meth:`_prepare`, cached per circuit) and how
    its probabilities are computed for a batch of bindings (:meth:`_probabilities`); this base
    samples shots from them (:meth:`run`, :meth:`counts`) and exposes them
    (:meth:`probabilities`). The generic sampler executor asks for this class, not for a
    backend: with one, ``shots=None`` gives exact values and shots are drawn as counts.

    Args:
        seed: Initial ``options.seed_simulator``.
        default_shots: Shots per PUB when none are given.
    """

    def __init__(self, *, seed: int | None = None, default_shots: int = DEFAULT_SHOTS) -> None:
        self.options = SamplerOptions(seed_simulator=seed, default_shots=default_shots)
        self._prepared = IdentityCache(_CACHE_SIZE)  # circuit -> its prepared form

    @abstractmethod
    def _prepare(self, circuit: QuantumCircuit) -> Any:
        """The prepared form of ``circuit`` (with ``n_measured`` and ``outcome_to_clbits``)."""

    @abstractmethod
    def _probabilities(self, prepared: Any, values: np.ndarray | None) -> np.ndarray:
        """(N, 2**k) unnormalized outcome probabilities for value rows (N, n_params) (one chunk).

        ``values`` is ``None`` when the circuit has no parameters (one row).
        """

    def _distribution(self, prepared: Any, values: np.ndarray | None) -> np.ndarray:
        """(N, 2**k) probabilities, computed in chunks of at most :data:`MAX_PROBABILITIES`."""
        if values is None:
            return normalized(self._probabilities(prepared, None))
        values = np.asarray(values, dtype=float)
        values = values.reshape(len(values), -1)
        step = max(1, MAX_PROBABILITIES >> prepared.n_measured)
        parts = [
            self._probabilities(prepared, values[i : i + step]) for i in range(0, len(values), step)
        ]
        return normalized(np.concatenate(parts))

    def _prepare_circuit(self, circuit: QuantumCircuit) -> Any:
        return self._prepared.get(circuit, lambda: self._prepare(circuit))

    def run(self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None) -> DoneJob:
        """Sample every PUB and return a finished job (one generator for the whole call)."""
        default = self.options.default_shots if shots is None else shots
        coerced = [SamplerPub.coerce(pub, default) for pub in pubs]
        rng = np.random.default_rng(self.options.seed_simulator)
        return DoneJob(
            PrimitiveResult([self._run_pub(p, rng) for p in coerced], metadata={"version": 2}),
            job_id="aer-born-sampler",
        )

    def counts(
        self,
        circuit: QuantumCircuit,
        values: np.ndarray | None,
        shots: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Outcome counts per binding: what :meth:`run` samples, before expanding to shots.

        A lean entry for callers that only need counts (e.g. Pauli expectation values).

        Args:
            circuit: A circuit with terminal measurements.
            values: (N, n_params) values in ``circuit.parameters`` order, or ``None`` when the
                circuit has no parameters (one row).
            shots: Shots per binding (> 0).
            rng: Generator of the draws.

        Returns:
            ``counts`` (N, 2**k) over the measured-qubit outcomes, and the (2**k,) map from
            such an outcome to the integer over all of the circuit's classical bits (bit ``j``
            is ``circuit.clbits[j]``).
        """
        if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots <= 0:
            raise ConfigurationError(f"shots must be a positive integer, got {shots!r}")
        probs, to_clbits = self.probabilities(circuit, values)
        return rng.multinomial(int(shots), probs), to_clbits

    def probabilities(
        self, circuit: QuantumCircuit, values: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The exact outcome distribution per binding, which :meth:`counts` samples.

        Args:
            circuit: A circuit with terminal measurements.
            values: (N, n_params) values in ``circuit.parameters`` order, or ``None`` when the
                circuit has no parameters (one row).

        Returns:
            ``probs`` (N, 2**k) over the measured-qubit outcomes, and the (2**k,) map from such an
            outcome to the integer over all of the circuit's classical bits.
        """
        prepared = self._prepare_circuit(circuit)
        return self._distribution(prepared, values), prepared.outcome_to_clbits

    def _run_pub(self, pub: SamplerPub, rng: np.random.Generator) -> SamplerPubResult:
        circuit, shots = pub.circuit, pub.shots
        params = list(circuit.parameters)
        shape = pub.parameter_values.shape
        values = pub.parameter_values.as_array(params).reshape(-1, len(params)) if params else None
        counts, to_clbits = self.counts(circuit, values, shots, rng)
        outcomes = np.repeat(np.tile(to_clbits, (counts.shape[0], 1)).ravel(), counts.ravel())
        samples = rng.permuted(outcomes.reshape(counts.shape[0], shots), axis=1)  # iid order
        data = {}
        for creg in circuit.cregs:
            index = np.array([circuit.find_bit(bit).index for bit in creg], dtype=np.uint64)
            bits = (samples[..., None] >> index) & np.uint64(1)  # (N, shots, len(creg))
            value = (bits << np.arange(len(creg), dtype=np.uint64)).sum(axis=-1, dtype=np.uint64)
            data[creg.name] = _bit_array(value.reshape(*shape, shots), len(creg))
        return SamplerPubResult(
            DataBin(**data, shape=shape),
            metadata={"shots": shots, "circuit_metadata": circuit.metadata},
        )


def _bit_array(values: np.ndarray, num_bits: int) -> BitArray:
    """Integer outcomes (..., shots) to a BitArray (big-endian bytes, as Qiskit stores them)."""
    nbytes = max(1, (num_bits + 7) // 8)
    raw = values.astype(">u8").view(np.uint8).reshape(*values.shape, 8)[..., 8 - nbytes :]
    return BitArray(np.ascontiguousarray(raw), num_bits)


def normalized(probs: np.ndarray) -> np.ndarray:
    """Rows of probabilities clipped at 0 (rounding can leave -1e-17) and summing to 1.

    Example:
        >>> normalized(np.array([[1.0, -1e-17, 1.0]])).tolist()
        [[0.5, 0.0, 0.5]]
    """
    probs = np.clip(probs, 0.0, None)
    return probs / probs.sum(axis=1, keepdims=True)


def terminal_measurements(
    circuit: QuantumCircuit, who: str
) -> tuple[QuantumCircuit, dict[int, int]]:
    """The circuit without its terminal measurements, and its map classical bit -> qubit.

    Args:
        circuit: A circuit whose measurements are all terminal.
        who: The sampler named in errors.

    Raises:
        CircuitError: a non-terminal measurement, a reset or classical control, nothing
            measured, or more than :data:`MAX_MEASURED_QUBITS` measured qubits.
    """
    measured: dict[int, int] = {}  # clbit index -> qubit index
    done: set[int] = set()  # qubits already measured
    body = circuit.copy_empty_like()
    for instruction in circuit.data:
        op = instruction.operation
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if op.name == "measure":
            clbit = circuit.find_bit(instruction.clbits[0]).index
            if clbit in measured or qubits[0] in done:
                raise CircuitError(
                    f"a repeated measurement (qubit {qubits[0]}, classical bit {clbit}) after a "
                    f"measurement: {who} needs terminal measurements only; use "
                    "qiskit_aer.primitives.SamplerV2 for this circuit"
                )
            measured[clbit] = qubits[0]
            done.add(qubits[0])
            continue
        if op.name == "barrier":
            body.append(instruction)
            continue
        if op.name in _NON_TERMINAL or instruction.clbits or done.intersection(qubits):
            raise CircuitError(
                f"{op.name!r} after a measurement or on classical bits: {who} needs "
                "terminal measurements only; use qiskit_aer.primitives.SamplerV2 for this circuit"
            )
        body.append(instruction)
    if not measured:
        raise CircuitError("the circuit measures nothing: add measurements to sample it")
    if len(measured) > MAX_MEASURED_QUBITS:
        raise CircuitError(
            f"{len(measured)} measured qubits is more than {who}'s "
            f"{MAX_MEASURED_QUBITS}; use qiskit_aer.primitives.SamplerV2"
        )
    return body, measured


def outcome_to_clbits(clbits: list[int]) -> np.ndarray:
    """(2**k,) map from an outcome over ``clbits`` (bit j: ``clbits[j]``) to the clbit integer."""
    outcome = np.arange(1 << len(clbits), dtype=np.uint64)
    to_clbits = np.zeros(1 << len(clbits), dtype=np.uint64)
    for j, clbit in enumerate(clbits):
        to_clbits |= ((outcome >> np.uint64(j)) & np.uint64(1)) << np.uint64(clbit)
    return to_clbits
