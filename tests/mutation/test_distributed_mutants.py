"""DataParallel's arithmetic on one rank of a written-out world (fast; per-mutant friendly).

``torch.distributed`` is replaced by :class:`Peers`: rank ``rank`` of ``world`` ranks whose
other ranks' contributions to each ``all_reduce`` are given in the test, so reduced gradients,
metrics and seeds are compared with sums computed by hand. The real multi-process runs are in
tests/training/test_distributed.py.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from hybridqml import _ranks
from hybridqml._validation import epoch_seed
from hybridqml.exceptions import DistributedError, InputError
from hybridqml.training import _collectives
from hybridqml.training import _distributed as D

SUM, MIN, MAX = "sum", "min", "max"


class Peers:
    """``torch.distributed`` seen from one rank; ``others`` = what the other ranks reduce in."""

    def __init__(self, rank: int, world: int) -> None:
        self.rank, self.world = rank, world
        self.others: list[torch.Tensor] = []  # queue: one tensor per non-flag all_reduce
        self.ops: list[str] = []
        self.broadcasts: list[torch.Tensor] = []
        self.ReduceOp = types.SimpleNamespace(SUM=SUM, MIN=MIN, MAX=MAX)

    def is_available(self):
        return True

    def is_initialized(self):
        return True

    def get_world_size(self):
        return self.world

    def get_rank(self):
        return self.rank

    def all_reduce(self, tensor, op=None):
        if tensor.dtype == torch.int64 and tensor.shape == (1,):
            return  # "did anyone fail?": nobody did
        self.ops.append(op)
        other = self.others.pop(0)
        if op == SUM:
            tensor += other
        elif op == MIN:
            tensor.copy_(torch.minimum(tensor, other))
        elif op == MAX:
            tensor.copy_(torch.maximum(tensor, other))
        else:
            raise AssertionError(op)

    def all_gather_object(self, out, obj):
        out[:] = [obj if r == self.rank else None for r in range(self.world)]  # peers healthy

    def broadcast(self, tensor, src):
        assert src == 0
        self.broadcasts.append(tensor)
        tensor.fill_(7.0)  # rank 0's value


@pytest.fixture
def peers(monkeypatch):
    def make(rank=1, world=2):
        fake = Peers(rank, world)
        for module in (D, _collectives, _ranks):
            monkeypatch.setattr(module, "dist", fake)
        return fake

    return make


def test_rank_info_reads_the_group_and_the_local_environment(peers, monkeypatch):
    peers(rank=3, world=4)
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    info = D.rank_info()
    assert info == D.RankInfo(rank=3, world_size=4, local_rank=1, local_world_size=2)
    assert not info.is_main
    monkeypatch.delenv("LOCAL_RANK")
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    assert D.rank_info() == D.RankInfo(rank=3, world_size=4, local_rank=3, local_world_size=4)
    assert D.RankInfo().is_main and D.RankInfo(rank=0, world_size=3).is_main


def test_an_unknown_core_count_counts_as_one(monkeypatch):
    monkeypatch.setattr(D.os, "cpu_count", lambda: None)
    assert D.threads_per_rank(1) == 1


def test_threads_per_rank_divides_the_cores():
    assert D.threads_per_rank(3, cores=8) == 2
    assert D.threads_per_rank(1, cores=5) == 5
    assert D.threads_per_rank(0, cores=4) == 4  # a nonsense local world counts as one rank
    assert D.threads_per_rank(8, cores=2) == 1
    import os

    assert D.threads_per_rank(1) == (os.cpu_count() or 1)


def test_init_without_torchrun_environment_is_one_process(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert D.init_distributed() == D.RankInfo()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("WORLD_SIZE")
    assert D.init_distributed() == D.RankInfo()


def test_a_failed_rendezvous_is_a_distributed_error_naming_the_address(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("MASTER_ADDR", "10.9.9.9")
    monkeypatch.setenv("MASTER_PORT", "29999")
    seen = {}

    def init_process_group(backend, timeout):
        seen.update(backend=backend, timeout=timeout.total_seconds())
        raise ValueError("no rendezvous")

    monkeypatch.setattr(D.dist, "init_process_group", init_process_group)
    with pytest.raises(DistributedError) as info:
        D.init_distributed(timeout=12.5)
    assert seen == {"backend": "gloo", "timeout": 12.5}
    assert str(info.value).startswith(
        "could not join the process group (gloo, MASTER_ADDR='10.9.9.9', MASTER_PORT='29999'): "
        "no rendezvous."
    )
    with pytest.raises(DistributedError):
        D.init_distributed(backend="gloo")
    assert seen["timeout"] == D.DEFAULT_TIMEOUT_SECONDS == 600.0


@pytest.mark.parametrize(
    ("n", "world", "expected"),
    [
        (7, 3, [(0, 3), (3, 5), (5, 7)]),
        (8, 3, [(0, 3), (3, 6), (6, 8)]),
        (6, 3, [(0, 2), (2, 4), (4, 6)]),
        (5, 5, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]),
        (1, 1, [(0, 1)]),
    ],
)
def test_shards_are_contiguous_and_the_larger_ones_first(n, world, expected):
    assert [D.shard_bounds(n, world_size=world, rank=r) for r in range(world)] == expected


def test_shard_batch_slices_nested_batches_and_keeps_other_values():
    x = torch.arange(5)
    batch = {"x": x, "pair": [x * 2, (x * 3,)], "tag": "keep"}
    shard, local, total = D.shard_batch(batch, world_size=2, rank=0)
    assert (local, total) == (3, 5)
    assert shard["x"].tolist() == [0, 1, 2]
    assert isinstance(shard["pair"], list) and isinstance(shard["pair"][1], tuple)
    assert shard["pair"][0].tolist() == [0, 2, 4]
    assert shard["pair"][1][0].tolist() == [0, 3, 6]
    assert shard["tag"] == "keep"
    one, local, total = D.shard_batch(x, world_size=3, rank=2)
    assert one.tolist() == [4] and (local, total) == (1, 5)


def test_a_batch_with_tensors_of_different_lengths_is_refused():
    with pytest.raises(Exception, match=r"different first dimensions \[2, 3\]"):
        D.shard_batch((torch.zeros(3), torch.zeros(2)), world_size=1, rank=0)


def test_rank_seeds_differ_per_rank_and_epoch_and_follow_the_seed_sequence():
    seeds = {(e, r): D._rank_seed(11, e, r) for e in (1, 2, 3) for r in (0, 1, 2)}
    assert len(set(seeds.values())) == 9  # no two (epoch, rank) pairs share a stream
    for (e, r), value in seeds.items():
        # written out: SeedSequence of (low 32 bits of the epoch seed, rank), one 32-bit word
        words = np.random.SeedSequence([epoch_seed(11, e) % 2**32, r]).generate_state(1)
        assert value == int(words[0]) and 0 <= value < 2**32
    assert D._rank_seed(12, 1, 0) != seeds[(1, 0)]


def test_start_epoch_reseeds_torch_per_rank(peers):
    peers(rank=1, world=2)
    par = D.DataParallel(stateful={}, seed=5)
    par.start_epoch(4)
    drawn = torch.rand(3)
    expected = torch.rand(3, generator=torch.Generator().manual_seed(D._rank_seed(5, 4, 1)))
    assert torch.equal(drawn, expected)


def test_start_epoch_on_one_process_leaves_the_generators_alone():
    par = D.DataParallel(stateful={}, seed=5)
    torch.manual_seed(99)
    par.start_epoch(4)
    assert torch.equal(torch.rand(2), torch.rand(2, generator=torch.Generator().manual_seed(99)))


def test_gradients_are_weighted_by_the_shard_and_summed_over_ranks(peers):
    fake = peers(rank=1, world=2)
    w32 = torch.nn.Parameter(torch.zeros(2, 2, dtype=torch.float32))
    w64 = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    unused = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w32, w64, unused], lr=1.0)
    with D.data_parallel(stateful={"opt": opt}, seed=0) as par:
        par.fraction = 0.25
        w32.grad = torch.tensor([[4.0, 8.0], [12.0, 16.0]])
        w64.grad = torch.tensor([2.0, 4.0, 6.0], dtype=torch.float64)
        # the other rank's weighted gradients, one flat vector per dtype
        fake.others = [
            torch.tensor([1.0, 1.0, 1.0, 1.0]),
            torch.tensor([10.0, 20.0, 30.0], dtype=torch.float64),
        ]
        opt.step()
        assert fake.ops == [SUM, SUM]
        # written out: 0.25 * mine + other's, then w -= lr * grad
        assert w32.detach().tolist() == [[-2.0, -3.0], [-4.0, -5.0]]
        assert w64.detach().tolist() == [-10.5, -21.0, -31.5]
        assert unused.grad is None
    w32.grad = torch.ones(2, 2)
    w64.grad = None
    opt.step()  # hook removed on exit: no reduction
    assert w32.detach().tolist() == [[-3.0, -4.0], [-5.0, -6.0]]


def test_no_hook_on_one_process():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=1.0)
    par = D.DataParallel(stateful={"opt": opt, "w": w}, seed=0)
    assert not par.active and par._handles == []
    w.grad = torch.ones(1)
    opt.step()
    assert w.item() == -1.0


def test_step_runs_on_the_shard_and_reduces_metrics_to_global_means(peers):
    fake = peers(rank=1, world=2)
    par = D.DataParallel(stateful={}, seed=0)
    seen = {}

    def step(batch):
        x, _ = batch
        seen["x"] = x.tolist()
        return {"loss": torch.tensor(3.0), "acc": 0.5}

    fake.others = [torch.tensor([0.3, 1.2], dtype=torch.float64)]  # sorted names: acc, loss
    out = par.step(step)((torch.arange(5), torch.arange(5)))
    assert seen["x"] == [3, 4]
    assert par.fraction == pytest.approx(0.4)
    assert out == pytest.approx({"acc": 0.5 * 0.4 + 0.3, "loss": 3.0 * 0.4 + 1.2}, abs=1e-12)
    assert fake.ops == [SUM]


def test_a_metric_that_is_not_a_number_is_named(peers):
    peers(rank=0, world=2)
    par = D.DataParallel(stateful={}, seed=0)
    with pytest.raises(InputError, match=r"metric 'loss' is not a number: 'nan-ish'"):
        par.step(lambda b: {"loss": "nan-ish"})(torch.zeros(2))
    with pytest.raises(InputError, match="metric 'v' is not a number"):
        D._float("v", torch.zeros(2))
    assert D._float("v", torch.tensor([2.5])) == 2.5


def test_one_process_passes_the_step_and_values_through():
    par = D.DataParallel(stateful={}, seed=0)
    step = lambda b: {"loss": 1.0}  # noqa: E731
    assert par.step(step) is step
    assert par.sum_over_ranks([1.0, 2.0]) == [1.0, 2.0]
    assert par.wrap(None) is None and par.wrap(step) is step


def test_sum_over_ranks_adds_the_other_ranks(peers):
    fake = peers(rank=0, world=3)
    par = D.DataParallel(stateful={}, seed=0)
    fake.others = [torch.tensor([10.0, 0.5], dtype=torch.float64)]
    assert par.sum_over_ranks([1.0, 2.0]) == [11.0, 2.5]


def test_rank_0_weights_are_broadcast_to_every_parameter_and_buffer(peers):
    fake = peers(rank=1, world=2)
    net = torch.nn.BatchNorm1d(2)
    par = D.DataParallel(stateful={"net": net, "other": 3}, seed=0)
    par.broadcast_modules({"net": net, "other": 3})
    assert len(fake.broadcasts) == 5  # weight, bias, running mean/var, num_batches_tracked
    assert net.weight.detach().tolist() == [7.0, 7.0]
    assert net.running_mean.tolist() == [7.0, 7.0]


def test_end_epoch_accepts_equal_weights_and_refuses_drifted_ones(peers):
    fake = peers(rank=0, world=2)
    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 2.0]]))
        net.bias.fill_(0.5)
    par = D.DataParallel(stateful={}, seed=0)
    same = torch.tensor([3.0, 0.5], dtype=torch.float64)
    fake.others = [same.clone(), same.clone()]
    par.end_epoch({"net": net})
    assert fake.ops == [MIN, MAX]
    fake.others = [same.clone(), torch.tensor([3.0, 0.5 + 1e-6], dtype=torch.float64)]
    with pytest.raises(DistributedError, match="weights differ after an epoch"):
        par.end_epoch({"net": net})
    fake.others = [
        torch.tensor([0.0], dtype=torch.float64),
        torch.tensor([0.0], dtype=torch.float64),
    ]
    par.end_epoch({})  # no parameters: one zero compared


def test_guard_reports_a_failure_to_the_peers_and_reraises(peers, monkeypatch):
    peers(rank=0, world=2)
    reported = []
    monkeypatch.setattr(D, "check_peers", lambda exc: reported.append(exc))
    par = D.DataParallel(stateful={}, seed=0)
    boom = ValueError("boom")
    with pytest.raises(ValueError, match="boom"), par.guard():
        raise boom
    assert reported == [boom]
    with pytest.raises(DistributedError), par.guard():
        raise DistributedError("peer lost")
    assert reported == [boom]  # a peer's failure is not reported back
    guarded = par.wrap(lambda a, b: a * b)
    assert guarded(3, 4) == 12
    assert reported == [boom, None]  # the healthy call still checks on its peers
