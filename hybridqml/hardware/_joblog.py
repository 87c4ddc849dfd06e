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
at most the line being written (a torn last line is skipped when the log is read). Calls of local
simulators without jobs are flushed only: an fsync costs milliseconds, as much as a small
simulation, and losing such a line costs nothing. A submitted job
without a ``"call"`` line is *pending*: the run died while it was queued or running. When the
run resumes, the call that sends the same circuits, bindings and shots (same fingerprint; a
resumed run replays the same steps with the same seeds) fetches that job's result by its id
instead of paying for it again.

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
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Final

from hybridqml import _ranks
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
]

JOBS_NAME: Final[str] = "jobs.jsonl"
"""File name of the job log inside an output folder."""

WAITED_FOR: Final[frozenset[str]] = frozenset({"timeout", "poll"})
"""Retry kinds that wait for the same job again: it stays pending (a resumed run fetches it)."""

_active: list[JobLog] = []
_lock = threading.Lock()


def read_job_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a job log (a missing file is empty; a torn last line is skipped).

    Raises:
        ValueError: a line other than the last one is not JSON (the file was edited or
            corrupted; the message names the line).
    """
    file = Path(path)
    if not file.is_file():
        return []
    lines = file.read_text(encoding="utf-8").splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):  # torn by a crash while it was being written
                break
            raise ValueError(f"job log {str(file)!r}: line {number} is not JSON") from None
    return records


def pending_jobs(records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
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


def job_totals(records: list[Mapping[str, Any]]) -> dict[str, float]:
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
        pending: Jobs submitted by an earlier run and never collected, oldest first.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.pending: list[dict[str, Any]] = []
        self._handle: IO[bytes] | None = None
        self._open = False
        self._write_lock = threading.Lock()

    def __enter__(self) -> JobLog:
        self.pending = pending_jobs(read_job_log(self.path))
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
            os.write(self._handle.fileno(), line.encode("utf-8"))
            if record.get("job_id") or record.get("event") != "call":
                os.fsync(self._handle.fileno())

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
            "executed_shots": call.circuits * call.bindings * (call.shots or 0) if done else 0,
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
        """Remove and return the oldest pending job sent with ``fingerprint`` (``None``: none)."""
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
