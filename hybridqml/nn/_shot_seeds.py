"""Independent shot-noise streams for layers that share a ``seed``.

Two layers built with the same ``seed`` used to draw the same shot noise: their errors were
correlated. Each :class:`~hybridqml.nn.CircuitEngine` now takes a *stream index* for its
seed when it is built: the smallest index no other live engine with that seed holds. Stream 0
is the seed itself (a lone layer draws exactly what it drew before); stream ``k > 0`` is the
first word of ``numpy.random.SeedSequence(seed, spawn_key=(k,))``, independent of stream 0.
So in one model, layers built with ``seed=7`` get streams 0, 1, 2, ... in construction order,
reproducibly from run to run; a layer that is no longer reachable frees its index (unreachable
layers caught in reference cycles are collected before a higher index is handed out, so what
a new layer draws never depends on when Python's garbage collector last ran). Only the shot draws
(and SPSA directions) follow the stream: transpilation keeps the seed itself, so layers sharing
a seed also share a device layout. The stream travels with
the engine when it is pickled or copied (a copy draws what its original draws). Pass distinct
seeds to choose the streams yourself.

Example:
    >>> derived_seed(7, 0), derived_seed(7, 1) == derived_seed(7, 1), derived_seed(7, 1) == 7
    (7, True, False)
"""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np

__all__ = ["claim_stream", "derived_seed"]

_lock = threading.Lock()
_holders: dict[int, weakref.WeakValueDictionary] = {}


def claim_stream(seed: int | None, holder: object) -> int:
    """The smallest stream index of ``seed`` no live holder has; ``holder`` now holds it."""
    if seed is None:
        return 0
    with _lock:
        taken = _holders.setdefault(seed, weakref.WeakValueDictionary())
        if 0 not in taken:
            taken[0] = holder
            return 0
    # Stream 0 is held: by a live layer, or by garbage in a reference cycle that the collector
    # has not reached yet. Collect it (outside the lock: finalizers may build layers) so that
    # the index depends only on which layers are reachable.
    gc.collect()
    with _lock:
        index = 0
        while index in taken:
            index += 1
        taken[index] = holder
        return index


def derived_seed(seed: int | None, stream: int) -> int | None:
    """The seed of stream ``stream`` of ``seed`` (stream 0: ``seed`` itself)."""
    if seed is None or stream == 0:
        return seed
    return int(np.random.SeedSequence(seed, spawn_key=(stream,)).generate_state(1)[0])
