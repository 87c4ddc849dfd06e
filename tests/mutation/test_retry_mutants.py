"""Job retries: the failure classifier, the backoff, and JobRunner on scripted fake jobs.

Exceptions are stand-ins named like qiskit-ibm-runtime's (the classifier reads class names,
messages and ``status_code``); every expected kind, delay, log line and message is written out.
"""

from __future__ import annotations

import json
import random

import pytest

from hybridqml.exceptions import ConfigurationError, JobFailedError
from hybridqml.hardware import _joblog as joblog
from hybridqml.hardware import _retry as R


def named(name, base=Exception, **attrs):
    cls = type(name, (base,), {})
    exc_cls = cls

    def make(message=""):
        exc = exc_cls(message)
        for key, value in attrs.items():
            setattr(exc, key, value)
        return exc

    return make


def api_error(status):
    return named("RequestsApiError", status_code=status)("api said no")


@pytest.mark.parametrize("status", [-1, 408, 409, 425, 429, 500, 502, 503, 504])
def test_transient_http_statuses(status):
    assert R.classify(api_error(status)) == "transient"


@pytest.mark.parametrize("status", [None, 400, 401, 403, 404, 501, 505])
def test_permanent_http_statuses(status):
    assert R.classify(api_error(status)) == "permanent"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (named("RuntimeJobTimeoutError")("session is closed"), "timeout"),  # before session
        (named("JobTimeoutError")("x"), "timeout"),
        (named("IBMRuntimeError")("The session is closed."), "session"),
        (named("IBMRuntimeError")("Session 12 has expired"), "session"),
        (named("IBMRuntimeError")("session xyz is not active"), "session"),
        (named("IBMRuntimeError")("SESSION was INACTIVE"), "session"),
        (named("IBMRuntimeError")("session open"), "permanent"),
        (named("IBMNotAuthorizedError")("Error code 1010"), "permanent"),
        (named("IBMAccountError")("x"), "permanent"),
        (named("RuntimeJobMaxTimeoutError")("x"), "permanent"),
        (named("ConnectionError")("x"), "transient"),
        (named("ConnectTimeout")("x"), "transient"),
        (named("ReadTimeout")("x"), "transient"),
        (named("Timeout")("x"), "transient"),
        (named("ChunkedEncodingError")("x"), "transient"),
        (ConnectionResetError("reset"), "transient"),
        (TimeoutError("slow"), "transient"),
        (named("RuntimeJobFailureError")("Error code 1006; x"), "transient"),
        (named("RuntimeJobFailureError")("error code: 1008"), "transient"),
        (named("RuntimeJobFailureError")("ERROR CODE 1011"), "transient"),
        (named("RuntimeJobFailureError")("Error code 1202"), "transient"),
        (named("RuntimeJobFailureError")("Error code 1010"), "transient"),
        (named("RuntimeJobFailureError")("Error code 1003"), "permanent"),
        # a longer number is not a retryable four-digit code that happens to start it
        (named("RuntimeJobFailureError")("Error code 10100"), "permanent"),
        (named("RuntimeJobFailureError")("Error code 1010."), "transient"),
        (ValueError("bad circuit"), "permanent"),
    ],
)
def test_classify(exc, kind):
    assert R.classify(exc) == kind


def test_a_subclass_is_classified_by_its_bases():
    base = type("RequestsApiError", (Exception,), {})
    sub = type("Mine", (base,), {})("x")
    sub.status_code = 503
    assert R.classify(sub) == "transient"


def test_describe_names_the_cause_and_the_code():
    assert R.describe(ValueError("bad")) == "a permanent failure: ValueError: bad"
    assert R.describe(TimeoutError("t")) == "a transient failure: TimeoutError: t"
    assert R.describe(named("IBMRuntimeError")("session closed")) == (
        "the session was closed or expired: IBMRuntimeError: session closed"
    )
    assert R.describe(named("JobTimeoutError")("late")) == (
        "the job did not finish in time: JobTimeoutError: late"
    )
    assert R.describe(named("RuntimeJobFailureError")("Error code 1010; x")) == (
        "a transient failure (IBM error code 1010, see https://quantum.cloud.ibm.com/docs/errors)"
        ": RuntimeJobFailureError: Error code 1010; x"
    )
    assert R.describe(api_error(401)).startswith("not authorized (check the account's token")
    assert R.describe(api_error(403)).startswith("not authorized")
    assert R.describe(named("IBMNotAuthorizedError")("no")).startswith("not authorized")
    assert R.describe(api_error(404)).startswith("a permanent failure: RequestsApiError")


