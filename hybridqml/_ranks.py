"""Which rank of a ``torch.distributed`` process group this process is (a leaf module).

Every layer of the package may ask these questions (the files toolkit writes only on rank 0,
entropy streams derive a per-rank seed), so they live here, below every layer, and depend on
nothing but :mod:`torch.distributed`. Without an initialised process group the process is rank 0
of a world of one.

Example:
    >>> rank(), world_size(), is_writer()
    (0, 1, True)
"""

from __future__ import annotations

import numpy as np
import torch.distributed as dist

__all__ = ["is_distributed", "is_writer", "rank", "rank_seed", "world_size"]


def is_distributed() -> bool:
    """``True`` inside an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's global rank (0 without a process group)."""
    if dist.is_available() and dist.is_initialized():
        return int(dist.get_rank())
    return 0


def world_size() -> int:
    """Number of ranks of the process group (1 without one)."""
    if dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return 1


def is_writer() -> bool:
    """``True`` on the rank that writes a run's files (rank 0, or a single process)."""
    return rank() == 0


def rank_seed(seed: int) -> int:
    """``seed`` on a single process; a seed of this rank's own sub-stream in a larger world.

    The derived seed is a 63-bit integer from ``numpy.random.SeedSequence`` of ``(seed,
    world_size, rank)``: different for every rank and world size, reproducible for a given
    world size, and (with 2**63 values) distinct from the single-process seeds.

    Example:
        >>> rank_seed(12345)  # one process: unchanged
        12345
    """
    world = world_size()
    if world == 1:
        return int(seed)
    words = np.random.SeedSequence(
        [int(seed) & 0xFFFFFFFF, int(seed) >> 32, world, rank(), 0x52414E4B]
    ).generate_state(2)
    return (int(words[0]) << 31) ^ int(words[1])
