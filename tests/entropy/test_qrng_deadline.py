"""The request deadline bounds the status line and headers too, not only the reply body.

A server that trickles its header bytes, each within the read timeout, used to stall a request
for as long as it liked: ``requests`` reads the headers inside ``session.get``, where only the
per-read socket timeout applies. Every server here is the stand-in of ``entropy_testing`` on
127.0.0.1; its ``slow_headers`` trickle stops by itself after ``TRICKLE_CAP`` seconds, so a client
without the header deadline fails these tests instead of hanging them.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import threading
import time

import pytest
import requests
from entropy_testing import FAST_RETRY, TOKEN, TRICKLE_CAP

from hybridqml.entropy import QRNGSource
from hybridqml.entropy._sources.qrng.transport import _WATCHDOG
from hybridqml.exceptions import QRNGUnavailableError


def _server_thread(thread: threading.Thread) -> bool:
    """A thread of the stand-in (its accept loop or a request handler), or the watchdog."""
    return thread.name.endswith(("(serve_forever)", "(process_request_thread)")) or (
        thread.name == _WATCHDOG.NAME
    )


def _client_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and not _server_thread(t)]


def _open_fds() -> int | None:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


def _wait_for(predicate, seconds: float = 1.0) -> bool:
    stop = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > stop:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("own_session", [False, True], ids=["default session", "user session"])
def test_headers_trickling_past_the_deadline_fail_at_the_deadline(qrng_server, own_session):
    """(1) One header byte every 0.2 s, for ever: each within the 0.5 s read timeout."""
    qrng_server.script.append(("slow_headers", 0.2))
    session = requests.Session() if own_session else None
    source = QRNGSource(
        qrng_server.url, TOKEN, timeout=(1, 0.5), deadline=1.0, session=session, **FAST_RETRY
    )
    start = time.perf_counter()
    with pytest.raises(QRNGUnavailableError, match=r"within the 1 s deadline") as info:
        source.read(16)
    elapsed = time.perf_counter() - start
    assert 0.9 < elapsed < 1.5, elapsed  # the deadline, not the trickle's end (TRICKLE_CAP)
    assert elapsed < TRICKLE_CAP
    assert "status line and headers" in str(info.value) and "raise deadline" in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert (info.value.attempts, info.value.status) == (1, None)
    assert (source.requests_made, source.failures) == (1, 1)
    source.close()


def test_a_stalled_header_read_leaves_no_thread_and_no_socket_behind(qrng_server):
    """(2) The watchdog is gone when the error is raised, and the connection is closed."""
    qrng_server.script.append(("slow_headers", 0.2))
    source = QRNGSource(qrng_server.url, TOKEN, timeout=(1, 0.5), deadline=1.0, **FAST_RETRY)
    before = set(threading.enumerate())
    fds = _open_fds()
    with pytest.raises(QRNGUnavailableError, match="deadline"):
        source.read(16)
    assert _client_threads(before) == []  # no thread per attempt, nothing else runs
    assert _WATCHDOG.armed == 0
    # the server sees the client's end of the connection closed, long before its trickle ends
    assert qrng_server.peer_closed.acquire(timeout=0.5)
    # the stand-in's handler thread ends too (its end of the socket is an fd of this process)
    assert _wait_for(
        lambda: (
            not [t for t in threading.enumerate() if t not in before and t.name != _WATCHDOG.NAME]
        )
    )
    if fds is not None:
        assert _open_fds() == fds  # the client's socket is closed, not only shut down
    source.close()


def test_headers_that_arrive_slowly_but_in_time_succeed(qrng_server):
    """(3) A slow header block that ends before the deadline: the watchdog never fires."""
    qrng_server.script.append(("slow_headers", 0.005, "ok"))  # ~0.3 s of headers
    source = QRNGSource(qrng_server.url, TOKEN, timeout=(1, 0.5), deadline=2.0, **FAST_RETRY)
    before = set(threading.enumerate())
    start = time.perf_counter()
    assert source.read(16) == bytes(qrng_server.served)
    assert time.perf_counter() - start < 1.5
    assert (source.requests_made, source.failures) == (1, 0)
    assert _client_threads(before) == []  # the one shared watchdog at most
    assert _WATCHDOG.armed == 0  # the attempt disarmed its watch
    # and it stays quiet: the (idle or closed) connection is not shut down later, so the next
    # request and its deadline are unaffected
    time.sleep(0.3)
    assert source.read(16) == bytes(qrng_server.served[16:32])
    assert qrng_server.peer_closed.acquire(timeout=0) is False
    source.close()


def test_a_stall_in_the_headers_is_not_retried_past_the_deadline(qrng_server):
    """(4) Retries are left but the deadline is spent: no second attempt."""
    qrng_server.script.extend([("slow_headers", 0.2), ("ok",)])
    source = QRNGSource(
        qrng_server.url, TOKEN, timeout=(1, 0.5), deadline=1.0, max_retries=5, **FAST_RETRY
    )
    start = time.perf_counter()
    with pytest.raises(QRNGUnavailableError, match="deadline") as info:
        source.read(16)
    assert time.perf_counter() - start < 1.5
    assert len(qrng_server.requests) == 1
    assert source.requests_made == 1 and info.value.attempts == 1
    source.close()


def test_a_failed_attempt_then_stalled_headers_share_one_deadline(qrng_server):
    """A retry after a 503 gets only what is left of the deadline for its headers."""
    qrng_server.script.extend([("status", 503), ("slow_headers", 0.2), ("ok",)])
    source = QRNGSource(
        qrng_server.url,
        TOKEN,
        timeout=(1, 0.5),
        deadline=1.0,
        max_retries=5,
        backoff_factor=0.3,
        backoff_jitter=0.0,
        backoff_max=0.3,
    )
    start = time.perf_counter()
    with pytest.raises(QRNGUnavailableError, match="deadline") as info:
        source.read(16)
    elapsed = time.perf_counter() - start
    assert 0.9 < elapsed < 1.5, elapsed
    assert len(qrng_server.requests) == 2 and info.value.attempts == 2
    assert info.value.status == 503  # the last status received
    source.close()


def _trickling_proxy():
    """A 127.0.0.1 HTTP proxy that answers ``CONNECT`` with a header block that never ends.

    ``HTTP/1.1 200 Connection established`` at once, then a header line one byte per 0.2 s,
    until the client closes (``closed`` is set) or ``TRICKLE_CAP`` seconds pass.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    closed = threading.Event()
    stop = threading.Event()
    requests_seen: list[bytes] = []

    def serve():
        conn, _ = listener.accept()
        with conn:
            requests_seen.append(conn.recv(65536))
            conn.sendall(b"HTTP/1.1 200 Connection established\r\nX-Slow: ")
            end = time.monotonic() + TRICKLE_CAP
            while time.monotonic() < end and not stop.is_set():
                readable, _, _ = select.select([conn], [], [], 0.2)
                try:
                    if readable and conn.recv(1, socket.MSG_PEEK) == b"":
                        closed.set()
                        return
                    conn.sendall(b"a")
                except OSError:
                    closed.set()
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread, closed, stop, requests_seen


