"""The job log: every primitive call of a run, one JSON line each, in ``OUT/jobs.jsonl``.

While a :class:`JobLog` is active (``with JobLog(path):``, or :func:`job_log`, which the training
loop and the workflows open on their output folder), every executor call appends one ``"call"``
line: the time, backend, job id (when the backend has jobs), circuits, bindings, shots, status,
duration and the usage the backend reported. Jobs on runtime backends also get a ``"submitted"``
line the moment they are submitted (with their job id and a fingerprint of what was sent) and a
``"retry"`` line for each failed attempt that is retried (see
``hybridqml.hardware._retry``).

Each line is appended and flushed before the call goes on; lines about jobs (those with a job
id: everything a remote backend sends) are also fsync'd, so a crash, a kill or a power cut loses
at most the line being written. A line that is not a JSON record (torn by a crash or a full disk,
or garbage) is skipped when the log is read, with a ``RuntimeWarning`` naming its line numbers;
a log opened for writing first ends a torn last line, so nothing is ever appended onto it.
Calls of local simulators without jobs are flushed only: an fsync costs milliseconds, as much
as a small simulation, and losing such a line costs nothing. A submitted job without a
``"call"`` line is *pending*: the run died while it was queued or running. A job that
completed in an earlier session (a ``"call"`` line with a job id and a fingerprint) is
*reusable*: the run may have died before the step using it was checkpointed (e.g. in the
step's backward job). When the run resumes, the call that sends the same circuits, bindings and
shots (same fingerprint; a resumed run replays the same steps with the same seeds) fetches that
job's result by its id instead of paying for it again.

Example:
    >>> import tempfile, torch, hybridqml as hq
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / JOBS_NAME
    >>> layer = hq.QuantumLayer(hq.circuits.ry(1), shots=100, seed=1)
    >>> with JobLog(path):
    ...     _ = layer(torch.rand(4, 1))
    >>> [(r["event"], r["bindings"], r["shots"], r["status"]) for r in read_job_log(path)]
    [('call', 4, 100, 'done')]
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

from hybridqml import _ranks
from hybridqml._storage import disk_full_error
from hybridqml.execution import _tracking as tracking

__all__ = [
    "JOBS_NAME",
    "WAITED_FOR",
    "JobLog",
    "active_log",
    "is_logging",
    "job_log",
    "job_totals",
    "pending_jobs",
    "read_job_log",
    "reusable_jobs",
]

JOBS_NAME: Final[str] = "jobs.jsonl"
"""File name of the job log inside an output folder."""

WAITED_FOR: Final[frozenset[str]] = frozenset({"timeout", "poll"})
"""Retry kinds that wait for the same job again: it stays pending (a resumed run fetches it)."""

_active: list[JobLog] = []
_lock = threading.Lock()


def read_job_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a job log (a missing file is empty).

    Lines that are not a JSON object (torn by a crash or a full disk, binary garbage) are
    skipped with a ``RuntimeWarning`` that names the file and their line numbers.
    """
    records, skipped = _parse(Path(path))
    if skipped:
        _warn_skipped(Path(path), skipped)
    return records


