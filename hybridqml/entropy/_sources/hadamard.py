"""Hadamard-measurement bits from Qiskit Aer or any Qiskit backend.

Each shot of the circuit ``H`` on every qubit followed by a measurement gives ``n_qubits`` bits.
Bits are emitted per shot, in shot order, clbit 0 first, and packed big-endian into bytes (the first
bit of a byte is its most significant bit). Counts are never aggregated.

Honesty: Aer samples measurements with a pseudo-random generator (``mt19937_64`` seeded by
``seed_simulator``), so Aer output is labelled ``"simulated-quantum"`` and is reproducible with
``seed``. A fake IBM device (``qiskit_ibm_runtime.fake_provider``) is also a local simulation
(with the device's gate and readout errors, hence biased bits); its shots are drawn from the exact
noisy distribution of the circuit
(:class:`~hybridqml.backends.mixed.DensityMatrixSampler`: computed once, then
every job is a multinomial draw, with the law of Aer's own noisy sampling and far faster), or
with ``noisy_simulation="trajectories"`` by Aer's own noisy sampling. Only a
real IBM backend gives kind ``"quantum"``; its bits are biased by readout error, so condition or
debias them before use.

Failures: a job that fails on the simulator or backend (or returns unusable data) raises
:class:`~hybridqml.exceptions.EntropyError` naming the source, as every source must, so a caller
falling back to another source on ``EntropyError`` also falls back from a failed Aer job. A
missing package raises :class:`~hybridqml.exceptions.MissingDependencyError`.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import numpy as np

from hybridqml.backends.mixed._density_sampler import NOISY_SIMULATIONS
from hybridqml.backends.mixed._density_sampler import DensityMatrixSampler as AerNoisySampler
from hybridqml.backends.mixed._executors import device_simulator
from hybridqml.entropy._registry import SourceEntry
from hybridqml.entropy._sources.base import EntropySource, SourceKind
from hybridqml.exceptions import (
    ConfigurationError,
    EntropyError,
    HybridQMLError,
    MissingDependencyError,
)
from hybridqml.hardware._devices import is_fake_device

__all__ = [
    "AER",
    "DEFAULT_AER_QUBITS",
    "DEFAULT_SHOTS_PER_JOB",
    "FAKE_DEVICE",
    "HARDWARE_CLAIMED_MIN_ENTROPY",
    "MAX_QUBITS",
    "MIN_SHOTS_PER_JOB",
    "AerHadamardSource",
    "hex_memory_to_ints",
]

#: Qubits per shot on Aer: 16 is the measured sweet spot of the statevector method on 2 cores.
DEFAULT_AER_QUBITS: Final[int] = 16
#: Upper bound on qubits per shot (values must fit a uint64 word; statevector cost grows as 2^n).
MAX_QUBITS: Final[int] = 32
#: Shots per job: fewer than 2^16 shots per job wastes time in per-job overhead.
MIN_SHOTS_PER_JOB: Final[int] = 1 << 16
DEFAULT_SHOTS_PER_JOB: Final[int] = 1 << 16
#: Claimed min-entropy per byte for devices with readout error (real or fake IBM devices).
HARDWARE_CLAIMED_MIN_ENTROPY: Final[float] = 6.0

_HEX_LOOKUP = np.zeros(256, dtype=np.uint64)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_LOOKUP[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX_LOOKUP[_c] = 10 + _i


def hex_memory_to_ints(memory: list[str] | np.ndarray) -> np.ndarray:
    """Convert Qiskit hex memory strings (``'0x1f'``) to ``uint64`` values, vectorised.

    ``Result.get_memory()`` formats bitstrings in Python at ~1 s per million shots; this parses the
    raw hex memory with numpy instead.

    Args:
        memory: Sequence of strings ``'0x...'`` (at most 16 hex digits each).

    Returns:
        A ``uint64`` array, one value per shot.

    Example:
        >>> hex_memory_to_ints(["0x0", "0x1f", "0xff"]).tolist()
        [0, 31, 255]
    """
    raw = np.asarray(memory, dtype="S")
    if raw.ndim != 1:
        raise EntropyError("measurement memory must be a flat list of hex strings")
    width = raw.dtype.itemsize
    if width > 18:
        raise EntropyError("measurement memory words wider than 64 bits")
    chars = raw.view(np.uint8).reshape(raw.size, width)
    if raw.size and not (np.all(chars[:, 0] == ord("0")) and np.all(chars[:, 1] == ord("x"))):
        raise EntropyError("measurement memory is not in '0x...' hex format")
    values: np.ndarray = np.zeros(raw.size, dtype=np.uint64)
    # Strings are NUL-padded on the right: shift a digit in only where the column holds one.
    for column in range(2, width):
        codes = chars[:, column]
        present = codes != 0
        values = np.where(present, (values << np.uint64(4)) | _HEX_LOOKUP[codes], values)
    return values


def _bitarray_to_ints(array: np.ndarray, num_bits: int) -> np.ndarray:
    """Convert a packed ``BitArray.array`` (shots, bytes; big-endian) to ``uint64`` values."""
    arr = np.asarray(array, dtype=np.uint64)
    nbytes = arr.shape[1]
    shifts = (8 * (nbytes - 1 - np.arange(nbytes))).astype(np.uint64)
    values = np.bitwise_or.reduce(arr << shifts[None, :], axis=1)
    return values & np.uint64((1 << num_bits) - 1)


def _is_real_ibm_backend(backend: Any) -> bool:
    try:
        from qiskit_ibm_runtime import IBMBackend
    except ImportError:  # pragma: no cover - optional dependency
        return False
    return isinstance(backend, IBMBackend) and not getattr(backend, "simulator", False)


class AerHadamardSource(EntropySource):
    """Random bytes from measuring ``H|0>`` on every qubit, per shot, on Aer or a given backend.

    Args:
        n_qubits: Qubits (bits) per shot. Default: 16 on Aer, ``min(num_qubits, 16)`` on a backend.
        shots_per_job: Shots per job, at least ``2**16``.
        backend: ``None`` for Aer (statevector method, memory on), or any Qiskit ``BackendV2`` (for
            instance ``FakeManilaV2()``). The circuit is transpiled once for it.
        seed: Seed for the simulator; each job gets a distinct seed derived from it, so the
            stream is reproducible and does not repeat from job to job.
        use_sampler: Run through a Sampler primitive instead of ``backend.run(memory=True)``.
            ``None`` chooses automatically (primitives are required for real IBM backends).
            Applies to the trajectory path.
        noisy_simulation: On a fake device: ``"auto"`` (the exact noisy distribution when the
            circuit allows it, else Aer's trajectories), ``"density_matrix"`` (always; an error
            otherwise) or ``"trajectories"`` (Aer's own noisy sampling).

    Example:
        >>> from hybridqml.entropy import AerHadamardSource
        >>> src = AerHadamardSource(n_qubits=8, seed=1)
        >>> src.kind, len(src.read(3))
        ('simulated-quantum', 3)
    """

    def __init__(
        self,
        *,
        n_qubits: int | None = None,
        shots_per_job: int = DEFAULT_SHOTS_PER_JOB,
        backend: Any = None,
        seed: int | None = None,
        use_sampler: bool | None = None,
        noisy_simulation: str = "auto",
    ) -> None:
        try:
            from qiskit import QuantumCircuit, transpile
        except ImportError as exc:  # pragma: no cover - qiskit is a hard dependency
            raise MissingDependencyError(
                "AerHadamardSource needs qiskit: pip install qiskit", package="qiskit"
            ) from exc
        if not isinstance(shots_per_job, int) or shots_per_job < MIN_SHOTS_PER_JOB:
            raise ConfigurationError(f"shots_per_job must be an int >= {MIN_SHOTS_PER_JOB}")
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise ConfigurationError("seed must be a non-negative int or None")
        if backend is None:
            try:
                from qiskit_aer import AerSimulator
            except ImportError as exc:  # pragma: no cover
                raise MissingDependencyError(
                    "Aer source needs qiskit-aer: pip install qiskit-aer", package="qiskit-aer"
                ) from exc
            backend = AerSimulator(method="statevector")
            self._on_aer = True
        else:
            self._on_aer = False
        max_qubits = min(MAX_QUBITS, int(getattr(backend, "num_qubits", None) or MAX_QUBITS))
        if n_qubits is None:
            n_qubits = min(DEFAULT_AER_QUBITS, max_qubits)
        if not isinstance(n_qubits, int) or not 1 <= n_qubits <= max_qubits:
            raise ConfigurationError(f"n_qubits must be an int in [1, {max_qubits}]")
        self.n_qubits = n_qubits
        self.shots_per_job = shots_per_job
        self.seed = seed
        self.backend = backend
        real = _is_real_ibm_backend(backend)
        self.kind: SourceKind = "quantum" if real else "simulated-quantum"
        self.use_sampler = real if use_sampler is None else bool(use_sampler)
        if not self._on_aer:
            self.claimed_min_entropy = HARDWARE_CLAIMED_MIN_ENTROPY
        backend_name = getattr(backend, "name", type(backend).__name__)
        self.name = f"hadamard({backend_name}, {n_qubits} qubits, seed={seed})"

        circuit = QuantumCircuit(n_qubits, n_qubits)
        circuit.h(range(n_qubits))
        circuit.measure(range(n_qubits), range(n_qubits))
        try:
            self._circuit = transpile(circuit, backend, optimization_level=1, seed_transpiler=0)
        except Exception as exc:
            raise EntropyError(f"cannot transpile the Hadamard circuit for {backend_name}") from exc
        self._seeds = np.random.default_rng(seed)
        self._buffer = bytearray()
        self._carry: np.ndarray = np.zeros(0, dtype=np.uint8)
        self._lock = threading.Lock()
        self.jobs = 0
        self._sampler: Any = None
        #: How the shots are simulated: "statevector" (Aer), "density_matrix" (the exact noisy
        #: distribution of a fake device), "trajectories" (Aer's noisy sampling) or "backend".
        self.simulation = "statevector" if self._on_aer else "backend"
        if is_fake_device(backend):
            self._use_noisy_distribution(noisy_simulation)

    def _use_noisy_distribution(self, mode: str) -> None:
        """Draw a fake device's shots from its exact noisy distribution (see the module)."""
        if mode not in NOISY_SIMULATIONS:
            raise ConfigurationError(
                f"noisy_simulation must be one of {', '.join(NOISY_SIMULATIONS)}, got {mode!r}"
            )
        self.simulation = "trajectories"
        if mode == "trajectories":
            return
        sampler = AerNoisySampler(device_simulator(self.backend))
        try:
            sampler.check(self._circuit)
        except HybridQMLError as exc:
            if mode == "density_matrix":
                message = f"{self.name}: no exact noisy distribution: {exc}"
                raise ConfigurationError(message) from exc
            return
        self._sampler, self.use_sampler, self.simulation = sampler, True, "density_matrix"

    def _job_seed(self) -> int | None:
        return int(self._seeds.integers(0, 2**62)) if self.seed is not None else None

    def _run_job(self) -> np.ndarray:
        """Run one job; return one ``uint64`` value per shot (bit i = clbit i)."""
        seed = self._job_seed()
        try:
            if self.use_sampler:
                values = self._run_sampler(seed)
            else:
                options: dict[str, Any] = {"shots": self.shots_per_job, "memory": True}
                if seed is not None:
                    options["seed_simulator"] = seed
                result = self.backend.run(self._circuit, **options).result()
                values = hex_memory_to_ints(result.data(0)["memory"])
        except EntropyError:
            raise
        except Exception as exc:  # any simulator/backend failure: this source cannot deliver
            raise EntropyError(f"Hadamard job failed on {self.name}: {type(exc).__name__}") from exc
        self.jobs += 1
        if values.shape != (self.shots_per_job,):
            raise EntropyError(
                f"{self.name}: expected {self.shots_per_job} shots, got {values.shape}"
            )
        return values

    def _run_sampler(self, seed: int | None) -> np.ndarray:
        if self._sampler is None:
            if _is_real_ibm_backend(self.backend):  # pragma: no cover - needs IBM Quantum access
                from qiskit_ibm_runtime import SamplerV2

                self._sampler = SamplerV2(mode=self.backend)
            else:
                from qiskit.primitives import BackendSamplerV2

                self._sampler = BackendSamplerV2(backend=self.backend)
        if seed is not None and hasattr(self._sampler.options, "seed_simulator"):
            self._sampler.options.seed_simulator = seed
        result = self._sampler.run([self._circuit], shots=self.shots_per_job).result()
        bit_array = getattr(result[0].data, self._circuit.cregs[0].name)
        return _bitarray_to_ints(bit_array.array, self.n_qubits)

    def _bytes_from_values(self, values: np.ndarray) -> bytes:
        bits = (values[:, None] >> np.arange(self.n_qubits, dtype=np.uint64)) & np.uint64(1)
        stream = np.concatenate([self._carry, bits.astype(np.uint8).ravel()])
        usable = stream.size - stream.size % 8
        self._carry = stream[usable:]
        return np.packbits(stream[:usable]).tobytes()

    def _read(self, n: int) -> bytes:
        with self._lock:
            while len(self._buffer) < n:
                self._buffer += self._bytes_from_values(self._run_job())
            out = bytes(self._buffer[:n])
            del self._buffer[:n]
            return out


def _aer(settings: Any, *, name: str, seed: int | None) -> AerHadamardSource:
    return AerHadamardSource(n_qubits=settings.qubits, seed=seed)


def _fake_device(settings: Any, *, name: str, seed: int | None) -> AerHadamardSource:
    from hybridqml.hardware._devices import fake_device

    return AerHadamardSource(n_qubits=settings.qubits, backend=fake_device(name), seed=seed)


AER = SourceEntry(
    factory=_aer,
    help="Hadamard bits measured on Aer (simulated quantum, seeded)",
    seeded=True,
    fallback=True,
)
"""The ``aer`` source."""
FAKE_DEVICE = SourceEntry(
    factory=_fake_device,
    help="Hadamard bits on a fake IBM device, e.g. fake_manila (readout-biased, seeded)",
    seeded=True,
    workflows=False,
    prefix="fake_",
)
"""The ``fake_<device>`` sources: any name starting with ``fake_`` names the device."""
