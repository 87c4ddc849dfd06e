"""The QRNG replay check, block by block against a written-out window."""

from __future__ import annotations

import pytest

from hybridqml.entropy._sources.qrng import replay
from hybridqml.exceptions import ConfigurationError, HealthTestError


def block(i: int, size: int = 16) -> bytes:
    return bytes([i]) * size


def test_the_window_remembers_exactly_the_last_window_blocks():
    check = replay.ReplayCheck(window=2)
    for i in (1, 2, 3):
        check.check(block(i), "svc")
    # blocks 2 and 3 are the last two: 1 was forgotten when 3 arrived
    check.check(block(1), "svc")  # accepted; the window is now 3, 1
    with pytest.raises(HealthTestError) as info:
        check.check(block(3), "svc")
    assert str(info.value).startswith(
        "svc: replay check failed: a reply of 16 bytes repeats one of the last 2 replies"
    )
    assert str(info.value).endswith(
        "(a replaying or caching service: the bytes are not fresh); the read's bytes are discarded"
    )


def test_a_window_of_one_compares_with_the_previous_block_only():
    check = replay.ReplayCheck(window=1)
    check.check(block(1), "svc")
    with pytest.raises(HealthTestError):
        check.check(block(1), "svc")
    check.check(block(2), "svc")
    check.check(block(1), "svc")  # 1 is two blocks back now


def test_blocks_shorter_than_16_bytes_are_not_checked_and_not_remembered():
    assert replay.REPLAY_MIN_BYTES == 16
    check = replay.ReplayCheck(window=3)
    short = bytes(range(15))
    check.check(short, "svc")
    check.check(short, "svc")
    exact = bytes(range(16))
    check.check(exact, "svc")
    with pytest.raises(HealthTestError, match="a reply of 16 bytes"):
        check.check(exact, "svc")
    assert len(check._order) == 1 and len(check._seen) == 1


def test_a_refused_block_is_not_added_to_the_window():
    check = replay.ReplayCheck(window=2)
    check.check(block(1), "svc")
    with pytest.raises(HealthTestError):
        check.check(block(1), "svc")
    assert list(check._order) == [check._order[0]] and len(check._seen) == 1


def test_window_zero_turns_the_check_off_and_negative_windows_are_refused():
    check = replay.ReplayCheck(window=0)
    check.check(block(1), "svc")
    check.check(block(1), "svc")
    assert len(check._order) == 0
    with pytest.raises(ConfigurationError, match=r"^replay_window must be an int >= 0, got -1$"):
        replay.ReplayCheck(window=-1)


def test_the_default_window_is_4096_blocks():
    assert replay.DEFAULT_REPLAY_WINDOW == 4096
    check = replay.ReplayCheck()
    assert check.window == 4096
    for i in range(4097):
        check.check(i.to_bytes(16, "big"), "svc")
    check.check((0).to_bytes(16, "big"), "svc")  # 4097 blocks back: forgotten
    with pytest.raises(HealthTestError, match="last 4096 replies"):
        check.check((4096).to_bytes(16, "big"), "svc")
