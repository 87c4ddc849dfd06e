"""Retry policy and failure classification for the QRNG HTTP client.

One logical request (one chunk of bytes) gets one budget of ``max_retries`` retries and one backoff
schedule, held by a :class:`CappedJitterRetry` (a :class:`urllib3.util.Retry`):

* retried (:func:`classify_transport_error` says so, or :data:`RETRY_STATUSES`): connection errors
  and timeouts, a connection dropped or a body left unreadable while the reply is read (truncated
  or broken chunked body, undecodable content, read timeout), HTTP 429 and every 5xx status;
* backoff: ``backoff_factor * 2**(k-1)`` seconds before the k-th retry (the first retry waits too)
  plus up to ``backoff_jitter`` seconds of uniform jitter, capped at ``backoff_max``;
* ``Retry-After`` honoured on retried statuses but capped at ``retry_after_max`` and jittered; an
  unparseable value falls back to the backoff instead of raising;
* not retried: 401/403 (:data:`AUTH_STATUSES`), other statuses, malformed replies, TLS failures.

Descriptions of failures are built from exception *types* only: third-party messages can hold
header values or URLs with query strings.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from itertools import takewhile
from typing import Any, Final

import requests
from urllib3.exceptions import InvalidHeader, ReadTimeoutError
from urllib3.util import Retry

__all__ = [
    "AUTH_STATUSES",
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_BACKOFF_JITTER",
    "DEFAULT_BACKOFF_MAX",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_AFTER_MAX",
    "RETRY_STATUSES",
    "CappedJitterRetry",
    "Transient",
    "classify_transport_error",
    "make_retry_policy",
    "status_failure",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES: Final[int] = 5
DEFAULT_BACKOFF_FACTOR: Final[float] = 0.5
DEFAULT_BACKOFF_MAX: Final[float] = 30.0
DEFAULT_BACKOFF_JITTER: Final[float] = 0.5
#: Cap on a server's ``Retry-After`` (urllib3 alone allows 6 hours).
DEFAULT_RETRY_AFTER_MAX: Final[float] = 60.0
#: Statuses retried with backoff: 429 (rate-limited) and every 5xx.
RETRY_STATUSES: Final[frozenset[int]] = frozenset({429, *range(500, 600)})
#: Statuses meaning the credentials were refused (never retried).
AUTH_STATUSES: Final[frozenset[int]] = frozenset({401, 403})
#: Largest backoff exponent (keeps ``2**k`` a float for huge ``max_retries``).
_MAX_BACKOFF_EXPONENT: Final[int] = 64


class CappedJitterRetry(Retry):
    """``Retry`` policy: jittered backoff from the first retry on, capped jittered ``Retry-After``.

    urllib3 2.x waits 0 s before the first retry and adds no jitter to ``Retry-After``; this
    subclass waits ``backoff_factor * 2**(k-1)`` plus jitter before the k-th retry, capped at
    ``backoff_max``, and caps ``Retry-After`` at ``retry_after_cap`` (an unparseable value means
    plain backoff).
    """

    def __init__(self, *args: Any, retry_after_cap: float = DEFAULT_RETRY_AFTER_MAX, **kw: Any):
        super().__init__(*args, **kw)
        self.retry_after_cap = retry_after_cap

    def new(self, **kw: Any) -> CappedJitterRetry:
        """A copy with ``kw`` changed (urllib3 calls this on every ``increment``)."""
        new = super().new(**kw)
        new.retry_after_cap = self.retry_after_cap
        return new

    def get_backoff_time(self) -> float:
        """Seconds to wait before the next retry (0 before any failure)."""
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
        """The server's ``Retry-After`` in seconds, capped and jittered (``None``: absent/bad)."""
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


def make_retry_policy(
    *,
    max_retries: int,
    backoff_factor: float,
    backoff_max: float,
    backoff_jitter: float,
    retry_after_max: float,
) -> CappedJitterRetry:
    """The retry budget of one logical request: ``max_retries`` retries of any retried kind."""
    return CappedJitterRetry(
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


@dataclass(frozen=True)
class Transient:
    """A failed attempt worth retrying: why, the reply (for ``Retry-After``) and its status."""

    reason: str
    response: Any = None
    status: int | None = None


def status_failure(response: requests.Response) -> Transient | None:
    """A :class:`Transient` for a retried status (429, 5xx), else ``None``."""
    status = response.status_code
    if status not in RETRY_STATUSES:
        return None
    what = "rate-limited" if status == 429 else "service unavailable"
    return Transient(f"{what} (HTTP {status})", response, status)


def classify_transport_error(exc: BaseException) -> Transient | str:
    """A :class:`Transient` for a retryable transport error, else the reason it is fatal.

    Args:
        exc: What ``requests`` raised while sending the request or reading the reply.
    """
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS verification failed; check the server certificate and the URL"
    if isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    ):
        return Transient(_describe_transport_error(exc))
    # Building or sending the request failed (e.g. an invalid header value); the third-party
    # message may hold the header, so only the type name is kept.
    return (
        f"the request could not be sent ({type(exc).__name__}); check the URL and that "
        "the token holds only printable ASCII"
    )


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
