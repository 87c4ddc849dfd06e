"""The request deadline on the blocking reads ``requests`` makes for the QRNG client.

``requests`` connects, does the TLS handshake and reads the status line and headers inside
``session.get``, where only the per-read socket timeout applies: a server trickling one byte a
second, each within the read timeout, holds the call for as long as it likes. (The TCP connect
and the TLS handshake are bounded as a whole by the connect timeout, which the client caps at the
time left; a proxy's reply to ``CONNECT``, the status line and headers and the body are read
piece by piece, each read within the read timeout only.)

:class:`DeadlineAdapter` is the :class:`requests.adapters.HTTPAdapter` the client mounts. Its
connection pools make :class:`DeadlineHTTPConnection` / :class:`DeadlineHTTPSConnection`
connections, whose ``connect`` (TCP connect, proxy tunnel, TLS handshake) and ``getresponse``
(status line and headers) run as phases of the :class:`AttemptWatch` of the current attempt, if
any; the client reads the reply body as one more phase. At the deadline the watchdog shuts down
the socket of the phase running then, so the blocked read returns at once; the phase then raises
``TimeoutError`` (urllib3 closes the connection, which never goes back to the pool) and the
client reports the deadline. The watchdog is one daemon thread for the whole process
(:class:`_Watchdog`, started with the first attempt, named ``hybridqml-qrng-deadline``): an
attempt arms and disarms an entry in its heap, a few microseconds, where a thread per attempt
cost about 0.4 ms (a third of a loopback request of 512 bytes). A watch whose attempt has
ended has no phase running, so a late expiry touches no socket.

The watch reaches the connection through a :class:`contextvars.ContextVar` set by
:meth:`AttemptWatch.active` around the attempt: a connection used outside it (another request
of a shared session) behaves like urllib3's own.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Final, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_errors
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager, ProxyManager
from urllib3.response import BaseHTTPResponse, HTTPResponse

from hybridqml.exceptions import ConfigurationError

__all__ = [
    "AttemptWatch",
    "DeadlineAdapter",
    "DeadlineHTTPConnection",
    "DeadlineHTTPSConnection",
    "check_timeout",
    "read_body",
]

_T = TypeVar("_T")

_CURRENT: ContextVar[AttemptWatch | None] = ContextVar("hybridqml_qrng_attempt", default=None)


class AttemptWatch:
    """The deadline of one HTTP attempt, enforced on its connection's blocking phases.

    Armed with the process's watchdog by :meth:`active`; the phases run through :meth:`run`
    name the socket it shuts down if the deadline passes while they block.

    Args:
        deadline: ``time.monotonic()`` value past which the attempt must give up.

    Attributes:
        expired: ``True`` once the deadline has passed: the attempt has failed, whatever
            ``requests`` made of the socket shut down under it.
        reply_socket: The socket the reply is read from (set when its headers are read), for
            the phase reading the body.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self.reply_socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._target: Callable[[], socket.socket | None] | None = None  # of the running phase

    @contextlib.contextmanager
    def active(self) -> Iterator[AttemptWatch]:
        """Arm the watchdog for the ``with`` block, whose connections obey this watch.

        Disarmed when the block ends; an expiry already under way finds no phase running
        (the socket of a finished phase is never touched: see :meth:`run`).
        """
        key = _WATCHDOG.arm(self)
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _WATCHDOG.disarm(key)
            _CURRENT.reset(token)

    def run(self, phase: Callable[[], _T], sock: Callable[[], socket.socket | None]) -> _T:
        """``phase()``, with the socket ``sock()`` shut down if it still runs at the deadline.

        Raises:
            TimeoutError: The deadline passed before or during the phase (a response the phase
                returned meanwhile is closed).
        """
        with self._lock:
            if time.monotonic() >= self.deadline:
                self.expired = True
            if self.expired:
                raise TimeoutError("the deadline of the request passed")
            self._target = sock
        try:
            result = phase()
        finally:
            with self._lock:  # from here on the watchdog leaves this socket alone
                self._target = None
        if self.expired:  # the phase ended as the deadline passed (a reply cut short?)
            if isinstance(result, BaseHTTPResponse):
                result.close()
            raise TimeoutError("the deadline of the request passed")
        return result

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sock: object = self._target() if self._target is not None else None
            if not isinstance(sock, socket.socket):  # urllib3's SSLTransport (TLS in TLS)
                sock = getattr(sock, "socket", None)  # wraps the socket it runs over
            if isinstance(sock, socket.socket):
                # already closed or not connected: nothing blocks on it
                with contextlib.suppress(OSError):
                    # the plain socket's method, also for an SSLSocket (whose own shutdown, as
                    # urllib3's HTTPResponse.shutdown uses, drops its TLS object under the feet
                    # of the thread reading it)
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread expiring every armed :class:`AttemptWatch` at its deadline."""

    NAME: Final[str] = "hybridqml-qrng-deadline"

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, AttemptWatch]] = []
        self._armed: set[int] = set()
        self._keys = itertools.count()
        self._thread: threading.Thread | None = None

    @property
    def armed(self) -> int:
        """How many watches are armed (attempts under way)."""
        with self._cond:
            return len(self._armed)

    def arm(self, watch: AttemptWatch) -> int:
        """Expire ``watch`` at its deadline unless disarmed first; returns the key to disarm."""
        with self._cond:
            key = next(self._keys)
            heapq.heappush(self._heap, (watch.deadline, key, watch))
            self._armed.add(key)
            if self._thread is None or not self._thread.is_alive():  # first use, or a fork
                self._thread = threading.Thread(target=self._run, name=self.NAME, daemon=True)
                self._thread.start()
            elif self._heap[0][1] == key:  # the thread waits for a later deadline: wake it
                self._cond.notify()
            return key

    def disarm(self, key: int) -> None:
        """Forget an armed watch (its heap entry is dropped when it comes up, or compacted)."""
        with self._cond:
            self._armed.discard(key)
            if len(self._heap) > 64 and len(self._heap) > 4 * len(self._armed):
                self._heap = [entry for entry in self._heap if entry[1] in self._armed]
                heapq.heapify(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, key, watch = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                self._armed.discard(key)
            watch._expire()  # outside the heap's lock: it takes the watch's own


_WATCHDOG = _Watchdog()


def _connect(conn: HTTPConnection, connect: Callable[[], None]) -> None:
    watch = _CURRENT.get()
    if watch is None:
        return connect()
    # The socket in use when the deadline passes: the TCP socket (e.g. reading a proxy's reply
    # to CONNECT). During the TLS handshake it is the TCP socket ssl has detached, which cannot
    # be shut down, but ssl bounds the whole handshake by the connect timeout (at most the time
    # left when the attempt began).
    return watch.run(connect, lambda: conn.sock)


def _getresponse(conn: HTTPConnection, getresponse: Callable[[], HTTPResponse]) -> HTTPResponse:
    watch = _CURRENT.get()
    if watch is None:
        return getresponse()
    # The reply reads from this socket object even once http.client hands it over to the
    # response (a reply that closes the connection), so it is the one to cut for the body too.
    watch.reply_socket = sock = conn.sock
    return watch.run(getresponse, lambda: sock)


class DeadlineHTTPConnection(HTTPConnection):
    """An urllib3 connection whose connect and reply headers obey the current attempt's deadline."""

    def connect(self) -> None:
        _connect(self, super().connect)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's
        return _getresponse(self, super().getresponse)


