"""The hybridqml exception tree, typed by cause.

Every error the library raises on purpose derives from :class:`HybridQMLError`, so callers can
catch the whole family with one ``except``. Each error also derives from the built-in exception of
its *cause*, so generic handlers keep working (as httpx's tree does):

* a mistake in what the caller asked for (an argument, an option, a circuit, an input tensor, a
  backend name nobody registered) is also a :class:`ValueError`;
* a missing optional package is also an :class:`ImportError` whose message holds the ``pip``
  command;
* a call that was valid but failed while running (a backend job, an entropy source, a rank of a
  data-parallel run, training that diverged, a budget reached) is also a :class:`RuntimeError`;
* a file the run could not write (a full disk, a quota) is also an :class:`OSError`.

Tree::

    HybridQMLError
    ├── ConfigurationError (ValueError)   a mistake in what was asked for: bad option or
    │   │                                 constructor value, unknown backend or source name
    │   ├── CircuitError                  invalid circuit specification
    │   ├── InputError                    bad tensors or arrays given to a layer
    │   └── GradientError                 a gradient cannot be computed for this circuit
    ├── MissingDependencyError (ImportError)  an optional package is not installed (field:
    │                                     package; the message says how to install it)
    ├── DataError                         missing or corrupt dataset file
    │   └── CheckpointError               a checkpoint is missing, unreadable or not ours
    ├── StorageError (OSError)            a run's file could not be written: disk full or over
    │                                     quota (fields: path, free_bytes)
    └── (RuntimeError) failures while running
        ├── BackendError                  a backend call failed or cannot run here
        │   └── JobFailedError            a job failed for good (fields: job_id, cause,
        │                                 attempts, transient)
        ├── BudgetExceededError           a run reached --max-shots/--max-qpu-seconds (fields:
        │                                 kind, spent, limit, checkpoint)
        ├── DivergenceError               training produced non-finite numbers (fields: epoch,
        │                                 metrics, checkpoint: the last good one, kept intact)
        ├── DistributedError              a rank of a data-parallel run failed or was lost
        │                                 (fields: failed_ranks, messages)
        └── EntropyError                  an entropy source failed to deliver
            ├── QRNGError                 HTTP QRNG service errors (fields: status, attempts)
            │   ├── QRNGAuthError         the service refused the credentials (401/403)
            │   ├── QRNGUnavailableError  unreachable, timed out, 429/5xx after the retries
            │   └── QRNGProtocolError     a reply that breaks the documented format
            └── HealthTestError           SP 800-90B health test failure (field: result)

Third-party exceptions are translated at the boundary with ``raise ... from exc`` so the original
cause stays visible in the traceback.

Example:
    >>> from hybridqml.exceptions import ConfigurationError, MissingDependencyError
    >>> issubclass(ConfigurationError, ValueError), issubclass(MissingDependencyError, ImportError)
    (True, True)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackendError",
    "BudgetExceededError",
    "CheckpointError",
    "CircuitError",
    "ConfigurationError",
    "DataError",
    "DistributedError",
    "DivergenceError",
    "EntropyError",
    "GradientError",
    "HealthTestError",
    "HybridQMLError",
    "InputError",
    "JobFailedError",
    "MissingDependencyError",
    "QRNGAuthError",
    "QRNGError",
    "QRNGProtocolError",
    "QRNGUnavailableError",
    "StorageError",
]


class HybridQMLError(Exception):
    """Base class of every error raised by hybridqml."""


class ConfigurationError(HybridQMLError, ValueError):
    """An option or constructor argument has an invalid value."""


class CircuitError(ConfigurationError):
    """A circuit specification is invalid (unknown or missing parameters, wrong observables)."""


class InputError(ConfigurationError):
    """Input data has the wrong shape, dtype or contains non-finite values."""


class BackendError(HybridQMLError, RuntimeError):
    """A backend call failed, returned malformed results, or cannot run on this machine."""


class MissingDependencyError(HybridQMLError, ImportError):
    """An optional package a feature needs is not installed; the message says how to install it.

    Attributes:
        package: The distribution to install (e.g. ``"qiskit-ibm-runtime"``).

    Example:
        >>> err = MissingDependencyError("fake devices need it", package="qiskit-ibm-runtime")
        >>> err.package, isinstance(err, ImportError)
        ('qiskit-ibm-runtime', True)
    """

    def __init__(self, message: str, *, package: str | None = None) -> None:
        super().__init__(message)
        self.package = package


class JobFailedError(BackendError):
    """A backend job failed and was not (or no longer) retried.

    Attributes:
        job_id: The failed job's id, ``None`` when the failure came before a job existed.
        cause: The failure in a few words (e.g. ``"invalid circuits (error code 1003)"``).
        attempts: Attempts made, the failed one included.
        transient: Whether the failure was of a retryable kind (then the attempts ran out).

    Example:
        >>> err = JobFailedError("failed", job_id="d03f", cause="auth", attempts=1)
        >>> isinstance(err, BackendError), err.job_id, err.attempts, err.transient
        (True, 'd03f', 1, False)
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        cause: str = "",
        attempts: int = 1,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.cause = cause
        self.attempts = attempts
        self.transient = transient


