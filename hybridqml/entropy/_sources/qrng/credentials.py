"""Where a QRNG credential may go: the endpoint and token checks of :class:`QRNGSource`.

The token travels in an HTTP header only. A URL that carries credentials (``user:password@`` or a
query parameter named like one) is refused, since URLs end up in logs; plain ``http://`` is
accepted only for loopback hosts unless explicitly allowed (and then warned about); a token must
be printable ASCII without whitespace, and no message ever shows it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
import warnings
from typing import Final

from hybridqml._validation import url_credential
from hybridqml.exceptions import ConfigurationError

__all__ = ["LOOPBACK_HOSTS", "Secret", "check_endpoint", "check_token", "is_loopback"]

#: Hosts to which plain ``http://`` is allowed without ``allow_insecure_http`` (any loopback
#: address, e.g. a local stand-in or proxy, also counts).
LOOPBACK_HOSTS: Final[frozenset[str]] = frozenset({"127.0.0.1", "::1", "localhost"})
#: Tokens must be printable ASCII without whitespace (they go into an HTTP header).
_TOKEN_PATTERN: Final[re.Pattern[str]] = re.compile(r"[\x21-\x7e]+")


class Secret:
    """Holds a credential; its ``repr``/``str`` never show the value.

    Example:
        >>> Secret("abc")
        '***'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The credential itself (for the HTTP header only)."""
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def is_loopback(host: str | None) -> bool:
    """``True`` for a loopback host name or address.

    Example:
        >>> is_loopback("127.0.0.2"), is_loopback("qrng.example")
        (True, False)
    """
    if not host:
        return False
    if host.lower().rstrip(".") in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_token(token: object) -> str:
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


def check_endpoint(
    url: object, token: str | None, token_env: str, *, allow_insecure_http: bool
) -> str:
    """Check ``url`` and return the token (``token``, else ``$token_env``), checked.

    Raises:
        ConfigurationError: Not an http(s) URL with a host, credentials in the URL, plain
            ``http://`` to a remote host without ``allow_insecure_http``, or no valid token.
    """
    try:
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        host = None if parts is None else parts.hostname
    except ValueError:
        parts = host = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError("url must be an http(s) URL with a host")
    credential = url_credential(url)  # type: ignore[arg-type]
    if credential is not None:
        raise ConfigurationError(
            f"the QRNG url carries {credential}, which looks like a credential: URLs end up "
            "in logs (urllib3's debug log prints the query string). Remove it from the url "
            f"and pass the token with the token argument or ${token_env} (not shown)"
        )
    if parts.scheme == "http" and not is_loopback(host):
        if not allow_insecure_http:
            raise ConfigurationError(
                f"plain http:// would send the QRNG token unencrypted to {host!r}; use "
                "https://, or pass allow_insecure_http=True if you accept that risk"
            )
        warnings.warn(
            f"QRNGSource: sending the QRNG token in clear text over plain http:// to "
            f"{host!r} (allow_insecure_http=True); use https:// where possible",
            UserWarning,
            stacklevel=3,
        )
    if token is None:
        token = os.environ.get(token_env)
    if not token:
        raise ConfigurationError(f"no QRNG token given and ${token_env} is not set")
    return check_token(token)
