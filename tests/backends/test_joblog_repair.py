"""The job log survives torn and garbage lines; a resume reuses jobs that completed."""

import json

import pytest

from hybridqml.hardware import _joblog as joblog

CALL = {"event": "call", "status": "done", "executed_shots": 300, "qpu_seconds": 0.5}


def _line(record):
    return json.dumps(record) + "\n"


def test_a_torn_last_line_is_skipped_and_named(tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_text(_line(CALL) + '{"event": "ca')
    with pytest.warns(RuntimeWarning, match=r"line\(s\) 2\b"):
        assert joblog.read_job_log(path) == [CALL]


@pytest.mark.parametrize(
    "garbage",
    [b'{"event": "ca', b"\x00\x00\x00\x00", b"\xff\xfe\x80binary", b"[1, 2]", b"42"],
    ids=["torn", "nul-bytes", "binary", "json-list", "json-number"],
)
def test_a_garbage_line_in_the_middle_is_skipped_with_its_line_number(tmp_path, garbage):
    path = tmp_path / "jobs.jsonl"
    path.write_bytes(_line(CALL).encode() + garbage + b"\n" + _line(CALL).encode())
    with pytest.warns(RuntimeWarning, match=r"skipped 1 line\(s\).*line\(s\) 2\b"):
        records = joblog.read_job_log(path)
    assert records == [CALL, CALL]
    # the totals --max-shots counts: written out by hand from the two good lines
    with pytest.warns(RuntimeWarning):
        totals = joblog.job_totals(joblog.read_job_log(path))
    assert totals == {"calls": 2, "executed_shots": 600, "qpu_seconds": 1.0}


def test_a_log_opened_after_a_torn_line_never_appends_onto_it(tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_text(_line(CALL) + '{"event": "call", "sta')  # power cut mid-line
    with pytest.warns(RuntimeWarning, match="line"), joblog.JobLog(path) as log:
        log.write({"event": "submitted", "job_id": "j1", "fingerprint": "f"})
    lines = path.read_text().split("\n")
    assert lines[1] == '{"event": "call", "sta'  # the torn line stays on its own line
    assert json.loads(lines[2]) == {"event": "submitted", "job_id": "j1", "fingerprint": "f"}
    with pytest.warns(RuntimeWarning, match=r"line\(s\) 2\b"):
        records = joblog.read_job_log(path)
    assert [r["event"] for r in records] == ["call", "submitted"]


def test_a_clean_log_reads_without_warning(tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_text(_line(CALL) + _line(CALL))
    with joblog.JobLog(path) as log:  # filterwarnings=error: any warning fails here
        log.write(CALL)
    assert path.read_text().count("\n") == 3
