"""Every workflow interrupted right after a mid-epoch checkpoint resumes to the same weights."""

from __future__ import annotations

import pytest
import torch
from workflow_testing import assert_same_state

from hybridqml.entropy import EntropySettings
from hybridqml.runs import Checkpointer
from hybridqml.workflows._registry import get_workflow


class Interrupted(BaseException):
    """Stands for a kill: nothing may catch it."""


def _settings(name, out, **more):
    workflow = get_workflow(name)
    settings = {
        "out_dir": out,
        "seed": 4,
        "progress": False,
        **workflow.demo,
        **workflow.quick_demo,
    }
    if "mnist" in workflow.traits:
        settings |= {"dataset": "digits", "data_dir": None}
    if "entropy" in workflow.traits:
        settings["entropy"] = EntropySettings(source="prng", mode="expanded")
    if name == "qnn":
        settings |= {"shots": 64}  # seeded shot noise must continue exactly too
    settings |= {"epochs": 2, "batch_size": 4}  # several steps per epoch
    return workflow, settings | more


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("textbook", marks=pytest.mark.slow),  # fit_classifier: as noisy-mlp
        "noisy-mlp",  # entropy noise: the stream skips the epoch's used bytes
        pytest.param("qnn", marks=pytest.mark.slow),  # seeded shots (tests/training covers them)
        pytest.param("gan", marks=pytest.mark.slow),
    ],
)
def test_interrupted_after_a_mid_epoch_checkpoint_resumes_exactly(name, tmp_path, monkeypatch):
    workflow, full = _settings(name, tmp_path / "full")
    workflow.train(workflow.make_config(**full))
    original = Checkpointer.save
    saves = []

    def save_then_die(self, **kwargs):
        path = original(self, **kwargs)
        if (kwargs.get("extra") or {}).get("progress", {}).get("epoch") == 2:
            saves.append(kwargs["extra"]["progress"]["step"])
            raise Interrupted
        return path

    _, cut = _settings(name, tmp_path / "cut", checkpoint_every=1)
    monkeypatch.setattr(Checkpointer, "save", save_then_die)
    with pytest.raises(Interrupted):
        workflow.train(workflow.make_config(**cut))
    monkeypatch.setattr(Checkpointer, "save", original)
    assert saves == [1]  # stopped after step 1 of epoch 2
    workflow.train(workflow.make_config(**cut, resume=True))
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    assert_same_state(a["objects"], b["objects"], "objects")
    assert a["history"] == b["history"]
