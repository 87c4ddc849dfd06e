"""Steps inside an epoch: mid-epoch checkpoints, exact mid-epoch resume and budget stops.

With ``checkpoint_every=N`` (CLI ``--checkpoint-every N``) :func:`~hybridqml.training.run_epochs`
also writes its checkpoint after every ``N``-th step of an epoch, so a crash, a kill or a failed
hardware job loses at most ``N`` steps. Such a checkpoint holds, besides what an epoch-end
checkpoint holds (objects, RNG states, history), an :class:`EpochProgress`: the epoch in
progress, the steps done in it and the running sums of its step metrics.

Resuming from it is exact: the epoch's data order comes from the loader's generator reseeded
with ``(seed, epoch)``, so skipping the ``k`` batches already trained gives the same remaining
batches; the RNG states saved after step ``k`` are restored right before step ``k + 1`` (after
the skipped batches were read, so reading them cannot shift any random number); the epoch's
metrics are averaged over all its steps as if it had never stopped. On seeded backends the
final weights equal those of an uninterrupted run.

Before each step a :class:`~hybridqml.runs.RunBudget` (``max_shots``,
``max_qpu_seconds``) may stop the run: the checkpoint of the steps done so far is written first.

Example:
    >>> state = EpochProgress(epoch=2, step=3, sums={"loss": 1.5}, counts={"loss": 3})
    >>> EpochProgress.from_state(state.to_state()) == state, state.means()
    (True, {'loss': 0.5})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import torch
from tqdm import tqdm

from hybridqml.exceptions import DivergenceError, InputError
from hybridqml.runs import (
    RunBudget,
    capture_rng_state,
    restore_rng_state,
)

__all__ = [
    "PROGRESS_KEY",
    "EpochProgress",
    "StepHooks",
    "as_metric",
    "resume_point",
    "run_epoch",
]

PROGRESS_KEY: Final[str] = "progress"
"""Key of the :class:`EpochProgress` in a mid-epoch checkpoint's ``extra`` values."""

StepFn = Callable[[Any], Mapping[str, float]]


@dataclass
class EpochProgress:
    """How far an epoch got: steps done and the running sums of their metrics.

    Attributes:
        epoch: The epoch in progress (1-based).
        step: Steps (batches) done in it.
        sums: Sum of each step metric over those steps.
        counts: Number of values summed per metric.
    """

    epoch: int
    step: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, values: Mapping[str, float]) -> None:
        """Count one more step with these metric values."""
        self.step += 1
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
            self.counts[name] = self.counts.get(name, 0) + 1

    def means(self) -> dict[str, float]:
        """The epoch's step metrics so far, averaged over the steps."""
        return {name: self.sums[name] / self.counts[name] for name in self.sums}

    def to_state(self) -> dict[str, Any]:
        """Plain values for a checkpoint (``weights_only``-loadable)."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "sums": dict(self.sums),
            "counts": dict(self.counts),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> EpochProgress:
        """Rebuild from :meth:`to_state`."""
        return cls(
            epoch=int(state["epoch"]),
            step=int(state["step"]),
            sums={str(k): float(v) for k, v in state["sums"].items()},
            counts={str(k): int(v) for k, v in state["counts"].items()},
        )


def resume_point(extra: Mapping[str, Any]) -> EpochProgress | None:
    """The epoch in progress stored in a checkpoint's ``extra`` (``None``: an epoch-end one)."""
    state = extra.get(PROGRESS_KEY)
    return None if state is None else EpochProgress.from_state(state)


