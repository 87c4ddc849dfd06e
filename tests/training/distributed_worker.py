"""One rank of the data-parallel test scenarios (run under ``torch.distributed.run``).

``python -m torch.distributed.run --nproc-per-node 2 ... distributed_worker.py OUT`` runs every
scenario in one process group (imports and rendezvous are paid once) and writes what each rank
saw into ``OUT``; ``tests/training/test_distributed.py`` makes the assertions. Scenarios:

* ``aer`` / ``torch``: the qnn workflow, 2 epochs, unequal shards (batch 13);
* ``fail``: the same aer run, but rank 1's forward raises in epoch 2; then the run is resumed
  with both ranks (``fail_resumed``);
* ``sgd``: :func:`~hybridqml.training.run_epochs` with SGD (scale-sensitive, unlike Adam);
  ``drift``: the same with the optimizer left out of ``stateful`` (must be detected);
* ``ddp``: a user's own ``DistributedDataParallel`` model holding a ``QuantumLayer``;
* ``batch``: one runtime-Batch stand-in shared by the ranks (rank 0 opens, rank 1 attaches);
* ``kill`` (a separate launch: ``distributed_worker.py OUT kill``): rank 1 dies outright in
  epoch 2;
* ``entropy``: each rank's entropy stream bytes (prng pure, aer expanded) and the merged
  provenance;
* ``evaluation``: :func:`evaluation_case` split over the ranks (each rank's forward sizes kept);
* ``budget``: :func:`budget_loop`, a shot budget that runs out in epoch 1 (the run's budget, not
  each rank's).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import torch
import torch.distributed as dist
from torch import nn

from hybridqml.circuits import variational
from hybridqml.entropy import EntropySettings, EntropyStream
from hybridqml.nn._layers import QuantumLayer
from hybridqml.training import gather_provenance, init_distributed, shutdown_distributed
from hybridqml.workflows import _qnn as qnn

SETTINGS = {"epochs": 2, "n_samples": 60, "batch_size": 13, "progress": False}
"""The qnn settings of every scenario (50 training points: batches 13, 13, 13, 11)."""
FAIL_AT_CALL = 7
"""Rank 1's forward call that raises in ``fail`` (epoch 1 makes 4 + 1 calls per model)."""
DDP_STEPS = 3


def ddp_model() -> nn.Module:
    """The user model of the DDP scenario (seeded by the caller)."""
    return nn.Sequential(nn.Linear(3, 2), QuantumLayer(variational(2, 1)), nn.Linear(2, 1))


def ddp_data() -> tuple[torch.Tensor, torch.Tensor]:
    """The global batch of the DDP scenario."""
    gen = torch.Generator().manual_seed(5)
    return torch.rand(8, 3, generator=gen), torch.rand(8, 1, generator=gen)


def train_ddp_reference() -> dict[str, torch.Tensor]:
    """One process, the whole batch: what the DDP scenario must reproduce."""
    torch.manual_seed(3)
    model = ddp_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    x, y = ddp_data()
    for _ in range(DDP_STEPS):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return model.state_dict()


def _ddp(out: Path, rank: int) -> None:
    from torch.nn.parallel import DistributedDataParallel

    torch.manual_seed(100 + rank)  # different inits on purpose: DDP broadcasts rank 0's
    if rank == 0:
        torch.manual_seed(3)
    model = DistributedDataParallel(ddp_model())
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    x, y = ddp_data()
    half = slice(4 * rank, 4 * rank + 4)
    for _ in range(DDP_STEPS):
        opt.zero_grad()
        nn.functional.mse_loss(model(x[half]), y[half]).backward()
        opt.step()
    torch.save(model.module.state_dict(), out / f"ddp_rank{rank}.pt")


def _entropy(out: Path, rank: int) -> None:
    records = {}
    for source, mode in (("prng", "pure"), ("aer", "expanded")):
        stream = EntropyStream(settings=EntropySettings(source=source, mode=mode), seed=11)
        chunks = []
        for epoch in (1, 2):
            stream.open_epoch(epoch)
            chunks.append(stream.read(4096))
        (out / f"entropy_{source}_rank{rank}.bin").write_bytes(b"".join(chunks))
        records[source] = gather_provenance(stream.provenance())
        stream.close()
    if rank == 0:
        (out / "entropy_provenance.json").write_text(json.dumps(records))


