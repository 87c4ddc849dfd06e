"""A small shared training loop: seeding, progress bars, exact checkpoint/resume and metrics.json.

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
  :class:`~hybridqml.layers.QuantumLayer`'s shot seeds); resuming restores them and starts at
  epoch ``k + 1``;
* the run's result-determining settings (:attr:`TrainConfig.run_config`) are stored in the
  checkpoint, and resuming with any of them changed is refused with a
  :class:`~hybridqml.exceptions.ConfigurationError` that lists every difference (a resumed run
  with other settings would be neither the old run nor the new one);
* the shuffling order of epoch ``e`` comes from the loader's own ``torch.Generator`` reseeded with
  :func:`epoch_seed` ``(seed, e)`` (see :func:`make_loader`), so it does not depend on history;
* checkpoints are written atomically (temporary file, then :func:`os.replace`), so a crash during
  saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from hybridqml._validation import check_seed, epoch_seed
from hybridqml.exceptions import ConfigurationError, DataError, InputError

__all__ = [
    "BEST_NAME",
    "CHECKPOINT_NAME",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_SEED",
    "METRICS_NAME",
    "Checkpoint",
    "Checkpointer",
    "ClassifierEvaluation",
    "FitResult",
    "LoopResult",
    "Stateful",
    "TrainConfig",
    "UserState",
    "capture_rng_state",
    "config_differences",
    "epoch_seed",
    "evaluate_classifier",
    "fit_classifier",
    "make_loader",
    "restore_rng_state",
    "run_epochs",
    "seed_everything",
    "write_metrics",
]

CHECKPOINT_NAME = "checkpoint.pt"
"""File name of the per-epoch checkpoint inside ``out_dir``."""
METRICS_NAME = "metrics.json"
"""File name of the metrics file inside ``out_dir``."""
BEST_NAME = "best.pt"
"""File name of the best model's ``state_dict`` inside ``out_dir`` (:func:`fit_classifier`)."""
DEFAULT_SEED = 0
"""Seed used when none is given."""
DEFAULT_BATCH_SIZE = 64
"""Batch size of :func:`make_loader` when none is given."""

_CHECKPOINT_FORMAT = 1
_RESERVED_METRIC_KEYS = frozenset({"history", "epochs_completed", "seed"})

StepFn = Callable[[Any], Mapping[str, float]]
EvalFn = Callable[[int], Mapping[str, float]]
EpochEndFn = Callable[[int, Mapping[str, float], Sequence[Mapping[str, float]]], Any]


@runtime_checkable
class Stateful(Protocol):
    """Anything that can be checkpointed: models, optimizers, schedulers, :class:`UserState`."""

    def state_dict(self) -> Any:
        """Return the object's state."""

    def load_state_dict(self, state_dict: Any, /) -> Any:
        """Restore the object's state."""


class UserState(dict):
    """A plain dict that can be checkpointed next to models and optimizers.

    Values must be what ``torch.load(weights_only=True)`` accepts: tensors, numbers, strings,
    ``None`` and lists/tuples/dicts of them.

    Example:
        >>> state = UserState(best_accuracy=0.0)
        >>> state["best_accuracy"] = 0.9
        >>> UserState().load_state_dict(state.state_dict()) is None
        True
    """

    def state_dict(self) -> dict[str, Any]:
        """Return a shallow copy of the contents."""
        return dict(self)

    def load_state_dict(self, state_dict: Mapping[str, Any], /) -> None:
        """Replace the contents with ``state_dict``."""
        self.clear()
        self.update(state_dict)


# --------------------------------------------------------------------------- seeding and RNG


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


# --------------------------------------------------------------------------- checkpointing


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """What :meth:`Checkpointer.load` found besides the restored objects.

    Attributes:
        epoch: Last completed epoch.
        seed: Run seed recorded at save time (``None`` if not given).
        history: Per-epoch metric records up to ``epoch``.
        extra: The ``extra`` mapping given to :meth:`Checkpointer.save`.
        config: The run settings given to :meth:`Checkpointer.save` (``None`` if not given).
    """

    epoch: int
    seed: int | None
    history: tuple[dict[str, float], ...]
    extra: dict[str, Any]
    config: dict[str, Any] | None = None


