"""Noisy executors on the torch engine: ``backend="torch"`` with a device or a noise model.

``backend_options={"device": "fake_manila"}`` (any fake device, by name or object) simulates
that device: the circuits are transpiled to ``AerSimulator.from_backend(device)`` exactly as the
``fake_<device>`` backend does (same target, optimization level and transpiler seed, so the same
layout), and its calibrated noise (gate errors with thermal relaxation, readout errors) is
applied as channels. ``backend_options={"noise_model": NoiseModel}`` simulates an Aer noise
model (circuits transpiled for ``AerSimulator(noise_model=...)``, as ``"aer"`` with that noise
model does). Both run :class:`~hybridqml.backends.torchsim._noisy.TorchDensitySampler`:

* :func:`build_noisy` -- the shift-rule :class:`~hybridqml.execution.Executor` (the generic
  sampler executors over that sampler: exact values with ``shots=None``, or shots drawn from
  the exact noisy distribution, seeded, the law of the ``fake_<device>`` backend);
* :class:`NoisyTorchExecutor` -- ``gradient="backprop"`` (the default): the same
  probabilities as a differentiable torch graph, combined into Pauli expectation values or
  probability outputs in torch. Passes that exceed the memory budget are split into
  checkpointed chunks; one sample that cannot fit is refused before anything is allocated.

Example:
    >>> import torch, hybridqml as hq
    >>> layer = hq.QuantumLayer(hq.circuits.ry(1), backend="torch",
    ...                         backend_options={"device": "fake_manila"})
    >>> layer(torch.zeros(2, 1, dtype=torch.float64)).shape
    torch.Size([2, 1])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import torch

from hybridqml.backends.torchsim._expressions import compile_expression
from hybridqml.backends.torchsim._noisy import (
    BACKPROP_STATES_PER_STEP,
    FORWARD_STATES,
    NOISY_DEFAULT_BUDGET,
    TorchDensitySampler,
)
from hybridqml.backends.torchsim._tracked import count_backward
from hybridqml.circuits._shiftable import ShiftableCircuit
from hybridqml.circuits._spec import ParameterizedCircuit
from hybridqml.exceptions import BackendError, ConfigurationError
from hybridqml.execution import _tracking as tracking
from hybridqml.execution._executor import (
    DEFAULT_OPTIMIZATION_LEVEL,
    BackendRequest,
    Executor,
    NativeExecutor,
)
from hybridqml.execution._isa import backend_name, parameter_columns, transpile_for
from hybridqml.execution._measurement import (
    group_terms,
    measurement_circuit,
    pauli_terms,
    support_mask,
)
from hybridqml.execution._memory import MEMORY_OPTION, check_memory_limit, human_bytes
from hybridqml.execution._primitive_executors import sampler_executor
from hybridqml.execution._probability_executor import readout_circuit
from hybridqml.execution._simulators import AER_EXACT_OPTIONS, configure, qiskit_aer
from hybridqml.hardware import _devices as devices
from hybridqml.hardware._noise import device_simulator

__all__ = [
    "DEVICE_OPTION",
    "DTYPE_OPTION",
    "NOISE_OPTION",
    "NOISY_TORCH_OPTIONS",
    "NoisyTorchExecutor",
    "build_noisy",
    "check_noisy_options",
    "is_noisy",
]

DEVICE_OPTION: Final[str] = "device"
"""``backend_options`` key: a fake device (``"fake_manila"`` or the object) whose noise to use."""
NOISE_OPTION: Final[str] = "noise_model"
"""``backend_options`` key: a ``qiskit_aer.noise.NoiseModel``."""
DTYPE_OPTION: Final[str] = "dtype"
"""``backend_options`` key: ``"complex128"`` (default) or ``"complex64"`` density matrices."""
NOISY_TORCH_OPTIONS: Final[tuple[str, ...]] = (
    DEVICE_OPTION,
    NOISE_OPTION,
    DTYPE_OPTION,
    MEMORY_OPTION,
)
"""``backend_options`` the noisy torch engine understands."""
_DTYPES: Final[dict[str, torch.dtype]] = {
    "complex128": torch.complex128,
    "complex64": torch.complex64,
}


def is_noisy(options: Mapping[str, Any]) -> bool:
    """Whether ``backend_options`` ask the torch engine for noise (a fake device or a model)."""
    device = options.get(DEVICE_OPTION)
    fake = devices.is_fake_device(device) or (
        isinstance(device, str) and device.startswith(devices.FAKE_PREFIX)
    )
    return fake or options.get(NOISE_OPTION) is not None


def check_noisy_options(shots: int | None, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the noisy torch engine's ``backend_options``; return them checked.

    Raises:
        ConfigurationError: unknown options, a bad dtype or memory limit, or both a device
            and a noise model (the device brings its own).

    Example:
        >>> check_noisy_options(None, {"device": "fake_manila"})["dtype"]
        torch.complex128
    """
    unknown = set(options) - set(NOISY_TORCH_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"unknown backend_options for the noisy torch backend: {sorted(unknown)}; it "
            f"accepts {list(NOISY_TORCH_OPTIONS)}"
        )
    checked = dict(options)
    name = checked.get(DTYPE_OPTION, "complex128")
    if name not in _DTYPES:
        raise ConfigurationError(
            f"backend_options['dtype'] must be 'complex128' or 'complex64', got {name!r}"
        )
    checked[DTYPE_OPTION] = _DTYPES[name]
    checked[MEMORY_OPTION] = check_memory_limit(checked.get(MEMORY_OPTION))
    return checked


