"""Request and reply formats of the supported QRNG services (see ``shared/entropy.md``).

* ``"eaas"`` (Quantum eMotion Entropy-as-a-Service): ``GET <url>?size=N`` with
  ``Authorization: Bearer <token>``; JSON ``{"random_number": "<base64 of N bytes>"}``.
* ``"anu"`` (ANU Quantum Numbers): ``GET <url>?length=L&type=uint8`` (or ``type=hex16&size=S``) with
  ``x-api-key: <token>``; JSON ``{"success": true, "type": ..., "length": "L", "data": [...]}``.

Decoders raise :class:`~hybridqml.exceptions.QRNGProtocolError` for a reply that breaks its
format; the client adds the source name, the HTTP status and the attempt count.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final, Literal

from hybridqml.exceptions import QRNGProtocolError

__all__ = [
    "ANU_MAX_REQUEST_BYTES",
    "ANU_TYPES",
    "PROVIDERS",
    "Provider",
    "decode_reply",
    "request_headers",
    "request_params",
]

Provider = Literal["eaas", "anu"]
PROVIDERS: Final[tuple[str, ...]] = ("eaas", "anu")
#: Reply encodings the ANU service offers that the client decodes.
ANU_TYPES: Final[tuple[str, ...]] = ("uint8", "hex16")
#: ANU allows at most 1024 values per request.
ANU_MAX_REQUEST_BYTES: Final[int] = 1024


def request_headers(provider: str, token: str) -> dict[str, str]:
    """HTTP headers carrying ``token`` the way ``provider`` expects it."""
    if provider == "eaas":
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return {"x-api-key": token, "Accept": "application/json"}


def request_params(provider: str, n: int, *, anu_type: str = "uint8") -> dict[str, Any]:
    """Query parameters asking ``provider`` for ``n`` bytes.

    Example:
        >>> request_params("anu", 4, anu_type="hex16")
        {'length': 1, 'type': 'hex16', 'size': 4}
    """
    if provider == "eaas":
        return {"size": n}
    if anu_type == "uint8":
        return {"length": n, "type": "uint8"}
    return {"length": 1, "type": "hex16", "size": n}


def decode_reply(provider: str, payload: object, *, anu_type: str = "uint8") -> bytes:
    """The random bytes in a parsed JSON reply of ``provider``.

    Raises:
        QRNGProtocolError: The reply breaks the provider's documented format.

    Example:
        >>> decode_reply("eaas", {"random_number": "QUI="})
        b'AB'
    """
    if not isinstance(payload, dict):
        raise QRNGProtocolError("reply JSON is not an object")
    if provider == "eaas":
        return _decode_eaas(payload)
    return _decode_anu(payload, anu_type)


def _decode_eaas(payload: dict[str, Any]) -> bytes:
    encoded = payload.get("random_number")
    if not isinstance(encoded, str):
        raise QRNGProtocolError("reply has no 'random_number' string")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise QRNGProtocolError("'random_number' is not valid base64") from None


def _decode_anu(payload: dict[str, Any], anu_type: str) -> bytes:
    if payload.get("success") is not True:
        raise QRNGProtocolError("reply does not report success")
    if payload.get("type") != anu_type:
        raise QRNGProtocolError(f"reply type is not {anu_type!r}")
    values = payload.get("data")
    if not isinstance(values, list):
        raise QRNGProtocolError("reply has no 'data' list")
    length = payload.get("length")
    if length is not None and str(length).strip() != str(len(values)):
        raise QRNGProtocolError("reply 'length' does not match its data")
    if anu_type == "uint8":
        if not all(type(v) is int and 0 <= v <= 255 for v in values):
            raise QRNGProtocolError("'data' holds values outside uint8")
        return bytes(values)
    out = bytearray()
    for value in values:
        if not isinstance(value, str) or len(value) % 2:
            raise QRNGProtocolError("'data' holds an invalid hex16 block")
        try:
            out += bytes.fromhex(value)
        except ValueError:
            raise QRNGProtocolError("'data' holds invalid hex") from None
    return bytes(out)
