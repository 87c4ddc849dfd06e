"""The epoch loop: :func:`run_epochs` with seeded data order, checkpoints and resume checks.

The loop knows nothing about models: it calls a per-batch ``step`` callable, an optional
per-epoch ``evaluate`` callable, saves a checkpoint after every epoch and rewrites
``metrics.json``. Resuming is refused when the checkpoint's seed or stored run settings differ
from the run's (:func:`~hybridqml.runs.config_differences` lists every difference).

With an output folder the loop holds its :class:`~hybridqml.runs.RunLock`, refuses to
replace an earlier run unless ``overwrite=True`` and to resume without a checkpoint. A loss,
metric or weight that becomes NaN or infinite stops the run with a
:class:`~hybridqml.exceptions.DivergenceError`: the diverged epoch is not checkpointed (the last
good checkpoint stays loadable) and ``metrics.json`` records the good epochs plus a
``"diverged"`` note.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from hybridqml._ranks import is_writer
from hybridqml._validation import check_seed, epoch_seed
from hybridqml.exceptions import ConfigurationError, DivergenceError, InputError
from hybridqml.execution import _tracking as tracking
from hybridqml.hardware._joblog import JOBS_NAME, is_logging, job_log
from hybridqml.runs import (
    CHECKPOINT_NAME,
    DEFAULT_SEED,
    METRICS_NAME,
    Checkpointer,
    RunLock,
    Stateful,
    check_budget,
    check_checkpoint_every,
    check_resume,
    check_run_folder,
    seed_everything,
    write_metrics,
)
from hybridqml.training._distributed import DataParallel, data_parallel
from hybridqml.training._divergence import check_weights, diverged, divergence_error
from hybridqml.training._progress import (
    EpochProgress,
    StepHooks,
    as_metric,
    resume_point,
    run_epoch,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "LoopResult",
    "TrainConfig",
    "make_loader",
    "run_epochs",
]

DEFAULT_BATCH_SIZE = 64
"""Batch size of :func:`make_loader` when none is given."""

StepFn = Callable[[Any], Mapping[str, float]]
EvalFn = Callable[[int], Mapping[str, float]]
EpochEndFn = Callable[[int, Mapping[str, float], Sequence[Mapping[str, float]]], Any]


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    shuffle: bool = True,
    drop_last: bool = False,
    seed: int = DEFAULT_SEED,
) -> DataLoader:
    """Build a ``DataLoader`` whose shuffling uses its own ``torch.Generator``.

    :func:`run_epochs` reseeds that generator with :func:`epoch_seed` at the start of every epoch,
    so the batches of epoch ``e`` depend only on ``(seed, e)``, not on what ran before.

    Args:
        dataset: Any map-style dataset.
        batch_size: Samples per batch.
        shuffle: Shuffle every epoch.
        drop_last: Drop the last incomplete batch.
        seed: Initial generator seed (used when iterated outside :func:`run_epochs`).

    Returns:
        The loader (single process).

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> loader = make_loader(TensorDataset(torch.arange(10)), batch_size=4)
        >>> [len(b[0]) for b in loader]
        [4, 4, 2]
    """
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
    generator = torch.Generator().manual_seed(check_seed(seed))
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator
    )


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Settings of :func:`run_epochs` and :func:`fit_classifier`.

    Attributes:
        epochs: Total number of epochs of the run (also when resuming).
        seed: Run seed (python, numpy, torch and the per-epoch data order).
        out_dir: Folder for the checkpoint and ``metrics.json``; ``None`` writes nothing. The
            run holds the folder's :class:`~hybridqml.runs.RunLock` while it runs.
        resume: Continue from ``out_dir``'s checkpoint (an error if there is none). Resuming
            a run that already has more than ``epochs`` epochs is an error (nothing would be
            trained and the result would not be an ``epochs``-epoch one); resuming one with
            exactly ``epochs`` trains nothing, warns so, and returns the stored history.
        overwrite: Replace an earlier run in ``out_dir`` (its checkpoint and metrics file are
            deleted first). Without it (and without ``resume``) a folder holding a run is
            refused.
        progress: Show tqdm progress bars.
        desc: Label of the progress bars.
        checkpoint_name: Checkpoint file name inside ``out_dir``.
        metrics_name: Metrics file name inside ``out_dir``.
        run_config: The settings that determine the run's results, as JSON-like values (nested
            dicts, lists, strings, numbers, booleans, ``None``). Stored in every checkpoint;
            resuming from a checkpoint whose stored settings differ raises
            :class:`~hybridqml.exceptions.ConfigurationError` listing every difference.
            Leave out what may change on resume (the total of epochs, progress bars, path
            spellings); the workflows build it with
            :func:`hybridqml.runs.resume_settings`. ``None``: only the seed is checked.
        checkpoint_every: Also checkpoint after every ``checkpoint_every``-th step of an epoch
            (CLI ``--checkpoint-every``): a crash loses at most that many steps, and resuming
            continues mid-epoch exactly (see ``_progress``).
        max_shots: Stop (checkpoint written) before a step would take the run's executed shots
            over this (see :class:`~hybridqml.runs.RunBudget`); earlier sessions count.
        max_qpu_seconds: The same for QPU seconds (reported by the backend, else estimated).
    """

    epochs: int
    seed: int = DEFAULT_SEED
    out_dir: str | os.PathLike[str] | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    desc: str = "train"
    checkpoint_name: str = CHECKPOINT_NAME
    metrics_name: str = METRICS_NAME
    run_config: Mapping[str, Any] | None = None
    checkpoint_every: int | None = None
    max_shots: int | None = None
    max_qpu_seconds: float | None = None

    def __post_init__(self) -> None:
        check_checkpoint_every(self.checkpoint_every)
        check_budget(self.max_shots, "max_shots")
        check_budget(self.max_qpu_seconds, "max_qpu_seconds")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ConfigurationError(f"epochs must be an integer >= 1, got {self.epochs!r}")
        check_seed(self.seed)
        if self.resume and self.out_dir is None:
            raise ConfigurationError("resume=True needs out_dir (where the checkpoint is)")
        if self.resume and self.overwrite:
            raise ConfigurationError("resume and overwrite exclude each other: choose one")

    @property
    def checkpoint_path(self) -> Path | None:
        """``out_dir / checkpoint_name``, or ``None`` without ``out_dir``."""
        return None if self.out_dir is None else Path(self.out_dir) / self.checkpoint_name

    @property
    def metrics_path(self) -> Path | None:
        """``out_dir / metrics_name``, or ``None`` without ``out_dir``."""
        return None if self.out_dir is None else Path(self.out_dir) / self.metrics_name

    @classmethod
    def for_run(
        cls, config: Any, out: str | os.PathLike[str], *, desc: str, run_config: Mapping[str, Any]
    ) -> TrainConfig:
        """The loop settings of a run config (a :class:`~hybridqml.runs.RunConfig`) in ``out``.

        Args:
            config: The run's config (budgets where it has them).
            out: The output folder (from :func:`~hybridqml.runs.run_folder`).
            desc: Progress-bar label.
            run_config: The settings a resumed run must repeat
                (:func:`~hybridqml.runs.resume_settings`).
        """
        return cls(
            epochs=config.epochs,
            seed=config.seed,
            out_dir=out,
            resume=config.resume,
            overwrite=config.overwrite,
            progress=config.progress,
            desc=desc,
            run_config=run_config,
            checkpoint_every=config.checkpoint_every,
            max_shots=getattr(config, "max_shots", None),
            max_qpu_seconds=getattr(config, "max_qpu_seconds", None),
        )


