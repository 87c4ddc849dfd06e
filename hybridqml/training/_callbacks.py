"""Callbacks of the training loop: what a logger (TensorBoard, MLflow, W&B) sees of a run.

:func:`~hybridqml.training.run_epochs` (and every workflow, through
``train_<name>(config, callbacks=...)``) calls each :class:`Callback` of
:attr:`TrainConfig.callbacks <hybridqml.training.TrainConfig.callbacks>`:

* :meth:`Callback.on_step` after every training step, with a :class:`StepEvent` (epoch, step
  in the epoch, ``global_step`` over the whole run, the step's metrics);
* :meth:`Callback.on_epoch` after every epoch (once its checkpoint and ``metrics.json`` are
  written), with an :class:`EpochEvent` (the epoch's record, the history, the checkpointed
  objects: models, optimizers);
* :meth:`Callback.on_end` once when the run ends normally, with an :class:`EndEvent` (history,
  final metrics, objects, the run's settings and, from a workflow, its figures and its
  ``metrics.json`` extras such as the entropy provenance and the config with the backend).

Callbacks run on the writing rank only (rank 0 of a data-parallel run; step metrics are
already the global-batch means there). ``global_step`` counts from the start of the run, also
across a resume (it is computed from the loader's length and the checkpoint's position), so
a logger appending to its earlier session continues the curve. A run that stops with an error
(divergence, budget) calls no ``on_end``.

Example:
    >>> import torch
    >>> from hybridqml.training import TrainConfig, run_epochs
    >>> class Steps(Callback):
    ...     def __init__(self):
    ...         self.seen = []
    ...     def on_step(self, event):
    ...         self.seen.append((event.epoch, event.step, event.global_step))
    >>> steps = Steps()
    >>> model = torch.nn.Linear(1, 1)
    >>> def step(batch):
    ...     return {"loss": model(batch).pow(2).mean().item()}
    >>> config = TrainConfig(epochs=2, progress=False, callbacks=(steps,))
    >>> _ = run_epochs(config=config, loader=[torch.ones(2, 1)] * 3, step=step,
    ...                stateful={"model": model})
    >>> steps.seen
    [(1, 1, 1), (1, 2, 2), (1, 3, 3), (2, 1, 4), (2, 2, 5), (2, 3, 6)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridqml._ranks import is_writer

__all__ = ["Callback", "EndEvent", "EpochEvent", "StepEvent"]


@dataclass(frozen=True, kw_only=True)
class StepEvent:
    """One training step has finished.

    Attributes:
        epoch: The epoch (1-based).
        step: The step in that epoch (1-based).
        global_step: The step in the whole run (1-based, continued across resumes).
        metrics: The step's metrics (what the workflow's ``step`` returned, as floats).
    """

    epoch: int
    step: int
    global_step: int
    metrics: Mapping[str, float]


@dataclass(frozen=True, kw_only=True)
class EpochEvent:
    """One epoch has finished (its checkpoint and ``metrics.json`` are written).

    Attributes:
        epoch: The epoch (1-based).
        global_step: Steps of the run so far.
        metrics: The epoch's record without ``"epoch"`` (step means and evaluation metrics).
        history: Every epoch's record so far, this one last.
        objects: The checkpointed objects by name (models, optimizers, ...).
    """

    epoch: int
    global_step: int
    metrics: Mapping[str, float]
    history: Sequence[Mapping[str, float]]
    objects: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class EndEvent:
    """The run has ended normally.

    Attributes:
        epochs_completed: The last epoch of the run.
        global_step: Steps of the run.
        history: Every epoch's record.
        final: The last record without ``"epoch"``.
        objects: The checkpointed objects by name (models, optimizers, ...).
        run_config: The run's result-determining settings (JSON-like) or ``None``.
        out_dir: The output folder, or ``None``.
        figures: PNG files the run wrote (a workflow's plots; empty from
            :func:`~hybridqml.training.run_epochs` alone).
        info: A workflow's ``metrics.json`` extras (``"workflow"``, ``"config"`` with the
            backend, ``"entropy"`` provenance, sizes, ...); empty from ``run_epochs`` alone.
    """

    epochs_completed: int
    global_step: int
    history: Sequence[Mapping[str, float]]
    final: Mapping[str, float]
    objects: Mapping[str, Any]
    run_config: Mapping[str, Any] | None
    out_dir: Path | None
    figures: tuple[Path, ...] = ()
    info: Mapping[str, Any] = field(default_factory=dict)


class Callback:
    """Base class of training-loop callbacks: override the hooks you need (each does nothing).

    Any object with some of ``on_step``, ``on_epoch`` and ``on_end`` works as a callback; this
    class only supplies the ones left out. An exception raised in a hook stops the run.

    Example:
        An MLflow logger (offline: ``mlflow.set_tracking_uri("file:./mlruns")``)::

            class MLflowLogger(Callback):
                def on_step(self, event):
                    mlflow.log_metrics(event.metrics, step=event.global_step)
                def on_epoch(self, event):
                    mlflow.log_metrics({f"epoch/{k}": v for k, v in event.metrics.items()},
                                       step=event.epoch)
                def on_end(self, event):
                    for png in event.figures:
                        mlflow.log_artifact(str(png))
    """

    def on_step(self, event: StepEvent) -> None:
        """After every training step."""

    def on_epoch(self, event: EpochEvent) -> None:
        """After every epoch."""

    def on_end(self, event: EndEvent) -> None:
        """Once, when the run ends normally."""


class CallbackRunner:
    """Calls the run's callbacks (on the writing rank) and counts the global step.

    Args:
        callbacks: The callbacks, called in order.
        objects: The run's checkpointed objects.
        run_config: The run's settings (``TrainConfig.run_config``).
        out_dir: The run's output folder.
        active: Call the callbacks (``False`` on ranks other than rank 0).
    """

    def __init__(
        self,
        callbacks: Sequence[Any],
        *,
        objects: Mapping[str, Any],
        run_config: Mapping[str, Any] | None,
        out_dir: Path | None,
        active: bool = True,
    ) -> None:
        self.callbacks = tuple(callbacks) if active else ()
        self.objects = objects
        self.run_config = run_config
        self.out_dir = out_dir
        self.global_step = 0

    @classmethod
    def for_run(
        cls,
        config: Any,
        objects: Mapping[str, Any],
        loader: Iterable[Any],
        resumed_from: int | None,
        partial: Any,
    ) -> CallbackRunner:
        """The runner of a :class:`~hybridqml.training.TrainConfig` run.

        The run starts after epoch ``resumed_from`` (``partial``: the epoch in progress of a
        mid-epoch checkpoint); the global step starts after the steps done before.
        """
        runner = cls(
            config.callbacks,
            objects=objects,
            run_config=config.run_config,
            out_dir=None if config.out_dir is None else Path(config.out_dir),
            active=is_writer(),
        )
        per_epoch = len(loader) if isinstance(loader, Sized) else 0
        if resumed_from is not None:  # the steps before the first new one
            done = resumed_from * per_epoch
            runner.global_step = done + (partial.step if partial is not None else 0)
        return runner

    def step(self, progress: Any, metrics: Mapping[str, float]) -> None:
        """After a step (``progress``: the epoch's :class:`EpochProgress`)."""
        self.global_step += 1
        if not self.callbacks:
            return
        event = StepEvent(
            epoch=progress.epoch,
            step=progress.step,
            global_step=self.global_step,
            metrics=dict(metrics),
        )
        self._call("on_step", event)

    def epoch(self, history: Sequence[Mapping[str, float]]) -> None:
        """After an epoch (``history[-1]`` is its record)."""
        if not self.callbacks:
            return
        record = history[-1]
        event = EpochEvent(
            epoch=int(record["epoch"]),
            global_step=self.global_step,
            metrics={k: v for k, v in record.items() if k != "epoch"},
            history=tuple(history),
            objects=self.objects,
        )
        self._call("on_epoch", event)

    def end(self, history: Sequence[Mapping[str, float]]) -> None:
        """When the run has ended normally."""
        if not self.callbacks:
            return
        event = EndEvent(
            epochs_completed=int(history[-1]["epoch"]) if history else 0,
            global_step=self.global_step,
            history=tuple(history),
            final={k: v for k, v in history[-1].items() if k != "epoch"} if history else {},
            objects=self.objects,
            run_config=self.run_config,
            out_dir=self.out_dir,
        )
        self._call("on_end", event)

    def _call(self, hook: str, event: Any) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(event)


class HeldEnd(Callback):
    """Forwards steps and epochs to ``callback`` but keeps its ``on_end`` for later.

    A workflow draws its figures after the loop has ended; it calls :meth:`release` with them
    (and its ``metrics.json`` extras) so the callback's ``on_end`` sees the whole run.
    """

    def __init__(self, callback: Any) -> None:
        self.callback = callback
        self.held: EndEvent | None = None

    def on_step(self, event: StepEvent) -> None:
        """Forwarded."""
        method = getattr(self.callback, "on_step", None)
        if method is not None:
            method(event)

    def on_epoch(self, event: EpochEvent) -> None:
        """Forwarded."""
        method = getattr(self.callback, "on_epoch", None)
        if method is not None:
            method(event)

    def on_end(self, event: EndEvent) -> None:
        """Held until :meth:`release`."""
        self.held = event

    def release(self, *, figures: Sequence[Path], info: Mapping[str, Any]) -> None:
        """Call the callback's ``on_end`` with the held event plus ``figures`` and ``info``."""
        method = getattr(self.callback, "on_end", None)
        if self.held is not None and method is not None:
            method(dataclasses.replace(self.held, figures=tuple(figures), info=dict(info)))