class DeadlineHTTPSConnection(HTTPSConnection):
    """:class:`DeadlineHTTPConnection` over TLS."""

    def connect(self) -> None:
        _connect(self, super().connect)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's
        return _getresponse(self, super().getresponse)


class _DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class _DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


_POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {
    "http": _DeadlineHTTPConnectionPool,
    "https": _DeadlineHTTPSConnectionPool,
}


class DeadlineAdapter(HTTPAdapter):
    """An :class:`~requests.adapters.HTTPAdapter` whose connections obey :class:`AttemptWatch`.

    Direct connections and those through an HTTP(S) proxy are covered; a SOCKS proxy's pools
    are urllib3's own (only the read timeout bounds their headers).
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:  # not SOCKS: its pools need their own classes
            manager.pool_classes_by_scheme = dict(_POOL_CLASSES)
        return manager


def check_timeout(timeout: object) -> float | tuple[float, float]:
    """``timeout`` (seconds, or a ``(connect, read)`` pair), checked positive and finite.

    Raises:
        ConfigurationError: anything else.
    """
    values = timeout if isinstance(timeout, tuple) else (timeout,)
    if len(values) not in (1, 2) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf for v in values
    ):
        raise ConfigurationError(
            "timeout must be a positive number of seconds or a (connect, read) pair of them"
        )
    return timeout  # type: ignore[return-value]


def read_body(
    response: requests.Response, deadline: float, watch: AttemptWatch, chunk_bytes: int
) -> int | None:
    """Read a streamed reply's whole body into ``response`` (its ``content``) before the deadline.

    Each socket read waits at most the read timeout; the deadline is checked between reads, and
    a read still blocked when it passes is cut by ``watch`` (its socket shut down).

    Returns:
        ``None`` when the body is complete, else the bytes received before the deadline (the
        response is closed).

    Raises:
        requests.exceptions.RequestException: the reply failed mid-body (as ``requests``' own
            body reads map urllib3's errors).
    """
    body = bytearray()
    raw = response.raw

    def read_all() -> None:
        while time.monotonic() <= deadline:
            try:
                chunk = raw.read1(chunk_bytes, decode_content=True)
            except urllib3_errors.ProtocolError as exc:  # as requests' own body reads do
                raise requests.exceptions.ChunkedEncodingError(exc) from exc
            except urllib3_errors.DecodeError as exc:
                raise requests.exceptions.ContentDecodingError(exc) from exc
            except urllib3_errors.ReadTimeoutError as exc:
                raise requests.exceptions.ConnectionError(exc) from exc
            except urllib3_errors.SSLError as exc:
                raise requests.exceptions.SSLError(exc) from exc
            if not chunk:
                return
            body.extend(chunk)
        watch.expired = True

    try:
        watch.run(read_all, lambda: watch.reply_socket)
    except (requests.exceptions.RequestException, ValueError, OSError):
        if not watch.expired:
            raise
    if watch.expired:  # the reply, cut at the deadline or not, is incomplete
        response.close()
        return len(body)
    response._content = bytes(body)  # what response.json() and .content read
    response._content_consumed = True
    return None
