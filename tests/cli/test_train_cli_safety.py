"""``hybridqml train`` never mixes, loses or silently reuses runs; errors are one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from workflow_testing import REPO_ROOT, read_metrics, unwritable_folder

from hybridqml.cli import main
from hybridqml.runs import LOCK_NAME, Checkpointer

# runs the CLI, but holds the first epoch until the gate file exists (a slow run, made exact)
_GATED = """
import pathlib, sys, time
import hybridqml.training._loop as loop
gate, original = pathlib.Path(sys.argv[1]), loop.run_epoch
def gated(*args, **kwargs):
    while not gate.exists():
        time.sleep(0.05)
    return original(*args, **kwargs)
loop.run_epoch = gated
from hybridqml.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _qnn(out: Path, *more: str) -> list[str]:
    return ["train", "qnn", "--out", str(out), "--samples", "48", "--no-progress", *more]


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(REPO_ROOT)}


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hybridqml: error:"), err
    return err[0]


# holds the lock of a folder (as a training run does) until the gate file exists
_HOLDER = """
import pathlib, sys, time
from hybridqml.runs import RunLock
gate = pathlib.Path(sys.argv[1])
with RunLock(sys.argv[2]):
    print("locked", flush=True)
    while not gate.exists():
        time.sleep(0.05)
"""


def test_a_folder_locked_by_another_process_is_refused_before_training(
    tmp_path, capsys, monkeypatch
) -> None:
    import hybridqml.workflows._qnn as qnn

    monkeypatch.setattr(qnn, "load_circles", lambda **_: pytest.fail("trained in a used folder"))
    out, gate = tmp_path / "run", tmp_path / "gate"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(gate), str(out)],
        cwd=REPO_ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert main(_qnn(out, "--epochs", "1")) == 1
        line = _one_error_line(capsys)
        assert "in use by another run" in line and f"pid {holder.pid}" in line
        assert str(out) in line and "--out" in line
    finally:
        gate.write_text("go")
        holder.communicate(timeout=60)
    assert holder.returncode == 0 and not (out / LOCK_NAME).exists()


