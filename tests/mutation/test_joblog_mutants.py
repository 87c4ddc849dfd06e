"""The job log's records and bookkeeping, against written-out lines and totals."""

from __future__ import annotations

import json
import os

import pytest
from _mutmut import reported_at

from hybridqml.execution import _tracking as tracking
from hybridqml.hardware import _joblog as jl


def call(backend="ibm_fake", circuits=2, bindings=3, shots=100):
    record = tracking.CallRecord(backend, circuits, bindings, shots)
    record.wall = 1_700_000_000.25  # 2023-11-14T22:13:20.250Z
    return record


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_done_call_line_holds_every_field(tmp_path):
    path = tmp_path / "sub" / jl.JOBS_NAME
    with jl.JobLog(path) as log:
        log.write_call(
            call(),
            "done",
            {"job_id": "j1", "attempts": 3, "usage": {"quantum_seconds": 2}, "fingerprint": "fp"},
            qpu_seconds=1.5,
        )
    (record,) = lines(path)
    assert record.pop("duration") >= 0
    assert record == {
        "event": "call",
        "time": "2023-11-14T22:13:20.250Z",
        "backend": "ibm_fake",
        "job_id": "j1",
        "circuits": 2,
        "bindings": 3,
        "shots": 100,
        "executed_shots": 600,  # 2 circuits x 3 bindings x 100 shots
        "status": "done",
        "attempts": 3,
        "usage": {"quantum_seconds": 2},
        "qpu_seconds": 1.5,
        "fingerprint": "fp",
    }


