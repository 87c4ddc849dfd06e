"""Jobs that survive failures: bounded retries with backoff, reopened sessions, clear errors.

:class:`JobRunner` submits one job and waits for its result. A failure is classified
(:func:`classify`):

* ``"transient"`` -- connection errors, HTTP 429/5xx from the runtime API, runtime job failures
  whose error code the IBM error registry says to retry (:data:`RETRYABLE_ERROR_CODES`): the
  job is submitted again after an exponential backoff, at most ``max_attempts`` times in all;
* ``"session"`` -- the runtime ``Session``/``Batch`` is closed or expired: it is reopened (see
  :func:`hybridqml.hardware._devices.reopen_sampler`) and the job submitted again;
* ``"timeout"`` -- waiting for the result took longer than ``job_timeout``: the *same* job is
  waited for again (it is still queued or running; resubmitting would pay twice);
* ``"poll"`` -- a transient connection or API error while waiting for a job the runtime had
  accepted (the job itself did not fail): the *same* job is waited for again after the backoff,
  for the same reason. Only a job that failed (or a failed submission) is submitted again;
* ``"permanent"`` -- anything else (invalid circuits, authentication, a backend that does not
  exist, a job that ran too long): :class:`~hybridqml.exceptions.JobFailedError` at once, naming
  the cause and the job id.

A retried call sends exactly what the first attempt sent, with the same simulator seed, so
retries never change the results of seeded simulators. With a ``_joblog``
active, every submission, retry and recovery is logged; a job that an earlier run submitted but
never collected is fetched by its id instead of being submitted again.

Example:
    >>> policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=5.0, jitter=0.0)
    >>> [policy.delay(attempt) for attempt in (1, 2, 3, 4)]
    [1.0, 2.0, 4.0, 5.0]
    >>> classify(ConnectionError("reset by peer")), classify(ValueError("bad circuit"))
    ('transient', 'permanent')
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from hybridqml.exceptions import ConfigurationError, JobFailedError
from hybridqml.hardware import _joblog as joblog

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "RETRYABLE_ERROR_CODES",
    "JobRunner",
    "RetryPolicy",
    "classify",
    "describe",
    "fingerprint",
    "job_id_of",
    "job_usage",
]

RETRYABLE_ERROR_CODES: Final[frozenset[int]] = frozenset({1006, 1008, 1010, 1011, 1202})
"""IBM runtime error codes whose documented fix is "retry the action" (converter, validation,
backend-level and queue-publishing errors, and 1202: too many requests)."""

_TRANSIENT_STATUS: Final[frozenset[int]] = frozenset({-1, 408, 409, 425, 429, 500, 502, 503, 504})
_SESSION_RE: Final = re.compile(r"session\b.*\b(closed|expired|not active|inactive)", re.I)
_CODE_RE: Final = re.compile(r"error code:?\s*(\d{4})(?!\d)", re.I)
_TRANSIENT_NAMES: Final[frozenset[str]] = frozenset(
    {"ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "ChunkedEncodingError"}
)
_TIMEOUT_NAMES: Final[frozenset[str]] = frozenset({"RuntimeJobTimeoutError", "JobTimeoutError"})


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently a failed job is retried.

    Attributes:
        max_attempts: Attempts per call in all (1 = never retry).
        base_delay: Seconds before the first retry; doubled each time (``multiplier``).
        multiplier: Backoff factor.
        max_delay: Cap of one delay.
        jitter: Random share of each delay added on top (0 for none): spreads the retries of
            many clients; drawn from a private generator, never from the global RNGs a
            training run seeds.
        job_timeout: Seconds to wait for one job before waiting again (``None``: wait as long
            as it takes).

    ``sleep`` (default :func:`time.sleep`) is how it waits; tests pass a fake that records the
    delays.
    """

    max_attempts: int = 4
    base_delay: float = 2.0
    multiplier: float = 2.0
    max_delay: float = 120.0
    jitter: float = 0.1
    job_timeout: float | None = None
    sleep: Callable[[float], Any] = field(default=time.sleep, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ConfigurationError(
                f"max_attempts must be an integer >= 1, got {self.max_attempts!r}"
            )
        if self.max_attempts < 1:
            raise ConfigurationError(
                f"max_attempts must be an integer >= 1, got {self.max_attempts!r}"
            )
        for name in ("base_delay", "max_delay", "jitter"):
            if not getattr(self, name) >= 0:
                raise ConfigurationError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not self.multiplier >= 1:
            raise ConfigurationError(f"multiplier must be >= 1, got {self.multiplier!r}")
        if self.job_timeout is not None and not self.job_timeout > 0:
            raise ConfigurationError(f"job_timeout must be > 0 or None, got {self.job_timeout!r}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        base = min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))
        if self.jitter and rng is not None:
            base += base * self.jitter * rng.random()
        return base


DEFAULT_RETRY_POLICY: Final[RetryPolicy] = RetryPolicy()
"""Four attempts, 2 s then 4 s then 8 s apart (plus up to 10% jitter)."""


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def classify(exc: BaseException) -> str:
    """``"transient"``, ``"session"``, ``"timeout"`` or ``"permanent"`` (see the module doc).

    Example:
        >>> from qiskit_ibm_runtime.exceptions import RuntimeJobFailureError, IBMRuntimeError
        >>> classify(RuntimeJobFailureError("Error code 1010; backend error"))
        'transient'
        >>> classify(RuntimeJobFailureError("Error code 1003; transpilation failed"))
        'permanent'
        >>> classify(IBMRuntimeError("The session is closed."))
        'session'
    """
    names = _names(exc)
    message = str(exc)
    if names & _TIMEOUT_NAMES:
        return "timeout"
    if _SESSION_RE.search(message):
        return "session"
    if names & {"IBMNotAuthorizedError", "IBMAccountError", "RuntimeJobMaxTimeoutError"}:
        return "permanent"
    status = getattr(exc, "status_code", None)
    if "RequestsApiError" in names:
        return "transient" if status in _TRANSIENT_STATUS else "permanent"
    if names & _TRANSIENT_NAMES or isinstance(exc, ConnectionError | TimeoutError):
        return "transient"
    code = _CODE_RE.search(message)
    if code and int(code.group(1)) in RETRYABLE_ERROR_CODES:
        return "transient"
    return "permanent"


def _lost_while_polling(exc: BaseException) -> bool:
    """A transient error of the connection or the API, not a failure of the job itself."""
    if "RuntimeJobFailureError" in _names(exc) or _CODE_RE.search(str(exc)):
        return False
    return bool(
        _names(exc) & (_TRANSIENT_NAMES | {"RequestsApiError"})
        or isinstance(exc, ConnectionError | TimeoutError)
    )


def describe(exc: BaseException) -> str:
    """The cause of a failure in a few words, with the runtime error code when there is one."""
    code = _CODE_RE.search(str(exc))
    kind = classify(exc)
    what = {
        "transient": "a transient failure",
        "session": "the session was closed or expired",
        "timeout": "the job did not finish in time",
        "permanent": "a permanent failure",
    }[kind]
    if "IBMNotAuthorizedError" in _names(exc) or getattr(exc, "status_code", None) in (401, 403):
        what = "not authorized (check the account's token and instance)"
    if code:
        what += f" (IBM error code {code.group(1)}, see https://quantum.cloud.ibm.com/docs/errors)"
    return f"{what}: {type(exc).__name__}: {exc}"


def job_id_of(job: Any) -> str | None:
    """A job's id (``None`` if it has none)."""
    get = getattr(job, "job_id", None)
    try:
        value = get() if callable(get) else get
    except Exception:  # a job whose id cannot be read
        return None
    return None if value is None else str(value)


def job_usage(job: Any) -> tuple[dict[str, Any] | None, float | None]:
    """``(usage record, QPU seconds)`` a finished job reports (``(None, None)`` if none)."""
    metrics = getattr(job, "metrics", None)
    try:
        data = metrics() if callable(metrics) else None
    except Exception:  # usage is informational: never fail a call over it
        data = None
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict) or not usage:
        return None, None
    seconds = usage.get("quantum_seconds", usage.get("qpu_charge_time_seconds"))
    try:
        return dict(usage), (float(seconds) if seconds is not None else None)
    except (TypeError, ValueError):
        return dict(usage), None


class JobRunner:
    """Submit a job, wait for it, retry what may be retried, log every step.

    Args:
        name: Backend name for messages and the job log.
        policy: The :class:`RetryPolicy`.
    """

    def __init__(self, name: str, policy: RetryPolicy = DEFAULT_RETRY_POLICY) -> None:
        self.name = name
        self.policy = policy
        self._rng = random.Random()

    def run(
        self,
        submit: Callable[[], Any],
        *,
        fingerprint: str,
        info: dict[str, Any],
        fetch: Callable[[str], Any] | None = None,
        reopen: Callable[[], Any] | None = None,
        size: dict[str, Any] | None = None,
    ) -> Any:
        """The result of the job ``submit()`` returns (or of a pending one with this fingerprint).

        Args:
            submit: Submits the job (called again for each retry).
            fingerprint: What the call sends, hashed (matches pending jobs of the job log).
            info: Filled with ``job_id``, ``attempts``, ``usage``, ``qpu_seconds``.
            fetch: ``fetch(job_id)`` -> the job of an earlier run (``None``: cannot fetch).
            reopen: Reopens a closed session (``None``: none to reopen).
            size: ``circuits``/``bindings``/``shots`` for the job log's submitted lines.

        Raises:
            JobFailedError: a permanent failure, or attempts ran out.
        """
        log = joblog.active_log()
        info["fingerprint"] = fingerprint
        if log is not None and fetch is not None:
            pending = log.take_pending(fingerprint)
            if pending is not None:
                result = self._recover(pending["job_id"], fetch, info, log)
                if result is not None:
                    return result
        job = None
        for attempt in range(1, self.policy.max_attempts + 1):
            info["attempts"] = attempt
            try:
                if job is None:
                    job = submit()
                    info["job_id"] = job_id_of(job)
                    if log is not None and info["job_id"]:
                        log.write(self._line("submitted", info, attempt, **(size or {})))
                result = self._wait(job)
            except Exception as exc:
                kind = classify(exc)
                job_id = job_id_of(job) if job is not None else None
                if kind == "transient" and job is not None and _lost_while_polling(exc):
                    kind = "poll"  # the accepted job may still run: wait for it, never resubmit
                if kind == "permanent" or attempt == self.policy.max_attempts:
                    info["job_pending"] = kind in joblog.WAITED_FOR and job_id is not None
                    raise self._failure(exc, job_id, attempt, kind) from exc
                delay = 0.0 if kind == "timeout" else self.policy.delay(attempt, self._rng)
                if log is not None:
                    line = self._line("retry", {"job_id": job_id}, attempt, cause=describe(exc))
                    log.write(line | {"delay": round(delay, 3), "kind": kind})
                if kind not in joblog.WAITED_FOR:
                    job = None  # submit again; a timed-out or unreachable job is waited for
                if kind == "session" and reopen is not None:
                    reopen()
                if delay:
                    self.policy.sleep(delay)
                continue
            info["usage"], info["qpu_seconds"] = job_usage(job)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, job: Any) -> Any:
        """The job's result (with a timeout only when one is set: not every job takes one)."""
        if self.policy.job_timeout is None:
            return job.result()
        return job.result(timeout=self.policy.job_timeout)

    def _recover(self, job_id: str, fetch: Callable[[str], Any], info: dict, log: Any) -> Any:
        try:
            job = fetch(job_id)
            result = self._wait(job) if job is not None else None
        except Exception as exc:  # the old job is gone or failed: submit a new one
            log.write(self._line("retry", {"job_id": job_id}, 0, cause=describe(exc)))
            return None
        if result is None:
            return None
        info.update(job_id=job_id, recovered_job_id=job_id, attempts=0)
        info["usage"], info["qpu_seconds"] = job_usage(job)
        return result

    def _line(self, event: str, info: dict, attempt: int, **more: Any) -> dict[str, Any]:
        return {
            "event": event,
            "time": joblog._iso(time.time()),
            "backend": self.name,
            "job_id": info.get("job_id"),
            "fingerprint": info.get("fingerprint"),
            "attempt": attempt,
            **more,
        }

    def _failure(self, exc: Exception, job_id: str | None, attempt: int, kind: str) -> Exception:
        transient = kind != "permanent"
        ran_out = f" after {attempt} attempts" if transient else " (not retried)"
        job = f"job {job_id}" if job_id else "the job (no job id: it was not accepted)"
        if kind in joblog.WAITED_FOR and job_id:  # it may still finish: a resume fetches it
            ran_out += " (the job may still finish: --resume fetches its result by id)"
        return JobFailedError(
            f"{job} on backend {self.name!r} failed{ran_out}: {describe(exc)}",
            job_id=job_id,
            cause=describe(exc),
            attempts=attempt,
            transient=transient,
        )


