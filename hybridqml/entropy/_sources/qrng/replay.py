"""The replay check: no QRNG reply block may repeat one seen recently.

A service (or a caching proxy, or the tutorial code's ``lru_cache`` keyed on the request size) that
answers with a block it already sent passes every statistical test: each block on its own looks
random, and ``hybridqml entropy test`` measured 7.79 bits/byte on such a stream. The SP 800-90B
health tests in ``_health`` look at runs and proportions of single bytes, so
they cannot see it either.

:class:`ReplayCheck` keeps the SHA-256 digests of the last ``window`` reply blocks of at least
:data:`REPLAY_MIN_BYTES` bytes and raises :class:`~hybridqml.exceptions.HealthTestError` when a
block repeats one of them. It belongs to the QRNG client, not to the
:class:`~hybridqml.entropy.EntropyPool`: only the client sees reply boundaries (a pool refill
may span several replies or part of one, so repeated replies need not line up with refills). The
client raises before adding the block to its output, so none of that read's bytes are delivered,
and a pool latches on the error. Two honest 16-byte blocks among ``window`` collide with
probability about ``window**2 / 2**129``: no false alarms in practice.
"""

from __future__ import annotations

import collections
import hashlib
from typing import Final

from hybridqml._validation import check_positive_int
from hybridqml.exceptions import HealthTestError

__all__ = ["DEFAULT_REPLAY_WINDOW", "REPLAY_MIN_BYTES", "ReplayCheck"]

#: Reply blocks remembered (digests of the most recent ones).
DEFAULT_REPLAY_WINDOW: Final[int] = 4096
#: Shorter reply blocks are not checked (honest short blocks may coincide).
REPLAY_MIN_BYTES: Final[int] = 16


class ReplayCheck:
    """Remembers recent blocks and refuses a repeat.

    Args:
        window: How many recent blocks to remember (0 turns the check off).

    Example:
        >>> check = ReplayCheck()
        >>> check.check(bytes(range(32)), "demo")
        >>> check.check(bytes(range(32)), "demo")
        Traceback (most recent call last):
        ...
        hybridqml.exceptions.HealthTestError: demo: replay check failed: ...
    """

    def __init__(self, window: int = DEFAULT_REPLAY_WINDOW) -> None:
        self.window = check_positive_int(window, "replay_window", minimum=0)
        self._order: collections.deque[bytes] = collections.deque()
        self._seen: set[bytes] = set()

    def check(self, block: bytes, name: str) -> None:
        """Remember ``block``; raise if it repeats one of the last ``window`` blocks.

        Raises:
            HealthTestError: ``block`` (at least :data:`REPLAY_MIN_BYTES` long) was seen recently.
        """
        if self.window == 0 or len(block) < REPLAY_MIN_BYTES:
            return
        digest = hashlib.sha256(block).digest()
        if digest in self._seen:
            raise HealthTestError(
                f"{name}: replay check failed: a reply of {len(block)} bytes repeats one of the "
                f"last {len(self._order)} replies (a replaying or caching service: the bytes are "
                "not fresh); the read's bytes are discarded"
            )
        self._order.append(digest)
        self._seen.add(digest)
        if len(self._order) > self.window:
            self._seen.discard(self._order.popleft())
