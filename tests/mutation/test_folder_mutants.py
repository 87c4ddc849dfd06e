"""Output folders: the run lock's records, takeovers and refusals, and the folder checks."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import types
from pathlib import Path

import pytest
from _mutmut import reported_at

from hybridqml.exceptions import BudgetExceededError, ConfigurationError
from hybridqml.hardware import _joblog
from hybridqml.runs import _folder as F

NO_SUCH_PID = 2**22 + 12345  # above Linux's pid_max: never a running process


def lock_record(folder):
    return json.loads((folder / F.LOCK_NAME).read_text())


def write_lock(folder, **record):
    (folder / F.LOCK_NAME).write_text(json.dumps(record))


def test_the_lock_file_names_its_holder_and_goes_away(tmp_path):
    with F.RunLock(tmp_path) as lock:
        record = lock_record(tmp_path)
        assert lock.path == tmp_path / F.LOCK_NAME
        assert record["pid"] == os.getpid() and record["hostname"] == socket.gethostname()
        assert len(record["token"]) == 32 and int(record["token"], 16) >= 0
        assert record["process"] == F._process_start(os.getpid()) is not None
        assert time.strptime(record["started"], "%Y-%m-%dT%H:%M:%S%z")
    assert not (tmp_path / F.LOCK_NAME).exists()
    assert F.LOCK_NAME == ".hybridqml.lock"


def test_the_lock_is_reentrant_in_one_thread(tmp_path):
    outer = F.RunLock(tmp_path)
    inner = F.RunLock(tmp_path)
    with outer:
        token = lock_record(tmp_path)["token"]
        with inner:
            assert lock_record(tmp_path)["token"] == token  # joined, not replaced
        assert (tmp_path / F.LOCK_NAME).exists()  # the outer holder still has it
        with F.RunLock(tmp_path), F.RunLock(tmp_path):
            pass
        assert (tmp_path / F.LOCK_NAME).exists()
    assert not (tmp_path / F.LOCK_NAME).exists()


def test_another_thread_of_a_live_run_is_refused_with_the_holder(tmp_path):
    errors = []
    with F.RunLock(tmp_path):
        record = lock_record(tmp_path)

        def other():
            try:
                F.RunLock(tmp_path).acquire()
            except ConfigurationError as exc:
                errors.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1
    assert str(errors[0]) == (
        f"output folder {str(tmp_path)!r} is in use by another run (pid {os.getpid()} on host "
        f"{socket.gethostname()!r}, started {record['started']}): wait for it to finish or choose "
        "another output folder (CLI: --out); if that run is gone, delete "
        f"{str(tmp_path / F.LOCK_NAME)!r}"
    )


def test_a_lock_on_another_host_is_never_taken_over(tmp_path):
    write_lock(tmp_path, pid=NO_SUCH_PID, hostname="elsewhere", started="then")
    with pytest.raises(ConfigurationError, match="pid 4206649 on host 'elsewhere', started then"):
        F.RunLock(tmp_path).acquire()
    assert lock_record(tmp_path)["hostname"] == "elsewhere"


@pytest.mark.parametrize("pid", [NO_SUCH_PID, "12", None])
def test_a_lock_of_a_dead_process_is_taken_over_with_a_warning(tmp_path, pid):
    write_lock(tmp_path, pid=pid, hostname=socket.gethostname(), started="yesterday")
    with pytest.warns(RuntimeWarning) as caught:
        lock = F.RunLock(tmp_path)
        lock.acquire()
    assert str(caught[0].message) == (
        f"output folder {str(tmp_path)!r}: took over the stale lock of pid {pid} on host "
        f"{socket.gethostname()!r}, started yesterday (that process is gone; its run was "
        "interrupted)"
    )
    assert lock_record(tmp_path)["pid"] == os.getpid()
    assert not (tmp_path / (F.LOCK_NAME + ".takeover")).exists()
    lock.release()
    assert not (tmp_path / F.LOCK_NAME).exists()


def test_a_reused_pid_is_stale_and_a_live_one_is_not(tmp_path):
    mine = F._process_start(os.getpid())
    boot = mine.split(":")[0]
    write_lock(tmp_path, pid=os.getpid(), hostname=socket.gethostname(), process=f"{boot}:1")
    lock = F.RunLock(tmp_path)
    assert lock._stale(lock._read()) is True
    write_lock(tmp_path, pid=os.getpid(), hostname=socket.gethostname(), process=mine)
    assert lock._stale(lock._read()) is False
    write_lock(tmp_path, pid=os.getpid(), hostname=socket.gethostname(), process=None)
    assert lock._stale(lock._read()) is False  # no start token recorded: trust the pid
    write_lock(tmp_path, pid=os.getpid(), hostname=socket.gethostname())
    assert lock._stale(lock._read()) is False


def test_an_unreadable_lock_is_stale_only_after_the_grace_period(tmp_path):
    path = tmp_path / F.LOCK_NAME
    path.write_text("{not json")
    lock = F.RunLock(tmp_path)
    assert lock._read() is None and lock._stale(None) is False
    with pytest.raises(ConfigurationError, match=r"\(holder unknown, lock file unreadable\)"):
        lock.acquire()
    old = time.time() - 31
    os.utime(path, (old, old))
    assert lock._stale(None) is True
    path.write_text("[1, 2]")  # JSON, but not a record
    assert lock._read() is None
    path.unlink()
    assert lock._stale(None) is False  # gone meanwhile
    with pytest.warns(RuntimeWarning, match="holder unknown"):
        path.write_text("garbage")
        os.utime(path, (old, old))
        with F.RunLock(tmp_path):
            pass


def test_release_keeps_a_lock_that_another_run_took_over(tmp_path):
    lock = F.RunLock(tmp_path)
    lock.acquire()
    write_lock(tmp_path, pid=123, hostname="h", token="someone-else")
    lock.release()
    assert lock_record(tmp_path)["token"] == "someone-else"
    lock.release()  # not held any more: nothing happens
    assert (tmp_path / F.LOCK_NAME).exists()


def test_release_from_another_thread_does_nothing(tmp_path):
    lock = F.RunLock(tmp_path)
    lock.acquire()
    thread = threading.Thread(target=lock.release)
    thread.start()
    thread.join()
    assert (tmp_path / F.LOCK_NAME).exists()
    lock.release()
    assert not (tmp_path / F.LOCK_NAME).exists()


def test_other_ranks_take_no_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "is_writer", lambda: False)
    write_lock(tmp_path, pid=1, hostname="elsewhere")
    with F.RunLock(tmp_path):
        pass
    assert lock_record(tmp_path)["hostname"] == "elsewhere"
    F.check_run_folder(tmp_path, resume=True, overwrite=False, checkpoint_name="c.pt")


def test_a_busy_takeover_guard_waits_and_an_old_one_is_cleared(tmp_path, monkeypatch):
    write_lock(tmp_path, pid=NO_SUCH_PID, hostname=socket.gethostname())
    guard = tmp_path / (F.LOCK_NAME + ".takeover")
    guard.write_text("")
    sleeps = []
    monkeypatch.setattr(F.time, "sleep", lambda s: sleeps.append(s))
    lock = F.RunLock(tmp_path)
    lock._take_over_if_stale()
    assert sleeps == [0.05] and guard.exists() and (tmp_path / F.LOCK_NAME).exists()
    old = time.time() - 31
    os.utime(guard, (old, old))
    lock._take_over_if_stale()
    assert not guard.exists() and (tmp_path / F.LOCK_NAME).exists()


def test_process_start_tokens():
    token = F._process_start(os.getpid())
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    stat = Path(f"/proc/{os.getpid()}/stat").read_text()
    assert token == f"{boot}:{stat.rpartition(')')[2].split()[19]}"
    assert F._process_start(NO_SUCH_PID) is None
    assert F._pid_running(os.getpid()) and not F._pid_running(NO_SUCH_PID)


def test_pid_running_reads_permission_errors_as_alive(monkeypatch):
    def kill(pid, sig):
        raise {1: PermissionError, 2: OSError, 3: ProcessLookupError}[pid]()

    monkeypatch.setattr(F.os, "kill", kill)
    assert F._pid_running(1) is True
    assert F._pid_running(2) is False
    assert F._pid_running(3) is False


def test_check_run_folder_decisions(tmp_path):
    with pytest.raises(
        ConfigurationError, match=r"^resume and overwrite exclude each other: choose one$"
    ):
        F.check_run_folder(tmp_path, resume=True, overwrite=True, checkpoint_name="c.pt")
    with pytest.raises(ConfigurationError) as info:
        F.check_run_folder(tmp_path, resume=True, overwrite=False, checkpoint_name="c.pt")
    assert str(info.value) == (
        f"cannot resume: output folder {str(tmp_path)!r} has no checkpoint (c.pt); drop "
        "--resume (resume=False) to start a new run there"
    )
    F.check_run_folder(tmp_path, resume=False, overwrite=False, checkpoint_name="c.pt")
    (tmp_path / "grids").mkdir()
    for name in ("c.pt", "metrics.json", "grids/epoch_1.png", "grids/epoch_2.png", "keep.txt"):
        (tmp_path / name).write_text("x")
    files = ("metrics.json", "grids/epoch_*.png")
    F.check_run_folder(
        tmp_path, resume=True, overwrite=False, checkpoint_name="c.pt", run_files=files
    )
    with pytest.raises(ConfigurationError) as info:
        F.check_run_folder(
            tmp_path, resume=False, overwrite=False, checkpoint_name="c.pt", run_files=files
        )
    assert str(info.value) == (
        f"output folder {str(tmp_path)!r} already holds a run (c.pt, grids/epoch_1.png, "
        "grids/epoch_2.png, metrics.json): pass --resume (resume=True) to continue it, "
        "--overwrite (overwrite=True) to replace it, or choose another output folder (CLI: --out)"
    )
    F.check_run_folder(
        tmp_path, resume=False, overwrite=True, checkpoint_name="c.pt", run_files=[*files, "grids"]
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["grids", "keep.txt"]


def test_more_than_four_run_files_are_named_by_the_first_four(tmp_path):
    for name in ("a", "b", "c", "d", "e"):
        (tmp_path / name).write_text("x")
    with pytest.raises(ConfigurationError, match=r"already holds a run \(a, b, c, d\): "):
        F.check_run_folder(
            tmp_path, resume=False, overwrite=False, checkpoint_name="e", run_files="abcd"
        )


def test_temporary_files_of_killed_runs_are_removed(tmp_path):
    from hybridqml.runs._files import temp_path

    leftover = temp_path(tmp_path / "checkpoint.pt")
    leftover.write_bytes(b"torn")
    (tmp_path / "notes.tmp").write_text("mine")
    F.check_run_folder(tmp_path, resume=False, overwrite=False, checkpoint_name="checkpoint.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.tmp"]


def test_prepare_out_dir(tmp_path, monkeypatch):
    made = F.prepare_out_dir(tmp_path / "a" / "b")
    assert made == tmp_path / "a" / "b" and made.is_dir()
    assert F.prepare_out_dir(made) == made
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError) as info:
        F.prepare_out_dir(tmp_path / "file")
    assert str(info.value) == f"output folder {str(tmp_path / 'file')!r} exists and is not a folder"
    with pytest.raises(ConfigurationError, match=r"^cannot create output folder '.*file/sub': "):
        F.prepare_out_dir(tmp_path / "file" / "sub")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert F.prepare_out_dir("~/home-run") == tmp_path / "home-run"


def test_run_folder_locks_logs_and_checks_before_anything_runs(tmp_path):
    cfg = types.SimpleNamespace(out_dir=tmp_path / "run", resume=False, overwrite=False)
    with F.run_folder(cfg) as out:
        assert out == tmp_path / "run"
        assert (out / F.LOCK_NAME).exists()
        assert _joblog.is_logging(out)
        (out / "metrics.json").write_text("{}")
    assert not (out / F.LOCK_NAME).exists() and not _joblog.is_logging(out)
    early = "stopped before its first checkpoint"
    with pytest.raises(ConfigurationError, match=early), F.run_folder(cfg):
        pass
    assert not (out / F.LOCK_NAME).exists()  # released after the refusal


def test_a_run_over_budget_is_refused_before_overwrite_deletes_anything(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    cfg = types.SimpleNamespace(out_dir=tmp_path, resume=False, overwrite=True, max_shots=10)

    def estimate():
        total = types.SimpleNamespace(executed_shots=100, qpu_seconds=0.0, calls=1)
        return types.SimpleNamespace(total=total, epochs=1)

    with pytest.raises(BudgetExceededError), F.run_folder(cfg, estimate=estimate):
        pass
    assert (tmp_path / "metrics.json").exists()


def test_the_run_files_list():
    assert F.RUN_FILES[:4] == ("checkpoint.pt", "jobs.jsonl", "metrics.json", "best.pt")
    assert "grids/epoch_*.png" in F.RUN_FILES and "decision_boundary_*.png" in F.RUN_FILES


# --- /proc: zombies, start tokens, systems without /proc ------------------------------------


@pytest.fixture
def fake_proc(tmp_path, monkeypatch):
    """Redirect the module's ``/proc/...`` reads to files written by the test."""
    real = Path
    root = tmp_path / "fakeproc"

    def path(p):
        text = str(p)
        return real(root, text.lstrip("/")) if text.startswith("/proc/") else real(p)

    monkeypatch.setattr(F, "Path", path)

    def write(pid, stat, boot="boot-1"):
        (root / "proc" / "sys" / "kernel" / "random").mkdir(parents=True, exist_ok=True)
        (root / "proc" / "sys" / "kernel" / "random" / "boot_id").write_text(boot + "\n")
        (root / "proc" / str(pid)).mkdir(parents=True, exist_ok=True)
        (root / "proc" / str(pid) / "stat").write_text(stat)

    return write