def _parse(file: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """The records of ``file`` and the numbers of the lines that are not records."""
    if not file.is_file():
        return [], []
    records: list[dict[str, Any]] = []
    skipped: list[int] = []
    for number, raw in enumerate(file.read_bytes().split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            record = None
        if isinstance(record, dict):
            records.append(record)
        else:
            skipped.append(number)
    return records, skipped


def _warn_skipped(file: Path, skipped: list[int]) -> None:
    shown = ", ".join(map(str, skipped[:10])) + (", ..." if len(skipped) > 10 else "")
    warnings.warn(
        f"job log {str(file)!r}: skipped {len(skipped)} line(s) that are not JSON records "
        f"(torn by a crash or a full disk, or corrupted): line(s) {shown}; the calls they "
        "described are not counted",
        RuntimeWarning,
        stacklevel=3,
    )


def _end_torn_line(file: Path) -> None:
    """End a torn last line with a newline, so later lines are never appended onto it."""
    try:
        with open(file, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            last = handle.read(1)
    except (FileNotFoundError, OSError):  # missing or empty
        return
    if last != b"\n":
        fd = os.open(file, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)


def pending_jobs(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Submitted jobs that were never collected (a resumed run fetches them by id).

    A job is collected once a ``call`` line has its id (except a failed call that stopped waiting
    for a job that may still finish: ``job_pending``) or a ``retry`` line gave it up (a retry of
    kind ``"timeout"`` or ``"poll"`` waits for the same job: it stays pending).

    Example:
        >>> pending_jobs([{"event": "submitted", "job_id": "a", "fingerprint": "f"},
        ...               {"event": "submitted", "job_id": "b", "fingerprint": "g"},
        ...               {"event": "call", "job_id": "a"}])
        [{'event': 'submitted', 'job_id': 'b', 'fingerprint': 'g'}]
    """
    closed = {
        r.get("job_id") for r in records if r.get("event") == "call" and not r.get("job_pending")
    }
    closed |= {
        r.get("job_id")
        for r in records
        if r.get("event") == "retry" and r.get("kind") not in WAITED_FOR  # resubmitted or gone
    }
    closed |= {r.get("recovered_job_id") for r in records if r.get("event") == "call"}
    return [
        dict(r)
        for r in records
        if r.get("event") == "submitted" and r.get("job_id") and r["job_id"] not in closed
    ]


def reusable_jobs(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Completed jobs whose result a resumed run may fetch instead of paying for it again.

    A run can die after a job completed but before the step using it was checkpointed (say, in
    the backward job of a step whose forward job is done). Its resume replays the step with the
    same seeds, so the forward call has the fingerprint of that completed job. A job is reusable
    once: a later ``call`` line recovering it closes it.

    Example:
        >>> reusable_jobs([{"event": "call", "status": "done", "job_id": "a", "fingerprint": "f"},
        ...                {"event": "call", "status": "done", "job_id": None},
        ...                {"event": "call", "status": "done", "job_id": "b", "fingerprint": "g"},
        ...                {"event": "call", "status": "done", "job_id": "b",
        ...                 "recovered_job_id": "b", "fingerprint": "g"}])
        [{'event': 'call', 'status': 'done', 'job_id': 'a', 'fingerprint': 'f'}]
    """
    recovered = {r.get("recovered_job_id") for r in records if r.get("event") == "call"}
    return [
        dict(r)
        for r in records
        if r.get("event") == "call"
        and r.get("status") == "done"
        and r.get("job_id")
        and r.get("fingerprint")
        and r["job_id"] not in recovered
    ]


def job_totals(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Calls, executed shots and QPU seconds of the completed calls of a log.

    Example:
        >>> job_totals([{"event": "call", "status": "done", "executed_shots": 300,
        ...              "qpu_seconds": 0.5}, {"event": "submitted"}])
        {'calls': 1, 'executed_shots': 300, 'qpu_seconds': 0.5}
    """
    calls = [r for r in records if r.get("event") == "call" and r.get("status") == "done"]
    return {
        "calls": len(calls),
        "executed_shots": sum(int(r.get("executed_shots") or 0) for r in calls),
        "qpu_seconds": float(sum(float(r.get("qpu_seconds") or 0.0) for r in calls)),
    }


class JobLog:
    """An append-only, fsync'd JSON-lines log of primitive calls (active inside ``with``).

    Args:
        path: The log file (created with its folder; appended to when it exists).

    Attributes:
        path: The file.
        pending: Jobs of an earlier session this one may fetch by id instead of paying for
            them again: those never collected (see :func:`pending_jobs`), oldest first, then
            the completed ones (see :func:`reusable_jobs`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.pending: list[dict[str, Any]] = []
        self._handle: IO[bytes] | None = None
        self._open = False
        self._write_lock = threading.Lock()
        self._torn = False

    def __enter__(self) -> JobLog:
        records, skipped = _parse(self.path)
        if skipped:
            _warn_skipped(self.path, skipped)
        _end_torn_line(self.path)
        self.pending = pending_jobs(records) + reusable_jobs(records)
        self._open = True
        with _lock:
            _active.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with _lock:
            _active.remove(self)
        self._open = False
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record as a JSON line: flushed, and fsync'd when it names a job.

        Each line reaches the file in one ``os.write`` to a file opened for appending (no buffer
        that could split it), so the ranks of a data-parallel run share one log without tearing
        each other's lines; those lines carry a ``"rank"``.
        """
        if _ranks.is_distributed():  # data-parallel ranks share one log: say whose line it is
            record = {**record, "rank": _ranks.rank()}
        line = json.dumps(dict(record), default=_json_default, allow_nan=False) + "\n"
        with self._write_lock:
            if not self._open:
                raise RuntimeError(f"job log {str(self.path)!r} is not open")
            if self._handle is None:  # created by the first call: no calls, no file
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = open(self.path, "ab", buffering=0)  # noqa: SIM115
            data = line.encode("utf-8")
            if self._torn:  # an earlier write was cut short: end that line first
                data = b"\n" + data
            try:
                written = os.write(self._handle.fileno(), data)
                if record.get("job_id") or record.get("event") != "call":
                    os.fsync(self._handle.fileno())
            except OSError as exc:
                self._torn = True  # some bytes may have reached the file
                raise _storage_error(exc, self.path) from exc
            self._torn = written < len(data)
            if self._torn:  # a short write: the disk filled up mid-line
                raise _storage_error(OSError(errno.ENOSPC, "short write"), self.path)

    def write_call(
        self,
        call: tracking.CallRecord,
        status: str,
        info: Mapping[str, Any],
        qpu_seconds: float | None = None,
        error: BaseException | None = None,
    ) -> None:
        """Append the ``"call"`` line of a finished call (see :func:`~.tracking.start_call`)."""
        done = status == "done"
        record = {
            "event": "call",
            "time": _iso(call.wall),
            "backend": call.backend,
            "job_id": info.get("job_id"),
            "circuits": call.circuits,
            "bindings": call.bindings,
            "shots": call.shots,
            "executed_shots": call.circuit_bindings * (call.shots or 0) if done else 0,
            "status": status,
            "duration": round(time.perf_counter() - call.started, 6),
            "attempts": info.get("attempts", 1),
            "usage": info.get("usage"),
            "qpu_seconds": qpu_seconds if done else 0.0,
        }
        if info.get("mitigation"):
            record["mitigation"] = info["mitigation"]
        if info.get("recovered_job_id"):
            record["recovered_job_id"] = info["recovered_job_id"]
        if info.get("fingerprint"):
            record["fingerprint"] = info["fingerprint"]
        if error is not None:
            record["error"] = f"{type(error).__name__}: {error}"
        if not done and info.get("job_pending"):
            record["job_pending"] = True  # gave up waiting, not on the job: a resume fetches it
        self.write(record)

    def take_pending(self, fingerprint: str) -> dict[str, Any] | None:
        """Remove and return the oldest pending or reusable job sent with ``fingerprint``."""
        with self._write_lock:
            for index, record in enumerate(self.pending):
                if record.get("fingerprint") == fingerprint:
                    return self.pending.pop(index)
        return None


def active_log() -> JobLog | None:
    """The innermost active :class:`JobLog`, or ``None``."""
    with _lock:
        return _active[-1] if _active else None


def is_logging(folder: str | os.PathLike[str]) -> bool:
    """Whether the active log is ``folder``'s ``jobs.jsonl``."""
    current = active_log()
    return current is not None and current.path.resolve() == (Path(folder) / JOBS_NAME).resolve()


@contextlib.contextmanager
def job_log(folder: str | os.PathLike[str] | None) -> Iterator[JobLog | None]:
    """Log the calls made inside the block to ``folder/jobs.jsonl`` (nothing when ``None``).

    Re-entrant: if the log of the same folder is already active it is used as it is.
    """
    if folder is None:
        yield None
        return
    if is_logging(folder):
        yield active_log()
        return
    with JobLog((Path(folder) / JOBS_NAME).resolve()) as log:
        yield log


def _observe(call: tracking.CallRecord) -> tracking.CallFinisher | None:
    """The finisher writing ``call``'s line to the log active when it started (if any)."""
    log = active_log()
    return None if log is None else log.write_call


tracking.observe_calls(_observe)  # every executor call is announced to the job log


def _storage_error(exc: OSError, path: Path) -> OSError:
    """A full disk as a named :class:`~hybridqml.exceptions.StorageError`; other errors as is."""
    return disk_full_error(exc, path) or exc


def _iso(timestamp: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp))
        + f".{int(timestamp % 1 * 1000):03d}Z"
    )


def _json_default(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return repr(value)
