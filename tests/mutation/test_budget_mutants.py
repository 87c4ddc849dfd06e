"""RunBudget's arithmetic and its stop, against budgets worked out by hand."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

from hybridqml.exceptions import BudgetExceededError, ConfigurationError
from hybridqml.hardware._joblog import JOBS_NAME
from hybridqml.runs._budget import RunBudget


def progress(epoch=2, step=3):
    return types.SimpleNamespace(epoch=epoch, step=step)


def spend(budget, shots=0, seconds=0.0):
    budget.tracker.executed_shots += shots
    budget.tracker.qpu_seconds += seconds


class Saver:
    def __init__(self, path):
        self.path, self.calls = path, []

    def __call__(self, prog):
        self.calls.append(prog)
        return self.path


def test_spent_and_remaining_add_earlier_sessions():
    budget = RunBudget(max_shots=1000, max_qpu_seconds=10.0, spent_shots=300, spent_seconds=2.5)
    spend(budget, 200, 1.25)
    assert budget.spent() == {"shots": 500, "qpu_seconds": 3.75}
    assert budget.remaining() == {"shots": 500, "qpu_seconds": 6.25}
    only_seconds = RunBudget(max_qpu_seconds=4.0)
    assert only_seconds.remaining() == {"qpu_seconds": 4.0}
    assert only_seconds.limits == {"shots": None, "qpu_seconds": 4.0}


def test_a_new_budget_has_spent_nothing():
    assert RunBudget(max_shots=10).spent() == {"shots": 0, "qpu_seconds": 0.0}


def test_bad_limits_are_refused():
    with pytest.raises(ConfigurationError, match=r"^max_shots"):
        RunBudget(max_shots=-1)
    with pytest.raises(ConfigurationError, match=r"^max_qpu_seconds"):
        RunBudget(max_qpu_seconds=float("nan"))


def test_a_step_costs_what_was_spent_between_its_start_and_end():
    budget = RunBudget(max_shots=10_000, spent_shots=5000)
    spend(budget, 100)
    budget.step_finished()  # no step started: nothing recorded
    assert budget.last_step == {"shots": 0.0, "qpu_seconds": 0.0}
    budget.step_started()
    spend(budget, 250, 0.5)
    budget.step_finished()
    assert budget.last_step == {"shots": 250, "qpu_seconds": 0.5}
    spend(budget, 40)
    budget.step_finished()  # the step was already closed
    assert budget.last_step == {"shots": 250, "qpu_seconds": 0.5}


@pytest.mark.parametrize(
    ("spent", "last", "stops"),
    [
        (900, 100, False),  # lands exactly on the budget
        (900, 101, True),  # one shot over
        (1000, 0, True),  # budget used up
        (999, 0, False),
        (0, 0, False),
    ],
)
def test_the_run_stops_before_a_step_that_would_cross_the_shot_budget(tmp_path, spent, last, stops):
    budget = RunBudget(max_shots=1000, spent_shots=spent)
    budget.last_step["shots"] = last
    save = Saver(tmp_path / "ck.pt")
    if not stops:
        budget.check(progress(), save)
        assert save.calls == []
        return
    prog = progress(2, 3)
    with pytest.raises(BudgetExceededError) as info:
        budget.check(prog, save)
    assert save.calls == [prog]  # the checkpoint of where the run stopped
    err = info.value
    assert (err.kind, err.spent, err.limit, err.checkpoint) == (
        "shots",
        spent,
        1000,
        tmp_path / "ck.pt",
    )
    assert str(err) == (
        f"executed shots budget reached: {spent:,} of --max-shots (max_shots) = 1,000 spent, and "
        f"the next step needs about {last} more. Stopped before step 4 of epoch 2 with a "
        f"checkpoint in {str(tmp_path / 'ck.pt')!r}; resume with --resume (resume=True) and a "
        "larger --max-shots (max_shots)"
    )


def test_the_qpu_seconds_budget_and_a_run_without_output_folder():
    budget = RunBudget(max_shots=10**6, max_qpu_seconds=2.0, spent_seconds=1.5)
    budget.last_step["qpu_seconds"] = 0.75
    with pytest.raises(BudgetExceededError) as info:
        budget.check(progress(1, 0), lambda p: None)
    err = info.value
    assert err.kind == "qpu_seconds" and err.checkpoint is None
    assert str(err).startswith(
        "QPU seconds budget reached: 1.5 of --max-qpu-seconds (max_qpu_seconds) = 2 spent, and "
        "the next step needs about 0.75 more. Stopped before step 1 of epoch 1 with no checkpoint "
        "(no output folder)"
    )


def test_a_seconds_budget_alone_is_checked():
    budget = RunBudget(max_qpu_seconds=1.0, spent_seconds=1.0)
    assert budget.limits["shots"] is None
    with pytest.raises(BudgetExceededError) as info:
        budget.check(progress(), lambda p: None)
    assert info.value.kind == "qpu_seconds"


def test_the_ranks_budget_is_the_sum_over_ranks():
    sent = []

    def reduce(values):
        sent.append(list(values))
        # the other rank spent 300 shots / 0.5 s this session, its last step 60 shots / 0.25 s
        return [values[0] + 300, values[1] + 0.5, values[2] + 60, values[3] + 0.25]

    budget = RunBudget(max_shots=1000, spent_shots=400, spent_seconds=1.0, reduce=reduce)
    spend(budget, 200, 0.25)
    budget.last_step = {"shots": 30, "qpu_seconds": 0.125}
    assert budget._run_totals() == (
        {"shots": 400 + 200 + 300, "qpu_seconds": 1.0 + 0.25 + 0.5},
        {"shots": 90, "qpu_seconds": 0.375},
    )
    assert sent == [[200.0, 0.25, 30.0, 0.125]]
    with pytest.raises(BudgetExceededError) as info:  # 900 + 90 would fit alone; 900 + 2 * 90 not
        budget.last_step = {"shots": 60, "qpu_seconds": 0.0}
        budget.check(progress(), lambda p: None)
    assert info.value.spent == 900


def test_one_process_totals_are_its_own():
    budget = RunBudget(max_shots=50, spent_shots=5)
    spend(budget, 7, 0.5)
    budget.last_step = {"shots": 3, "qpu_seconds": 0.0}
    spent, last = budget._run_totals()
    assert spent == {"shots": 12, "qpu_seconds": 0.5} and last == {"shots": 3, "qpu_seconds": 0.0}
    last["shots"] = 99
    assert budget.last_step["shots"] == 3  # a copy


def test_for_run_counts_the_job_log_of_earlier_sessions(tmp_path: Path):
    assert RunBudget.for_run(tmp_path, None, None) is None
    records = [
        {"event": "call", "status": "done", "executed_shots": 120, "qpu_seconds": 0.5},
        {"event": "call", "status": "done", "executed_shots": 80, "qpu_seconds": 0.25},
        {"event": "call", "status": "failed", "executed_shots": 0, "qpu_seconds": 0.0},
    ]
    (tmp_path / JOBS_NAME).write_text("".join(json.dumps(r) + "\n" for r in records))
    budget = RunBudget.for_run(tmp_path, 1000, None)
    assert budget.before == {"shots": 200, "qpu_seconds": 0.75}
    assert budget.limits == {"shots": 1000, "qpu_seconds": None}
    fresh = RunBudget.for_run(None, None, 5.0)
    assert fresh.before == {"shots": 0, "qpu_seconds": 0.0}
    assert fresh.limits == {"shots": None, "qpu_seconds": 5.0}


def test_the_budget_tracks_calls_made_inside_it():
    import torch

    import hybridqml as hq

    layer = hq.QuantumLayer(hq.circuits.ry(1), shots=10, seed=1)
    with RunBudget(max_shots=1000, spent_shots=5) as budget:
        layer(torch.zeros(3, 1))
    layer(torch.zeros(2, 1))  # outside: not counted
    assert budget.spent()["shots"] == 5 + 3 * 10