def _stat(pid, comm, fields):
    """A /proc/PID/stat line: fields 3.. are ``f3``, ``f4``, ... (``f22`` is the start tick)."""
    return f"{pid} ({comm}) " + " ".join(fields)


def test_a_zombie_is_not_running_even_with_a_parenthesis_in_its_name(tmp_path):
    import subprocess

    exe = tmp_path / "z) R (x"  # /proc/PID/stat then reads "PID (z) R (x) Z ..."
    exe.symlink_to("/bin/true")
    child = subprocess.Popen([str(exe)])
    try:
        stat = Path(f"/proc/{child.pid}/stat")
        deadline = time.monotonic() + 10
        while f"{child.pid} (z) R (x) Z " not in stat.read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stat.read_text().startswith(f"{child.pid} (z) R (x) Z ")  # exited, not reaped
        assert F._zombie(child.pid) is True
        assert F._pid_running(child.pid) is False
    finally:
        child.wait()
    assert F._zombie(os.getpid()) is False and F._pid_running(os.getpid()) is True


@pytest.mark.parametrize(("state", "zombie"), [("Z", True), ("X", True), ("S", False)])
def test_zombie_reads_the_state_after_the_last_parenthesis(fake_proc, state, zombie):
    fake_proc(4242, _stat(4242, "a) Z (b", [state, *(f"f{k}" for k in range(4, 53))]))
    assert F._zombie(4242) is zombie