class Checkpointer:
    """Save and restore named stateful objects, RNG states and a metric history in one file.

    Args:
        path: Checkpoint file.
        objects: Named objects with ``state_dict``/``load_state_dict`` (models, optimizers,
            schedulers, :class:`UserState`). Names must match between save and load.

    Example:
        >>> import tempfile
        >>> model = nn.Linear(2, 1)
        >>> ckpt = Checkpointer(path=Path(tempfile.mkdtemp()) / "c.pt", objects={"model": model})
        >>> _ = ckpt.save(epoch=1)
        >>> ckpt.load().epoch
        1
    """

    def __init__(self, *, path: str | os.PathLike[str], objects: Mapping[str, Stateful]) -> None:
        for name, obj in objects.items():
            if not isinstance(obj, Stateful):
                raise ConfigurationError(
                    f"object {name!r} ({type(obj).__name__}) has no state_dict/load_state_dict"
                )
        self._path = Path(path)
        self._objects = dict(objects)

    @property
    def path(self) -> Path:
        """The checkpoint file."""
        return self._path

    def exists(self) -> bool:
        """Whether a checkpoint file is present."""
        return self._path.is_file()

    def save(
        self,
        *,
        epoch: int,
        history: Sequence[Mapping[str, float]] = (),
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write the checkpoint atomically (temporary file in the same folder, then replace).

        Args:
            epoch: Last completed epoch.
            history: Per-epoch metric records.
            seed: Run seed, checked on resume.
            extra: More ``weights_only``-loadable values to keep.
            config: The run's settings (JSON-like values), compared on resume by
                :func:`run_epochs`.

        Returns:
            The checkpoint path.
        """
        payload = {
            "format": _CHECKPOINT_FORMAT,
            "epoch": int(epoch),
            "seed": seed,
            "history": [dict(record) for record in history],
            "extra": dict(extra or {}),
            "config": None if config is None else dict(config),
            "objects": {name: obj.state_dict() for name, obj in self._objects.items()},
            "rng": capture_rng_state(),
            "module_rng": {name: _module_random_states(obj) for name, obj in self._objects.items()},
        }
        _atomic_torch_save(payload, self._path)
        return self._path

    def load(
        self,
        *,
        restore_rng: bool = True,
        check: Callable[[Checkpoint], None] | None = None,
    ) -> Checkpoint:
        """Restore every named object (and the RNG states) from the checkpoint.

        Args:
            restore_rng: Also restore python/numpy/torch RNG states (needed for exact resume).
            check: Called with the stored epoch, seed, history, extra values and settings
                *before* anything is restored; raise from it to refuse the checkpoint (the
                objects and RNG states are then left untouched).

        Returns:
            The epoch, seed, history, extra values and settings stored with the objects.

        Raises:
            DataError: If the file is missing, unreadable or not a hybridqml checkpoint.
            ConfigurationError: If the stored object names or shapes do not match.
        """
        if not self.exists():
            raise DataError(f"checkpoint {str(self._path)!r} does not exist")
        try:
            payload = torch.load(self._path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a corrupt file
            raise DataError(f"cannot read checkpoint {str(self._path)!r}: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != _CHECKPOINT_FORMAT:
            raise DataError(f"{str(self._path)!r} is not a hybridqml checkpoint")
        checkpoint = Checkpoint(
            epoch=int(payload["epoch"]),
            seed=payload["seed"],
            history=tuple(dict(record) for record in payload["history"]),
            extra=dict(payload["extra"]),
            config=None if payload.get("config") is None else dict(payload["config"]),
        )
        if check is not None:
            check(checkpoint)
        stored = payload["objects"]
        if set(stored) != set(self._objects):
            raise ConfigurationError(
                f"checkpoint {str(self._path)!r} holds {sorted(stored)}, "
                f"expected {sorted(self._objects)}"
            )
        for name, obj in self._objects.items():
            try:
                obj.load_state_dict(stored[name])
            except (RuntimeError, KeyError, ValueError) as exc:
                raise ConfigurationError(
                    f"cannot restore {name!r} from {str(self._path)!r}: {exc}"
                ) from exc
        if restore_rng:
            restore_rng_state(payload["rng"])
            for name, states in payload.get("module_rng", {}).items():
                _restore_module_random_states(self._objects[name], states)
        return checkpoint


def _random_state_holders(obj: Any) -> dict[str, Any]:
    """Submodules of ``obj`` with their own generators (e.g. a QuantumLayer's shot seeds)."""
    if not isinstance(obj, nn.Module):
        return {}
    return {
        path: module
        for path, module in obj.named_modules()
        if callable(getattr(module, "random_state", None))
        and callable(getattr(module, "set_random_state", None))
    }


def _module_random_states(obj: Any) -> dict[str, Any]:
    states = {path: module.random_state() for path, module in _random_state_holders(obj).items()}
    return {path: state for path, state in states.items() if state}


def _restore_module_random_states(obj: Any, states: Mapping[str, Any]) -> None:
    holders = _random_state_holders(obj)
    for path, state in states.items():
        if path in holders:
            holders[path].set_random_state(state)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- metrics.json


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _history_columns(history: Sequence[Mapping[str, float]]) -> dict[str, list[Any]]:
    keys: list[str] = []
    for record in history:
        keys.extend(k for k in record if k not in keys)
    return {k: [_json_number(record.get(k)) for record in history] for k in keys}


def write_metrics(
    path: str | os.PathLike[str],
    *,
    history: Sequence[Mapping[str, float]],
    final: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> Path:
    """Write ``metrics.json`` atomically.

    Layout: the final metrics at the top level (e.g. ``"test_accuracy": 0.99``), then
    ``"epochs_completed"``, ``"seed"``, ``"history"`` (one list per metric, one value per epoch,
    including ``"epoch"``) and any ``extra`` keys (e.g. a confusion matrix). Non-finite numbers
    are written as ``null`` so the file stays valid JSON.

    Args:
        path: Output file.
        history: Per-epoch metric records.
        final: Final metrics (default: the last history record without ``"epoch"``).
        extra: More JSON-serialisable values.
        seed: Run seed.

    Returns:
        The path written.

    Raises:
        ConfigurationError: If a metric name collides with a reserved key.

    Example:
        >>> import tempfile
        >>> history = [{"epoch": 1, "loss": 0.5}]
        >>> p = write_metrics(Path(tempfile.mkdtemp()) / "m.json", history=history)
        >>> json.loads(p.read_text())["history"]["loss"]
        [0.5]
    """
    if final is None:
        final = {k: v for k, v in history[-1].items() if k != "epoch"} if history else {}
    extra = dict(extra or {})
    clash = (set(final) | set(extra)) & _RESERVED_METRIC_KEYS or set(final) & set(extra)
    if clash:
        raise ConfigurationError(f"metric names {sorted(clash)} collide with reserved keys")
    payload: dict[str, Any] = {k: _json_number(v) for k, v in final.items()}
    payload["epochs_completed"] = int(history[-1].get("epoch", len(history))) if history else 0
    payload["seed"] = seed
    payload["history"] = _history_columns(history)
    payload.update(extra)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, target)
    return target


# --------------------------------------------------------------------------- the loop


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Settings of :func:`run_epochs` and :func:`fit_classifier`.

    Attributes:
        epochs: Total number of epochs of the run (also when resuming).
        seed: Run seed (python, numpy, torch and the per-epoch data order).
        out_dir: Folder for the checkpoint and ``metrics.json``; ``None`` writes nothing.
        resume: Continue from ``out_dir``'s checkpoint if there is one (else start fresh).
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
            :func:`hybridqml.models.common.resume_settings`. ``None``: only the seed is checked.
    """

    epochs: int
    seed: int = DEFAULT_SEED
    out_dir: str | os.PathLike[str] | None = None
    resume: bool = False
    progress: bool = True
    desc: str = "train"
    checkpoint_name: str = CHECKPOINT_NAME
    metrics_name: str = METRICS_NAME
    run_config: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ConfigurationError(f"epochs must be an integer >= 1, got {self.epochs!r}")
        check_seed(self.seed)
        if self.resume and self.out_dir is None:
            raise ConfigurationError("resume=True needs out_dir (where the checkpoint is)")

    @property
    def checkpoint_path(self) -> Path | None:
        """``out_dir / checkpoint_name``, or ``None`` without ``out_dir``."""
        return None if self.out_dir is None else Path(self.out_dir) / self.checkpoint_name

    @property
    def metrics_path(self) -> Path | None:
        """``out_dir / metrics_name``, or ``None`` without ``out_dir``."""
        return None if self.out_dir is None else Path(self.out_dir) / self.metrics_name


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


def _as_float(name: str, value: Any) -> float:
    try:
        return float(value.item() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"metric {name!r} is not a number: {value!r}") from exc


def _run_one_epoch(
    loader: Iterable[Any], step: StepFn, *, desc: str, progress: bool
) -> dict[str, float]:
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    total = len(loader) if isinstance(loader, Sized) else None
    with tqdm(loader, total=total, desc=desc, leave=False, disable=not progress) as bar:
        for batch in bar:
            for name, value in step(batch).items():
                sums[name] = sums.get(name, 0.0) + _as_float(name, value)
                counts[name] = counts.get(name, 0) + 1
            if progress:
                bar.set_postfix({k: f"{sums[k] / counts[k]:.4g}" for k in sums}, refresh=False)
    return {name: sums[name] / counts[name] for name in sums}


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
            (``config.run_config``) or other object names, or clashing metric names.

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
    checkpointer = None
    if config.checkpoint_path is not None:
        checkpointer = Checkpointer(path=config.checkpoint_path, objects=stateful)
    history: list[dict[str, float]] = []
    resumed_from = None
    if config.resume and checkpointer is not None and checkpointer.exists():
        path = checkpointer.path
        checkpoint = checkpointer.load(check=lambda stored: _check_resume(stored, config, path))
        history = [dict(record) for record in checkpoint.history]
        resumed_from = checkpoint.epoch
    else:
        for name, obj in stateful.items():
            if not isinstance(obj, Stateful):
                raise ConfigurationError(f"object {name!r} has no state_dict/load_state_dict")
        seed_everything(config.seed)
    start = (resumed_from or 0) + 1
    modules = [obj for obj in stateful.values() if isinstance(obj, nn.Module)]
    epochs = tqdm(
        range(start, config.epochs + 1),
        total=config.epochs,
        initial=start - 1,
        desc=config.desc,
        disable=not config.progress,
    )
    with epochs:
        for epoch in epochs:
            for module in modules:
                module.train()
            _reseed_loader(loader, config.seed, epoch)
            metrics = _run_one_epoch(
                loader,
                step,
                desc=f"epoch {epoch}/{config.epochs}",
                progress=config.progress,
            )
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
    final = {k: v for k, v in history[-1].items() if k != "epoch"} if history else {}
    return LoopResult(
        history=tuple(history),
        final=final,
        epochs_completed=int(history[-1]["epoch"]) if history else 0,
        resumed_from=resumed_from,
        checkpoint_path=config.checkpoint_path,
        metrics_path=config.metrics_path,
    )


def _check_resume(checkpoint: Checkpoint, config: TrainConfig, path: Path) -> None:
    """Refuse a checkpoint made with another seed or other result-determining settings."""
    differences = []
    if checkpoint.seed is not None and checkpoint.seed != config.seed:
        differences.append(f"seed: checkpoint {checkpoint.seed!r}, now {config.seed!r}")
    if config.run_config is not None:
        if checkpoint.config is None:
            raise ConfigurationError(
                f"checkpoint {str(path)!r} records no run settings (it was written by an older "
                "hybridqml or without run_config), so resuming cannot check that they match: "
                "start a new run in another output folder (CLI: --out)"
            )
        seed_listed = bool(differences)
        for item in config_differences(checkpoint.config, config.run_config):
            if not (seed_listed and item.startswith("seed:")):
                differences.append(item)
    if differences:
        raise ConfigurationError(
            f"cannot resume from checkpoint {str(path)!r}: it was made with other settings that "
            f"change the results ({'; '.join(differences)}). Resume with the checkpoint's "
            "values, or start a new run with the new ones in another output folder (CLI: --out)"
        )


_ABSENT = object()


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Every setting that differs between two (nested) settings mappings, one line each.

    Nested mappings are compared key by key and named with dots (``entropy.source``); a key
    present on one side only counts as a difference.

    Args:
        stored: Settings recorded in a checkpoint.
        current: Settings of the run that wants to resume.

    Returns:
        ``"name: checkpoint <old>, now <new>"`` per difference, sorted by name.

    Example:
        >>> config_differences({"lr": 0.1, "entropy": {"source": "prng"}},
        ...                    {"lr": 0.1, "entropy": {"source": "aer"}})
        ["entropy.source: checkpoint 'prng', now 'aer'"]
    """

    def show(value: Any) -> str:
        return "(not recorded)" if value is _ABSENT else repr(value)

    out: list[str] = []

    def walk(a: Any, b: Any, name: str) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for key in sorted(set(a) | set(b), key=str):
                walk(a.get(key, _ABSENT), b.get(key, _ABSENT), f"{name}.{key}" if name else key)
        elif _normalise(a) != _normalise(b):
            out.append(f"{name}: checkpoint {show(a)}, now {show(b)}")

    walk(stored, current, "")
    return out


def _normalise(value: Any) -> Any:
    """Compare tuples like lists (a checkpoint may hold either)."""
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def _merge(metrics: dict[str, float], more: Mapping[str, Any] | None) -> None:
    if not more:
        return
    clash = (set(metrics) | {"epoch"}) & set(more)
    if clash:
        raise ConfigurationError(f"metric names {sorted(clash)} are reported twice")
    metrics.update({name: _as_float(name, value) for name, value in more.items()})


# --------------------------------------------------------------------------- classifiers


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True, kw_only=True)
class ClassifierEvaluation:
    """Accuracy, mean loss and confusion matrix of a classifier on one dataset.

    Attributes:
        accuracy: Share of correct predictions.
        loss: Mean loss per sample.
        confusion_matrix: ``(n_classes, n_classes)`` counts, rows = true class, columns = predicted
            (:func:`sklearn.metrics.confusion_matrix`).
        n_samples: Number of samples evaluated.
    """

    accuracy: float
    loss: float
    confusion_matrix: np.ndarray
    n_samples: int


def _predict(outputs: torch.Tensor) -> torch.Tensor:
    """Class indices from scores: argmax over classes, or ``> 0`` for a single logit."""
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        return (outputs.reshape(-1) > 0).long()
    return outputs.argmax(dim=-1)


def _model_device(model: nn.Module) -> torch.device:
    return next(iter(model.parameters()), torch.empty(0)).device


def evaluate_classifier(
    model: nn.Module,
    loader: Iterable[Any],
    *,
    loss_fn: LossFn | None = None,
    num_classes: int | None = None,
    progress: bool = False,
) -> ClassifierEvaluation:
    """Evaluate a classifier in eval mode without gradients (its mode is restored afterwards).

    Outputs of shape ``(B, C)`` are class scores (argmax); ``(B,)`` or ``(B, 1)`` are binary logits
    (positive means class 1).

    Args:
        model: Maps a batch of inputs to class scores.
        loader: Iterable of ``(inputs, labels)`` batches.
        loss_fn: Mean-reduced loss of ``(outputs, labels)`` (default: cross entropy).
        num_classes: Size of the confusion matrix (default: from the output width, 2 for binary).
        progress: Show a tqdm progress bar.

    Returns:
        Accuracy, mean loss, confusion matrix and sample count.

    Raises:
        InputError: If the loader yields no samples.

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> data = TensorDataset(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]))
        >>> ev = evaluate_classifier(nn.Identity(), make_loader(data, shuffle=False))
        >>> ev.accuracy, ev.confusion_matrix.tolist()
        (1.0, [[1, 0], [0, 1]])
    """
    from sklearn.metrics import accuracy_score, confusion_matrix

    loss_fn = nn.functional.cross_entropy if loss_fn is None else loss_fn
    device = _model_device(model)
    was_training = model.training
    model.eval()
    labels: list[torch.Tensor] = []
    predictions: list[torch.Tensor] = []
    loss_sum = 0.0
    width = 0
    try:
        with torch.no_grad():
            for inputs, targets in tqdm(loader, desc="eval", leave=False, disable=not progress):
                outputs = model(inputs.to(device))
                targets = targets.to(device)
                loss_sum += float(loss_fn(outputs, targets)) * len(targets)
                width = 1 if outputs.ndim == 1 else outputs.shape[-1]
                labels.append(targets.reshape(-1).cpu())
                predictions.append(_predict(outputs).cpu())
    finally:
        model.train(was_training)
    if not labels:
        raise InputError("the evaluation loader yielded no batches")
    y_true = torch.cat(labels).numpy()
    y_pred = torch.cat(predictions).numpy()
    n_classes = num_classes if num_classes is not None else max(width, 2)
    return ClassifierEvaluation(
        accuracy=float(accuracy_score(y_true, y_pred)),
        loss=loss_sum / len(y_true),
        confusion_matrix=confusion_matrix(y_true, y_pred, labels=list(range(n_classes))),
        n_samples=len(y_true),
    )


@dataclass(frozen=True, kw_only=True)
class FitResult:
    """Outcome of :func:`fit_classifier`.

    Attributes:
        history: Per-epoch records: ``loss``, ``accuracy`` (training, averaged over batches),
            ``val_loss``, ``val_accuracy`` (with a validation loader), ``test_loss``,
            ``test_accuracy``, ``lr``.
        final: Metrics of the last epoch (as written at the top of ``metrics.json``).
        evaluation: Evaluation of the final model on the test loader.
        selection: ``"validation"`` when a validation loader chose the best epoch, else
            ``"test"`` (then :attr:`best_accuracy` is an optimistic, test-selected number).
        best_accuracy: Best accuracy of the selection set over the epochs.
        best_epoch: Epoch of :attr:`best_accuracy`.
        selected_test_accuracy: Test accuracy of the model saved at :attr:`best_epoch`.
        best_path: ``state_dict`` of the best model, if saved.
        checkpoint_path: Last per-epoch checkpoint, if ``out_dir`` was given.
        metrics_path: ``metrics.json``, if ``out_dir`` was given.
    """

    history: tuple[dict[str, float], ...]
    final: dict[str, float]
    evaluation: ClassifierEvaluation
    selection: str
    best_accuracy: float
    best_epoch: int
    selected_test_accuracy: float
    best_path: Path | None
    checkpoint_path: Path | None
    metrics_path: Path | None


def fit_classifier(
    *,
    model: nn.Module,
    train_loader: Iterable[Any],
    test_loader: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    loss_fn: LossFn | None = None,
    scheduler: Any | None = None,
    save_best: bool = True,
    best_name: str = BEST_NAME,
    val_loader: Iterable[Any] | None = None,
) -> FitResult:
    """Train a classifier with :func:`run_epochs`, evaluating it every epoch.

    Model selection uses ``val_loader`` when given: ``ReduceLROnPlateau`` schedulers step on the
    validation loss and the model's ``state_dict`` is saved to ``out_dir / best_name`` when the
    validation accuracy improves; the test set is only measured. Without ``val_loader`` the
    test set plays both roles, which makes the best accuracy optimistic: pass a validation
    loader (see :func:`hybridqml.data.split_validation`) for an honest one. Other schedulers
    step once per epoch. ``metrics.json`` gets the last epoch's metrics at the top, then
    ``selection``, ``best_epoch``, ``best_<val|test>_accuracy``, ``selected_test_accuracy`` and
    the final ``confusion_matrix``.

    Args:
        model: The classifier (outputs as in :func:`evaluate_classifier`).
        train_loader: ``(inputs, labels)`` batches for training (see :func:`make_loader`).
        test_loader: ``(inputs, labels)`` batches for evaluation.
        optimizer: Optimizer over the model's parameters.
        config: Epochs, seed, ``out_dir``, resume, progress.
        loss_fn: Mean-reduced loss of ``(outputs, labels)`` (default: cross entropy).
        scheduler: Optional learning-rate scheduler (checkpointed with the rest).
        save_best: Save the best model's ``state_dict`` (needs ``out_dir``).
        best_name: File name of the best model inside ``out_dir``.
        val_loader: ``(inputs, labels)`` batches for model selection.

    Returns:
        History, final metrics, final evaluation and best accuracy.

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> x = torch.randn(64, 2); data = TensorDataset(x, (x[:, 0] > 0).long())
        >>> model = nn.Linear(2, 2)
        >>> result = fit_classifier(
        ...     model=model, train_loader=make_loader(data, batch_size=16),
        ...     test_loader=make_loader(data, shuffle=False),
        ...     optimizer=torch.optim.Adam(model.parameters(), lr=0.1),
        ...     config=TrainConfig(epochs=5, progress=False))
        >>> result.final["test_accuracy"] > 0.8
        True
    """
    loss_fn = nn.functional.cross_entropy if loss_fn is None else loss_fn
    device = _model_device(model)
    stateful: dict[str, Stateful] = {"model": model, "optimizer": optimizer}
    if scheduler is not None:
        stateful["scheduler"] = scheduler
    best_path = Path(config.out_dir) / best_name if save_best and config.out_dir else None
    last: list[ClassifierEvaluation] = []

    def step(batch: Any) -> dict[str, float]:
        inputs, targets = batch[0].to(device), batch[1].to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        loss.backward()
        optimizer.step()
        correct = (_predict(outputs.detach()) == targets.reshape(-1)).float().mean()
        return {"loss": loss.item(), "accuracy": correct.item()}

    prefix = "val" if val_loader is not None else "test"

    def evaluate(epoch: int) -> dict[str, float]:
        metrics = {}
        if val_loader is not None:
            val = evaluate_classifier(model, val_loader, loss_fn=loss_fn)
            metrics = {"val_loss": val.loss, "val_accuracy": val.accuracy}
        evaluation = evaluate_classifier(model, test_loader, loss_fn=loss_fn)
        last[:] = [evaluation]
        return {**metrics, "test_loss": evaluation.loss, "test_accuracy": evaluation.accuracy}

    def on_epoch_end(
        epoch: int, metrics: Mapping[str, float], history: Sequence[Mapping[str, float]]
    ) -> dict[str, float]:
        lr = float(optimizer.param_groups[0]["lr"])
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(metrics[f"{prefix}_loss"])
        elif scheduler is not None:
            scheduler.step()
        best_before = max((h[f"{prefix}_accuracy"] for h in history), default=-math.inf)
        if best_path is not None and metrics[f"{prefix}_accuracy"] > best_before:
            _atomic_torch_save(model.state_dict(), best_path)
        return {"lr": lr}

    loop = run_epochs(
        config=config,
        loader=train_loader,
        step=step,
        stateful=stateful,
        evaluate=evaluate,
        on_epoch_end=on_epoch_end,
    )
    evaluation = last[0] if last else evaluate_classifier(model, test_loader, loss_fn=loss_fn)
    key = f"{prefix}_accuracy"
    best_record = max(loop.history, key=lambda h: h[key]) if loop.history else {}
    best_accuracy = float(best_record.get(key, evaluation.accuracy))
    best_epoch = int(best_record.get("epoch", 0))
    selected_test = float(best_record.get("test_accuracy", evaluation.accuracy))
    selection = "validation" if val_loader is not None else "test"
    if config.metrics_path is not None:
        write_metrics(
            config.metrics_path,
            history=loop.history,
            seed=config.seed,
            extra={
                "selection": selection,
                f"best_{prefix}_accuracy": best_accuracy,
                "best_epoch": best_epoch,
                "selected_test_accuracy": selected_test,
                "confusion_matrix": evaluation.confusion_matrix.tolist(),
            },
        )
    return FitResult(
        history=loop.history,
        final=loop.final,
        evaluation=evaluation,
        selection=selection,
        best_accuracy=best_accuracy,
        best_epoch=best_epoch,
        selected_test_accuracy=selected_test,
        best_path=best_path if best_path is not None and best_path.is_file() else None,
        checkpoint_path=loop.checkpoint_path,
        metrics_path=loop.metrics_path,
    )
