"""The shared loop of every workflow: a workflow supplies its data, models and step.

A workflow subclasses :class:`Trainer` and supplies what is its own: :meth:`~Trainer.build`
(its models, optimizers and other checkpointed objects, built right after the run is seeded),
:meth:`~Trainer.step` (one training batch), optionally :meth:`~Trainer.load_data`,
:meth:`~Trainer.prepare`, ``evaluate``/``on_epoch_end``, its own ``metrics.json`` keys
(:meth:`~Trainer.metrics`), its plots (:meth:`~Trainer.draw`) and its result
(:attr:`~Trainer.result_type` with :meth:`~Trainer.outcome`). :meth:`Trainer.train` does the
rest, the same way for every workflow:

1. the output folder (:func:`~hybridqml.runs.run_folder`: created, locked, checked against
   ``resume``/``overwrite`` and the budget, whose estimate is a dry run of this same train);
2. the data, then the entropy stream (configs with ``entropy``), the seed, the objects;
3. the epochs (:func:`~hybridqml.training.run_epochs` with a checkpoint recording
   :func:`~hybridqml.runs.resume_settings`, so a resume with other settings is refused);
4. ``metrics.json`` (the loop's history, then ``workflow``, ``data_source``, the data sizes,
   the workflow's keys, the entropy provenance and the ``config``), the plots, the result (the
   workflow's fields plus those of :class:`RunResult`).

The run's callbacks (``train(config, callbacks=...)``, plus a
:class:`~hybridqml.training.TensorBoardLogger` when the config has ``tensorboard_dir``) see
every step and epoch; their ``on_end`` comes after the plots, with the figures and the
``metrics.json`` extras.

Example:
    >>> from dataclasses import dataclass
    >>> import tempfile, torch
    >>> from hybridqml.data import load_circles
    >>> from hybridqml.runs import RunConfig
    >>> @dataclass(frozen=True, kw_only=True)
    ... class LineResult(RunResult):
    ...     loss: float
    >>> class Line(Trainer):
    ...     name, result_type = "line", LineResult
    ...     def load_data(self):
    ...         return load_circles(n_samples=60, seed=self.config.seed)
    ...     def build(self):
    ...         self.model = torch.nn.Linear(2, 2)
    ...         self.opt = torch.optim.SGD(self.model.parameters(), lr=self.config.lr)
    ...         return {"model": self.model, "optimizer": self.opt}
    ...     def step(self, batch):
    ...         self.opt.zero_grad()
    ...         loss = torch.nn.functional.cross_entropy(self.model(batch[0]), batch[1])
    ...         loss.backward(); self.opt.step()
    ...         return {"loss": loss.item()}
    ...     def outcome(self, fit):
    ...         return {"loss": fit.final["loss"]}
    >>> result = Line.train(RunConfig(out_dir=tempfile.mkdtemp(), epochs=2, progress=False))
    >>> (result.out_dir / "metrics.json").is_file(), [h["epoch"] for h in result.history]
    (True, [1, 2])
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from hybridqml.data import DatasetSplit, load_image_split
from hybridqml.entropy import EntropyStream
from hybridqml.runs import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    Stateful,
    config_to_json,
    estimate_run,
    resume_settings,
    run_folder,
    seed_everything,
    write_metrics,
)
from hybridqml.training import (
    TensorBoardLogger,
    TrainConfig,
    gather_provenance,
    make_loader,
    run_epochs,
)
from hybridqml.training._callbacks import HeldEnd

__all__ = ["RunResult", "Trainer", "load_config_images"]


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What every workflow's result holds (each workflow's result extends it).

    Attributes:
        history: Per-epoch metric records.
        seconds: Wall time of the train call.
        out_dir: Output folder.
        metrics_path: ``metrics.json``.
        checkpoint_path: Last checkpoint.
        plots: PNG files written.
    """

    history: tuple[dict[str, float], ...]
    seconds: float
    out_dir: Path
    metrics_path: Path
    checkpoint_path: Path
    plots: tuple[Path, ...]


