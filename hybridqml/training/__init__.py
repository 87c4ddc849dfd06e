"""The training loop: epochs, steps, evaluation, data-parallel ranks and a classifier recipe.

Modules: ``_loop`` (:func:`run_epochs`, :class:`TrainConfig`,
:func:`make_loader`), ``_callbacks`` (:class:`Callback` and its events: what loggers see),
``_tensorboard`` (:class:`TensorBoardLogger`), ``_progress`` (the steps of an epoch, mid-epoch
checkpoints and resume, budget stops), ``_classifier``
(:func:`fit_classifier`, :func:`evaluate_classifier`), ``_divergence``
(NaN/inf stops a run), ``_distributed`` (data-parallel ranks on
``torch.distributed``) and ``_collectives`` (failure-aware collectives).
What a run owns besides the loop (output folder and lock, atomic files, ``metrics.json``,
checkpoints, seeding, resume rules, budgets, estimates) is in :mod:`hybridqml.runs`.

The loop (:func:`run_epochs`) knows nothing about models: it calls a per-batch ``step`` callable
that returns a dict of floats, an optional per-epoch ``evaluate`` callable, and saves a checkpoint
of any named objects with ``state_dict``/``load_state_dict`` (models, optimizers, schedulers) after
every epoch. This fits one-optimizer classifiers (:func:`fit_classifier`) as well as GANs with two
optimizers.

How an interrupted run resumes exactly (same final weights as an uninterrupted run):

* a fresh run calls :func:`~hybridqml.runs.seed_everything` (python, numpy, torch) before its
  first epoch;
* the checkpoint written after epoch ``k`` holds every named object's state, the epoch, the metric
  history and all RNG states (python, numpy, torch CPU and CUDA when available, and the
  generators of submodules with ``random_state()``/``set_random_state()``, such as a
  :class:`~hybridqml.nn.QuantumLayer`'s shot seeds); resuming restores them and starts at
  epoch ``k + 1``;
* the run's result-determining settings (:attr:`TrainConfig.run_config`) are stored in the
  checkpoint, and resuming with any of them changed is refused with a
  :class:`~hybridqml.exceptions.ConfigurationError` that lists every difference (a resumed run
  with other settings would be neither the old run nor the new one);
* the shuffling order of epoch ``e`` comes from the loader's own ``torch.Generator`` reseeded with
  :func:`~hybridqml.runs.epoch_seed` ``(seed, e)`` (see :func:`make_loader`), so it does not
  depend on history;
* checkpoints, ``best.pt`` and ``metrics.json`` are written atomically (temporary file, fsync,
  then :func:`os.replace`), so a crash during saving leaves the previous file intact; the
  temporary files a kill leaves behind are removed when the next run starts in the folder;
* a run that diverges (NaN or infinite loss, metric or weight) stops with a
  :class:`~hybridqml.exceptions.DivergenceError` before checkpointing the diverged epoch.
"""

from hybridqml.training._callbacks import Callback, EndEvent, EpochEvent, StepEvent
from hybridqml.training._classifier import (
    BEST_NAME,
    ClassifierEvaluation,
    FitResult,
    evaluate_classifier,
    fit_classifier,
)
from hybridqml.training._collectives import gather_from_ranks, share_from_main
from hybridqml.training._distributed import (
    DataParallel,
    RankInfo,
    data_parallel,
    gather_provenance,
    init_distributed,
    rank_info,
    shard_batch,
    shard_bounds,
    shutdown_distributed,
)
from hybridqml.training._loop import (
    DEFAULT_BATCH_SIZE,
    LoopResult,
    TrainConfig,
    make_loader,
    run_epochs,
)
from hybridqml.training._tensorboard import TensorBoardLogger

__all__ = [
    "BEST_NAME",
    "DEFAULT_BATCH_SIZE",
    "Callback",
    "ClassifierEvaluation",
    "DataParallel",
    "EndEvent",
    "EpochEvent",
    "FitResult",
    "LoopResult",
    "RankInfo",
    "StepEvent",
    "TensorBoardLogger",
    "TrainConfig",
    "data_parallel",
    "evaluate_classifier",
    "fit_classifier",
    "gather_from_ranks",
    "gather_provenance",
    "init_distributed",
    "make_loader",
    "rank_info",
    "run_epochs",
    "shard_batch",
    "shard_bounds",
    "share_from_main",
    "shutdown_distributed",
]
