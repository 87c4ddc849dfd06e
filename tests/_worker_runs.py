"""Helpers for tests that run worker scripts in subprocesses (data-parallel ranks).

``worker_env`` gives a child the repository on its path and no xdist identity;
``once_per_session`` runs an expensive production (e.g. a 2-rank training) once per test
session, shared by the pytest-xdist workers through a file lock.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]


def worker_env() -> dict[str, str]:
    """The environment of a worker subprocess: the repository first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def once_per_session(
    factory: pytest.TempPathFactory, name: str, produce: Callable[[Path], None]
) -> Path:
    """Run ``produce(folder)`` once per session (all xdist workers), return the folder."""
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / name
    with FileLock(str(folder) + ".lock"):
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            produce(folder)
            (folder / "done").touch()
    return folder
