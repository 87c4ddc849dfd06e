"""One rank of the uneven-batch scenarios (run under ``torch.distributed.run``, 2 or 3 ranks).

``python -m torch.distributed.run --nproc-per-node N ... uneven_worker.py OUT [workflows]`` runs,
in one process group, data-parallel training whose batches do not split evenly over the ranks
(a last batch of ONE sample, so all ranks but one run a weight-0 shadow step), and writes what
each rank saw into ``OUT``; ``tests/training/test_uneven_ranks.py`` compares it with one process.

* ``sgd``: :func:`sgd_uneven` (13 points in batches of 6: 6, 6, 1), SGD (scale-sensitive);
* ``draws``: the first random numbers each rank draws in each epoch's first step;
* ``qnn``: the qnn workflow on the torch backend, 50 training points in batches of 7 (7 x 7 + 1);
* ``workflows`` (a separate 2-rank launch, slow): the entropy workflows noisy-mlp and gan and the
  textbook workflow, each with a last batch of 1 (36 = 5 x 7 + 1, 40 = 3 x 13 + 1 and
  9 = 2 x 4 + 1 training images).
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import torch
from torch import nn

from hybridqml.entropy import EntropySettings
from hybridqml.training import init_distributed, shutdown_distributed
from hybridqml.workflows import _qnn as qnn

QNN = {"epochs": 2, "n_samples": 60, "batch_size": 7, "progress": False, "backend": "torch"}
"""qnn settings: 50 training points in batches of 7 (the last has one point)."""
DRAW_SEED = 21


def sgd_uneven() -> dict[str, torch.Tensor]:
    """:func:`run_epochs` with SGD on 13 points in batches of 6 (6, 6, 1), 2 epochs."""
    from torch.utils.data import TensorDataset

    from hybridqml.training import TrainConfig, make_loader, run_epochs

    gen = torch.Generator().manual_seed(19)
    x, y = torch.rand(13, 3, generator=gen), torch.rand(13, 1, generator=gen)
    torch.manual_seed(4)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.3)

    def step(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(batch[0]), batch[1])
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    result = run_epochs(
        config=TrainConfig(epochs=2, seed=2, progress=False),
        loader=make_loader(TensorDataset(x, y), batch_size=6, seed=2),
        step=step,
        stateful={"model": model, "optimizer": opt},
    )
    return {**model.state_dict(), "loss": torch.tensor([r["loss"] for r in result.history])}


def draws() -> list[list[float]]:
    """``torch.rand(3)`` drawn in the first step of epochs 1 and 2 (seed :data:`DRAW_SEED`)."""
    from hybridqml.training import TrainConfig, run_epochs

    model = nn.Linear(1, 1)
    seen: list[list[float]] = []

    def step(batch: torch.Tensor) -> dict[str, float]:
        seen.append(torch.rand(3).tolist())
        return {"loss": 0.0}

    run_epochs(
        config=TrainConfig(epochs=2, seed=DRAW_SEED, progress=False),
        loader=[torch.ones(4, 1)],  # one batch per epoch
        step=step,
        stateful={"model": model},
    )
    return seen


def _workflows(out: Path, rank: int) -> None:
    from hybridqml.workflows import _gan as gan
    from hybridqml.workflows import _noisy_mlp as noisy
    from hybridqml.workflows import _textbook as textbook

    prng = EntropySettings(source="prng")
    records = {}
    result = noisy.train_noisy_mlp(
        noisy.NoisyMLPConfig(
            out_dir=out / "noisy",
            dataset="digits",
            epochs=1,
            limit_per_class=4,
            batch_size=7,
            progress=False,
            entropy=prng,
        )
    )
    records["noisy"] = result.history
    result = gan.train_gan(
        gan.GANConfig(
            out_dir=out / "gan",
            dataset="digits",
            epochs=1,
            limit_per_class=4,
            batch_size=13,
            eval_samples=20,
            classifier_epochs=1,
            progress=False,
            entropy=prng,
        )
    )
    records["gan"] = result.history
    result = textbook.train_textbook(
        textbook.TextbookConfig(
            out_dir=out / "textbook",
            dataset="digits",
            epochs=1,
            limit_per_class=5,
            batch_size=4,
            progress=False,
        )
    )
    records["textbook"] = result.history
    (out / f"workflows_rank{rank}.json").write_text(json.dumps(records))


def main() -> None:
    out = Path(sys.argv[1])
    info = init_distributed()
    rank = info.rank
    try:
        if sys.argv[2:] == ["workflows"]:
            _workflows(out, rank)
            return
        torch.save(sgd_uneven(), out / f"sgd_rank{rank}.pt")
        (out / f"draws_rank{rank}.json").write_text(json.dumps(draws()))
        qnn.train_qnn(qnn.QNNConfig(out_dir=out / "qnn", **QNN))
    except Exception:
        (out / f"crash_rank{rank}.txt").write_text(traceback.format_exc())
        raise
    finally:
        shutdown_distributed()


if __name__ == "__main__":
    main()
