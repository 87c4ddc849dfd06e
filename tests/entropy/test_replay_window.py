"""The QRNG replay check remembers exactly the last ``window`` reply blocks."""

from __future__ import annotations

import pytest

from hybridqml.entropy._sources.qrng.replay import REPLAY_MIN_BYTES, ReplayCheck
from hybridqml.exceptions import HealthTestError


def _block(i: int) -> bytes:
    return bytes([i]) * REPLAY_MIN_BYTES


@pytest.mark.parametrize("window", [1, 2, 3, 5])
def test_a_repeat_of_the_block_window_replies_ago_is_caught_one_more_is_not(window):
    """Planted bug: the window off by one (remembering window - 1 or window + 1 blocks)."""
    # a repeat of the block sent `window` replies ago: still remembered
    check = ReplayCheck(window)
    for i in range(window):
        check.check(_block(i), "qrng")
    with pytest.raises(HealthTestError, match="replay"):
        check.check(_block(0), "qrng")
    # `window + 1` replies ago: forgotten (the window holds exactly `window` blocks)
    check = ReplayCheck(window)
    for i in range(window + 1):
        check.check(_block(i), "qrng")
    check.check(_block(0), "qrng")


def test_short_blocks_and_a_zero_window_are_not_checked():
    check = ReplayCheck(0)
    check.check(_block(1), "qrng")
    check.check(_block(1), "qrng")
    short = ReplayCheck(4)
    short.check(bytes(REPLAY_MIN_BYTES - 1), "qrng")
    short.check(bytes(REPLAY_MIN_BYTES - 1), "qrng")