def test_without_proc_a_process_that_answers_is_running(monkeypatch):
    def no_proc(p):
        if str(p).startswith("/proc/"):
            return types.SimpleNamespace(read_text=lambda: (_ for _ in ()).throw(OSError()))
        return Path(p)

    monkeypatch.setattr(F, "Path", no_proc)
    assert F._zombie(os.getpid()) is False
    assert F._pid_running(os.getpid()) is True
    assert F._process_start(os.getpid()) is None


def test_pid_running_only_probes_with_signal_zero(monkeypatch):
    sent = []
    monkeypatch.setattr(F.os, "kill", lambda pid, sig: sent.append((pid, sig)))
    monkeypatch.setattr(F, "_zombie", lambda pid: False)
    assert F._pid_running(4242) is True
    assert sent == [(4242, 0)]  # never a real signal to the holder


@pytest.mark.parametrize(
    ("count", "token"),
    [(50, "boot-1:f22"), (20, "boot-1:f22"), (19, None), (3, None)],
)
def test_process_start_is_boot_id_and_start_tick(fake_proc, count, token):
    # the name holds ") " so only the last parenthesis ends it
    fake_proc(77, _stat(77, "x) S (y", [f"f{k}" for k in range(3, 3 + count)]))
    assert F._process_start(77) == token


