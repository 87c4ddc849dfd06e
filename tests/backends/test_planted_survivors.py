"""Independent references for behaviours a planted bug once slipped past (issue 24).

Each test states the expected value by hand (a table from IBM's documentation, a count) and
fails on the planted bug named in its docstring.
"""

from __future__ import annotations

import pytest

runtime = pytest.importorskip("qiskit_ibm_runtime")

from qiskit_ibm_runtime.api.exceptions import RequestsApiError  # noqa: E402

from hybridqml.exceptions import JobFailedError  # noqa: E402
from hybridqml.hardware._retry import JobRunner, RetryPolicy, classify  # noqa: E402

# HTTP statuses of the IBM API, classified by hand: "retry later" statuses (rate limit,
# timeouts, server errors, the connection lost: -1) are transient, client errors are not
STATUS_TABLE = {
    -1: "transient",
    408: "transient",
    429: "transient",  # Too Many Requests: IBM's rate limit, retried after a backoff
    500: "transient",
    502: "transient",
    503: "transient",
    504: "transient",
    400: "permanent",
    401: "permanent",
    403: "permanent",
    404: "permanent",
}


@pytest.mark.parametrize(("status", "kind"), sorted(STATUS_TABLE.items()))
def test_http_statuses_of_the_api_are_classified_as_documented(status, kind):
    """Planted bug: 429 dropped from the transient statuses (a rate limit killed the run)."""
    assert classify(RequestsApiError(f"HTTP {status}", status)) == kind


class _Job:
    def __init__(self, value):
        self.value = value

    def job_id(self):
        return "job-ok"

    def result(self, timeout=None):
        return self.value


def test_a_rate_limited_submission_is_retried_after_a_backoff():
    """Planted bug: 429 not transient -> the first rate limit fails the call for good."""
    delays = []
    attempts = []

    def submit():
        attempts.append(1)
        if len(attempts) == 1:
            raise RequestsApiError("Too Many Requests", 429)
        return _Job("counts")

    policy = RetryPolicy(max_attempts=3, base_delay=1.0, jitter=0.0, sleep=delays.append)
    info = {}
    assert JobRunner("ibm_test", policy).run(submit, fingerprint="f", info=info) == "counts"
    assert len(attempts) == 2 and delays == [1.0] and info["attempts"] == 2


def test_a_client_error_is_not_retried():
    attempts = []

    def submit():
        attempts.append(1)
        raise RequestsApiError("Bad Request", 400)

    policy = RetryPolicy(max_attempts=3, sleep=lambda s: None)
    with pytest.raises(JobFailedError) as info:
        JobRunner("ibm_test", policy).run(submit, fingerprint="f", info={})
    assert len(attempts) == 1 and info.value.transient is False
