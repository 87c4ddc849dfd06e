"""Errors by cause: QRNG error classes with status and attempts, HealthTestError.result, and
failures of any source (a failed Aer job included) reaching callers as EntropyError."""

from __future__ import annotations

import pytest
from entropy_testing import FAST_RETRY, TOKEN, ScriptedSource

from hybridqml.entropy import (
    AerHadamardSource,
    EntropyPool,
    EntropySettings,
    EntropyStream,
    QRNGSource,
)
from hybridqml.entropy._health import HealthResult
from hybridqml.exceptions import (
    BackendError,
    EntropyError,
    HealthTestError,
    QRNGAuthError,
    QRNGError,
    QRNGProtocolError,
    QRNGUnavailableError,
)


def make(server, **kw):
    options = {**FAST_RETRY, "max_retries": 2, **kw}
    return QRNGSource(server.url, options.pop("token", TOKEN), **options)


def assert_error(info, cls, *, status, attempts):
    error = info.value
    assert type(error) is cls, type(error)
    assert (error.status, error.attempts) == (status, attempts)
    assert error.__cause__ is None and error.__context__ is None


# ---------------------------------------------------------------- QRNG errors by cause
@pytest.mark.parametrize("status", [401, 403])
def test_auth_rejection_is_an_auth_error_after_one_attempt(qrng_server, status):
    qrng_server.script.append(("status", status))
    with pytest.raises(QRNGAuthError) as info:
        make(qrng_server).read(8)
    assert_error(info, QRNGAuthError, status=status, attempts=1)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_busy_service_is_unavailable_after_the_retries(qrng_server, status):
    qrng_server.script.extend([("status", status)] * 5)
    with pytest.raises(QRNGUnavailableError) as info:
        make(qrng_server, max_retries=2).read(8)
    assert_error(info, QRNGUnavailableError, status=status, attempts=3)
    assert len(qrng_server.requests) == 3


def test_dropped_connections_are_unavailable_without_a_status(qrng_server):
    qrng_server.script.extend([("drop",)] * 5)
    with pytest.raises(QRNGUnavailableError) as info:
        make(qrng_server, max_retries=1).read(8)
    assert_error(info, QRNGUnavailableError, status=None, attempts=2)


def test_timeouts_are_unavailable(qrng_server):
    qrng_server.script.extend([("stall", 4, 1.0)] * 3)
    with pytest.raises(QRNGUnavailableError, match="timed out") as info:
        make(qrng_server, max_retries=1, timeout=(2.0, 0.2)).read(8)
    assert_error(info, QRNGUnavailableError, status=None, attempts=2)


def test_last_status_is_kept_when_the_last_attempt_got_no_reply(qrng_server):
    qrng_server.script.extend([("status", 503), ("drop",)])
    with pytest.raises(QRNGUnavailableError) as info:
        make(qrng_server, max_retries=1).read(8)
    assert_error(info, QRNGUnavailableError, status=503, attempts=2)


@pytest.mark.parametrize(
    "body", [b"{not json", b'["a list"]', b'{"random_number": "%%%"}', b'{"other": 1}']
)
def test_malformed_replies_are_protocol_errors(qrng_server, body):
    qrng_server.script.append(("raw", body))
    with pytest.raises(QRNGProtocolError) as info:
        make(qrng_server).read(8)
    assert_error(info, QRNGProtocolError, status=200, attempts=1)


def test_protocol_error_after_a_retry_counts_every_attempt(qrng_server):
    qrng_server.script.extend([("status", 503), ("long", 3)])
    with pytest.raises(QRNGProtocolError, match="more than") as info:
        make(qrng_server).read(8)
    assert_error(info, QRNGProtocolError, status=200, attempts=2)


def test_unexpected_status_is_a_protocol_error(qrng_server):
    qrng_server.script.append(("status", 404))
    with pytest.raises(QRNGProtocolError) as info:
        make(qrng_server).read(8)
    assert_error(info, QRNGProtocolError, status=404, attempts=1)


def test_persistently_short_replies_are_unavailable(qrng_server):
    qrng_server.script.extend([("short", 0)] * 5)
    with pytest.raises(QRNGUnavailableError, match="short replies") as info:
        make(qrng_server, max_short_replies=1).read(8)
    assert_error(info, QRNGUnavailableError, status=200, attempts=1)


def test_error_class_and_fields_survive_the_pool(qrng_server):
    qrng_server.script.extend([("status", 503)] * 5)
    pool = EntropyPool(make(qrng_server, max_retries=1), health_tests=False)
    with pytest.raises(QRNGUnavailableError) as info:
        pool.read(8)
    assert isinstance(info.value, QRNGError)
    assert (info.value.status, info.value.attempts) == (503, 2)


def test_error_class_and_fields_survive_a_stream_without_fallback(qrng_server, monkeypatch):
    monkeypatch.setenv("HYBRIDQML_QRNG_TOKEN", TOKEN)
    qrng_server.script.append(("status", 401))
    settings = EntropySettings(source="qrng", mode="pure", qrng_url=qrng_server.url)
    stream = EntropyStream(settings=settings, seed=0)
    with pytest.raises(QRNGAuthError, match="no fallback") as info:
        stream.read(8)
    stream.close()
    assert (info.value.status, info.value.attempts) == (401, 1)


# ---------------------------------------------------------------- health tests
def test_health_test_error_carries_the_failing_result():
    pool = EntropyPool(ScriptedSource(lambda n, offset: bytes(n), name="stuck"))
    with pytest.raises(HealthTestError) as first:
        pool.read(16)
    result = first.value.result
    assert isinstance(result, HealthResult) and not result.passed
    assert result.test in str(first.value)
    with pytest.raises(HealthTestError) as again:  # latched: the same result every time
        pool.read(1)
    assert again.value.result is result


# ---------------------------------------------------------------- failed Aer jobs
@pytest.fixture
def failing_aer(monkeypatch):
    from qiskit_aer import AerSimulator

    def boom(self, *args, **kwargs):
        raise RuntimeError("simulator crashed")

    monkeypatch.setattr(AerSimulator, "run", boom)


def test_failed_aer_job_is_an_entropy_error(failing_aer):
    source = AerHadamardSource(n_qubits=8, seed=1)
    with pytest.raises(EntropyError, match=r"Hadamard job failed.*RuntimeError") as info:
        source.read(8)
    assert not isinstance(info.value, BackendError)
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(EntropyError), EntropyPool(source) as pool:
        pool.read(8)


def test_stream_falls_back_from_a_failed_aer_job(failing_aer):
    settings = EntropySettings(source="aer", mode="pure", fallback="os")
    stream = EntropyStream(settings=settings, seed=3)
    stream.open_epoch(1)
    with pytest.warns(RuntimeWarning, match="switching to the requested fallback 'os'"):
        assert len(stream.read(64)) == 64
    provenance = stream.provenance()
    stream.close()
    assert provenance["source"] == "aer" and provenance["active_source"] == "os"
    assert provenance["fallback_used"] is True and provenance["seeded"] is False
    assert "Hadamard job failed" in provenance["fallback_reason"]
    assert "RuntimeError" in provenance["fallback_reason"]


def test_failed_aer_job_without_fallback_stops_the_stream(failing_aer):
    stream = EntropyStream(settings=EntropySettings(source="aer", mode="expanded"), seed=3)
    with pytest.raises(EntropyError, match="no fallback source was requested") as info:
        stream.read(8)
    stream.close()
    assert not isinstance(info.value, BackendError)
    assert stream.provenance()["active_source"] == "aer"
