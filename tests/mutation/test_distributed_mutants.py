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


# --- issue 24, second pass: survivors of the mutmut run over this module


class Group:
    """``torch.distributed`` before ``init_process_group``: records the calls, then joins."""

    def __init__(self, rank=1, world=2):
        self.rank, self.world = rank, world
        self.initialized = False
        self.calls = []

    def is_available(self):
        return True

    def is_initialized(self):
        return self.initialized

    def init_process_group(self, backend, timeout):
        self.calls.append(("init", backend, timeout.total_seconds()))
        self.initialized = True

    def destroy_process_group(self):
        self.calls.append(("destroy",))
        self.initialized = False

    def get_world_size(self):
        return self.world

    def get_rank(self):
        return self.rank


@pytest.fixture
def joining(monkeypatch):
    """A torchrun environment (rank 1 of 2, 8 cores) with CUDA on or off; records the effects."""

    def make(cuda, local_rank="1"):
        group = Group()
        monkeypatch.setattr(D, "dist", group)
        monkeypatch.setenv("RANK", "1")
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
        if local_rank is None:
            monkeypatch.delenv("LOCAL_RANK", raising=False)
        else:
            monkeypatch.setenv("LOCAL_RANK", local_rank)
        monkeypatch.setattr(D.os, "cpu_count", lambda: 8)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "set_device", lambda d: group.calls.append(("device", d)))
        monkeypatch.setattr(torch, "set_num_threads", lambda t: group.calls.append(("threads", t)))
        return group

    return make


def test_init_uses_nccl_and_the_local_gpu_when_cuda_is_available(joining):
    group = joining(cuda=True)
    info = D.init_distributed()
    assert info == D.RankInfo(rank=1, world_size=2, local_rank=1, local_world_size=2)
    # NCCL on CUDA, the GPU of LOCAL_RANK, 8 cores // 2 local ranks
    assert group.calls == [("init", "nccl", 600.0), ("device", 1), ("threads", 4)]


def test_init_without_local_rank_takes_gpu_0(joining):
    group = joining(cuda=True, local_rank=None)
    D.init_distributed(timeout=5.0)
    assert group.calls == [("init", "nccl", 5.0), ("device", 0), ("threads", 4)]


def test_init_on_cpu_uses_gloo_and_no_gpu(joining):
    group = joining(cuda=False)
    assert D.init_distributed().world_size == 2
    assert group.calls == [("init", "gloo", 600.0), ("threads", 4)]
    group = joining(cuda=True)
    D.init_distributed(backend="gloo")  # asked for gloo on a CUDA machine: no set_device
    assert group.calls == [("init", "gloo", 600.0), ("threads", 4)]


def test_a_failed_rendezvous_names_the_torchrun_flags(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("MASTER_ADDR", "10.9.9.9")
    monkeypatch.setenv("MASTER_PORT", "29999")

    def init_process_group(backend, timeout):
        raise RuntimeError("refused")

    monkeypatch.setattr(D.dist, "init_process_group", init_process_group)
    with pytest.raises(DistributedError) as info:
        D.init_distributed(backend="gloo")
    assert str(info.value) == (
        "could not join the process group (gloo, MASTER_ADDR='10.9.9.9', MASTER_PORT='29999'): "
        "refused. Check the rendezvous flags of torchrun (--nnodes, --node-rank, --master-addr, "
        "--master-port or --rdzv-endpoint) and that the port is reachable"
    )


def test_shutdown_leaves_only_a_joined_group(monkeypatch):
    group = Group()
    monkeypatch.setattr(D, "dist", group)
    D.shutdown_distributed()  # no group: a no-op
    assert group.calls == []
    group.initialized = True
    D.shutdown_distributed()
    assert group.calls == [("destroy",)] and not group.initialized


@pytest.mark.parametrize(
    ("n", "world", "rank"), [(5, 2, 2), (5, 2, -1), (-1, 2, 0), (3, 0, 0), (2, 3, 3)]
)
def test_shard_bounds_refuses_a_rank_outside_the_world_and_negative_sizes(n, world, rank):
    with pytest.raises(
        D.ConfigurationError,
        match=rf"^no shard of {n} samples for rank {rank} of a world of {world}$",
    ):
        D.shard_bounds(n, world_size=world, rank=rank)


def test_an_empty_batch_gives_every_rank_an_empty_shard():
    assert [D.shard_bounds(0, world_size=2, rank=r) for r in range(2)] == [(0, 0), (0, 0)]
    assert D.shard_bounds(0, world_size=1, rank=0) == (0, 0)


def test_a_rank_without_a_sample_gets_the_first_sample_with_weight_0():
    x, y = torch.arange(2), torch.arange(2) * 10 + 5
    shard, local, total = D.shard_batch((x, y), world_size=3, rank=2)
    assert isinstance(shard, tuple) and (local, total) == (0, 2)
    assert shard[0].tolist() == [0] and shard[1].tolist() == [5]
    shard, local, total = D.shard_batch({"x": x, "tag": 1}, world_size=4, rank=3)
    assert shard["x"].tolist() == [0] and shard["tag"] == 1 and (local, total) == (0, 2)


def test_a_dict_batch_is_sliced_from_the_ranks_start():
    batch = {"x": torch.arange(5), "y": {"z": torch.arange(5) * 2}}
    shard, local, total = D.shard_batch(batch, world_size=2, rank=1)
    assert shard["x"].tolist() == [3, 4] and shard["y"]["z"].tolist() == [6, 8]
    assert (local, total) == (2, 5)


def test_sum_over_ranks_adds_in_float64(peers):
    fake = peers(rank=1, world=2)
    par = D.DataParallel(stateful={}, seed=0)
    fake.others = [torch.tensor([0.2, 1e-12], dtype=torch.float64)]
    # written out: float64 sums (float32 would give 0.30000001192092896 and lose 1 + 1e-12)
    assert par.sum_over_ranks([0.1, 1.0]) == [0.30000000000000004, 1.000000000001]


def test_a_shadow_step_adds_exact_zeros_even_for_non_finite_gradients(peers):
    fake = peers(rank=2, world=3)
    a = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt = torch.optim.SGD([a], lr=1.0)
    with D.data_parallel(stateful={"opt": opt}, seed=0) as par:
        par.fraction = 0.0
        a.grad = torch.tensor([float("nan"), float("inf")], dtype=torch.float64)
        fake.others = [torch.tensor([1.5, -2.0], dtype=torch.float64)]
        opt.step()
    assert a.grad.tolist() == [1.5, -2.0]  # the other ranks' gradient only
    assert a.detach().tolist() == [-1.5, 2.0]


def test_several_gradients_of_one_dtype_are_copied_back_in_order(peers):
    fake = peers(rank=1, world=2)
    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(3))
    c = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([a, b, c], lr=1.0)
    with D.data_parallel(stateful={"opt": opt}, seed=0) as par:
        par.fraction = 0.5
        a.grad = torch.tensor([2.0, 4.0])
        b.grad = torch.tensor([6.0, 8.0, 10.0])
        c.grad = torch.tensor([12.0])
        fake.others = [torch.tensor([0.5, 0.25, 0.0, 0.0, 100.0, 1000.0])]
        opt.step()
    # written out: 0.5 * [2, 4, 6, 8, 10, 12] + others, split 2 / 3 / 1
    assert a.grad.tolist() == [1.5, 2.25]
    assert b.grad.tolist() == [3.0, 4.0, 105.0]
    assert c.grad.tolist() == [1006.0]