# --- the grace periods and the takeover guard -----------------------------------------------


NOW = 2_000_000_000.0


def _age(path, seconds):
    stamp = int((NOW - seconds) * 1e9)
    os.utime(path, ns=(stamp, stamp))


def test_an_unreadable_lock_is_stale_only_after_more_than_the_grace(tmp_path, monkeypatch):
    monkeypatch.setattr(F.time, "time", lambda: NOW)
    path = tmp_path / F.LOCK_NAME
    path.write_text("{garbage")
    lock = F.RunLock(tmp_path)
    _age(path, 30)
    assert lock._stale(None) is False  # exactly 30 s: still within the grace
    _age(path, 30.5)
    assert lock._stale(None) is True


def test_a_takeover_guard_is_cleared_only_after_more_than_the_grace(tmp_path, monkeypatch):
    write_lock(tmp_path, pid=NO_SUCH_PID, hostname=socket.gethostname())
    guard = tmp_path / (F.LOCK_NAME + ".takeover")
    guard.write_text("")
    monkeypatch.setattr(F.time, "time", lambda: NOW)
    monkeypatch.setattr(F.time, "sleep", lambda s: None)
    _age(guard, 30)
    F.RunLock(tmp_path)._take_over_if_stale()
    assert guard.exists()  # exactly 30 s: another process may still be taking over
    _age(guard, 30.5)
    F.RunLock(tmp_path)._take_over_if_stale()
    assert not guard.exists()


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_lock_and_the_takeover_guard_are_mode_644(tmp_path, umask_022):
    write_lock(tmp_path, pid=NO_SUCH_PID, hostname=socket.gethostname(), started="x")
    lock = F.RunLock(tmp_path)
    guard = tmp_path / (F.LOCK_NAME + ".takeover")
    modes = []
    read = lock._read

    def reading():
        if guard.exists():
            modes.append(guard.stat().st_mode & 0o777)
        return read()

    lock._read = reading
    with pytest.warns(RuntimeWarning, match="took over the stale lock"):
        lock.acquire()
    assert modes == [0o644]
    assert (tmp_path / F.LOCK_NAME).stat().st_mode & 0o777 == 0o644
    lock.release()


