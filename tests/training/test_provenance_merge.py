"""Merging every rank's entropy provenance (``gather_provenance``) against written-out records.

The ranks are stood in for by patching the gather (what ``all_gather_object`` returns): two
ranks whose sources delivered at DIFFERENT ratios, so a merged ratio copied from one rank,
averaged over the ranks, or summed is wrong here.
"""

from __future__ import annotations

from hybridqml import _ranks
from hybridqml.training import _collectives, gather_provenance

RANK0 = {"source": "qrng", "source_bytes": 96, "delivered_bytes": 32, "source_to_delivered": 3.0}
RANK1 = {"source": "qrng", "source_bytes": 8, "delivered_bytes": 64, "source_to_delivered": 0.125}


def _two_ranks(monkeypatch, records):
    monkeypatch.setattr(_ranks, "is_distributed", lambda: True)
    monkeypatch.setattr(_collectives, "gather_from_ranks", lambda mine: records)


def test_the_merged_record_is_the_runs_written_out(monkeypatch) -> None:
    _two_ranks(monkeypatch, [dict(RANK0), dict(RANK1)])
    assert gather_provenance(RANK0) == {
        "source": "qrng",
        "source_bytes": 104,  # 96 + 8
        "delivered_bytes": 96,  # 32 + 64
        "source_to_delivered": 104 / 96,  # the run's ratio, not rank 0's 3.0 nor a mean
        "world_size": 2,
        "ranks": [
            {"rank": 0, "source": "qrng", "source_bytes": 96, "delivered_bytes": 32,
             "source_to_delivered": 3.0},
            {"rank": 1, "source": "qrng", "source_bytes": 8, "delivered_bytes": 64,
             "source_to_delivered": 0.125},
        ],
    }  # fmt: skip


def test_a_world_that_delivered_nothing_has_no_ratio(monkeypatch) -> None:
    empty = {"source_bytes": 0, "delivered_bytes": 0, "source_to_delivered": None}
    _two_ranks(monkeypatch, [dict(empty), dict(empty)])
    merged = gather_provenance(empty)
    assert merged["source_to_delivered"] is None and merged["delivered_bytes"] == 0


def test_one_process_keeps_its_record() -> None:
    assert gather_provenance(RANK1) == RANK1
    assert gather_provenance(RANK1) is not RANK1  # a copy