def _target(options: Mapping[str, Any]) -> tuple[Any, Any, str]:
    """(simulator whose ISA and noise to use, the device or ``None``, a name for messages)."""
    spec, noise = options.get(DEVICE_OPTION), options.get(NOISE_OPTION)
    extra = {} if noise is None else {"noise_model": noise}
    if spec is not None:
        device = devices.fake_device(spec) if isinstance(spec, str) else spec
        if not devices.is_fake_device(device):
            raise ConfigurationError(
                "backend_options['device'] must name a fake device ('fake_manila', ...) or be "
                f"a qiskit-ibm-runtime fake backend, got {type(spec).__name__}"
            )
        return device_simulator(device, extra), device, f"torch:{backend_name(device)}"
    sim = configure(qiskit_aer().AerSimulator, {**AER_EXACT_OPTIONS, **extra})
    return sim, None, "torch:noise_model"


def build_noisy(backend: str, request: BackendRequest) -> Executor:
    """The shift-rule executor of the noisy torch engine (exact values or shots)."""
    options = check_noisy_options(request.shots, request.options)
    sim, device, name = _target(options)
    dtype = options[DTYPE_OPTION]
    sampler = TorchDensitySampler(
        sim.options.noise_model, dtype=dtype, max_memory_bytes=request.max_memory_bytes
    )
    clean = BackendRequest(
        request.shiftable, request.shots, request.seed, {}, request.optimization_level
    )
    executor = sampler_executor(clean, sampler, sim, name, device, exact=True)
    for isa in executor.isa_circuits:
        sampler.check(isa, dtype)
    executor.binding_bytes = sum(
        sampler.sample_bytes(isa, dtype, backprop=False) for isa in executor.isa_circuits
    )
    return executor


