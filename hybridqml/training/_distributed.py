"""Data-parallel training on ``torch.distributed``: ranks, shards, gradient sync, failures.

A run launched by ``torchrun`` (or ``hybridqml train ... --nproc N``) has ``N`` ranks. Every rank
builds the same model from the same seed and iterates the same seeded loader, so every rank sees
the same *global* batch. :class:`DataParallel` (used by :func:`~hybridqml.training.run_epochs`)
then makes the ranks act as one process:

* each rank keeps its contiguous shard of the global batch (:func:`shard_bounds`: sizes differ by
  at most one, the first ``B mod N`` ranks get the extra sample). Any data size, batch size and
  world size up to the number of training samples work: a batch smaller than the world (a short
  last batch) leaves some ranks without a sample. Such a rank runs the step on the batch's first
  sample with weight 0 (a *shadow step*), so its collectives line up with the others while its
  gradient and metrics contribute exactly nothing (on hardware its shadow sample's shots are
  still paid: one sample per idle rank, on short batches only);
* before every optimizer step the gradients of that optimizer's parameters are all-reduced
  (one flat ``all_reduce`` per dtype, gloo on CPU, NCCL on CUDA) weighted by each rank's share
  ``n_r / B`` of the global batch, so the result is the gradient of the mean loss over the whole
  global batch, exactly what one process computes, also when the shards are unequal;
* the step's metrics (means over the shard) are reduced the same way, so ``metrics.json`` holds
  the global-batch means;
* at the start of every epoch each rank reseeds its global RNGs from ``(seed, epoch, rank)``
  (dropout masks differ per rank, as they must), so a checkpoint needs only rank 0's state and a
  run resumed with the same or another number of ranks continues exactly;
* a rank whose step, evaluation or epoch hook raises tells the others at their next collective:
  every healthy rank raises :class:`~hybridqml.exceptions.DistributedError` naming the failed
  rank and its message, the failed rank re-raises its own error. A peer that vanishes (killed)
  turns the collective's ``RuntimeError`` into a ``DistributedError`` too.

Only rank 0 writes files (:func:`hybridqml._ranks.is_writer` gates the atomic writes, plots and
the run lock) and shows progress bars.

The step's losses must be *means over the batch* (every workflow's are); a summed loss would be
over-weighted by the shard weighting.

Example:
    >>> shard_bounds(5, world_size=2, rank=0), shard_bounds(5, world_size=2, rank=1)
    ((0, 3), (3, 5))
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import torch
import torch.distributed as dist

from hybridqml._validation import epoch_seed
from hybridqml.exceptions import ConfigurationError, DistributedError, InputError
from hybridqml.training._collectives import check_peers, collective, gather_provenance

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "DataParallel",
    "RankInfo",
    "data_parallel",
    "gather_provenance",
    "init_distributed",
    "rank_info",
    "shard_batch",
    "shard_bounds",
    "shutdown_distributed",
    "threads_per_rank",
]

DEFAULT_TIMEOUT_SECONDS: Final[float] = 600.0
"""Collective timeout of :func:`init_distributed`: a rank stuck longer than this fails the run."""


@dataclass(frozen=True)
class RankInfo:
    """Where this process sits in the run.

    Attributes:
        rank: Global rank (0 .. world_size - 1).
        world_size: Number of ranks.
        local_rank: Rank on this node.
        local_world_size: Ranks on this node.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        """``True`` on rank 0 (the rank that writes files)."""
        return self.rank == 0


def rank_info() -> RankInfo:
    """This process's :class:`RankInfo` (``RankInfo()`` without a process group).

    Example:
        >>> rank_info()
        RankInfo(rank=0, world_size=1, local_rank=0, local_world_size=1)
    """
    if not (dist.is_available() and dist.is_initialized()):
        return RankInfo()
    world = dist.get_world_size()
    return RankInfo(
        rank=dist.get_rank(),
        world_size=world,
        local_rank=int(os.environ.get("LOCAL_RANK", dist.get_rank())),
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", world)),
    )