def test_the_backoff_doubles_up_to_the_cap_and_jitter_adds_a_share():
    policy = R.RetryPolicy(base_delay=1.5, multiplier=3.0, max_delay=20.0, jitter=0.0)
    assert [policy.delay(a) for a in (1, 2, 3, 4)] == [1.5, 4.5, 13.5, 20.0]
    jittery = R.RetryPolicy(base_delay=2.0, jitter=0.5)
    rng = random.Random(3)
    expected = 4.0 + 4.0 * 0.5 * random.Random(3).random()
    assert jittery.delay(2, rng) == pytest.approx(expected, abs=1e-15)
    assert jittery.delay(2) == 4.0  # no generator: no jitter
    assert (
        R.RetryPolicy(max_attempts=4, base_delay=2.0, multiplier=2.0, max_delay=120.0, jitter=0.1)
        == R.DEFAULT_RETRY_POLICY
    )
    assert R.DEFAULT_RETRY_POLICY.job_timeout is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be an integer >= 1, got 0"),
        ({"max_attempts": True}, "max_attempts must be an integer >= 1, got True"),
        ({"max_attempts": 2.0}, "max_attempts must be an integer >= 1, got 2.0"),
        ({"base_delay": -1.0}, "base_delay must be >= 0, got -1.0"),
        ({"max_delay": float("nan")}, "max_delay must be >= 0, got nan"),
        ({"jitter": -0.1}, "jitter must be >= 0, got -0.1"),
        ({"multiplier": 0.5}, "multiplier must be >= 1, got 0.5"),
        ({"job_timeout": 0}, "job_timeout must be > 0 or None, got 0"),
    ],
)
def test_bad_policies_are_refused(kwargs, message):
    with pytest.raises(ConfigurationError) as info:
        R.RetryPolicy(**kwargs)
    assert str(info.value) == message


def test_edge_policies_are_accepted():
    R.RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, jitter=0.0, multiplier=1.0)
    R.RetryPolicy(job_timeout=0.5)


class Job:
    def __init__(self, job_id, outcome, usage=None):
        self._id, self.outcome, self.usage = job_id, outcome, usage
        self.timeouts = []

    def job_id(self):
        return self._id

    def result(self, timeout="none"):
        self.timeouts.append(timeout)
        outcome = self.outcome.pop(0) if isinstance(self.outcome, list) else self.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def metrics(self):
        return {"usage": self.usage} if self.usage is not None else {}


def runner(max_attempts=3, **kwargs):
    delays = []
    policy = R.RetryPolicy(
        max_attempts=max_attempts, base_delay=1.0, jitter=0.0, sleep=delays.append, **kwargs
    )
    return R.JobRunner("ibm_fake", policy), delays


def test_a_transient_failure_is_resubmitted_after_the_backoff(tmp_path):
    failed = named("RuntimeJobFailureError")
    jobs = [
        Job("j1", failed("Error code 1202")),
        Job("j2", failed("Error code 1006")),
        Job("j3", "ok", {"quantum_seconds": 4}),
    ]
    run, delays = runner()
    info = {}
    with joblog.JobLog(tmp_path / joblog.JOBS_NAME):
        assert run.run(lambda: jobs.pop(0), fingerprint="fp", info=info, size={"shots": 5}) == "ok"
    assert delays == [1.0, 2.0]
    assert info == {
        "fingerprint": "fp",
        "attempts": 3,
        "job_id": "j3",
        "usage": {"quantum_seconds": 4},
        "qpu_seconds": 4.0,
    }
    lines = [json.loads(x) for x in (tmp_path / joblog.JOBS_NAME).read_text().splitlines()]
    assert [(r["event"], r["job_id"], r["attempt"]) for r in lines] == [
        ("submitted", "j1", 1),
        ("retry", "j1", 1),
        ("submitted", "j2", 2),
        ("retry", "j2", 2),
        ("submitted", "j3", 3),
    ]
    assert lines[0]["shots"] == 5 and lines[0]["backend"] == "ibm_fake"
    assert lines[0]["fingerprint"] == "fp"
    assert lines[1]["kind"] == "transient" and lines[1]["delay"] == 1.0
    assert lines[1]["cause"] == (
        "a transient failure (IBM error code 1202, see https://quantum.cloud.ibm.com/docs/errors)"
        ": RuntimeJobFailureError: Error code 1202"
    )


