"""Pieces shared by the synchronous Aer primitives: a finished job and an identity cache."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from qiskit.primitives.base.base_primitive_job import BasePrimitiveJob
from qiskit.primitives.containers import PrimitiveResult
from qiskit.providers import JobStatus

__all__ = ["DoneJob", "IdentityCache"]

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
