"""Small checks and helpers shared by every layer of the package.

This module imports nothing of hybridqml's but :mod:`hybridqml.exceptions`.

One home for each repeated small thing: int and seed validation (for Python arguments and for
``argparse``), run/epoch seed derivation, and URL redaction.
"""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Final

import numpy as np

from hybridqml.exceptions import ConfigurationError

__all__ = [
    "MAX_SEED",
    "check_positive_int",
    "check_seed",
    "epoch_seed",
    "positive_int",
    "redact_url",
    "seed_arg",
    "url_credential",
]

MAX_SEED: Final[int] = 2**32 - 1
"""Largest accepted seed (numpy's legacy global generator accepts seeds below 2**32)."""


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Validate an int argument (bools rejected) that must be ``>= minimum``.

    Raises:
        ConfigurationError: ``value`` is not an int or is below ``minimum``.

    Example:
        >>> check_positive_int(3, "n")
        3
        >>> check_positive_int(0, "n", minimum=0)
        0
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ConfigurationError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_seed(seed: object) -> int:
    """Validate a seed: an integer in ``[0, 2**32 - 1]`` (bools rejected).

    Raises:
        ConfigurationError: ``seed`` is out of range or not an integer.

    Example:
        >>> check_seed(7)
        7
    """
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed <= MAX_SEED
    ):
        raise ConfigurationError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")
    return int(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """Derive the seed of one epoch from the run seed (numpy ``SeedSequence``).

    Args:
        seed: Run seed.
        epoch: Epoch number (1-based in the training loop).

    Returns:
        A 63-bit integer, the same for the same ``(seed, epoch)`` on every machine.

    Example:
        >>> epoch_seed(0, 1) == epoch_seed(0, 1) != epoch_seed(0, 2)
        True
    """
    words = np.random.SeedSequence([check_seed(seed), int(epoch)]).generate_state(2)
    return (int(words[0]) << 31) ^ int(words[1])


def _int_arg(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc


def positive_int(text: str) -> int:
    """An ``argparse`` type: a positive integer.

    Example:
        >>> positive_int("3")
        3
    """
    value = _int_arg(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {value}")
    return value


def seed_arg(text: str) -> int:
    """An ``argparse`` type: a seed in ``[0, 2**32)``.

    Example:
        >>> seed_arg("42")
        42
    """
    value = _int_arg(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32): {value}")
    return value


def redact_url(url: str) -> str:
    """Scheme, host and path only: no user info, query or fragment (they may hold credentials).

    Example:
        >>> redact_url("https://user:pw@qrng.example/api?token=abc")
        'https://qrng.example/api'
    """
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", "")
    )


#: A query parameter whose name (lower case) contains one of these is taken for a credential.
_CREDENTIAL_WORDS: Final[tuple[str, ...]] = (
    "token",
    "key",
    "secret",
    "passw",
    "pwd",
    "auth",
    "credential",
    "signature",
)


def url_credential(url: str) -> str | None:
    """What in ``url`` looks like a credential (never its value), or ``None``.

    User information (``user:password@``) and query parameters whose name contains ``token``,
    ``key`` (``api_key``, ``apikey``), ``secret``, ``passw``, ``pwd``, ``auth``, ``credential`` or
    ``signature`` (or is ``sig``) count.

    Example:
        >>> url_credential("https://qrng.example/api?api_key=abc")
        "the query parameter 'api_key'"
        >>> url_credential("https://qrng.example/api?length=8") is None
        True
    """
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return "user information (user:password@)"
    for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        lowered = name.lower()
        if lowered == "sig" or any(word in lowered for word in _CREDENTIAL_WORDS):
            return f"the query parameter {name!r}"
    return None