def test_http_429_at_submission_is_retried():
    run, delays = runner()
    answers = [api_error(429), Job("j1", "ok")]

    def submit():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert run.run(submit, fingerprint="fp", info={}) == "ok"
    assert delays == [1.0]


def test_a_permanent_failure_is_not_retried():
    run, delays = runner()
    calls = []

    def submit():
        calls.append(1)
        return Job("j1", ValueError("bad circuit"))

    info = {}
    with pytest.raises(JobFailedError) as err:
        run.run(submit, fingerprint="fp", info=info)
    assert len(calls) == 1 and delays == []
    e = err.value
    assert str(e) == (
        "job j1 on backend 'ibm_fake' failed (not retried): a permanent failure: "
        "ValueError: bad circuit"
    )
    assert (e.job_id, e.attempts, e.transient) == ("j1", 1, False)
    assert info["job_pending"] is False


def test_attempts_run_out():
    run, delays = runner(max_attempts=2)

    def submit():
        raise ConnectionError("down")

    with pytest.raises(JobFailedError) as err:
        run.run(submit, fingerprint="fp", info={})
    assert delays == [1.0]
    assert str(err.value) == (
        "the job (no job id: it was not accepted) on backend 'ibm_fake' failed after 2 attempts: "
        "a transient failure: ConnectionError: down"
    )
    assert err.value.transient is True and err.value.job_id is None


def test_a_timed_out_job_is_waited_for_again_without_delay_or_resubmission():
    run, delays = runner(job_timeout=30.0)
    job = Job("j1", [named("RuntimeJobTimeoutError")("late"), "done"])
    submits = []

    def submit():
        submits.append(1)
        return job

    assert run.run(submit, fingerprint="fp", info={}) == "done"
    assert submits == [1] and delays == [] and job.timeouts == [30.0, 30.0]


def test_a_lost_connection_while_polling_waits_for_the_same_job():
    run, delays = runner(max_attempts=2)
    job = Job("j1", [ConnectionError("poll"), ConnectionError("poll again")])
    info = {}
    with pytest.raises(JobFailedError) as err:
        run.run(lambda: job, fingerprint="fp", info=info)
    assert job.timeouts == ["none", "none"]  # no timeout set: result() without one
    assert info["job_pending"] is True
    assert delays == [1.0]  # the backoff before polling again
    assert "(the job may still finish: --resume fetches its result by id)" in str(err.value)
    assert str(err.value).startswith("job j1 on backend 'ibm_fake' failed after 2 attempts")


def test_a_failed_job_with_an_error_code_is_resubmitted_not_polled():
    run, _ = runner()
    jobs = [Job("j1", named("RuntimeJobFailureError")("Error code 1010")), Job("j2", "ok")]
    assert run.run(lambda: jobs.pop(0), fingerprint="fp", info={}) == "ok"
    assert R._lost_while_polling(named("RuntimeJobFailureError")("x")) is False
    assert R._lost_while_polling(ConnectionError("Error code 1010")) is False
    assert R._lost_while_polling(api_error(503)) is True
    assert R._lost_while_polling(ValueError("x")) is False


def test_a_closed_session_is_reopened_and_resubmitted():
    run, delays = runner()
    reopened = []
    jobs = [Job("j1", named("IBMRuntimeError")("session closed")), Job("j2", 7)]
    assert (
        run.run(lambda: jobs.pop(0), fingerprint="f", info={}, reopen=lambda: reopened.append(1))
        == 7
    )
    assert reopened == [1] and delays == [1.0]


