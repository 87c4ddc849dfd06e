"""Mid-epoch checkpoints, exact mid-epoch resume and budget stops of the training loop."""

import gc
import json

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import hybridqml as hq
from hybridqml.exceptions import BudgetExceededError, ConfigurationError
from hybridqml.hardware._joblog import JOBS_NAME, job_totals, read_job_log
from hybridqml.runs import Checkpointer
from hybridqml.training import TrainConfig, make_loader, run_epochs
from hybridqml.training._progress import PROGRESS_KEY, resume_point

SHOTS = 64


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(2, 2)
        self.drop = nn.Dropout(0.3)  # global torch RNG: resume must restore it mid-epoch
        self.quantum = hq.QuantumLayer(hq.circuits.ry(2), shots=SHOTS, seed=11)  # seeded shots

    def forward(self, x):
        return self.quantum(self.drop(self.pre(x)))


def _run(out, *, epochs=2, fail_at=None, **config):
    # layers alive with the same seed draw independent shot streams (hybridqml.nn._shot_seeds):
    # free the models of earlier runs so that every run's layer draws stream 0
    gc.collect()
    torch.manual_seed(3)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    data = TensorDataset(torch.linspace(-1, 1, 40).reshape(20, 2), torch.rand(20, 2))
    loader = make_loader(data, batch_size=4, seed=5)  # 5 shuffled batches per epoch
    steps = []

    def step(batch):
        if fail_at is not None and len(steps) + 1 == fail_at:
            raise RuntimeError("injected failure")
        steps.append(batch[0].sum().item())
        opt.zero_grad()
        loss = (model(batch[0]) - batch[1]).pow(2).mean()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    cfg = TrainConfig(epochs=epochs, seed=5, out_dir=out, progress=False, **config)
    result = run_epochs(config=cfg, loader=loader, step=step, stateful={"m": model, "o": opt})
    return _Weights(model.state_dict()), result, steps


class _Weights:
    """A finished run's weights, without the model (whose layer would hold its shot stream)."""

    def __init__(self, state):
        self._state = {k: v.detach().clone() for k, v in state.items()}

    def state_dict(self):
        return self._state


def _same_weights(a, b):
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def test_a_run_killed_mid_epoch_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    full, full_result, full_steps = _run(tmp_path / "full")
    with pytest.raises(RuntimeError, match="injected"):
        _run(tmp_path / "cut", fail_at=9, checkpoint_every=3)  # dies at step 4 of epoch 2
    stored = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    progress = resume_point(stored["extra"])
    assert stored["epoch"] == 1 and progress.epoch == 2 and progress.step == 3  # lost 0 steps
    resumed, result, steps = _run(tmp_path / "cut", resume=True, checkpoint_every=3)
    assert steps == full_steps[8:]  # the same remaining batches, in the same order
    assert _same_weights(resumed, full)
    assert result.history == full_result.history  # epoch 2's loss averages all 5 steps


def test_the_resumed_weights_differ_without_restoring_the_step_state(tmp_path):
    """The check above bites: resuming the epoch from its start gives other weights."""
    full, _, _ = _run(tmp_path / "full")
    with pytest.raises(RuntimeError):
        _run(tmp_path / "cut", fail_at=9, checkpoint_every=3)
    path = tmp_path / "cut" / "checkpoint.pt"
    payload = torch.load(path, weights_only=True)
    payload["extra"].pop(PROGRESS_KEY)  # an epoch-end checkpoint of epoch 1 instead
    from hybridqml.runs._digest import payload_digest

    payload["sha256"] = payload_digest(payload)  # a valid checkpoint, not a corrupt one
    torch.save(payload, path)
    resumed, _, steps = _run(tmp_path / "cut", resume=True)
    assert len(steps) == 5 and not _same_weights(resumed, full)


def test_checkpoints_are_written_every_n_steps(tmp_path, monkeypatch):
    saved = []
    original = Checkpointer.save

    def spy(self, **kwargs):
        saved.append(resume_point(kwargs.get("extra") or {}))
        return original(self, **kwargs)

    monkeypatch.setattr(Checkpointer, "save", spy)
    _run(tmp_path / "run", checkpoint_every=2)
    marks = [(p.epoch, p.step) if p else "end" for p in saved]
    assert marks == [(1, 2), (1, 4), "end", (2, 2), (2, 4), "end"]


