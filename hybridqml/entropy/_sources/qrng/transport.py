"""The request deadline on the blocking reads ``requests`` makes for the QRNG client.

``requests`` connects, does the TLS handshake and reads the status line and headers inside
``session.get``, where only the per-read socket timeout applies: a server trickling one byte a
second, each within the read timeout, holds the call for as long as it likes. The client reads the
body itself, against its deadline; this module bounds the rest.

:class:`DeadlineAdapter` is the :class:`requests.adapters.HTTPAdapter` the client mounts. Its
connection pools make :class:`DeadlineHTTPConnection` / :class:`DeadlineHTTPSConnection`
connections, whose ``connect`` (TCP connect, proxy tunnel, TLS handshake) and ``getresponse``
(status line and headers) run under the :class:`AttemptWatch` of the current attempt, if any:
a :class:`threading.Timer` armed for the time left shuts down the connection's socket when the
deadline passes, so the blocked read returns at once. The phase then raises ``TimeoutError``
and urllib3 closes the connection (it is never returned to the pool). The timer is cancelled
and joined when the phase ends, so no thread outlives it.

The watch reaches the connection through a :class:`contextvars.ContextVar` set by
:meth:`AttemptWatch.active` around ``session.get``: a connection used outside it (another request
of a shared session) behaves like urllib3's own.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager, ProxyManager
from urllib3.response import BaseHTTPResponse, HTTPResponse

__all__ = [
    "AttemptWatch",
    "DeadlineAdapter",
    "DeadlineHTTPConnection",
    "DeadlineHTTPSConnection",
]

_T = TypeVar("_T")

_CURRENT: ContextVar[AttemptWatch | None] = ContextVar("hybridqml_qrng_attempt", default=None)


class AttemptWatch:
    """The deadline of one HTTP attempt, enforced on its connection's blocking phases.

    Args:
        deadline: ``time.monotonic()`` value past which the attempt must give up.

    Attributes:
        expired: ``True`` once the deadline cut a phase short (the attempt has failed, whatever
            ``requests`` made of the closed socket).
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []  # shut down when the deadline passes
        self._owned: list[socket.socket] = []  # duplicates, closed when the phase ends

    @contextlib.contextmanager
    def active(self) -> Iterator[AttemptWatch]:
        """Make this the watch of the connections used in the ``with`` block (this context)."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    def run(self, phase: Callable[[], _T], sock: socket.socket | None) -> _T:
        """``phase()``, its socket ``sock`` shut down if it is still running at the deadline.

        Raises:
            TimeoutError: The deadline passed (before or during the phase).
        """
        with self._lock:
            if sock is not None:
                self._sockets.append(sock)
        left = self.deadline - time.monotonic()
        timer = threading.Timer(max(left, 0.0), self._expire)
        timer.daemon = True
        timer.start()
        try:
            result = phase()
        finally:
            timer.cancel()
            timer.join()  # it has either not fired or finished firing: nothing runs after this
            with self._lock:
                owned, self._owned, self._sockets = self._owned, [], []
            for dup in owned:
                dup.close()
        if self.expired:  # the phase finished as the deadline passed, or read a truncated reply
            if isinstance(result, BaseHTTPResponse):
                result.close()
            raise TimeoutError("the deadline of the request passed")
        return result

    def watch_new_socket(self, sock: socket.socket) -> None:
        """Also shut down ``sock`` (a fresh connection's socket) at the deadline.

        A duplicate is kept: ``ssl`` detaches the socket it wraps, so during the TLS handshake
        the connection holds no usable socket object. Shutting down the duplicate shuts down
        the connection (the same kernel socket); the duplicate is closed when the phase ends.
        """
        dup = sock.dup()
        with self._lock:
            self._owned.append(dup)
            self._sockets.append(dup)
            expired = self.expired
        if expired:
            _shutdown(dup)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    """Shut the socket down both ways: a read blocked on it returns at once."""
    # already closed or not connected: nothing blocks on it
    with contextlib.suppress(OSError):
        # the plain socket's method, also for an SSLSocket (whose own shutdown drops its TLS
        # object, under the feet of the thread reading it)
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(conn: HTTPConnection, phase: Callable[[], _T], *, headers: bool) -> _T:
    watch = _CURRENT.get()
    if watch is None:
        return phase()
    return watch.run(phase, conn.sock if headers else None)


class DeadlineHTTPConnection(HTTPConnection):
    """An urllib3 connection whose connect and reply headers obey the current attempt's deadline."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        watch = _CURRENT.get()
        if watch is not None:
            watch.watch_new_socket(sock)
        return sock

    def connect(self) -> None:
        _watched(self, super().connect, headers=False)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's
        return _watched(self, super().getresponse, headers=True)


class DeadlineHTTPSConnection(HTTPSConnection):
    """:class:`DeadlineHTTPConnection` over TLS (the handshake is bounded too)."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        watch = _CURRENT.get()
        if watch is not None:
            watch.watch_new_socket(sock)
        return sock

    def connect(self) -> None:
        _watched(self, super().connect, headers=False)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's
        return _watched(self, super().getresponse, headers=True)


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