def fingerprint(circuits: Any, angles: Any, shots: int | None, seed: int | None) -> str:
    """A hash of what a call sends: circuits (as OpenQASM 3), bindings, shots and seed.

    A resumed run replays its steps with the same seeds, so its calls have the fingerprints of
    the calls the interrupted run made.

    Example:
        >>> import numpy as np
        >>> from qiskit import QuantumCircuit
        >>> qc = QuantumCircuit(1); _ = qc.h(0)
        >>> a = fingerprint([qc], np.zeros((2, 1)), 100, 7)
        >>> b = fingerprint([qc], np.ones((2, 1)), 100, 7)
        >>> a == fingerprint([qc], np.zeros((2, 1)), 100, 7), a == b
        (True, False)
    """
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for circuit in circuits:
        digest.update(_circuit_text(circuit).encode())
    digest.update(np.ascontiguousarray(angles, dtype=np.float64).tobytes())
    digest.update(f"|{shots}|{seed}".encode())
    return digest.hexdigest()[:24]


_TEXTS: dict[int, tuple[Any, str]] = {}


def _circuit_text(circuit: Any) -> str:
    """OpenQASM 3 of a circuit (cached per circuit object; its repr if it cannot be exported)."""
    cached = _TEXTS.get(id(circuit))
    if cached is not None and cached[0] is circuit:
        return cached[1]
    try:
        from qiskit import qasm3

        text = qasm3.dumps(circuit)
    except Exception:  # circuits qasm3 cannot express: their instruction list
        text = repr([(i.operation.name, i.operation.params, i.qubits) for i in circuit.data])
    if len(_TEXTS) > 256:
        _TEXTS.clear()
    _TEXTS[id(circuit)] = (circuit, text)
    return text