def test_a_proxy_tunnel_reply_trickling_past_the_deadline_fails_at_the_deadline():
    """The proxy's reply to CONNECT (read while connecting, before any TLS) is bounded too."""
    listener, thread, closed, stop, seen = _trickling_proxy()
    try:
        session = requests.Session()
        session.proxies = {"https": f"http://127.0.0.1:{listener.getsockname()[1]}"}
        source = QRNGSource(
            "https://qrng.example/entropy",
            TOKEN,
            timeout=(1, 0.5),
            deadline=1.0,
            session=session,
            **FAST_RETRY,
        )
        start = time.perf_counter()
        with pytest.raises(QRNGUnavailableError, match="within the 1 s deadline"):
            source.read(16)
        elapsed = time.perf_counter() - start
        assert 0.9 < elapsed < 1.5, elapsed
        assert seen[0].startswith(b"CONNECT qrng.example:443 ")  # it went through the stand-in
        assert source.requests_made == 1
        assert closed.wait(0.5)  # the client closed its end at the deadline
        source.close()
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def test_a_body_read_blocked_at_the_deadline_is_cut_at_the_deadline(qrng_server):
    """The body is checked between reads, and now a read still blocked at the deadline is cut.

    One byte every 0.8 s, each within the 0.9 s read timeout: the read begun after the first
    byte (at 0.8 s, within the 1 s deadline) used to wait for the second byte until 1.6 s.
    """
    qrng_server.script.append(("slow_body", 0.8))
    source = QRNGSource(qrng_server.url, TOKEN, timeout=(1, 0.9), deadline=1.0, **FAST_RETRY)
    before = set(threading.enumerate())
    start = time.perf_counter()
    with pytest.raises(QRNGUnavailableError, match="within the 1 s deadline") as info:
        source.read(16)
    elapsed = time.perf_counter() - start
    assert 0.9 < elapsed < 1.3, elapsed
    assert "(1 byte of the reply received)" in str(info.value)
    assert (source.requests_made, source.failures) == (1, 1)
    assert _client_threads(before) == []
    assert qrng_server.peer_closed.acquire(timeout=0.5)
    source.close()


