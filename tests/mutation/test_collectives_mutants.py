"""Collectives of a data-parallel run, on a written-out stand-in for ``torch.distributed``.

The real multi-rank runs (tests/training/test_distributed.py) start processes and take minutes,
too slow to run per mutant. Here ``torch.distributed`` is replaced by :class:`FakeWorld`: one
rank's view of a world whose other ranks' contributions are written out in the test, so every
merge, flag and message is compared with values computed by hand.
"""

from __future__ import annotations

import types

import pytest
import torch

from hybridqml import _ranks
from hybridqml.exceptions import DistributedError
from hybridqml.training import _collectives as col


class FakeWorld:
    """``torch.distributed`` as rank ``rank`` of ``len(others) + 1`` ranks sees it."""

    def __init__(self, rank: int, world: int, *, flags=None, objects=None, main_payload=None):
        self.rank, self.world = rank, world
        self.flags = flags or [0] * world  # what every rank contributes to the failure flag
        self.objects = objects  # what every rank contributes to all_gather_object
        self.main_payload = main_payload  # what rank 0 broadcasts
        self.calls: list[str] = []
        self.sent_flags: list[torch.Tensor] = []
        self.ReduceOp = types.SimpleNamespace(SUM="sum")

    def is_available(self):
        return True

    def is_initialized(self):
        return True

    def get_world_size(self):
        return self.world

    def get_rank(self):
        return self.rank

    def all_reduce(self, tensor, op=None):
        self.calls.append("all_reduce")
        assert op == "sum"
        self.sent_flags.append(tensor.clone())
        others = sum(f for r, f in enumerate(self.flags) if r != self.rank)
        tensor += others

    def all_gather_object(self, out, obj):
        self.calls.append("all_gather_object")
        assert len(out) == self.world
        for r in range(self.world):
            out[r] = obj if r == self.rank else self.objects[r]

    def broadcast_object_list(self, payload, src):
        self.calls.append("broadcast_object_list")
        assert src == 0 and len(payload) == 1
        if self.rank != 0:
            payload[0] = self.main_payload


@pytest.fixture
def world(monkeypatch):
    def make(rank, world, **kwargs):
        fake = FakeWorld(rank, world, **kwargs)
        monkeypatch.setattr(col, "dist", fake)
        monkeypatch.setattr(_ranks, "dist", fake)
        return fake

    return make


def test_provenance_of_three_ranks_is_summed_and_the_ratio_recomputed(world):
    mine = {"source": "qrng", "source_bytes": 10, "delivered_bytes": 5}
    fake = world(
        0,
        3,
        objects=[
            None,
            {"source": "os", "source_bytes": 30},
            {"source_bytes": 20, "delivered_bytes": 15},
        ],
    )
    merged = col.gather_provenance(mine)
    # written out: 10 + 30 + 20 source bytes, 5 + 0 + 15 delivered
    assert merged["source_bytes"] == 60
    assert merged["delivered_bytes"] == 20
    assert merged["source_to_delivered"] == 3.0
    assert merged["world_size"] == 3
    assert merged["source"] == "qrng"  # other keys from rank 0's record
    assert merged["ranks"] == [
        {"rank": 0, "source": "qrng", "source_bytes": 10, "delivered_bytes": 5},
        {"rank": 1, "source": "os", "source_bytes": 30},
        {"rank": 2, "source_bytes": 20, "delivered_bytes": 15},
    ]
    assert mine == {"source": "qrng", "source_bytes": 10, "delivered_bytes": 5}  # not modified
    assert fake.calls == ["all_reduce", "all_gather_object"]  # peers checked first


def test_provenance_with_nothing_delivered_has_no_ratio(world):
    world(1, 2, objects=[{"source_bytes": 4, "delivered_bytes": 0}, None])
    merged = col.gather_provenance({"source_bytes": 3, "delivered_bytes": 0})
    assert merged["source_bytes"] == 7 and merged["delivered_bytes"] == 0
    assert merged["source_to_delivered"] is None
    assert [r["rank"] for r in merged["ranks"]] == [0, 1]


def test_provenance_on_one_process_is_a_copy():
    prov = {"source_bytes": 8, "delivered_bytes": 4}
    merged = col.gather_provenance(prov)
    assert merged == prov and merged is not prov
    assert "world_size" not in merged and "ranks" not in merged


def test_gather_from_ranks_returns_every_rank_in_rank_order(world):
    fake = world(2, 3, objects=["a", "b", None])
    assert col.gather_from_ranks("c") == ["a", "b", "c"]
    assert fake.calls == ["all_reduce", "all_gather_object"]
    assert fake.sent_flags[0].tolist() == [0]


def test_a_healthy_round_exchanges_one_zero_flag_and_nothing_else(world):
    fake = world(0, 2)
    col.check_peers(None)
    assert fake.calls == ["all_reduce"]
    assert fake.sent_flags[0].dtype == torch.int64 and fake.sent_flags[0].tolist() == [0]