def test_a_takeover_survives_the_guard_being_cleared_by_another_process(tmp_path):
    write_lock(tmp_path, pid=NO_SUCH_PID, hostname=socket.gethostname(), started="x")
    lock = F.RunLock(tmp_path)
    guard = tmp_path / (F.LOCK_NAME + ".takeover")
    read = lock._read

    def reading():
        guard.unlink(missing_ok=True)  # another process judged our guard old and removed it
        return read()

    lock._read = reading
    with pytest.warns(RuntimeWarning, match="took over the stale lock"):
        lock.acquire()
    assert lock_record(tmp_path)["pid"] == os.getpid()
    lock.release()


def test_a_stale_lock_deleted_by_hand_meanwhile_is_no_error(tmp_path):
    path = tmp_path / F.LOCK_NAME
    path.write_text("{garbage")
    old = time.time() - 60
    os.utime(path, (old, old))
    lock = F.RunLock(tmp_path)
    stale = lock._stale

    def judged(record):
        verdict = stale(record)
        path.unlink()  # the user deletes it, as the busy message suggests
        return verdict

    lock._stale = judged
    with pytest.warns(RuntimeWarning, match="holder unknown"):
        lock.acquire()
    assert lock_record(tmp_path)["pid"] == os.getpid()
    lock.release()
    assert not path.exists()


