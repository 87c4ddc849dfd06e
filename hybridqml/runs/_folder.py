"""One run per output folder: a lock file, and no silent overwrite of an earlier run.

:func:`run_folder` is the output folder of a whole run: it creates it, checks that it is
writable, holds its :class:`RunLock` for the whole run (a second run into the same folder fails
at once), refuses a run over its budget, removes the temporary files of killed runs, and refuses
to replace an earlier run (:data:`RUN_FILES`) unless ``overwrite=True`` or to resume one that has
no checkpoint, all before any data are loaded or anything is trained.

:class:`RunLock` holds ``OUT/.hybridqml.lock`` for the length of a run. The file is created
atomically (``O_CREAT | O_EXCL``) and records the holder's pid, host name, start time and
process start token; a second run into the same folder fails at once with an error naming the
holder. A lock whose process is gone (same host, pid not running, or the pid now belongs to a
process started later) is stale: it is taken over with a :class:`RuntimeWarning`. The lock is
re-entrant within one thread, so a workflow and the training loop it calls share it.

:func:`check_run_folder` then decides what may happen to what the folder already holds: a
finished or interrupted run (a checkpoint or ``metrics.json``) is never replaced unless asked
(``overwrite=True``, CLI ``--overwrite``), ``resume=True`` needs a checkpoint, and the temporary
files of killed runs are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from hybridqml._ranks import is_writer
from hybridqml.exceptions import ConfigurationError
from hybridqml.runs._checkpoint import CHECKPOINT_NAME
from hybridqml.runs._files import check_writable, clean_temp_files

__all__ = [
    "LOCK_NAME",
    "RUN_FILES",
    "RunLock",
    "check_run_folder",
    "prepare_out_dir",
    "run_folder",
]

LOCK_NAME: Final[str] = ".hybridqml.lock"
"""File name of the lock inside an output folder."""

RUN_FILES: Final[tuple[str, ...]] = (
    "checkpoint.pt",
    "jobs.jsonl",
    "metrics.json",
    "best.pt",
    "classifier.pt",
    "curves.png",
    "confusion_matrix.png",
    "quality.png",
    "samples.png",
    "decision_boundary_*.png",
    "grids/epoch_*.png",
)
"""What a workflow run writes into its output folder (names or glob patterns): a folder holding
any of them holds an earlier run, and ``overwrite=True`` deletes them (nothing else) first."""

_TAKEOVER_GRACE_S: Final[float] = 30.0
# folder -> (thread id, token, depth) of the locks this process holds
_HELD: dict[Path, list[Any]] = {}
_HELD_GUARD = threading.Lock()


def _process_start(pid: int) -> str | None:
    """Boot id and start tick of ``pid`` (Linux ``/proc``), ``None`` elsewhere or if unknown."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    except OSError:
        return False
    return True