def load_config_images(config: Any, **options: Any) -> DatasetSplit:
    """The image split a config asks for (MNIST or digits, capped, fetched if allowed).

    ``limit_per_class`` caps the training images per class and the test images at a fifth of
    it (at least one).

    Args:
        config: An :class:`~hybridqml.runs.ImageRunConfig` (``dataset``, ``data_dir``,
            ``download``, ``limit_per_class``).
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


def _loggers(config: Any, callbacks: Sequence[Any]) -> list[Any]:
    """The run's callbacks: ``callbacks``, then TensorBoard if the config asks for it."""
    found = list(callbacks)
    log_dir = getattr(config, "tensorboard_dir", None)
    if log_dir is not None:
        found.append(TensorBoardLogger(log_dir))
    return found


class Trainer:
    """One run of a workflow; subclasses supply data, objects and step (see the module).

    Args:
        config: The run's config (a :class:`~hybridqml.runs.RunConfig` subclass).
        out: Its output folder (locked by :meth:`train`).

    Attributes:
        data: The loaded split (after :meth:`load_data`).
        stream: The run's entropy stream (configs with ``entropy``), else ``None``.
        provenance: The stream's provenance, every rank's bytes counted (after the epochs).
    """

    name: ClassVar[str]
    """The workflow's name (``metrics.json``'s ``"workflow"``, the progress bar, estimates)."""
    result_type: ClassVar[type[RunResult]] = RunResult
    """The result class (a :class:`RunResult` with the fields of :meth:`outcome`)."""
    resume_mutable: ClassVar[frozenset[str]] = frozenset()
    """Fields of this workflow's config (besides RESUME_MUTABLE_FIELDS) a resume may change."""
    evaluate: Any = None
    """``evaluate(epoch) -> metrics`` after every epoch, if a workflow defines it."""
    on_epoch_end: Any = None
    """``on_epoch_end(epoch, metrics, history) -> more metrics``, if a workflow defines it."""

    def __init__(self, config: Any, out: Path) -> None:
        self.config = config
        self.out = out
        self.data: DatasetSplit | Any = None
        self.stream: EntropyStream | None = None
        self.provenance: dict[str, Any] | None = None
        self.callbacks: list[HeldEnd] = []

    @classmethod
    def train(cls, config: Any, *, callbacks: Sequence[Any] = ()) -> Any:
        """Train the workflow with ``config``; write metrics, plots and checkpoints.

        Args:
            config: The run's config; with ``tensorboard_dir`` a
                :class:`~hybridqml.training.TensorBoardLogger` logs the run there.
            callbacks: More :class:`~hybridqml.training.Callback` s; their ``on_end`` sees the
                plots and the ``metrics.json`` extras (config, entropy provenance).

        Returns:
            An instance of :attr:`result_type`.
        """
        start = time.perf_counter()
        with run_folder(config, estimate=lambda: cls.estimate(config)) as out:
            trainer = cls(config, out)
            trainer.callbacks = [HeldEnd(c) for c in _loggers(config, callbacks)]
            fit = trainer._fit()
            return trainer._finish(fit, start)

    @classmethod
    def estimate(cls, config: Any) -> Any:
        """What a run with ``config`` will send (:func:`~hybridqml.runs.estimate_run`)."""
        return estimate_run(config, cls.train, workflow=cls.name)

    # -- what a workflow supplies -------------------------------------------------------------

    def load_data(self) -> Any:
        """The run's data (default: the images of an image config)."""
        return load_config_images(self.config)

    def prepare(self) -> None:
        """Work on the data before the run is seeded (splits, helper models)."""

    def build(self) -> Mapping[str, Stateful]:
        """Build the checkpointed objects (models, optimizers, ...), named; after seeding."""
        raise NotImplementedError

    def step(self, batch: Any) -> Mapping[str, float]:
        """Train on one batch; return its named metrics."""
        raise NotImplementedError

    def fit(self, train_config: TrainConfig, objects: Mapping[str, Stateful]) -> Any:
        """Run the epochs (default: :func:`~hybridqml.training.run_epochs` over the train set)."""
        config = self.config
        return run_epochs(
            config=train_config,
            loader=make_loader(self.data.train, batch_size=config.batch_size, seed=config.seed),
            step=self.step,
            stateful=objects,
            evaluate=self.evaluate,
            on_epoch_end=self.on_epoch_end,
        )

    def fit_metrics(self, fit: Any) -> dict[str, Any]:
        """``metrics.json`` keys of the fit, written before ``"workflow"`` (default: none)."""
        return {}

    def sizes(self) -> dict[str, int]:
        """The data sizes ``metrics.json`` records."""
        return {"n_train": self.data.info.n_train, "n_test": self.data.info.n_test}

    def metrics(self, fit: Any) -> dict[str, Any]:
        """The workflow's own ``metrics.json`` keys (after the sizes)."""
        return {}

    def draw(self, fit: Any) -> Sequence[Path]:
        """Draw the plots; return their paths."""
        return ()

    def outcome(self, fit: Any) -> dict[str, Any]:
        """The workflow's own result fields."""
        return {}

    # -- the shared loop ----------------------------------------------------------------------

    def _fit(self) -> Any:
        config = self.config
        self.data = self.load_data()
        self.prepare()
        settings = resume_settings(config, self.data, mutable=self.resume_mutable)
        train_config = TrainConfig.for_run(config, self.out, desc=self.name, run_config=settings)
        train_config = dataclasses.replace(train_config, callbacks=tuple(self.callbacks))
        with self._entropy():
            seed_everything(config.seed)
            return self.fit(train_config, self.build())

    @contextlib.contextmanager
    def _entropy(self) -> Iterator[None]:
        settings = getattr(self.config, "entropy", None)
        if settings is None:
            yield
            return
        self.stream = EntropyStream(settings=settings, seed=self.config.seed)
        try:
            yield
        finally:
            provenance = self.stream.provenance()
            self.stream.close()
        self.provenance = gather_provenance(provenance)  # every rank's bytes (data-parallel)

    def _mitigation(self) -> list[dict[str, Any]]:
        """How each mitigated quantum layer of the trainer's modules mitigated (calibration...)."""
        records: list[dict[str, Any]] = []
        seen: set[int] = set()
        for value in vars(self).values():
            for model in value.values() if isinstance(value, Mapping) else (value,):
                if not isinstance(model, torch.nn.Module):
                    continue
                for module in model.modules():
                    record = getattr(getattr(module, "engine", None), "mitigation", None)
                    if record and id(module) not in seen:
                        seen.add(id(module))
                        records.append(record)
        return records

    def _finish(self, fit: Any, start: float) -> Any:
        out, config = self.out, self.config
        extra = {
            **self.fit_metrics(fit),
            "workflow": self.name,
            "data_source": self.data.info.source,
            **self.sizes(),
            **self.metrics(fit),
        }
        if self.provenance is not None:
            extra["entropy"] = self.provenance
        mitigation = self._mitigation()
        if mitigation:
            extra["mitigation"] = mitigation[0] if len(mitigation) == 1 else mitigation
        extra["config"] = config_to_json(config)
        write_metrics(out / METRICS_NAME, history=fit.history, seed=config.seed, extra=extra)
        plots = tuple(self.draw(fit))
        for callback in self.callbacks:
            callback.release(figures=plots, info=extra)
        return self.result_type(
            **self.outcome(fit),
            history=fit.history,
            seconds=time.perf_counter() - start,
            out_dir=out,
            metrics_path=out / METRICS_NAME,
            checkpoint_path=out / CHECKPOINT_NAME,
            plots=plots,
        )
