"""QRNGSource against a scripted stand-in on 127.0.0.1 (no network)."""

from __future__ import annotations

import logging
import time
import traceback

import pytest
from entropy_testing import FAST_RETRY, TOKEN

from hybridqml.entropy import EntropyPool, QRNGSource
from hybridqml.entropy.qrng import TOKEN_ENV_VAR
from hybridqml.exceptions import ConfigurationError, QRNGError


def make(server, **kw):
    options = {**FAST_RETRY, "max_retries": 3, **kw}
    return QRNGSource(server.url, options.pop("token", TOKEN), **options)


def assert_no_token(*texts):
    for text in texts:
        assert TOKEN not in text
        assert TOKEN[4:] not in text


def test_stream_integrity_many_odd_reads_through_pool(qrng_server):
    source = make(qrng_server, max_request_bytes=100)
    pool = EntropyPool(source, health_tests=True, chunk_bytes=777)
    sizes = [1, 7, 513, 1000, 3, 99, 101, 2048, 5, 64, 333] * 3
    out = b"".join(pool.read(n) for n in sizes)
    assert len(out) == sum(sizes)
    assert out == bytes(qrng_server.served[: len(out)])
    sizes_asked = [int(r["query"]["size"]) for r in qrng_server.requests]
    assert max(sizes_asked) <= 100
    assert sum(sizes_asked) == len(qrng_server.served)
    prov = pool.provenance()
    assert prov.kind == "quantum" and prov.mode == "pure"
    assert prov.source_bytes == len(qrng_server.served)
    assert prov.delivered_bytes == len(out)


def test_request_format_eaas(qrng_server):
    make(qrng_server).read(10)
    request = qrng_server.requests[0]
    assert request["path"] == "/entropy"
    assert request["query"] == {"size": "10"}
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request["query"])


def test_tls_verification_stays_on(qrng_server):
    source = make(qrng_server)
    assert source.session.verify is True
    assert source.session.get_adapter("https://qrng.example").max_retries is source.retry


def test_token_from_environment(qrng_server, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV_VAR, TOKEN)
    source = QRNGSource(qrng_server.url, **FAST_RETRY)
    assert len(source.read(16)) == 16
    monkeypatch.delenv(TOKEN_ENV_VAR)
    with pytest.raises(ConfigurationError, match=TOKEN_ENV_VAR):
        QRNGSource(qrng_server.url)


def test_429_with_retry_after_is_honoured_and_capped(qrng_server):
    qrng_server.script.append(("status", 429, {"Retry-After": "30"}))
    source = make(qrng_server, retry_after_max=0.2)
    start = time.perf_counter()
    data = source.read(32)
    elapsed = time.perf_counter() - start
    assert data == bytes(qrng_server.served)
    assert len(qrng_server.requests) == 2
    assert 0.2 <= elapsed < 5  # waited for the (capped) Retry-After, not 30 s


def test_429_without_retry_after_and_unparseable_retry_after_are_retried(qrng_server):
    qrng_server.script.extend(
        [("status", 429), ("status", 429, {"Retry-After": "soon, maybe"}), ("ok",)]
    )
    data = make(qrng_server).read(20)
    assert data == bytes(qrng_server.served)
    assert len(qrng_server.requests) == 3


def test_503_and_dropped_connections_recover(qrng_server):
    qrng_server.script.extend([("status", 503), ("drop",), ("status", 502), ("ok",)])
    data = make(qrng_server).read(64)
    assert data == bytes(qrng_server.served)
    assert len(qrng_server.requests) == 4


def test_persistent_503_raises_qrng_error_after_retries(qrng_server, caplog):
    caplog.set_level(logging.DEBUG)
    qrng_server.script.extend([("status", 503)] * 10)
    source = make(qrng_server, max_retries=2)
    with pytest.raises(QRNGError, match="503") as info:
        source.read(8)
    assert len(qrng_server.requests) == 3  # first try + 2 retries
    assert_no_token(str(info.value), "".join(traceback.format_exception(info.value)), caplog.text)