def test_a_pending_job_of_an_earlier_run_is_fetched_not_paid_again(tmp_path):
    path = tmp_path / joblog.JOBS_NAME
    path.write_text(json.dumps({"event": "submitted", "job_id": "old", "fingerprint": "fp"}) + "\n")
    run, _ = runner()
    info = {}
    with joblog.JobLog(path):
        result = run.run(
            lambda: pytest.fail("submitted again"),
            fingerprint="fp",
            info=info,
            fetch=lambda job_id: Job(job_id, "old result", {"qpu_charge_time_seconds": "2.5"}),
        )
    assert result == "old result"
    assert info["job_id"] == "old" and info["recovered_job_id"] == "old" and info["attempts"] == 0
    assert info["qpu_seconds"] == 2.5


def test_a_pending_job_that_is_gone_is_logged_and_submitted_anew(tmp_path):
    path = tmp_path / joblog.JOBS_NAME
    path.write_text(json.dumps({"event": "submitted", "job_id": "old", "fingerprint": "fp"}) + "\n")
    run, _ = runner()

    def fetch(job_id):
        raise KeyError(job_id)

    with joblog.JobLog(path):
        assert (
            run.run(lambda: Job("new", "fresh"), fingerprint="fp", info={}, fetch=fetch) == "fresh"
        )
        assert (
            run.run(lambda: Job("n2", "r2"), fingerprint="fp", info={}, fetch=lambda j: None)
            == "r2"
        )
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert (lines[1]["event"], lines[1]["job_id"], lines[1]["attempt"]) == ("retry", "old", 0)
    assert lines[1]["cause"] == "a permanent failure: KeyError: 'old'"


def test_job_ids_and_usage_of_odd_jobs():
    class NoId:
        pass

    class BadId:
        def job_id(self):
            raise RuntimeError("gone")

    class AttrId:
        job_id = 42

    assert R.job_id_of(NoId()) is None and R.job_id_of(BadId()) is None
    assert R.job_id_of(AttrId()) == "42"

    class Metrics:
        def __init__(self, data):
            self.data = data

        def metrics(self):
            if isinstance(self.data, Exception):
                raise self.data
            return self.data

    assert R.job_usage(NoId()) == (None, None)
    assert R.job_usage(Metrics(RuntimeError("x"))) == (None, None)
    assert R.job_usage(Metrics({"usage": {}})) == (None, None)
    assert R.job_usage(Metrics(["usage"])) == (None, None)
    assert R.job_usage(Metrics({"usage": {"seconds": 3}})) == ({"seconds": 3}, None)
    assert R.job_usage(Metrics({"usage": {"quantum_seconds": "x"}})) == (
        {"quantum_seconds": "x"},
        None,
    )
    both = {"quantum_seconds": 1, "qpu_charge_time_seconds": 9}
    assert R.job_usage(Metrics({"usage": both})) == (both, 1.0)


def test_fingerprints_change_with_every_input():
    from qiskit import QuantumCircuit

    a, b = QuantumCircuit(1), QuantumCircuit(1)
    a.h(0)
    b.x(0)
    base = R.fingerprint([a], [[0.0]], 100, 7)
    assert len(base) == 24 and int(base, 16) >= 0
    others = [
        R.fingerprint([b], [[0.0]], 100, 7),
        R.fingerprint([a], [[0.5]], 100, 7),
        R.fingerprint([a], [[0.0]], 200, 7),
        R.fingerprint([a], [[0.0]], 100, 8),
        R.fingerprint([a, a], [[0.0]], 100, 7),
    ]
    assert len({base, *others}) == 6
    assert R.fingerprint([a], [[0]], 100, 7) == base  # ints and floats of the same angle


# --- survivors of the mutation run (issue 24): each test names what it pins


@pytest.mark.parametrize("name", ["IBMNotAuthorizedError", "IBMAccountError"])
def test_account_errors_are_permanent_even_with_a_retryable_code(name):
    # the real classes (qiskit-ibm-runtime): account problems never fix themselves by retrying
    from qiskit_ibm_runtime import exceptions as ibm

    assert R.classify(getattr(ibm, name)("Error code 1010; account not set up")) == "permanent"