class NoisyTorchExecutor(NativeExecutor):
    """Noisy outputs as a torch graph: gradients by backprop through every channel.

    Args:
        spec: The circuit specification.
        options: Checked ``backend_options`` (:func:`check_noisy_options`).

    Raises:
        BackendError: one sample's density matrices do not fit the memory budget.
    """

    gradient = "backprop"

    def __init__(self, spec: ParameterizedCircuit, options: Mapping[str, Any]) -> None:
        sim, _, self.name = _target(options)
        self.dtype: torch.dtype = options[DTYPE_OPTION]
        self.budget = options.get(MEMORY_OPTION) or NOISY_DEFAULT_BUDGET
        shiftable = ShiftableCircuit(spec)
        self.sampler = TorchDensitySampler(sim.options.noise_model, max_memory_bytes=self.budget)
        self.readout = shiftable.probabilities
        if self.readout is not None:
            circuits = [readout_circuit(shiftable.circuit, self.readout)]
            groups: list[tuple[str, list[int]]] = [("", [])]
        else:
            labels, coeffs, offsets = pauli_terms(shiftable.observables)
            groups = group_terms(labels)
            circuits = [measurement_circuit(shiftable.circuit, basis) for basis, _ in groups]
            self._coeffs = torch.as_tensor(np.asarray(coeffs, dtype=float))
            self._offsets = torch.as_tensor(np.asarray(offsets, dtype=float))
            self._n_terms = len(labels)
            masks = [np.array([support_mask(labels[t]) for t in terms]) for _, terms in groups]
        self.isa_circuits = transpile_for(circuits, sim, DEFAULT_OPTIMIZATION_LEVEL, None)
        self._columns = [
            torch.as_tensor(parameter_columns(isa, shiftable.n_angles), dtype=torch.long)
            for isa in self.isa_circuits
        ]
        self._terms = [terms for _, terms in groups]
        self._signs: list[torch.Tensor] = []
        for g, isa in enumerate(self.isa_circuits):
            self.sampler.check(isa, self.dtype, self.budget)
            seen = self.sampler.outcomes(isa).astype(np.int64)
            if self.readout is not None:
                self._signs.append(torch.as_tensor(self.readout.table[seen], dtype=torch.long))
            else:
                parity = np.bitwise_count(seen[None, :] & masks[g][:, None]) & 1
                self._signs.append(torch.as_tensor((1.0 - 2.0 * parity).T))
        self._angles = [compile_expression(e, spec.parameters) for e in shiftable.expressions]
        self.n_outputs = shiftable.n_outputs

    # -- memory ------------------------------------------------------------------------------------

    def _per_sample(self, dtype: torch.dtype, grad: bool) -> tuple[int, int | None]:
        """(bytes one sample costs, checkpoint segment or ``None``) under the budget.

        Raises:
            BackendError: even one sample, with checkpointing, exceeds the budget.
        """
        itemsize = torch.empty(0, dtype=dtype).element_size()
        blocks = [b for isa in self.isa_circuits for b in self.sampler.blocks(isa)]
        plain = sum(
            (FORWARD_STATES + (BACKPROP_STATES_PER_STEP * b.n_steps if grad else 0))
            * itemsize
            * 4**b.n_qubits
            for b in blocks
        )
        if not grad or plain <= self.budget:
            return plain, None
        steps = max((b.n_steps for b in blocks), default=1)
        segment = max(1, round((steps / BACKPROP_STATES_PER_STEP) ** 0.5))
        kept = FORWARD_STATES + -(-steps // segment) + BACKPROP_STATES_PER_STEP * segment
        need = sum(kept * itemsize * 4**b.n_qubits for b in blocks)
        if need > self.budget:
            n = max(b.n_qubits for b in blocks)
            raise BackendError(
                f"backprop through the noisy torch engine needs {need:,} bytes "
                f"({human_bytes(need)}) for one sample even with checkpointing ({kept} density "
                f"matrices of {n} qubits, 4**{n} complex numbers each); the budget is "
                f"{self.budget:,} bytes ({human_bytes(self.budget)}). Raise "
                "backend_options['max_memory_bytes'], use gradient='parameter-shift' (no "
                "autograd history), or use fewer connected qubits"
            )
        return need, segment

    # -- evaluation --------------------------------------------------------------------------------

    def expectations(self, inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Outputs (B, O) in the input's dtype and device, with autograd through the channels."""
        real = torch.float64 if self.dtype == torch.complex128 else torch.float32
        x = inputs.to(real)
        tracking.record(self.name, x.shape[0], None)
        w = weight.to(real)
        w = w.expand(x.shape[0], -1) if w.ndim == 1 else w
        out = self._outputs(torch.cat([x, w], dim=1))
        return count_backward(out, self.name, x.shape[0]).to(inputs.dtype)

    def _outputs(self, theta: torch.Tensor) -> torch.Tensor:
        rows = theta.shape[0]
        grad = torch.is_grad_enabled() and theta.requires_grad
        per_sample, segment = self._per_sample(self.dtype, grad)
        if rows * per_sample <= self.budget:
            return self._evaluate(theta, segment)
        step = max(1, self.budget // per_sample)
        parts = []
        for i in range(0, rows, step):
            chunk = theta[i : i + step]
            if grad:  # recomputed in the backward pass, one chunk at a time
                from torch.utils.checkpoint import checkpoint

                parts.append(checkpoint(self._evaluate, chunk, segment, use_reentrant=False))
            else:
                parts.append(self._evaluate(chunk, segment))
        return torch.cat(parts)

    def _evaluate(self, theta: torch.Tensor, segment: int | None) -> torch.Tensor:
        rows = theta.shape[0]
        if self._angles:
            angles = torch.stack([f(theta) for f in self._angles], dim=1)
        else:
            angles = theta.new_zeros((rows, 0))
        real = torch.float64 if self.dtype == torch.complex128 else torch.float32
        angles = angles.to(real)
        outputs = []
        for isa, cols, signs, terms in zip(
            self.isa_circuits, self._columns, self._signs, self._terms, strict=True
        ):
            values = angles.index_select(1, cols.to(angles.device))
            probs = self.sampler.torch_probabilities(isa, values, segment)
            signs = signs.to(probs.device)
            if self.readout is not None:
                out = probs.new_zeros((rows, self.n_outputs))
                return out.index_add(1, signs, probs)
            outputs.append((terms, probs @ signs.to(probs.dtype)))
        term_values = angles.new_zeros((rows, self._n_terms))
        for terms, values_ in outputs:
            term_values = term_values.index_copy(
                1, torch.as_tensor(terms, device=angles.device), values_
            )
        coeffs = self._coeffs.to(angles.device, real)
        return term_values @ coeffs.T + self._offsets.to(angles.device, real)

    def run(self, theta: np.ndarray) -> np.ndarray:
        """Outputs (N, O) at ``theta`` (N, P), float64, without autograd."""
        with torch.no_grad():
            t = torch.as_tensor(np.asarray(theta, dtype=float))
            return self._outputs(t).to(torch.float64).numpy()

    def jacobian(self, theta: np.ndarray, wrt: np.ndarray | None = None) -> np.ndarray:
        """Jacobian (N, O, P) by torch autograd through the channels."""
        t = torch.as_tensor(np.asarray(theta, dtype=float)).requires_grad_()
        out = self._outputs(t)
        rows = [
            torch.autograd.grad(out[:, o].sum(), t, retain_graph=True)[0]
            for o in range(out.shape[1])
        ]
        jac = torch.stack(rows, dim=1).to(torch.float64).numpy()
        if wrt is not None:
            jac = jac * np.asarray(wrt, dtype=bool)
        return jac

    def __getstate__(self) -> dict:
        raise TypeError("rebuild a NoisyTorchExecutor from its spec instead of pickling it")

    def __repr__(self) -> str:
        return f"NoisyTorchExecutor(name={self.name!r})"
