"""Data-parallel training: 2 ranks on 127.0.0.1 (gloo) against 1 process.

The 2-rank scenarios run once per test session (``distributed_worker.py`` under
``torch.distributed.run``; a file lock shares the result between xdist workers) and the
``--nproc 2`` command once; each test then checks one property against an independent
single-process run made here.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import torch
from _worker_runs import once_per_session, worker_env
from distributed_worker import (
    BUDGET_LIMIT,
    BUDGET_STEP_SHOTS,
    SETTINGS,
    budget_loop,
    evaluation_case,
    sgd_loop,
    train_ddp_reference,
)

from hybridqml import _ranks
from hybridqml.entropy import EntropySettings, EntropyStream
from hybridqml.exceptions import ConfigurationError, DistributedError
from hybridqml.runs import RunLock, atomic_write, check_run_folder
from hybridqml.training import gather_provenance, shard_batch, shard_bounds
from hybridqml.training._distributed import threads_per_rank
from hybridqml.workflows import _qnn as qnn

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("distributed_worker.py")
TOL = 1e-6


def _env() -> dict[str, str]:
    return worker_env()


def _once(factory: pytest.TempPathFactory, name: str, produce: Callable[[Path], None]) -> Path:
    """Run ``produce(folder)`` once per session, shared by the xdist workers."""
    return once_per_session(factory, f"distributed-{name}", produce)


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, f"{command} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _torchrun(*args: str, launcher: tuple[str, ...] = ()) -> list[str]:
    """``distributed_worker.py args`` on 2 ranks under ``torch.distributed.run`` (127.0.0.1)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc-per-node=2",
        "--rdzv-backend=c10d",
        "--rdzv-endpoint=127.0.0.1:0",
        *launcher,
        str(WORKER),
        *args,
    ]


@pytest.fixture(scope="session")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Path:
    def produce(out: Path) -> None:
        _run(_torchrun(str(out)), out)

    return _once(tmp_path_factory, "scenarios", produce)


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    def produce(out: Path) -> None:
        proc = _run(
            [
                sys.executable,
                "-m",
                "hybridqml",
                "train",
                "qnn",
                "--nproc",
                "2",
                "--out",
                str(out / "run"),
                "--epochs",
                str(SETTINGS["epochs"]),
                "--samples",
                str(SETTINGS["n_samples"]),
                "--batch-size",
                str(SETTINGS["batch_size"]),
                "--no-progress",
                "--tensorboard",
                str(out / "tb"),
            ],
            out,
        )
        (out / "stdout.txt").write_text(proc.stdout)

    return _once(tmp_path_factory, "cli", produce)


