"""Output-folder safety: locks, no silent overwrite, temp files, atomic writes, corrupt files."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from _tiny_training import sgd_step
from torch import nn
from torch.utils.data import TensorDataset
from workflow_testing import unwritable_folder

from hybridqml.exceptions import CheckpointError, ConfigurationError
from hybridqml.runs import (
    LOCK_NAME,
    TEMP_SUFFIX,
    Checkpointer,
    RunLock,
    atomic_write,
    load_torch_file,
    write_metrics,
)
from hybridqml.training import TrainConfig, make_loader, run_epochs


def _train(out: Path, *, epochs: int = 1, **config: Any) -> tuple[Any, nn.Module]:
    model = nn.Linear(2, 1)
    opt, step = sgd_step(model)

    result = run_epochs(
        config=TrainConfig(epochs=epochs, out_dir=out, progress=False, **config),
        loader=make_loader(TensorDataset(torch.ones(4, 2)), batch_size=2),
        step=step,
        stateful={"model": model, "optimizer": opt},
    )
    return result, model


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _plant_lock(folder: Path, **record: Any) -> Path:
    base = {"pid": os.getpid(), "hostname": socket.gethostname(), "started": "then"}
    path = folder / LOCK_NAME
    path.write_text(json.dumps(base | record))
    return path


# --------------------------------------------------------------------------- lock


def test_lock_is_exclusive_reentrant_and_released(tmp_path: Path) -> None:
    with RunLock(tmp_path):
        record = json.loads((tmp_path / LOCK_NAME).read_text())
        assert record["pid"] == os.getpid() and record["hostname"] == socket.gethostname()
        assert {"started", "token"} <= record.keys()
        with RunLock(tmp_path):  # the same thread (a workflow, then its run_epochs) shares it
            pass
        assert (tmp_path / LOCK_NAME).is_file()  # still held by the outer holder
        errors: list[BaseException] = []

        def other_thread() -> None:
            try:
                RunLock(tmp_path).acquire()
            except ConfigurationError as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert len(errors) == 1 and "in use by another run" in str(errors[0])
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_live_lock_refuses_the_run_and_names_folder_holder_and_fix(tmp_path: Path) -> None:
    parent = os.getppid()  # alive, not this process
    lock = _plant_lock(tmp_path, pid=parent, started="2024-01-01T00:00:00")
    with pytest.raises(ConfigurationError) as info:
        _train(tmp_path)
    message = str(info.value)
    for part in (str(tmp_path), f"pid {parent}", "2024-01-01", "--out", str(lock)):
        assert part in message
    assert not (tmp_path / "checkpoint.pt").exists() and lock.is_file()


def test_a_lock_of_a_dead_process_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    _plant_lock(tmp_path, pid=_dead_pid())
    with pytest.warns(RuntimeWarning, match="took over the stale lock"):
        result, _ = _train(tmp_path)
    assert result.epochs_completed == 1 and not (tmp_path / LOCK_NAME).exists()


def test_a_lock_whose_pid_was_reused_is_stale(tmp_path: Path) -> None:
    _plant_lock(tmp_path, pid=os.getppid(), process="another-boot:123")
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to tell a reused pid")
    with pytest.warns(RuntimeWarning, match="stale lock"):
        _train(tmp_path)


def test_a_lock_from_another_host_is_never_taken_over(tmp_path: Path) -> None:
    _plant_lock(tmp_path, pid=_dead_pid(), hostname="elsewhere.example")
    with pytest.raises(ConfigurationError, match=r"in use by another run.*elsewhere\.example"):
        _train(tmp_path)


# --------------------------------------------------------------------------- earlier runs


def test_an_earlier_run_is_never_overwritten_unless_asked(tmp_path: Path) -> None:
    _train(tmp_path, epochs=2, seed=1)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    with pytest.raises(ConfigurationError) as info:
        _train(tmp_path, epochs=1, seed=2)
    message = str(info.value)
    assert str(tmp_path) in message and "--overwrite" in message and "--resume" in message
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    result, _ = _train(tmp_path, epochs=1, seed=2, overwrite=True)
    assert result.epochs_completed == 1
    assert json.loads((tmp_path / "metrics.json").read_text())["seed"] == 2
    with pytest.raises(ConfigurationError, match="exclude each other"):
        TrainConfig(epochs=1, out_dir=tmp_path, resume=True, overwrite=True)


def test_resume_without_checkpoint_names_the_folder_and_suggests_dropping_resume(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigurationError) as info:
        _train(tmp_path / "new", resume=True)
    assert str(tmp_path / "new") in str(info.value) and "drop --resume" in str(info.value)


def test_resume_with_fewer_epochs_than_done_is_an_error(tmp_path: Path) -> None:
    _train(tmp_path, epochs=4)
    with pytest.raises(ConfigurationError) as info:
        _train(tmp_path, epochs=2, resume=True)
    message = str(info.value)
    assert "already has 4 completed epochs" in message and "nothing would be trained" in message
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs_completed"] == 4
    with pytest.warns(UserWarning, match="already has 4 epochs.*nothing was trained"):
        again, _ = _train(tmp_path, epochs=4, resume=True)
    assert again.epochs_completed == 4 and again.resumed_from == 4


def test_unwritable_folder_fails_before_training(tmp_path: Path) -> None:
    with unwritable_folder(tmp_path) as folder:
        with pytest.raises(ConfigurationError) as info:
            _train(folder)
        assert str(folder) in str(info.value) and "not writable" in str(info.value)


# --------------------------------------------------------------------------- temp files, writes


def test_stale_temp_files_are_removed_on_start_and_resume_and_nothing_else(tmp_path: Path) -> None:
    killed = [
        tmp_path / f".checkpoint.pt.99999{TEMP_SUFFIX}",
        tmp_path / f".metrics.json.4242{TEMP_SUFFIX}",
    ]
    keep = [tmp_path / ".notes.tmp", tmp_path / f"data{TEMP_SUFFIX}", tmp_path / "a.pt.1.tmp"]
    for path in killed + keep:
        path.write_bytes(b"partial")
    _train(tmp_path, epochs=1)
    assert not any(p.exists() for p in killed) and all(p.exists() for p in keep)
    for path in killed:
        path.write_bytes(b"partial")
    _train(tmp_path, epochs=2, resume=True)
    assert not any(p.exists() for p in killed) and all(p.exists() for p in keep)


def test_atomic_write_keeps_the_old_file_and_no_temp_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old")

    def fail(handle: io.BufferedWriter) -> None:
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


def test_metrics_json_stays_valid_with_non_finite_extras(tmp_path: Path) -> None:
    extra = {"config": {"lr": float("inf"), "values": [1.0, float("nan")]}}
    path = write_metrics(tmp_path / "m.json", history=[{"epoch": 1, "loss": 0.1}], extra=extra)
    assert json.loads(path.read_text())["config"] == {"lr": None, "values": [1.0, None]}


# --------------------------------------------------------------------------- corrupt files


class _Foreign:
    """A class no hybridqml file holds: unpickling it needs a forbidden global."""


def _truncated(path: Path) -> None:
    Checkpointer(path=path, objects={"model": nn.Linear(2, 1)}).save(epoch=1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_torch_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a tensor")


CORRUPTIONS = {
    "empty": lambda p: p.write_bytes(b""),
    "random": lambda p: p.write_bytes(os.urandom(512)),
    "truncated": _truncated,
    "forbidden-global": lambda p: torch.save({"format": 1, "evil": _Foreign()}, p),
    "zip-not-torch": _not_torch_zip,
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
@pytest.mark.parametrize("reader", ["checkpointer", "load_torch_file"])
def test_every_corrupt_file_is_a_clear_checkpoint_error(
    tmp_path: Path, kind: str, reader: str
) -> None:
    path = tmp_path / "checkpoint.pt"
    CORRUPTIONS[kind](path)
    with pytest.raises(CheckpointError) as info:
        if reader == "checkpointer":
            Checkpointer(path=path, objects={"model": nn.Linear(2, 1)}).load()
        else:
            load_torch_file(path, what="quality classifier")
    message = str(info.value)
    assert str(path) in message and info.value.path == path
    assert "weights_only" not in message and "WeightsUnpickler" not in message
    assert len(message.splitlines()) == 1


def test_resume_from_a_corrupt_checkpoint_names_it_and_keeps_it(tmp_path: Path) -> None:
    _train(tmp_path, epochs=1)
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty") as info:
        _train(tmp_path, epochs=2, resume=True)
    assert str(tmp_path / "checkpoint.pt") in str(info.value) and "--overwrite" in str(info.value)
