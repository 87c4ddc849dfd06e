"""Exact noisy outcome distributions on Aer, and shots drawn from them.

A noisy device (a fake IBM device, or an ``AerSimulator`` with a noise model) measured with
infinitely many shots gives outcome frequencies that converge to one distribution: the
diagonal of the circuit's density matrix, with every gate's noise channel applied, pushed
through the readout (assignment) error of each measured qubit. :class:`DensityMatrixSampler`
computes exactly that distribution and draws shots from it
(:class:`~hybridqml.execution._distribution.DistributionSampler`):

1. **Active qubits only.** A circuit transpiled for a 127-qubit device acts on a handful of them;
   the others stay in ``|0>`` and no noise acts on them (a device noise model attaches errors to
   instructions), so they are dropped. The active qubits are further split into groups that no
   multi-qubit instruction connects (their noisy states are independent, the distribution is the
   product of theirs); small groups are packed into one block of at most
   :data:`PACKED_QUBITS` qubits.
2. **Noise inlined, density matrix.** Each block is rebuilt on its own qubits with, after every
   instruction, the noise model's error for that instruction on those physical qubits as a Kraus
   channel (Aer's rule: a qubit-specific error replaces the all-qubit one; errors act after the
   instruction), and its density matrix evolved exactly, so one pass per call gives the exact
   probabilities of every binding (no trajectories, no seed). Blocks of up to
   :data:`~hybridqml.backends.mixed._density.MAX_BATCHED_QUBITS` qubits whose parameterized gates
   are one-qubit rotations run batched in numpy (``_density``: all
   bindings at once, consecutive fixed instructions fused; 7x faster than Aer at 4 qubits), the
   others on Aer's ``density_matrix`` method (one run for all bindings). Both give the same
   probabilities (tested to 1e-12). The noise model is read once, when a circuit is first
   prepared, not on every run.
3. **Readout.** Each measured qubit's 2x2 assignment matrix ``A[true, recorded]`` from the noise
   model (its qubit-specific ``ReadoutError``, else the all-qubit one) is applied to the
   probabilities.

Shots are then a multinomial draw from the distribution (seeded with ``options.seed_simulator``,
fresh entropy when ``None``), with exactly the law of Aer's own noisy sampling; the exact
distribution itself is :meth:`DensityMatrixSampler.probabilities` (exact noisy expectation values).

Limits (the reason is raised as :class:`~hybridqml.exceptions.ConfigurationError` by
:meth:`DensityMatrixSampler.check`, and the executors then fall back to Aer's trajectory sampling
when shots are given): a density matrix of ``n`` qubits holds ``4**n`` complex numbers,
``16 * 4**n`` bytes (256 MiB at 12 qubits, 4 GiB at 14), and every gate touches all of them (the
work of a ``2n``-qubit statevector), so a block of more than :data:`MAX_DENSITY_MATRIX_QUBITS`
qubits is refused. Also refused: noise with no per-instruction channel form here (correlated
readout errors over several qubits, quantum errors on measurements, noise passes acting on delays),
and circuits whose measurements are not terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import Kraus

from hybridqml.backends.mixed._density import DensityProgram, compile_block
from hybridqml.exceptions import BackendError, ConfigurationError
from hybridqml.execution._distribution import (
    DEFAULT_SHOTS,
    PROBABILITY_SHOTS,
    DistributionSampler,
    outcome_to_clbits,
    terminal_measurements,
)
from hybridqml.hardware import _noise as noise_channels

__all__ = [
    "MAX_DENSITY_MATRIX_QUBITS",
    "NOISY_SIMULATIONS",
    "PACKED_QUBITS",
    "DensityMatrixSampler",
    "apply_readout",
    "density_matrix_bytes",
]

#: Most qubits of one density matrix: 16 * 4**12 bytes = 256 MiB, each gate the work of a
#: 24-qubit statevector. Beyond it, noisy shots come from Aer's trajectories.
MAX_DENSITY_MATRIX_QUBITS: Final[int] = 12
#: Independent groups of active qubits are simulated together up to this many qubits.
PACKED_QUBITS: Final[int] = 8
#: How noisy circuits are simulated: ``"auto"`` (density matrix when it applies, else Aer's
#: trajectories for shots), ``"density_matrix"`` (always; an error when it does not apply) or
#: ``"trajectories"`` (Aer's own noisy sampling, shots only).
NOISY_SIMULATIONS: Final[tuple[str, ...]] = ("auto", "density_matrix", "trajectories")
#: Simulator options carried over to the density-matrix simulator.
_CARRIED_OPTIONS = ("device", "max_parallel_threads", "max_memory_mb")


def density_matrix_bytes(n_qubits: int) -> int:
    """Memory of one complex128 density matrix of ``n_qubits``.

    Example:
        >>> density_matrix_bytes(12) // 2**20
        256
    """
    return 16 * 4**n_qubits


def apply_readout(probs: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Push outcome probabilities through independent per-bit assignment matrices.

    Args:
        probs: (N, 2**m) probabilities; bit ``i`` of an outcome is measured bit ``i``.
        matrices: (m, 2, 2) with ``matrices[i][t, r]`` = P(bit ``i`` recorded ``r`` | true ``t``).

    Returns:
        (N, 2**m) recorded-outcome probabilities.

    Example:
        >>> apply_readout(np.array([[0.0, 1.0]]), np.array([[[0.9, 0.1], [0.2, 0.8]]])).tolist()
        [[0.2, 0.8]]
    """
    n, m = probs.shape[0], len(matrices)
    p = probs.reshape(n, *([2] * m))  # axis 1 is bit m-1, axis m is bit 0
    for i, matrix in enumerate(matrices):
        axis = m - i
        p = np.moveaxis(np.tensordot(p, matrix, axes=([axis], [0])), -1, axis)
    return p.reshape(n, 1 << m)