@dataclass(frozen=True, kw_only=True)
class LoopResult:
    """Outcome of :func:`run_epochs`.

    Attributes:
        history: One record per completed epoch (``"epoch"`` plus every metric).
        final: The last record without ``"epoch"``.
        epochs_completed: Last completed epoch.
        resumed_from: Epoch of the checkpoint the run resumed from, or ``None``.
        checkpoint_path: Checkpoint file, if ``out_dir`` was given.
        metrics_path: ``metrics.json``, if ``out_dir`` was given.
    """

    history: tuple[dict[str, float], ...]
    final: dict[str, float]
    epochs_completed: int
    resumed_from: int | None
    checkpoint_path: Path | None
    metrics_path: Path | None


def _reseed_loader(loader: Iterable[Any], seed: int, epoch: int) -> None:
    generator = getattr(loader, "generator", None)
    if isinstance(generator, torch.Generator):
        generator.manual_seed(epoch_seed(seed, epoch))


def run_epochs(
    *,
    config: TrainConfig,
    loader: Iterable[Any],
    step: StepFn,
    stateful: Mapping[str, Stateful],
    evaluate: EvalFn | None = None,
    on_epoch_end: EpochEndFn | None = None,
) -> LoopResult:
    """Run epochs ``1 .. config.epochs`` with progress bars, checkpoints and ``metrics.json``.

    Each epoch: every ``nn.Module`` in ``stateful`` is put in train mode; the loader's generator is
    reseeded from ``(seed, epoch)``; ``step(batch)`` runs on every batch and its values are averaged
    over the batches; ``evaluate(epoch)`` adds its metrics; ``on_epoch_end(epoch, metrics,
    history)`` may step schedulers and return more metrics; then the record is appended to the
    history, the checkpoint is saved and ``metrics.json`` rewritten.

    A fresh run calls :func:`seed_everything` first. With ``config.resume`` and a checkpoint in
    ``out_dir``, the objects, RNG states and history are restored and the run continues after the
    saved epoch, giving bitwise the same result as an uninterrupted run. Before anything is
    restored, the checkpoint's seed and stored settings are compared with ``config.seed`` and
    ``config.run_config``; any difference is an error that lists all of them.

    Args:
        config: Epochs, seed, output folder, resume, progress.
        loader: Iterable of batches; a ``DataLoader`` from :func:`make_loader` for exact resume
            of shuffled data.
        step: Trains on one batch and returns named floats (e.g. ``{"loss": 0.3}``).
        stateful: Named objects to checkpoint (model(s), optimizer(s), scheduler(s), ...).
        evaluate: Returns per-epoch evaluation metrics (names must differ from ``step``'s).
        on_epoch_end: Called with the epoch, its metrics and the previous history; may return
            a mapping of more metrics to record.

    Returns:
        The history and final metrics.

    Raises:
        ConfigurationError: On a checkpoint from another seed, with other settings
            (``config.run_config``), other object names or more epochs than ``config.epochs``;
            on clashing metric names; on a folder used by another run, holding an earlier run
            (without ``resume``/``overwrite``) or without a checkpoint to resume.
        DivergenceError: A step metric or a weight became NaN or infinite (the diverged epoch
            is not checkpointed).
        CheckpointError: The checkpoint to resume from is unreadable.

    Example:
        >>> model = nn.Linear(1, 1); opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> def step(batch):
        ...     opt.zero_grad(); loss = (model(batch) - 2.0).pow(2).mean(); loss.backward()
        ...     opt.step(); return {"loss": loss.item()}
        >>> result = run_epochs(config=TrainConfig(epochs=2, progress=False),
        ...                     loader=[torch.ones(4, 1)], step=step, stateful={"model": model})
        >>> result.epochs_completed
        2
    """
    if config.progress and not is_writer():  # progress bars on rank 0 only
        config = dataclasses.replace(config, progress=False)
    lock: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if config.out_dir is not None:
        out = Path(config.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        lock = RunLock(out)
    with lock:
        if config.out_dir is not None:
            check_run_folder(
                config.out_dir,
                resume=config.resume,
                overwrite=config.overwrite,
                checkpoint_name=config.checkpoint_name,
                run_files=(config.metrics_name,) + (() if is_logging(out) else (JOBS_NAME,)),
            )
        # every primitive call of the run (of every rank) is logged in OUT/jobs.jsonl
        with job_log(config.out_dir), data_parallel(stateful=stateful, seed=config.seed) as par:
            return _run_epochs(config, loader, step, stateful, evaluate, on_epoch_end, par)


def _run_epochs(
    config: TrainConfig,
    loader: Iterable[Any],
    step: StepFn,
    stateful: Mapping[str, Stateful],
    evaluate: EvalFn | None,
    on_epoch_end: EpochEndFn | None,
    parallel: DataParallel,
) -> LoopResult:
    step, evaluate, on_epoch_end = (
        parallel.step(step),
        parallel.wrap(evaluate),
        parallel.wrap(on_epoch_end),
    )
    checkpointer = None
    if config.checkpoint_path is not None:
        checkpointer = Checkpointer(path=config.checkpoint_path, objects=stateful)
    history, resumed_from, partial = _start(config, checkpointer, stateful)
    parallel.broadcast_modules(stateful)
    parallel.check_loader(loader)
    start = (resumed_from or 0) + 1
    modules = {name: obj for name, obj in stateful.items() if isinstance(obj, nn.Module)}
    hooks = StepHooks.for_run(config, checkpointer, history)
    if hooks.budget is not None and parallel.active:
        hooks.budget.reduce = parallel.sum_over_ranks  # the run's budget, not each rank's
    epochs = tqdm(
        range(start, config.epochs + 1),
        total=config.epochs,
        initial=start - 1,
        desc=config.desc,
        disable=not config.progress,
    )
    with epochs, hooks.budget or contextlib.nullcontext():
        for epoch in epochs:
            tracking.mark(f"epoch {epoch}")  # per-epoch counts (hybridqml.estimate_cost)
            for module in modules.values():
                module.train()
            _reseed_loader(loader, config.seed, epoch)
            parallel.start_epoch(epoch)
            state = partial if partial is not None else EpochProgress(epoch=epoch)
            metrics = _train_epoch(config, loader, step, state, hooks, modules, parallel, history)
            partial = None
            if evaluate is not None:
                _merge(metrics, evaluate(epoch))
            if on_epoch_end is not None:
                _merge(metrics, on_epoch_end(epoch, dict(metrics), tuple(history)))
            history.append({"epoch": epoch, **metrics})
            if checkpointer is not None:
                checkpointer.save(
                    epoch=epoch, history=history, seed=config.seed, config=config.run_config
                )
            if config.metrics_path is not None:
                write_metrics(config.metrics_path, history=history, seed=config.seed)
            epochs.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()}, refresh=False)
    tracking.mark("end")
    final = {k: v for k, v in history[-1].items() if k != "epoch"} if history else {}
    return LoopResult(
        history=tuple(history),
        final=final,
        epochs_completed=int(history[-1]["epoch"]) if history else 0,
        resumed_from=resumed_from,
        checkpoint_path=config.checkpoint_path,
        metrics_path=config.metrics_path,
    )


