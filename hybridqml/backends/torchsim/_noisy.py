"""Exact noisy outcome distributions in torch: the sampler behind ``backend="torch"`` with noise.

:class:`TorchDensitySampler` prepares a measured circuit (transpiled for a device or for an
``AerSimulator`` with a noise model) the way the numpy noisy simulator does, with the shared
channel extraction of :mod:`hybridqml.hardware._noise`:

1. **Active qubits only, independent blocks.** Qubits no instruction touches are dropped; the
   others are split into groups no multi-qubit instruction connects (their noisy states are
   independent, the distribution is the product of theirs), each simulated on its own.
2. **Noise inlined.** After every instruction, the noise model's error for it on those physical
   qubits, as a superoperator; fixed gates and channels fused
   (:func:`~hybridqml.backends.torchsim._density.compile_density_block`).
3. **Readout.** Each measured qubit's assignment matrix is applied to the probabilities.

Its distribution is differentiable (:meth:`TorchDensitySampler.torch_probabilities`: the
backprop path); as a Sampler V2 primitive (:class:`~hybridqml.execution._distribution
.DistributionSampler`) it gives exact values with ``shots=None`` and draws shots from that
exact distribution, the same law as the ``fake_<device>`` backend.

Memory: one density matrix of ``n`` qubits holds ``4**n`` complex numbers; every block is counted
before anything is allocated (:meth:`TorchDensitySampler.sample_bytes`).

Example:
    >>> from qiskit import QuantumCircuit
    >>> from qiskit_aer.noise import NoiseModel, ReadoutError
    >>> noise = NoiseModel()
    >>> noise.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]))
    >>> qc = QuantumCircuit(1, 1)
    >>> _ = qc.x(0)
    >>> _ = qc.measure(0, 0)
    >>> TorchDensitySampler(noise).probabilities(qc, None)[0].round(12).tolist()
    [[0.2, 0.8]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import torch
from qiskit import QuantumCircuit

from hybridqml.backends.torchsim._density import (
    DensityBlock,
    compile_density_block,
    superoperator,
)
from hybridqml.exceptions import BackendError
from hybridqml.execution._distribution import (
    DEFAULT_SHOTS,
    DistributionSampler,
    outcome_to_clbits,
    terminal_measurements,
)
from hybridqml.execution._memory import human_bytes
from hybridqml.hardware import _noise as channels

__all__ = [
    "BACKPROP_STATES_PER_STEP",
    "FORWARD_STATES",
    "NOISY_DEFAULT_BUDGET",
    "TorchDensitySampler",
]

#: Memory budget of one pass of the noisy torch engine when ``max_memory_bytes`` is not given:
#: 4 GiB (10 active qubits, batch 8, forward and backward run in several checkpointed chunks).
NOISY_DEFAULT_BUDGET: Final[int] = 4 << 30
#: Density matrices alive at once in a forward pass without autograd (state, moved copy, result).
FORWARD_STATES: Final[int] = 3
#: Density matrices autograd keeps per pass over the state (its input, and a moved copy).
BACKPROP_STATES_PER_STEP: Final[int] = 2


@dataclass(frozen=True)
class _Prepared:
    blocks: tuple[tuple[DensityBlock, np.ndarray], ...]  # parameterized blocks, outcome index
    fixed: np.ndarray  # (2**k,) product of the parameter-free blocks' distributions
    n_measured: int
    outcome_to_clbits: np.ndarray
    active_qubits: int


class TorchDensitySampler(DistributionSampler):
    """The exact noisy distribution of circuits under a noise model, in torch (see the module).

    Args:
        noise: A ``qiskit_aer.noise.NoiseModel`` (``None``: noiseless).
        seed: Initial ``options.seed_simulator`` of the shot draws.
        default_shots: Shots per PUB when none are given.
        dtype: Complex dtype of the density matrices of the numpy-facing calls
            (``torch.complex128`` default, ``torch.complex64`` on request).
        device: Torch device of those calls.
        max_memory_bytes: Budget of one call (default :data:`NOISY_DEFAULT_BUDGET`).
    """

    def __init__(
        self,
        noise: Any,
        *,
        seed: int | None = None,
        default_shots: int = DEFAULT_SHOTS,
        dtype: torch.dtype = torch.complex128,
        device: torch.device | str = "cpu",
        max_memory_bytes: int | None = None,
    ) -> None:
        super().__init__(seed=seed, default_shots=default_shots)
        self.noise = noise
        self.dtype = dtype
        self.device = torch.device(device)
        self.max_memory_bytes = max_memory_bytes or NOISY_DEFAULT_BUDGET
        self._superops: dict[int, tuple[Any, np.ndarray]] = {}

    # -- memory ------------------------------------------------------------------------------------

    def sample_bytes(self, circuit: QuantumCircuit, dtype: torch.dtype, backprop: bool) -> int:
        """Peak bytes one binding of ``circuit`` costs (all its blocks, autograd history if asked).

        Example:
            >>> from qiskit import QuantumCircuit
            >>> from qiskit.circuit import Parameter
            >>> qc = QuantumCircuit(2, 2)
            >>> _ = qc.ry(Parameter("t"), 0)
            >>> _ = qc.cx(0, 1)
            >>> _ = qc.measure([0, 1], [0, 1])
            >>> TorchDensitySampler(None).sample_bytes(qc, torch.complex128, False)  # 3*16*4**2
            768
        """
        itemsize = torch.empty(0, dtype=dtype).element_size()
        total = 0
        for block, _ in self._prepare_circuit(circuit).blocks:
            states = FORWARD_STATES
            if backprop:
                states += BACKPROP_STATES_PER_STEP * block.n_steps
            total += states * itemsize * 4**block.n_qubits
        return total

    def check(self, circuit: QuantumCircuit, dtype: torch.dtype, budget: int | None = None) -> int:
        """Prepare ``circuit`` and refuse it if one binding's forward pass exceeds the budget.

        Returns:
            The number of active qubits of its largest block.

        Raises:
            BackendError: with the bytes one sample needs, the budget, and what to do.
        """
        prepared = self._prepare_circuit(circuit)
        budget = budget or self.max_memory_bytes
        need = self.sample_bytes(circuit, dtype, backprop=False)
        if need > budget:
            n = prepared.active_qubits
            raise BackendError(
                f"the noisy torch engine would need {need:,} bytes ({human_bytes(need)}) for one "
                f"sample: a density matrix of {n} connected active qubits holds 4**{n} complex "
                f"numbers ({human_bytes(torch.empty(0, dtype=dtype).element_size() * 4**n)}), "
                f"{FORWARD_STATES} alive at once; the budget is {budget:,} bytes "
                f"({human_bytes(budget)}). Use fewer connected qubits, a larger "
                "backend_options['max_memory_bytes'], or shots on backend='fake_<device>' "
                "(Aer's trajectories)"
            )
        return prepared.active_qubits

    def outcomes(self, circuit: QuantumCircuit) -> np.ndarray:
        """(2**k,) map: outcome column of :meth:`torch_probabilities` -> clbit integer."""
        return self._prepare_circuit(circuit).outcome_to_clbits

    def blocks(self, circuit: QuantumCircuit) -> tuple[DensityBlock, ...]:
        """The parameterized blocks ``circuit`` is simulated in."""
        return tuple(block for block, _ in self._prepare_circuit(circuit).blocks)

    # -- probabilities -----------------------------------------------------------------------------

    def torch_probabilities(
        self, circuit: QuantumCircuit, values: torch.Tensor, segment: int | None = None
    ) -> torch.Tensor:
        """(N, 2**k) exact noisy outcome probabilities; differentiable in ``values`` (N, P).

        ``values`` are in ``circuit.parameters`` order; the complex dtype follows them
        (float64: complex128, float32: complex64), and so does the device. With ``segment``,
        autograd keeps only every ``segment``-th density matrix and recomputes the others in
        the backward pass (``torch.utils.checkpoint``): memory for time.
        """
        prepared = self._prepare_circuit(circuit)
        dtype = torch.complex128 if values.dtype == torch.float64 else torch.complex64
        return self._joint(prepared, values, dtype, segment)

    def _joint(
        self,
        prepared: _Prepared,
        values: torch.Tensor,
        dtype: torch.dtype,
        segment: int | None = None,
    ) -> torch.Tensor:
        real = torch.empty(0, dtype=dtype).real.dtype
        joint = torch.as_tensor(prepared.fixed).to(values.device, real).expand(len(values), -1)
        for block, index in prepared.blocks:
            probs = block.probabilities(values, dtype, segment)
            joint = joint * probs[:, torch.as_tensor(index, device=values.device)]
        return joint

    def _probabilities(self, prepared: _Prepared, values: np.ndarray | None) -> np.ndarray:
        rows = 1 if values is None else len(values)
        if not prepared.blocks:
            return np.tile(prepared.fixed, (rows, 1))
        real = torch.float64 if self.dtype == torch.complex128 else torch.float32
        theta = torch.as_tensor(np.asarray(values, dtype=float)).to(self.device, real)
        itemsize = torch.empty(0, dtype=self.dtype).element_size()
        per_row = sum(FORWARD_STATES * itemsize * 4**b.n_qubits for b, _ in prepared.blocks)
        step = max(1, self.max_memory_bytes // max(1, per_row))
        with torch.no_grad():
            parts = [
                self._joint(prepared, theta[i : i + step], self.dtype) for i in range(0, rows, step)
            ]
        return torch.cat(parts).to("cpu", torch.float64).numpy()

    # -- preparing a circuit -----------------------------------------------------------------------

    def _prepare(self, circuit: QuantumCircuit) -> _Prepared:
        body, measured = terminal_measurements(circuit, "the noisy torch engine")
        clbits = sorted(measured)
        bit_of = {measured[c]: j for j, c in enumerate(clbits)}  # measured qubit -> outcome bit
        ops = channels.measured_ops(circuit, body)
        channels.check_noise(self.noise, ops, bit_of)
        params = list(circuit.parameters)
        k = len(clbits)
        fixed = np.ones(1 << k)
        blocks = []
        groups = channels.connected_groups(ops, bit_of)
        for qubits in groups:
            block, index, parameterized = self._block(qubits, ops, bit_of, params, k)
            if parameterized:
                blocks.append((block, index))
            else:  # no parameters: its distribution is computed once, here
                with torch.no_grad():
                    zero = torch.zeros((1, len(params)), dtype=torch.float64)
                    raw = block.probabilities(zero, torch.complex128).numpy()
                fixed = fixed * raw[0, index]
        active = max((len(g) for g in groups), default=0)
        return _Prepared(tuple(blocks), fixed, k, outcome_to_clbits(clbits), active)

    def _block(
        self,
        qubits: list[int],
        ops: channels.Ops,
        bit_of: dict[int, int],
        params: list[Any],
        k: int,
    ) -> tuple[DensityBlock, np.ndarray, bool]:
        local = {q: i for i, q in enumerate(qubits)}
        local_ops: channels.Ops = []
        errors: dict[int, list[np.ndarray]] = {}
        parameterized = False
        for op, where in ops:
            if where[0] not in local:
                continue
            local_ops.append((op, tuple(local[q] for q in where)))
            parameterized = parameterized or any(getattr(p, "parameters", None) for p in op.params)
            error = channels.error_after(self.noise, op, where)
            if error is not None:
                errors[len(local_ops) - 1] = [self._superop(error)]
        measured = sorted((q for q in qubits if q in bit_of), key=lambda q: bit_of[q])
        readout = np.stack([channels.readout_matrix(self.noise, q) for q in measured])
        block = compile_density_block(
            local_ops, errors, len(qubits), [local[q] for q in measured], params, readout
        )
        bits = np.array([bit_of[q] for q in measured], dtype=np.int64)
        outcome = np.arange(1 << k, dtype=np.int64)
        index = sum(((outcome >> b) & 1) << i for i, b in enumerate(bits))
        return block, np.asarray(index, dtype=np.int64), parameterized

    def _superop(self, error: Any) -> np.ndarray:
        hit = self._superops.get(id(error))
        if hit is None or hit[0] is not error:
            hit = (error, superoperator(channels.kraus_matrices(error)))
            self._superops[id(error)] = hit
        return hit[1]
