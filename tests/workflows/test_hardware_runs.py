"""Hardware runs end to end: dry-run totals, budgets, runtime options, kills mid-epoch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch
from workflow_testing import REPO_ROOT, assert_same_state

import hybridqml as hq
from hybridqml.cli import main
from hybridqml.hardware._joblog import JOBS_NAME, job_totals, read_job_log
from hybridqml.testing._faults import FaultInjectingSampler
from hybridqml.training._progress import resume_point
from hybridqml.workflows import estimate_cost
from hybridqml.workflows._qnn import QNNConfig, train_qnn
from hybridqml.workflows._textbook import TextbookConfig, train_textbook

QNN = {"n_samples": 48, "batch_size": 8, "progress": False}


def _calls(records):
    return [r for r in records if r["event"] == "call"]


def test_estimate_equals_what_a_textbook_run_sends_per_gradient_rule(tmp_path):
    settings = {
        "dataset": "digits",
        "limit_per_class": 12,
        "epochs": 3,
        "shots": 100,
        "seed": 2,
        "progress": False,
    }
    estimate = hq.estimate_cost("textbook", **settings)
    with hq.Tracker() as tracker:
        result = train_textbook(TextbookConfig(out_dir=tmp_path / "run", **settings))
    for name in ("calls", "circuits", "evaluations", "shots", "executed_shots"):
        assert getattr(estimate.total, name) == getattr(tracker, name), name
    assert {k: v.evaluations for k, v in estimate.total_by_kind.items()} == {
        k: v["evaluations"] for k, v in tracker.by_kind.items()
    }
    shift = estimate.per_epoch_by_kind["parameter-shift"]
    assert shift.evaluations == 2 * result.n_train  # one shifted angle (the input), two shifts
    assert shift.calls == -(-result.n_train // 32)  # one backward call per batch of 32
    log = _calls(read_job_log(tmp_path / "run" / JOBS_NAME))
    assert len(log) == tracker.calls
    assert sum(r["executed_shots"] for r in log) == tracker.executed_shots


class _CountingSampler(FaultInjectingSampler):
    """Counts what it receives, PUB by PUB, and the QPU seconds written out from the device.

    An independent count: it sees the primitive calls themselves, not hybridqml's tracking.
    A shot of a circuit holds the device for the sum of its instructions' durations (every
    circuit here acts on one qubit: no parallel paths) plus the rep delay.
    """

    def __init__(self, device):
        super().__init__(device)
        self.calls = self.circuits = self.bindings = self.executed_shots = 0
        self.qpu_seconds = 0.0

    def run(self, pubs, *, shots=None):
        from qiskit.primitives.containers.sampler_pub import SamplerPub

        self.calls += 1
        target, delay = self.backend().target, 250e-6
        for pub in pubs:
            pub = SamplerPub.coerce(pub, shots)
            circuit, n = pub.circuit, int(pub.parameter_values.size)
            assert len({q for inst in circuit.data for q in inst.qubits}) == 1
            seconds = sum(
                target[inst.operation.name][(circuit.find_bit(inst.qubits[0]).index,)].duration
                or 0.0
                for inst in circuit.data
                if inst.operation.name != "barrier"
            )
            self.circuits += 1
            self.bindings += n
            self.executed_shots += n * pub.shots
            self.qpu_seconds += n * pub.shots * (seconds + delay)
        return super().run(pubs, shots=shots)


def test_dry_run_prints_the_totals_a_counting_sampler_then_receives(tmp_path, capsys):
    args = ["train", "textbook", "--dataset", "digits", "--limit", "10", "--epochs", "2"]
    args += ["--batch-size", "8", "--shots", "64", "--backend", "fake_manila", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "dry"), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert not (tmp_path / "dry").exists()  # nothing written, nothing trained
    total = re.search(r"^total\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)", printed, re.M)
    calls, circuits, bindings, shots = (int(g.replace(",", "")) for g in total.groups())
    qpu = float(re.search(r"^total\s+(?:[\d,]+\s+){4}([\d,.]+)", printed, re.M)[1].replace(",", ""))
    assert "per epoch: parameter-shift" in printed and "lower bound" in printed
    # the same run on a sampler that counts what it is sent
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    device = FakeManilaV2()
    assert getattr(device, "default_rep_delay", None) in (None, 250e-6)
    sampler = _CountingSampler(device)
    settings = dict(dataset="digits", limit_per_class=10, epochs=2, batch_size=8, shots=64)
    train_textbook(
        TextbookConfig(out_dir=tmp_path / "run", backend=sampler, progress=False, **settings)
    )
    assert sampler.calls == calls and sampler.submissions == calls
    assert sampler.circuits == circuits and sampler.bindings == bindings
    assert sampler.executed_shots == shots == 64 * bindings
    assert qpu > 0 and sampler.qpu_seconds == pytest.approx(qpu, abs=0.06)  # printed to 0.1 s


def test_a_run_over_its_budget_is_refused_before_anything_is_sent(tmp_path, capsys):
    estimate = estimate_cost("qnn", epochs=2, shots=64, **QNN)
    limit = estimate.total.executed_shots - 1
    args = ["train", "qnn", "--out", str(tmp_path / "run"), "--samples", "48", "--epochs", "2"]
    args += ["--batch-size", "8", "--shots", "64", "--max-shots", str(limit), "--no-progress"]
    (tmp_path / "run").mkdir()
    earlier = tmp_path / "run" / "metrics.json"
    earlier.write_text("{}")  # an earlier run: --overwrite must not delete it for nothing
    assert main([*args, "--overwrite"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("hybridqml: error: refusing to start: the run needs")
    assert f"{estimate.total.executed_shots:,}" in err and "--max-shots" in err
    assert not (tmp_path / "run" / JOBS_NAME).exists()
    assert not (tmp_path / "run" / "checkpoint.pt").exists() and earlier.read_text() == "{}"


def test_reported_usage_over_the_qpu_budget_stops_the_run_with_a_checkpoint(tmp_path):
    sampler = FaultInjectingSampler("fake_manila", usage_seconds=50.0)  # reported usage
    config = QNNConfig(out_dir=tmp_path / "run", epochs=2, shots=64, backend=sampler, **QNN)
    estimate = estimate_cost(config)
    assert 0 < estimate.total.qpu_seconds < 50 * estimate.total.calls
    limit = estimate.total.qpu_seconds + 10.0  # the estimate fits; the reported usage does not
    with pytest.raises(hq.BudgetExceededError) as info:
        train_qnn(QNNConfig(**{**config.__dict__, "max_qpu_seconds": limit}))
    err = info.value
    assert err.kind == "qpu_seconds" and err.spent <= limit and err.checkpoint is not None
    assert "QPU seconds budget reached" in str(err) and "--max-qpu-seconds" in str(err)
    stored = torch.load(err.checkpoint, weights_only=True)
    assert resume_point(stored["extra"]) is not None  # stopped mid-epoch, state saved
    spent = job_totals(read_job_log(tmp_path / "run" / JOBS_NAME))["qpu_seconds"]
    assert spent == pytest.approx(err.spent) and spent == 50.0 * sampler.submissions == 100.0


def test_runtime_options_reach_the_primitive_and_metrics_json(tmp_path, monkeypatch):
    runtime = pytest.importorskip("qiskit_ibm_runtime")

    class Service:
        def backend(self, name):
            return runtime.fake_provider.FakeManilaV2()

    monkeypatch.setattr(runtime, "QiskitRuntimeService", Service)
    options = {"twirling": True, "dynamical_decoupling": "XY4"}
    layer = hq.QuantumLayer(hq.circuits.ry(1), backend="ibm:x", shots=50, backend_options=options)
    sampler_options = layer.engine.executor.sampler.options
    assert sampler_options.twirling.enable_gates is True
    assert sampler_options.dynamical_decoupling.enable is True
    assert sampler_options.dynamical_decoupling.sequence_type == "XY4"
    mitigated = hq.QuantumLayer(
        hq.circuits.ry(1), backend="ibm:x", shots=400, backend_options={"resilience_level": 1}
    )
    out = mitigated(torch.tensor([[1.2]]))
    executor = mitigated.engine.executor
    assert type(executor).__name__ == "EstimatorExecutor"
    assert executor.estimator.options.resilience_level == 1 and executor.shots == 400
    assert abs(float(out.detach()) + torch.sin(torch.tensor(1.2)).item()) < 0.3
    args = ["train", "textbook", "--out", str(tmp_path / "run"), "--dataset", "digits"]
    args += ["--limit", "4", "--epochs", "1", "--backend", "ibm:x", "--shots", "32", "--twirling"]
    args += ["--dynamical-decoupling", "XX", "--no-progress"]
    assert main(args) == 0
    recorded = json.loads((tmp_path / "run" / "metrics.json").read_text())["config"]
    assert recorded["backend_options"] == {"twirling": True, "dynamical_decoupling": "XX"}


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"resilience_level": 3}, "resilience_level must be 0, 1 or 2"),
        ({"twirling": "yes"}, "twirling must be True or False"),
        ({"dynamical_decoupling": "XZ"}, "dynamical_decoupling must be off or one of"),
    ],
)
def test_runtime_options_are_validated(options, match):
    with pytest.raises(hq.ConfigurationError, match=match):
        hq.QuantumLayer(hq.circuits.ry(1), backend=FaultInjectingSampler(), backend_options=options)


def test_runtime_options_are_refused_by_simulators_and_samplers_without_them():
    with pytest.raises(hq.ConfigurationError, match="apply to IBM runtime backends"):
        hq.QuantumLayer(hq.circuits.ry(1), backend="aer", backend_options={"twirling": True})
    with pytest.raises(hq.ConfigurationError, match="only the runtime Estimator"):
        hq.QuantumLayer(
            hq.circuits.ry(1),
            backend=FaultInjectingSampler(),
            backend_options={"resilience_level": 1},
        )


_KILL_AFTER_CHECKPOINT = """
import os, signal, sys
from hybridqml.runs import Checkpointer
original = Checkpointer.save
def save(self, **kwargs):
    path = original(self, **kwargs)
    progress = (kwargs.get("extra") or {}).get("progress")
    if progress and (progress["epoch"], progress["step"]) == (2, 3):
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: a real kill
    return path
Checkpointer.save = save
from hybridqml.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_cli_run_sigkilled_mid_epoch_resumes_to_the_uninterrupted_weights(tmp_path):
    args = ["train", "qnn", "--samples", "48", "--batch-size", "8", "--epochs", "3"]
    args += ["--shots", "64", "--no-progress"]
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT)}
    full = tmp_path / "full"
    assert main([*args, "--out", str(full)]) == 0
    cut = tmp_path / "cut"
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILL_AFTER_CHECKPOINT,
            *args,
            "--out",
            str(cut),
            "--checkpoint-every",
            "3",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stderr
    assert not (cut / "metrics.json").read_text().count('"epochs_completed": 2')
    with pytest.warns(RuntimeWarning, match="stale lock"):  # the killed run's lock
        assert main([*args, "--out", str(cut), "--resume", "--checkpoint-every", "3"]) == 0
    a = torch.load(full / "checkpoint.pt", weights_only=True)["objects"]
    b = torch.load(cut / "checkpoint.pt", weights_only=True)["objects"]
    assert_same_state(a, b, "objects")
