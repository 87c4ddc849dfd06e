"""Small checks and helpers shared by every layer of the package.

This module imports nothing of hybridqml's but :mod:`hybridqml.exceptions`.

One home for each repeated small thing: int, finite-float and seed validation (for Python
arguments and for ``argparse``), run/epoch seed derivation, URL redaction, and the
``stacklevel`` that points a warning at the user's line.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import urllib.parse
from types import FrameType
from typing import Final, Literal, overload

import numpy as np

from hybridqml.exceptions import ConfigurationError

__all__ = [
    "MAX_SEED",
    "check_finite",
    "check_positive_int",
    "check_seed",
    "epoch_seed",
    "nonnegative_float",
    "positive_float",
    "positive_int",
    "redact_url",
    "seed_arg",
    "url_credential",
    "user_stacklevel",
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


def _float_range(
    above: float | None = None, at_least: float | None = None, below: float | None = None
) -> str:
    if above is not None and below is not None:
        return f"in ({above:g}, {below:g})"
    parts = [
        f"> {above:g}" if above is not None else "",
        f">= {at_least:g}" if at_least is not None else "",
        f"< {below:g}" if below is not None else "",
    ]
    return " and ".join(p for p in parts if p)


def check_finite(
    value: object,
    name: str,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
) -> float:
    """Validate a real number: finite (no NaN or infinity) and within the given bounds.

    Args:
        value: The number (bools rejected).
        name: The setting's name, for the message.
        above: Exclusive lower bound.
        at_least: Inclusive lower bound.
        below: Exclusive upper bound.

    Returns:
        ``value`` as a float.

    Raises:
        ConfigurationError: Not a number, not finite, or out of range.

    Example:
        >>> check_finite(0.1, "lr", above=0)
        0.1
        >>> check_finite(float("nan"), "noise_std", at_least=0)
        Traceback (most recent call last):
        ...
        hybridqml.exceptions.ConfigurationError: noise_std must be a finite number >= 0, got nan
    """
    ok = not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
    number = float(value) if ok else math.nan  # type: ignore[arg-type]
    ok = ok and math.isfinite(number)
    ok = ok and (above is None or number > above) and (at_least is None or number >= at_least)
    ok = ok and (below is None or number < below)
    if not ok:
        bounds = _float_range(above, at_least, below)
        raise ConfigurationError(
            f"{name} must be a finite number{' ' + bounds if bounds else ''}, got {value!r}"
        )
    return number


@overload
def check_seed(seed: object, *, optional: Literal[False] = False) -> int: ...
@overload
def check_seed(seed: object, *, optional: bool) -> int | None: ...
def check_seed(seed: object, *, optional: bool = False) -> int | None:
    """Validate a seed: an integer in ``[0, 2**32 - 1]`` (bools rejected); ``None`` if optional.

    The one seed rule of the package (layers, backends, training, entropy, the CLI): every
    generator a seed reaches accepts it -- numpy's ``default_rng``/``SeedSequence`` take any
    non-negative int, torch's ``manual_seed`` below ``2**64``, Aer's ``seed_simulator`` an int64,
    and numpy's legacy global generator (seeded by :func:`hybridqml.training.seed_everything`)
    only below ``2**32``: the smallest bound is the rule.

    Args:
        seed: The seed.
        optional: Accept ``None`` (no seed: fresh entropy) and return it.

    Raises:
        ConfigurationError: ``seed`` is out of range or not an integer.

    Example:
        >>> check_seed(7), check_seed(None, optional=True)
        (7, None)
    """
    if seed is None and optional:
        return None
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed <= MAX_SEED
    ):
        allowed = " or None" if optional else ""
        raise ConfigurationError(
            f"seed must be a non-negative integer below 2**32 (0 to {MAX_SEED}){allowed}, "
            f"got {seed!r}"
        )
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


def _finite_arg(text: str, **bounds: float) -> float:
    try:
        return check_finite(float(text), "value", **bounds)
    except ValueError as exc:  # float() failed, or ConfigurationError (a ValueError)
        what = "a finite number" + (" " + _float_range(**bounds) if bounds else "")
        raise argparse.ArgumentTypeError(f"must be {what}: {text!r}") from exc


def positive_float(text: str) -> float:
    """An ``argparse`` type: a finite number > 0 (``inf`` and ``nan`` rejected).

    Example:
        >>> positive_float("1e-3")
        0.001
    """
    return _finite_arg(text, above=0.0)


def nonnegative_float(text: str) -> float:
    """An ``argparse`` type: a finite number >= 0 (``inf`` and ``nan`` rejected).

    Example:
        >>> nonnegative_float("0")
        0.0
    """
    return _finite_arg(text, at_least=0.0)


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


def user_stacklevel() -> int:
    """The ``stacklevel`` of the caller's first frame outside the hybridqml package.

    For ``warnings.warn(..., stacklevel=user_stacklevel())`` in code reached along several
    call paths: the warning points at the user's line whatever the depth.
    """
    package = os.path.dirname(os.path.abspath(__file__))
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        package + os.sep
    ):
        frame, level = frame.f_back, level + 1
    return level
