"""NIST SP 800-90B continuous health tests (Repetition Count and Adaptive Proportion), vectorised.

Samples are bytes. With claimed min-entropy ``H`` bits per sample and false-positive rate
``alpha`` (per test, per sample/window):

* Repetition Count Test (RCT, SP 800-90B 4.4.1): cutoff ``C = 1 + ceil(-log2(alpha) / H)``; a run of
  ``C`` identical consecutive samples fails.
* Adaptive Proportion Test (APT, 4.4.2): window ``W`` (1024 for binary, 512 otherwise);
  ``C = 1 + CRITBINOM(W, 2^-H, 1 - alpha)``; the first sample of a window occurring ``C`` or more
  times in that window fails.
* Start-up: both tests over at least 1024 samples before any output.

The tests run with numpy on whole chunks (no per-byte Python loop) and carry their state across
chunks, so a run or a window spanning two chunks is tested exactly as in one stream.

Example:
    >>> import numpy as np
    >>> from hybridqml.entropy._health import HealthTests
    >>> tests = HealthTests()
    >>> tests.rct_cutoff, tests.apt_cutoff
    (5, 16)
    >>> tests.check(np.zeros(2048, dtype=np.uint8)).passed
    False
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.stats import binom

from hybridqml.exceptions import ConfigurationError

__all__ = [
    "BINARY_WINDOW",
    "DEFAULT_ALPHA",
    "NON_BINARY_WINDOW",
    "STARTUP_SAMPLES",
    "HealthResult",
    "HealthTests",
    "adaptive_proportion_cutoff",
    "repetition_count_cutoff",
]

#: Default false-positive probability per test (SP 800-90B recommends 2^-20 ... 2^-40).
DEFAULT_ALPHA: Final[float] = 2.0**-30
BINARY_WINDOW: Final[int] = 1024
NON_BINARY_WINDOW: Final[int] = 512
#: Minimum samples tested at start-up (and at every re-test after an intermittent alarm).
STARTUP_SAMPLES: Final[int] = 1024


def _check_alpha_entropy(alpha: float, entropy: float, max_entropy: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ConfigurationError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 < entropy <= max_entropy:
        raise ConfigurationError(f"claimed entropy must be in (0, {max_entropy}], got {entropy}")


def repetition_count_cutoff(alpha: float, entropy: float) -> int:
    """RCT cutoff ``1 + ceil(-log2(alpha) / H)``.

    Args:
        alpha: False-positive probability, e.g. ``2**-30``.
        entropy: Claimed min-entropy per sample in bits.

    Returns:
        The smallest run length that fails the test.

    Example:
        >>> repetition_count_cutoff(2**-30, 8), repetition_count_cutoff(2**-30, 1)
        (5, 31)
    """
    _check_alpha_entropy(alpha, entropy, 64.0)
    # Round away floating-point noise before ceil (e.g. 30/7.5 must stay 4).
    return 1 + math.ceil(round(-math.log2(alpha) / entropy, 9))


def adaptive_proportion_cutoff(window: int, entropy: float, alpha: float) -> int:
    """APT cutoff ``1 + CRITBINOM(W, 2^-H, 1 - alpha)``.

    ``CRITBINOM(n, p, q)`` is the smallest ``k`` with binomial ``CDF(k) >= q``; computed from the
    survival function for accuracy at tiny ``alpha``.

    Args:
        window: Window size ``W``.
        entropy: Claimed min-entropy per sample in bits.
        alpha: False-positive probability.

    Returns:
        The smallest count (first sample of the window included) that fails the test.

    Example:
        >>> adaptive_proportion_cutoff(1024, 1, 2**-30), adaptive_proportion_cutoff(512, 8, 2**-30)
        (609, 16)
    """
    _check_alpha_entropy(alpha, entropy, 64.0)
    if not isinstance(window, int) or window < 2:
        raise ConfigurationError(f"window must be an int >= 2, got {window}")
    return 1 + int(binom.isf(alpha, window, 2.0**-entropy))


@dataclass(frozen=True)
class HealthResult:
    """Outcome of testing one chunk.

    Attributes:
        passed: ``True`` if no test fired.
        test: ``"repetition-count"`` or ``"adaptive-proportion"`` for a failure, else ``None``.
        detail: Human-readable explanation.
        samples: Samples tested in this call.
    """

    passed: bool
    test: str | None
    detail: str
    samples: int


class HealthTests:
    """Stateful SP 800-90B RCT + APT over a stream of byte samples.

    Args:
        claimed_entropy: Claimed min-entropy per byte (bits, 0 < H <= 8).
        alpha: False-positive probability per test.
        window: APT window (default 512 for 8-bit samples).

    Attributes:
        rct_cutoff: Failing run length.
        apt_cutoff: Failing count within a window.
        samples_tested: Samples tested since construction.
        max_run: Longest run seen so far.
        max_window_count: Largest APT count seen so far.
    """

    def __init__(
        self,
        *,
        claimed_entropy: float = 8.0,
        alpha: float = DEFAULT_ALPHA,
        window: int = NON_BINARY_WINDOW,
    ) -> None:
        _check_alpha_entropy(alpha, claimed_entropy, 8.0)
        self.claimed_entropy = float(claimed_entropy)
        self.alpha = float(alpha)
        self.window = window
        self.rct_cutoff = repetition_count_cutoff(alpha, claimed_entropy)
        self.apt_cutoff = adaptive_proportion_cutoff(window, claimed_entropy, alpha)
        self.samples_tested = 0
        self.max_run = 0
        self.max_window_count = 0
        self.reset()

    def reset(self) -> None:
        """Forget the carried run and partial window (used before a start-up test)."""
        self._last: int | None = None
        self._run = 0
        self._pending: np.ndarray = np.zeros(0, dtype=np.uint8)

    def startup(self, samples: np.ndarray) -> HealthResult:
        """Run the start-up test: both tests, from a fresh state, over >= 1024 samples.

        Args:
            samples: ``uint8`` samples (at least :data:`STARTUP_SAMPLES`).

        Returns:
            The result; the tests keep the state for continuous testing afterwards.
        """
        if samples.size < STARTUP_SAMPLES:
            raise ConfigurationError(f"start-up test needs >= {STARTUP_SAMPLES} samples")
        self.reset()
        return self.check(samples)

    def check(self, samples: np.ndarray) -> HealthResult:
        """Continue both tests over ``samples`` (``uint8``), carrying state across calls."""
        x = np.ascontiguousarray(samples, dtype=np.uint8).ravel()
        if x.size == 0:
            return HealthResult(True, None, "no samples", 0)
        self.samples_tested += x.size
        run = self._repetition_count(x)
        count = self._adaptive_proportion(x)
        self.max_run = max(self.max_run, run)
        self.max_window_count = max(self.max_window_count, count)
        if run >= self.rct_cutoff:
            return HealthResult(
                False,
                "repetition-count",
                f"run of {run} identical samples (cutoff {self.rct_cutoff})",
                x.size,
            )
        if count >= self.apt_cutoff:
            return HealthResult(
                False,
                "adaptive-proportion",
                f"a value occurred {count} times in a window of {self.window} "
                f"(cutoff {self.apt_cutoff})",
                x.size,
            )
        return HealthResult(True, None, "passed", x.size)

    def _repetition_count(self, x: np.ndarray) -> int:
        """Longest run in ``x`` (joined to the run carried from the previous chunk)."""
        n = x.size
        carried = self._run if self._last is not None and int(x[0]) == self._last else 0
        idx = np.flatnonzero(x[1:] == x[:-1])  # sparse for good data
        if idx.size == 0:
            first = 1 + carried
            longest, last = first, (first if n == 1 else 1)
        else:
            breaks = np.flatnonzero(np.diff(idx) != 1)
            starts = np.concatenate(([0], breaks + 1))
            ends = np.concatenate((breaks, [idx.size - 1]))
            lengths = ends - starts + 2
            first = 1 + carried
            if idx[starts[0]] == 0:
                lengths[0] += carried
                first = int(lengths[0])
            longest = max(int(lengths.max()), first)
            last = int(lengths[-1]) if idx[ends[-1]] + 1 == n - 1 else 1
        self._last = int(x[-1])
        self._run = last
        return longest

    def _adaptive_proportion(self, x: np.ndarray) -> int:
        """Largest count of a window's first value over the windows completed by ``x``."""
        stream = np.concatenate((self._pending, x)) if self._pending.size else x
        full = stream.size - stream.size % self.window
        self._pending = stream[full:].copy()
        if full == 0:
            return 0
        rows = stream[:full].reshape(-1, self.window)
        counts = np.count_nonzero(rows == rows[:, :1], axis=1)
        return int(counts.max())
