"""A run in one room: its settings, folder, files, checkpoint, resume rules, budgets, estimates.

Everything a training run owns besides its model and data, used by the training loop
(:mod:`hybridqml.training`) and the workflows (:mod:`hybridqml.workflows`), importing neither:

* settings: :class:`RunConfig`, which every workflow config extends, and the configs of the
  shared settings groups (:class:`ImageRunConfig`, :class:`QuantumRunConfig`,
  :class:`EntropyRunConfig`);
* the output folder: :func:`run_folder` (created, checked, locked by a :class:`RunLock`, no
  silent overwrite: :func:`check_run_folder`), atomic files (:func:`atomic_write`,
  :func:`load_torch_file`) and ``metrics.json`` (:func:`write_metrics`);
* exact resume: :class:`Checkpointer` (named objects, RNG states, history, settings),
  :func:`seed_everything` and RNG snapshots, and what a resumed run must repeat
  (:func:`resume_settings`, :data:`RESUME_MUTABLE_FIELDS`, :func:`config_differences`);
* spending: :class:`RunBudget` (stop before exceeding ``max_shots``/``max_qpu_seconds``),
  :func:`estimate_run` and :func:`check_start_budget` (what a run will send, before it sends
  anything).

Example:
    >>> import tempfile
    >>> config = RunConfig(out_dir=tempfile.mkdtemp(), epochs=2)
    >>> with run_folder(config) as out:
    ...     _ = write_metrics(out / METRICS_NAME, history=[{"epoch": 1, "loss": 0.5}])
    >>> sorted(p.name for p in out.iterdir())
    ['metrics.json']
"""

from __future__ import annotations

from hybridqml._lazy import attach

#: Public name -> the module defining it (loaded on first access: ``import hybridqml.runs``
#: loads neither torch nor qiskit).
_NAMES = {
    **dict.fromkeys(("RunBudget",), "hybridqml.runs._budget"),
    **dict.fromkeys(
        ("CHECKPOINT_NAME", "Checkpoint", "Checkpointer", "Stateful", "UserState"),
        "hybridqml.runs._checkpoint",
    ),
    **dict.fromkeys(
        (
            "RESUME_MUTABLE_FIELDS",
            "TRAIT_CONFIGS",
            "EntropyRunConfig",
            "ImageRunConfig",
            "QuantumRunConfig",
            "RunConfig",
            "check_budget",
            "check_checkpoint_every",
            "trait_fields",
        ),
        "hybridqml.runs._config",
    ),
    **dict.fromkeys(
        ("CallCounts", "CostEstimate", "check_start_budget", "estimate_run"),
        "hybridqml.runs._estimates",
    ),
    **dict.fromkeys(
        (
            "TEMP_SUFFIX",
            "atomic_torch_save",
            "atomic_write",
            "check_writable",
            "clean_temp_files",
            "load_torch_file",
            "temp_path",
        ),
        "hybridqml.runs._files",
    ),
    **dict.fromkeys(
        ("LOCK_NAME", "RUN_FILES", "RunLock", "check_run_folder", "prepare_out_dir", "run_folder"),
        "hybridqml.runs._folder",
    ),
    **dict.fromkeys(("METRICS_NAME", "write_metrics"), "hybridqml.runs._metrics"),
    **dict.fromkeys(
        ("check_resume", "config_differences", "config_to_json", "resume_settings"),
        "hybridqml.runs._resume",
    ),
    **dict.fromkeys(
        ("DEFAULT_SEED", "capture_rng_state", "epoch_seed", "restore_rng_state", "seed_everything"),
        "hybridqml.runs._seeding",
    ),
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = attach(__name__, _NAMES)