def test_the_takeover_warning_points_at_the_with_statement(tmp_path):
    write_lock(tmp_path, pid=NO_SUCH_PID, hostname=socket.gethostname(), started="x")
    with pytest.warns(RuntimeWarning) as caught, F.RunLock(tmp_path):
        pass
    assert len(caught) == 1 and reported_at(caught[0].filename, __file__)


def test_a_lock_whose_takeover_never_succeeds_is_busy_after_three_tries(tmp_path, monkeypatch):
    write_lock(tmp_path, pid=NO_SUCH_PID, hostname=socket.gethostname(), started="then")
    (tmp_path / (F.LOCK_NAME + ".takeover")).write_text("")  # another process is taking over
    sleeps = []
    monkeypatch.setattr(F.time, "sleep", lambda s: sleeps.append(s))
    with pytest.raises(ConfigurationError) as info:
        F.RunLock(tmp_path).acquire()
    assert sleeps == [0.05, 0.05, 0.05]
    assert f"(pid {NO_SUCH_PID} on host {socket.gethostname()!r}, started then)" in str(info.value)


def test_locks_of_two_folders_are_held_apart(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with F.RunLock(tmp_path / "a"), F.RunLock(tmp_path / "b"):
        assert (tmp_path / "a" / F.LOCK_NAME).exists()
        assert (tmp_path / "b" / F.LOCK_NAME).exists()
    assert not (tmp_path / "a" / F.LOCK_NAME).exists()
    assert not (tmp_path / "b" / F.LOCK_NAME).exists()


def test_release_tolerates_a_lock_file_deleted_meanwhile(tmp_path):
    lock = F.RunLock(tmp_path)
    lock.acquire()
    read = lock._read

    def reading():
        record = read()
        (tmp_path / F.LOCK_NAME).unlink()  # deleted by hand right after it was read
        return record

    lock._read = reading
    lock.release()
    assert not (tmp_path / F.LOCK_NAME).exists()


# --- the refusals name the folder and the flags ---------------------------------------------


def test_an_early_killed_run_is_refused_with_the_flags_to_use(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "jobs.jsonl").write_text("")
    files = ("metrics.json", "jobs.jsonl")
    with pytest.raises(ConfigurationError) as info:
        F.check_run_folder(
            tmp_path, resume=True, overwrite=False, checkpoint_name="c.pt", run_files=files
        )
    assert str(info.value) == (
        f"cannot resume: the run in output folder {str(tmp_path)!r} stopped before its first "
        "checkpoint (c.pt; it left jobs.jsonl, metrics.json), so there is nothing to resume: "
        "start it again with --overwrite (overwrite=True) instead of --resume, which replaces "
        "those files, or choose another output folder (CLI: --out)"
    )
    with pytest.raises(ConfigurationError) as info:
        F.check_run_folder(
            tmp_path, resume=False, overwrite=False, checkpoint_name="c.pt", run_files=files
        )
    assert str(info.value) == (
        f"output folder {str(tmp_path)!r} holds a run that stopped before its first checkpoint "
        "(c.pt; it left jobs.jsonl, metrics.json), so --resume cannot continue it: pass "
        "--overwrite (overwrite=True) to start again there, replacing those files, or choose "
        "another output folder (CLI: --out)"
    )
