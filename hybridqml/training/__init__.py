"""A small shared training loop: seeding, progress bars, exact checkpoint/resume and metrics.json.

Modules: :mod:`~hybridqml.training.seeding` (seeds and RNG snapshots),
:mod:`~hybridqml.training.checkpoint` (atomic checkpoints), :mod:`~hybridqml.training.metrics`
(the ``metrics.json`` writer), :mod:`~hybridqml.training.loop` (:func:`run_epochs`, resume checks),
:mod:`~hybridqml.training.classifier` (:func:`fit_classifier`),
:mod:`~hybridqml.training.files` (atomic fsync'd writes, recognisable temp files, safe loads) and
:mod:`~hybridqml.training.outdir` (:class:`RunLock`: one run per output folder, no silent
overwrite), :mod:`~hybridqml.training.divergence` (NaN/inf stops a run),
:mod:`~hybridqml.training.distributed` (data-parallel ranks on ``torch.distributed``),
:mod:`~hybridqml.training.collectives` (failure-aware collectives),
:mod:`~hybridqml.training.progress` (the steps of an epoch, mid-epoch checkpoints and resume),
:mod:`~hybridqml.training.differences` (settings that differ from a checkpoint's) and
:mod:`~hybridqml.training.budget` (shot and QPU-time budgets). Import from this package.

The loop (:func:`run_epochs`) knows nothing about models: it calls a per-batch ``step`` callable
that returns a dict of floats, an optional per-epoch ``evaluate`` callable, and saves a checkpoint
of any named objects with ``state_dict``/``load_state_dict`` (models, optimizers, schedulers) after
every epoch. This fits one-optimizer classifiers (:func:`fit_classifier`) as well as GANs with two
optimizers.

How an interrupted run resumes exactly (same final weights as an uninterrupted run):

* a fresh run calls :func:`seed_everything` (python, numpy, torch) before its first epoch;
* the checkpoint written after epoch ``k`` holds every named object's state, the epoch, the metric
  history and all RNG states (python, numpy, torch CPU and CUDA when available, and the
  generators of submodules with ``random_state()``/``set_random_state()``, such as a
  :class:`~hybridqml.nn.layers.QuantumLayer`'s shot seeds); resuming restores them and starts at
  epoch ``k + 1``;
* the run's result-determining settings (:attr:`TrainConfig.run_config`) are stored in the
  checkpoint, and resuming with any of them changed is refused with a
  :class:`~hybridqml.exceptions.ConfigurationError` that lists every difference (a resumed run
  with other settings would be neither the old run nor the new one);
* the shuffling order of epoch ``e`` comes from the loader's own ``torch.Generator`` reseeded with
  :func:`epoch_seed` ``(seed, e)`` (see :func:`make_loader`), so it does not depend on history;
* checkpoints, ``best.pt`` and ``metrics.json`` are written atomically (temporary file, fsync,
  then :func:`os.replace`), so a crash during saving leaves the previous file intact; the
  temporary files a kill leaves behind are removed when the next run starts in the folder;
* a run that diverges (NaN or infinite loss, metric or weight) stops with a
  :class:`~hybridqml.exceptions.DivergenceError` before checkpointing the diverged epoch.
"""

from hybridqml.training.checkpoint import (
    CHECKPOINT_NAME,
    Checkpoint,
    Checkpointer,
    Stateful,
    UserState,
)
from hybridqml.training.classifier import (
    BEST_NAME,
    ClassifierEvaluation,
    FitResult,
    evaluate_classifier,
    fit_classifier,
)
from hybridqml.training.collectives import gather_from_ranks, share_from_main
from hybridqml.training.distributed import (
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
from hybridqml.training.files import (
    TEMP_SUFFIX,
    atomic_torch_save,
    atomic_write,
    check_writable,
    clean_temp_files,
    load_torch_file,
)
from hybridqml.training.loop import (
    DEFAULT_BATCH_SIZE,
    LoopResult,
    TrainConfig,
    config_differences,
    make_loader,
    run_epochs,
)
from hybridqml.training.metrics import METRICS_NAME, write_metrics
from hybridqml.training.outdir import LOCK_NAME, RunLock, check_run_folder
from hybridqml.training.seeding import (
    DEFAULT_SEED,
    capture_rng_state,
    epoch_seed,
    restore_rng_state,
    seed_everything,
)

__all__ = [
    "BEST_NAME",
    "CHECKPOINT_NAME",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_SEED",
    "LOCK_NAME",
    "METRICS_NAME",
    "TEMP_SUFFIX",
    "Checkpoint",
    "Checkpointer",
    "ClassifierEvaluation",
    "DataParallel",
    "FitResult",
    "LoopResult",
    "RankInfo",
    "RunLock",
    "Stateful",
    "TrainConfig",
    "UserState",
    "atomic_torch_save",
    "atomic_write",
    "capture_rng_state",
    "check_run_folder",
    "check_writable",
    "clean_temp_files",
    "config_differences",
    "data_parallel",
    "epoch_seed",
    "evaluate_classifier",
    "fit_classifier",
    "gather_from_ranks",
    "gather_provenance",
    "init_distributed",
    "load_torch_file",
    "make_loader",
    "rank_info",
    "restore_rng_state",
    "run_epochs",
    "seed_everything",
    "shard_batch",
    "shard_bounds",
    "share_from_main",
    "shutdown_distributed",
    "write_metrics",
]
