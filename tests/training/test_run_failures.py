"""Failures of a run, each named and losing nothing: kills between writes, corrupt or full disks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from _tiny_training import sgd_step
from torch import nn
from torch.utils.data import TensorDataset

from hybridqml.runs import Checkpointer
from hybridqml.training import TrainConfig, fit_classifier, make_loader


class _Killed(BaseException):
    """A SIGKILL stand-in: nothing catches it."""


def _data() -> TensorDataset:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(48, 2, generator=g)
    return TensorDataset(x, (x[:, 0] + 0.3 * x[:, 1] > 0).long())


def _fit(out: Path, *, epochs: int, resume: bool = False) -> Any:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2))
    with torch.no_grad():  # a poor start, so the accuracy climbs over the epochs
        model[0].weight.copy_(torch.tensor([[0.0, 1.0], [0.0, -1.0]]))
        model[0].bias.zero_()
    data = _data()
    result = fit_classifier(
        model=model,
        train_loader=make_loader(data, batch_size=16, seed=1),
        test_loader=make_loader(data, shuffle=False),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.3),
        config=TrainConfig(epochs=epochs, out_dir=out, seed=5, progress=False, resume=resume),
    )
    return result, model


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def test_best_pt_only_ever_holds_a_checkpointed_epoch(tmp_path: Path, monkeypatch) -> None:
    # the reference: an uninterrupted run; which epochs improved comes from its history
    reference, _ = _fit(tmp_path / "ref", epochs=4)
    accuracies = [h["test_accuracy"] for h in reference.history]
    improved = [e for e in range(2, 5) if accuracies[e - 1] > max(accuracies[: e - 1])]
    assert improved, f"the test needs an epoch > 1 that improves: {accuracies}"
    kill_at = improved[0]
    save = Checkpointer.save

    def killed_at_epoch(self: Checkpointer, *, epoch: int, **kw: Any) -> Path:
        if epoch == kill_at:
            raise _Killed  # after the epoch ended (and chose best), before its checkpoint
        return save(self, epoch=epoch, **kw)

    out = tmp_path / "run"
    monkeypatch.setattr(Checkpointer, "save", killed_at_epoch)
    with pytest.raises(_Killed):
        _fit(out, epochs=4)
    monkeypatch.setattr(Checkpointer, "save", save)
    best_epoch = max(range(1, kill_at), key=lambda e: (accuracies[e - 1], -e))
    # best.pt holds the weights of the best *checkpointed* epoch (chosen by hand from the
    # reference history), never those of the killed epoch; the reference weights come from a
    # run of exactly best_epoch epochs (training is deterministic for a seed)
    _, at_best = _fit(tmp_path / f"ref{best_epoch}", epochs=best_epoch)
    expected = at_best.state_dict()
    got = _weights(out / "best.pt")
    assert got.keys() == expected.keys()
    for name in got:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0)
    # the resumed run ends with the best.pt of the uninterrupted one
    resumed, _ = _fit(out, epochs=4, resume=True)
    assert resumed.best_epoch == reference.best_epoch
    ref_best, got_best = _weights(tmp_path / "ref" / "best.pt"), _weights(out / "best.pt")
    for name in ref_best:
        torch.testing.assert_close(got_best[name], ref_best[name], rtol=0, atol=0)


# --------------------------------------------------------------------------- checksums


def _checkpoint(tmp_path: Path) -> tuple[Path, nn.Linear]:
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.25, -1.5]]))
    path = tmp_path / "checkpoint.pt"
    Checkpointer(path=path, objects={"model": model}).save(epoch=3, history=[{"loss": 0.5}])
    return path, model


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda p: p["objects"]["model"]["weight"].view(torch.int32).__ior__(1),  # one ulp
        lambda p: p.__setitem__("epoch", 4),
        lambda p: p["history"][0].__setitem__("loss", 0.25),
        lambda p: p.__setitem__("sha256", "0" * 64),
    ],
    ids=["weight-ulp", "epoch", "history", "checksum"],
)
def test_a_corrupt_checkpoint_that_still_unpickles_is_refused(tmp_path: Path, corrupt) -> None:
    from hybridqml.exceptions import CheckpointError

    path, _ = _checkpoint(tmp_path)
    payload = torch.load(path, weights_only=True)
    corrupt(payload)
    torch.save(payload, path)  # a valid torch file with changed content
    before = path.read_bytes()
    target = nn.Linear(2, 1)
    original = target.weight.detach().clone()
    with pytest.raises(CheckpointError, match=r"corrupt.*checksum") as info:
        Checkpointer(path=path, objects={"model": target}).load()
    assert info.value.path == path and "--overwrite" in str(info.value)
    assert torch.equal(target.weight, original)  # nothing restored
    assert path.read_bytes() == before  # the evidence is kept


def test_an_intact_checkpoint_loads_and_an_old_one_without_checksum_warns(tmp_path: Path) -> None:
    path, _ = _checkpoint(tmp_path)
    target = nn.Linear(2, 1)
    assert Checkpointer(path=path, objects={"model": target}).load().epoch == 3
    assert torch.equal(target.weight, torch.tensor([[0.25, -1.5]]))
    payload = torch.load(path, weights_only=True)
    del payload["sha256"]  # as written before checksums existed
    torch.save(payload, path)
    with pytest.warns(RuntimeWarning, match="no checksum"):
        assert Checkpointer(path=path, objects={"model": nn.Linear(2, 1)}).load().epoch == 3


# --------------------------------------------------------------------------- a full disk


def _train_linear(out: Path, *, epochs: int, resume: bool = False) -> Any:
    from hybridqml.training import run_epochs

    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    opt, step = sgd_step(model)

    return run_epochs(
        config=TrainConfig(epochs=epochs, out_dir=out, seed=2, progress=False, resume=resume),
        loader=make_loader(TensorDataset(torch.ones(4, 2)), batch_size=2),
        step=step,
        stateful={"model": model, "optimizer": opt},
    )


@pytest.mark.parametrize(
    "failure",
    [
        OSError(28, "No space left on device"),  # ENOSPC
        RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed"),
    ],
    ids=["enospc", "torch-write-failed"],
)
def test_a_full_disk_is_a_named_error_and_loses_nothing(
    tmp_path: Path, monkeypatch, failure
) -> None:
    from hybridqml.exceptions import StorageError

    out = tmp_path / "run"
    _train_linear(out, epochs=1)
    before = (out / "checkpoint.pt").read_bytes()
    save = torch.save

    def full_disk(obj: Any, handle: Any, *args: Any, **kw: Any) -> None:
        handle.write(b"PK\x03\x04 partial")  # a part of the file reached the disk
        raise failure

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(StorageError) as info:
        _train_linear(out, epochs=2, resume=True)
    monkeypatch.setattr(torch, "save", save)
    err = info.value
    assert isinstance(err, OSError) and err.path == out / "checkpoint.pt"
    assert str(out) in str(err) and "free" in str(err) and "--resume" in str(err)
    assert err.free_bytes is not None and err.free_bytes >= 0
    assert (out / "checkpoint.pt").read_bytes() == before  # the last checkpoint is intact
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temp
    assert _train_linear(out, epochs=2, resume=True).epochs_completed == 2  # space freed


def test_a_full_disk_in_the_job_log_is_named_and_never_tears_the_next_line(
    tmp_path: Path, monkeypatch
) -> None:
    import json
    import os

    from hybridqml.exceptions import StorageError
    from hybridqml.hardware import _joblog as joblog

    path = tmp_path / "jobs.jsonl"
    real_write = os.write
    full = {"on": False}

    def short_write(fd: int, data: bytes) -> int:
        if full["on"]:
            return real_write(fd, data[: len(data) // 2])  # the disk filled up mid-line
        return real_write(fd, data)

    monkeypatch.setattr(joblog.os, "write", short_write)
    with joblog.JobLog(path) as log:
        log.write({"event": "submitted", "job_id": "a", "fingerprint": "f"})
        full["on"] = True
        with pytest.raises(StorageError, match="full"):
            log.write({"event": "submitted", "job_id": "b", "fingerprint": "g"})
        full["on"] = False  # space freed
        log.write({"event": "submitted", "job_id": "c", "fingerprint": "h"})
    lines = path.read_bytes().split(b"\n")
    assert json.loads(lines[0])["job_id"] == "a" and json.loads(lines[2])["job_id"] == "c"
    with pytest.warns(RuntimeWarning, match=r"line\(s\) 2\b"):
        assert [r["job_id"] for r in joblog.read_job_log(path)] == ["a", "c"]


# --------------------------------------------------------------------------- the run lock


def test_releasing_a_lock_taken_over_by_another_run_leaves_that_run_s_lock(tmp_path: Path) -> None:
    """Planted bug: release() deletes the lock file without checking its token."""
    import json

    from hybridqml.runs import LOCK_NAME, RunLock

    lock = RunLock(tmp_path)
    lock.acquire()
    path = tmp_path / LOCK_NAME
    mine = json.loads(path.read_text())["token"]
    # our run was judged stale and another run took the folder over: its lock, its token
    theirs = {"pid": 1, "hostname": "elsewhere", "started": "later", "token": "f" * 32}
    assert theirs["token"] != mine
    path.write_text(json.dumps(theirs))
    lock.release()
    assert json.loads(path.read_text()) == theirs  # the other run's lock is untouched
    # and our own lock is removed on release
    path.unlink()
    with RunLock(tmp_path):
        assert path.is_file()
    assert not path.exists()
