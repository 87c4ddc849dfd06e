"""Count circuit executions: primitive calls, circuit evaluations, shots and QPU time.

Inspired by PennyLane's ``qml.Tracker``: executions are recorded by every active
:class:`Tracker`, so tests and benchmarks can check how much work a training run sends to a
backend without instrumenting it. Each call is also attributed to the kind of pass that made it
(``"forward"`` or the gradient rule's name, see :func:`pass_kind`), and :func:`mark` records
snapshots (e.g. at epoch starts) from which per-epoch counts are taken.

Every call is also announced to the *call observers* (:func:`observe_calls`): the job log of
``hybridqml.hardware._joblog`` is one, so the core reports calls without knowing who listens.

Inside :func:`dry_run` executors count their calls exactly as they would run them (the same
calls, bindings, circuits and shots) but execute nothing and return zeros: that is how
:func:`hybridqml.workflows.estimate_cost` learns what a run will send before it sends anything.

Example:
    >>> import torch, hybridqml as hq
    >>> layer = hq.QuantumLayer(hq.circuits.ry(1))
    >>> with hq.Tracker() as tracker:
    ...     layer(torch.rand(8, 1, requires_grad=True)).sum().backward()
    >>> tracker.calls, tracker.evaluations      # one forward call, one backward call
    (2, 24)
    >>> sorted(tracker.by_kind)
    ['forward', 'parameter-shift']
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COUNTERS",
    "CallRecord",
    "Tracker",
    "dry_run",
    "is_dry_run",
    "mark",
    "observe_calls",
    "pass_kind",
    "record",
    "start_call",
]

_active: list[Tracker] = []
_lock = threading.Lock()
_kind: contextvars.ContextVar[str] = contextvars.ContextVar("hybridqml_pass_kind", default="call")
_dry: contextvars.ContextVar[bool] = contextvars.ContextVar("hybridqml_dry_run", default=False)
#: Called with each :class:`CallRecord` as it starts; each returns what to call when it finishes.
_observers: list[Callable[[CallRecord], CallFinisher | None]] = []

COUNTERS = ("calls", "circuits", "evaluations", "shots", "executed_shots", "qpu_seconds")
"""What a :class:`Tracker` counts, in :meth:`Tracker.snapshot` order."""


@dataclass
class Tracker:
    """Accumulates executions while active (use as a context manager).

    Attributes:
        calls: Primitive calls (one per forward or backward pass of a layer, more when a pass
            is split under the memory budget).
        circuits: Circuits submitted (PUBs: one per measurement group on the sampler path),
            summed over calls.
        evaluations: Circuit evaluations (parameter bindings) across all calls.
        shots: Shots spent per binding summed over bindings (0 for exact backends): bindings x
            shots, the quantity the first version counted.
        executed_shots: Shots a device executes: circuits x bindings x shots per call (equal to
            ``shots`` when every call has one circuit); the bindings of every circuit summed,
            times shots, when the circuits of a call have different numbers of bindings (the
            per-copy shift rule through ZNE).
        qpu_seconds: QPU time: what the backend reported for a job, else the estimate from the
            device's gate durations (0 for simulators without durations).
        by_backend: Evaluations per backend name.
        by_kind: Counters per pass kind (``"forward"``, ``"parameter-shift"``, ...).
        marks: ``(label, snapshot)`` pairs recorded by :func:`mark`.
    """

    calls: int = 0
    circuits: int = 0
    evaluations: int = 0
    shots: int = 0
    executed_shots: int = 0
    qpu_seconds: float = 0.0
    by_backend: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    marks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __enter__(self) -> Tracker:
        with _lock:
            _active.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with _lock:
            _active.remove(self)

    def reset(self) -> None:
        """Zero every counter."""
        self.calls = self.circuits = self.evaluations = self.shots = self.executed_shots = 0
        self.qpu_seconds = 0.0
        self.by_backend, self.by_kind, self.marks = {}, {}, []

    def snapshot(self) -> dict[str, Any]:
        """The counters of :data:`COUNTERS` now, and a copy of ``by_kind`` (see :func:`mark`)."""
        snap: dict[str, Any] = {name: getattr(self, name) for name in COUNTERS}
        snap["by_kind"] = {kind: dict(counts) for kind, counts in self.by_kind.items()}
        return snap


def record(
    backend: str,
    evaluations: int,
    shots: int | None,
    *,
    circuits: int = 1,
    qpu_seconds: float = 0.0,
    circuit_bindings: int | None = None,
) -> None:
    """Record one primitive call of ``evaluations`` bindings on every active tracker.

    Args:
        backend: Backend name.
        evaluations: Number of circuit bindings evaluated by the call.
        shots: Shots per binding (per circuit), ``None`` when exact.
        circuits: Circuits (PUBs) of the call, each run at every binding.
        qpu_seconds: QPU time of the call (reported, or estimated; 0 when unknown).
        circuit_bindings: Bindings summed over the circuits when they differ per circuit
            (per-copy shift rows of ZNE); ``circuits x evaluations`` when ``None``.
    """
    if not _active:
        return
    kind = _kind.get()
    counts = {
        "calls": 1,
        "circuits": circuits,
        "evaluations": evaluations,
        "shots": evaluations * (shots or 0),
        "executed_shots": _executed(circuits, evaluations, circuit_bindings) * (shots or 0),
        "qpu_seconds": float(qpu_seconds),
    }
    with _lock:
        for tracker in _active:
            for name, value in counts.items():
                setattr(tracker, name, getattr(tracker, name) + value)
            tracker.by_backend[backend] = tracker.by_backend.get(backend, 0) + evaluations
            per_kind = tracker.by_kind.setdefault(kind, dict.fromkeys(COUNTERS, 0))
            for name, value in counts.items():
                per_kind[name] += value


def mark(label: str) -> None:
    """Record a snapshot of every active tracker's counters under ``label``.

    Example:
        >>> with Tracker() as t:
        ...     mark("epoch 1"); record("aer", 4, 100); mark("end")
        >>> [(label, snap["shots"]) for label, snap in t.marks]
        [('epoch 1', 0), ('end', 400)]
    """
    with _lock:
        for tracker in _active:
            tracker.marks.append((label, tracker.snapshot()))


@contextlib.contextmanager
def pass_kind(kind: str) -> Iterator[None]:
    """Attribute the calls made inside the block to ``kind`` (``"forward"``, a gradient name)."""
    token = _kind.set(kind)
    try:
        yield
    finally:
        _kind.reset(token)


@contextlib.contextmanager
def dry_run() -> Iterator[None]:
    """Count calls without executing them: executors return zeros inside the block.

    Example:
        >>> import hybridqml as hq
        >>> from hybridqml.circuits._shiftable import ShiftableCircuit
        >>> from hybridqml.execution._registry import make_executor
        >>> ex = make_executor(ShiftableCircuit(hq.circuits.ry(1)), "aer", shots=100)
        >>> with Tracker() as t, dry_run():
        ...     ex.run([[0.3], [0.4]]).tolist()
        [[0.0], [0.0]]
        >>> t.calls, t.shots
        (1, 200)
    """
    token = _dry.set(True)
    try:
        yield
    finally:
        _dry.reset(token)


def is_dry_run() -> bool:
    """Whether a :func:`dry_run` block is open (in this context)."""
    return _dry.get()


def _executed(circuits: int, bindings: int, circuit_bindings: int | None) -> int:
    return circuits * bindings if circuit_bindings is None else circuit_bindings


class CallRecord:
    """One primitive call being made, announced to the call observers (see :func:`start_call`).

    Attributes:
        backend: Backend name.
        circuits: Circuits (PUBs) of the call.
        bindings: Bindings of each circuit (rows of the call).
        shots: Shots per binding (``None`` when exact).
        circuit_bindings: Bindings summed over the circuits (``circuits x bindings`` unless the
            circuits have different numbers of bindings).
        wall: Wall-clock start (``time.time()``).
        started: Monotonic start (``time.perf_counter()``).
    """

    def __init__(
        self,
        backend: str,
        circuits: int,
        bindings: int,
        shots: int | None,
        circuit_bindings: int | None = None,
    ) -> None:
        self.backend, self.circuits, self.bindings, self.shots = backend, circuits, bindings, shots
        self.circuit_bindings = _executed(circuits, bindings, circuit_bindings)
        self.wall = time.time()
        self.started = time.perf_counter()
        self._finishers: list[CallFinisher] = []

    def finish(
        self,
        status: str,
        info: Mapping[str, Any],
        *,
        qpu_seconds: float | None = None,
        error: BaseException | None = None,
    ) -> None:
        """Tell the observers how the call ended (``"done"`` or ``"failed"``) and what it reported.

        Args:
            status: ``"done"`` or ``"failed"``.
            info: What the job reported (job id, attempts, usage, fingerprint...).
            qpu_seconds: QPU time of a done call (reported or estimated).
            error: The failure of a failed call.
        """
        for finisher in self._finishers:
            finisher(self, status, info, qpu_seconds, error)


#: ``finisher(call, status, info, qpu_seconds, error)``, returned by a call observer.
CallFinisher = Callable[
    [CallRecord, str, Mapping[str, Any], "float | None", "BaseException | None"], None
]


def observe_calls(observer: Callable[[CallRecord], CallFinisher | None]) -> None:
    """Announce every call from now on to ``observer`` (added once, however often it is given).

    ``observer(call)`` runs when a call starts and returns the function to run when it finishes
    (``None``: not interested in this one).
    """
    with _lock:
        if observer not in _observers:
            _observers.append(observer)


def start_call(
    backend: str,
    circuits: int,
    bindings: int,
    shots: int | None,
    *,
    circuit_bindings: int | None = None,
) -> CallRecord:
    """Begin a call of ``circuits`` circuits at ``bindings`` bindings; observers hear of it.

    ``circuit_bindings``: bindings summed over the circuits, when they differ per circuit.

    Example:
        >>> call = start_call("aer", 1, 4, None)
        >>> call.finish("done", {}, qpu_seconds=0.0)
    """
    call = CallRecord(backend, circuits, bindings, shots, circuit_bindings)
    with _lock:
        observers = list(_observers)
    call._finishers = [f for f in (observer(call) for observer in observers) if f is not None]
    return call
