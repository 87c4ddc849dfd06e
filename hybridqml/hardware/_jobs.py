"""The job service of devices: retries, the job log, recovery by id, sessions, QPU time.

:data:`RUNTIME_JOBS` is the :class:`~hybridqml.execution._jobs.Jobs` that backends running on
devices (IBM Runtime, fake devices, Aer) give the executors they build. Each call is run by a
:class:`~hybridqml.hardware._retry.JobRunner` (bounded retries with backoff, reopened sessions,
``jobs.jsonl`` lines, a pending job of an earlier run fetched by its fingerprint), runs inside
an open runtime ``Session``/``Batch`` on the same device, and is estimated in QPU seconds from
the device's gate durations (``_qpu_time``).

Example:
    >>> from hybridqml import circuits
    >>> from hybridqml.circuits._shiftable import ShiftableCircuit
    >>> from hybridqml.execution import make_executor
    >>> ex = make_executor(ShiftableCircuit(circuits.ry(1)), "fake_manila", shots=100)
    >>> ex.jobs is RUNTIME_JOBS, ex.call_seconds(10) > 0
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hybridqml.execution._jobs import Jobs, PrimitiveCall
from hybridqml.hardware import _devices as devices
from hybridqml.hardware._qpu_time import shot_seconds
from hybridqml.hardware._retry import DEFAULT_RETRY_POLICY, JobRunner, fingerprint

__all__ = ["RUNTIME_JOBS", "RuntimeJobs"]


class RuntimeJobs(Jobs):
    """Calls submitted as retried, logged, recoverable jobs (see the module)."""

    def run(self, call: PrimitiveCall) -> Any:
        """The result of the call's job, or of a pending job with the same fingerprint."""
        runner = JobRunner(call.name, call.policy or DEFAULT_RETRY_POLICY)
        return runner.run(
            call.submit,
            fingerprint=fingerprint(call.circuits, call.angles, call.shots, call.seed),
            info=call.info,
            fetch=lambda job_id: devices.fetch_job(call.primitive, job_id),
            reopen=call.reopen,
            size=call.size,
        )

    def session(self, device: Any) -> Any:
        """The ``Session``/``Batch`` whose ``with`` block is open on ``device``, if any."""
        return devices.open_runtime_context(device)

    def session_sampler(self, session: Any) -> Any:
        """A runtime sampler inside ``session``."""
        return devices.runtime_sampler(session)

    def reopen(self, primitive: Any) -> Any:
        """A primitive like ``primitive`` on a new session (the old one closed)."""
        return devices.reopen_sampler(primitive)

    def shot_seconds(self, circuits: Sequence[Any], device: Any) -> list[float] | None:
        """QPU seconds of one shot of each ISA circuit on ``device`` (``None``: no durations)."""
        return shot_seconds(circuits, device)


RUNTIME_JOBS = RuntimeJobs()
"""The job service of backends on devices and device simulators."""