class BudgetExceededError(HybridQMLError, RuntimeError):
    """A run stopped (or was refused) because it would exceed its shot or QPU-time budget.

    A run that reaches its budget stops before the step that would exceed it, after writing a
    checkpoint, so it can be resumed with a larger budget.

    Attributes:
        kind: ``"shots"`` or ``"qpu_seconds"``.
        spent: Amount spent when the run stopped (estimated for a refused start).
        limit: The budget.
        checkpoint: The checkpoint written, ``None`` when the run was refused at the start.

    Example:
        >>> err = BudgetExceededError("over", kind="shots", spent=900, limit=1000)
        >>> err.kind, err.spent, err.limit, err.checkpoint
        ('shots', 900, 1000, None)
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        spent: float,
        limit: float,
        checkpoint: Any = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.spent = spent
        self.limit = limit
        self.checkpoint = checkpoint


class GradientError(ConfigurationError):
    """A gradient cannot be computed (unsupported gate, non-differentiable expression)."""


class DataError(HybridQMLError):
    """A dataset is missing, unreadable or corrupt."""


class CheckpointError(DataError):
    """A checkpoint is missing, unreadable, truncated or not a hybridqml checkpoint.

    Attributes:
        path: The checkpoint file.
    """

    def __init__(self, message: str, *, path: Any = None) -> None:
        super().__init__(message)
        self.path = path


class StorageError(HybridQMLError, OSError):
    """A file of a run could not be written: the disk is full or the quota is reached.

    Plots and images also raise it when their folder cannot be written.

    Nothing written before is lost: files are replaced atomically, so the previous checkpoint,
    ``best.pt``, ``metrics.json`` and plots stay as they were.

    Attributes:
        path: The file that could not be written.
        free_bytes: Free space in its folder when it failed (``None`` if unknown).

    Example:
        >>> err = StorageError("disk full", path="/runs/a/checkpoint.pt", free_bytes=0)
        >>> isinstance(err, OSError), err.path, err.free_bytes
        (True, '/runs/a/checkpoint.pt', 0)
    """

    def __init__(self, message: str, *, path: Any = None, free_bytes: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.free_bytes = free_bytes


class DivergenceError(HybridQMLError, RuntimeError):
    """Training diverged: a loss, metric or weight became NaN or infinite; the run stopped.

    The diverged epoch is not checkpointed, so the last good checkpoint stays loadable.

    Attributes:
        epoch: The epoch in which the non-finite values appeared.
        metrics: Names of the non-finite metrics (or ``"weights of <name>"``).
        checkpoint: The last good checkpoint, ``None`` if none was written.

    Example:
        >>> err = DivergenceError("loss is nan", epoch=3, metrics=("loss",))
        >>> err.epoch, err.metrics, err.checkpoint
        (3, ('loss',), None)
    """

    def __init__(
        self,
        message: str,
        *,
        epoch: int | None = None,
        metrics: tuple[str, ...] = (),
        checkpoint: Any = None,
    ) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.metrics = tuple(metrics)
        self.checkpoint = checkpoint


class EntropyError(HybridQMLError, RuntimeError):
    """An entropy source or pool failed to deliver random bytes.

    Every source that cannot deliver raises this (or a subclass), whatever the cause underneath
    (an HTTP failure, a failed Aer job, a health test): callers that fall back to another source
    catch this one class.
    """


class QRNGError(EntropyError):
    """A QRNG HTTP service failed: authentication, availability, or malformed replies.

    Attributes:
        status: The last HTTP status code received, ``None`` when no reply came.
        attempts: HTTP attempts made for the failed request (retries included), ``None`` if
            unknown.

    Example:
        >>> err = QRNGUnavailableError("busy", status=503, attempts=3)
        >>> isinstance(err, QRNGError), err.status, err.attempts
        (True, 503, 3)
    """

    def __init__(
        self, message: str, *, status: int | None = None, attempts: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class QRNGAuthError(QRNGError):
    """The QRNG service refused the credentials (HTTP 401/403): a new token is needed."""


class QRNGUnavailableError(QRNGError):
    """The QRNG service could not be reached or stayed busy (connection, timeout, 429, 5xx)."""


class QRNGProtocolError(QRNGError):
    """The QRNG service answered, but not in the documented format (or with an odd status)."""


class HealthTestError(EntropyError):
    """A NIST SP 800-90B health test failed; the pool stops delivering from that source.

    Attributes:
        result: The failing :class:`~hybridqml.entropy.HealthResult`, when known.
    """

    def __init__(self, message: str, *, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class DistributedError(HybridQMLError, RuntimeError):
    """A rank of a data-parallel run failed or was lost; every rank stops.

    Raised on the healthy ranks (rank 0 included) when another rank reports a failure, and when
    a peer disappears without a word (killed, crashed). The failing rank itself re-raises its
    own error.

    Attributes:
        failed_ranks: Global ranks that failed (empty when a peer vanished).
        messages: The failing ranks' error messages, one per failed rank.

    Example:
        >>> err = DistributedError("rank 1 failed", failed_ranks=(1,), messages=("boom",))
        >>> err.failed_ranks, err.messages
        ((1,), ('boom',))
    """

    def __init__(
        self,
        message: str,
        *,
        failed_ranks: tuple[int, ...] = (),
        messages: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.failed_ranks = tuple(failed_ranks)
        self.messages = tuple(messages)
