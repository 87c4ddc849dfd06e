"""A mid-epoch checkpoint of an entropy stream continues the epoch's bytes exactly."""

import pytest

from hybridqml.entropy import EntropySettings, EntropyStream


@pytest.mark.parametrize(("source", "mode"), [("prng", "pure"), ("prng", "expanded")])
def test_a_restored_stream_continues_mid_epoch_with_the_same_bytes(source, mode):
    settings = EntropySettings(source=source, mode=mode)
    a = EntropyStream(settings=settings, seed=3)
    a.open_epoch(2)
    a.read(10)
    a.read(7)
    state = a.state_dict()
    assert state["epoch_delivered"] == 17
    b = EntropyStream(settings=settings, seed=3)
    b.load_state_dict(state)
    expected = a.read(25)
    assert b.read(25) == expected
    assert b.provenance()["delivered_bytes"] == a.provenance()["delivered_bytes"] == 42
    assert b.provenance()["source_bytes"] == a.provenance()["source_bytes"]
    restart = EntropyStream(settings=settings, seed=3)
    restart.load_state_dict({**state, "epoch_delivered": 0})  # what an epoch-end restore does
    assert restart.read(25) != expected  # the epoch's first bytes again: the skip matters


def test_fresh_sources_skip_nothing():
    settings = EntropySettings(source="os", mode="pure")
    a = EntropyStream(settings=settings, seed=3)
    a.open_epoch(1)
    a.read(16)
    b = EntropyStream(settings=settings, seed=3)
    b.load_state_dict(a.state_dict())
    assert b.provenance()["delivered_bytes"] == 16  # nothing re-read from the OS