def test_persistent_dropped_connection_raises_qrng_error(qrng_server):
    qrng_server.script.extend([("drop",)] * 10)
    with pytest.raises(QRNGError, match="connection failed") as info:
        make(qrng_server, max_retries=1).read(8)
    assert_no_token("".join(traceback.format_exception(info.value)))


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_fails_fast_without_leaking_token(qrng_server, caplog, status):
    caplog.set_level(logging.DEBUG)
    qrng_server.script.append(("status", status))
    source = make(qrng_server, max_retries=5)
    with pytest.raises(QRNGError, match=str(status)) as info:
        source.read(8)
    assert len(qrng_server.requests) == 1  # never retried
    assert "token" in str(info.value)
    assert_no_token(
        str(info.value),
        repr(info.value),
        "".join(traceback.format_exception(info.value)),
        repr(source),
        str(source),
        source.name,
        caplog.text,
    )
    assert caplog.records  # debug logging did run, and did not show the token


def test_wrong_token_is_rejected_by_server(qrng_server):
    with pytest.raises(QRNGError, match="401"):
        make(qrng_server, token="not-the-token").read(4)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b'["a", "list"]', "not an object"),
        (b'{"random_number": "%%%notbase64%%%"}', "base64"),
        (b'{"random_number": 12}', "random_number"),
        (b'{"other": "x"}', "random_number"),
    ],
)
def test_malformed_replies_raise(qrng_server, body, match):
    qrng_server.script.append(("raw", body))
    source = make(qrng_server)
    with pytest.raises(QRNGError, match=match):
        source.read(16)
    assert len(qrng_server.requests) == 1


def test_short_reply_is_topped_up_never_padded(qrng_server):
    qrng_server.script.extend([("short", 5), ("short", 0), ("ok",)])
    data = make(qrng_server, max_request_bytes=64).read(40)
    assert data == bytes(qrng_server.served)
    assert [int(r["query"]["size"]) for r in qrng_server.requests] == [40, 35, 35]


def test_persistently_empty_replies_raise(qrng_server):
    qrng_server.script.extend([("short", 0)] * 10)
    with pytest.raises(QRNGError, match="short replies"):
        make(qrng_server, max_short_replies=2).read(16)
    assert len(qrng_server.requests) == 3


def test_overlong_reply_raises(qrng_server):
    qrng_server.script.append(("long", 3))
    with pytest.raises(QRNGError, match="more than"):
        make(qrng_server).read(16)


def test_unexpected_status_raises(qrng_server):
    qrng_server.script.append(("status", 404))
    with pytest.raises(QRNGError, match="404"):
        make(qrng_server).read(4)


@pytest.mark.parametrize("anu_type", ["uint8", "hex16"])
def test_anu_provider(qrng_server, anu_type):
    source = make(qrng_server, provider="anu", anu_type=anu_type, max_request_bytes=50)
    data = source.read(120)
    assert data == bytes(qrng_server.served)
    request = qrng_server.requests[0]
    assert request["headers"]["x-api-key"] == TOKEN
    assert "Authorization" not in request["headers"]
    assert request["query"]["type"] == anu_type


@pytest.mark.parametrize(
    "body",
    [
        b'{"success": false, "type": "uint8", "length": "2", "data": [1, 2]}',
        b'{"success": true, "type": "uint8", "length": "3", "data": [1, 2]}',
        b'{"success": true, "type": "uint8", "length": "2", "data": [1, 256]}',
        b'{"success": true, "type": "uint16", "length": "2", "data": [1, 2]}',
    ],
)
def test_anu_malformed_replies_raise(qrng_server, body):
    qrng_server.script.append(("raw", body))
    with pytest.raises(QRNGError):
        make(qrng_server, provider="anu").read(2)


def test_bad_configuration():
    with pytest.raises(ConfigurationError):
        QRNGSource("ftp://x", TOKEN)
    with pytest.raises(ConfigurationError):
        QRNGSource("https://x", TOKEN, provider="other")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        QRNGSource("https://x", TOKEN, provider="anu", max_request_bytes=4096)
    with pytest.raises(ConfigurationError):
        QRNGSource("https://x", TOKEN, max_request_bytes=0)


def test_repr_hides_query_and_userinfo():
    source = QRNGSource(f"https://user:{TOKEN}@qrng.example/api?key={TOKEN}", TOKEN)
    assert_no_token(repr(source), str(source), source.name)
    assert "qrng.example/api" in repr(source)
