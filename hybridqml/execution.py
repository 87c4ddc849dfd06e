"""Execution: turn a backend spec into a primitive and evaluate batches of angles in one call.

An :class:`Executor` evaluates the observables of a :class:`~hybridqml.gradients.ShiftableCircuit`
for an (M, K) array of angle bindings with exactly one primitive ``run`` call, returning (M, O)
expectation values. The circuit is transpiled to the backend's ISA once, when the executor is
built, and reused for every call.

Two execution paths:

* **Estimator** (exact Aer statevector through :class:`~hybridqml.aer_estimator.AerExactEstimator`,
  or any ``BaseEstimatorV2`` you pass): one PUB with
  parameter values shaped (M, 1, K) against observables shaped (O,), so the simulator runs each
  binding once and evaluates every observable on the same state.
* **Sampler** (Aer with ``shots``, fake IBM devices, IBM Quantum Runtime, any ``BackendV2`` or
  ``BaseSamplerV2``): the observables' Pauli terms are grouped into qubit-wise commuting sets;
  each set gets one measurement circuit (basis rotations + measurements) and one PUB, all PUBs go
  in one ``run`` call, and expectation values are computed from the measured bitstrings: genuine
  finite-shot estimates, not Gaussian noise added to exact values. Each call draws a fresh
  simulator seed from a generator seeded once with ``seed``, so runs are reproducible and the
  shot noise still changes from step to step. Noiseless Aer samples through
  :class:`~hybridqml.aer_sampler.AerBornSampler` (one statevector run for the exact Born
  probabilities of every binding, then the shots drawn from them, counted without building
  per-shot bitstrings); noisy simulators and devices through their own samplers.

Backend specs (see :func:`make_executor`): ``"aer"``, ``"torch"``, ``"fake_<device>"``,
``"ibm:<name>"``, a ``BackendV2`` (``AerSimulator``, fake device, ``IBMBackend`` or any other), a
``qiskit_ibm_runtime`` ``Session``/``Batch``, a ``BaseEstimatorV2`` or a ``BaseSamplerV2``.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.primitives import BackendSamplerV2, BaseEstimatorV2, BaseSamplerV2
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.providers import BackendV2
from qiskit.transpiler import generate_preset_pass_manager

from hybridqml import tracking
from hybridqml.aer_estimator import AerExactEstimator
from hybridqml.aer_sampler import MAX_MEASURED_QUBITS, AerBornSampler
from hybridqml.devices import IBM_INSTALL_HINT, fake_device
from hybridqml.exceptions import BackendError, ConfigurationError
from hybridqml.gradients import ANGLE_VECTOR_NAME, ShiftableCircuit

__all__ = [
    "DEFAULT_DEVICE_SHOTS",
    "DEFAULT_OPTIMIZATION_LEVEL",
    "DEFAULT_TRANSPILER_SEED",
    "TORCH_BACKEND",
    "TORCH_OPTIONS",
    "EstimatorExecutor",
    "Executor",
    "SamplerExecutor",
    "make_executor",
    "valid_seed",
]

#: Shots used on devices (fake or real) when the caller does not choose: devices cannot be exact.
DEFAULT_DEVICE_SHOTS = 1024
#: Transpiler preset used to reach a backend's ISA.
DEFAULT_OPTIMIZATION_LEVEL = 1
#: Transpiler seed when the caller gives no ``seed``: the layout (and so device noise) is the
#: same every time a circuit is prepared, e.g. after unpickling a layer.
DEFAULT_TRANSPILER_SEED = 0
#: Name of the torch-native exact simulator backend (:mod:`hybridqml.torchsim`).
TORCH_BACKEND = "torch"
#: ``backend_options`` understood by the torch backend.
TORCH_OPTIONS = ("max_memory_bytes",)
#: Aer options for exact statevector runs: binding parameters inside Aer is ~2x faster.
_AER_EXACT_OPTIONS = {"method": "statevector", "runtime_parameter_bind_enable": True}
#: Measured-register name of the sampler path.
_CREG = "hq"


class Executor(ABC):
    """Evaluates (M, K) angle bindings into (M, O) expectation values, one primitive call each.

    Attributes:
        name: A human-readable backend name used in errors and reports.
        shots: Shots per binding, or ``None`` for exact expectation values.
        calls: Number of primitive calls made so far.
        evaluations: Number of circuit bindings evaluated so far.
    """

    def __init__(self, shiftable: ShiftableCircuit, *, name: str, shots: int | None) -> None:
        self.shiftable = shiftable
        self.name = name
        self.shots = shots
        self.calls = 0
        self.evaluations = 0

    def random_state(self) -> dict[str, Any] | None:
        """State of the generator behind this executor's randomness, ``None`` when it has none.

        Checkpoints store it so that a resumed training run draws the same shot noise as an
        uninterrupted one (see :meth:`hybridqml.QuantumLayer.random_state`).
        """
        return None

    def set_random_state(self, state: Mapping[str, Any] | None) -> None:
        """Restore a state from :meth:`random_state` (ignored when this executor has none)."""
        del state  # executors without a generator have nothing to restore

    def run(self, angles: np.ndarray) -> np.ndarray:
        """Evaluate every observable for each row of ``angles`` in one primitive call.

        Args:
            angles: (M, K) occurrence angles.

        Returns:
            (M, O) float64 expectation values.

        Raises:
            BackendError: if the job fails or returns malformed results.
        """
        angles = np.asarray(angles, dtype=float)
        m = angles.shape[0]
        n_obs = len(self.shiftable.observables)
        if m == 0:
            return np.zeros((0, n_obs))
        try:
            out = np.asarray(self._run(angles), dtype=float)
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(
                f"job on backend {self.name!r} failed ({m} bindings): {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            self.calls += 1
        if out.shape != (m, n_obs) or not np.all(np.isfinite(out)):
            raise BackendError(
                f"backend {self.name!r} returned malformed results: expected finite values of "
                f"shape {(m, n_obs)}, got shape {out.shape}"
            )
        self.evaluations += m
        tracking.record(self.name, m, self.shots)
        return out

    @abstractmethod
    def _run(self, angles: np.ndarray) -> np.ndarray: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.name!r}, shots={self.shots})"


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
            f"cannot transpile the circuit for backend {_backend_name(backend)!r}: {exc}"
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
    ) -> None:
        super().__init__(shiftable, name=name, shots=None)
        self.estimator = estimator
        (self.isa_circuit,) = _transpile([shiftable.circuit], target, optimization_level, seed)
        layout = self.isa_circuit.layout
        self.isa_observables = ObservablesArray.coerce(  # coerced once, not on every call
            [obs.apply_layout(layout) if layout else obs for obs in shiftable.observables]
        )
        self._columns = _columns(self.isa_circuit, shiftable.n_angles)
        self._lean = isinstance(estimator, AerExactEstimator) and len(self._columns) > 0

    def _run(self, angles: np.ndarray) -> np.ndarray:
        if self._lean:  # AerExactEstimator: the same simulation without the PUB containers
            values = angles[:, self._columns]
            return self.estimator.expectation_values(self.isa_circuit, self.isa_observables, values)
        values = _bindings(self.isa_circuit, self._columns, angles, (angles.shape[0], 1))
        pub = (self.isa_circuit, self.isa_observables, values)
        result = self.estimator.run([pub]).result()
        return np.asarray(result[0].data.evs, dtype=float).reshape(angles.shape[0], -1)


class SamplerExecutor(Executor):
    """Measures qubit-wise commuting groups of Pauli terms, one PUB per group, one call in all.

    Args:
        shiftable: The circuit to run.
        sampler: Any ``BaseSamplerV2``.
        shots: Shots per binding (> 0).
        name: Backend name for messages.
        target: Backend whose ISA to transpile to, or ``None`` to run the circuits as built.
        seed: Seeds the generator that draws one simulator seed per call (simulators only)
            and the transpiler (:data:`DEFAULT_TRANSPILER_SEED` when ``None``).
        optimization_level: Transpiler preset level.
        device: The device this executor stands for (e.g. the fake device behind an Aer
            simulator of it); defaults to ``target``.

    While a qiskit-ibm-runtime ``Session`` or ``Batch`` context is open on the same device
    (``with Session(backend=...):``), calls run inside it.
    """

    def __init__(
        self,
        shiftable: ShiftableCircuit,
        sampler: BaseSamplerV2,
        *,
        shots: int,
        name: str,
        target: BackendV2 | None = None,
        seed: int | None = None,
        optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
        device: BackendV2 | None = None,
    ) -> None:
        super().__init__(shiftable, name=name, shots=shots)
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
        labels, self._coeffs, self._offsets = _pauli_terms(shiftable.observables)
        self._groups = _group_terms(labels)  # list of (basis label, term indices)
        circuits = [_measurement_circuit(shiftable.circuit, basis) for basis, _ in self._groups]
        self.isa_circuits = _transpile(circuits, target, optimization_level, seed)
        self._columns = [_columns(isa, shiftable.n_angles) for isa in self.isa_circuits]
        self._masks = [
            np.array([_support_mask(labels[t]) for t in terms], dtype=np.uint64)
            for _, terms in self._groups
        ]
        self._n_terms = len(labels)

    def random_state(self) -> dict[str, Any] | None:
        """The per-call seed generator's state (``None`` when unseeded: nothing to replay)."""
        return dict(self._rng.bit_generator.state) if self._seeded else None

    def set_random_state(self, state: Mapping[str, Any] | None) -> None:
        """Continue the per-call seed sequence from ``state`` (seeded executors only)."""
        if state is not None and self._seeded:
            self._rng.bit_generator.state = dict(state)

    def _call_sampler(self) -> BaseSamplerV2:
        """The sampler for this call: a runtime context's on the same device, else our own."""
        context = _open_runtime_context(self.device)
        if context is None:
            return self.sampler
        if self._context_sampler is None or self._context_sampler[0] is not context:
            self._context_sampler = (context, _runtime_sampler(context))
        return self._context_sampler[1]

    def _run(self, angles: np.ndarray) -> np.ndarray:
        m = angles.shape[0]
        sampler = self._call_sampler()
        if self._seeded:
            _set_sampler_seed(sampler, int(self._rng.integers(2**31 - 1)))
        if isinstance(sampler, AerBornSampler):
            return self._run_born(sampler, angles)
        pubs = [
            (isa, _bindings(isa, cols, angles, (m,)), self.shots)
            for isa, cols in zip(self.isa_circuits, self._columns, strict=True)
        ]
        result = sampler.run(pubs, shots=self.shots).result()
        term_values = np.zeros((m, self._n_terms))
        for (_, terms), masks, pub_result in zip(self._groups, self._masks, result, strict=True):
            outcomes = _outcomes(getattr(pub_result.data, _CREG).array)  # (M, shots) uint64
            for t, mask in zip(terms, masks, strict=True):
                parity = np.bitwise_count(outcomes & mask) & 1
                term_values[:, t] = 1.0 - 2.0 * parity.mean(axis=1)
        return term_values @ self._coeffs.T + self._offsets

    def _run_born(self, sampler: AerBornSampler, angles: np.ndarray) -> np.ndarray:
        """The same draws from outcome counts, without expanding them to per-shot bitstrings."""
        rng = np.random.default_rng(sampler.options.seed_simulator)
        term_values = np.zeros((angles.shape[0], self._n_terms))
        groups = zip(self._groups, self._masks, self.isa_circuits, self._columns, strict=True)
        for (_, terms), masks, isa, cols in groups:
            values = angles[:, cols] if len(cols) else None
            counts, outcomes = sampler.counts(isa, values, self.shots, rng)
            parity = np.bitwise_count(outcomes[None, :] & masks[:, None]) & 1  # (T, 2**k)
            term_values[:, terms] = counts @ (1.0 - 2.0 * parity).T / self.shots
        return term_values @ self._coeffs.T + self._offsets