def sgd_loop(out_dir: Path | None, *, sync: bool = True) -> dict[str, torch.Tensor]:
    """:func:`run_epochs` with SGD on 13 points in batches of 5 (shards 3/2, 3/2, 2/1).

    ``sync=False`` leaves the optimizer out of the checkpointed objects (a user mistake: its
    gradients are then not all-reduced).
    """
    from torch.utils.data import TensorDataset

    from hybridqml.training import TrainConfig, make_loader, run_epochs

    gen = torch.Generator().manual_seed(9)
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
        config=TrainConfig(epochs=3, seed=2, out_dir=out_dir, progress=False),
        loader=make_loader(TensorDataset(x, y), batch_size=5, seed=2),
        step=step,
        stateful={"model": model, "optimizer": opt} if sync else {"model": model},
    )
    return {**model.state_dict(), "loss": torch.tensor([r["loss"] for r in result.history])}


def evaluation_case(*, distributed: bool) -> tuple[dict[str, object], list[int]]:
    """A fixed 3-class classifier evaluated on 23 points in batches of 10 (shards 5/5, 5/5, 2/1).

    Returns the evaluation (as plain data) and the batch sizes the model saw on this rank.
    """
    from torch.utils.data import TensorDataset

    from hybridqml.training import evaluate_classifier, make_loader

    gen = torch.Generator().manual_seed(12)
    x, y = torch.rand(23, 4, generator=gen), torch.randint(0, 3, (23,), generator=gen)
    torch.manual_seed(8)
    model = nn.Linear(4, 3)
    seen: list[int] = []
    model.register_forward_hook(lambda _m, args, _out: seen.append(len(args[0])))
    loader = make_loader(TensorDataset(x, y), batch_size=10, shuffle=False)
    ev = evaluate_classifier(model, loader, distributed=distributed)
    record = {
        "accuracy": ev.accuracy,
        "loss": ev.loss,
        "confusion_matrix": ev.confusion_matrix.tolist(),
        "n_samples": ev.n_samples,
    }
    return record, seen


BUDGET_SHOTS = 50
"""Shots per circuit of :func:`budget_loop`."""
BUDGET_STEP_SHOTS = 10 * BUDGET_SHOTS * (1 + 2 * 4)
"""Shots of one :func:`budget_loop` step: batch 10, forward + two shifts of 2 inputs + 2 weights."""
BUDGET_LIMIT = 2 * BUDGET_STEP_SHOTS + BUDGET_STEP_SHOTS // 2
"""Room for 2.5 steps: the run stops before step 3 of epoch 1."""


def budget_loop(out_dir: Path) -> dict[str, object]:
    """:func:`run_epochs` on a shot-based layer with ``max_shots=BUDGET_LIMIT``; how it stopped."""
    from torch.utils.data import TensorDataset

    from hybridqml.exceptions import BudgetExceededError
    from hybridqml.hardware._joblog import JOBS_NAME, job_totals, read_job_log
    from hybridqml.training import TrainConfig, make_loader, run_epochs

    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(2, 2), QuantumLayer(variational(2, 1), shots=BUDGET_SHOTS))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = TensorDataset(torch.rand(40, 2), torch.rand(40, 2))

    def step(batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(batch[0]), batch[1])
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    config = TrainConfig(epochs=2, seed=3, out_dir=out_dir, progress=False, max_shots=BUDGET_LIMIT)
    try:
        run_epochs(
            config=config,
            loader=make_loader(data, batch_size=10, seed=3),
            step=step,
            stateful={"model": model, "optimizer": opt},
        )
    except BudgetExceededError as err:
        if dist.is_initialized():
            dist.barrier()  # every rank's job-log lines are written
        return {
            "spent": err.spent,
            "stopped": str(err).split("Stopped ")[1].split(" with ")[0],
            "logged_shots": job_totals(read_job_log(out_dir / JOBS_NAME))["executed_shots"],
            "checkpoint": err.checkpoint is not None,
        }
    return {"spent": None}


class FakeBatch:
    """Stands in for a qiskit-ibm-runtime ``Batch`` (an id; opened or attached)."""

    opened: ClassVar[list[str]] = []

    def __init__(self, batch_id: str, *, attached: bool) -> None:
        self.session_id, self.attached = batch_id, attached
        if not attached:
            FakeBatch.opened.append(batch_id)