class RunLock:
    """The lock of one output folder (a context manager).

    Args:
        folder: The output folder (must exist).

    Raises:
        ConfigurationError: On entering: another live run holds the folder (its pid, host and
            start time are named), or the folder is not writable.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with RunLock(folder):
        ...     (folder / LOCK_NAME).is_file()
        True
        >>> (folder / LOCK_NAME).exists()
        False
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._key = self.folder.resolve()

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock (or join this thread's hold on it); see the class docstring.

        In a data-parallel run only rank 0 takes it (the other ranks write nothing).
        """
        if not is_writer():
            return
        with _HELD_GUARD:
            held = _HELD.get(self._key)
            if held is not None and held[0] == threading.get_ident():
                held[2] += 1
                return
        check_writable(self.folder)
        token = uuid.uuid4().hex
        record = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "process": _process_start(os.getpid()),
            "token": token,
        }
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump(record, handle)
                handle.flush()
                os.fsync(handle.fileno())
            with _HELD_GUARD:
                _HELD[self._key] = [threading.get_ident(), token, 1]
            return
        raise self._busy(self._read())

    def release(self) -> None:
        """Give the lock back (the file is removed when the outermost holder leaves)."""
        if not is_writer():
            return
        with _HELD_GUARD:
            held = _HELD.get(self._key)
            if held is None or held[0] != threading.get_ident():
                return
            held[2] -= 1
            if held[2] > 0:
                return
            del _HELD[self._key]
        if (self._read() or {}).get("token") == held[1]:
            self.path.unlink(missing_ok=True)

    def _read(self) -> dict[str, Any] | None:
        try:
            record = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _stale(self, record: dict[str, Any] | None) -> bool:
        if record is None:  # unreadable: being written right now, or garbage left by a crash
            try:
                return time.time() - self.path.stat().st_mtime > _TAKEOVER_GRACE_S
            except OSError:
                return False
        if record.get("hostname") != socket.gethostname():
            return False  # cannot see processes on another machine
        pid = record.get("pid")
        if not isinstance(pid, int) or not _pid_running(pid):
            return True
        started = record.get("process")
        now = _process_start(pid)
        return started is not None and now is not None and started != now  # pid reused

    def _take_over_if_stale(self) -> None:
        record = self._read()
        if not self._stale(record):
            raise self._busy(record)
        # one process at a time takes a stale lock over (else two could both succeed)
        guard = self.path.with_name(LOCK_NAME + ".takeover")
        try:
            fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                if time.time() - guard.stat().st_mtime > _TAKEOVER_GRACE_S:
                    guard.unlink(missing_ok=True)
            except OSError:
                pass
            time.sleep(0.05)
            return
        os.close(fd)
        try:
            if self._read() == record:
                self.path.unlink(missing_ok=True)
                holder = _describe(record)
                warnings.warn(
                    f"output folder {str(self.folder)!r}: took over the stale lock of {holder} "
                    "(that process is gone; its run was interrupted)",
                    RuntimeWarning,
                    stacklevel=4,
                )
        finally:
            guard.unlink(missing_ok=True)

    def _busy(self, record: dict[str, Any] | None) -> ConfigurationError:
        return ConfigurationError(
            f"output folder {str(self.folder)!r} is in use by another run ({_describe(record)}): "
            "wait for it to finish or choose another output folder (CLI: --out); if that run "
            f"is gone, delete {str(self.path)!r}"
        )


def _describe(record: dict[str, Any] | None) -> str:
    if record is None:
        return "holder unknown, lock file unreadable"
    return (
        f"pid {record.get('pid')} on host {record.get('hostname')!r}, "
        f"started {record.get('started')}"
    )


