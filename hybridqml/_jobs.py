"""A primitive job that already holds its result, for the synchronous Aer primitives."""

from __future__ import annotations

from qiskit.primitives.base.base_primitive_job import BasePrimitiveJob
from qiskit.primitives.containers import PrimitiveResult
from qiskit.providers import JobStatus

__all__ = ["DoneJob"]


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