def _pauli_terms(observables) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct non-identity Pauli labels, the (O, T) coefficient matrix and identity offsets."""
    labels: list[str] = []
    index: dict[str, int] = {}
    entries: list[tuple[int, int, float]] = []
    offsets = np.zeros(len(observables))
    for o, obs in enumerate(observables):
        for label, coeff in obs.to_list():
            c = float(np.real(coeff))
            if set(label) == {"I"}:
                offsets[o] += c
                continue
            if label not in index:
                index[label] = len(labels)
                labels.append(label)
            entries.append((o, index[label], c))
    coeffs = np.zeros((len(observables), len(labels)))
    for o, t, c in entries:
        coeffs[o, t] += c
    return labels, coeffs, offsets


def _group_terms(labels: list[str]) -> list[tuple[str, list[int]]]:
    """Greedy qubit-wise commuting groups: (measurement basis label, term indices)."""
    if not labels:
        return []
    groups: list[tuple[list[str], list[int]]] = []
    for t, label in enumerate(labels):
        for basis, terms in groups:
            if all(a == "I" or b == "I" or a == b for a, b in zip(label, basis, strict=True)):
                for i, a in enumerate(label):
                    if a != "I":
                        basis[i] = a
                terms.append(t)
                break
        else:
            groups.append((list(label), [t]))
    return [("".join(basis), terms) for basis, terms in groups]


def _measurement_circuit(circuit: QuantumCircuit, basis: str) -> QuantumCircuit:
    """Append basis rotations (X: H, Y: Sdg H) and measure every qubit into register ``hq``."""
    n = circuit.num_qubits
    qc = circuit.copy()
    qc.add_register(ClassicalRegister(n, _CREG))
    for q in range(n):
        pauli = basis[n - 1 - q]  # labels are little-endian
        if pauli == "X":
            qc.h(q)
        elif pauli == "Y":
            qc.sdg(q)
            qc.h(q)
    qc.measure(range(n), range(n))
    return qc


def _support_mask(label: str) -> int:
    n = len(label)
    return sum(1 << q for q in range(n) if label[n - 1 - q] != "I")


def _outcomes(packed: np.ndarray) -> np.ndarray:
    """BitArray bytes (M, shots, nbytes), big-endian, to integer outcomes (M, shots) uint64."""
    m, shots, nbytes = packed.shape
    wide = np.zeros((m, shots, 8), dtype=np.uint8)
    wide[..., 8 - nbytes :] = packed
    return wide.view(">u8")[..., 0].astype(np.uint64)


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


# ---------------------------------------------------------------------------------------------
# backend resolution


def _backend_name(backend: Any) -> str:
    name = getattr(backend, "name", None)
    if callable(name):
        name = name()
    return str(name or type(backend).__name__)


def _positive_shots(shots: int | None) -> int | None:
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots <= 0:
        raise ConfigurationError(f"shots must be a positive integer or None (exact), got {shots!r}")
    return int(shots)


def valid_seed(seed: Any) -> int | None:
    """``seed`` as an int (or ``None``); anything else is a :class:`ConfigurationError`."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigurationError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def _aer_simulator(make: Any, options: Mapping[str, Any], *args: Any) -> Any:
    """Call an Aer constructor with ``backend_options``, translating Aer's option errors."""
    try:
        return make(*args, **options)
    except Exception as exc:
        raise ConfigurationError(
            f"invalid backend_options for Aer: {exc}; see AerSimulator's documented options "
            "(e.g. method, device, max_parallel_threads)"
        ) from exc


