"""Memory budgets of executors: how a pass is split into calls, and what fits at all.

A simulator's peak memory grows with the number of bindings it evaluates in one call (Aer with
runtime parameter binding holds one statevector per binding, plus its result objects), so a
backward pass of a large batch would need memory proportional to the batch. An
:class:`~hybridqml.execution.Executor` that knows its cost per binding
(``Executor.binding_bytes``) splits a pass into the fewest calls that each stay under its budget
(``Executor.max_memory_bytes``, :data:`DEFAULT_MAX_MEMORY_BYTES` unless the backend option
``max_memory_bytes`` says otherwise); a pass that fits stays one call.

Example:
    >>> chunk_sizes(10, binding_bytes=100, budget=1000)   # fits: one call
    [10]
    >>> chunk_sizes(10, binding_bytes=100, budget=400)    # 4 per call at most: 3 calls
    [4, 3, 3]
"""

from __future__ import annotations

import math
import os
from typing import Final

import numpy as np

from hybridqml.exceptions import ConfigurationError

__all__ = [
    "DEFAULT_MAX_MEMORY_BYTES",
    "LARGE_STATE_BYTES",
    "MEMORY_OPTION",
    "available_memory_bytes",
    "check_memory_limit",
    "chunk_sizes",
    "human_bytes",
    "local_ranks",
    "rank_memory_share",
]

MEMORY_OPTION: Final[str] = "max_memory_bytes"
"""The ``backend_options`` key of the memory budget (every backend understands it)."""

DEFAULT_MAX_MEMORY_BYTES: Final[int] = 256 << 20
"""Budget of one call when none is given: 256 MiB (about 7,000 bindings of 10 qubits on Aer).

Large enough that a training batch is one call (calls of a few thousand bindings amortize the
per-call cost), small enough that a batch of any size stays well under a laptop's memory.
"""


LARGE_STATE_BYTES: Final[int] = 4 << 30
"""One dense state above this (4 GiB: a 28-qubit statevector) is refused unless the memory
budget (``max_memory_bytes``) is raised explicitly to hold it: such a register takes minutes per
circuit (a 30-qubit forward pass on Aer took over 90 s) and most of a machine's memory, so a
training run on it cannot finish. The error names the option that accepts it."""


def check_memory_limit(value: object, name: str = MEMORY_OPTION) -> int | None:
    """A memory limit in bytes: a positive int, or ``None`` for the default.

    Raises:
        ConfigurationError: ``value`` is not a positive int (bools rejected).

    Example:
        >>> check_memory_limit(1 << 30), check_memory_limit(None)
        (1073741824, None)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of bytes, got {value!r}")
    return int(value)


def chunk_sizes(m: int, binding_bytes: int | None, budget: int) -> list[int]:
    """Sizes of the calls evaluating ``m`` bindings under ``budget`` bytes each.

    One call when ``m * binding_bytes <= budget`` (or the cost is unknown, ``None``); otherwise
    the fewest calls of at most ``budget // binding_bytes`` bindings, balanced (sizes differ by
    at most one). A binding larger than the budget runs alone: a budget cannot split one state.
    """
    if m <= 0:
        return []
    if binding_bytes is None or m * binding_bytes <= budget:
        return [m]
    per_call = max(1, budget // max(1, binding_bytes))
    calls = math.ceil(m / per_call)
    base, extra = divmod(m, calls)
    return [base + 1] * extra + [base] * (calls - extra)


def available_memory_bytes() -> int | None:
    """Bytes of host memory available for new allocations (``None`` if unknown).

    The smaller of the system's available memory and the room left under the process's
    address-space limit (``RLIMIT_AS``), when one is set.

    Example:
        >>> free = available_memory_bytes()
        >>> free is None or free > 0
        True
    """
    free = _physical_available()
    left = _address_space_left()
    if free is None or left is None:
        return free if left is None else left
    return min(free, left)


def _physical_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def local_ranks() -> int:
    """Ranks of this run on this machine (``LOCAL_WORLD_SIZE`` set by torchrun; else 1).

    Example:
        >>> local_ranks() >= 1
        True
    """
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


def rank_memory_share() -> int | None:
    """This rank's share of the memory available now: the available bytes / :func:`local_ranks`.

    The ranks of a data-parallel run start together and each sees the same free memory; each
    checking against its share keeps them from all passing while together they do not fit.

    Example:
        >>> share = rank_memory_share()
        >>> share is None or share > 0
        True
    """
    free = available_memory_bytes()
    return None if free is None else free // local_ranks()


def _address_space_left() -> int | None:
    """Room left under this process's ``RLIMIT_AS`` (``ulimit -v``), ``None`` if unlimited."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None
    if limit == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status") as f:
            used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        return None
    return max(limit - used, 0)


def human_bytes(n: float) -> str:
    """``n`` bytes in binary units.

    Example:
        >>> human_bytes(3 << 30)
        '3.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover
