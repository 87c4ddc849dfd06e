"""Safe files in an output folder: atomic fsync'd writes, recognisable temp files, safe loads.

Every file the training toolkit writes (``checkpoint.pt``, ``best.pt``, ``metrics.json``) is
written to a temporary file in the same folder, flushed and fsync'd, then moved over the target
with :func:`os.replace` (and the folder entry fsync'd), so a crash or a kill leaves either the
old file or the new one, never a mix. The temporary names follow one pattern,
``.<name>.<pid>.hybridqml-tmp`` (:func:`temp_path`), so :func:`clean_temp_files` can remove
the ones a killed run left behind without touching anything else.

:func:`load_torch_file` reads a ``torch.save`` file with ``weights_only=True`` and turns every
way it can be broken (empty, truncated, random bytes, a zip that is not a torch file, a pickle
with forbidden globals) into a :class:`~hybridqml.exceptions.CheckpointError` that names the
file and the cause in plain words.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

import torch

from hybridqml._ranks import is_writer
from hybridqml._storage import disk_full_error
from hybridqml.exceptions import CheckpointError, ConfigurationError

__all__ = [
    "TEMP_SUFFIX",
    "atomic_torch_save",
    "atomic_write",
    "check_writable",
    "clean_temp_files",
    "load_torch_file",
    "temp_path",
]

TEMP_SUFFIX: Final[str] = ".hybridqml-tmp"
"""Suffix of every temporary file the toolkit writes (``.<name>.<pid>.hybridqml-tmp``)."""

_TEMP_RE: Final[re.Pattern[str]] = re.compile(r"^\..+\.\d+" + re.escape(TEMP_SUFFIX) + "$")


def temp_path(path: str | os.PathLike[str]) -> Path:
    """The temporary file :func:`atomic_write` uses for ``path`` (same folder, this process).

    Example:
        >>> temp_path("/runs/a/metrics.json").name.endswith(".hybridqml-tmp")
        True
    """
    target = Path(path)
    return target.with_name(f".{target.name}.{os.getpid()}{TEMP_SUFFIX}")


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """Write ``path`` atomically: ``write(handle)`` into a temp file, fsync, then replace.

    Args:
        path: The target file (its folder is created if needed).
        write: Writes the content into the binary handle it is given.

    In a ``torch.distributed`` run of more than one rank only rank 0 writes; the other ranks
    return the target path without touching the file (their state is rank 0's by
    construction, see ``hybridqml.training._distributed``).

    Returns:
        The target path.

    Raises:
        StorageError: The disk is full or the quota reached (the message names the folder and
            its free space); the old file is kept and no temporary file is left.

    Example:
        >>> import tempfile
        >>> p = atomic_write(Path(tempfile.mkdtemp()) / "a.txt", lambda h: h.write(b"hi"))
        >>> p.read_bytes()
        b'hi'
    """
    target = Path(path)
    if not is_writer():  # data-parallel run: rank 0 writes the run's files
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_folder(target.parent)
    except (OSError, RuntimeError) as exc:
        error = disk_full_error(exc, target)
        if error is None:
            raise
        tmp.unlink(missing_ok=True)  # free what the partial file took
        raise error from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda handle: torch.save(obj, handle))


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def clean_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files killed runs left in ``folder`` (only the toolkit's own names).

    Call it only while holding the folder's :class:`~hybridqml.runs.RunLock`: no
    other run can then be writing there.

    Returns:
        The files removed.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = temp_path(folder / "checkpoint.pt").write_bytes(b"")
        >>> _ = (folder / "notes.tmp").write_bytes(b"")
        >>> [p.name.endswith(TEMP_SUFFIX) for p in clean_temp_files(folder)]
        [True]
        >>> sorted(p.name for p in folder.iterdir())
        ['notes.tmp']
    """
    removed = []
    for entry in sorted(Path(folder).iterdir()):
        if _TEMP_RE.match(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def check_writable(folder: str | os.PathLike[str]) -> Path:
    """Create and remove a probe file in ``folder``; fail before any training if it cannot.

    Raises:
        ConfigurationError: Naming the folder and the fix, if it cannot be written.

    Example:
        >>> import tempfile
        >>> check_writable(tempfile.mkdtemp()).is_dir()
        True
    """
    path = Path(folder)
    probe = path / f".write-probe.{os.getpid()}{TEMP_SUFFIX}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        raise ConfigurationError(
            f"output folder {str(path)!r} is not writable ({exc.strerror or exc}): fix its "
            "permissions or choose another output folder (CLI: --out)"
        ) from exc
    return path


def load_torch_file(
    path: str | os.PathLike[str], *, what: str = "checkpoint", fix: str = ""
) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU; every failure a clear CheckpointError.

    Args:
        path: The file.
        what: What the file is, for the message (``"checkpoint"``, ``"quality classifier"``).
        fix: A sentence appended to the message saying what to do (e.g. which flag to use).

    Returns:
        The loaded object.

    Raises:
        CheckpointError: Missing, empty, truncated or corrupt file, a file that is not a torch
            file, or one holding objects other than tensors and plain values (``path`` is set).
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"{what} {str(file)!r} does not exist. {fix}".strip(), path=file)
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a broken file
        # never repeat torch's own message: it may advise weights_only=False (arbitrary code)
        raise CheckpointError(
            f"cannot read {what} {str(file)!r}: {_why_unreadable(file, exc)}. {fix}".strip(),
            path=file,
        ) from exc


def _why_unreadable(file: Path, exc: Exception) -> str:
    import pickle

    size = file.stat().st_size
    if size == 0:
        return "the file is empty (0 bytes), probably left by a crash or a full disk"
    if not zipfile.is_zipfile(file):
        return f"it is not a PyTorch file ({size} bytes of something else, or truncated)"
    with zipfile.ZipFile(file) as archive:
        names = archive.namelist()
    if not any(name.endswith("data.pkl") for name in names):
        return "it is a zip archive but not a PyTorch file"
    if isinstance(exc, pickle.UnpicklingError):
        return (
            "it holds Python objects that a hybridqml file never contains (refused: loading "
            "them could run arbitrary code); it was not written by hybridqml or was tampered with"
        )
    return f"the file is corrupt or truncated ({type(exc).__name__})"