def _import(module: str, what: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendError(f"{what} needs {module.split('.')[0]}: {IBM_INSTALL_HINT}") from exc


def _runtime_sampler(mode: Any):
    """A qiskit-ibm-runtime sampler (client-side ``executor_sampler`` when available)."""
    try:
        from qiskit_ibm_runtime.executor_sampler import Sampler
    except ImportError:
        Sampler = _import("qiskit_ibm_runtime", "IBM Quantum Runtime").SamplerV2
    return Sampler(mode=mode)


def _runtime_backend(mode: Any) -> BackendV2:
    backend = getattr(mode, "_backend", None) if not isinstance(mode, BackendV2) else mode
    if not isinstance(backend, BackendV2):
        raise BackendError(f"cannot determine the backend of runtime mode {mode!r}")
    return backend


def _primitive_backend(primitive: Any) -> BackendV2 | None:
    """The backend a primitive runs on, whose ISA its circuits must match (``None`` if unknown)."""
    backend = getattr(primitive, "_backend", None)
    if callable(getattr(primitive, "backend", None)):  # qiskit-ibm-runtime primitives
        with contextlib.suppress(Exception):  # best effort: else the private attribute
            backend = primitive.backend()
    return backend if isinstance(backend, BackendV2) else None


def _open_runtime_context(device: BackendV2 | None) -> Any:
    """The ``Session``/``Batch`` whose ``with`` block is open on ``device``, if any."""
    if device is None or "qiskit_ibm_runtime" not in sys.modules:
        return None
    from qiskit_ibm_runtime.utils.default_session import get_cm_session

    context = get_cm_session()
    on = getattr(context, "_backend", None)
    if on is None or _backend_name(on) != _backend_name(device):
        return None
    return context


def _is_runtime_mode(obj: Any) -> bool:
    module = type(obj).__module__
    return module.startswith("qiskit_ibm_runtime") and type(obj).__name__ in {"Session", "Batch"}


def _is_ibm_backend(obj: Any) -> bool:
    return type(obj).__module__.startswith("qiskit_ibm_runtime.ibm_backend")


def _ibm_backend(name: str) -> BackendV2:
    runtime = _import("qiskit_ibm_runtime", f"backend 'ibm:{name}'")
    try:
        service = runtime.QiskitRuntimeService()
    except Exception as exc:
        raise BackendError(
            "cannot open an IBM Quantum account: save one with "
            "QiskitRuntimeService.save_account(...) or set QISKIT_IBM_TOKEN "
            f"(and QISKIT_IBM_INSTANCE): {type(exc).__name__}: {exc}"
        ) from exc
    try:
        return service.backend(name)
    except Exception as exc:
        raise BackendError(f"IBM backend {name!r} is not available: {exc}") from exc


def _torch_executor(shiftable: ShiftableCircuit, shots: int | None, opts: dict) -> Executor:
    if shots is not None:
        raise ConfigurationError(
            f"the torch backend is exact and has no shots (got shots={shots}); use "
            "backend='aer' with shots=... for finite-shot sampling"
        )
    unknown = set(opts) - set(TORCH_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"unknown backend_options for the torch backend: {sorted(unknown)}; "
            f"it accepts {list(TORCH_OPTIONS)}"
        )
    from hybridqml.torchsim.executor import TorchExecutor

    return TorchExecutor(shiftable, **opts)


def make_executor(
    shiftable: ShiftableCircuit,
    backend: Any = "aer",
    *,
    shots: int | None = None,
    seed: int | None = None,
    backend_options: Mapping[str, Any] | None = None,
    optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
) -> Executor:
    """Build the executor for a backend spec.

    Args:
        shiftable: The circuit to run.
        backend: ``"aer"``; ``"torch"`` (exact, the torch-native simulator of
            :mod:`hybridqml.torchsim`; no shots; option ``max_memory_bytes``);
            ``"fake_<device>"`` (a qiskit-ibm-runtime fake device: its noise
            model and coupling map, simulated locally by Aer); ``"ibm:<name>"`` (IBM Quantum
            Runtime, account from the saved configuration or environment); a ``BackendV2``; a
            qiskit-ibm-runtime ``Session`` or ``Batch`` (jobs share it); a ``BaseEstimatorV2``
            (used as given, exact or with its own precision); or a ``BaseSamplerV2``.
        shots: Shots per evaluation. ``None`` means exact on ``"aer"`` and
            :data:`DEFAULT_DEVICE_SHOTS` on devices.
        seed: Makes shot sampling on simulators reproducible.
        backend_options: Extra ``AerSimulator`` options for Aer-based backends, e.g.
            ``{"device": "GPU"}`` with qiskit-aer-gpu installed, or ``{"max_parallel_threads": 1}``.
        optimization_level: Transpiler preset level for the backend's ISA.

    Raises:
        BackendError: unknown backend names, missing optional packages, unreachable accounts.
        ConfigurationError: invalid ``shots``.

    Example:
        >>> from hybridqml import circuits
        >>> from hybridqml.gradients import ANGLE_VECTOR_NAME, ShiftableCircuit
        >>> ex = make_executor(ShiftableCircuit(circuits.ry(1)), "aer")
        >>> ex.run([[0.0]]).round(6).tolist()
        [[0.0]]
    """
    shots = _positive_shots(shots)
    seed = valid_seed(seed)
    opts = dict(backend_options or {})
    level = optimization_level

    def sampler_on(sampler, target, name, device=None):
        return SamplerExecutor(
            shiftable,
            sampler,
            shots=shots or DEFAULT_DEVICE_SHOTS,
            name=name,
            target=target,
            seed=seed,
            optimization_level=level,
            device=device,
        )

    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2 as AerSampler

    def aer(sim: AerSimulator, name: str, device: BackendV2 | None = None):
        # exact (or Born-sampled) only without a noise model; a device is never exact
        exact_ok = device is None and sim.options.noise_model is None
        if shots is None and exact_ok:
            estimator = AerExactEstimator(sim)
            return EstimatorExecutor(shiftable, estimator, name=name, target=sim, seed=seed)
        if exact_ok and shiftable.circuit.num_qubits <= MAX_MEASURED_QUBITS:  # noiseless
            return sampler_on(AerBornSampler(sim), sim, name, device)
        return sampler_on(AerSampler.from_backend(sim), sim, name, device)

    if isinstance(backend, str):
        if backend == TORCH_BACKEND:
            return _torch_executor(shiftable, shots, opts)
        if backend == "aer":
            sim = _aer_simulator(AerSimulator, {**_AER_EXACT_OPTIONS, **opts})
            return aer(sim, "aer")  # noisy if backend_options hold a noise model
        if backend.startswith("fake_"):
            device = fake_device(backend)
            sim = _aer_simulator(AerSimulator.from_backend, opts, device)
            return aer(sim, backend, device=device)
        if backend.startswith("ibm:") and len(backend) > 4:
            device = _ibm_backend(backend[4:])
            return sampler_on(_runtime_sampler(device), device, backend)
        raise BackendError(
            f"unknown backend {backend!r}; use 'aer', 'torch', 'fake_<device>' (e.g. "
            "'fake_manila'), 'ibm:<backend name>', a BackendV2, a runtime Session/Batch, "
            "or a V2 primitive"
        )
    if isinstance(backend, BaseEstimatorV2):
        if shots is not None:
            raise ConfigurationError(
                "shots applies to sampler-based backends; set the precision on your estimator"
            )
        target = _primitive_backend(backend)
        name = type(backend).__name__ + (f" on {_backend_name(target)}" if target else "")
        return EstimatorExecutor(shiftable, backend, name=name, target=target, seed=seed)
    if isinstance(backend, BaseSamplerV2):
        target = _primitive_backend(backend)
        name = type(backend).__name__ + (f" on {_backend_name(target)}" if target else "")
        return sampler_on(backend, target, name)
    if _is_runtime_mode(backend):
        device = _runtime_backend(backend)
        return sampler_on(_runtime_sampler(backend), device, f"{_backend_name(device)} (runtime)")
    if isinstance(backend, AerSimulator):
        sim = backend
        if opts:
            sim = copy.copy(backend)
            _aer_simulator(sim.set_options, opts)
        return aer(sim, _backend_name(sim))
    if _is_ibm_backend(backend):
        return sampler_on(_runtime_sampler(backend), backend, _backend_name(backend))
    if isinstance(backend, BackendV2):
        if type(backend).__module__.startswith("qiskit_ibm_runtime.fake_provider"):
            sim = _aer_simulator(AerSimulator.from_backend, opts, backend)
            return aer(sim, _backend_name(backend), device=backend)
        return sampler_on(BackendSamplerV2(backend=backend), backend, _backend_name(backend))
    raise BackendError(
        f"unsupported backend object of type {type(backend).__name__}; pass a backend name, a "
        "BackendV2, a runtime Session/Batch, or a BaseEstimatorV2/BaseSamplerV2 instance"
    )
