"""Pieces shared by the workflows: output folders, run settings, classifier outputs.

The image loading (:func:`load_image_split`, :data:`DATASET_CHOICES`, :data:`MNIST_HELP`)
lives in :mod:`hybridqml.data.images` and is re-exported here.

:class:`~hybridqml.entropy.EntropySettings` and :class:`~hybridqml.entropy.EntropyStream` live
in :mod:`hybridqml.entropy` and are re-exported here for the workflows.

Resuming never changes the settings of a run. Every checkpoint records them
(:func:`resume_settings`: the whole config except :data:`RESUME_MUTABLE_FIELDS`, plus a
fingerprint of the data), and :func:`~hybridqml.training.run_epochs` refuses to resume with other
values, listing each difference; the entropy stream's own state also records its source and mode
and is refused by a stream with other settings.

A run owns its output folder: :func:`run_folder` creates it, checks that it is writable, holds
its :class:`~hybridqml.training.RunLock` for the whole run (a second run into the same folder
fails at once), removes the temporary files of killed runs, and refuses to replace an earlier
run (:data:`RUN_FILES`) unless ``overwrite=True`` or to resume one that has no checkpoint, all
before any data are loaded or anything is trained.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from hybridqml._validation import check_finite, redact_url
from hybridqml.data import DATASET_CHOICES, MNIST_HELP, DatasetSplit, load_image_split
from hybridqml.entropy import EntropySettings, EntropyStream
from hybridqml.exceptions import ConfigurationError
from hybridqml.workflows.base import RESUME_MUTABLE_FIELDS

__all__ = [
    "DATASET_CHOICES",
    "MNIST_HELP",
    "RESUME_MUTABLE_FIELDS",
    "RUN_FILES",
    "EntropySettings",
    "EntropyStream",
    "check_run_settings",
    "config_to_json",
    "load_config_images",
    "load_image_split",
    "prepare_out_dir",
    "resume_settings",
    "run_folder",
    "train_config",
    "write_classifier_outputs",
]

RUN_FILES: tuple[str, ...] = (
    "checkpoint.pt",
    "jobs.jsonl",
    "metrics.json",
    "best.pt",
    "classifier.pt",
    "curves.png",
    "confusion_matrix.png",
    "quality.png",
    "samples.png",
    "decision_boundary_*.png",
    "grids/epoch_*.png",
)
"""What a workflow run writes into its output folder (names or glob patterns): a folder holding
any of them holds an earlier run, and ``overwrite=True`` deletes them (nothing else) first."""


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create the output folder (and parents) and return it.

    Raises:
        ConfigurationError: ``out_dir`` exists and is not a folder, or cannot be created.

    Example:
        >>> import tempfile
        >>> prepare_out_dir(Path(tempfile.mkdtemp()) / "run").is_dir()
        True
    """
    path = Path(out_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigurationError(f"output folder {str(path)!r} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot create output folder {str(path)!r}: {exc}") from exc
    return path


@contextlib.contextmanager
def run_folder(config: Any) -> Iterator[Path]:
    """The output folder of a workflow run, locked for the run and checked before any work.

    Creates ``config.out_dir``, checks it is writable, takes its
    :class:`~hybridqml.training.RunLock` (released on exit), removes temporary files of killed
    runs and applies ``config.resume``/``config.overwrite`` (see
    :func:`~hybridqml.training.check_run_folder` with :data:`RUN_FILES`).

    Args:
        config: A workflow config with ``out_dir``, ``resume`` and ``overwrite``.

    Yields:
        The folder.

    Raises:
        ConfigurationError: Not a folder, not writable, used by another run, holding an earlier
            run (neither resume nor overwrite) or without a checkpoint to resume; each message
            names the folder and the option that fixes it.

    Example:
        >>> import tempfile
        >>> from types import SimpleNamespace
        >>> cfg = SimpleNamespace(out_dir=tempfile.mkdtemp(), resume=False, overwrite=False)
        >>> with run_folder(cfg) as out:
        ...     _ = (out / "metrics.json").write_text("{}")
        >>> with run_folder(cfg) as out:  # doctest: +ELLIPSIS
        ...     pass
        Traceback (most recent call last):
        ...
        hybridqml.exceptions.ConfigurationError: output folder ... already holds a run ...
    """
    from hybridqml.backends.joblog import job_log
    from hybridqml.training import CHECKPOINT_NAME, RunLock, check_run_folder
    from hybridqml.workflows.cost import check_start_budget

    out = prepare_out_dir(config.out_dir)
    with RunLock(out):
        check_start_budget(config)  # over budget: refused before --overwrite deletes anything
        check_run_folder(
            out,
            resume=config.resume,
            overwrite=config.overwrite,
            checkpoint_name=CHECKPOINT_NAME,
            run_files=RUN_FILES,
        )
        with job_log(out):  # every primitive call of the run, evaluation and plots too
            yield out


def train_config(config: Any, out: Path, *, desc: str, run_config: dict[str, Any]) -> Any:
    """The :class:`~hybridqml.training.TrainConfig` of a workflow run in ``out``.

    Args:
        config: A workflow config (``epochs``, ``seed``, ``resume``, ``overwrite``,
            ``progress``).
        out: The output folder (from :func:`run_folder`).
        desc: Progress-bar label.
        run_config: The settings a resumed run must repeat (:func:`resume_settings`).
    """
    from hybridqml.training import TrainConfig

    return TrainConfig(
        epochs=config.epochs,
        seed=config.seed,
        out_dir=out,
        resume=config.resume,
        overwrite=config.overwrite,
        progress=config.progress,
        desc=desc,
        run_config=run_config,
        checkpoint_every=getattr(config, "checkpoint_every", None),
        max_shots=getattr(config, "max_shots", None),
        max_qpu_seconds=getattr(config, "max_qpu_seconds", None),
    )


def load_config_images(config: Any, **options: Any) -> DatasetSplit:
    """The image split a workflow config asks for (MNIST or digits, capped, fetched if allowed).

    ``limit_per_class`` caps the training images per class and the test images at a fifth of
    it (at least one).

    Args:
        config: A config with ``dataset``, ``data_dir``, ``download`` and ``limit_per_class``.
        **options: More :func:`~hybridqml.data.load_image_split` arguments (e.g. ``digits``).
    """
    limit = config.limit_per_class
    return load_image_split(
        dataset=config.dataset,
        data_dir=config.data_dir,
        max_train_per_class=limit,
        max_test_per_class=None if limit is None else max(1, limit // 5),
        download=config.download,
        **options,
    )


def write_classifier_outputs(
    *,
    out_dir: Path,
    fit: Any,
    seed: int,
    extra: dict[str, Any],
    title: str,
    class_names: Sequence[str],
) -> tuple[Path, ...]:
    """Rewrite ``metrics.json`` with the run's extra keys and draw curves + confusion matrix.

    Args:
        out_dir: Output folder.
        fit: The :class:`~hybridqml.training.FitResult`.
        seed: Run seed.
        extra: More JSON values (configuration, data source, provenance).
        title: Plot title.
        class_names: Confusion-matrix tick labels.

    Returns:
        The PNG paths written.
    """
    from hybridqml.plotting import plot_confusion_matrix, plot_history
    from hybridqml.training import METRICS_NAME, write_metrics

    write_metrics(
        out_dir / METRICS_NAME,
        history=fit.history,
        seed=seed,
        extra={
            "selection": fit.selection,
            f"best_{'val' if fit.selection == 'validation' else 'test'}_accuracy": (
                fit.best_accuracy
            ),
            "best_epoch": fit.best_epoch,
            "selected_test_accuracy": fit.selected_test_accuracy,
            "confusion_matrix": fit.evaluation.confusion_matrix.tolist(),
            **extra,
        },
    )
    curves = plot_history(
        fit.history, out_dir / "curves.png", metrics=_curve_metrics(fit.history), title=title
    )
    matrix = plot_confusion_matrix(
        fit.evaluation.confusion_matrix,
        out_dir / "confusion_matrix.png",
        class_names=list(class_names),
        title=f"{title}: test set",
    )
    return (curves, matrix)


def _curve_metrics(history: Sequence[dict[str, float]]) -> list[str]:
    names = ("loss", "val_loss", "test_loss", "accuracy", "val_accuracy", "test_accuracy")
    return [n for n in names if history and n in history[0]]


def check_run_settings(config: Any) -> None:
    """Validate the settings every workflow config shares (those it has).

    ``lr`` finite and ``> 0``, ``batch_size >= 1``, ``limit_per_class`` ``None`` or ``>= 1``,
    ``validation_fraction`` in (0, 1), and ``resume`` and ``overwrite`` not both set.

    Raises:
        ConfigurationError: naming the setting and its value.

    Example:
        >>> from types import SimpleNamespace
        >>> check_run_settings(SimpleNamespace(lr=float("inf")))
        Traceback (most recent call last):
        ...
        hybridqml.exceptions.ConfigurationError: lr must be a finite number > 0, got inf
    """
    lr = getattr(config, "lr", None)
    if lr is not None:
        check_finite(lr, "lr", above=0.0)
    batch_size = getattr(config, "batch_size", None)
    if batch_size is not None and batch_size < 1:
        raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
    limit = getattr(config, "limit_per_class", None)
    if limit is not None and limit < 1:
        raise ConfigurationError(f"limit_per_class must be >= 1, got {limit}")
    fraction = getattr(config, "validation_fraction", None)
    if fraction is not None:
        check_finite(fraction, "validation_fraction", above=0.0, below=1.0)
    if getattr(config, "resume", False) and getattr(config, "overwrite", False):
        raise ConfigurationError("resume and overwrite exclude each other: choose one")
    _check_hardware_settings(config)


def _check_hardware_settings(config: Any) -> None:
    """``checkpoint_every``, ``max_shots`` and ``max_qpu_seconds``, where the config has them."""
    from hybridqml.training.budget import check_budget
    from hybridqml.training.progress import check_checkpoint_every

    check_checkpoint_every(getattr(config, "checkpoint_every", None))
    check_budget(getattr(config, "max_shots", None), "max_shots")
    check_budget(getattr(config, "max_qpu_seconds", None), "max_qpu_seconds")


def config_to_json(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON-ready values (paths as strings, nested dataclasses as dicts).

    QRNG URLs keep only scheme, host and path (a query string or user part may hold secrets).
    Values JSON cannot hold (e.g. a ``NoiseModel`` in ``backend_options``) become their type
    name, so ``metrics.json`` can always be written.

    Example:
        >>> config_to_json(EntropySettings(source="os"))["source"]
        'os'
    """
    from dataclasses import asdict, fields

    def convert(value: Any) -> Any:
        if isinstance(value, dict) and value.get("qrng_url"):
            value = value | {"qrng_url": redact_url(value["qrng_url"])}
        if isinstance(value, os.PathLike):
            return str(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    # a setting with its own record (EntropySettings.to_record) is recorded as it says
    values = {f.name: getattr(config, f.name) for f in fields(config)}
    records = {k: v.to_record() for k, v in values.items() if hasattr(v, "to_record")}
    return _jsonable(convert(asdict(config) | records))


def resume_settings(
    config: Any, data: DatasetSplit, *, mutable: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """What a workflow's checkpoint records and a resumed run must repeat.

    :func:`config_to_json` of ``config`` without :data:`RESUME_MUTABLE_FIELDS` and the
    workflow's own ``mutable`` fields, plus ``data``: a
    fingerprint of the loaded split (source, sizes, classes and a SHA-256 of the labels), so a
    ``data_dir`` spelled differently is fine but other data is not. Values that are not JSON
    (e.g. objects in ``backend_options``) are recorded by type name only. Passed to
    :class:`~hybridqml.training.TrainConfig` as ``run_config``.

    Args:
        config: A workflow config dataclass.
        data: The split the run trains and tests on.
        mutable: More fields that may change (the workflow's ``resume_mutable``).

    Returns:
        JSON-like settings (safe for ``torch.load(weights_only=True)``).

    Example:
        >>> from hybridqml.workflows.noisy_mlp import NoisyMLPConfig
        >>> split = load_image_split(dataset="digits", data_dir=None, digits=[0, 1])
        >>> settings = resume_settings(NoisyMLPConfig(out_dir="run", dataset="digits"), split)
        >>> "epochs" in settings, "qrng_retries" in settings["entropy"], settings["lr"]
        (False, False, 0.001)
        >>> settings["data"]["source"], settings["data"]["classes"]
        ('sklearn-digits', [0, 1])
    """
    settings = config_to_json(config)
    for dotted in RESUME_MUTABLE_FIELDS | mutable:
        *parents, leaf = dotted.split(".")
        node = settings
        for parent in parents:
            node = node.get(parent) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    digest = hashlib.sha256()
    for part in (data.train, data.test):
        digest.update(part.tensors[1].to(torch.int64).contiguous().numpy().tobytes())
        digest.update(b"|")
    settings["data"] = {
        "source": data.info.source,
        "n_train": int(data.info.n_train),
        "n_test": int(data.info.n_test),
        "classes": [int(c) for c in data.info.classes],
        "labels_sha256": digest.hexdigest()[:16],
    }
    return settings


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return f"<{type(value).__module__}.{type(value).__qualname__}>"