def _shared_batch(out: Path, rank: int) -> None:
    from hybridqml.training._collectives import share_from_main

    batch = share_from_main(
        lambda: FakeBatch(f"batch-from-pid-{os.getpid()}", attached=False),
        lambda batch_id: FakeBatch(batch_id, attached=True),
        key=lambda b: b.session_id,
    )
    record = {"id": batch.session_id, "attached": batch.attached, "opened": FakeBatch.opened}
    try:
        share_from_main(lambda: 1 / 0, lambda key: key, key=lambda obj: obj)
        record["failure"] = None
    except Exception as exc:
        record["failure"] = f"{type(exc).__name__}: {exc}"
    (out / f"batch_rank{rank}.json").write_text(json.dumps(record))


def _qnn(out: Path, name: str, **overrides: object) -> None:
    config = qnn.QNNConfig(out_dir=out / name, **{**SETTINGS, **overrides})
    qnn.train_qnn(config)


@contextlib.contextmanager
def _planted(rank: int, action: Callable[[], None]) -> Iterator[None]:
    """Inside the block, rank 1's ``FAIL_AT_CALL``-th ``HybridQNN`` forward call runs ``action``."""
    original = qnn.HybridQNN.forward
    calls = {"n": 0}

    def planted(self: nn.Module, points: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if rank == 1 and calls["n"] == FAIL_AT_CALL:
            action()
        return original(self, points)

    qnn.HybridQNN.forward = planted  # type: ignore[method-assign]
    try:
        yield
    finally:
        qnn.HybridQNN.forward = original  # type: ignore[method-assign]


def _raise_planted_failure() -> None:
    raise RuntimeError("planted failure on rank 1")


def _fail(out: Path, rank: int) -> None:
    try:
        with _planted(rank, _raise_planted_failure):
            _qnn(out, "fail")
        outcome = {"error": None}
    except Exception as exc:
        outcome = {"error": type(exc).__name__, "message": str(exc)}
    (out / f"fail_rank{rank}.json").write_text(json.dumps(outcome))
    dist.barrier()
    if rank == 0:  # what the failure left in the folder
        folder = out / "fail"
        (out / "fail_files.json").write_text(json.dumps(sorted(p.name for p in folder.iterdir())))
        (out / "fail_epoch1.pt").write_bytes((folder / "checkpoint.pt").read_bytes())
    dist.barrier()
    _qnn(out, "fail", resume=True)  # resumed with both ranks


def _killed(out: Path, rank: int) -> None:
    """Rank 1 dies outright (``os._exit``) in epoch 2; rank 0 records what it saw."""
    try:
        with _planted(rank, lambda: os._exit(9)):
            _qnn(out, "killed")
    except Exception as exc:
        folder = out / "killed"
        record = {
            "error": type(exc).__name__,
            "message": str(exc),
            "files": sorted(p.name for p in folder.iterdir()),
            "epoch": torch.load(folder / "checkpoint.pt", weights_only=True)["epoch"],
        }
        (out / f"killed_rank{rank}.json").write_text(json.dumps(record))
        raise


def main() -> None:
    out = Path(sys.argv[1])
    info = init_distributed()
    rank = info.rank
    if sys.argv[2:] == ["kill"]:
        _killed(out, rank)
        return
    try:
        (out / f"threads_rank{rank}.json").write_text(
            json.dumps({"threads": torch.get_num_threads(), "world": info.world_size})
        )
        _qnn(out, "aer", backend="aer")
        _qnn(out, "torch", backend="torch")
        torch.save(sgd_loop(out / "sgd"), out / f"sgd_rank{rank}.pt")
        try:
            sgd_loop(None, sync=False)
            drift = {"error": None}
        except Exception as exc:
            drift = {"error": type(exc).__name__, "message": str(exc)}
        (out / f"drift_rank{rank}.json").write_text(json.dumps(drift))
        _ddp(out, rank)
        _shared_batch(out, rank)
        _entropy(out, rank)
        evaluation, seen = evaluation_case(distributed=True)
        (out / f"evaluation_rank{rank}.json").write_text(json.dumps([evaluation, seen]))
        (out / f"budget_rank{rank}.json").write_text(json.dumps(budget_loop(out / "budget")))
        _fail(out, rank)
    except Exception:
        (out / f"crash_rank{rank}.txt").write_text(traceback.format_exc())
        raise
    finally:
        shutdown_distributed()


if __name__ == "__main__":
    main()
