"""estimate_run and the start budget on toy train functions whose calls are written out.

Each toy ``train`` records the calls a real workflow's executors would (``tracking.record``) and
the marks the training loop sets, so every total is a sum done by hand.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hybridqml.exceptions import BudgetExceededError, ConfigurationError
from hybridqml.execution import _tracking as tracking
from hybridqml.hardware._qpu_time import ASSUMPTIONS
from hybridqml.runs._estimates import CallCounts, CostEstimate, check_start_budget, estimate_run


@dataclasses.dataclass
class RunConfig:
    """The fields of a workflow config that estimates read (written out: no workflow needed)."""

    out_dir: Path | str
    epochs: int
    backend: str = "aer"
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    max_shots: int | None = None
    max_qpu_seconds: float | None = None
    checkpoint_every: int | None = None


def toy_train(seen):
    """Before: 1 forward call (4 bindings x 100 shots, 2 circuits, 0.5 s).

    Every epoch: 3 forward calls (8 bindings x 100 shots) and 1 parameter-shift call of 2
    circuits (16 bindings x 100 shots, 0.25 s). After: 1 forward call (10 bindings x 50 shots).
    """

    def train(config):
        seen.append(config)
        assert tracking.is_dry_run()
        with tracking.pass_kind("forward"):
            tracking.record("aer", 4, 100, circuits=2, qpu_seconds=0.5)
        for epoch in range(1, config.epochs + 1):
            tracking.mark(f"epoch {epoch}")
            with tracking.pass_kind("forward"):
                for _ in range(3):
                    tracking.record("aer", 8, 100)
            with tracking.pass_kind("parameter-shift"):
                tracking.record("aer", 16, 100, circuits=2, qpu_seconds=0.25)
        tracking.mark("end")
        with tracking.pass_kind("forward"):
            tracking.record("aer", 10, 50)

    return train


def test_the_totals_are_before_plus_epochs_times_one_epoch_plus_after(tmp_path):
    seen = []
    config = RunConfig(out_dir=tmp_path / "real", epochs=5, max_shots=10**9, resume=True)
    est = estimate_run(config, toy_train(seen), workflow="toy")
    assert est.before == CallCounts(1, 2, 4, 400, 800, 0.5)
    assert est.per_epoch == CallCounts(4, 5, 40, 4000, 5600, 0.25)
    assert est.after == CallCounts(1, 1, 10, 500, 500, 0.0)
    assert est.total == CallCounts(
        1 + 20 + 1, 2 + 25 + 1, 4 + 200 + 10, 400 + 20000 + 500, 800 + 28000 + 500, 0.5 + 1.25
    )
    assert est.per_epoch_by_kind == {
        "forward": CallCounts(3, 3, 24, 2400, 2400, 0.0),
        "parameter-shift": CallCounts(1, 2, 16, 1600, 3200, 0.25),
    }
    assert est.total_by_kind == {
        "forward": CallCounts(
            1 + 15 + 1, 2 + 15 + 1, 4 + 120 + 10, 400 + 12000 + 500, 800 + 12000 + 500, 0.5
        ),
        "parameter-shift": CallCounts(5, 10, 80, 8000, 16000, 1.25),
    }
    assert (est.workflow, est.backend, est.epochs, est.assumptions) == (
        "toy",
        "aer",
        5,
        ASSUMPTIONS,
    )
    # the probe: two epochs, in a temporary folder, no resume, budget or checkpoints
    (probe,) = seen
    assert probe.epochs == 2 and probe.resume is False and probe.max_shots is None
    assert probe.out_dir != config.out_dir and probe.out_dir.name == "run"
    assert not probe.out_dir.parent.exists()  # removed after the dry run
    assert not (tmp_path / "real").exists()


def test_a_one_epoch_run_is_probed_with_one_epoch(tmp_path):
    seen = []
    est = estimate_run(RunConfig(out_dir=tmp_path, epochs=1), toy_train(seen), workflow="toy")
    assert seen[0].epochs == 1
    assert est.total == est.before + est.per_epoch + est.after
    assert est.total.calls == 1 + 4 + 1


def test_a_train_function_without_marks_counts_everything_before_the_epochs(tmp_path):
    def train(config):
        tracking.record("aer", 3, 10)

    est = estimate_run(RunConfig(out_dir=tmp_path, epochs=4), train, workflow="w")
    assert est.before == CallCounts(1, 1, 3, 30, 30, 0.0)
    assert est.per_epoch == CallCounts() and est.after == CallCounts()
    assert est.total == est.before
    assert est.per_epoch_by_kind == {}


def test_probe_settings_only_touch_fields_the_config_has(tmp_path):
    @dataclasses.dataclass
    class Mini:
        out_dir: Path
        epochs: int
        progress: bool = True

    seen = []
    estimate_run(Mini(tmp_path, 7), lambda c: seen.append(c), workflow="m")
    assert seen[0].epochs == 2 and seen[0].progress is False
    full = RunConfig(out_dir=tmp_path, epochs=3, overwrite=True, checkpoint_every=1)
    estimate_run(full, lambda c: seen.append(c), workflow="m")
    probe = seen[1]
    assert probe.overwrite is False and probe.checkpoint_every is None
    assert probe.max_qpu_seconds is None and probe.progress is False


def test_call_counts_arithmetic():
    a, b = CallCounts(1, 2, 3, 4, 5, 0.5), CallCounts(10, 20, 30, 40, 50, 1.5)
    assert a + b == CallCounts(11, 22, 33, 44, 55, 2.0)
    assert b - a == CallCounts(9, 18, 27, 36, 45, 1.0)
    assert a.times(3) == CallCounts(3, 6, 9, 12, 15, 1.5)
    c = CallCounts.of({"calls": 2.0, "qpu_seconds": 1, "shots": "7"})
    assert c == CallCounts(2, 0, 0, 7, 0, 1.0)
    assert type(c.calls) is int and type(c.qpu_seconds) is float


def estimate(total, epochs=3):
    zero = CallCounts()
    return CostEstimate("toy", "fake_manila", epochs, zero, zero, zero, total, {}, {})


def test_the_table_lists_kinds_and_totals():
    per = CallCounts(2, 4, 40, 4000, 8000, 1.25)
    before = CallCounts(1, 1, 1000, 100000, 100000, 0.0)
    est = CostEstimate(
        "textbook",
        "fake_manila",
        3,
        before,
        per,
        CallCounts(),
        before + per.times(3),
        {
            "spsa": CallCounts(1, 2, 2, 200, 400, 0.5),
            "forward": CallCounts(1, 2, 38, 3800, 7600, 0.75),
        },
        {"forward": CallCounts(3, 6, 114, 11400, 22800, 2.25)},
    )
    text = est.format().splitlines()
    assert text[0] == "dry run of 'textbook' on backend 'fake_manila', 3 epochs (nothing was sent)"
    assert (
        text[1] == f"{'':30}{'calls':>8}{'circuits':>12}{'bindings':>14}{'shots':>16}{'QPU s':>12}"
    )
    assert text[2] == f"{'per epoch: forward':30}{1:>8}{2:>12}{38:>14}{'7,600':>16}{'0.8':>12}"
    assert text[3].startswith("per epoch: spsa ")
    assert text[4] == f"{'per epoch':30}{2:>8}{4:>12}{40:>14}{'8,000':>16}{'1.2':>12}"
    assert (
        text[5] == f"{'before/after epochs':30}{1:>8}{1:>12}{'1,000':>14}{'100,000':>16}{'0.0':>12}"
    )
    assert text[6].startswith("total: forward ")
    assert text[7] == f"{'total':30}{7:>8}{13:>12}{'1,120':>14}{'124,000':>16}{'3.8':>12}"
    assert text[8] == "shots = executed shots (circuits x bindings x shots per binding)"
    assert text[9] == f"assumptions: {ASSUMPTIONS}"
    assert len(text) == 10
    assert est.to_json()["total"]["executed_shots"] == 124000
    assert "before/after epochs" not in estimate(CallCounts(1)).format()


def test_a_run_over_its_shot_budget_is_refused_with_the_numbers():
    config = RunConfig(out_dir=".", epochs=3, max_shots=1000)
    calls = []

    def make():
        calls.append(1)
        return estimate(CallCounts(calls=12, executed_shots=1200))

    with pytest.raises(BudgetExceededError) as info:
        check_start_budget(config, make)
    err = info.value
    assert (err.kind, err.spent, err.limit, err.checkpoint) == ("shots", 1200, 1000, None)
    assert str(err) == (
        "refusing to start: the run needs 1,200 executed shots in 12 calls over 3 epochs, more "
        "than --max-shots 1,000. Raise --max-shots, or use fewer epochs, shots or data (see the "
        "plan with --dry-run)"
    )
    plan = check_start_budget(RunConfig(out_dir=".", epochs=3, max_shots=1200), make)
    assert plan.total.executed_shots == 1200  # exactly the budget: allowed


def test_a_run_over_its_qpu_budget_is_refused():
    config = RunConfig(out_dir=".", epochs=2, max_qpu_seconds=1.5)
    with pytest.raises(BudgetExceededError) as info:
        check_start_budget(config, lambda: estimate(CallCounts(calls=1, qpu_seconds=2.25), 2))
    assert info.value.kind == "qpu_seconds"
    assert "needs 2.25 QPU seconds (estimated) in 1 calls over 2 epochs, more than " in str(
        info.value
    )
    assert "--max-qpu-seconds 1.5. Raise --max-qpu-seconds" in str(info.value)


def test_no_budget_no_estimate_and_a_budget_needs_one():
    assert (
        check_start_budget(RunConfig(out_dir=".", epochs=2), lambda: pytest.fail("estimated"))
        is None
    )
    assert check_start_budget(object(), None) is None
    with pytest.raises(ConfigurationError, match="max_shots/max_qpu_seconds need an estimate"):
        check_start_budget(RunConfig(out_dir=".", epochs=2, max_qpu_seconds=1.0), None)
    with tracking.dry_run():
        assert check_start_budget(RunConfig(out_dir=".", epochs=2, max_shots=1), None) is None


# --- survivors of the mutation run (issue 24)


def test_the_before_after_row_adds_both_parts():
    zero = CallCounts()
    before = CallCounts(1, 2, 4, 400, 800, 0.5)
    after = CallCounts(3, 3, 30, 1500, 1500, 0.25)
    est = CostEstimate("toy", "aer", 1, before, zero, after, before + after, {}, {})
    rows = est.format().splitlines()
    assert rows[3] == f"{'before/after epochs':30}{4:>8}{5:>12}{34:>14}{'2,300':>16}{'0.8':>12}"


def test_the_table_names_the_mitigation_cost():
    zero = CallCounts()
    est = CostEstimate(
        "qnn", "fake_manila", 2, zero, zero, zero, zero, {}, {}, mitigation="zne: x3"
    )
    rows = est.format().splitlines()
    assert rows[-2:] == ["mitigation: zne: x3", f"assumptions: {ASSUMPTIONS}"]


def test_the_dry_run_folder_is_recognisable(tmp_path):
    seen = []
    estimate_run(RunConfig(out_dir=tmp_path, epochs=1), lambda c: seen.append(c), workflow="t")
    assert seen[0].out_dir.parent.name.startswith("hybridqml-dry-run-")


def test_a_config_without_backend_or_mitigation_is_estimated(tmp_path):
    @dataclasses.dataclass
    class Mini:
        out_dir: Path
        epochs: int

    est = estimate_run(Mini(tmp_path, 2), lambda c: None, workflow="m")
    assert est.backend == "-" and est.mitigation is None


BACKWARD = (
    "parameter-shift backward passes: about x{} circuit bindings (each folded copy of a rotation "
    "shifted on its own, for exact gradients: included above)"
)
ZNE = (
    "zne: x3 circuits per evaluation (ZNE scale factors 1, 3, 5: included above); "
    + BACKWARD.format(9)
)
READOUT = (
    "readout calibration: 2 circuits x 10,000 shots when measured on the device (included "
    "above; free on simulators with a noise model)"
)


@pytest.mark.parametrize(
    ("mitigation", "words"),
    [
        (None, None),
        ("none", None),
        ("zne", ZNE),
        ("readout", f"readout: x1 circuits per evaluation; {READOUT}"),
        (
            "readout+zne",
            "readout+zne: x3 circuits per evaluation (ZNE scale factors 1, 3, 5: included "
            f"above); {BACKWARD.format(9)}; {READOUT}",
        ),
    ],
)
def test_the_estimate_states_the_mitigation_cost(tmp_path, mitigation, words):
    @dataclasses.dataclass
    class Mitigated(RunConfig):
        mitigation: str | None = None

    config = Mitigated(out_dir=tmp_path, epochs=2, mitigation=mitigation)
    est = estimate_run(config, toy_train([]), workflow="qnn")
    assert est.mitigation == words


def test_custom_scale_factors_and_calibration_shots_are_stated():
    from hybridqml.mitigation._options import Mitigation
    from hybridqml.runs._estimates import _mitigation_cost

    both = Mitigation(
        readout=True, zne=True, scale_factors=(1.0, 1.5, 2.0, 4.0), calibration_shots=2500
    )
    assert _mitigation_cost(both) == (
        "readout+zne: x4 circuits per evaluation (ZNE scale factors 1, 1.5, 2, 4: included "
        f"above); {BACKWARD.format(8.5)}; readout calibration: 2 circuits x 2,500 shots when "
        "measured on the device (included above; free on simulators with a noise model)"
    )
    shared = Mitigation(zne=True, shift_rule="shared")  # as many bindings as forward
    assert _mitigation_cost(shared) == ZNE.split("; ")[0]


def test_the_probe_drops_the_qpu_budget_and_tensorboard(tmp_path):
    @dataclasses.dataclass
    class Logged(RunConfig):
        tensorboard_dir: Path | None = None

    seen = []
    config = Logged(
        out_dir=tmp_path, epochs=3, max_qpu_seconds=5.0, tensorboard_dir=tmp_path / "tb"
    )
    estimate_run(config, lambda c: seen.append(c), workflow="t")
    assert seen[0].max_qpu_seconds is None and seen[0].tensorboard_dir is None
    assert not (tmp_path / "tb").exists()


def test_a_budget_without_an_estimate_says_how_to_get_one():
    with pytest.raises(ConfigurationError) as info:
        check_start_budget(RunConfig(out_dir=".", epochs=2, max_shots=10), None)
    assert str(info.value) == (
        "max_shots/max_qpu_seconds need an estimate of the run: train it through its workflow "
        "(hybridqml train, or the workflow's train function)"
    )


def test_a_run_of_zero_epochs_counts_what_runs_after_the_loop_once(tmp_path):
    # the training loop marks "end" but no epoch when there are none to run
    def train(config):
        with tracking.pass_kind("forward"):
            tracking.record("aer", 4, 100, circuits=2)
        for epoch in range(1, config.epochs + 1):
            tracking.mark(f"epoch {epoch}")
            tracking.record("aer", 8, 100)
        tracking.mark("end")
        with tracking.pass_kind("spsa"):
            tracking.record("aer", 10, 50)

    est = estimate_run(RunConfig(out_dir=tmp_path, epochs=0), train, workflow="toy")
    assert est.before == CallCounts(1, 2, 4, 400, 800, 0.0)
    assert est.per_epoch == CallCounts()
    assert est.after == CallCounts(1, 1, 10, 500, 500, 0.0)
    assert est.total == CallCounts(2, 3, 14, 900, 1300, 0.0)
    assert est.per_epoch_by_kind == {}
    assert est.total_by_kind == {
        "forward": CallCounts(1, 2, 4, 400, 800, 0.0),
        "spsa": CallCounts(1, 1, 10, 500, 500, 0.0),
    }
