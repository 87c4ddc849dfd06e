"""A fault-injecting stand-in for IBM hardware: a local runtime sampler that fails on schedule.

:class:`FaultInjectingSampler` runs qiskit-ibm-runtime's own sampler in local testing mode on a
fake device (no network, no account) and injects the failures hardware runs meet, at the
submissions you choose:

================  ===========================================================================
``"transient"``   the job fails with a runtime error the IBM registry says to retry
                  (``RuntimeJobFailureError``, error code 1010)
``"permanent"``   the job fails for good (``RuntimeJobFailureError``, error code 1003: invalid
                  circuits)
``"connection"``  the submission fails with a connection error (no job is created)
``"expire"``      the session has expired: this and every later submission fails with
                  ``IBMRuntimeError("The session is closed.")`` until the session is reopened
``"timeout"``     waiting for the job times out once (``RuntimeJobTimeoutError``); the job
                  itself finishes
``"poll"``        the job is accepted, then the connection drops while waiting for it
                  (``RequestsApiError``, status -1) on its first ``poll_failures`` waits; the
                  job itself finishes
``"delay"``       the job takes ``seconds`` longer (through the injectable ``sleep``)
``"crash"``       the job is submitted, then the *client* dies while waiting
                  (:class:`SimulatedCrash`, a ``BaseException`` nothing catches): the job stays
                  in the stand-in's store, to be fetched by id by a resumed run
================  ===========================================================================

Pass it as a layer's backend; the executor transpiles to its device and retries through
``hybridqml.hardware._retry``. Attempts, submissions, reopened sessions and fetched jobs
are counted, so tests can check exactly what was paid for.

Example:
    >>> import torch, hybridqml as hq
    >>> from hybridqml.hardware._retry import RetryPolicy
    >>> sampler = FaultInjectingSampler("fake_manila", faults={1: "transient"})
    >>> layer = hq.QuantumLayer(hq.circuits.ry(1), backend=sampler, shots=100, seed=1)
    >>> layer.engine.executor.retry_policy = RetryPolicy(sleep=lambda s: None)
    >>> _ = layer(torch.zeros(2, 1))
    >>> sampler.attempts, sampler.submissions      # the first job failed, the second ran
    (2, 2)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from qiskit.primitives import BaseSamplerV2

from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._isa import backend_name
from hybridqml.hardware._devices import fake_device, runtime_sampler

__all__ = ["FAULT_KINDS", "Fault", "FaultInjectingSampler", "FaultyJob", "SimulatedCrash"]

FAULT_KINDS: Final[tuple[str, ...]] = (
    "transient",
    "permanent",
    "connection",
    "expire",
    "timeout",
    "poll",
    "delay",
    "crash",
)
"""The failures :class:`FaultInjectingSampler` can inject."""


class SimulatedCrash(BaseException):
    """The client process "dies" while waiting for a job (a ``BaseException``: never caught)."""


@dataclass(frozen=True)
class Fault:
    """One injected failure.

    Attributes:
        kind: One of :data:`FAULT_KINDS`.
        seconds: Extra run time of a ``"delay"``.
        poll_failures: Waits that lose the connection, for a ``"poll"``.
    """

    kind: str
    seconds: float = 0.0
    poll_failures: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ConfigurationError(
                f"unknown fault {self.kind!r}; use one of {', '.join(FAULT_KINDS)}"
            )


def _runtime_errors() -> Any:
    from qiskit_ibm_runtime import exceptions

    return exceptions


class FaultyJob:
    """A local runtime job whose ``result()`` fails as its :class:`Fault` says."""

    def __init__(
        self, job: Any, job_id: str, fault: Fault | None, sleep: Callable[[float], Any]
    ) -> None:
        self._job = job
        self._id = job_id
        self._fault = fault
        self._sleep = sleep
        self.waits = 0
        self.usage_seconds: float | None = None

    def job_id(self) -> str:
        """The stand-in's id of this job."""
        return self._id

    def status(self) -> str:
        """``"DONE"`` once its result was collected, ``"ERROR"`` for failed jobs."""
        if self._fault is not None and self._fault.kind in ("transient", "permanent"):
            return "ERROR"
        return "DONE"

    def result(self, timeout: float | None = None) -> Any:
        """The local job's result, after the injected failure (if any)."""
        self.waits += 1
        kind = self._fault.kind if self._fault is not None else None
        errors = _runtime_errors()
        if kind == "transient":
            raise errors.RuntimeJobFailureError(
                f"Unable to retrieve job result. Error code 1010; Error returned at backend "
                f"level (job {self._id})"
            )
        if kind == "permanent":
            raise errors.RuntimeJobFailureError(
                f"Unable to retrieve job result. Error code 1003; Error in transpilation process "
                f"(job {self._id})"
            )
        if kind == "timeout" and self.waits == 1:
            raise errors.RuntimeJobTimeoutError(
                f"Timed out waiting for job to complete after {timeout} secs."
            )
        if kind == "poll" and self._fault is not None and self.waits <= self._fault.poll_failures:
            from qiskit_ibm_runtime.api.exceptions import RequestsApiError

            raise RequestsApiError(f"Connection aborted while polling job {self._id}", -1)
        if kind == "delay" and self._fault is not None and self.waits == 1:
            self._sleep(self._fault.seconds)
        if kind == "crash" and self.waits == 1:
            raise SimulatedCrash(f"client died while waiting for job {self._id}")
        return self._job.result()

    def metrics(self) -> dict[str, Any]:
        """The usage record IBM jobs report (none unless the stand-in was given one)."""
        if self.usage_seconds is None:
            return {}
        return {"usage": {"quantum_seconds": self.usage_seconds, "seconds": self.usage_seconds}}


