"""Helpers for the entropy tests: a scripted QRNG stand-in on 127.0.0.1 and tiny sources."""

from __future__ import annotations

import base64
import collections
import json
import select
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from hybridqml.entropy import EntropySource

TOKEN = "tok-SECRET-1234567890"


class QRNGStandIn:
    """A QRNG service answering from a deterministic byte stream, with scripted misbehaviour.

    ``script`` is a queue of actions consumed one per request; when it is empty the server answers
    normally. Actions: ``("ok",)``, ``("short", k)`` (serve only k bytes), ``("status", code,
    headers)``, ``("drop",)`` (close the connection without answering), ``("raw", body)`` (200 with
    ``body`` as is), ``("long", extra)`` (serve extra bytes), and replies dropped mid-body, whose
    bytes are never recorded in ``served``: ``("truncate", k)`` (announce the full
    ``Content-Length``, send k body bytes, close), ``("chunked_cut",)`` (chunked reply cut after
    its first chunk), ``("stall", k, seconds)`` (send k body bytes, then stall, then close),
    and ``("replay",)``: serve the previous reply's bytes again (a replaying service).

    Trickled replies, one byte per ``seconds_per_byte`` (each well within a read timeout), until
    the client closes the connection (counted in ``peer_closed``) or :data:`TRICKLE_CAP` seconds
    pass (a safety stop for clients without a deadline), then closed:
    ``("slow_headers", seconds_per_byte)`` sends ``HTTP/1.1 200 OK`` at once, then a header line
    that never ends; ``("slow_headers", seconds_per_byte, "ok")`` trickles a normal reply's
    header block, then sends its body at once; ``("slow_body", seconds_per_byte)`` sends a
    normal reply's status line and headers at once and trickles its body. The bytes of these
    normal replies are recorded in ``served``.
    """

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.served = bytearray()
        self.last_block = b""
        self.requests: list[dict] = []
        self.script: collections.deque = collections.deque()
        self.lock = threading.Lock()
        self.token = TOKEN
        self.peer_closed = threading.Semaphore(0)  # released once per connection the client shut
        self.stopping = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output quiet
                pass

            def do_GET(self):
                stand_in.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.base = f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return self.base + "/entropy"

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def _take(self, n: int) -> bytes:
        data = self.rng.bytes(n)
        self.served += data
        return data

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        stall = self._handle(h)
        if isinstance(stall, tuple):  # outside the lock too
            self._trickle(h, *stall)
        elif stall:
            time.sleep(stall)  # outside the lock: other requests are served meanwhile
            h.close_connection = True

    def _trickle(
        self, h: BaseHTTPRequestHandler, interval: float, now: bytes, slow: bytes, then: bytes
    ) -> None:
        """Send ``now``, then ``slow`` one byte per ``interval``, then ``then``."""
        h.close_connection = True
        conn = h.connection
        conn.sendall(now)
        stop = time.monotonic() + TRICKLE_CAP
        for i in range(len(slow)):
            if self.stopping.is_set() or time.monotonic() > stop:
                return
            readable, _, _ = select.select([conn], [], [], interval)
            if readable:  # the client sent nothing more, so this is its end of the connection
                try:
                    closed = conn.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    closed = True
                if closed:
                    self.peer_closed.release()
                    return
            try:
                conn.sendall(slow[i : i + 1])
            except OSError:
                self.peer_closed.release()
                return
        conn.sendall(then)

    def _handle(self, h: BaseHTTPRequestHandler) -> float | tuple[float, bytes, bytes, bytes]:
        parts = urllib.parse.urlsplit(h.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append({"path": parts.path, "query": query, "headers": dict(h.headers)})
            action = self.script.popleft() if self.script else ("ok",)
            kind = action[0]
            if kind == "drop":
                h.close_connection = True
                return 0.0
            if kind in ("slow_headers", "slow_body"):
                status = b"HTTP/1.1 200 OK\r\n"
                if len(action) < 3 and kind == "slow_headers":  # a header line that never ends
                    return (action[1], status, b"X-Slow: " + b"a" * 10**6, b"")
                data = self._take(int(query.get("size", "0")))
                self.last_block = data
                body = self._encode(query, data)
                head = b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                if kind == "slow_headers":
                    return (action[1], status, head, body)
                return (action[1], status + head, body, b"")
            if kind in ("truncate", "chunked_cut", "stall"):
                h.close_connection = True
                return self._cut_reply(h, query, action)
            if kind == "status":
                body = b'{"error": "scripted"}'
                h.send_response(action[1])
                for key, value in (action[2] if len(action) > 2 else {}).items():
                    h.send_header(key, value)
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)
                return 0.0
            if kind == "raw":
                body = action[1]
            else:
                if "x-api-key" in h.headers:
                    authorised = h.headers["x-api-key"] == self.token
                else:
                    authorised = h.headers.get("Authorization") == f"Bearer {self.token}"
                if not authorised:
                    h.send_response(401)
                    h.send_header("Content-Length", "0")
                    h.end_headers()
                    return 0.0
                size = int(query.get("size" if "type" not in query else "length", "0"))
                if query.get("type") == "hex16":
                    size = int(query["size"]) * int(query["length"])
                if kind == "short":
                    size = min(size, action[1])
                elif kind == "long":
                    size += action[1]
                if kind == "replay":
                    data = self.last_block
                    self.served += data
                else:
                    data = self._take(size)
                self.last_block = data
                body = self._encode(query, data)
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return 0.0

    def _cut_reply(self, h: BaseHTTPRequestHandler, query: dict, action: tuple) -> float:
        """A 200 reply whose body is cut short; returns seconds to stall before closing."""
        size = int(query.get("size", query.get("length", "1")))
        body = self._encode(query, bytes(size))  # never delivered: not recorded in `served`
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if action[0] == "chunked_cut":
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            first = body[: len(body) // 2]
            h.wfile.write(b"%x\r\n%s\r\n" % (len(first), first))
        else:
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[: action[1]])
        h.wfile.flush()
        return action[2] if action[0] == "stall" else 0.0

    @staticmethod
    def _encode(query: dict, data: bytes) -> bytes:
        if query.get("type") == "uint8":
            payload = {
                "success": True,
                "type": "uint8",
                "length": str(len(data)),
                "data": list(data),
            }
        elif query.get("type") == "hex16":
            payload = {"success": True, "type": "hex16", "length": "1", "data": [data.hex()]}
        else:
            payload = {"random_number": base64.b64encode(data).decode(), "size": len(data)}
        return json.dumps(payload).encode()


#: Seconds after which a ``slow_headers`` trickle gives up and closes (a client without a header
#: deadline would otherwise wait for ever).
TRICKLE_CAP = 4.0

FAST_RETRY = {"backoff_factor": 0.001, "backoff_jitter": 0.001, "backoff_max": 0.01}


class ScriptedSource(EntropySource):
    """Serves bytes from a callable ``make(n, offset) -> bytes`` and records every chunk served."""

    kind = "pseudo"

    def __init__(self, make, name: str = "scripted") -> None:
        self.make = make
        self.name = name
        self.offset = 0
        self.served = bytearray()
        self.reads: list[int] = []

    def _read(self, n: int) -> bytes:
        data = self.make(n, self.offset)
        self.offset += n
        self.served += data
        self.reads.append(n)
        return data


def prng_bytes(seed: int):
    rng = np.random.default_rng(seed)
    return lambda n, offset: rng.bytes(n)