def _start(
    config: TrainConfig, checkpointer: Checkpointer | None, stateful: Mapping[str, Stateful]
) -> tuple[list[dict[str, float]], int | None, EpochProgress | None]:
    """History, resumed epoch and epoch in progress: from the checkpoint, or a seeded start."""
    if not (config.resume and checkpointer is not None):
        for name, obj in stateful.items():
            if not isinstance(obj, Stateful):
                raise ConfigurationError(f"object {name!r} has no state_dict/load_state_dict")
        seed_everything(config.seed)
        return [], None, None
    path = checkpointer.path
    checkpoint = checkpointer.load(
        check=lambda stored: check_resume(
            stored, epochs=config.epochs, seed=config.seed, run_config=config.run_config, path=path
        )
    )
    if checkpoint.epoch == config.epochs:
        warnings.warn(
            f"the run in {str(config.out_dir)!r} already has {checkpoint.epoch} epochs (= epochs): "
            "nothing was trained; its stored results are reported",
            UserWarning,
            stacklevel=4,
        )
    history = [dict(record) for record in checkpoint.history]
    return history, checkpoint.epoch, resume_point(checkpoint.extra)


def _train_epoch(
    config: TrainConfig,
    loader: Iterable[Any],
    step: StepFn,
    state: EpochProgress,
    hooks: StepHooks,
    modules: Mapping[str, nn.Module],
    parallel: DataParallel,
    history: Sequence[Mapping[str, float]],
) -> dict[str, float]:
    """The steps of one epoch and the weight check; a divergence stops the run cleanly."""
    epoch = state.epoch
    try:
        metrics = run_epoch(
            loader,
            step,
            desc=f"epoch {epoch}/{config.epochs}",
            progress=config.progress,
            state=state,
            hooks=hooks,
        )
        check_weights(modules)
        parallel.end_epoch(modules)
    except (DivergenceError, InputError) as exc:  # non-finite weights fed to a layer diverged
        raise divergence_error(
            diverged(exc, modules),
            epoch=epoch,
            history=history,
            seed=config.seed,
            checkpoint_path=config.checkpoint_path,
            metrics_path=config.metrics_path,
        ) from exc
    return metrics


def _merge(metrics: dict[str, float], more: Mapping[str, Any] | None) -> None:
    if not more:
        return
    clash = (set(metrics) | {"epoch"}) & set(more)
    if clash:
        raise ConfigurationError(f"metric names {sorted(clash)} are reported twice")
    metrics.update({name: as_metric(name, value) for name, value in more.items()})