@dataclass(frozen=True)
class _Block:
    """Some independent active qubits, rebuilt with their noise inlined."""

    circuit: QuantumCircuit  # on its own qubits; saves the probabilities of its measured ones
    columns: np.ndarray  # column (in the full circuit's parameter order) of each parameter
    index: np.ndarray  # (2**k,) full outcome -> this block's outcome
    readout: np.ndarray  # (m, 2, 2) assignment matrices of its measured qubits
    program: DensityProgram | None  # every binding at once in numpy; None: Aer runs it


@dataclass(frozen=True)
class _NoisyPrepared:
    blocks: tuple[_Block, ...]  # blocks with parameters (simulated on every call)
    fixed: np.ndarray  # (2**k,) product of the parameter-free blocks' distributions
    n_measured: int
    outcome_to_clbits: np.ndarray
    active_qubits: int


class DensityMatrixSampler(DistributionSampler):
    """Shots from the exact noisy distribution of a noisy ``AerSimulator`` (see the module).

    Args:
        simulator: The noisy ``AerSimulator`` (``AerSimulator.from_backend(device)`` or one with
            ``noise_model``); its ``device`` and thread options apply to the density matrix.
        seed: Initial ``options.seed_simulator``.
        default_shots: Shots per PUB when none are given.

    Raises:
        ConfigurationError: on use, for a circuit or noise it cannot simulate this way (see
            :meth:`check`).
    """

    def __init__(
        self, simulator: Any, *, seed: int | None = None, default_shots: int = DEFAULT_SHOTS
    ) -> None:
        from qiskit_aer import AerSimulator

        super().__init__(seed=seed, default_shots=default_shots)
        self._noisy = simulator
        self._noise = getattr(simulator.options, "noise_model", None)
        carried = {
            k: getattr(simulator.options, k)
            for k in _CARRIED_OPTIONS
            if getattr(simulator.options, k, None) is not None
        }
        # Fusion off: with it, Aer 0.18 failed some bindings of 8-qubit noisy blocks ("heevx ...
        # Check that input matrix is really hermitian") and it saved no time on smaller ones.
        self._backend = AerSimulator(
            method="density_matrix",
            runtime_parameter_bind_enable=True,
            fusion_enable=False,
            **carried,
        )
        self._kraus: dict[int, tuple[Any, Kraus]] = {}  # id(error) -> (error, its Kraus form)
        #: Small parameterized blocks run batched in numpy (:mod:`.density`), not binding by
        #: binding on Aer (``False``: always Aer; both give the same probabilities).
        self._batched = getattr(simulator.options, "device", "CPU") != "GPU"

    @property
    def simulator(self) -> Any:
        """The noisy simulator whose distribution is sampled."""
        return self._noisy

    def check(self, circuit: QuantumCircuit) -> int:
        """Prepare ``circuit`` (cached) and return its number of active qubits.

        Raises:
            ConfigurationError: the circuit or its noise has no exact density-matrix form here,
                or a block needs more than :data:`MAX_DENSITY_MATRIX_QUBITS` qubits.
        """
        return self._prepare_circuit(circuit).active_qubits

    def _probabilities(self, prepared: _NoisyPrepared, values: np.ndarray | None) -> np.ndarray:
        """(N, 2**k) exact noisy probabilities of the recorded outcomes of a chunk of bindings."""
        if not prepared.blocks:
            return np.tile(prepared.fixed, (1 if values is None else len(values), 1))
        if values is None:
            raise ConfigurationError("the circuit has parameters: give their values")
        return self._joint(prepared, values)

    def _joint(self, prepared: _NoisyPrepared, values: np.ndarray) -> np.ndarray:
        rows = len(values)
        on_aer = [b for b in prepared.blocks if b.program is None]
        results = []
        if on_aer:  # one Aer run for every binding of every block numpy does not simulate
            binds = [
                {p: values[:, c] for p, c in zip(b.circuit.parameters, b.columns, strict=True)}
                for b in on_aer
            ]
            circuits = [b.circuit for b in on_aer]
            job = self._backend.run(circuits, parameter_binds=binds, shots=PROBABILITY_SHOTS)
            results = job.result().results
        joint = np.tile(prepared.fixed, (rows, 1))
        for block in prepared.blocks:
            if block.program is not None:
                raw = block.program.probabilities(values)
            else:
                b = on_aer.index(block)
                raw = np.stack([_saved(results[b * rows + i]) for i in range(rows)])
            joint *= apply_readout(raw, block.readout)[:, block.index]
        return joint

    # ------------------------------------------------------------------ preparing a circuit

    def _prepare(self, circuit: QuantumCircuit) -> _NoisyPrepared:
        body, measured = terminal_measurements(circuit, "the density-matrix noisy simulation")
        clbits = sorted(measured)
        bit_of = {measured[c]: j for j, c in enumerate(clbits)}  # measured qubit -> outcome bit
        ops = noise_channels.measured_ops(circuit, body)
        noise_channels.check_noise(self._noise, ops, bit_of)
        groups = _packed(noise_channels.connected_groups(ops, bit_of))
        params = list(circuit.parameters)
        column = {p: j for j, p in enumerate(params)}
        k = len(clbits)
        fixed = np.ones(1 << k)
        blocks = []
        for qubits in groups:
            block = self._block(qubits, ops, bit_of, column, k)
            if len(block.columns):
                blocks.append(block)
            else:  # no parameters: its distribution is computed once, here
                result = (
                    self._backend.run(block.circuit, shots=PROBABILITY_SHOTS).result().results[0]
                )
                raw = _saved(result)[None, :]
                fixed = fixed * apply_readout(raw, block.readout)[0, block.index]
        active = max((len(g) for g in groups), default=0)
        return _NoisyPrepared(tuple(blocks), fixed, k, outcome_to_clbits(clbits), active)

    def _block(
        self,
        qubits: list[int],
        ops: list[tuple[Any, tuple[int, ...]]],
        bit_of: dict[int, int],
        column: dict[Any, int],
        k: int,
    ) -> _Block:
        local = {q: i for i, q in enumerate(qubits)}
        block = QuantumCircuit(len(qubits))
        local_ops, errors = [], []
        for op, where in ops:
            if where[0] not in local:
                continue
            targets = [local[q] for q in where]
            block.append(op, targets)
            local_ops.append((op, tuple(targets)))
            error = noise_channels.error_after(self._noise, op, where)
            if error is not None:
                block.append(self._kraus_of(error), targets)
                errors.append((len(local_ops) - 1, error))
        measured = sorted((q for q in qubits if q in bit_of), key=bit_of.__getitem__)
        program = None
        if self._batched and block.parameters:
            program = compile_block(
                local_ops, errors, len(qubits), [local[q] for q in measured], column
            )
        block.save_probabilities([local[q] for q in measured], label="probabilities")
        bits = np.array([bit_of[q] for q in measured], dtype=np.int64)
        outcome = np.arange(1 << k, dtype=np.int64)
        index = sum(((outcome >> b) & 1) << i for i, b in enumerate(bits))
        readout = np.stack([noise_channels.readout_matrix(self._noise, q) for q in measured])
        columns = np.array([column[p] for p in block.parameters], dtype=np.int64)
        return _Block(block, columns, np.asarray(index, dtype=np.int64), readout, program)

    def _kraus_of(self, error: Any) -> Any:
        hit = self._kraus.get(id(error))
        if hit is None or hit[0] is not error:
            hit = (error, Kraus(error.to_quantumchannel()))
            self._kraus[id(error)] = hit
        return hit[1].to_instruction()