@pytest.mark.slow
def test_two_processes_into_one_folder_second_fails_fast_first_finishes(tmp_path: Path) -> None:
    out, gate = tmp_path / "run", tmp_path / "gate"
    first = subprocess.Popen(
        [sys.executable, "-c", _GATED, str(gate), *_qnn(out, "--epochs", "2", "--seed", "1")],
        cwd=REPO_ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / LOCK_NAME).exists():
            assert first.poll() is None and time.monotonic() < deadline, first.stderr
            time.sleep(0.1)
        second = subprocess.run(
            [sys.executable, "-m", "hybridqml", *_qnn(out, "--epochs", "1", "--seed", "2")],
            cwd=REPO_ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert first.poll() is None  # the first run was still training when the second failed
    finally:
        gate.write_text("go")
        _, stderr = first.communicate(timeout=300)
    assert second.returncode == 1
    err = second.stderr.strip().splitlines()
    assert len(err) == 1 and "in use by another run" in err[0] and str(out) in err[0]
    assert f"pid {first.pid}" in err[0] and "Traceback" not in second.stderr
    assert first.returncode == 0, stderr
    metrics = read_metrics(out)
    assert metrics["seed"] == 1 and metrics["epochs_completed"] == 2
    assert Checkpointer(path=out / "checkpoint.pt", objects={}).exists()
    assert not (out / LOCK_NAME).exists()


def test_rerun_without_resume_is_refused_and_overwrite_replaces(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(_qnn(out, "--epochs", "1", "--seed", "1")) == 0
    before = (out / "metrics.json").read_bytes()
    capsys.readouterr()
    assert main(_qnn(out, "--epochs", "1", "--seed", "2")) == 1
    line = _one_error_line(capsys)
    assert str(out) in line and "--overwrite" in line and "--resume" in line
    assert (out / "metrics.json").read_bytes() == before
    assert main(_qnn(out, "--epochs", "1", "--seed", "2", "--overwrite")) == 0
    assert read_metrics(out)["seed"] == 2
    assert main(_qnn(out, "--epochs", "1", "--resume", "--overwrite")) == 1
    assert "exclude each other" in _one_error_line(capsys)


def test_resume_messages_no_checkpoint_and_fewer_epochs(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(_qnn(out, "--epochs", "2", "--resume")) == 1
    line = _one_error_line(capsys)
    assert str(out) in line and "drop --resume" in line
    assert not (out / "metrics.json").exists()
    assert main(_qnn(out, "--epochs", "2")) == 0
    capsys.readouterr()
    assert main(_qnn(out, "--epochs", "1", "--resume")) == 1
    assert "already has 2 completed epochs" in _one_error_line(capsys)
    assert read_metrics(out)["epochs_completed"] == 2


def test_a_corrupt_checkpoint_is_one_line_naming_the_file(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(_qnn(out, "--epochs", "1")) == 0
    (out / "checkpoint.pt").write_bytes(os.urandom(300))
    capsys.readouterr()
    assert main(_qnn(out, "--epochs", "2", "--resume")) == 1
    line = _one_error_line(capsys)
    assert str(out / "checkpoint.pt") in line and "weights_only" not in line


def test_unwritable_out_fails_at_once_with_one_line(tmp_path, capsys, monkeypatch) -> None:
    import hybridqml.workflows._qnn as qnn

    def no_training(**_: object) -> None:
        raise AssertionError("data loaded before the output folder was checked")

    monkeypatch.setattr(qnn, "load_circles", no_training)
    with unwritable_folder(tmp_path) as folder:
        assert main(_qnn(folder, "--epochs", "1")) == 1
        line = _one_error_line(capsys)
        assert str(folder) in line and "not writable" in line


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0"])
def test_non_finite_or_non_positive_lr_is_bad_usage(value, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", "qnn", "--out", "x", "--lr", value])
    assert info.value.code == 2
    assert "--lr" in capsys.readouterr().err


def test_non_finite_noise_std_is_bad_usage(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", "noisy-mlp", "--out", "x", "--noise-std", "nan"])
    assert info.value.code == 2 and "--noise-std" in capsys.readouterr().err


def test_a_diverging_gan_records_nan_quality_then_stops_with_a_loadable_checkpoint(
    tmp_path, capsys, monkeypatch
) -> None:
    import hybridqml.workflows._gan as gan

    calls = {"n": 0}
    forward = gan.Generator.forward

    def diverging(self, z):  # 1 batch + 1 evaluation per epoch; NaN from epoch 2's evaluation
        calls["n"] += 1
        images = forward(self, z)
        return images * float("nan") if calls["n"] > 3 else images

    monkeypatch.setattr(gan.Generator, "forward", diverging)
    out = tmp_path / "gan"
    argv = ["train", "gan", "--dataset", "digits", "--limit", "6", "--batch-size", "64"]
    argv += ["--eval-samples", "32", "--epochs", "3", "--entropy", "prng", "--no-progress"]
    assert main([*argv, "--out", str(out)]) == 1
    line = _one_error_line(capsys)
    # epoch 2: NaN images only in the evaluation: the Frechet distance is recorded as null
    # epoch 3: NaN images in training: the losses diverge and the run stops
    assert "diverged in epoch 3" in line and str(out / "checkpoint.pt") in line
    stored = torch.load(out / "checkpoint.pt", weights_only=True)
    assert stored["epoch"] == 2
    assert all(bool(torch.isfinite(t).all()) for t in stored["objects"]["generator"].values())
    metrics = read_metrics(out)
    assert metrics["diverged"]["epoch"] == 3 and "d_loss" in metrics["diverged"]["nonfinite"]
    fid = metrics["history"]["frechet_distance"]
    assert len(fid) == 2 and fid[0] is not None and fid[1] is None