def _self_signed_127(tmp_path):
    """A certificate for 127.0.0.1 and its key (PEM files), made on the spot."""
    pytest.importorskip("cryptography")
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_headers_trickling_over_tls_fail_at_the_deadline(tmp_path, monkeypatch):
    """Over TLS (certificate verified) the watchdog shuts the TLS socket's connection down."""
    cert_file, key_file = _self_signed_127(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    closed = threading.Event()
    stop = threading.Event()

    def serve():
        raw, _ = listener.accept()
        with context.wrap_socket(raw, server_side=True) as conn:
            conn.recv(65536)  # the request
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            end = time.monotonic() + TRICKLE_CAP
            while time.monotonic() < end and not stop.is_set():
                readable, _, _ = select.select([conn], [], [], 0.2)
                try:
                    if readable and conn.recv(1) == b"":
                        closed.set()
                        return
                    conn.sendall(b"a")
                except OSError:  # ssl.SSLError included
                    closed.set()
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))  # requests verifies against it
    try:
        url = f"https://127.0.0.1:{listener.getsockname()[1]}/entropy"
        source = QRNGSource(url, TOKEN, timeout=(1, 0.5), deadline=1.0, **FAST_RETRY)
        start = time.perf_counter()
        with pytest.raises(QRNGUnavailableError) as info:
            source.read(16)
        elapsed = time.perf_counter() - start
        assert 0.9 < elapsed < 1.5, elapsed
        assert "deadline" in str(info.value) and "headers not received" in str(info.value)
        assert closed.wait(0.5)
        source.close()
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def test_one_shared_watchdog_expires_armed_watches_only():
    from hybridqml.entropy._sources.qrng.transport import AttemptWatch

    soon, later, dropped = (AttemptWatch(time.monotonic() + d) for d in (0.05, 0.3, 0.05))
    with soon.active(), later.active():
        with dropped.active():
            pass  # disarmed before its deadline
        assert _wait_for(lambda: soon.expired, 1.0)
        assert not later.expired  # each watch at its own deadline
        assert _wait_for(lambda: later.expired, 1.0)
    time.sleep(0.1)
    assert not dropped.expired and _WATCHDOG.armed == 0
    watchdogs = [t for t in threading.enumerate() if t.name == _WATCHDOG.NAME]
    assert len(watchdogs) == 1 and watchdogs[0].daemon  # one thread, whatever the attempts


def test_finished_attempts_do_not_pile_up_in_the_watchdog():
    """Attempts disarm their watch; the heap of far deadlines is compacted, not grown."""
    from hybridqml.entropy._sources.qrng.transport import AttemptWatch

    for _ in range(1000):
        with AttemptWatch(time.monotonic() + 120).active():
            pass
    assert _WATCHDOG.armed == 0
    assert len(_WATCHDOG._heap) <= 4 * 64  # bounded whatever the number of attempts
