"""The smallest training step the run-machinery tests share.

``sgd_step(model)`` gives the optimizer (for checkpoints) and a step that minimises the mean
square of ``model(batch[0])`` with plain SGD, returning ``{"loss": ...}`` as ``run_epochs``
expects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def sgd_step(
    model: nn.Module, lr: float = 0.1
) -> tuple[torch.optim.Optimizer, Callable[[Any], dict[str, float]]]:
    """(optimizer, step): one SGD step on ``model(batch[0]).pow(2).mean()``."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step(batch: Any) -> dict[str, float]:
        opt.zero_grad()
        loss = model(batch[0]).pow(2).mean()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    return opt, step