def _saved(experiment: Any) -> np.ndarray:
    """The probabilities an Aer experiment saved, or a ``BackendError`` with Aer's message."""
    data = experiment.data.to_dict()
    if "probabilities" not in data:
        status = getattr(experiment, "status", "") or "no probabilities saved"
        raise BackendError(f"Aer's density-matrix simulation failed: {status}")
    return np.asarray(data["probabilities"], dtype=float)


def _packed(components: list[list[int]]) -> list[list[int]]:
    """Pack small components into blocks of at most :data:`PACKED_QUBITS` qubits."""
    blocks: list[list[int]] = []
    for comp in sorted(components, key=len, reverse=True):
        if len(comp) > MAX_DENSITY_MATRIX_QUBITS:
            raise ConfigurationError(
                f"{len(comp)} connected active qubits need a density matrix of "
                f"{density_matrix_bytes(len(comp)) / 2**30:.0f} GiB (16 * 4**n bytes); the "
                f"exact noisy simulation stops at {MAX_DENSITY_MATRIX_QUBITS} qubits: give "
                "shots (Aer's trajectory sampling) or use noisy_simulation='trajectories'"
            )
        for block in blocks:
            if len(block) + len(comp) <= PACKED_QUBITS:
                block.extend(comp)
                break
        else:
            blocks.append(list(comp))
    return [sorted(b) for b in blocks]
