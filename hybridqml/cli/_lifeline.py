"""Ranks die with their launcher: a rank started by ``--nproc`` ends when the launcher ends.

``hybridqml train ... --nproc N`` runs ``N`` rank processes under ``torch.distributed.run``
inside the launcher process. If the launcher is killed (``SIGKILL``, or ``SIGTERM`` before its
agent can stop them), nothing else would stop the ranks: they would keep training without a
launcher, holding the run lock of the output folder. So the launcher records its pid in
:data:`LAUNCHER_ENV` and every rank calls :func:`bind_to_launcher` first:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (via ``ctypes``): the kernel kills the rank the
  moment its parent, the launcher, exits, however it exits;
* elsewhere, a daemon thread polls the parent pid every :data:`POLL_SECONDS` and kills the rank
  when the launcher is gone.

A rank whose launcher was already gone before it could bind exits at once. ``SIGKILL`` leaves
no cleanup to a rank that may be blocked inside a collective, and nothing is lost by it: files
are written atomically, and the run lock of a dead process is stale, so the next run (or
``--resume``) takes it over at once.

Example:
    >>> bind_to_launcher({})  # not a rank of an --nproc launch: nothing to do
    False
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import Final

__all__ = ["LAUNCHER_ENV", "POLL_SECONDS", "bind_to_launcher", "launcher_env"]

LAUNCHER_ENV: Final[str] = "HYBRIDQML_LAUNCHER_PID"
"""Environment variable holding the pid of the ``--nproc`` launcher (set for its ranks)."""
POLL_SECONDS: Final[float] = 0.5
"""How often the watch thread (platforms without ``prctl``) checks the launcher."""
_PR_SET_PDEATHSIG: Final[int] = 1


def launcher_env() -> dict[str, str]:
    """The environment entries the launcher gives its ranks (its own pid)."""
    return {LAUNCHER_ENV: str(os.getpid())}


def bind_to_launcher(environ: Mapping[str, str] | None = None) -> bool:
    """Make this process die with the ``--nproc`` launcher named in ``environ``.

    Args:
        environ: The environment to read :data:`LAUNCHER_ENV` from (default ``os.environ``).

    Returns:
        ``True`` when bound to a launcher, ``False`` outside an ``--nproc`` launch (or when
        this process is not the launcher's child, e.g. started by a user's own ``torchrun``).
    """
    env = os.environ if environ is None else environ
    try:
        launcher = int(env.get(LAUNCHER_ENV, ""))
    except ValueError:
        return False
    if not _is_linux() or not _set_parent_death_signal(signal.SIGKILL):
        _watch(launcher)
    if not _alive(launcher):  # gone before the binding took effect
        os._exit(1)
    return os.getppid() == launcher


def _is_linux() -> bool:
    return sys.platform.startswith("linux")


def _set_parent_death_signal(sig: int) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch(launcher: int) -> None:
    def run() -> None:
        while os.getppid() == launcher and _alive(launcher):
            time.sleep(POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)

    threading.Thread(target=run, name="hybridqml-launcher-watch", daemon=True).start()
