"""--mitigation on hybridqml train: dry-run cost, budgets, metrics.json and the job log."""

from __future__ import annotations

import json
import re

import pytest

import hybridqml as hq
from hybridqml.cli import main
from hybridqml.execution import _mitigated
from hybridqml.hardware._joblog import JOBS_NAME, read_job_log
from hybridqml.testing._faults import FaultInjectingSampler
from hybridqml.workflows._qnn import QNNConfig, train_qnn

QNN = {"n_samples": 24, "batch_size": 8, "epochs": 2, "progress": False, "seed": 1}
SMALL = {"n_qubits": 2, "layers": 1}


def _calls(path):
    return [r for r in read_job_log(path / JOBS_NAME) if r["event"] == "call"]


def _qnn_args():
    args = ["train", "qnn", "--samples", "24", "--epochs", "2", "--batch-size", "8"]
    args += ["--qubits", "2", "--layers", "1", "--seed", "1"]
    args += ["--shots", "64", "--backend", "fake_manila", "--no-progress"]
    return [*args, "--mitigation", "readout+zne"]


def test_dry_run_shows_the_multiplier(tmp_path, capsys):
    assert main([*_qnn_args(), "--out", str(tmp_path / "dry"), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "mitigation: readout+zne: x3 circuits per evaluation" in printed
    total = re.search(r"^total\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)", printed, re.M)
    calls, circuits, bindings, shots = (int(g.replace(",", "")) for g in total.groups())
    # one measurement group (Z on each qubit), three scale factors: 3 circuits in every call
    assert circuits == 3 * calls
    # forward rows run once per scale; a shifted row once per folded copy of its rotation
    # (each occurrence is one rz on fake_manila: 1 + 3 + 5 copies over the scales)
    assert "parameter-shift backward passes: about x9 circuit bindings" in printed
    plain = hq.estimate_cost("qnn", shots=64, backend="fake_manila", **QNN, **SMALL)
    forward, backward = plain.total_by_kind["forward"], plain.total_by_kind["parameter-shift"]
    assert bindings == forward.evaluations + backward.evaluations
    assert shots == 3 * forward.executed_shots + 9 * backward.executed_shots


@pytest.mark.slow
def test_dry_run_shows_the_multiplier_and_the_run_sends_what_it_counted(tmp_path, capsys):
    args = ["train", "qnn", "--samples", "24", "--epochs", "2", "--batch-size", "8"]
    args += ["--qubits", "2", "--layers", "1", "--seed", "1"]
    args += ["--shots", "64", "--backend", "fake_manila", "--no-progress"]
    args += ["--mitigation", "readout+zne"]
    assert main([*args, "--out", str(tmp_path / "dry"), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "mitigation: readout+zne: x3 circuits per evaluation" in printed
    total = re.search(r"^total\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)", printed, re.M)
    calls, circuits, _bindings, shots = (int(g.replace(",", "")) for g in total.groups())
    plain = hq.estimate_cost("qnn", shots=64, backend="fake_manila", **QNN, **SMALL)
    forward, backward = plain.total_by_kind["forward"], plain.total_by_kind["parameter-shift"]
    assert circuits == 3 * plain.total.circuits
    assert shots == 3 * forward.executed_shots + 9 * backward.executed_shots
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    log = _calls(tmp_path / "run")
    assert len(log) == calls and sum(r["circuits"] for r in log) == circuits
    assert sum(r["executed_shots"] for r in log) == shots
    assert {r.get("mitigation") for r in log} == {"readout+zne"}
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["config"]["mitigation"] == "readout+zne"
    record = metrics["mitigation"]
    assert record["mode"] == "readout+zne" and record["scale_factors"] == [1.0, 3.0, 5.0]
    assert record["readout_calibration"]["source"] == "noise_model"


def test_calibration_circuits_are_in_the_estimate(tmp_path):
    sampler = FaultInjectingSampler("fake_manila")  # a device stand-in: no noise model to read
    settings = {**QNN, **SMALL, "shots": 64, "epochs": 1, "mitigation": "readout"}
    estimate = hq.estimate_cost(QNNConfig(out_dir=tmp_path / "run", backend=sampler, **settings))
    calibration = estimate.total_by_kind["readout-calibration"]
    assert calibration.calls == 1 and calibration.executed_shots == 2 * 10_000
    assert estimate.total.executed_shots == sum(
        k.executed_shots for k in estimate.total_by_kind.values()
    )
    assert "readout calibration: 2 circuits x 10,000 shots" in estimate.format()


@pytest.mark.slow
def test_calibration_circuits_are_counted_by_estimates_and_budgets(tmp_path, capsys):
    _mitigated.CALIBRATIONS.clear()
    settings = {**QNN, **SMALL, "shots": 64, "mitigation": "readout"}
    sampler = FaultInjectingSampler("fake_manila")  # a device stand-in: no noise model to read
    config = QNNConfig(out_dir=tmp_path / "run", backend=sampler, **settings)
    estimate = hq.estimate_cost(config)
    calibration = estimate.total_by_kind["readout-calibration"]
    assert calibration.calls == 1 and calibration.executed_shots == 2 * 10_000
    with pytest.raises(hq.BudgetExceededError):
        over = QNNConfig(**{**config.__dict__, "max_shots": estimate.total.executed_shots - 1})
        train_qnn(over)
    _mitigated.CALIBRATIONS.clear()
    with hq.Tracker() as tracker:
        train_qnn(config)
    assert tracker.executed_shots == estimate.total.executed_shots
    assert tracker.by_kind["readout-calibration"]["circuits"] == 2
    log = _calls(tmp_path / "run")
    assert next(r["mitigation"] for r in log) == "readout calibration"
    assert sum(r["executed_shots"] for r in log) == tracker.executed_shots


def test_bad_mitigation_flag_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "qnn", "--out", str(tmp_path), "--mitigation", "pec"])
    assert info.value.code == 2
