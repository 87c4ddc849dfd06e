"""QRNGSource against a scripted stand-in on 127.0.0.1 (no network)."""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
import traceback

import pytest
from entropy_testing import FAST_RETRY, TOKEN

from hybridqml.entropy import EntropyPool, QRNGSource
from hybridqml.entropy._sources.qrng import client as qrng
from hybridqml.entropy._sources.qrng.client import TOKEN_ENV_VAR
from hybridqml.entropy._sources.qrng.credentials import Secret
from hybridqml.exceptions import ConfigurationError, HealthTestError, QRNGError


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
    # one HTTP attempt per adapter call: the client's loop retries, with the source.retry policy
    assert source.session.get_adapter("https://qrng.example").max_retries.total == 0
    assert source.retry.total == 3


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


def test_repr_hides_query():
    source = QRNGSource("https://qrng.example/api?region=eu", TOKEN)
    assert "region" not in repr(source) + str(source) + source.name
    assert "qrng.example/api" in repr(source)


@pytest.mark.parametrize(
    ("url", "what"),
    [
        (f"https://user:{TOKEN}@qrng.example/api", "user information"),
        (f"https://{TOKEN}@qrng.example/api", "user information"),
        (f"https://qrng.example/api?token={TOKEN}", "'token'"),
        (f"https://qrng.example/api?size=8&api_key={TOKEN}", "'api_key'"),
        (f"https://qrng.example/api?apikey={TOKEN}", "'apikey'"),
        (f"https://qrng.example/api?x-api-key={TOKEN}", "'x-api-key'"),
        (f"https://qrng.example/api?key={TOKEN}", "'key'"),
        (f"https://qrng.example/api?auth={TOKEN}", "'auth'"),
        (f"https://qrng.example/api?Password={TOKEN}", "'Password'"),
        (f"https://qrng.example/api?client_secret={TOKEN}", "'client_secret'"),
        (f"https://qrng.example/api?access_token={TOKEN}", "'access_token'"),
    ],
)
def test_credentials_in_the_url_are_refused_pointing_to_the_token_argument(url, what):
    with pytest.raises(ConfigurationError, match="token argument") as info:
        QRNGSource(url, TOKEN)
    message = str(info.value)
    assert what in message and f"${TOKEN_ENV_VAR}" in message
    assert_no_token(message)


@pytest.mark.parametrize("query", ["", "?length=8&type=uint8", "?region=eu&size=4"])
def test_urls_without_credentials_are_accepted(query):
    assert QRNGSource(f"https://qrng.example/api{query}", TOKEN).url.endswith(query)


# ---------------------------------------------------------------- replayed replies
def test_a_replayed_reply_block_fails_the_health_test(qrng_server):
    source = make(qrng_server, max_request_bytes=64)
    first = source.read(64)
    qrng_server.script.append(("replay",))
    with pytest.raises(HealthTestError, match="replay check failed") as info:
        source.read(64)
    assert_no_token(str(info.value))
    assert qrng_server.served == first * 2  # the server really sent the same block twice
    assert source.read(64) != first  # fresh replies pass again


def test_a_block_replayed_later_and_inside_one_read_is_caught(qrng_server):
    source = make(qrng_server, max_request_bytes=32)
    source.read(32 * 5)
    qrng_server.script.extend([("ok",), ("replay",)])  # the 2nd block of this read repeats the 1st
    with pytest.raises(HealthTestError):
        source.read(32 * 3)
    old = bytes(qrng_server.served[:32])
    with pytest.raises(HealthTestError):  # a block from five replies ago: still remembered
        qrng_server.script.append(("raw", _eaas_reply(old)))
        source.read(32)


def test_pool_latches_on_a_replayed_block_and_delivers_none_of_it(qrng_server):
    pool = EntropyPool(make(qrng_server, max_request_bytes=512), chunk_bytes=512)
    delivered = pool.read(1024)  # start-up: two replies
    qrng_server.script.append(("replay",))
    with pytest.raises(HealthTestError, match="replay"):
        pool.read(600)
    assert pool.failed and pool.provenance().delivered_bytes == len(delivered)
    with pytest.raises(HealthTestError):
        pool.read(1)


