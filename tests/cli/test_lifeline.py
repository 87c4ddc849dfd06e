"""Ranks die with their ``--nproc`` launcher (``hybridqml.cli._lifeline``).

The fast tests start a stand-in launcher (a plain python process) whose child binds to it, kill
the launcher and watch the child through ``/proc``; the slow test does the same with the real
``hybridqml train qnn --nproc 2`` and its run lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hybridqml.cli._lifeline import LAUNCHER_ENV, bind_to_launcher

REPO = Path(__file__).resolve().parents[2]
GONE_WITHIN_S = 5.0

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")

_CHILD = """
import sys, time
import hybridqml.cli._lifeline as lifeline
if sys.argv[1] == "watch":
    lifeline._is_linux = lambda: False  # the polling thread of other platforms
print(lifeline.bind_to_launcher(), flush=True)
time.sleep(120)
"""

_LAUNCHER = """
import os, subprocess, sys, time
env = dict(os.environ, {env}=str(os.getpid()))
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], env=env)
print(child.pid, flush=True)
time.sleep(120)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.pop(LAUNCHER_ENV, None)
    return env


def _running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (an orphan may wait for a reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _wait_gone(pids: list[int], seconds: float = GONE_WITHIN_S) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _running(pid)]
        if not alive:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if _running(pid)]


@pytest.mark.parametrize("mode", ["prctl", "watch"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_bound_child_dies_with_its_launcher(mode: str, sig: signal.Signals) -> None:
    launcher = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER.format(env=LAUNCHER_ENV), _CHILD, mode],
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        child = int(launcher.stdout.readline())
        assert launcher.stdout.readline().strip() == "True"  # bound (the child's print)
        assert _running(child)
        launcher.send_signal(sig)
        launcher.wait(timeout=10)
        assert _wait_gone([child]) == [], f"child {child} outlived its launcher ({mode})"
    finally:
        launcher.kill()
        launcher.wait()
        launcher.stdout.close()


def test_a_child_whose_launcher_is_already_gone_exits_at_once() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    env = _env() | {LAUNCHER_ENV: str(dead.pid)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, "prctl"], env=env, capture_output=True, timeout=60
    )
    assert proc.returncode == 1 and proc.stdout == b""


def test_outside_an_nproc_launch_nothing_is_bound() -> None:
    assert bind_to_launcher({}) is False
    assert bind_to_launcher({LAUNCHER_ENV: "not-a-pid"}) is False


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_the_nproc_launcher_stops_its_ranks_and_frees_the_lock(
    tmp_path: Path, sig: signal.Signals
) -> None:
    from hybridqml.runs import LOCK_NAME, RunLock

    out = tmp_path / "run"
    command = [sys.executable, "-m", "hybridqml", "train", "qnn", "--nproc", "2"]
    command += ["--out", str(out), "--epochs", "500", "--no-progress"]
    launcher = subprocess.Popen(
        command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300
        while not (out / LOCK_NAME).is_file():  # rank 0 is training
            assert launcher.poll() is None, "the launch ended before training"
            assert time.monotonic() < deadline, "no rank started training"
            time.sleep(0.2)
        ranks = [pid for pid in _children(launcher.pid) if _running(pid)]
        assert len(ranks) == 2
        launcher.send_signal(sig)
        launcher.wait(timeout=60)
        assert _wait_gone(ranks, seconds=10) == [], "ranks outlived the launcher"
        if (out / LOCK_NAME).exists():  # left by a killed rank 0: stale, taken over
            with pytest.warns(RuntimeWarning, match="took over the stale lock"), RunLock(out):
                pass
        with RunLock(out):
            pass
    finally:
        launcher.kill()
        launcher.wait()


def test_the_lock_of_an_exited_but_unreaped_process_is_stale(tmp_path: Path) -> None:
    """A rank killed with its launcher may wait as a zombie: its lock must not block."""
    import json
    import socket

    from hybridqml.runs import LOCK_NAME, RunLock

    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while _running(zombie.pid):  # exited, deliberately not waited for
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        record = {"pid": zombie.pid, "hostname": socket.gethostname(), "token": "t"}
        (tmp_path / LOCK_NAME).write_text(json.dumps(record))
        with pytest.warns(RuntimeWarning, match="took over the stale lock"), RunLock(tmp_path):
            assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    finally:
        zombie.wait()
