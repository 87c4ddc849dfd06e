"""Collectives of a data-parallel run that survive a failing rank.

Every collective of :class:`~hybridqml.training.DataParallel` is preceded by
:func:`check_peers`, a one-number ``all_reduce`` saying whether some rank failed; a failing rank
calls it with its exception instead of continuing, so the healthy ranks learn of the failure at
their next collective (and raise :class:`~hybridqml.exceptions.DistributedError` naming the rank
and its message) instead of waiting for a timeout. :func:`collective` turns the ``RuntimeError``
of a collective whose peer vanished into a ``DistributedError``.

Example:
    >>> gather_provenance({"source_bytes": 8, "delivered_bytes": 4})["delivered_bytes"]
    4
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from hybridqml import _ranks
from hybridqml.exceptions import DistributedError

__all__ = ["check_peers", "collective", "gather_from_ranks", "gather_provenance", "share_from_main"]

T = TypeVar("T")


def check_peers(failure: BaseException | None) -> None:
    """Exchange "did anyone fail?" with every rank; raise if another rank failed.

    Every rank calls this at the same points (before each collective of :class:`DataParallel`);
    a failing rank calls it with its exception instead of continuing, so the healthy ranks learn
    of it at their next collective rather than waiting for a timeout.

    Raises:
        DistributedError: Another rank failed (its rank and message are named), or a peer was
            lost.
    """
    flag = torch.tensor([0 if failure is None else 1], dtype=torch.int64)
    collective(dist.all_reduce, flag, op=dist.ReduceOp.SUM)
    if int(flag.item()) == 0:
        return
    mine = None if failure is None else f"{type(failure).__name__}: {failure}"
    messages: list[Any] = [None] * dist.get_world_size()
    collective(dist.all_gather_object, messages, mine)
    if failure is not None:
        return  # the failing rank re-raises its own error
    failed = tuple(r for r, m in enumerate(messages) if m is not None)
    detail = "; ".join(f"rank {r}: {messages[r]}" for r in failed)
    raise DistributedError(
        f"rank(s) {', '.join(map(str, failed))} of {dist.get_world_size()} failed, so the run "
        f"stopped on every rank ({detail}). The last complete checkpoint is intact: fix the "
        "cause and continue with --resume",
        failed_ranks=failed,
        messages=tuple(str(messages[r]) for r in failed),
    )


def collective(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` (a ``torch.distributed`` collective); a lost peer raises.

    Raises:
        DistributedError: The collective failed (another rank was killed or crashed).
    """
    try:
        return fn(*args, **kwargs)
    except (RuntimeError, ConnectionError) as exc:
        raise DistributedError(
            f"rank {_ranks.rank()} lost contact with the other ranks during "
            f"{getattr(fn, '__name__', 'a collective')} ({exc}); another rank was probably "
            "killed or crashed (see its output). The last complete checkpoint is intact: "
            "continue with --resume"
        ) from exc


def gather_from_ranks(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` on one process.

    Call it on every rank (a failed peer is reported as by :func:`check_peers`).

    Example:
        >>> gather_from_ranks({"n": 3})
        [{'n': 3}]
    """
    if not _ranks.is_distributed():
        return [obj]
    check_peers(None)
    records: list[Any] = [None] * dist.get_world_size()
    collective(dist.all_gather_object, records, obj)
    return records


def gather_provenance(provenance: Mapping[str, Any]) -> dict[str, Any]:
    """Merge every rank's entropy provenance (call on every rank; a copy on one process).

    Byte counts are summed over the ranks, ``source_to_delivered`` recomputed, and the
    per-rank records kept under ``"ranks"``.

    """
    if not _ranks.is_distributed():
        return dict(provenance)
    records = gather_from_ranks(dict(provenance))
    merged = dict(records[0])
    for key in ("source_bytes", "delivered_bytes"):
        merged[key] = sum(int(r.get(key, 0)) for r in records)
    delivered = merged["delivered_bytes"]
    merged["source_to_delivered"] = merged["source_bytes"] / delivered if delivered else None
    merged["world_size"] = len(records)
    merged["ranks"] = [{"rank": r, **record} for r, record in enumerate(records)]
    return merged


def share_from_main(
    create: Callable[[], T], attach: Callable[[Any], T], *, key: Callable[[T], Any]
) -> T:
    """One shared object for every rank: rank 0 creates it, the others attach to it by key.

    Made for a qiskit-ibm-runtime ``Batch`` that every rank submits into (call on every rank)::

        batch = share_from_main(
            lambda: Batch(backend=backend),
            lambda batch_id: Batch.from_id(batch_id, service),
            key=lambda batch: batch.session_id,
        )
        layer = QuantumLayer(circuit, backend=batch)

    On a single process this is ``create()``.

    Args:
        create: Makes the object (rank 0 only).
        attach: Returns the object for a key (every other rank).
        key: What identifies the object (picklable; broadcast from rank 0).

    Returns:
        Rank 0's object, or the one attached by its key.

    Raises:
        DistributedError: ``create`` failed on rank 0 (every rank raises), or a peer was lost.

    Example:
        >>> share_from_main(lambda: "job-batch-1", lambda key: key, key=lambda obj: obj)
        'job-batch-1'
    """
    if not _ranks.is_distributed():
        return create()
    created: Any = None
    payload: list[Any] = [None]
    if _ranks.rank() == 0:
        try:
            created = create()
            payload = [("ok", key(created))]
        except Exception as exc:
            payload = [("failed", f"{type(exc).__name__}: {exc}")]
    collective(dist.broadcast_object_list, payload, src=0)
    status, value = payload[0]
    if status != "ok":
        raise DistributedError(
            f"rank 0 could not create the shared object ({value}); every rank stops",
            failed_ranks=(0,),
            messages=(str(value),),
        )
    return created if _ranks.rank() == 0 else attach(value)