def test_a_failed_call_spends_nothing_and_names_its_error(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    with jl.JobLog(path) as log:
        log.write_call(
            call(shots=None),
            "failed",
            {"job_pending": True, "recovered_job_id": "old"},
            qpu_seconds=9.0,
            error=TimeoutError("waited 60 s"),
        )
        log.write_call(call(shots=None), "done", {})
        log.write_call(call(), "failed", {"job_pending": False})
    failed, exact, plain_failure = lines(path)
    assert failed["executed_shots"] == 0 and failed["qpu_seconds"] == 0.0
    assert failed["error"] == "TimeoutError: waited 60 s"
    assert failed["job_pending"] is True and failed["recovered_job_id"] == "old"
    assert failed["attempts"] == 1 and failed["job_id"] is None and failed["usage"] is None
    assert "fingerprint" not in failed
    assert exact["executed_shots"] == 0 and exact["qpu_seconds"] is None
    assert "error" not in exact and "job_pending" not in exact and "recovered_job_id" not in exact
    assert "job_pending" not in plain_failure


def test_no_file_without_a_call_and_writing_to_a_closed_log_is_refused(tmp_path):
    path = tmp_path / "new" / jl.JOBS_NAME
    log = jl.JobLog(path)
    with log:
        pass
    assert not path.exists() and not path.parent.exists()
    with pytest.raises(RuntimeError, match=r"job log .* is not open"):
        log.write({"event": "call"})


def test_lines_are_appended_to_an_existing_log(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    path.write_text('{"event": "submitted", "job_id": "a", "fingerprint": "f"}\n')
    with jl.JobLog(path) as log:
        assert log.pending == [{"event": "submitted", "job_id": "a", "fingerprint": "f"}]
        log.write({"event": "retry", "value": 2, "obj": object})
    first, second = lines(path)
    assert first["job_id"] == "a"
    assert second["value"] == 2 and second["obj"] == repr(object)


def test_job_lines_are_fsynced_and_local_calls_only_flushed(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(jl.os, "fsync", lambda fd: synced.append(fd))
    with jl.JobLog(tmp_path / jl.JOBS_NAME) as log:
        log.write({"event": "call", "job_id": None})
        assert synced == []
        log.write({"event": "call", "job_id": "j"})
        assert len(synced) == 1
        log.write({"event": "submitted"})
        assert len(synced) == 2


def test_non_finite_numbers_are_refused_and_numbers_of_other_types_converted(tmp_path):
    import numpy as np

    with jl.JobLog(tmp_path / jl.JOBS_NAME) as log:
        log.write({"event": "call", "x": np.float32(0.5), "n": np.int64(3)})
        with pytest.raises(ValueError):
            log.write({"event": "call", "x": float("nan")})
    (record,) = lines(tmp_path / jl.JOBS_NAME)
    assert record["x"] == 0.5 and record["n"] == 3.0


def test_pending_jobs_follow_calls_retries_and_recoveries():
    records = [
        {"event": "submitted", "job_id": "a", "fingerprint": "1"},
        {"event": "submitted", "job_id": "b", "fingerprint": "2"},
        {"event": "submitted", "job_id": "c", "fingerprint": "3"},
        {"event": "submitted", "job_id": "d", "fingerprint": "4"},
        {"event": "submitted", "job_id": "e", "fingerprint": "5"},
        {"event": "submitted", "job_id": "f", "fingerprint": "6"},
        {"event": "submitted", "fingerprint": "7"},  # no job id: nothing to fetch
        {"event": "call", "job_id": "a"},  # collected
        {"event": "call", "job_id": "b", "job_pending": True},  # gave up waiting: still pending
        {"event": "retry", "job_id": "c", "kind": "transient"},  # resubmitted: gone
        {"event": "retry", "job_id": "d", "kind": "timeout"},  # waited for again: pending
        {"event": "retry", "job_id": "e", "kind": "poll"},  # waited for again: pending
        {"event": "call", "job_id": "z", "recovered_job_id": "f"},  # fetched by a resume
    ]
    assert [r["job_id"] for r in jl.pending_jobs(records)] == ["b", "d", "e"]
    assert {"timeout", "poll"} == jl.WAITED_FOR
    pending = jl.pending_jobs(records)
    pending[0]["job_id"] = "changed"
    assert records[1]["job_id"] == "b"  # copies


def test_job_totals_count_only_completed_calls():
    records = [
        {"event": "call", "status": "done", "executed_shots": 300, "qpu_seconds": 0.5},
        {"event": "call", "status": "done", "executed_shots": None, "qpu_seconds": None},
        {"event": "call", "status": "done", "executed_shots": "40", "qpu_seconds": "1.25"},
        {"event": "call", "status": "failed", "executed_shots": 1000, "qpu_seconds": 9.0},
        {"event": "submitted", "status": "done", "executed_shots": 7, "qpu_seconds": 7.0},
        {"event": "call", "status": "done"},
    ]
    totals = jl.job_totals(records)
    assert totals == {"calls": 4, "executed_shots": 340, "qpu_seconds": 1.75}
    assert isinstance(totals["qpu_seconds"], float)
    assert jl.job_totals([]) == {"calls": 0, "executed_shots": 0, "qpu_seconds": 0.0}


def test_take_pending_returns_the_oldest_match_once(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    path.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"event": "submitted", "job_id": "a", "fingerprint": "x"},
                {"event": "submitted", "job_id": "b", "fingerprint": "y"},
                {"event": "submitted", "job_id": "c", "fingerprint": "x"},
            ]
        )
    )
    with jl.JobLog(path) as log:
        assert log.take_pending("x")["job_id"] == "a"
        assert log.take_pending("x")["job_id"] == "c"
        assert log.take_pending("x") is None
        assert [r["job_id"] for r in log.pending] == ["b"]


def test_the_innermost_log_is_active_and_job_log_is_reentrant(tmp_path):
    assert jl.active_log() is None
    with jl.job_log(None) as nothing:
        assert nothing is None and jl.active_log() is None
    with jl.job_log(tmp_path / "a") as outer:
        assert outer.path == (tmp_path / "a" / jl.JOBS_NAME).resolve()
        assert jl.is_logging(tmp_path / "a") and not jl.is_logging(tmp_path / "b")
        with jl.job_log(tmp_path / "a") as same:
            assert same is outer
        assert jl.active_log() is outer  # the re-entered block did not close it
        with jl.JobLog(tmp_path / "b" / jl.JOBS_NAME) as inner:
            assert jl.active_log() is inner
        assert jl.active_log() is outer
    assert jl.active_log() is None and not jl.is_logging(tmp_path / "a")


