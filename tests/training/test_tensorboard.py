"""TensorBoard logging: read back with tensorboard's own EventAccumulator."""

import io
import json
import math
import sys

import numpy as np
import pytest
from matplotlib import pyplot as plt
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from hybridqml.cli import main
from hybridqml.exceptions import MissingDependencyError
from hybridqml.training import EndEvent, StepEvent, TensorBoardLogger


def _events(log_dir):
    accumulator = EventAccumulator(
        str(log_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0}
    )
    accumulator.Reload()
    return accumulator


def _text(accumulator, tag):
    event = accumulator.Tensors(f"{tag}/text_summary")[-1]  # the last session's
    return event.tensor_proto.string_val[0].decode()


def _hparams(accumulator):
    content = accumulator.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    return dict(data.session_start_info.hparams)


def test_train_qnn_tensorboard_writes_the_documented_tags_and_a_resume_appends(tmp_path):
    out, log_dir = tmp_path / "qnn", tmp_path / "tb"
    args = ["train", "qnn", "--out", str(out), "--tensorboard", str(log_dir), "--no-progress"]
    args += ["--samples", "16", "--batch-size", "8", "--qubits", "2", "--layers", "1"]
    assert main([*args, "--epochs", "1"]) == 0
    assert main([*args, "--epochs", "2", "--resume"]) == 0  # appends to the same folder
    metrics = json.loads((out / "metrics.json").read_text())
    history = metrics["history"]  # columns, written by the loop
    events = _events(log_dir)
    per_epoch = math.ceil(metrics["n_train"] / 8)  # from the data size, not from the logger
    losses = events.Scalars("step/hybrid_loss")
    assert [e.step for e in losses] == list(range(1, 2 * per_epoch + 1))  # each step once
    for epoch in (1, 2):  # the per-step values average to metrics.json's epoch record
        chunk = [e.value for e in losses[(epoch - 1) * per_epoch : epoch * per_epoch]]
        assert np.mean(chunk) == pytest.approx(history["hybrid_loss"][epoch - 1], rel=1e-5)
    accuracy = events.Scalars("epoch/hybrid_test_accuracy")
    assert [e.step for e in accuracy] == [per_epoch, 2 * per_epoch]
    assert [e.value for e in accuracy] == pytest.approx(history["hybrid_test_accuracy"], rel=1e-6)
    assert [e.value for e in events.Scalars("epoch/epoch")] == [1.0, 2.0]
    assert events.Scalars("hparam/hybrid_test_accuracy")[-1].value == pytest.approx(
        metrics["hybrid_test_accuracy"], rel=1e-6
    )
    for name in ("curves", "decision_boundary_hybrid", "decision_boundary_classical"):
        images = events.Images(f"images/{name}")
        assert [i.step for i in images] == [per_epoch, 2 * per_epoch]  # one per session
        with Image.open(out / f"{name}.png") as png:
            assert (images[-1].width, images[-1].height) == png.size
    assert _text(events, "run/backend") == "```\naer\n```"
    assert _text(events, "run/workflow") == "```\nqnn\n```"
    config = json.loads(_text(events, "run/config").strip("`\n"))
    assert config == metrics["config"]
    hparams = _hparams(events)
    assert hparams["lr"].number_value == pytest.approx(metrics["config"]["lr"])
    assert hparams["backend"].string_value == "aer"
    assert hparams["n_samples"].number_value == 16


def test_a_resume_hides_the_steps_logged_after_the_checkpoint(tmp_path):
    first = TensorBoardLogger(tmp_path)
    for step in range(1, 6):  # the crashed session logged steps 1..5
        first.on_step(StepEvent(epoch=1, step=step, global_step=step, metrics={"loss": 1.0}))
    first._writer.close()
    second = TensorBoardLogger(tmp_path)  # its checkpoint held 3 steps: resumes at step 4
    for step in range(4, 7):
        second.on_step(StepEvent(epoch=1, step=step, global_step=step, metrics={"loss": 2.0}))
    second._writer.close()
    scalars = _events(tmp_path).Scalars("step/loss")
    assert [(e.step, e.value) for e in scalars] == [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2)]


def _png(path, color, size):
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, np.broadcast_to(np.array(color, dtype=float), (*size, 3)))
    return path


def test_figures_grids_and_entropy_at_the_end(tmp_path):
    out = tmp_path / "run"
    curves = _png(out / "curves.png", (1.0, 0.0, 0.0), (7, 5))
    grid = _png(out / "grids" / "epoch_003.png", (0.0, 0.0, 1.0), (4, 6))
    provenance = {"source": "aer", "kind": "simulated-quantum", "bytes_delivered": 96}
    logger = TensorBoardLogger(tmp_path / "tb")
    logger.on_end(
        EndEvent(
            epochs_completed=3,
            global_step=12,
            history=({"epoch": 3, "loss": 0.5},),
            final={"loss": 0.5},
            objects={},
            run_config={"lr": 0.1},
            out_dir=out,
            figures=(curves, grid),
            info={"entropy": provenance},
        )
    )
    events = _events(tmp_path / "tb")
    (red,) = events.Images("images/curves")
    (blue,) = events.Images("images/grids")
    assert (red.step, blue.step) == (12, 3)  # a grid at its epoch
    pixels = np.asarray(Image.open(io.BytesIO(red.encoded_image_string)))
    assert pixels.shape == (7, 5, 3) and (pixels == [255, 0, 0]).all()
    pixels = np.asarray(Image.open(io.BytesIO(blue.encoded_image_string)))
    assert pixels.shape == (4, 6, 3) and (pixels == [0, 0, 255]).all()
    assert json.loads(_text(events, "run/entropy").strip("`\n")) == provenance
    assert json.loads(_text(events, "run/config").strip("`\n")) == {"lr": 0.1}
    assert _hparams(events)["lr"].number_value == 0.1


def test_missing_tensorboard_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(MissingDependencyError, match=r"hybridqml\[tensorboard\]"):
        TensorBoardLogger("unused")