def check_run_folder(
    folder: str | os.PathLike[str],
    *,
    resume: bool,
    overwrite: bool,
    checkpoint_name: str,
    run_files: Iterable[str] = (),
) -> None:
    """Check what ``folder`` holds against ``resume``/``overwrite``; clean up temp files.

    Call it while holding the folder's :class:`RunLock`.

    * ``resume``: the checkpoint must exist;
    * ``overwrite``: the files of ``run_files`` (names or glob patterns, e.g. ``"grids/*.png"``)
      and the checkpoint are deleted first;
    * neither: a folder holding an earlier run (any of ``run_files`` or the checkpoint) is refused.

    In a data-parallel run only rank 0 checks and deletes; the other ranks return at once.

    Args:
        folder: The output folder.
        resume: Continue the run in the folder.
        overwrite: Replace the run in the folder.
        checkpoint_name: The checkpoint's file name.
        run_files: Files a run writes there (the checkpoint is always one).

    Raises:
        ConfigurationError: ``resume`` and ``overwrite`` together, ``resume`` without a
            checkpoint, or an earlier run without either; the message names the folder and the
            flag to use.
    """
    out = Path(folder)
    if resume and overwrite:
        raise ConfigurationError("resume and overwrite exclude each other: choose one")
    if not is_writer():  # data-parallel run: rank 0 checks (and deletes) for every rank
        return
    clean_temp_files(out)
    checkpoint = out / checkpoint_name
    found = [p for pattern in {checkpoint_name, *run_files} for p in out.glob(pattern)]
    names = ", ".join(sorted({str(p.relative_to(out)) for p in found})[:4])
    if resume:
        if checkpoint.is_file():
            return
        if found:  # a run was killed before its first checkpoint: nothing to resume
            raise ConfigurationError(
                f"cannot resume: the run in output folder {str(out)!r} stopped before its "
                f"first checkpoint ({checkpoint_name}; it left {names}), so there is nothing to "
                "resume: start it again with --overwrite (overwrite=True) instead of --resume, "
                "which replaces those files, or choose another output folder (CLI: --out)"
            )
        raise ConfigurationError(
            f"cannot resume: output folder {str(out)!r} has no checkpoint "
            f"({checkpoint_name}); drop --resume (resume=False) to start a new run there"
        )
    if not found:
        return
    if overwrite:
        for path in found:
            if path.is_file():
                path.unlink()
        return
    if not checkpoint.is_file():
        raise ConfigurationError(
            f"output folder {str(out)!r} holds a run that stopped before its first checkpoint "
            f"({checkpoint_name}; it left {names}), so --resume cannot continue it: pass "
            "--overwrite (overwrite=True) to start again there, replacing those files, or "
            "choose another output folder (CLI: --out)"
        )
    raise ConfigurationError(
        f"output folder {str(out)!r} already holds a run ({names}): pass --resume "
        "(resume=True) to continue it, --overwrite (overwrite=True) to replace it, or choose "
        "another output folder (CLI: --out)"
    )


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create the output folder (and parents) and return it.

    Raises:
        ConfigurationError: ``out_dir`` exists and is not a folder, or cannot be created.

    Example:
        >>> import tempfile
        >>> prepare_out_dir(Path(tempfile.mkdtemp()) / "run").is_dir()
        True
    """
    path = Path(out_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigurationError(f"output folder {str(path)!r} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot create output folder {str(path)!r}: {exc}") from exc
    return path


@contextlib.contextmanager
def run_folder(config: Any, *, estimate: Callable[[], Any] | None = None) -> Iterator[Path]:
    """The output folder of a run, locked for the run and checked before any work.

    Creates ``config.out_dir``, checks it is writable, takes its :class:`RunLock` (released on
    exit), refuses a run whose estimate exceeds its budget
    (:func:`~hybridqml.runs.check_start_budget`), removes temporary files of killed runs,
    applies ``config.resume``/``config.overwrite`` (:func:`check_run_folder` with
    :data:`RUN_FILES`) and logs every primitive call of the run in ``OUT/jobs.jsonl``.

    Args:
        config: A run config (``out_dir``, ``resume``, ``overwrite``; budgets where it has them).
        estimate: Makes the run's :class:`~hybridqml.runs.CostEstimate` (the workflow supplies
            it); needed when the config sets a budget.

    Yields:
        The folder.

    Raises:
        ConfigurationError: Not a folder, not writable, used by another run, holding an earlier
            run (neither resume nor overwrite) or without a checkpoint to resume; each message
            names the folder and the option that fixes it.
        BudgetExceededError: The run's estimate is over its budget (nothing was deleted).

    Example:
        >>> import tempfile
        >>> from types import SimpleNamespace
        >>> cfg = SimpleNamespace(out_dir=tempfile.mkdtemp(), resume=False, overwrite=False)
        >>> with run_folder(cfg) as out:
        ...     _ = (out / "checkpoint.pt").write_text("{}")
        >>> with run_folder(cfg) as out:  # doctest: +ELLIPSIS
        ...     pass
        Traceback (most recent call last):
        ...
        hybridqml.exceptions.ConfigurationError: output folder ... already holds a run ...
    """
    from hybridqml.hardware._joblog import job_log
    from hybridqml.runs._estimates import check_start_budget

    out = prepare_out_dir(config.out_dir)
    with RunLock(out):
        check_start_budget(config, estimate)  # refused before --overwrite deletes anything
        check_run_folder(
            out,
            resume=config.resume,
            overwrite=config.overwrite,
            checkpoint_name=CHECKPOINT_NAME,
            run_files=RUN_FILES,
        )
        with job_log(out):  # every primitive call of the run, evaluation and plots too
            yield out
