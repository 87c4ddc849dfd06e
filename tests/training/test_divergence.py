"""A diverged run stops with DivergenceError; the last good checkpoint stays loadable."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from hybridqml.exceptions import DivergenceError
from hybridqml.runs import Checkpointer
from hybridqml.training import BEST_NAME, TrainConfig, fit_classifier, make_loader, run_epochs


def _run(out: Path, *, poison: str, at_epoch: int = 2) -> tuple[nn.Module, dict[str, int]]:
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = {"epoch": 0, "batches": 0}

    def step(batch: Any) -> dict[str, float]:
        opt.zero_grad()
        loss = model(batch[0]).pow(2).mean()
        loss.backward()
        opt.step()
        seen["batches"] += 1  # 2 batches per epoch
        if poison == "loss" and seen["batches"] > 2 * (at_epoch - 1):
            return {"loss": float("nan")}
        if poison == "weights" and seen["batches"] == 2 * at_epoch:  # after the epoch's last loss
            with torch.no_grad():
                model.weight.fill_(float("inf"))
        return {"loss": loss.item()}

    def evaluate(epoch: int) -> dict[str, float]:
        seen["epoch"] = epoch
        return {"val": 0.0}

    run_epochs(
        config=TrainConfig(epochs=3, out_dir=out, progress=False),
        loader=make_loader(TensorDataset(torch.ones(4, 2)), batch_size=2),
        step=step,
        stateful={"model": model, "optimizer": opt},
        evaluate=evaluate,
    )
    return model, seen


@pytest.mark.parametrize("poison", ["loss", "weights"])
def test_divergence_stops_the_loop_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, poison: str
) -> None:
    with pytest.raises(DivergenceError) as info:
        _run(tmp_path, poison=poison)
    err = info.value
    assert err.epoch == 2 and err.checkpoint == tmp_path / "checkpoint.pt"
    assert "epoch 2" in str(err) and "keeps epoch 1" in str(err) and "--overwrite" in str(err)
    restored = nn.Linear(2, 1)
    stored = Checkpointer(path=err.checkpoint, objects={"model": restored, "optimizer": _opt()})
    assert stored.load(restore_rng=False).epoch == 1
    assert all(bool(torch.isfinite(t).all()) for t in restored.state_dict().values())
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 1 and len(metrics["history"]["loss"]) == 1
    assert metrics["diverged"]["epoch"] == 2 and metrics["diverged"]["nonfinite"]


def _opt() -> torch.optim.Optimizer:
    return torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)


def test_divergence_in_the_first_epoch_writes_no_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(DivergenceError, match="no checkpoint") as info:
        _run(tmp_path, poison="loss", at_epoch=1)
    assert info.value.checkpoint is None and not (tmp_path / "checkpoint.pt").exists()


def test_a_huge_learning_rate_diverges_with_a_clear_error_and_best_pt_intact(
    tmp_path: Path,
) -> None:
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    data = TensorDataset(x * 1e10, (x[:, 0] > 0).long())
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    with pytest.raises(DivergenceError) as info:
        fit_classifier(
            model=model,
            train_loader=make_loader(data, batch_size=16),
            test_loader=make_loader(data, shuffle=False),
            optimizer=torch.optim.SGD(model.parameters(), lr=1e30),
            config=TrainConfig(epochs=5, out_dir=tmp_path, progress=False),
        )
    best = tmp_path / BEST_NAME
    if best.exists():  # written by a good epoch only: finite weights
        state = torch.load(best, weights_only=True)
        assert all(bool(torch.isfinite(t).all()) for t in state.values())
    assert math.isfinite(json.loads((tmp_path / "metrics.json").read_text())["seed"])
    assert info.value.epoch >= 1