@pytest.fixture(scope="session")
def single(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same qnn runs in one process (the reference)."""

    def produce(out: Path) -> None:
        for backend in ("aer", "torch"):
            qnn.train_qnn(qnn.QNNConfig(out_dir=out / backend, backend=backend, **SETTINGS))

    return _once(tmp_path_factory, "single", produce)


def _objects(path: Path) -> dict[str, Mapping[str, torch.Tensor]]:
    return torch.load(path, weights_only=True)["objects"]


def _max_difference(a: Path, b: Path, names: tuple[str, ...] = ("hybrid", "classical")) -> float:
    one, two = _objects(a), _objects(b)
    worst = 0.0
    for name in names:
        assert one[name].keys() == two[name].keys()
        for key, tensor in one[name].items():
            worst = max(worst, (tensor - two[name][key]).abs().max().item())
    return worst


def _history(path: Path) -> dict[str, list[float]]:
    return json.loads(path.read_text())["history"]


# ---------------------------------------------------------------------- single-process units
def test_shards_cover_the_batch_in_order_with_sizes_differing_by_at_most_one() -> None:
    for n in (2, 5, 13, 64):
        for world in (1, 2, 3):
            if n < world:
                continue
            bounds = [shard_bounds(n, world_size=world, rank=r) for r in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
            sizes = [stop - start for start, stop in bounds]
            assert max(sizes) - min(sizes) <= 1


def test_shard_batch_slices_every_tensor_alike() -> None:
    x, y = torch.arange(5), torch.arange(5) * 10
    shard, n_local, n_global = shard_batch({"x": x, "y": [y]}, world_size=2, rank=0)
    assert torch.equal(shard["x"], x[:3]) and torch.equal(shard["y"][0], y[:3])
    assert (n_local, n_global) == (3, 5)
    with pytest.raises(ConfigurationError, match="different first dimensions"):
        shard_batch((x, torch.arange(4)), world_size=2, rank=0)


def test_threads_per_rank_splits_the_cores() -> None:
    assert threads_per_rank(2, cores=2) == 1
    assert threads_per_rank(3, cores=8) == 2
    assert threads_per_rank(4, cores=2) == 1


def test_only_rank_0_writes_locks_or_deletes(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(b"old")
    monkeypatch.setattr(_ranks, "rank", lambda: 1)
    atomic_write(tmp_path / "metrics.json", lambda h: h.write(b"{}"))
    assert not (tmp_path / "metrics.json").exists()
    with RunLock(tmp_path):
        assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
    check_run_folder(tmp_path, resume=False, overwrite=True, checkpoint_name="checkpoint.pt")
    assert (tmp_path / "checkpoint.pt").read_bytes() == b"old"
    monkeypatch.setattr(_ranks, "rank", lambda: 0)
    check_run_folder(tmp_path, resume=False, overwrite=True, checkpoint_name="checkpoint.pt")
    assert not (tmp_path / "checkpoint.pt").exists()


# uneven batches (a last batch smaller than the world): tests/training/test_uneven_ranks.py


@pytest.mark.parametrize(("rank", "shown"), [(0, True), (1, False)])
def test_progress_bars_only_on_rank_0(capsys, monkeypatch, rank: int, shown: bool) -> None:
    from hybridqml.training import TrainConfig, run_epochs

    monkeypatch.setattr(_ranks, "rank", lambda: rank)
    model = torch.nn.Linear(1, 1)
    run_epochs(
        config=TrainConfig(epochs=1, progress=True, desc="bar-test"),
        loader=[torch.ones(2, 1)],
        step=lambda batch: {"loss": model(batch).sum().item()},
        stateful={"model": model},
    )
    assert ("bar-test" in capsys.readouterr().err) is shown


def test_nproc_is_refused_inside_a_torchrun_launch(monkeypatch) -> None:
    from hybridqml.cli._distributed import launch

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigurationError, match="--nproc-per-node"):
        launch(2, ["train", "qnn", "--out", "x"])


# ---------------------------------------------------------------------- 2 ranks vs 1 process
@pytest.mark.parametrize("backend", ["aer", "torch"])
def test_two_ranks_give_the_weights_and_metrics_of_one_process(
    scenarios: Path, single: Path, backend: str
) -> None:
    two, one = scenarios / backend, single / backend
    assert _max_difference(two / "checkpoint.pt", one / "checkpoint.pt") < TOL
    h2, h1 = _history(two / "metrics.json"), _history(one / "metrics.json")
    assert h2.keys() == h1.keys()
    for name in h1:
        assert h2[name] == pytest.approx(h1[name], abs=TOL), name


def test_gradient_all_reduce_is_weighted_by_shard_size_under_sgd(scenarios: Path) -> None:
    """SGD (unlike Adam) sees the gradient's scale: unweighted or summed gradients fail here."""
    reference = sgd_loop(None)
    for rank in (0, 1):
        two = torch.load(scenarios / f"sgd_rank{rank}.pt", weights_only=True)
        for key, value in reference.items():
            assert torch.allclose(two[key], value, atol=TOL, rtol=0), (rank, key)


def test_weights_drifting_apart_across_ranks_are_detected(scenarios: Path) -> None:
    for rank in (0, 1):
        record = json.loads((scenarios / f"drift_rank{rank}.json").read_text())
        assert record["error"] == DistributedError.__name__
        assert "weights differ" in record["message"] and "stateful" in record["message"]


def test_ranks_use_their_share_of_the_cores(scenarios: Path) -> None:
    for rank in (0, 1):
        record = json.loads((scenarios / f"threads_rank{rank}.json").read_text())
        assert record == {"threads": threads_per_rank(2), "world": 2}


def test_quantum_layer_inside_a_users_own_ddp_model(scenarios: Path) -> None:
    reference = train_ddp_reference()
    for rank in (0, 1):
        trained = torch.load(scenarios / f"ddp_rank{rank}.pt", weights_only=True)
        assert trained.keys() == reference.keys()
        for key, value in reference.items():
            assert torch.allclose(trained[key], value, atol=TOL, rtol=0), (rank, key)


def test_ranks_share_one_runtime_batch_opened_by_rank_0(scenarios: Path) -> None:
    rank0 = json.loads((scenarios / "batch_rank0.json").read_text())
    rank1 = json.loads((scenarios / "batch_rank1.json").read_text())
    assert rank0["id"] == rank1["id"] and len(rank0["opened"]) == 1
    assert (rank0["attached"], rank1["attached"]) == (False, True)
    assert rank1["opened"] == []
    for record in (rank0, rank1):
        assert record["failure"].startswith("DistributedError: rank 0 could not create")
        assert "ZeroDivisionError" in record["failure"]


# ---------------------------------------------------------------------- failure and resume
def test_a_failing_rank_stops_the_run_with_a_clear_error_on_rank_0(scenarios: Path) -> None:
    rank0 = json.loads((scenarios / "fail_rank0.json").read_text())
    rank1 = json.loads((scenarios / "fail_rank1.json").read_text())
    assert rank0["error"] == DistributedError.__name__
    assert "rank(s) 1 of 2 failed" in rank0["message"]
    assert "planted failure on rank 1" in rank0["message"]
    assert "--resume" in rank0["message"]
    assert rank1 == {"error": "RuntimeError", "message": "planted failure on rank 1"}


def test_the_failure_leaves_the_last_complete_checkpoint_and_no_partial_file(
    scenarios: Path,
) -> None:
    files = json.loads((scenarios / "fail_files.json").read_text())
    assert "checkpoint.pt" in files
    assert not [f for f in files if f.endswith(".hybridqml-tmp") or f == ".hybridqml.lock"]
    checkpoint = torch.load(scenarios / "fail_epoch1.pt", weights_only=True)
    assert checkpoint["epoch"] == 1


def test_two_ranks_resumed_after_the_failure_equal_the_uninterrupted_run(scenarios: Path) -> None:
    resumed, uninterrupted = (
        scenarios / "fail" / "checkpoint.pt",
        scenarios / "aer" / "checkpoint.pt",
    )
    assert torch.load(resumed, weights_only=True)["epoch"] == SETTINGS["epochs"]
    assert _max_difference(resumed, uninterrupted) == 0.0
    optimizers = ("hybrid_optimizer", "classical_optimizer")
    one, two = _objects(resumed), _objects(uninterrupted)
    for name in optimizers:
        for index, state in one[name]["state"].items():
            for key, value in state.items():
                assert torch.equal(value, two[name]["state"][index][key]), (name, key)


def test_a_two_rank_checkpoint_resumes_on_one_process(
    scenarios: Path, single: Path, tmp_path: Path
) -> None:
    out = tmp_path / "resumed"
    out.mkdir()
    shutil.copy(scenarios / "fail_epoch1.pt", out / "checkpoint.pt")
    qnn.train_qnn(qnn.QNNConfig(out_dir=out, resume=True, **SETTINGS))
    assert _max_difference(out / "checkpoint.pt", single / "aer" / "checkpoint.pt") < TOL


@pytest.mark.slow
def test_a_killed_rank_stops_rank_0_with_a_clear_error_and_an_intact_checkpoint(
    tmp_path: Path,
) -> None:
    # --monitor-interval: let rank 0 reach its next collective before torchrun stops it (with
    # the default interval torchrun may terminate it first)
    command = _torchrun(str(tmp_path), "kill", launcher=("--monitor-interval=10",))
    proc = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    record = json.loads((tmp_path / "killed_rank0.json").read_text())
    assert record["error"] == DistributedError.__name__
    assert "lost contact with the other ranks" in record["message"]
    assert "--resume" in record["message"]
    assert record["epoch"] == 1
    assert not [f for f in record["files"] if f.endswith(".hybridqml-tmp")]


# ---------------------------------------------------------------------- entropy across ranks
def _windows(data: bytes, width: int = 8) -> set[bytes]:
    return {data[i : i + width] for i in range(len(data) - width + 1)}


@pytest.mark.parametrize("source", ["prng", "aer"])
def test_ranks_consume_disjoint_entropy(scenarios: Path, source: str) -> None:
    rank0 = (scenarios / f"entropy_{source}_rank0.bin").read_bytes()
    rank1 = (scenarios / f"entropy_{source}_rank1.bin").read_bytes()
    assert len(rank0) == len(rank1) == 8192
    assert not _windows(rank0) & _windows(rank1)


def test_seeded_entropy_is_reproducible_for_a_given_world_size(
    scenarios: Path, monkeypatch
) -> None:
    monkeypatch.setattr(_ranks, "world_size", lambda: 2)
    single_process = None
    for rank in (0, 1):
        monkeypatch.setattr(_ranks, "rank", lambda rank=rank: rank)
        stream = EntropyStream(settings=EntropySettings(source="prng", mode="pure"), seed=11)
        data = b""
        for epoch in (1, 2):
            stream.open_epoch(epoch)
            data += stream.read(4096)
        stream.close()
        assert data == (scenarios / f"entropy_prng_rank{rank}.bin").read_bytes()
    monkeypatch.setattr(_ranks, "world_size", lambda: 1)
    monkeypatch.setattr(_ranks, "rank", lambda: 0)
    stream = EntropyStream(settings=EntropySettings(source="prng", mode="pure"), seed=11)
    stream.open_epoch(1)
    single_process = stream.read(4096)
    stream.close()
    for rank in (0, 1):
        assert not _windows(single_process) & _windows(
            (scenarios / f"entropy_prng_rank{rank}.bin").read_bytes()
        )


def test_per_rank_provenance_is_merged(scenarios: Path) -> None:
    # written out: each rank reads 2 epochs x 4096 bytes; pure prng reads them from the source,
    # expanded aer one 32-byte seed per epoch (merging with unequal ranks: test_provenance_merge)
    expected_source = {"prng": 2 * 2 * 4096, "aer": 2 * 2 * 32}
    records = json.loads((scenarios / "entropy_provenance.json").read_text())
    for source in ("prng", "aer"):
        merged = records[source]
        assert merged["world_size"] == 2
        assert [r["rank"] for r in merged["ranks"]] == [0, 1]
        assert [r["delivered_bytes"] for r in merged["ranks"]] == [8192, 8192]
        assert merged["delivered_bytes"] == 16384
        assert merged["source_bytes"] == expected_source[source]
        assert merged["source_to_delivered"] == expected_source[source] / 16384
    assert gather_provenance({"delivered_bytes": 3}) == {"delivered_bytes": 3}


# ---------------------------------------------------------------------- the command line
def test_train_nproc_2_end_to_end(cli_run: Path, single: Path) -> None:
    stdout = (cli_run / "stdout.txt").read_text()
    assert stdout.count("qnn: hybrid_test_accuracy") == 1  # rank 0 prints, rank 1 does not
    run = cli_run / "run"
    for name in ("checkpoint.pt", "metrics.json", "curves.png", "decision_boundary_hybrid.png"):
        assert (run / name).is_file(), name
    assert not list(run.glob("*.hybridqml-tmp"))
    assert _max_difference(run / "checkpoint.pt", single / "aer" / "checkpoint.pt") < TOL


def test_train_nproc_2_tensorboard_is_written_by_rank_0_only(cli_run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events_file,) = (cli_run / "tb").iterdir()  # one writer: rank 0
    assert events_file.name.startswith("events.out.tfevents")
    events = EventAccumulator(str(cli_run / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    metrics = json.loads((cli_run / "run" / "metrics.json").read_text())
    steps = SETTINGS["epochs"] * math.ceil(metrics["n_train"] / SETTINGS["batch_size"])
    assert [e.step for e in events.Scalars("step/hybrid_loss")] == list(range(1, steps + 1))


def test_a_shot_budget_is_the_runs_and_stops_every_rank_where_one_process_stops(
    scenarios: Path, tmp_path: Path
) -> None:
    one = budget_loop(tmp_path / "one")  # the same loop in this process
    assert one["spent"] == 2 * BUDGET_STEP_SHOTS <= BUDGET_LIMIT  # stopped before step 3
    assert one["stopped"] == "before step 3 of epoch 1"
    for rank in (0, 1):
        got = json.loads((scenarios / f"budget_rank{rank}.json").read_text())
        # both ranks' shots counted: each rank alone spent about half, and would run on
        assert got["spent"] == one["spent"] and got["stopped"] == one["stopped"]
        assert got["logged_shots"] == one["spent"]  # the shared job log: both ranks' calls
    assert json.loads((scenarios / "budget_rank0.json").read_text())["checkpoint"]


def test_an_evaluation_is_split_over_the_ranks_and_equals_one_process(scenarios: Path) -> None:
    whole, seen = evaluation_case(distributed=False)  # one process: every point, every batch
    assert seen == [10, 10, 3]
    shards = {0: [5, 5, 2], 1: [5, 5, 1]}  # contiguous shards of 10, 10, 3
    for rank in (0, 1):
        got, rank_seen = json.loads((scenarios / f"evaluation_rank{rank}.json").read_text())
        assert rank_seen == shards[rank]  # each point evaluated once, on one rank
        assert got["confusion_matrix"] == whole["confusion_matrix"]
        assert got["n_samples"] == whole["n_samples"] == 23
        assert got["accuracy"] == whole["accuracy"]
        assert abs(got["loss"] - whole["loss"]) < 1e-6  # float32 loss means per shard
