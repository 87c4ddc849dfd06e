"""How primitive calls become jobs, and the pieces of synchronous primitives.

* :class:`Jobs` -- how an executor's call reaches its primitive: submitted, waited for, and
  (on devices) retried, logged and recovered. This base serves local primitives: one
  submission, its result. The hardware room's
  :data:`~hybridqml.hardware._jobs.RUNTIME_JOBS` adds retries with backoff, the job log,
  recovery of pending jobs by id, runtime sessions and QPU-time estimates; backends that
  need them pass it to the executors they build (the core never imports it).
* :class:`DoneJob` and :class:`IdentityCache` -- a finished job and a cache of prepared
  circuits, shared by the synchronous primitives (Aer's exact estimator, the distribution
  samplers).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qiskit.primitives.base.base_primitive_job import BasePrimitiveJob
from qiskit.primitives.containers import PrimitiveResult
from qiskit.providers import JobStatus

__all__ = ["LOCAL_JOBS", "DoneJob", "IdentityCache", "Jobs", "PrimitiveCall"]

T = TypeVar("T")


class DoneJob(BasePrimitiveJob):
    """A finished job (execution was synchronous).

    Args:
        result: The primitive's result.
        job_id: An identifier naming the primitive that made it.
    """

    def __init__(self, result: PrimitiveResult, *, job_id: str = "aer-exact") -> None:
        super().__init__(job_id=job_id)
        self._result = result

    def result(self) -> PrimitiveResult:
        """The result."""
        return self._result

    def status(self) -> JobStatus:
        """Always ``DONE``."""
        return JobStatus.DONE

    def done(self) -> bool:
        """Always ``True``."""
        return True

    def running(self) -> bool:
        """Always ``False``."""
        return False

    def cancelled(self) -> bool:
        """Always ``False``."""
        return False

    def in_final_state(self) -> bool:
        """Always ``True``."""
        return True

    def cancel(self) -> None:
        """Nothing to cancel."""
        return None


class IdentityCache:
    """Values derived from objects (circuits, observables), keyed by the object's identity.

    The object is kept alive with its value, so its ``id`` cannot be reused by another object
    while the entry exists; the oldest entry is evicted beyond ``size``.

    Args:
        size: Most entries kept.

    Example:
        >>> cache, key = IdentityCache(size=2), object()
        >>> cache.get(key, lambda: 1), cache.get(key, lambda: 2), len(cache)
        (1, 1, 1)
    """

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._entries: dict[tuple[Hashable, ...], tuple[Any, Any]] = {}

    def get(self, obj: Any, build: Callable[[], T], *extra: Hashable) -> T:
        """The value for ``obj`` (and the hashable ``extra`` key parts), built on first use."""
        key = (id(obj), *extra)
        hit = self._entries.get(key)
        if hit is not None and hit[0] is obj:
            return hit[1]
        value = build()
        if len(self._entries) >= self._size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (obj, value)
        return value

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class PrimitiveCall:
    """One primitive call as an executor hands it to its :class:`Jobs`.

    Attributes:
        name: Backend name (messages, the job log).
        submit: Submits the job and returns it (called again for each retry).
        primitive: The primitive the job runs on (fetches pending jobs by id).
        circuits: The circuits sent (their fingerprint matches pending jobs).
        angles: The call's (m, K) angles.
        shots: Shots per binding (``None`` when exact).
        seed: The simulator seed set for this call (kept by every retry).
        info: Filled with what the job reports (``job_id``, ``attempts``, ``usage``...).
        reopen: Reopens a closed session (``None``: nothing to reopen).
        policy: The executor's retry policy (``None``: the job service's default).
    """

    name: str
    submit: Callable[[], Any]
    primitive: Any
    circuits: Sequence[Any]
    angles: Any
    shots: int | None
    seed: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    reopen: Callable[[], None] | None = None
    policy: Any = None

    @property
    def size(self) -> dict[str, Any]:
        """Circuits, bindings and shots of the call."""
        return {"circuits": len(self.circuits), "bindings": len(self.angles), "shots": self.shots}


class Jobs:
    """How calls reach their primitive: here once, synchronously (local primitives).

    Example:
        >>> call = PrimitiveCall("demo", lambda: DoneJob(PrimitiveResult([])), None, [], [], None)
        >>> len(LOCAL_JOBS.run(call)), call.info
        (0, {'attempts': 1})
    """

    def run(self, call: PrimitiveCall) -> Any:
        """The result of the call's job."""
        call.info["attempts"] = 1
        return call.submit().result()

    def session(self, device: Any) -> Any:
        """A runtime session or batch open on ``device`` whose primitive the call should use."""
        del device
        return None

    def session_sampler(self, session: Any) -> Any:
        """A sampler running inside ``session`` (only called when :meth:`session` gave one)."""
        raise NotImplementedError(f"{type(self).__name__} opens no sessions: {session!r}")

    def reopen(self, primitive: Any) -> Any:
        """A primitive like ``primitive`` on a newly opened session (local: the same one)."""
        return primitive

    def shot_seconds(self, circuits: Sequence[Any], device: Any) -> list[float] | None:
        """QPU seconds of one shot of each circuit on ``device`` (``None``: not a device)."""
        del circuits, device
        return None


LOCAL_JOBS = Jobs()
"""The job service of local primitives."""