def test_a_job_over_its_maximum_time_is_permanent_even_with_a_retryable_code():
    from qiskit_ibm_runtime.exceptions import RuntimeJobMaxTimeoutError

    exc = RuntimeJobMaxTimeoutError("Error code 1011; job exceeded its maximum execution time")
    assert R.classify(exc) == "permanent"


def test_the_jitter_comes_from_the_runners_own_generator():
    delays = []
    policy = R.RetryPolicy(max_attempts=2, base_delay=1.0, jitter=0.5, sleep=delays.append)
    run = R.JobRunner("ibm_fake", policy)
    jobs = [Job("j1", named("RuntimeJobFailureError")("Error code 1202")), Job("j2", "ok")]
    assert run.run(lambda: jobs.pop(0), fingerprint="fp", info={}) == "ok"
    # 1 s plus a share in (0, 0.5 s]: random.random() == 0.0 has probability 2**-53
    assert len(delays) == 1 and 1.0 < delays[0] <= 1.5


def test_a_fetch_without_an_active_job_log_just_submits():
    run, _ = runner()
    fetched = []
    result = run.run(
        lambda: Job("j1", "ok"),
        fingerprint="fp",
        info={},
        fetch=lambda job_id: fetched.append(job_id),
    )
    assert result == "ok" and fetched == []


def test_the_logged_delay_is_rounded_to_milliseconds(tmp_path):
    delays = []
    policy = R.RetryPolicy(max_attempts=2, base_delay=0.12345, jitter=0.0, sleep=delays.append)
    run = R.JobRunner("ibm_fake", policy)
    jobs = [Job("j1", named("RuntimeJobFailureError")("Error code 1006")), Job("j2", "ok")]
    path = tmp_path / joblog.JOBS_NAME
    with joblog.JobLog(path):
        assert run.run(lambda: jobs.pop(0), fingerprint="fp", info={}) == "ok"
    assert delays == [0.12345]  # slept exactly; logged to the millisecond
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["event"] for r in lines] == ["submitted", "retry", "submitted"]
    assert lines[1]["delay"] == 0.123 and lines[1]["kind"] == "transient"


def test_a_session_is_reopened_only_when_it_closed():
    run, delays = runner()
    reopened = []
    jobs = [Job("j1", named("RuntimeJobFailureError")("Error code 1202")), Job("j2", "ok")]
    result = run.run(
        lambda: jobs.pop(0), fingerprint="fp", info={}, reopen=lambda: reopened.append(1)
    )
    assert result == "ok" and delays == [1.0] and reopened == []


def test_log_lines_carry_their_utc_time(tmp_path, monkeypatch):
    # 2026-01-02T03:04:05.250Z written out: 1767323045.25 s after the epoch
    monkeypatch.setattr(R.time, "time", lambda: 1767323045.25)
    path = tmp_path / joblog.JOBS_NAME
    run, _ = runner()
    jobs = [Job("j1", named("RuntimeJobFailureError")("Error code 1006")), Job("j2", "ok")]
    with joblog.JobLog(path):
        run.run(lambda: jobs.pop(0), fingerprint="fp", info={})
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r.get("time") for r in lines] == ["2026-01-02T03:04:05.250Z"] * 3


def test_a_fetch_that_finds_no_job_submits_anew_without_a_retry_line(tmp_path):
    path = tmp_path / joblog.JOBS_NAME
    old = {"event": "submitted", "job_id": "old", "fingerprint": "fp"}
    path.write_text(json.dumps(old) + "\n")
    run, _ = runner()
    with joblog.JobLog(path):
        result = run.run(
            lambda: Job("new", "fresh"), fingerprint="fp", info={}, fetch=lambda j: None
        )
    assert result == "fresh"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(r["event"], r["job_id"]) for r in lines] == [
        ("submitted", "old"),
        ("submitted", "new"),
    ]