class StepHooks:
    """What the loop does around each step: budget checks before, checkpoints after.

    Args:
        every: Checkpoint after every ``every``-th step of an epoch (``None``: never mid-epoch).
        save: Writes the checkpoint of an :class:`EpochProgress`; returns its path (or ``None``
            when the run writes no checkpoint).
        budget: Stops the run before a step that would exceed it (``None``: no budget).
        on_step: Called after every step with the :class:`EpochProgress` and the step's
            metrics (the loop's callbacks, see ``_callbacks``).
    """

    def __init__(
        self,
        *,
        every: int | None,
        save: Callable[[EpochProgress], Path | None],
        budget: Any = None,
        on_step: Callable[[EpochProgress, Mapping[str, float]], None] | None = None,
    ) -> None:
        self.every = every
        self.save = save
        self.budget = budget
        self.on_step = on_step

    @classmethod
    def for_run(
        cls,
        config: Any,
        checkpointer: Any,
        history: list[dict[str, float]],
        on_step: Callable[[EpochProgress, Mapping[str, float]], None] | None = None,
    ) -> StepHooks:
        """The hooks of a :class:`~hybridqml.training.TrainConfig` run (``history``: live list)."""

        def save(progress: EpochProgress) -> Path | None:
            if checkpointer is None:
                return None
            return checkpointer.save(
                epoch=progress.epoch - 1,
                history=history,
                seed=config.seed,
                config=config.run_config,
                extra={PROGRESS_KEY: progress.to_state()},
            )

        budget = RunBudget.for_run(config.out_dir, config.max_shots, config.max_qpu_seconds)
        return cls(every=config.checkpoint_every, save=save, budget=budget, on_step=on_step)

    def before(self, progress: EpochProgress) -> None:
        """Stop (checkpoint first) if the next step would exceed the budget."""
        if self.budget is not None:
            self.budget.check(progress, self.save)
            self.budget.step_started()

    def after(
        self, progress: EpochProgress, *, last: bool, values: Mapping[str, float] | None = None
    ) -> None:
        """Checkpoint after every ``every``-th step, then report the step to ``on_step``.

        The epoch's end writes its own checkpoint; ``values`` are the step's metrics.
        """
        if self.budget is not None:
            self.budget.step_finished()
        if self.every is not None and progress.step % self.every == 0 and not last:
            self.save(progress)
        if self.on_step is not None:
            self.on_step(progress, values or {})


def as_metric(name: str, value: Any) -> float:
    """``value`` (a number or a one-element tensor) as a float metric named ``name``."""
    try:
        return float(value.item() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"metric {name!r} is not a number: {value!r}") from exc


def run_epoch(
    loader: Iterable[Any],
    step: StepFn,
    *,
    desc: str,
    progress: bool,
    state: EpochProgress,
    hooks: StepHooks | None = None,
) -> dict[str, float]:
    """Run the steps of one epoch from ``state.step`` on; return its averaged step metrics.

    Args:
        loader: The epoch's batches (already reseeded for the epoch).
        step: Trains on one batch, returns named floats.
        desc: Progress-bar label.
        progress: Show a progress bar.
        state: Where the epoch stands (``step=0`` for a fresh epoch; more when resuming from a
            mid-epoch checkpoint: that many batches are skipped).
        hooks: Budget checks and mid-epoch checkpoints.

    Raises:
        DivergenceError: a step metric is NaN or infinite (``metrics`` names it).
        BudgetExceededError: the budget stopped the run (a checkpoint was written).
    """
    total = len(loader) if isinstance(loader, Sized) else None
    skip = state.step
    rng = capture_rng_state() if skip else None
    with tqdm(total=total, initial=skip, desc=desc, leave=False, disable=not progress) as bar:
        for index, batch in enumerate(loader, start=1):
            if index <= skip:
                continue
            if rng is not None:  # the batches were skipped: continue from the saved RNG states
                restore_rng_state(rng)
                rng = None
            if hooks is not None:
                hooks.before(state)
            values = {name: as_metric(name, value) for name, value in step(batch).items()}
            bad = tuple(name for name, value in values.items() if not math.isfinite(value))
            if bad:
                raise DivergenceError(f"{', '.join(bad)} at batch {index}", metrics=bad)
            state.add(values)
            if hooks is not None:
                hooks.after(state, last=index == total, values=values)
            bar.update(1)
            if progress:
                bar.set_postfix({k: f"{v:.4g}" for k, v in state.means().items()}, refresh=False)
    if rng is not None:  # every batch was done before the checkpoint
        restore_rng_state(rng)
    return state.means()
