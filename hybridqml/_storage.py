"""A full disk, named: :func:`disk_full_error` turns ENOSPC/EDQUOT into a StorageError.

:func:`write_error` does the same for any failed write (a folder that cannot be written too).

Every file a run writes (checkpoints, ``best.pt``, ``metrics.json``, the job log) goes through
it, so a full disk is a :class:`~hybridqml.exceptions.StorageError` that names the folder and its
free space instead of a raw ``OSError`` (or torch's ``RuntimeError``).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Final

from hybridqml.exceptions import StorageError

__all__ = ["disk_full_error", "write_error"]

_DISK_FULL: Final[frozenset[int]] = frozenset(
    code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if code is not None
)


def disk_full_error(exc: BaseException, path: str | os.PathLike[str]) -> StorageError | None:
    """A :class:`StorageError` for ``exc`` when it means a full disk or quota (else ``None``).

    ``torch.save`` reports a failed write as a ``RuntimeError`` ("file write failed") without
    the ``errno``: that counts as a full disk too.

    Example:
        >>> import errno
        >>> err = disk_full_error(OSError(errno.ENOSPC, "No space left on device"), "run/c.pt")
        >>> type(err).__name__, "free" in str(err)
        ('StorageError', True)
        >>> disk_full_error(OSError(errno.EACCES, "Permission denied"), "run/c.pt") is None
        True
    """
    cause: BaseException | None = exc
    full = False
    while cause is not None and not full:
        full = getattr(cause, "errno", None) in _DISK_FULL or (
            isinstance(cause, RuntimeError) and "write failed" in str(cause)
        )
        cause = cause.__cause__ or cause.__context__
    if not full:
        return None
    file = Path(path)
    try:
        free: int | None = shutil.disk_usage(file.parent).free
    except OSError:
        free = None
    shown = "unknown" if free is None else f"{free / 2**20:.1f} MiB"
    return StorageError(
        f"cannot write {file.name!r} in {str(file.parent)!r}: the disk is full or over quota "
        f"({shown} free). Nothing written before was lost (files are replaced whole). Free "
        "some space and continue with --resume (resume=True), or choose another output "
        "folder (CLI: --out)",
        path=file,
        free_bytes=free,
    )


def write_error(exc: OSError, path: str | os.PathLike[str]) -> StorageError:
    """A :class:`StorageError` for any failed write of ``path``, full disk or not.

    Besides a full disk: a folder that cannot be written (permissions, a read-only file
    system, a file in the way).

    Example:
        >>> import errno
        >>> err = write_error(PermissionError(errno.EACCES, "Permission denied"), "run/a.png")
        >>> print(str(err).split(". ")[0])
        cannot write 'a.png' in 'run': Permission denied
    """
    full = disk_full_error(exc, path)
    if full is not None:
        return full
    file = Path(path)
    reason = exc.strerror or str(exc)
    return StorageError(
        f"cannot write {file.name!r} in {str(file.parent)!r}: {reason}. Nothing written before "
        "was lost (files are replaced whole). Make the folder writable, or choose another "
        "output folder (CLI: --out)",
        path=file,
    )
