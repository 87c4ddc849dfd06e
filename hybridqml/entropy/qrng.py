"""HTTP client for quantum random number services (QRNG).

Two reply formats are supported (see ``shared/entropy.md``):

* ``"eaas"`` (Quantum eMotion Entropy-as-a-Service): ``GET <url>?size=N`` with
  ``Authorization: Bearer <token>``; JSON ``{"random_number": "<base64 of N bytes>"}``.
* ``"anu"`` (ANU Quantum Numbers): ``GET <url>?length=L&type=uint8`` (or ``type=hex16&size=S``) with
  ``x-api-key: <token>``; JSON ``{"success": true, "type": ..., "length": "L", "data": [...]}``.

Transport: a :class:`requests.Session` whose adapter carries a :class:`urllib3.util.Retry`:
exponential backoff with jitter, ``Retry-After`` honoured but capped (and jittered; an unparseable
value falls back to the backoff instead of raising), retries on connection errors, 429 and 5xx
only. ``raise_on_status=False``: once retries are exhausted the final status is turned into a
:class:`~hybridqml.exceptions.QRNGError` here, so no third-party error text (which holds URLs) is
shown. 401/403 are not retried. The token is kept in headers only, never in the URL, ``repr``,
``str``, logs or exception messages. TLS certificates are always verified.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import random
import threading
import urllib.parse
from typing import Any, Final, Literal

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader
from urllib3.util import Retry

from hybridqml.entropy.sources import EntropySource, SourceKind
from hybridqml.exceptions import ConfigurationError, QRNGError

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
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
RETRY_STATUSES: Final[frozenset[int]] = frozenset({429, 500, 502, 503, 504})
AUTH_STATUSES: Final[frozenset[int]] = frozenset({401, 403})


class _CappedJitterRetry(Retry):
    """``Retry`` with a capped, jittered ``Retry-After``; unparseable values mean plain backoff."""

    def __init__(self, *args: Any, retry_after_cap: float = DEFAULT_RETRY_AFTER_MAX, **kw: Any):
        super().__init__(*args, **kw)
        self.retry_after_cap = retry_after_cap

    def new(self, **kw: Any) -> _CappedJitterRetry:
        new = super().new(**kw)
        new.retry_after_cap = self.retry_after_cap
        return new

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


def _redact_url(url: str) -> str:
    """Scheme, host and path only (a query string may hold credentials)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", "")
    )


class QRNGSource(EntropySource):
    """Random bytes from an HTTP quantum random number service.

    Args:
        url: Endpoint URL (``https://.../entropy`` for eaas, the ANU API URL for anu).
        token: API token. ``None`` reads it from the environment variable ``token_env``.
        provider: ``"eaas"`` or ``"anu"``.
        max_request_bytes: Largest number of bytes asked in one request (reads are split).
        timeout: ``(connect, read)`` timeouts in seconds, or one number for both.
        max_retries: Retries per request on connection errors, 429 and 5xx.
        backoff_factor: Exponential backoff base in seconds (``factor * 2**(k-1)``).
        backoff_max: Largest backoff in seconds.
        backoff_jitter: Uniform random seconds added to each backoff and ``Retry-After`` wait.
        retry_after_max: Cap on a server's ``Retry-After`` in seconds.
        max_short_replies: Consecutive short or empty replies tolerated before raising.
        anu_type: ``"uint8"`` or ``"hex16"`` reply encoding (anu only).
        token_env: Environment variable holding the token when ``token`` is ``None``.
        session: An existing :class:`requests.Session` to configure and use (for custom transport).

    Raises:
        ConfigurationError: Bad arguments or no token.

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
    ) -> None:
        if provider not in PROVIDERS:
            raise ConfigurationError(f"provider must be one of {PROVIDERS}, got {provider!r}")
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError("url must be an http(s) URL")
        if token is None:
            token = os.environ.get(token_env)
        if not token:
            raise ConfigurationError(f"no QRNG token given and ${token_env} is not set")
        limit = ANU_MAX_REQUEST_BYTES if provider == "anu" else None
        if not isinstance(max_request_bytes, int) or max_request_bytes < 1:
            raise ConfigurationError("max_request_bytes must be a positive int")
        if limit is not None and max_request_bytes > limit:
            raise ConfigurationError(f"max_request_bytes must be <= {limit} for provider 'anu'")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError("max_retries must be a non-negative int")
        if not isinstance(max_short_replies, int) or max_short_replies < 0:
            raise ConfigurationError("max_short_replies must be a non-negative int")
        if min(backoff_factor, backoff_max, backoff_jitter, retry_after_max) < 0:
            raise ConfigurationError("backoff and Retry-After settings must be >= 0")
        if anu_type not in ("uint8", "hex16"):
            raise ConfigurationError("anu_type must be 'uint8' or 'hex16'")
        self.url = url
        self.provider = provider
        self.max_request_bytes = max_request_bytes
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_short_replies = max_short_replies
        self.anu_type = anu_type
        self._token = _Secret(token)
        self.name = f"qrng({provider}, {_redact_url(url)})"
        self.requests_made = 0
        self.failures = 0
        self._lock = threading.Lock()
        self.retry = _CappedJitterRetry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            other=0,
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
        adapter = HTTPAdapter(max_retries=self.retry)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def __repr__(self) -> str:
        return (
            f"QRNGSource(url={_redact_url(self.url)!r}, provider={self.provider!r}, "
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
                        self.failures += 1
                        raise QRNGError(
                            f"{self.name}: {short_replies} consecutive short replies "
                            f"(last {len(chunk)} of {want} bytes); refusing to pad"
                        )
                else:
                    short_replies = 0
            return bytes(out)

    def _request(self, n: int) -> bytes:
        """One validated request for ``n`` <= ``max_request_bytes`` bytes (may return fewer)."""
        self.requests_made += 1
        logger.debug("QRNG request: %d bytes from %s", n, self.name)
        try:
            response = self.session.get(
                self.url,
                params=self._params(n),
                headers=self._headers(),
                timeout=self.timeout,
                verify=True,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as exc:
            self.failures += 1
            raise QRNGError(f"{self.name}: TLS verification failed") from exc
        except requests.exceptions.Timeout as exc:
            self.failures += 1
            raise QRNGError(f"{self.name}: timed out after {self.max_retries} retries") from exc
        except requests.exceptions.RequestException as exc:
            self.failures += 1
            raise QRNGError(
                f"{self.name}: connection failed after {self.max_retries} retries "
                f"({type(exc).__name__})"
            ) from exc
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
        if status in RETRY_STATUSES:
            raise QRNGError(
                f"{self.name}: service unavailable (HTTP {status}) after {self.max_retries} retries"
            )
        if status != 200:
            raise QRNGError(f"{self.name}: unexpected HTTP status {status}")
        try:
            payload = response.json()
        except ValueError as exc:
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
