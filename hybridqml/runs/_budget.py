"""Shot and QPU-time budgets: stop a run cleanly before it spends more than it may.

:class:`RunBudget` counts what the run's executors send (through a
:class:`~hybridqml.execution.Tracker`: executed shots, and QPU seconds as reported by the
backend or estimated from the device's gate durations), adds what earlier sessions of the same
run spent (the completed calls in ``OUT/jobs.jsonl``), and before each training step predicts
the step's cost from the last one. When the next step would cross ``max_shots`` or
``max_qpu_seconds`` the run writes its checkpoint and stops with a
:class:`~hybridqml.exceptions.BudgetExceededError`; resume it with a larger budget.

On the ranks of a data-parallel run the budget is the run's, not each rank's: before each step
the ranks sum what they spent in this session and what their last step cost
(:meth:`RunBudget.check` with ``reduce``: a status check and one ``all_reduce``), so every
rank sees the same totals and all stop at the same step. Earlier sessions count once: the
shared job log holds every rank's calls.

Refusing to *start* a run whose estimate is over budget is
:func:`~hybridqml.runs.check_start_budget`'s job (``hybridqml train ... --max-shots``).

Example:
    >>> budget = RunBudget(max_shots=1000, spent_shots=900)
    >>> budget.remaining()
    {'shots': 100}
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hybridqml.exceptions import BudgetExceededError
from hybridqml.execution._tracking import Tracker
from hybridqml.hardware._joblog import JOBS_NAME, job_totals, read_job_log
from hybridqml.runs._config import check_budget

__all__ = ["RunBudget"]

_FLAGS = {"shots": "--max-shots (max_shots)", "qpu_seconds": "--max-qpu-seconds (max_qpu_seconds)"}


class RunBudget:
    """The shots and QPU seconds a run may spend, checked before each step.

    Args:
        max_shots: Most executed shots (circuits x bindings x shots over every call).
        max_qpu_seconds: Most QPU seconds.
        spent_shots: Spent by earlier sessions of the run.
        spent_seconds: QPU seconds spent by earlier sessions of the run.
        reduce: Sums a list of numbers over the ranks of a data-parallel run
            (:meth:`hybridqml.training.DataParallel.sum_over_ranks`); ``None``
            on one process.
    """

    def __init__(
        self,
        *,
        max_shots: int | None = None,
        max_qpu_seconds: float | None = None,
        spent_shots: int = 0,
        spent_seconds: float = 0.0,
        reduce: Callable[[list[float]], list[float]] | None = None,
    ) -> None:
        self.limits = {
            "shots": check_budget(max_shots, "max_shots"),
            "qpu_seconds": check_budget(max_qpu_seconds, "max_qpu_seconds"),
        }
        self.before = {"shots": spent_shots, "qpu_seconds": spent_seconds}
        self.tracker = Tracker()
        self._step_start: dict[str, float] | None = None
        self.last_step = {"shots": 0.0, "qpu_seconds": 0.0}
        self.reduce = reduce

    @classmethod
    def for_run(
        cls, out_dir: str | os.PathLike[str] | None, max_shots: Any, max_qpu_seconds: Any
    ) -> RunBudget | None:
        """The budget of a run in ``out_dir`` (spending of its job log counted), or ``None``."""
        if max_shots is None and max_qpu_seconds is None:
            return None
        totals = job_totals(read_job_log(Path(out_dir) / JOBS_NAME)) if out_dir else {}
        return cls(
            max_shots=max_shots,
            max_qpu_seconds=max_qpu_seconds,
            spent_shots=int(totals.get("executed_shots", 0)),
            spent_seconds=float(totals.get("qpu_seconds", 0.0)),
        )

    def __enter__(self) -> RunBudget:
        self.tracker.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.tracker.__exit__(*exc_info)

    def spent(self) -> dict[str, float]:
        """Spent so far, earlier sessions included (this rank's share of this session)."""
        return {
            "shots": self.before["shots"] + self.tracker.executed_shots,
            "qpu_seconds": self.before["qpu_seconds"] + self.tracker.qpu_seconds,
        }

    def remaining(self) -> dict[str, float]:
        """What is left of each budget that is set."""
        spent = self.spent()
        return {k: limit - spent[k] for k, limit in self.limits.items() if limit is not None}

    def step_started(self) -> None:
        """Mark the start of a step (its cost predicts the next one's)."""
        self._step_start = self.spent()

    def step_finished(self) -> None:
        """Record the cost of the step that just ended."""
        if self._step_start is not None:
            now = self.spent()
            self.last_step = {k: now[k] - self._step_start[k] for k in now}
            self._step_start = None

    def check(self, progress: Any, save: Callable[[Any], Path | None]) -> None:
        """Raise (after ``save(progress)``) if the next step would exceed a budget.

        Raises:
            BudgetExceededError: naming the budget, what was spent, the checkpoint and the fix.
        """
        spent, last_step = self._run_totals()
        for kind, limit in self.limits.items():
            if limit is None:
                continue
            if spent[kind] + last_step[kind] <= limit and spent[kind] < limit:
                continue
            path = save(progress)
            unit = "executed shots" if kind == "shots" else "QPU seconds"
            where = f"a checkpoint in {str(path)!r}" if path else "no checkpoint (no output folder)"
            raise BudgetExceededError(
                f"{unit} budget reached: {spent[kind]:,.6g} of {_FLAGS[kind]} = {limit:,.6g} "
                f"spent, and the next step needs about {last_step[kind]:,.6g} more. "
                f"Stopped before step {progress.step + 1} of epoch {progress.epoch} with {where}; "
                f"resume with --resume (resume=True) and a larger {_FLAGS[kind]}",
                kind=kind,
                spent=spent[kind],
                limit=limit,
                checkpoint=path,
            )

    def _run_totals(self) -> tuple[dict[str, float], dict[str, float]]:
        """The run's spending and last-step cost: summed over the ranks when there are several."""
        spent, last = self.spent(), self.last_step
        if self.reduce is None:
            return spent, dict(last)
        kinds = ("shots", "qpu_seconds")
        local = [self.tracker.executed_shots, self.tracker.qpu_seconds]
        total = self.reduce([*map(float, local), *(float(last[k]) for k in kinds)])
        spent = {k: self.before[k] + total[i] for i, k in enumerate(kinds)}
        return spent, {k: total[2 + i] for i, k in enumerate(kinds)}