def test_replay_window_is_bounded_and_can_be_turned_off(qrng_server):
    source = make(qrng_server, max_request_bytes=32, replay_window=2)
    source.read(32 * 3)
    qrng_server.script.append(("raw", _eaas_reply(bytes(qrng_server.served[:32]))))
    assert len(source.read(32)) == 32  # three replies ago: outside a window of 2
    off = make(qrng_server, max_request_bytes=32, replay_window=0)
    block = off.read(32)
    qrng_server.script.append(("raw", _eaas_reply(block)))
    assert off.read(32) == block
    short = make(qrng_server, max_request_bytes=8)  # blocks under REPLAY_MIN_BYTES: not checked
    qrng_server.script.append(("raw", _eaas_reply(bytes(8))))
    qrng_server.script.append(("raw", _eaas_reply(bytes(8))))
    assert short.read(16) == bytes(16)
    with pytest.raises(ConfigurationError, match="replay_window"):
        make(qrng_server, replay_window=-1)


def _eaas_reply(data: bytes) -> bytes:
    return json.dumps({"random_number": base64.b64encode(data).decode()}).encode()


# ---------------------------------------------------------------- secrets in exception chains
def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/entropy"


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception reachable through ``__cause__`` and ``__context__``."""
    seen: list[BaseException] = []
    stack = [exc]
    while stack:
        item = stack.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        stack += [item.__cause__, item.__context__]
    return seen


def assert_token_absent(exc: BaseException, secret: str = TOKEN) -> None:
    texts = ["".join(traceback.format_exception(exc))]
    for item in chain(exc):
        texts += [str(item), repr(item), repr(item.args)]
    for text in texts:
        assert secret not in text
        assert secret.strip()[4:] not in text


@pytest.mark.parametrize(
    "token", ["TOKSECRET\n", "TOKSECRET\r\n", " TOKSECRET", "TOK SECRET", "TOK\tSECRET",
              "TOK\x00SECRET", "TOKSECR\u00c9T", "TOKSECRET\u20ac"],
)  # fmt: skip
def test_token_with_whitespace_or_control_characters_is_rejected_unechoed(token):
    with pytest.raises(ConfigurationError, match="whitespace, control or non-ASCII") as info:
        QRNGSource("https://qrng.example/entropy", token)
    assert_token_absent(info.value, "SECRET")
    assert "SECR" not in str(info.value)


def test_token_with_trailing_newline_in_environment_is_rejected(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV_VAR, "TOKSECRET\n")
    with pytest.raises(ConfigurationError, match="trailing newline") as info:
        QRNGSource("https://qrng.example/entropy")
    assert_token_absent(info.value, "TOKSECRET")


def _bad_header(server):
    source = make(server)
    source._token = Secret(TOKEN + "\n")  # bypasses validation: an invalid header value
    return source


def _non_latin1_header(server):
    source = make(server)
    source._token = Secret(TOKEN + "\u20ac")  # http.client cannot encode it
    return source


FAILURE_MODES = {
    "invalid header": (_bad_header, [], "could not be sent"),
    "unencodable header": (_non_latin1_header, [], "could not be sent"),
    "401": (make, [("status", 401)], "401"),
    "403": (make, [("status", 403)], "403"),
    "5xx exhausted": (make, [("status", 503)] * 5, "after 4 attempts"),
    "429 exhausted": (make, [("status", 429, {"Retry-After": "0"})] * 5, "429"),
    "dropped": (make, [("drop",)] * 5, "connection failed"),
    "truncated body": (make, [("truncate", 9)] * 5, "reading the reply body"),
    "json echoing the token": (make, [("raw", f"Bearer {TOKEN} {{oops".encode())], "JSON"),
    "base64 echoing the token": (
        make,
        [("raw", f'{{"random_number": "{TOKEN}%%"}}'.encode())],
        "base64",
    ),
    "unexpected status": (make, [("status", 404)], "404"),
}


@pytest.mark.parametrize("mode", sorted(FAILURE_MODES))
def test_no_exception_carries_the_token(qrng_server, caplog, mode):
    caplog.set_level(logging.DEBUG)
    build, script, match = FAILURE_MODES[mode]
    qrng_server.script.extend(script)
    source = build(qrng_server)
    for reader in (source, EntropyPool(source, health_tests=False)):
        with pytest.raises(QRNGError, match=match) as info:
            reader.read(16)
        assert info.value.__cause__ is None and info.value.__context__ is None
        assert_token_absent(info.value)
        qrng_server.script.extend(script)
    assert TOKEN not in caplog.text


def test_connection_refused_carries_no_token_and_counts_attempts(caplog):
    caplog.set_level(logging.DEBUG)
    source = QRNGSource(closed_port_url(), TOKEN, **FAST_RETRY, max_retries=2)
    with pytest.raises(QRNGError, match=r"connection failed .*after 3 attempts") as info:
        source.read(8)
    assert chain(info.value) == [info.value]
    assert_token_absent(info.value)
    assert TOKEN not in caplog.text
    assert (source.requests_made, source.failures) == (3, 3)


# ---------------------------------------------------------------- replies dropped mid-body
@pytest.mark.parametrize("cut", [("truncate", 7), ("chunked_cut",), ("truncate", 0)])
def test_reply_dropped_mid_body_is_retried(qrng_server, cut):
    qrng_server.script.extend([cut, cut, ("ok",)])
    source = make(qrng_server)
    data = source.read(64)
    assert data == bytes(qrng_server.served) and len(data) == 64  # cut replies never delivered
    assert len(qrng_server.requests) == 3
    assert (source.requests_made, source.failures) == (3, 2)


def test_undecodable_reply_body_is_retried(qrng_server):
    qrng_server.script.extend([("status", 200, {"Content-Encoding": "gzip"}), ("ok",)])
    source = make(qrng_server)
    assert source.read(16) == bytes(qrng_server.served)
    assert (source.requests_made, source.failures) == (2, 1)
    qrng_server.script.extend([("status", 200, {"Content-Encoding": "gzip"})] * 5)
    with pytest.raises(QRNGError, match=r"could not be decoded .*after 4 attempts"):
        source.read(16)


def test_read_timeout_mid_body_is_retried(qrng_server):
    qrng_server.script.append(("stall", 5, 1.0))
    source = make(qrng_server, timeout=(2.0, 0.2))
    start = time.perf_counter()
    assert source.read(32) == bytes(qrng_server.served)
    assert time.perf_counter() - start < 1.0  # gave up on the stalled body after the read timeout
    assert len(qrng_server.requests) == 2


def test_persistent_mid_body_drops_report_the_real_attempt_count(qrng_server):
    qrng_server.script.extend([("truncate", 5)] * 10)
    with pytest.raises(QRNGError, match=r"reading the reply body .*after 3 attempts \(2 retries"):
        make(qrng_server, max_retries=2).read(8)
    assert len(qrng_server.requests) == 3


def test_retry_budget_is_shared_between_statuses_and_dropped_bodies(qrng_server):
    qrng_server.script.extend([("status", 503), ("truncate", 3), ("drop",), ("ok",)])
    source = make(qrng_server, max_retries=2)
    with pytest.raises(QRNGError, match="after 3 attempts"):
        source.read(8)
    assert len(qrng_server.requests) == 3


# ---------------------------------------------------------------- retry coverage and backoff
@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 505, 520, 599, 429])
def test_every_5xx_and_429_is_retried(qrng_server, status):
    qrng_server.script.extend([("status", status), ("ok",)])
    source = make(qrng_server)
    assert source.read(16) == bytes(qrng_server.served)
    assert len(qrng_server.requests) == 2


@pytest.mark.parametrize("status", [400, 404, 418])
def test_other_4xx_are_not_retried(qrng_server, status):
    qrng_server.script.extend([("status", status), ("ok",)])
    with pytest.raises(QRNGError, match=str(status)):
        make(qrng_server).read(16)
    assert len(qrng_server.requests) == 1


def test_first_retry_waits_with_jittered_backoff(qrng_server, monkeypatch):
    delays: list[float] = []
    monkeypatch.setattr(qrng.time, "sleep", delays.append)
    qrng_server.script.extend([("status", 503), ("drop",), ("truncate", 2), ("ok",)])
    source = make(qrng_server, backoff_factor=0.01, backoff_jitter=0.005, backoff_max=0.03)
    assert len(source.read(16)) == 16
    assert len(delays) == 3
    assert 0.01 <= delays[0] <= 0.015  # the first retry waits too (urllib3 alone: 0 s)
    assert 0.02 <= delays[1] <= 0.025
    assert delays[2] == pytest.approx(0.03)  # 0.04 + jitter, capped at backoff_max


def test_backoff_jitter_varies_between_retries(monkeypatch, qrng_server):
    delays: list[float] = []
    monkeypatch.setattr(qrng.time, "sleep", delays.append)
    qrng_server.script.extend([("status", 500)] * 6)
    source = make(
        qrng_server, backoff_factor=0.0, backoff_jitter=1.0, backoff_max=2.0, max_retries=6
    )
    source.read(4)
    assert len(delays) == 6 and all(0 < d <= 1 for d in delays)
    assert len(set(delays)) == 6


def test_retry_after_on_first_retry_is_capped_and_jittered(qrng_server, monkeypatch):
    delays: list[float] = []
    monkeypatch.setattr(qrng.time, "sleep", delays.append)
    qrng_server.script.extend([("status", 429, {"Retry-After": "3600"}), ("ok",)])
    make(qrng_server, retry_after_max=0.25).read(4)
    assert delays == [0.25]


# ---------------------------------------------------------------- plain http
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1/x", "http://localhost:1/x", "http://[::1]:1/x", "http://127.0.0.5/x"],
)
def test_plain_http_is_allowed_to_loopback_hosts(url):
    QRNGSource(url, TOKEN)  # no error and (warnings are errors here) no warning


@pytest.mark.parametrize("url", ["http://qrng.example/api", "http://10.0.0.7:8080/x"])
def test_plain_http_to_remote_hosts_needs_explicit_opt_in(url):
    with pytest.raises(ConfigurationError, match=r"https://.*allow_insecure_http=True"):
        QRNGSource(url, TOKEN)
    with pytest.warns(UserWarning, match="clear text") as record:
        QRNGSource(url, TOKEN, allow_insecure_http=True)
    assert len(record) == 1
    assert_no_token(str(record[0].message))


def test_https_needs_no_opt_in():
    QRNGSource("https://qrng.example/api", TOKEN)


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout": 0}, {"timeout": (1.0, -1.0)}, {"timeout": "5"}, {"max_retries": True},
     {"backoff_factor": float("inf")}, {"backoff_jitter": -0.1}, {"max_short_replies": -1}],
)  # fmt: skip
def test_numeric_arguments_are_validated(kwargs):
    with pytest.raises(ConfigurationError):
        QRNGSource("https://qrng.example/api", TOKEN, **kwargs)


# ---------------------------------------------------------------- provenance counts
def test_pool_provenance_reports_http_requests_and_failures(qrng_server):
    source = make(qrng_server, max_request_bytes=256)
    source.read(16)  # before the pool: not the pool's
    qrng_server.script.extend([("status", 503), ("truncate", 4), ("ok",), ("status", 500)])
    pool = EntropyPool(source, health_tests=False, chunk_bytes=512)
    assert len(pool.read(512)) == 512
    prov = pool.provenance()
    assert (prov.source_reads, prov.source_read_failures) == (1, 0)
    assert (prov.requests, prov.failures) == (5, 3)  # HTTP: 2 halves, 3 failed attempts
    assert len(qrng_server.requests) == 1 + 5
    assert (source.requests_made, source.failures) == (6, 3)


def _trickling_server(body: bytes, seconds_per_byte: float):
    """A 127.0.0.1 server whose reply body arrives one byte per ``seconds_per_byte``."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            for byte in body:
                if stop.wait(seconds_per_byte):
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, stop