def threads_per_rank(local_world_size: int, cores: int | None = None) -> int:
    """CPU threads each rank may use so the ranks of one node do not fight over cores.

    Example:
        >>> threads_per_rank(2, cores=8), threads_per_rank(4, cores=2)
        (4, 1)
    """
    total = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, total // max(1, local_world_size))


def init_distributed(*, backend: str | None = None, timeout: float | None = None) -> RankInfo:
    """Join the process group ``torchrun`` describes in the environment; set threads per rank.

    Reads ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` (set by ``torchrun`` /
    ``python -m torch.distributed.run``). Without them this is a single process and nothing is
    initialised. Uses NCCL when CUDA is available, else gloo; sets
    ``torch.set_num_threads(cores // local_world_size)``.

    Args:
        backend: ``"gloo"`` or ``"nccl"`` (default: by device).
        timeout: Seconds a collective may wait (default :data:`DEFAULT_TIMEOUT_SECONDS`).

    Returns:
        This process's :class:`RankInfo`.

    Raises:
        DistributedError: The process group could not be set up (rendezvous failed).

    Example:
        >>> init_distributed()  # no torchrun environment: one process
        RankInfo(rank=0, world_size=1, local_rank=0, local_world_size=1)
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return rank_info()
    if not (dist.is_available() and dist.is_initialized()):
        from datetime import timedelta

        chosen = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        seconds = DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout
        try:
            dist.init_process_group(backend=chosen, timeout=timedelta(seconds=seconds))
        except (RuntimeError, ValueError) as exc:
            raise DistributedError(
                f"could not join the process group ({chosen}, MASTER_ADDR="
                f"{os.environ.get('MASTER_ADDR')!r}, MASTER_PORT="
                f"{os.environ.get('MASTER_PORT')!r}): {exc}. Check the rendezvous flags of "
                "torchrun (--nnodes, --node-rank, --master-addr, --master-port or "
                "--rdzv-endpoint) and that the port is reachable"
            ) from exc
        if chosen == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    info = rank_info()
    torch.set_num_threads(threads_per_rank(info.local_world_size))
    return info


def shutdown_distributed() -> None:
    """Leave the process group (a no-op without one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard_bounds(n: int, *, world_size: int, rank: int) -> tuple[int, int]:
    """``[start, stop)`` of ``rank``'s contiguous shard of ``n`` samples.

    With fewer samples than ranks the last ranks get empty shards (``start == stop``).

    Example:
        >>> [shard_bounds(7, world_size=3, rank=r) for r in range(3)]
        [(0, 3), (3, 5), (5, 7)]
        >>> [shard_bounds(2, world_size=3, rank=r) for r in range(3)]
        [(0, 1), (1, 2), (2, 2)]
    """
    if n < 0 or world_size < 1 or not 0 <= rank < world_size:
        raise ConfigurationError(
            f"no shard of {n} samples for rank {rank} of a world of {world_size}"
        )
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def shard_batch(batch: Any, *, world_size: int, rank: int) -> tuple[Any, int, int]:
    """This rank's shard of a global batch: ``(shard, shard_size, global_size)``.

    Tensors are sliced along dimension 0; tuples, lists and dicts are sharded element-wise (all
    tensors must share their first dimension); other values are kept. A rank left without a
    sample (a batch smaller than the world) gets the batch's first sample as a *shadow* shard
    and ``shard_size`` 0: it runs the step to stay in step with the other ranks, and its weight
    ``shard_size / global_size`` makes it contribute nothing.

    Example:
        >>> x, y = torch.arange(5), torch.arange(5) * 10
        >>> shard_batch((x, y), world_size=2, rank=1)
        ((tensor([3, 4]), tensor([30, 40])), 2, 5)
    """
    sizes = {t.shape[0] for t in _tensors(batch)}
    if len(sizes) != 1:
        raise ConfigurationError(
            f"cannot shard a batch whose tensors have different first dimensions {sorted(sizes)}"
        )
    n = sizes.pop()
    start, stop = shard_bounds(n, world_size=world_size, rank=rank)
    if start == stop:  # no sample here: a shadow step on sample 0, weighted 0
        return _slice(batch, 0, 1), 0, n
    return _slice(batch, start, stop), stop - start, n


def _tensors(batch: Any) -> Iterator[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        yield batch
    elif isinstance(batch, Mapping):
        for value in batch.values():
            yield from _tensors(value)
    elif isinstance(batch, list | tuple):
        for value in batch:
            yield from _tensors(value)


def _slice(batch: Any, start: int, stop: int) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch[start:stop]
    if isinstance(batch, Mapping):
        return {key: _slice(value, start, stop) for key, value in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(_slice(value, start, stop) for value in batch)
    return batch


def _rank_seed(seed: int, epoch: int, rank: int) -> int:
    words = np.random.SeedSequence([epoch_seed(seed, epoch) & 0xFFFFFFFF, rank]).generate_state(1)
    return int(words[0])


class DataParallel:
    """The ranks of a run acting as one process (see the module docstring).

    Build it with :func:`data_parallel`. On a single process every method passes through.

    Args:
        stateful: The objects of the run; its optimizers get the gradient all-reduce and its
            modules' parameters and buffers are broadcast from rank 0 at the start.
        seed: Run seed (per-rank reseeding at each epoch).
    """

    def __init__(self, *, stateful: Mapping[str, Any], seed: int) -> None:
        self.info = rank_info()
        self.seed = int(seed)
        self.fraction = 1.0
        self._handles: list[Any] = []
        if self.info.world_size > 1:
            for obj in stateful.values():
                if isinstance(obj, torch.optim.Optimizer):
                    self._handles.append(obj.register_step_pre_hook(self._sync_hook))

    @property
    def active(self) -> bool:
        """``True`` with more than one rank."""
        return self.info.world_size > 1

    def broadcast_modules(self, stateful: Mapping[str, Any]) -> None:
        """Give every rank rank 0's parameters and buffers (identical starts, any init)."""
        if not self.active:
            return
        for obj in stateful.values():
            if isinstance(obj, torch.nn.Module):
                for tensor in [*obj.parameters(), *obj.buffers()]:
                    collective(dist.broadcast, tensor.data, src=0)

    def start_epoch(self, epoch: int) -> None:
        """Reseed python, numpy and torch from ``(seed, epoch, rank)`` (more than one rank)."""
        if self.active:
            from hybridqml.runs import seed_everything

            seed_everything(_rank_seed(self.seed, epoch, self.info.rank))

    def check_loader(self, loader: Any) -> None:
        """Refuse, before any training, more ranks than training samples.

        Any batch size works (a rank without a sample in a batch runs a shadow step, see
        :func:`shard_batch`), but a rank that never gets a sample only burns cores.

        Raises:
            ConfigurationError: Naming the dataset size, the world size and the fix.
        """
        dataset = getattr(loader, "dataset", None)
        if not self.active or dataset is None:
            return
        try:
            size = len(dataset)
        except TypeError:
            return
        world = self.info.world_size
        if size < world:
            raise ConfigurationError(
                f"{size} training samples cannot keep {world} ranks busy (every rank needs at "
                f"least one sample): use at most {max(size, 1)} ranks (--nproc) or more data"
            )

    def end_epoch(self, modules: Mapping[str, torch.nn.Module]) -> None:
        """Check that every rank holds the same weights.

        An optimizer outside ``stateful`` would let them drift apart silently.

        Raises:
            DistributedError: The ranks' weights differ.
        """
        if not self.active:
            return
        check_peers(None)
        sums = [p.detach().double().sum() for m in modules.values() for p in m.parameters()] or [
            torch.zeros((), dtype=torch.float64)
        ]
        mine = torch.stack(sums).cpu()
        low, high = mine.clone(), mine.clone()
        collective(dist.all_reduce, low, op=dist.ReduceOp.MIN)
        collective(dist.all_reduce, high, op=dist.ReduceOp.MAX)
        if not torch.allclose(low, high, rtol=1e-9, atol=1e-12):
            raise DistributedError(
                "the ranks' weights differ after an epoch: every optimizer must be in the "
                "run's stateful objects (run_epochs synchronises the gradients of those only), "
                "and the step must not change weights outside an optimizer step"
            )

    def step(self, step: Callable[[Any], Mapping[str, Any]]) -> Callable[[Any], dict[str, float]]:
        """``step`` on this rank's shard, its metrics reduced to global-batch means."""
        if not self.active:
            return step  # type: ignore[return-value]

        def sharded(batch: Any) -> dict[str, float]:
            shard, n_local, n_global = shard_batch(
                batch, world_size=self.info.world_size, rank=self.info.rank
            )
            self.fraction = n_local / n_global
            with self.guard():
                values = {k: _float(k, v) for k, v in step(shard).items()}
            return self._reduce_metrics(values)

        return sharded

    def sum_over_ranks(self, values: list[float]) -> list[float]:
        """``values`` summed element-wise over the ranks (unchanged on one process).

        Example:
            >>> with data_parallel(stateful={}, seed=0) as par:
            ...     par.sum_over_ranks([1.0, 2.5])
            [1.0, 2.5]
        """
        if not self.active:
            return list(values)
        check_peers(None)
        vector = torch.tensor(values, dtype=torch.float64)
        collective(dist.all_reduce, vector, op=dist.ReduceOp.SUM)
        return vector.tolist()

    def wrap(self, fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
        """``fn`` (evaluation, epoch hook) with failure reporting across ranks."""
        if fn is None or not self.active:
            return fn

        def guarded(*args: Any) -> Any:
            with self.guard():
                result = fn(*args)
            check_peers(None)
            return result

        return guarded

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Report an exception raised inside to the other ranks, then re-raise it."""
        try:
            yield
        except DistributedError:
            raise
        except Exception as exc:
            check_peers(exc)
            raise

    def close(self) -> None:
        """Remove the optimizer hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    # ------------------------------------------------------------------ internals
    def _sync_hook(self, optimizer: torch.optim.Optimizer, *_: Any) -> None:
        check_peers(None)
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        by_dtype: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
        for grad in grads:
            by_dtype.setdefault((grad.dtype, grad.device), []).append(grad)
        for group in by_dtype.values():
            flat = torch.cat([g.reshape(-1) for g in group])
            # a shadow step (weight 0) adds exact zeros, also if its gradient is not finite
            flat = flat * self.fraction if self.fraction else torch.zeros_like(flat)
            collective(dist.all_reduce, flat, op=dist.ReduceOp.SUM)
            offset = 0
            for grad in group:
                grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
                offset += grad.numel()

    def _reduce_metrics(self, values: dict[str, float]) -> dict[str, float]:
        check_peers(None)
        names = sorted(values)
        weight = self.fraction
        vector = torch.tensor(
            [values[n] * weight if weight else 0.0 for n in names], dtype=torch.float64
        )
        collective(dist.all_reduce, vector, op=dist.ReduceOp.SUM)
        return {name: float(v) for name, v in zip(names, vector.tolist(), strict=True)}


@contextlib.contextmanager
def data_parallel(*, stateful: Mapping[str, Any], seed: int) -> Iterator[DataParallel]:
    """A :class:`DataParallel` for one run; its optimizer hooks are removed on exit.

    Example:
        >>> with data_parallel(stateful={}, seed=0) as par:
        ...     par.active
        False
    """
    parallel = DataParallel(stateful=stateful, seed=seed)
    try:
        yield parallel
    finally:
        parallel.close()


def _float(name: str, value: Any) -> float:
    try:
        return float(value.item() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"metric {name!r} is not a number: {value!r}") from exc