def test_a_layer_call_is_logged_through_the_tracker(tmp_path):
    record = call("aer", 1, 4, 50)
    with jl.JobLog(tmp_path / jl.JOBS_NAME):
        finisher = jl._observe(record)
        finisher(record, "done", {}, 0.0)
    assert jl._observe(record) is None
    (line,) = lines(tmp_path / jl.JOBS_NAME)
    assert (line["backend"], line["bindings"], line["executed_shots"]) == ("aer", 4, 200)


@pytest.mark.parametrize(
    ("stamp", "text"),
    [(0.0, "1970-01-01T00:00:00.000Z"), (86_461.9996, "1970-01-02T00:01:01.999Z")],
)
def test_timestamps_are_utc_with_milliseconds(stamp, text):
    assert jl._iso(stamp) == text


def test_a_rank_of_a_data_parallel_run_signs_its_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(jl._ranks, "is_distributed", lambda: True)
    monkeypatch.setattr(jl._ranks, "rank", lambda: 2)
    with jl.JobLog(tmp_path / jl.JOBS_NAME) as log:
        log.write({"event": "call"})
    assert lines(tmp_path / jl.JOBS_NAME) == [{"event": "call", "rank": 2}]
    assert os.path.getsize(tmp_path / jl.JOBS_NAME) == len('{"event": "call", "rank": 2}\n')


# --- skipped lines: the warning names the file, the count and the line numbers --------------


def _garbage_log(path, bad_lines):
    """A log whose lines 1..n are records except those in ``bad_lines`` (1-based), torn."""
    count = max(bad_lines) + 1
    text = "".join(
        ('{"event": "ca' if number in bad_lines else '{"event": "call"}') + "\n"
        for number in range(1, count + 1)
    )
    path.write_text(text)
    return count - len(bad_lines)


def _skipped_message(path, count, shown):
    return (
        f"job log {str(path)!r}: skipped {count} line(s) that are not JSON records (torn by a "
        f"crash or a full disk, or corrupted): line(s) {shown}; the calls they described are "
        "not counted"
    )


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        ([2], "2"),
        ([1, 3, 4], "1, 3, 4"),
        (list(range(1, 11)), "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"),  # ten: all shown, no "..."
        (list(range(1, 12)), "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ..."),  # eleven: first ten
        (list(range(3, 15)), "3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ..."),  # twelve
    ],
)
def test_read_job_log_warns_with_the_file_count_and_line_numbers(tmp_path, bad, shown):
    path = tmp_path / jl.JOBS_NAME
    good = _garbage_log(path, bad)
    with pytest.warns(RuntimeWarning) as caught:
        records = jl.read_job_log(path)
    assert records == [{"event": "call"}] * good
    assert len(caught) == 1
    assert str(caught[0].message) == _skipped_message(path, len(bad), shown)
    assert caught[0].category is RuntimeWarning
    assert reported_at(caught[0].filename, __file__)  # reported at the caller of read_job_log


