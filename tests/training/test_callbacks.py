"""The training loop's callback protocol: every step, every epoch, the end, resumes, ranks."""

import math

import pytest
import torch
from torch.utils.data import TensorDataset

from hybridqml.training import (
    Callback,
    EndEvent,
    EpochEvent,
    StepEvent,
    TrainConfig,
    _callbacks,
    make_loader,
    run_epochs,
)


class Recorder(Callback):
    def __init__(self):
        self.steps: list[StepEvent] = []
        self.epochs: list[EpochEvent] = []
        self.ends: list[EndEvent] = []

    def on_step(self, event):
        self.steps.append(event)

    def on_epoch(self, event):
        self.epochs.append(event)

    def on_end(self, event):
        self.ends.append(event)


def _problem(n_samples, seed=0):
    torch.manual_seed(seed)
    data = TensorDataset(torch.randn(n_samples, 2), torch.randn(n_samples, 1))
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)

    def step(batch):
        x, y = batch
        opt.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        opt.step()
        # the batch size as a metric: the steps' values sum to the data size per epoch
        return {"loss": loss.item(), "n": float(len(x))}

    return data, model, opt, step


@pytest.mark.parametrize(("n_samples", "batch_size"), [(23, 5), (1, 4), (8, 8)])
def test_every_step_epoch_and_the_end_are_reported(n_samples, batch_size):
    data, model, opt, step = _problem(n_samples)
    epochs = 3
    recorder = Recorder()
    result = run_epochs(
        config=TrainConfig(epochs=epochs, progress=False, callbacks=(recorder,)),
        loader=make_loader(data, batch_size=batch_size),
        step=step,
        stateful={"model": model, "optimizer": opt},
    )
    per_epoch = math.ceil(n_samples / batch_size)  # counted from the data, not the loop
    expected = [(e, s) for e in range(1, epochs + 1) for s in range(1, per_epoch + 1)]
    assert [(ev.epoch, ev.step) for ev in recorder.steps] == expected
    assert [ev.global_step for ev in recorder.steps] == list(range(1, epochs * per_epoch + 1))
    for epoch in range(1, epochs + 1):  # every sample is in exactly one reported step
        assert sum(ev.metrics["n"] for ev in recorder.steps if ev.epoch == epoch) == n_samples
    # the epoch events carry the loop's records, after their steps
    assert [ev.epoch for ev in recorder.epochs] == [1, 2, 3]
    assert [ev.global_step for ev in recorder.epochs] == [per_epoch * e for e in (1, 2, 3)]
    for ev, record in zip(recorder.epochs, result.history, strict=True):
        assert dict(ev.metrics) == {k: v for k, v in record.items() if k != "epoch"}
        losses = [s.metrics["loss"] for s in recorder.steps if s.epoch == ev.epoch]
        assert ev.metrics["loss"] == pytest.approx(sum(losses) / len(losses), rel=1e-12)
        assert ev.objects["model"] is model
    (end,) = recorder.ends
    assert end.epochs_completed == epochs and end.global_step == epochs * per_epoch
    assert dict(end.final) == result.final and end.figures == () and end.out_dir is None


def test_callbacks_without_some_hooks_and_several_in_order():
    calls = []

    class OnlyEnd:  # any object with some of the hooks is a callback
        def on_end(self, event):
            calls.append(("end", event.epochs_completed))

    class Steps(Callback):
        def on_step(self, event):
            calls.append(("step", event.global_step))

    data, model, _, step = _problem(4)
    run_epochs(
        config=TrainConfig(epochs=1, progress=False, callbacks=(Steps(), OnlyEnd())),
        loader=make_loader(data, batch_size=2),
        step=step,
        stateful={"model": model},
    )
    assert calls == [("step", 1), ("step", 2), ("end", 1)]


def test_global_step_continues_after_an_epoch_end_resume(tmp_path):
    data, model, opt, step = _problem(10)
    first, second = Recorder(), Recorder()
    for epochs, recorder, resume in ((2, first, False), (4, second, True)):
        run_epochs(
            config=TrainConfig(
                epochs=epochs,
                progress=False,
                out_dir=tmp_path,
                resume=resume,
                callbacks=(recorder,),
            ),
            loader=make_loader(data, batch_size=3),
            step=step,
            stateful={"model": model, "optimizer": opt},
        )
    per_epoch = math.ceil(10 / 3)
    assert [ev.global_step for ev in first.steps] == list(range(1, 2 * per_epoch + 1))
    assert [ev.global_step for ev in second.steps] == list(
        range(2 * per_epoch + 1, 4 * per_epoch + 1)
    )
    assert [ev.epoch for ev in second.epochs] == [3, 4]
    assert [r["epoch"] for r in second.ends[0].history] == [1, 2, 3, 4]


def test_global_step_continues_after_a_mid_epoch_resume(tmp_path):
    data, model, opt, step = _problem(10)  # 4 steps per epoch with batches of 3
    calls = {"n": 0}

    def crashing(batch):
        calls["n"] += 1
        if calls["n"] == 8:  # epoch 2, step 4: after the checkpoint of epoch 2, step 2
            raise RuntimeError("killed")
        return step(batch)

    def config(resume, recorder):
        return TrainConfig(
            epochs=2,
            progress=False,
            out_dir=tmp_path,
            resume=resume,
            checkpoint_every=2,
            callbacks=(recorder,),
        )

    first, second = Recorder(), Recorder()
    stateful = {"model": model, "optimizer": opt}
    with pytest.raises(RuntimeError, match="killed"):
        run_epochs(
            config=config(False, first),
            loader=make_loader(data, batch_size=3),
            step=crashing,
            stateful=stateful,
        )
    assert [ev.global_step for ev in first.steps] == list(range(1, 8)) and not first.ends
    run_epochs(
        config=config(True, second),
        loader=make_loader(data, batch_size=3),
        step=step,
        stateful=stateful,
    )
    # the checkpoint holds epoch 2 up to its step 2 (global 6): steps 7 and 8 run again
    assert [(ev.epoch, ev.step, ev.global_step) for ev in second.steps] == [(2, 3, 7), (2, 4, 8)]


def test_only_the_writing_rank_calls_callbacks(monkeypatch):
    monkeypatch.setattr(_callbacks, "is_writer", lambda: False)  # as on rank 1
    data, model, _, step = _problem(4)
    recorder = Recorder()
    run_epochs(
        config=TrainConfig(epochs=1, progress=False, callbacks=(recorder,)),
        loader=make_loader(data, batch_size=2),
        step=step,
        stateful={"model": model},
    )
    assert recorder.steps == recorder.epochs == recorder.ends == []


def test_a_diverged_run_reports_no_bad_step_and_no_end():
    from hybridqml.exceptions import DivergenceError

    values = iter([1.0, float("nan")])
    recorder = Recorder()
    model = torch.nn.Linear(1, 1)
    with pytest.raises(DivergenceError):
        run_epochs(
            config=TrainConfig(epochs=1, progress=False, callbacks=(recorder,)),
            loader=[torch.ones(1, 1)] * 2,
            step=lambda batch: {"loss": next(values)},
            stateful={"model": model},
        )
    assert [ev.metrics["loss"] for ev in recorder.steps] == [1.0] and recorder.ends == []
