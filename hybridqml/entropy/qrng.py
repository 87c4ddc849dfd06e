"""HTTP client for quantum random number services (QRNG).

Two reply formats are supported (see ``shared/entropy.md``):

* ``"eaas"`` (Quantum eMotion Entropy-as-a-Service): ``GET <url>?size=N`` with
  ``Authorization: Bearer <token>``; JSON ``{"random_number": "<base64 of N bytes>"}``.
* ``"anu"`` (ANU Quantum Numbers): ``GET <url>?length=L&type=uint8`` (or ``type=hex16&size=S``) with
  ``x-api-key: <token>``; JSON ``{"success": true, "type": ..., "length": "L", "data": [...]}``.

Transport: a :class:`requests.Session` whose adapter makes exactly one HTTP attempt per call; the
retry loop is the client's own, driven by a :class:`urllib3.util.Retry` policy object
(:attr:`QRNGSource.retry`) so that every failure of one logical request shares one budget of
``max_retries`` retries and one backoff schedule:

* retried: connection errors and timeouts, a connection dropped or a body left unreadable while the
  reply is read (truncated or broken chunked body, undecodable content, read timeout), HTTP 429 and
  every 5xx status;
* backoff: ``backoff_factor * 2**(k-1)`` seconds before the k-th retry (the first retry waits too)
  plus up to ``backoff_jitter`` seconds of uniform jitter, capped at ``backoff_max``;
* ``Retry-After`` honoured on retried statuses but capped at ``retry_after_max`` and jittered; an
  unparseable value falls back to the backoff instead of raising;
* not retried: 401/403 (raised at once), other statuses, malformed replies, TLS failures.

Error messages state the real number of HTTP attempts made. :attr:`QRNGSource.requests_made` and
:attr:`QRNGSource.failures` count HTTP requests (every attempt) and failed ones; an
:class:`~hybridqml.entropy.pool.EntropyPool` reports them in its provenance.

Secrets: the token is kept in headers only, never in the URL, ``repr``, ``str``, logs or exception
messages. It must be printable ASCII without whitespace (a trailing newline from a file or an
environment variable is rejected at construction, without echoing the value). Every
:class:`~hybridqml.exceptions.QRNGError` leaves the client without a ``__cause__`` or
``__context__``: third-party exceptions (whose text can hold header values or URLs with query
strings) are reduced to their type names. TLS certificates are always verified, and plain
``http://`` is accepted only for loopback hosts unless ``allow_insecure_http=True``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import math
import os
import random
import re
import threading
import time
import urllib.parse
import warnings
from dataclasses import dataclass
from itertools import takewhile
from typing import Any, Final, Literal

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, ReadTimeoutError
from urllib3.util import Retry

from hybridqml._validation import redact_url
from hybridqml.entropy.sources import EntropySource, SourceKind
from hybridqml.exceptions import ConfigurationError, QRNGError

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "LOOPBACK_HOSTS",
    "RETRY_STATUSES",
    "TOKEN_ENV_VAR",
    "QRNGSource",
]

logger = logging.getLogger(__name__)

Provider = Literal["eaas", "anu"]
PROVIDERS: Final[tuple[str, ...]] = ("eaas", "anu")
#: Environment variable read when no token is passed.
TOKEN_ENV_VAR: Final[str] = "HYBRIDQML_QRNG_TOKEN"
DEFAULT_MAX_REQUEST_BYTES: Final[int] = 512
#: ANU allows at most 1024 values per request.
ANU_MAX_REQUEST_BYTES: Final[int] = 1024
#: (connect, read) timeouts in seconds.
DEFAULT_TIMEOUT: Final[tuple[float, float]] = (5.0, 30.0)
DEFAULT_MAX_RETRIES: Final[int] = 5
DEFAULT_BACKOFF_FACTOR: Final[float] = 0.5
DEFAULT_BACKOFF_MAX: Final[float] = 30.0
DEFAULT_BACKOFF_JITTER: Final[float] = 0.5
#: Cap on a server's ``Retry-After`` (urllib3 alone allows 6 hours).
DEFAULT_RETRY_AFTER_MAX: Final[float] = 60.0
#: Consecutive short or empty replies tolerated while topping up one read.
DEFAULT_MAX_SHORT_REPLIES: Final[int] = 3
#: Statuses retried with backoff: 429 (rate-limited) and every 5xx.
RETRY_STATUSES: Final[frozenset[int]] = frozenset({429, *range(500, 600)})
AUTH_STATUSES: Final[frozenset[int]] = frozenset({401, 403})
#: Hosts to which plain ``http://`` is allowed without ``allow_insecure_http`` (any loopback
#: address, e.g. a local stand-in or proxy, also counts).
LOOPBACK_HOSTS: Final[frozenset[str]] = frozenset({"127.0.0.1", "::1", "localhost"})
#: Tokens must be printable ASCII without whitespace (they go into an HTTP header).
_TOKEN_PATTERN: Final[re.Pattern[str]] = re.compile(r"[\x21-\x7e]+")
#: Largest backoff exponent (keeps ``2**k`` a float for huge ``max_retries``).
_MAX_BACKOFF_EXPONENT: Final[int] = 64


class _CappedJitterRetry(Retry):
    """``Retry`` policy: jittered backoff from the first retry on, capped jittered ``Retry-After``.

    urllib3 2.x waits 0 s before the first retry and adds no jitter to ``Retry-After``; this
    subclass waits ``backoff_factor * 2**(k-1)`` plus jitter before the k-th retry, capped at
    ``backoff_max``, and caps ``Retry-After`` at ``retry_after_cap`` (an unparseable value means
    plain backoff).
    """

    def __init__(self, *args: Any, retry_after_cap: float = DEFAULT_RETRY_AFTER_MAX, **kw: Any):
        super().__init__(*args, **kw)
        self.retry_after_cap = retry_after_cap

    def new(self, **kw: Any) -> _CappedJitterRetry:
        new = super().new(**kw)
        new.retry_after_cap = self.retry_after_cap
        return new

    def get_backoff_time(self) -> float:
        consecutive = len(
            list(takewhile(lambda h: h.redirect_location is None, reversed(self.history)))
        )
        if consecutive == 0:
            return 0.0
        exponent = min(consecutive - 1, _MAX_BACKOFF_EXPONENT)
        value = self.backoff_factor * 2.0**exponent
        if self.backoff_jitter:
            value += random.random() * self.backoff_jitter
        return float(max(0.0, min(self.backoff_max, value)))

    def get_retry_after(self, response: Any) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            logger.debug("ignoring unparseable Retry-After header")
            return None
        if seconds is None:
            return None
        seconds = min(seconds, self.retry_after_cap)
        if self.backoff_jitter:
            seconds += random.random() * self.backoff_jitter
        return min(seconds, self.retry_after_cap)


class _Secret:
    """Holds a credential; its ``repr``/``str`` never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


