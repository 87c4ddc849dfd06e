"""Count circuit executions: primitive calls, circuit evaluations and shots.

Inspired by PennyLane's ``qml.Tracker``: executions are recorded by every active
:class:`Tracker`, so tests and benchmarks can check how much work a training run sends to a
backend without instrumenting it.

Example:
    >>> import torch, hybridqml as hq
    >>> layer = hq.QuantumLayer(hq.circuits.ry(1))
    >>> with hq.tracking.Tracker() as tracker:
    ...     layer(torch.rand(8, 1, requires_grad=True)).sum().backward()
    >>> tracker.calls, tracker.evaluations      # one forward call, one backward call
    (2, 24)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

__all__ = ["Tracker", "record"]

_active: list[Tracker] = []
_lock = threading.Lock()


@dataclass
class Tracker:
    """Accumulates executions while active (use as a context manager).

    Attributes:
        calls: Primitive calls (one per forward or backward pass of a layer, more when a pass
            is split under the memory budget).
        evaluations: Circuit evaluations (parameter bindings) across all calls.
        shots: Shots spent (0 for exact backends).
        by_backend: Evaluations per backend name.
    """

    calls: int = 0
    evaluations: int = 0
    shots: int = 0
    by_backend: dict[str, int] = field(default_factory=dict)

    def __enter__(self) -> Tracker:
        with _lock:
            _active.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with _lock:
            _active.remove(self)

    def reset(self) -> None:
        """Zero every counter."""
        self.calls = self.evaluations = self.shots = 0
        self.by_backend = {}


def record(backend: str, evaluations: int, shots: int | None) -> None:
    """Record one primitive call of ``evaluations`` bindings on every active tracker.

    Args:
        backend: Backend name.
        evaluations: Number of circuit bindings evaluated by the call.
        shots: Shots per binding, ``None`` when exact.
    """
    if not _active:
        return
    with _lock:
        for tracker in _active:
            tracker.calls += 1
            tracker.evaluations += evaluations
            tracker.shots += evaluations * (shots or 0)
            tracker.by_backend[backend] = tracker.by_backend.get(backend, 0) + evaluations