@pytest.mark.parametrize("value", [5.0, float("inf"), float("nan")])
def test_a_shadow_steps_metrics_contribute_nothing(peers, value):
    fake = peers(rank=2, world=3)
    par = D.DataParallel(stateful={}, seed=0)
    seen = {}

    def step(batch):
        seen["x"] = batch.tolist()
        return {"loss": value, "acc": torch.tensor(value)}

    fake.others = [torch.tensor([0.75, 0.125], dtype=torch.float64)]  # acc, loss
    out = par.step(step)(torch.tensor([4.0, 6.0]))  # 2 samples, 3 ranks: rank 2 has none
    assert seen["x"] == [4.0] and par.fraction == 0.0
    assert out == {"acc": 0.75, "loss": 0.125}


def test_a_metric_tensor_that_requires_grad_reads_without_a_warning():
    loss = torch.tensor(2.0, requires_grad=True) * 3
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert D._float("loss", loss) == 6.0


def test_weights_near_zero_that_differ_by_1e_10_are_drift(peers):
    fake = peers(rank=0, world=2)
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    par = D.DataParallel(stateful={}, seed=0)
    fake.others = [
        torch.tensor([0.0], dtype=torch.float64),
        torch.tensor([1e-10], dtype=torch.float64),  # another rank's weight sum
    ]
    with pytest.raises(DistributedError) as info:
        par.end_epoch({"net": net})
    assert str(info.value) == (
        "the ranks' weights differ after an epoch: every optimizer must be in the run's stateful "
        "objects (run_epochs synchronises the gradients of those only), and the step must not "
        "change weights outside an optimizer step"
    )
    fake.others = [
        torch.tensor([0.0], dtype=torch.float64),
        torch.tensor([1e-13], dtype=torch.float64),  # below atol 1e-12: the same weights
    ]
    par.end_epoch({"net": net})


class Loader:
    def __init__(self, size):
        self.dataset = list(range(size))


def test_check_loader_refuses_more_ranks_than_samples(peers):
    peers(rank=0, world=2)
    par = D.DataParallel(stateful={}, seed=0)
    with pytest.raises(D.ConfigurationError) as info:
        par.check_loader(Loader(1))
    assert str(info.value) == (
        "1 training samples cannot keep 2 ranks busy (every rank needs at least one sample): "
        "use at most 1 ranks (--nproc) or more data"
    )
    with pytest.raises(D.ConfigurationError, match=r"^0 training .* at most 1 ranks \(--nproc\)"):
        par.check_loader(Loader(0))
    par.check_loader(Loader(2))  # one sample per rank is enough
    par.check_loader(Loader(7))
    par.check_loader(object())  # no dataset: nothing to check
    peers(rank=0, world=5)
    par = D.DataParallel(stateful={}, seed=0)
    with pytest.raises(D.ConfigurationError, match=r"^3 training samples cannot keep 5 ranks"):
        par.check_loader(Loader(3))


def test_check_loader_on_one_process_accepts_any_dataset():
    par = D.DataParallel(stateful={}, seed=0)
    par.check_loader(Loader(0))
    par.check_loader(Loader(1))


def test_before_any_sharded_step_a_ranks_gradient_counts_in_full(peers):
    fake = peers(rank=1, world=2)
    w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=1.0)
    with D.data_parallel(stateful={"opt": opt}, seed=0) as par:
        assert par.fraction == 1.0  # no shard seen yet: weight 1
        w.grad = torch.tensor([3.0, -1.0], dtype=torch.float64)
        fake.others = [torch.tensor([0.5, 0.5], dtype=torch.float64)]
        opt.step()
    assert w.grad.tolist() == [3.5, -0.5]