@dataclass(frozen=True)
class _Transient:
    """A failed attempt worth retrying: why, and the reply (for ``Retry-After``) if any."""

    reason: str
    response: Any = None


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower().rstrip(".") in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_token(token: object) -> str:
    """Validate a token without ever putting its value into a message."""
    if not isinstance(token, str):
        raise ConfigurationError(f"the QRNG token must be a str, got {type(token).__name__}")
    if not _TOKEN_PATTERN.fullmatch(token):
        raise ConfigurationError(
            "the QRNG token contains whitespace, control or non-ASCII characters (often a "
            "trailing newline from a file or environment variable); strip it and try again "
            "(the token is not shown)"
        )
    return token


def _check_timeout(timeout: object) -> float | tuple[float, float]:
    values = timeout if isinstance(timeout, tuple) else (timeout,)
    if len(values) not in (1, 2) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf for v in values
    ):
        raise ConfigurationError(
            "timeout must be a positive number of seconds or a (connect, read) pair of them"
        )
    return timeout  # type: ignore[return-value]


def _chain_has(exc: BaseException, kind: type[BaseException]) -> bool:
    """``True`` if ``exc``, its causes/contexts or its wrapped ``args`` include a ``kind``."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, kind):
            return True
        stack.extend((item.__cause__, item.__context__, getattr(item, "reason", None)))
        stack.extend(item.args)
    return False


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
        session: An existing :class:`requests.Session` to configure and use (for custom transport).
        allow_insecure_http: Allow ``http://`` to a non-loopback host, sending the token in clear
            text (warned about with a :class:`UserWarning`).

    Attributes:
        requests_made: HTTP requests attempted so far (every attempt, retries included).
        failures: HTTP requests that failed (transport error, error status or unusable reply).
        retry: The :class:`urllib3.util.Retry` policy (budget, backoff, ``Retry-After``).

    Raises:
        ConfigurationError: Bad arguments, no token, a token with whitespace or control
            characters, or plain ``http://`` to a remote host.

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
    ) -> None:
        if provider not in PROVIDERS:
            raise ConfigurationError(f"provider must be one of {PROVIDERS}, got {provider!r}")
        try:
            parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
            host = None if parts is None else parts.hostname
        except ValueError:
            parts = host = None
        if parts is None or parts.scheme not in ("http", "https") or not host:
            raise ConfigurationError("url must be an http(s) URL with a host")
        if parts.scheme == "http" and not _is_loopback(host):
            if not allow_insecure_http:
                raise ConfigurationError(
                    f"plain http:// would send the QRNG token unencrypted to {host!r}; use "
                    "https://, or pass allow_insecure_http=True if you accept that risk"
                )
            warnings.warn(
                f"QRNGSource: sending the QRNG token in clear text over plain http:// to "
                f"{host!r} (allow_insecure_http=True); use https:// where possible",
                UserWarning,
                stacklevel=2,
            )
        if token is None:
            token = os.environ.get(token_env)
        if not token:
            raise ConfigurationError(f"no QRNG token given and ${token_env} is not set")
        token = _check_token(token)
        limit = ANU_MAX_REQUEST_BYTES if provider == "anu" else None
        if _bad_int(max_request_bytes, 1):
            raise ConfigurationError("max_request_bytes must be a positive int")
        if limit is not None and max_request_bytes > limit:
            raise ConfigurationError(f"max_request_bytes must be <= {limit} for provider 'anu'")
        if _bad_int(max_retries, 0):
            raise ConfigurationError("max_retries must be a non-negative int")
        if _bad_int(max_short_replies, 0):
            raise ConfigurationError("max_short_replies must be a non-negative int")
        delays = (backoff_factor, backoff_max, backoff_jitter, retry_after_max)
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < math.inf
            for v in delays
        ):
            raise ConfigurationError("backoff and Retry-After settings must be finite and >= 0")
        if anu_type not in ("uint8", "hex16"):
            raise ConfigurationError("anu_type must be 'uint8' or 'hex16'")
        self.url = url
        self.provider = provider
        self.max_request_bytes = max_request_bytes
        self.timeout = _check_timeout(timeout)
        self.max_retries = max_retries
        self.max_short_replies = max_short_replies
        self.anu_type = anu_type
        self._token = _Secret(token)
        self._safe_url = redact_url(url)
        self.name = f"qrng({provider}, {self._safe_url})"
        self.requests_made = 0
        self.failures = 0
        self._lock = threading.Lock()
        self.retry = _CappedJitterRetry(
            total=max_retries,
            connect=None,
            read=None,
            status=None,
            other=None,
            redirect=0,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_max=backoff_max,
            backoff_jitter=backoff_jitter,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
            retry_after_cap=retry_after_max,
        )
        self.session = session if session is not None else requests.Session()
        self.session.verify = True
        # One HTTP attempt per call: the retry loop is in _request, where reply-body failures
        # are visible and every attempt is counted.
        adapter = HTTPAdapter(max_retries=Retry(total=0, redirect=False, raise_on_status=False))
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

    def _headers(self) -> dict[str, str]:
        if self.provider == "eaas":
            return {"Authorization": f"Bearer {self._token.reveal()}", "Accept": "application/json"}
        return {"x-api-key": self._token.reveal(), "Accept": "application/json"}

    def _params(self, n: int) -> dict[str, Any]:
        if self.provider == "eaas":
            return {"size": n}
        if self.anu_type == "uint8":
            return {"length": n, "type": "uint8"}
        return {"length": 1, "type": "hex16", "size": n}

    def _read(self, n: int) -> bytes:
        with self._lock:
            try:
                return self._read_locked(n)
            except QRNGError as exc:
                message = str(exc)
        # Raised outside the except block: no __cause__/__context__, so no third-party text
        # (header values, URLs with queries, reply bodies) travels with the error.
        raise QRNGError(message)

    def _read_locked(self, n: int) -> bytes:
        out = bytearray()
        short_replies = 0
        while len(out) < n:
            want = min(n - len(out), self.max_request_bytes)
            chunk = self._request(want)
            out += chunk
            if len(chunk) < want:
                short_replies += 1
                logger.debug("short QRNG reply: %d of %d bytes", len(chunk), want)
                if short_replies > self.max_short_replies:
                    raise QRNGError(
                        f"{self.name}: {short_replies} consecutive short replies "
                        f"(last {len(chunk)} of {want} bytes); refusing to pad"
                    )
            else:
                short_replies = 0
        return bytes(out)

    def _request(self, n: int) -> bytes:
        """One validated reply for ``n`` <= ``max_request_bytes`` bytes (may be short).

        Transient failures are retried with the :attr:`retry` policy until its budget is spent.
        """
        retries = self.retry.new(history=())
        attempts = 0
        while True:
            attempts += 1
            outcome = self._attempt(n, attempts)
            if not isinstance(outcome, _Transient):
                return outcome
            raw = getattr(outcome.response, "raw", None)
            try:
                retries = retries.increment(method="GET", url=self._safe_url, response=raw)
                exhausted = False
            except MaxRetryError:
                exhausted = True
            if exhausted:
                allowed = _plural(self.max_retries, "retry", "retries")
                raise QRNGError(
                    f"{self.name}: {outcome.reason} after {_plural(attempts, 'attempt')} "
                    f"({allowed} allowed); try again later or raise max_retries"
                )
            delay = retries.get_retry_after(raw) if raw is not None else None
            if delay is None:
                delay = retries.get_backoff_time()
            logger.debug(
                "QRNG attempt %d failed (%s); retrying in %.3f s", attempts, outcome.reason, delay
            )
            time.sleep(delay)

    def _attempt(self, n: int, attempt: int) -> bytes | _Transient:
        """One HTTP request: validated bytes, a :class:`_Transient` to retry, or a QRNGError."""
        self.requests_made += 1
        logger.debug("QRNG request: %d bytes from %s (attempt %d)", n, self.name, attempt)
        fatal: str | None = None
        transient: str | None = None
        response: requests.Response | None = None
        try:
            response = self.session.get(
                self.url,
                params=self._params(n),
                headers=self._headers(),
                timeout=self.timeout,
                verify=True,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError:
            fatal = "TLS verification failed; check the server certificate and the URL"
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            transient = _describe_transport_error(exc)
        except (requests.exceptions.RequestException, ValueError, OSError) as exc:
            # Building or sending the request failed (e.g. an invalid header value); the
            # third-party message may hold the header, so only the type name is kept.
            fatal = (
                f"the request could not be sent ({type(exc).__name__}); check the URL and that "
                "the token holds only printable ASCII"
            )
        if fatal is not None or transient is not None:
            self.failures += 1
            if fatal is not None:
                raise QRNGError(f"{self.name}: {fatal}")
            return _Transient(f"{transient}")
        assert response is not None
        try:
            status = response.status_code
            if status in RETRY_STATUSES:
                self.failures += 1
                what = "rate-limited" if status == 429 else "service unavailable"
                return _Transient(f"{what} (HTTP {status})", response)
            try:
                return self._parse(response, n)
            except QRNGError:
                self.failures += 1
                raise
        finally:
            response.close()

    def _parse(self, response: requests.Response, n: int) -> bytes:
        status = response.status_code
        if status in AUTH_STATUSES:
            raise QRNGError(
                f"{self.name}: authentication rejected (HTTP {status}); check the token"
            )
        if status != 200:
            raise QRNGError(f"{self.name}: unexpected HTTP status {status}")
        try:
            payload = response.json()
        except (ValueError, RecursionError) as exc:
            raise QRNGError(f"{self.name}: reply is not valid JSON") from exc
        if not isinstance(payload, dict):
            raise QRNGError(f"{self.name}: reply JSON is not an object")
        data = self._decode_eaas(payload) if self.provider == "eaas" else self._decode_anu(payload)
        if len(data) > n:
            raise QRNGError(f"{self.name}: reply holds {len(data)} bytes, more than the {n} asked")
        return data

    def _decode_eaas(self, payload: dict[str, Any]) -> bytes:
        encoded = payload.get("random_number")
        if not isinstance(encoded, str):
            raise QRNGError(f"{self.name}: reply has no 'random_number' string")
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise QRNGError(f"{self.name}: 'random_number' is not valid base64") from exc

    def _decode_anu(self, payload: dict[str, Any]) -> bytes:
        if payload.get("success") is not True:
            raise QRNGError(f"{self.name}: reply does not report success")
        if payload.get("type") != self.anu_type:
            raise QRNGError(f"{self.name}: reply type is not {self.anu_type!r}")
        values = payload.get("data")
        if not isinstance(values, list):
            raise QRNGError(f"{self.name}: reply has no 'data' list")
        length = payload.get("length")
        if length is not None and str(length).strip() != str(len(values)):
            raise QRNGError(f"{self.name}: reply 'length' does not match its data")
        if self.anu_type == "uint8":
            if not all(type(v) is int and 0 <= v <= 255 for v in values):
                raise QRNGError(f"{self.name}: 'data' holds values outside uint8")
            return bytes(values)
        out = bytearray()
        for value in values:
            if not isinstance(value, str) or len(value) % 2:
                raise QRNGError(f"{self.name}: 'data' holds an invalid hex16 block")
            try:
                out += bytes.fromhex(value)
            except ValueError as exc:
                raise QRNGError(f"{self.name}: 'data' holds invalid hex") from exc
        return bytes(out)


def _bad_int(value: object, minimum: int) -> bool:
    return isinstance(value, bool) or not isinstance(value, int) or value < minimum


def _describe_transport_error(exc: BaseException) -> str:
    """Describe a retryable transport error from exception types only (no third-party text)."""
    name = type(exc).__name__
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"connection dropped while reading the reply body ({name})"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return f"reply body could not be decoded ({name})"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connection timed out ({name})"
    if isinstance(exc, requests.exceptions.Timeout) or _chain_has(exc, ReadTimeoutError):
        return f"timed out waiting for the reply ({name})"
    return f"connection failed ({name})"
