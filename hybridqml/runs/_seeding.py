"""Seeding and RNG snapshots: one call seeds python, numpy and torch; snapshots restore them.

:func:`epoch_seed` (the per-epoch seed derived from the run seed) lives in
``hybridqml._validation`` and is re-exported here.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from hybridqml._validation import check_seed, epoch_seed

__all__ = [
    "DEFAULT_SEED",
    "capture_rng_state",
    "epoch_seed",
    "restore_rng_state",
    "seed_everything",
]

DEFAULT_SEED = 0
"""Seed used when none is given."""


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and CUDA).

    Args:
        seed: Integer in ``[0, 2**32 - 1]``.

    Raises:
        ConfigurationError: If ``seed`` is out of range or not an integer.

    Example:
        >>> seed_everything(7); a = torch.rand(2)
        >>> seed_everything(7); torch.equal(a, torch.rand(2))
        True
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def capture_rng_state() -> dict[str, Any]:
    """Snapshot the python, numpy and torch (CPU, and CUDA when available) RNG states.

    The snapshot only holds types that ``torch.load(weights_only=True)`` accepts.

    Returns:
        A dict for :func:`restore_rng_state`.

    Example:
        >>> state = capture_rng_state(); a = torch.rand(1)
        >>> restore_rng_state(state); torch.equal(a, torch.rand(1))
        True
    """
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore a snapshot taken by :func:`capture_rng_state`.

    Args:
        state: The snapshot.

    Example:
        >>> restore_rng_state(capture_rng_state())
    """
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    np_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": np_state["bit_generator"],
            "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