def test_checkpoint_every_is_validated():
    with pytest.raises(ConfigurationError, match="checkpoint_every"):
        TrainConfig(epochs=1, checkpoint_every=0)
    with pytest.raises(ConfigurationError, match="max_shots"):
        TrainConfig(epochs=1, max_shots=1.5)
    with pytest.raises(ConfigurationError, match="max_qpu_seconds"):
        TrainConfig(epochs=1, max_qpu_seconds=float("nan"))


def test_a_shot_budget_stops_the_run_with_a_checkpoint_and_resumes_exactly(tmp_path):
    full, full_result, _ = _run(tmp_path / "full")
    sent = job_totals(read_job_log(tmp_path / "full" / JOBS_NAME))["executed_shots"]
    per_step = 4 * SHOTS * (1 + 2 * 2)  # forward + two shifts of 2 angles, batch of 4
    assert sent == 10 * per_step  # every call of the run is in its job log
    limit = 7 * per_step + per_step // 2  # room for 7.5 steps: the 8th would go over
    with pytest.raises(BudgetExceededError) as info:
        _run(tmp_path / "cut", max_shots=limit)
    err = info.value
    assert err.kind == "shots" and err.limit == limit and err.spent == 7 * per_step <= limit
    assert "--max-shots" in str(err) and "step 3 of epoch 2" in str(err) and "--resume" in str(err)
    assert err.checkpoint == tmp_path / "cut" / "checkpoint.pt"
    progress = resume_point(torch.load(err.checkpoint, weights_only=True)["extra"])
    assert (progress.epoch, progress.step) == (2, 2)
    log = read_job_log(tmp_path / "cut" / JOBS_NAME)
    assert job_totals(log)["executed_shots"] == 7 * per_step
    with pytest.raises(BudgetExceededError):  # the log's spending counts on resume
        _run(tmp_path / "cut", resume=True, max_shots=limit)
    resumed, result, _ = _run(tmp_path / "cut", resume=True, max_shots=10 * per_step)
    assert _same_weights(resumed, full) and result.history == full_result.history
    assert job_totals(read_job_log(tmp_path / "cut" / JOBS_NAME))["executed_shots"] == sent
    assert json.loads((tmp_path / "cut" / "metrics.json").read_text())["epochs_completed"] == 2


def test_a_run_that_died_waiting_for_a_job_fetches_it_on_resume(tmp_path):
    from hybridqml.testing._faults import FaultInjectingSampler, SimulatedCrash

    def run(out, sampler, **config):
        gc.collect()  # earlier runs' layers (same seed) must not hold stream 0
        torch.manual_seed(3)
        layer = hq.QuantumLayer(hq.circuits.variational(1, 1), backend=sampler, shots=100, seed=11)
        opt = torch.optim.SGD(layer.parameters(), lr=0.5)
        loader = make_loader(TensorDataset(torch.linspace(0, 1, 4).reshape(4, 1)), batch_size=2)

        def step(batch):
            opt.zero_grad()
            loss = layer(batch[0]).pow(2).mean()
            loss.backward()
            opt.step()
            return {"loss": loss.item()}

        cfg = TrainConfig(epochs=1, seed=1, out_dir=out, progress=False, **config)
        run_epochs(config=cfg, loader=loader, step=step, stateful={"layer": layer, "opt": opt})
        return layer.weight.detach().clone()

    full = run(tmp_path / "full", FaultInjectingSampler("fake_manila"))
    sampler = FaultInjectingSampler("fake_manila", faults={4: "crash"})  # step 2's backward
    with pytest.raises(SimulatedCrash):
        run(tmp_path / "cut", sampler, checkpoint_every=1)
    resumed = run(tmp_path / "cut", sampler, checkpoint_every=1, resume=True)
    # step 2's forward job (completed) and its backward job (in flight) are both fetched by id
    assert sampler.fetched == ["fault-0003", "fault-0004"]
    assert sampler.submissions == 4  # nothing was paid twice
    assert torch.equal(resumed, full)
    calls = [r for r in read_job_log(tmp_path / "cut" / JOBS_NAME) if r["event"] == "call"]
    assert [r["job_id"] for r in calls] == [f"fault-{i:04d}" for i in (1, 2, 3, 3, 4)]
    assert [r.get("recovered_job_id") for r in calls[-2:]] == ["fault-0003", "fault-0004"]