def test_a_server_trickling_one_byte_at_a_time_hits_the_overall_deadline():
    """Each byte comes well within the read timeout: only the request deadline stops it."""
    from hybridqml.exceptions import QRNGUnavailableError

    body = json.dumps({"random_number": base64.b64encode(bytes(16)).decode(), "size": 16}).encode()
    server, stop = _trickling_server(body, seconds_per_byte=0.1)  # the whole body: > 3 s
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/entropy"
        source = QRNGSource(url, token=TOKEN, timeout=(2.0, 1.0), deadline=0.8, **FAST_RETRY)
        start = time.perf_counter()
        with pytest.raises(QRNGUnavailableError, match=r"0\.8 s deadline") as info:
            source.read(16)
        elapsed = time.perf_counter() - start
        assert 0.7 < elapsed < 2.0, elapsed  # the deadline, not the read timeout nor the body
        assert source.requests_made == 1  # the deadline is spent: no retry
        assert "byte" in str(info.value) and "raise deadline" in str(info.value)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_a_deadline_that_leaves_room_lets_a_slow_reply_through():
    body = json.dumps(
        {"random_number": base64.b64encode(bytes(range(4))).decode(), "size": 4}
    ).encode()
    server, stop = _trickling_server(body, seconds_per_byte=0.005)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/entropy"
        source = QRNGSource(url, token=TOKEN, deadline=10.0, replay_window=0, **FAST_RETRY)
        assert source.read(4) == bytes(range(4))
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("deadline", [0, -1.0, float("inf"), float("nan"), "5", True])
def test_a_bad_deadline_is_a_configuration_error(deadline):
    with pytest.raises(ConfigurationError, match="deadline"):
        QRNGSource("https://qrng.example/api/entropy", token=TOKEN, deadline=deadline)
