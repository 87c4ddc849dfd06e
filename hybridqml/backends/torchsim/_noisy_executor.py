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
from hybridqml.execution._mitigated import MAX_MITIGATED_BITS, measured_qubits, to_device_isa
from hybridqml.execution._primitive_executors import sampler_executor
from hybridqml.execution._probability_executor import readout_circuit
from hybridqml.execution._simulators import AER_EXACT_OPTIONS, configure, qiskit_aer
from hybridqml.hardware import _devices as devices
from hybridqml.hardware._noise import device_simulator
from hybridqml.mitigation import (
    Mitigation,
    extrapolation_weights,
    fold_circuit,
    folded_scale,
)
from hybridqml.mitigation._readout import calibration_from_noise_model

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

    With ``mitigation``, the outputs are mitigated inside the graph, so backprop differentiates
    the mitigated values: readout correction applies the inverse of each measured qubit's
    assignment matrix (read from the noise model, as the sampler executors' exact path does) to
    the exact distribution, and zero-noise extrapolation evaluates every measurement circuit
    folded to each scale factor (the same folding, on the same physical qubits) and combines
    the outputs with the linear extrapolator's fixed weights.

    Args:
        spec: The circuit specification.
        options: Checked ``backend_options`` (:func:`check_noisy_options`).
        mitigation: Error mitigation (:class:`~hybridqml.mitigation.Mitigation`), or ``None``.

    Raises:
        BackendError: one sample's density matrices do not fit the memory budget.
        ConfigurationError: a mitigation that is not linear in the exact distribution
            (``extrapolator="exponential"``, ``project=True``) or needs measured calibration
            circuits (``calibration="circuits"``): those run with ``gradient="parameter-shift"``.
    """

    gradient = "backprop"

    def __init__(
        self,
        spec: ParameterizedCircuit,
        options: Mapping[str, Any],
        mitigation: Mitigation | None = None,
    ) -> None:
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
        self._mitigate(mitigation, sim)
        self._columns = [
            torch.as_tensor(parameter_columns(isa, shiftable.n_angles), dtype=torch.long)
            for isa in self.isa_circuits
        ]
        self._terms = [terms for _, terms in groups]
        self._signs: list[torch.Tensor] = []
        self._seen: list[torch.Tensor] = []
        for i, isa in enumerate(self.isa_circuits):
            g = i % self._n_base  # folded circuits: scale-major, then measurement group
            self.sampler.check(isa, self.dtype, self.budget)
            seen = self.sampler.outcomes(isa).astype(np.int64)
            self._seen.append(torch.as_tensor(seen))
            if self._inverses:  # corrected distributions are dense over every outcome
                seen = np.arange(1 << len(self._inverses[g]), dtype=np.int64)
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
        tracking.record(self.name, x.shape[0], None, circuits=len(self.isa_circuits))
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
        per_circuit = []
        for i, (isa, cols, signs) in enumerate(
            zip(self.isa_circuits, self._columns, self._signs, strict=True)
        ):
            values = angles.index_select(1, cols.to(angles.device))
            probs = self.sampler.torch_probabilities(isa, values, segment)
            if self._inverses:
                probs = self._corrected(probs, i)
            signs = signs.to(probs.device)
            if self.readout is not None:
                out = probs.new_zeros((rows, self.n_outputs))
                per_circuit.append(out.index_add(1, signs, probs))
            else:
                per_circuit.append(probs @ signs.to(probs.dtype))
        per_group = per_circuit[: self._n_base]
        if self._weights:  # zero-noise extrapolation: fixed weights over the scale factors
            per_group = [
                torch.tensordot(
                    torch.as_tensor(self._weights[g], dtype=real, device=angles.device),
                    torch.stack(per_circuit[g :: self._n_base]),
                    dims=1,
                )
                for g in range(self._n_base)
            ]
        if self.readout is not None:
            return per_group[0]
        term_values = angles.new_zeros((rows, self._n_terms))
        for terms, values_ in zip(self._terms, per_group, strict=True):
            term_values = term_values.index_copy(
                1, torch.as_tensor(terms, device=angles.device), values_
            )
        coeffs = self._coeffs.to(angles.device, real)
        return term_values @ coeffs.T + self._offsets.to(angles.device, real)

    # -- mitigation --------------------------------------------------------------------------------

    def _mitigate(self, mitigation: Mitigation | None, sim: Any) -> None:
        """Fold the measurement circuits and read the readout calibration (see the class)."""
        self.mitigation_record: dict[str, Any] | None = None
        self._n_base = len(self.isa_circuits)
        self._weights: list[np.ndarray] = []
        self._inverses: list[list[torch.Tensor]] = []
        if mitigation is None:
            return
        unsupported = {
            "extrapolator='exponential'": mitigation.zne
            and mitigation.extrapolator == "exponential",
            "project=True": mitigation.project,
            "calibration='circuits'": mitigation.readout and mitigation.calibration == "circuits",
        }
        for what, used in unsupported.items():
            if used:
                raise ConfigurationError(
                    f"mitigation with {what} is not available with gradient 'backprop' on "
                    f"{self.name!r} (backprop needs a mitigation linear in the exact noisy "
                    "distribution, calibrated from the noise model); use "
                    "gradient='parameter-shift'"
                )
        base = list(self.isa_circuits)
        record = mitigation.to_json() | {"gradient": "backprop (exact)"}
        if mitigation.zne:
            scales = [[folded_scale(isa, s) for s in mitigation.scale_factors] for isa in base]
            self._weights = [
                extrapolation_weights(row, mitigation.extrapolator, mitigation.order)
                for row in scales
            ]
            self.isa_circuits = [
                to_device_isa(fold_circuit(isa, s), sim)
                for s in mitigation.scale_factors
                for isa in base
            ]
            record["realized_scale_factors"] = [[round(s, 6) for s in row] for row in scales]
        if mitigation.readout:
            qubits = [measured_qubits(isa) for isa in base]
            if max(len(q) for q in qubits) > MAX_MITIGATED_BITS:
                raise ConfigurationError(
                    f"readout mitigation holds each distribution densely: at most "
                    f"{MAX_MITIGATED_BITS} measured bits, this circuit measures "
                    f"{max(len(q) for q in qubits)}"
                )
            calibration = calibration_from_noise_model(
                sim.options.noise_model, sorted({q for row in qubits for q in row})
            )
            self._inverses = [
                [torch.as_tensor(np.linalg.inv(calibration.matrix([q]))) for q in row]
                for row in qubits
            ]
            record["readout_calibration"] = calibration.to_json()
        self.mitigation_record = record

    def _corrected(self, probs: torch.Tensor, circuit: int) -> torch.Tensor:
        """(B, 2**k) quasi-probabilities: each measured bit's inverse assignment applied."""
        inverses = self._inverses[circuit % self._n_base]
        rows, k = probs.shape[0], len(inverses)
        dense = probs.new_zeros((rows, 1 << k))
        dense = dense.index_copy(1, self._seen[circuit].to(probs.device), probs)
        tensor = dense.reshape(rows, *([2] * k))  # bit j is axis k - j (highest bit first)
        for j, inverse in enumerate(inverses):
            inverse = inverse.to(probs.device, probs.dtype)
            tensor = torch.movedim(torch.tensordot(inverse, tensor, dims=([1], [k - j])), 0, k - j)
        return tensor.reshape(rows, 1 << k)

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