class FaultInjectingSampler(BaseSamplerV2):
    """qiskit-ibm-runtime's sampler in local mode on a fake device, failing on a schedule.

    Args:
        device: A fake device or its name (``"fake_manila"``).
        faults: Attempt number (1-based, counting every ``run`` call) -> fault kind or
            :class:`Fault`.
        sleep: How ``"delay"`` faults wait (default :func:`time.sleep`).
        job_prefix: Prefix of the stand-in's job ids (``"<prefix>-0001"``, ...).
        usage_seconds: QPU seconds every job reports in ``metrics()["usage"]`` (as IBM
            jobs do), or ``None`` to report no usage (local mode runs no QPU).

    Attributes:
        attempts: ``run`` calls made (failed submissions included).
        submissions: Jobs actually created (what hardware would bill).
        reopened: Sessions reopened after an ``"expire"``.
        fetched: Job ids fetched by id (:meth:`job`).
        jobs: Every job created, by id.
    """

    def __init__(
        self,
        device: Any = "fake_manila",
        *,
        faults: Mapping[int, str | Fault] | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        job_prefix: str = "fault",
        usage_seconds: float | None = None,
    ) -> None:
        self.usage_seconds = usage_seconds
        self._device = fake_device(device) if isinstance(device, str) else device
        self._inner = runtime_sampler(self._device)
        self.faults = {
            int(n): f if isinstance(f, Fault) else Fault(str(f)) for n, f in (faults or {}).items()
        }
        self._sleep = sleep
        self._prefix = job_prefix
        self.attempts = 0
        self.submissions = 0
        self.reopened = 0
        self.session_open = True
        self.fetched: list[str] = []
        self.jobs: dict[str, FaultyJob] = {}

    @property
    def options(self) -> Any:
        """The wrapped runtime sampler's options (seed, shots, twirling, ...)."""
        return self._inner.options

    def backend(self) -> Any:
        """The fake device jobs run on."""
        return self._device

    def run(self, pubs: Any, *, shots: int | None = None) -> FaultyJob:
        """Submit a job (or fail as scheduled for this attempt)."""
        self.attempts += 1
        fault = self.faults.get(self.attempts)
        errors = _runtime_errors()
        if fault is not None and fault.kind == "expire":
            self.session_open = False
        if not self.session_open:
            raise errors.IBMRuntimeError("The session is closed.")
        if fault is not None and fault.kind == "connection":
            from qiskit_ibm_runtime.api.exceptions import RequestsApiError

            raise RequestsApiError("Connection aborted: remote end closed connection", -1)
        self.submissions += 1
        job_id = f"{self._prefix}-{self.submissions:04d}"
        job = FaultyJob(self._inner.run(pubs, shots=shots), job_id, fault, self._sleep)
        job.usage_seconds = self.usage_seconds
        self.jobs[job_id] = job
        return job

    def job(self, job_id: str) -> FaultyJob:
        """A job by id, as ``QiskitRuntimeService.job`` returns it (its fault already spent)."""
        self.fetched.append(job_id)
        if job_id not in self.jobs:
            raise _runtime_errors().RuntimeJobNotFound(f"Job not found: {job_id}")
        job = self.jobs[job_id]
        job._fault = None if job._fault is not None and job._fault.kind == "crash" else job._fault
        return job

    def reopen_session(self) -> None:
        """Open a new session after an ``"expire"``."""
        self.session_open = True
        self.reopened += 1

    def __repr__(self) -> str:
        return f"FaultInjectingSampler({backend_name(self._device)!r}, faults={self.faults})"