def test_a_failed_peer_is_named_on_the_healthy_rank(world):
    fake = world(0, 3, flags=[0, 0, 1], objects=[None, None, "ValueError: bad batch"])
    with pytest.raises(DistributedError) as info:
        col.check_peers(None)
    err = info.value
    assert err.failed_ranks == (2,)
    assert err.messages == ("ValueError: bad batch",)
    assert str(err).startswith("rank(s) 2 of 3 failed, so the run stopped on every rank")
    assert "(rank 2: ValueError: bad batch)" in str(err)
    assert "--resume" in str(err)
    assert fake.calls == ["all_reduce", "all_gather_object"]


def test_two_failed_peers_are_both_named(world):
    world(1, 4, flags=[1, 0, 0, 1], objects=["OSError: disk", None, None, "KeyError: 'x'"])
    with pytest.raises(DistributedError) as info:
        col.check_peers(None)
    assert info.value.failed_ranks == (0, 3)
    assert info.value.messages == ("OSError: disk", "KeyError: 'x'")
    assert "rank(s) 0, 3 of 4 failed" in str(info.value)
    assert "rank 0: OSError: disk; rank 3: KeyError: 'x'" in str(info.value)


def test_the_failing_rank_sends_its_flag_and_message_and_returns(world):
    fake = world(1, 2, flags=[0, 1], objects=[None, None])
    sent = {}
    real = fake.all_gather_object

    def spy(out, obj):
        sent["obj"] = obj
        real(out, obj)

    fake.all_gather_object = spy
    assert col.check_peers(ValueError("nan loss")) is None
    assert fake.sent_flags[0].tolist() == [1]
    assert sent["obj"] == "ValueError: nan loss"


def test_a_lost_peer_becomes_a_distributed_error(world):
    world(3, 4)

    def all_reduce(*args, **kwargs):
        raise RuntimeError("Connection closed by peer")

    with pytest.raises(DistributedError) as info:
        col.collective(all_reduce, torch.zeros(1))
    message = str(info.value)
    assert message.startswith("rank 3 lost contact with the other ranks during all_reduce")
    assert "(Connection closed by peer)" in message and "--resume" in message
    assert isinstance(info.value.__cause__, RuntimeError)

    def broken_pipe():
        raise ConnectionResetError("reset")

    with pytest.raises(DistributedError, match="during broken_pipe"):
        col.collective(broken_pipe)
    with pytest.raises(DistributedError, match="during a collective"):
        col.collective(_Nameless())


class _Nameless:
    def __call__(self):
        raise RuntimeError("gone")


def test_collective_passes_arguments_and_result_and_other_errors_through():
    assert col.collective(lambda a, *, b: a + b, 2, b=5) == 7

    def bad():
        raise ValueError("not a lost peer")

    with pytest.raises(ValueError, match="not a lost peer"):
        col.collective(bad)


def test_share_from_main_creates_on_rank_0_and_broadcasts_the_key(world):
    fake = world(0, 2)
    sent = {}
    real = fake.broadcast_object_list

    def spy(payload, src):
        sent["payload"] = list(payload)
        real(payload, src)

    fake.broadcast_object_list = spy
    made = col.share_from_main(
        lambda: {"id": "b-1"}, lambda key: pytest.fail("rank 0 attached"), key=lambda o: o["id"]
    )
    assert made == {"id": "b-1"}
    assert sent["payload"] == [("ok", "b-1")]


def test_share_from_main_attaches_by_key_on_other_ranks(world):
    world(1, 2, main_payload=("ok", "b-7"))
    made = col.share_from_main(
        lambda: pytest.fail("rank 1 created"), lambda key: f"attached {key}", key=str
    )
    assert made == "attached b-7"


@pytest.mark.parametrize("rank", [0, 1])
def test_a_failed_create_stops_every_rank(world, rank):
    fake = world(rank, 2, main_payload=("failed", "OSError: quota"))
    sent = {}
    real = fake.broadcast_object_list

    def spy(payload, src):
        real(payload, src)
        sent["payload"] = list(payload)

    fake.broadcast_object_list = spy

    def create():
        raise OSError("quota")

    with pytest.raises(DistributedError) as info:
        col.share_from_main(create, lambda key: key, key=str)
    assert sent["payload"] == [("failed", "OSError: quota")]
    assert info.value.failed_ranks == (0,)
    assert info.value.messages == ("OSError: quota",)
    assert str(info.value) == (
        "rank 0 could not create the shared object (OSError: quota); every rank stops"
    )


def test_share_from_main_on_one_process_only_creates():
    assert (
        col.share_from_main(lambda: 5, lambda key: pytest.fail("attached"), key=lambda o: 1 / 0)
        == 5
    )