def test_read_job_log_accepts_a_string_path(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    _garbage_log(path, [1])
    with pytest.warns(RuntimeWarning) as caught:
        assert jl.read_job_log(str(path)) == [{"event": "call"}]
    assert str(caught[0].message) == _skipped_message(path, 1, "1")


def test_opening_a_log_with_garbage_warns_at_the_with_statement(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    _garbage_log(path, [1, 2])
    with pytest.warns(RuntimeWarning) as caught, jl.JobLog(path):
        pass
    assert str(caught[0].message) == _skipped_message(path, 2, "1, 2")
    assert reported_at(caught[0].filename, __file__)


# --- writing: folders, errors, full disks and short writes ----------------------------------


def test_a_log_creates_every_missing_folder_of_its_path(tmp_path):
    path = tmp_path / "a" / "b" / "c" / jl.JOBS_NAME
    with jl.JobLog(path) as log:
        log.write({"event": "submitted", "job_id": "j"})
    assert lines(path) == [{"event": "submitted", "job_id": "j"}]


def test_the_closed_log_error_names_the_file(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    log = jl.JobLog(path)
    with pytest.raises(RuntimeError) as info:
        log.write({"event": "call"})
    assert str(info.value) == f"job log {str(path)!r} is not open"


def test_a_full_disk_is_a_storage_error_naming_the_log(tmp_path, monkeypatch):
    import errno

    from hybridqml.exceptions import StorageError

    path = tmp_path / jl.JOBS_NAME

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    with jl.JobLog(path) as log:
        monkeypatch.setattr(jl.os, "write", full)
        with pytest.raises(StorageError) as info:
            log.write({"event": "call", "job_id": "j"})
    assert info.value.path == path
    assert str(info.value).startswith(f"cannot write 'jobs.jsonl' in {str(tmp_path)!r}: ")
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.ENOSPC


def test_other_write_errors_pass_through_unchanged(tmp_path, monkeypatch):
    import errno

    from hybridqml.exceptions import StorageError

    error = OSError(errno.EIO, "Input/output error")

    def broken(fd, data):
        raise error

    with jl.JobLog(tmp_path / jl.JOBS_NAME) as log:
        monkeypatch.setattr(jl.os, "write", broken)
        with pytest.raises(OSError) as info:
            log.write({"event": "call"})
    assert info.value is error and not isinstance(info.value, StorageError)


def test_a_short_write_is_a_storage_error_and_the_next_line_starts_fresh(tmp_path, monkeypatch):
    from hybridqml.exceptions import StorageError

    path = tmp_path / jl.JOBS_NAME
    real_write = os.write
    calls = []

    def short_once(fd, data):
        calls.append(bytes(data))
        if len(calls) == 1:
            return real_write(fd, data[:10])  # the disk filled up after 10 bytes
        return real_write(fd, data)

    with jl.JobLog(path) as log:
        monkeypatch.setattr(jl.os, "write", short_once)
        with pytest.raises(StorageError) as info:
            log.write({"event": "submitted", "job_id": "j1", "fingerprint": "f"})
        assert info.value.path == path
        log.write({"event": "call", "job_id": "j2"})
        log.write({"event": "call", "job_id": "j3"})
    assert calls[1] == b'\n{"event": "call", "job_id": "j2"}\n'  # ends the torn line first
    assert calls[2] == b'{"event": "call", "job_id": "j3"}\n'  # then back to plain lines
    assert path.read_bytes() == (
        b'{"event": \n{"event": "call", "job_id": "j2"}\n{"event": "call", "job_id": "j3"}\n'
    )
    with pytest.warns(RuntimeWarning, match=r"skipped 1 line\(s\).*line\(s\) 1;"):
        assert [r["job_id"] for r in jl.read_job_log(path)] == ["j2", "j3"]


def test_a_write_that_failed_midway_ends_its_line_before_the_next(tmp_path, monkeypatch):
    import errno

    from hybridqml.exceptions import StorageError

    path = tmp_path / jl.JOBS_NAME
    real_write = os.write
    state = {"failed": False}

    def part_then_fail(fd, data):
        if not state["failed"]:  # some bytes reach the file, then the call fails
            state["failed"] = True
            real_write(fd, data[:7])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    with jl.JobLog(path) as log:
        monkeypatch.setattr(jl.os, "write", part_then_fail)
        with pytest.raises(StorageError):
            log.write({"event": "submitted", "job_id": "j1"})
        log.write({"event": "call", "job_id": "j2"})
    assert path.read_bytes() == b'{"event\n{"event": "call", "job_id": "j2"}\n'


# --- the call line: failed calls, durations and mitigation ----------------------------------


def test_a_failed_call_with_shots_executed_nothing(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    with jl.JobLog(path) as log:
        log.write_call(call(shots=100), "failed", {"job_id": "j"}, qpu_seconds=2.0)
    (record,) = lines(path)
    assert record["executed_shots"] == 0 and record["qpu_seconds"] == 0.0


def test_the_duration_is_seconds_since_the_start_to_the_microsecond(tmp_path, monkeypatch):
    path = tmp_path / jl.JOBS_NAME
    record = call()
    record.started = 10.0
    monkeypatch.setattr(jl.time, "perf_counter", lambda: 12.34567891)
    with jl.JobLog(path) as log:
        log.write_call(record, "done", {})
    assert lines(path)[0]["duration"] == 2.345679


def test_the_mitigation_of_a_call_is_recorded(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    mitigation = {"readout": True, "zne": {"scale_factors": [1, 3, 5]}}
    with jl.JobLog(path) as log:
        log.write_call(call(), "done", {"job_id": "j", "mitigation": mitigation})
        log.write_call(call(), "done", {"job_id": "k", "mitigation": None})
    first, second = lines(path)
    assert first["mitigation"] == {"readout": True, "zne": {"scale_factors": [1, 3, 5]}}
    assert "mitigation" not in second


# --- reading: blank lines, torn last lines, reusable jobs -----------------------------------


def test_blank_lines_anywhere_are_ignored_without_a_warning(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    path.write_text('{"event": "call", "n": 1}\n\n  \n{"event": "call", "n": 2}\n\n')
    assert jl.read_job_log(path) == [{"event": "call", "n": 1}, {"event": "call", "n": 2}]


def test_opening_a_log_ends_its_torn_last_line_at_once(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    path.write_bytes(b'{"event": "call"}\n{"event": "sub')
    with pytest.warns(RuntimeWarning, match=r"line\(s\) 2;"), jl.JobLog(path):
        assert path.read_bytes() == b'{"event": "call"}\n{"event": "sub\n'
    assert path.read_bytes() == b'{"event": "call"}\n{"event": "sub\n'


def test_opening_a_whole_or_empty_log_adds_nothing(tmp_path):
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(b'{"event": "call"}\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with jl.JobLog(whole), jl.JobLog(empty):
        pass
    assert whole.read_bytes() == b'{"event": "call"}\n' and empty.read_bytes() == b""


def test_reusable_jobs_are_completed_calls_with_a_job_and_fingerprint_not_yet_recovered():
    records = [
        {"event": "call", "status": "done", "job_id": "a", "fingerprint": "f"},  # reusable
        {"event": "call", "status": "done", "job_id": None, "fingerprint": "g"},  # no job
        {"event": "call", "status": "done", "job_id": "c"},  # no fingerprint
        {"event": "call", "status": "failed", "job_id": "d", "fingerprint": "h"},  # failed
        {"event": "submitted", "status": "done", "job_id": "e", "fingerprint": "i"},  # not a call
        {"event": "call", "status": "done", "job_id": "b", "fingerprint": "j"},  # recovered below
        {
            "event": "call",
            "status": "done",
            "job_id": "b",
            "recovered_job_id": "b",
            "fingerprint": "j",
        },
        {"event": "call", "status": "done", "job_id": "k", "fingerprint": "l"},  # reusable
    ]
    reusable = jl.reusable_jobs(records)
    assert reusable == [records[0], records[7]]
    reusable[0]["job_id"] = "changed"
    assert records[0]["job_id"] == "a"  # copies
    assert jl.reusable_jobs([]) == []


def test_an_opened_log_offers_pending_then_reusable_jobs(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    records = [
        {"event": "call", "status": "done", "job_id": "done1", "fingerprint": "x"},
        {"event": "submitted", "job_id": "queued", "fingerprint": "x"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    log = jl.JobLog(path)
    assert log.pending == [] and log.take_pending("x") is None  # nothing before opening
    with log:
        assert [r["job_id"] for r in log.pending] == ["queued", "done1"]
        assert log.take_pending("x")["job_id"] == "queued"
        assert log.take_pending("x")["job_id"] == "done1"


def test_a_log_object_can_be_opened_again_after_closing(tmp_path):
    path = tmp_path / jl.JOBS_NAME
    log = jl.JobLog(path)
    with log:
        log.write({"event": "submitted", "job_id": "a"})
    with log:
        log.write({"event": "submitted", "job_id": "b"})
    assert lines(path) == [
        {"event": "submitted", "job_id": "a"},
        {"event": "submitted", "job_id": "b"},
    ]
    with pytest.raises(RuntimeError, match="is not open"):
        log.write({"event": "call"})
