"""Data-parallel runs whose batches do not split evenly: 2 and 3 ranks against one process.

Every launch has a last batch of ONE sample, so all ranks but one hold no sample of it and run a
weight-0 shadow step (``hybridqml.training._distributed``). ``uneven_worker.py`` runs the ranks
once per test session (a file lock shares the result between xdist workers); each test compares
what they wrote with a single-process run made here (the independent reference).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from _worker_runs import once_per_session, worker_env
from uneven_worker import DRAW_SEED, QNN, sgd_uneven

from hybridqml._validation import epoch_seed
from hybridqml.exceptions import ConfigurationError
from hybridqml.training import DataParallel, RankInfo, make_loader, shard_batch, shard_bounds
from hybridqml.workflows import _qnn as qnn

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("uneven_worker.py")
TOL = 1e-6


def _env() -> dict[str, str]:
    return worker_env()


def _once(factory: pytest.TempPathFactory, name: str, produce: Callable[[Path], None]) -> Path:
    """Run ``produce(folder)`` once per session, shared by the xdist workers."""
    return once_per_session(factory, f"uneven-{name}", produce)


def _launch(world: int, *args: str) -> Callable[[Path], None]:
    def produce(out: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes=1",
            f"--nproc-per-node={world}",
            "--rdzv-backend=c10d",
            "--rdzv-endpoint=127.0.0.1:0",
            str(WORKER),
            str(out),
            *args,
        ]
        proc = subprocess.run(
            command, cwd=out, env=_env(), capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"{command} failed:\n{proc.stdout}\n{proc.stderr}"

    return produce


# the 3-rank launch (two ranks idle on the last batch) is the default run's; the 2-rank one adds
# a launch (~20 s of CPU for imports and rendezvous), so it runs with the slow tests
@pytest.fixture(
    scope="session",
    params=[pytest.param(2, marks=pytest.mark.slow), 3],
    ids=["2-ranks", "3-ranks"],
)
def ranks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = request.param
    return _once(tmp_path_factory, f"world{world}", _launch(world))


@pytest.fixture(scope="session")
def single_qnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    def produce(out: Path) -> None:
        qnn.train_qnn(qnn.QNNConfig(out_dir=out / "qnn", **QNN))

    return _once(tmp_path_factory, "single", produce)


def _world(folder: Path) -> int:
    return len(list(folder.glob("sgd_rank*.pt")))


# ---------------------------------------------------------------------- single-process units
def test_a_batch_smaller_than_the_world_leaves_the_last_ranks_empty_shards() -> None:
    assert [shard_bounds(2, world_size=3, rank=r) for r in range(3)] == [(0, 1), (1, 2), (2, 2)]
    assert [shard_bounds(1, world_size=2, rank=r) for r in range(2)] == [(0, 1), (1, 1)]


def test_a_rank_without_a_sample_gets_a_shadow_sample_of_weight_zero() -> None:
    x, y = torch.tensor([[5.0], [6.0]]), torch.tensor([50, 60])
    assert shard_batch((x, y), world_size=3, rank=1)[1:] == (1, 2)
    shard, n_local, n_global = shard_batch((x, y), world_size=3, rank=2)
    assert (n_local, n_global) == (0, 2)  # weight 0: contributes nothing
    assert torch.equal(shard[0], x[:1]) and torch.equal(shard[1], y[:1])  # a real sample


@pytest.mark.parametrize(("size", "batch"), [(833, 32), (21, 10), (5, 1), (3, 64)])
def test_any_batch_size_is_accepted_up_to_one_rank_per_sample(size: int, batch: int) -> None:
    from torch.utils.data import TensorDataset

    parallel = DataParallel(stateful={}, seed=0)
    parallel.info = RankInfo(rank=0, world_size=3)
    parallel.check_loader(make_loader(TensorDataset(torch.zeros(size, 1)), batch_size=batch))


def test_more_ranks_than_training_samples_are_refused_with_the_fix() -> None:
    from torch.utils.data import TensorDataset

    parallel = DataParallel(stateful={}, seed=0)
    parallel.info = RankInfo(rank=0, world_size=4)
    loader = make_loader(TensorDataset(torch.zeros(3, 1)), batch_size=2)
    with pytest.raises(ConfigurationError, match=r"3 training samples .* at most 3 ranks"):
        parallel.check_loader(loader)


def _rank_draw(seed: int, epoch: int, rank: int) -> list[float]:
    """Written out: the loop reseeds torch from SeedSequence([epoch seed, rank]) per epoch."""
    words = np.random.SeedSequence([epoch_seed(seed, epoch) & 0xFFFFFFFF, rank])
    torch.manual_seed(int(words.generate_state(1)[0]))
    return torch.rand(3).tolist()


def test_each_rank_draws_from_its_own_seed(monkeypatch) -> None:
    """A rank dropped from the per-rank seed gives every rank the same dropout masks."""
    got = {}
    for rank in (0, 1):
        parallel = DataParallel(stateful={}, seed=DRAW_SEED)
        parallel.info = RankInfo(rank=rank, world_size=2)
        parallel.start_epoch(3)
        got[rank] = torch.rand(3).tolist()
        assert got[rank] == _rank_draw(DRAW_SEED, 3, rank)
    assert got[0] != got[1]


# ---------------------------------------------------------------------- N ranks vs 1 process
def test_uneven_batches_give_the_sgd_weights_and_losses_of_one_process(ranks: Path) -> None:
    """SGD sees the gradient scale: a shadow step that contributed would show here."""
    reference = sgd_uneven()
    for rank in range(_world(ranks)):
        got = torch.load(ranks / f"sgd_rank{rank}.pt", weights_only=True)
        assert got.keys() == reference.keys()
        for key, value in reference.items():
            assert torch.allclose(got[key], value, atol=TOL, rtol=0), (rank, key)


def test_uneven_batches_give_the_qnn_of_one_process(ranks: Path, single_qnn: Path) -> None:
    assert (QNN["n_samples"] - QNN["n_samples"] // 6) % QNN["batch_size"] == 1  # last batch: 1
    one = torch.load(single_qnn / "qnn" / "checkpoint.pt", weights_only=True)["objects"]
    many = torch.load(ranks / "qnn" / "checkpoint.pt", weights_only=True)["objects"]
    for name in ("hybrid", "classical"):
        for key, tensor in one[name].items():
            assert (tensor - many[name][key]).abs().max().item() < TOL, (name, key)
    h1 = json.loads((single_qnn / "qnn" / "metrics.json").read_text())["history"]
    hn = json.loads((ranks / "qnn" / "metrics.json").read_text())["history"]
    assert hn.keys() == h1.keys()
    for name in h1:
        assert hn[name] == pytest.approx(h1[name], abs=TOL), name


def test_ranks_draw_from_their_own_seeds_inside_the_loop(ranks: Path) -> None:
    world = _world(ranks)
    seen = [json.loads((ranks / f"draws_rank{r}.json").read_text()) for r in range(world)]
    for rank in range(world):
        expected = [_rank_draw(DRAW_SEED, epoch, rank) for epoch in (1, 2)]
        assert seen[rank] == expected, rank  # bitwise: the same generator, the same seed
    assert len({json.dumps(s) for s in seen}) == world  # all different


@pytest.fixture(scope="session")
def workflows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _once(tmp_path_factory, "workflows", _launch(2, "workflows"))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "batch"), [("noisy", 7), ("gan", 13), ("textbook", 4)])
def test_the_other_workflows_run_at_two_ranks_with_a_last_batch_of_one(
    workflows: Path, name: str, batch: int
) -> None:
    metrics = json.loads((workflows / name / "metrics.json").read_text())
    assert metrics["n_train"] % batch == 1
    rank0, rank1 = (
        json.loads((workflows / f"workflows_rank{r}.json").read_text())[name] for r in (0, 1)
    )
    # dropout and entropy noise differ per rank (as they must), so one process is no reference
    # here; every rank must report the run's metrics (GAN: rank 0's evaluation latents)
    assert rank0 == rank1
    assert all(math.isfinite(v) for v in rank0[-1].values())
    assert (workflows / name / "checkpoint.pt").is_file()
