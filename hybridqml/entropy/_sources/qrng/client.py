"""HTTP client for quantum random number services (QRNG): :class:`QRNGSource`.

Reply formats live in ``_sources.qrng.providers``, the retry policy and the
classification of failures in ``_sources.qrng.retry``, the deadline's watchdog on the connection
set-up and the reply headers in ``_sources.qrng.transport``.

Transport: a :class:`requests.Session` whose adapter makes exactly one HTTP attempt per call; the
retry loop is the client's own, driven by the policy object :attr:`QRNGSource.retry`, so every
failure of one logical request shares one budget of ``max_retries`` retries and one backoff
schedule. Error messages state the real number of HTTP attempts made, and every error carries it
(``attempts``) with the last HTTP status (``status``). :attr:`QRNGSource.requests_made` and
:attr:`QRNGSource.failures` count HTTP requests (every attempt) and failed ones; an
:class:`~hybridqml.entropy.EntropyPool` reports them in its provenance.

Secrets (the checks live in ``_sources.qrng.credentials``): the token is
kept in headers only, never in the URL, ``repr``, ``str``, logs or exception
messages. It must be printable ASCII without whitespace (a trailing newline from a file or an
environment variable is rejected at construction, without echoing the value). Every
:class:`~hybridqml.exceptions.QRNGError` leaves the client without a ``__cause__`` or
``__context__``: third-party exceptions (whose text can hold header values or URLs with query
strings) are reduced to their type names. TLS certificates are always verified, and plain
``http://`` is accepted only for loopback hosts unless ``allow_insecure_http=True``. A URL that
carries credentials (``user:password@`` or a query parameter named like one: ``token``, ``key``,
``api_key``, ``auth``, ``password``, ``secret``, ...) is refused: urllib3's debug log prints the
URL with its query string.

Replayed replies: every reply block goes through a
:class:`~hybridqml.entropy._sources.qrng.replay.ReplayCheck`, which raises
:class:`~hybridqml.exceptions.HealthTestError` when a block repeats a recent one (see that module).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Final, Literal

import requests
from urllib3.exceptions import MaxRetryError
from urllib3.util import Retry

from hybridqml._validation import check_positive_int, redact_url
from hybridqml.entropy._sources.base import EntropySource, SourceKind
from hybridqml.entropy._sources.qrng.credentials import Secret, check_endpoint
from hybridqml.entropy._sources.qrng.providers import (
    ANU_MAX_REQUEST_BYTES,
    ANU_TYPES,
    PROVIDERS,
    Provider,
    decode_reply,
    request_headers,
    request_params,
)
from hybridqml.entropy._sources.qrng.replay import DEFAULT_REPLAY_WINDOW, ReplayCheck
from hybridqml.entropy._sources.qrng.retry import (
    AUTH_STATUSES,
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_BACKOFF_JITTER,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_AFTER_MAX,
    Transient,
    classify_transport_error,
    make_retry_policy,
    status_failure,
)
from hybridqml.entropy._sources.qrng.transport import (
    AttemptWatch,
    DeadlineAdapter,
    check_timeout,
    read_body,
)
from hybridqml.exceptions import (
    ConfigurationError,
    QRNGAuthError,
    QRNGError,
    QRNGProtocolError,
    QRNGUnavailableError,
)

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_MAX_SHORT_REPLIES",
    "DEFAULT_TIMEOUT",
    "TOKEN_ENV_VAR",
    "QRNGSource",
]

logger = logging.getLogger(__name__)

#: Environment variable read when no token is passed.
TOKEN_ENV_VAR: Final[str] = "HYBRIDQML_QRNG_TOKEN"
DEFAULT_MAX_REQUEST_BYTES: Final[int] = 512
#: (connect, read) timeouts in seconds.
DEFAULT_TIMEOUT: Final[tuple[float, float]] = (5.0, 30.0)
#: Overall seconds one request may take, retries and a slowly trickling reply (headers and body)
#: included.
DEFAULT_DEADLINE: Final[float] = 120.0
#: Bytes asked of the socket per read of a reply body (the deadline is checked between reads).
_BODY_READ_BYTES: Final[int] = 4096
#: Consecutive short or empty replies tolerated while topping up one read.
DEFAULT_MAX_SHORT_REPLIES: Final[int] = 3


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


class QRNGSource(EntropySource):
    """Random bytes from an HTTP quantum random number service.

    Args:
        url: Endpoint URL (``https://.../entropy`` for eaas, the ANU API URL for anu). Plain
            ``http://`` is accepted only for loopback hosts (``127.0.0.1``, ``::1``,
            ``localhost``) unless ``allow_insecure_http`` is set.
        token: API token (printable ASCII, no whitespace). ``None`` reads it from the
            environment variable ``token_env``.
        provider: ``"eaas"`` or ``"anu"``.
        max_request_bytes: Largest number of bytes asked in one request (reads are split).
        timeout: ``(connect, read)`` timeouts in seconds, or one number for both.
        deadline: Overall seconds one request (one chunk of at most ``max_request_bytes``) may take,
            from its first attempt to its reply: every attempt's connection (TCP connect, a proxy's
            ``CONNECT`` reply, TLS handshake), its reply's status line, headers and body, the
            retries and the waits between them. The timeouts bound each wait for a byte only, so
            without it a server trickling one byte a second could stall a request for hours. Past
            the deadline the request fails, not retried, with a ``QRNGUnavailableError`` ("no
            complete reply within the ... deadline"), at the deadline (give or take a thread's
            scheduling): a watchdog (one daemon thread for the process, shared by every attempt)
            shuts down the socket of a read still blocked at the deadline and the connection is
            closed, and no retry starts whose wait would pass it. Not bounded by it: a
            blocking DNS look-up; sending the request (a GET of a few hundred bytes, each send
            within the timeout); the connection set-up and headers through a SOCKS proxy or through
            an adapter the ``session`` mounts for a longer prefix of ``url`` than ``http://`` /
            ``https://`` (see ``session``), which only the timeouts bound.
        max_retries: Retries per request (so at most ``max_retries + 1`` HTTP attempts) on
            connection errors, timeouts, replies dropped mid-body, 429 and 5xx.
        backoff_factor: Exponential backoff base in seconds: ``factor * 2**(k-1)`` before the
            k-th retry.
        backoff_max: Largest backoff in seconds (jitter included).
        backoff_jitter: Uniform random seconds added to each backoff and ``Retry-After`` wait.
        retry_after_max: Cap on a server's ``Retry-After`` in seconds.
        max_short_replies: Consecutive short or empty replies tolerated before raising.
        anu_type: ``"uint8"`` or ``"hex16"`` reply encoding (anu only).
        token_env: Environment variable holding the token when ``token`` is ``None``.
        session: An existing :class:`requests.Session` to configure and use (for custom transport:
            its headers, cookies, proxies, hooks...). Its ``http://`` and ``https://`` adapters
            are replaced by the client's (one HTTP attempt per call, the deadline on the
            headers); an adapter it mounts for a longer prefix of ``url`` is used instead, and
            then only the timeouts bound the connection set-up and the headers, and the
            deadline is checked between reads of the body only.
        replay_window: Reply blocks remembered by the replay check (0 turns it off; see
            ``_sources.qrng.replay``).
        allow_insecure_http: Allow ``http://`` to a non-loopback host, sending the token in clear
            text (warned about with a :class:`UserWarning`).

    Attributes:
        replay: The :class:`~hybridqml.entropy._sources.qrng.replay.ReplayCheck` of the replies.
        requests_made: HTTP requests attempted so far (every attempt, retries included).
        failures: HTTP requests that failed (transport error, error status or unusable reply).
        retry: The :class:`urllib3.util.Retry` policy (budget, backoff, ``Retry-After``).

    Raises:
        ConfigurationError: Bad arguments, no token, a token with whitespace or control
            characters, credentials in the URL, or plain ``http://`` to a remote host.

    Reads raise :class:`~hybridqml.exceptions.QRNGAuthError` (401/403),
    :class:`~hybridqml.exceptions.QRNGUnavailableError` (unreachable, TLS failure, timeouts, 429
    or 5xx after the retries, persistently short replies) or
    :class:`~hybridqml.exceptions.QRNGProtocolError` (malformed reply, unexpected status), with
    ``status`` (the last HTTP status received for the request, ``None`` if none) and
    ``attempts`` (HTTP attempts made for the request, retries included). A reply that repeats
    a recent one raises :class:`~hybridqml.exceptions.HealthTestError`.

    Example:
        >>> import os
        >>> from hybridqml.entropy import QRNGSource
        >>> src = QRNGSource("https://qrng.example/api/entropy", token="secret")
        >>> "secret" in repr(src)
        False
    """

    kind: SourceKind = "quantum"

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        provider: Provider = "eaas",
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        backoff_jitter: float = DEFAULT_BACKOFF_JITTER,
        retry_after_max: float = DEFAULT_RETRY_AFTER_MAX,
        max_short_replies: int = DEFAULT_MAX_SHORT_REPLIES,
        anu_type: Literal["uint8", "hex16"] = "uint8",
        token_env: str = TOKEN_ENV_VAR,
        session: requests.Session | None = None,
        allow_insecure_http: bool = False,
        replay_window: int = DEFAULT_REPLAY_WINDOW,
    ) -> None:
        if provider not in PROVIDERS:
            raise ConfigurationError(f"provider must be one of {PROVIDERS}, got {provider!r}")
        token = check_endpoint(url, token, token_env, allow_insecure_http=allow_insecure_http)
        check_positive_int(max_request_bytes, "max_request_bytes")
        if provider == "anu" and max_request_bytes > ANU_MAX_REQUEST_BYTES:
            raise ConfigurationError(
                f"max_request_bytes must be <= {ANU_MAX_REQUEST_BYTES} for provider 'anu'"
            )
        check_positive_int(max_retries, "max_retries", minimum=0)
        check_positive_int(max_short_replies, "max_short_replies", minimum=0)
        delays = (backoff_factor, backoff_max, backoff_jitter, retry_after_max)
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < math.inf
            for v in delays
        ):
            raise ConfigurationError("backoff and Retry-After settings must be finite and >= 0")
        if anu_type not in ANU_TYPES:
            raise ConfigurationError(f"anu_type must be one of {ANU_TYPES}, got {anu_type!r}")
        self.url = url
        self.provider = provider
        self.max_request_bytes = max_request_bytes
        self.timeout = check_timeout(timeout)
        if not (
            isinstance(deadline, int | float) and not isinstance(deadline, bool) and deadline > 0
        ) or not math.isfinite(deadline):
            raise ConfigurationError(
                f"deadline must be a positive, finite number of seconds, got {deadline!r}"
            )
        self.deadline = float(deadline)
        self.max_retries = max_retries
        self.max_short_replies = max_short_replies
        self.anu_type = anu_type
        self._token = Secret(token)
        self._safe_url = redact_url(url)
        self.name = f"qrng({provider}, {self._safe_url})"
        self.requests_made = 0
        self.failures = 0
        self.replay = ReplayCheck(replay_window)
        self._lock = threading.Lock()
        self.retry = make_retry_policy(
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            backoff_max=backoff_max,
            backoff_jitter=backoff_jitter,
            retry_after_max=retry_after_max,
        )
        self.session = session if session is not None else requests.Session()
        self.session.verify = True
        # One HTTP attempt per call: the retry loop is in _request, where reply-body failures
        # are visible and every attempt is counted.
        # Its connections put the set-up and the reply headers under the attempt's deadline.
        adapter = DeadlineAdapter(max_retries=Retry(total=0, redirect=False, raise_on_status=False))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def __repr__(self) -> str:
        return (
            f"QRNGSource(url={self._safe_url!r}, provider={self.provider!r}, "
            f"max_request_bytes={self.max_request_bytes}, token=***)"
        )

    __str__ = __repr__

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def _read(self, n: int) -> bytes:
        with self._lock:
            try:
                return self._read_locked(n)
            except QRNGError as exc:
                error = exc
        # Raised outside the except block: no __cause__/__context__, so no third-party text
        # (header values, URLs with queries, reply bodies) travels with the error.
        raise type(error)(str(error), status=error.status, attempts=error.attempts)

    def _read_locked(self, n: int) -> bytes:
        out = bytearray()
        short_replies = 0
        while len(out) < n:
            want = min(n - len(out), self.max_request_bytes)
            chunk, attempts = self._request(want)
            self.replay.check(chunk, self.name)
            out += chunk
            if len(chunk) < want:
                short_replies += 1
                logger.debug("short QRNG reply: %d of %d bytes", len(chunk), want)
                if short_replies > self.max_short_replies:
                    raise QRNGUnavailableError(
                        f"{self.name}: {short_replies} consecutive short replies "
                        f"(last {len(chunk)} of {want} bytes); refusing to pad",
                        status=200,
                        attempts=attempts,
                    )
            else:
                short_replies = 0
        return bytes(out)

    def _request(self, n: int) -> tuple[bytes, int]:
        """One validated reply for ``n`` <= ``max_request_bytes`` bytes (may be short).

        Transient failures are retried with the :attr:`retry` policy until its budget is spent.

        Returns:
            The bytes and the number of HTTP attempts made for them.
        """
        retries = self.retry.new(history=())
        attempts = 0
        last_status: int | None = None
        deadline = time.monotonic() + self.deadline
        while True:
            attempts += 1
            try:
                outcome = self._attempt(n, attempts, deadline)
            except QRNGError as exc:
                exc.attempts = attempts
                exc.status = last_status if exc.status is None else exc.status
                raise
            if not isinstance(outcome, Transient):
                return outcome, attempts
            last_status = last_status if outcome.status is None else outcome.status
            raw = getattr(outcome.response, "raw", None)
            try:
                retries = retries.increment(method="GET", url=self._safe_url, response=raw)
            except MaxRetryError:
                allowed = _plural(self.max_retries, "retry", "retries")
                message = (
                    f"{self.name}: {outcome.reason} after {_plural(attempts, 'attempt')} "
                    f"({allowed} allowed); try again later or raise max_retries"
                )
                break
            delay = retries.get_retry_after(raw) if raw is not None else None
            if delay is None:
                delay = retries.get_backoff_time()
            if time.monotonic() + delay >= deadline:
                message = (
                    f"{self.name}: {outcome.reason} after {_plural(attempts, 'attempt')}, and the "
                    f"next retry would pass the {self.deadline:g} s deadline of the request; try "
                    "again later or raise deadline"
                )
                break
            logger.debug(
                "QRNG attempt %d failed (%s); retrying in %.3f s", attempts, outcome.reason, delay
            )
            time.sleep(delay)
        raise QRNGUnavailableError(message, status=last_status, attempts=attempts)

    def _attempt(self, n: int, attempt: int, deadline: float) -> bytes | Transient:
        """One HTTP request: validated bytes, a :class:`Transient` to retry, or a QRNGError."""
        self.requests_made += 1
        logger.debug("QRNG request: %d bytes from %s (attempt %d)", n, self.name, attempt)
        watch = AttemptWatch(deadline)
        try:
            timeout = self._timeouts(deadline)
            with watch.active():  # blocking reads cut at the deadline (see transport)
                response = self.session.get(
                    self.url,
                    params=request_params(self.provider, n, anu_type=self.anu_type),
                    headers=request_headers(self.provider, self._token.reveal()),
                    timeout=timeout,
                    verify=True,
                    allow_redirects=False,
                    stream=True,  # the body is read by read_body, against the deadline
                )
                if response.status_code == 200:
                    received = read_body(response, deadline, watch, _BODY_READ_BYTES)
                    if received is not None:  # cut at the deadline
                        self.failures += 1  # as a late header block is
                        raise self._late(deadline, received)
        except (requests.exceptions.RequestException, ValueError, OSError) as exc:
            self.failures += 1
            if watch.expired:  # whatever requests made of the socket shut down under it
                raise self._late(deadline, 0, headers=True) from None
            outcome = classify_transport_error(exc)
            if isinstance(outcome, Transient):
                return outcome
            raise QRNGUnavailableError(f"{self.name}: {outcome}") from None
        try:
            transient = status_failure(response)
            if transient is not None:
                self.failures += 1
                return transient
            try:
                return self._parse(response, n)
            except QRNGError:
                self.failures += 1
                raise
        finally:
            response.close()

    def _timeouts(self, deadline: float) -> tuple[float, float]:
        """``(connect, read)`` timeouts, neither past the deadline (else it has passed)."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._late(deadline, 0)
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (self.timeout,) * 2
        return min(connect, left), min(read, left)

    def _late(
        self, deadline: float, received: int, *, headers: bool = False
    ) -> QRNGUnavailableError:
        what = (
            "its status line and headers not received"
            if headers
            else f"{_plural(received, 'byte')} of the reply received"
        )
        return QRNGUnavailableError(
            f"{self.name}: no complete reply within the {self.deadline:g} s deadline of the "
            f"request ({what}); the service is too slow: try again later or raise deadline"
        )

    def _parse(self, response: requests.Response, n: int) -> bytes:
        status = response.status_code
        if status in AUTH_STATUSES:
            raise QRNGAuthError(
                f"{self.name}: authentication rejected (HTTP {status}); check the token",
                status=status,
            )
        if status != 200:
            raise QRNGProtocolError(f"{self.name}: unexpected HTTP status {status}", status=status)
        try:
            payload = response.json()
        except (ValueError, RecursionError):
            raise QRNGProtocolError(
                f"{self.name}: reply is not valid JSON", status=status
            ) from None
        try:
            data = decode_reply(self.provider, payload, anu_type=self.anu_type)
        except QRNGProtocolError as exc:
            raise QRNGProtocolError(f"{self.name}: {exc}", status=status) from None
        if len(data) > n:
            raise QRNGProtocolError(
                f"{self.name}: reply holds {len(data)} bytes, more than the {n} asked",
                status=status,
            )
        return data