def test_a_recovered_job_reports_its_usage(tmp_path):
    path = tmp_path / joblog.JOBS_NAME
    path.write_text(json.dumps({"event": "submitted", "job_id": "old", "fingerprint": "fp"}) + "\n")
    run, _ = runner()
    info = {}
    with joblog.JobLog(path):
        run.run(
            lambda: pytest.fail("submitted again"),
            fingerprint="fp",
            info=info,
            fetch=lambda job_id: Job(job_id, "r", {"quantum_seconds": 3, "shots": 100}),
        )
    assert info == {
        "fingerprint": "fp",
        "job_id": "old",
        "recovered_job_id": "old",
        "attempts": 0,
        "usage": {"quantum_seconds": 3, "shots": 100},
        "qpu_seconds": 3.0,
    }


def test_a_failure_that_may_still_finish_says_so_and_carries_its_cause():
    run, _ = runner(max_attempts=2)
    job = Job("j7", [ConnectionError("poll"), ConnectionError("poll again")])
    with pytest.raises(JobFailedError) as err:
        run.run(lambda: job, fingerprint="fp", info={})
    e = err.value
    assert str(e) == (
        "job j7 on backend 'ibm_fake' failed after 2 attempts (the job may still finish: "
        "--resume fetches its result by id): a transient failure: ConnectionError: poll again"
    )
    assert e.cause == "a transient failure: ConnectionError: poll again"
    assert (e.job_id, e.attempts, e.transient) == ("j7", 2, True)


def test_a_permanent_failure_carries_its_cause_and_one_attempt():
    run, _ = runner()
    with pytest.raises(JobFailedError) as err:
        run.run(lambda: Job("j1", ValueError("bad circuit")), fingerprint="fp", info={})
    assert err.value.cause == "a permanent failure: ValueError: bad circuit"
    run3, _ = runner(max_attempts=3)
    answers = [ConnectionError("a"), ConnectionError("b"), ConnectionError("c")]

    def submit():
        raise answers.pop(0)

    with pytest.raises(JobFailedError) as err:
        run3.run(submit, fingerprint="fp", info={})
    assert err.value.attempts == 3 and err.value.cause == "a transient failure: ConnectionError: c"


def test_the_fingerprint_is_sha256_of_qasm3_float64_bindings_shots_and_seed():
    import hashlib

    import numpy as np
    from qiskit import QuantumCircuit, qasm3

    qc = QuantumCircuit(1)
    qc.rx(0.5, 0)
    digest = hashlib.sha256()
    digest.update(qasm3.dumps(qc).encode())
    digest.update(np.array([[1.0, 2.0]], dtype="<f8").tobytes())
    digest.update(b"|100|7")
    expected = digest.hexdigest()[:24]
    assert R.fingerprint([qc], [[1, 2]], 100, 7) == expected  # int angles hashed as float64
    assert R.fingerprint([qc], np.array([[1.0, 2.0]], dtype=np.float32), 100, 7) == expected


def test_circuits_qasm3_cannot_export_are_told_apart_by_their_instructions(monkeypatch):
    from qiskit import QuantumCircuit, qasm3

    def refuse(circuit):
        raise qasm3.QASM3ExporterError("cannot export")

    monkeypatch.setattr(qasm3, "dumps", refuse)
    a, b = QuantumCircuit(1), QuantumCircuit(1)
    a.h(0)
    b.x(0)
    fa, fb = R.fingerprint([a], [[0.0]], 10, 1), R.fingerprint([b], [[0.0]], 10, 1)
    assert fa != fb
    assert R.fingerprint([a], [[0.0]], 10, 1) == fa
    assert R._circuit_text(a) == repr([("h", [], (a.qubits[0],))])


def test_a_circuits_text_is_exported_once_per_circuit_object(monkeypatch):
    from qiskit import QuantumCircuit, qasm3

    calls = []
    real = qasm3.dumps

    def counting(circuit):
        calls.append(circuit)
        return real(circuit)

    monkeypatch.setattr(qasm3, "dumps", counting)
    qc = QuantumCircuit(1)
    qc.h(0)
    first = R._circuit_text(qc)
    assert R._circuit_text(qc) == first == real(qc)
    assert len(calls) == 1 and calls[0] is qc
    other = qc.copy()
    assert R._circuit_text(other) == first
    assert len(calls) == 2 and calls[1] is other
