"""EntropyStream against the PCG64DXSM stream it must deliver, epoch by epoch and mid-epoch.

Reference: ``numpy.random.PCG64DXSM(epoch_seed(seed, epoch)).random_raw`` as little-endian bytes
(the ``prng`` source in ``pure`` mode delivers exactly these); a failing source is a QRNG URL on
a closed local port.
"""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest

from hybridqml import _ranks
from hybridqml._validation import epoch_seed
from hybridqml.entropy import _epochs
from hybridqml.entropy._epochs import EntropyStream
from hybridqml.entropy._settings import EntropySettings
from hybridqml.exceptions import ConfigurationError, EntropyError


def pcg_bytes(seed: int, n: int) -> bytes:
    words = np.random.PCG64DXSM(seed).random_raw(-(-n // 8))
    return np.asarray(words, dtype="<u8").tobytes()[:n]


def prng(**kwargs) -> EntropySettings:
    return EntropySettings(source="prng", mode="pure", **kwargs)


def stream(settings=None, seed=5) -> EntropyStream:
    return EntropyStream(settings=settings or prng(), seed=seed)


@pytest.fixture
def dead_qrng(monkeypatch):
    monkeypatch.setenv("HYBRIDQML_QRNG_TOKEN", "test-token")

    def make(**kwargs):
        return EntropySettings(
            source="qrng",
            mode="pure",
            qrng_url="http://127.0.0.1:9/random",
            qrng_retries=0,
            qrng_timeout=(0.5, 0.5),
            **kwargs,
        )

    return make


def test_each_epoch_draws_its_own_seeded_stream_whatever_came_before():
    s = stream()
    assert s.name == "prng" and s.kind == "" and s.epoch is None
    assert s.read(12) == pcg_bytes(epoch_seed(5, 1), 12)  # no epoch opened: epoch 1
    s.open_epoch(3)
    assert s.epoch == 3
    assert s.read(10) + s.read(7) == pcg_bytes(epoch_seed(5, 3), 17)
    s.open_epoch(2)
    assert s.read(9) == pcg_bytes(epoch_seed(5, 2), 9)
    assert s.name == "prng(PCG64DXSM) [seeded per epoch from run seed 5]"
    assert s.kind == "pseudo"
    s.close()


def test_provenance_sums_every_epoch():
    s = stream()
    s.open_epoch(1)
    s.read(20)
    first = s.provenance()["source_bytes"]
    s.open_epoch(2)
    s.read(10)
    prov = s.provenance()
    assert prov["delivered_bytes"] == 30
    assert prov["source_bytes"] == 2 * first and first >= 20
    assert prov["source_to_delivered"] == prov["source_bytes"] / 30
    assert {k: prov[k] for k in ("source", "active_source", "kind", "mode", "seeded")} == {
        "source": "prng",
        "active_source": "prng",
        "kind": "pseudo",
        "mode": "pure",
        "seeded": True,
    }
    assert prov["health_tests"] is True and prov["fallback"] is None
    assert prov["fallback_used"] is False and prov["fallback_reason"] is None
    assert "rank" not in prov and "world_size" not in prov
    s.close()
    assert s.provenance()["delivered_bytes"] == 30  # closing keeps the totals
    empty = stream().provenance()
    assert empty["delivered_bytes"] == 0 and empty["source_to_delivered"] is None


def test_a_mid_epoch_checkpoint_resumes_with_the_next_bytes():
    s = stream()
    s.open_epoch(4)
    s.read(21)
    state = s.state_dict()
    assert state["epoch"] == 4 and state["epoch_delivered"] == 21
    assert state["delivered_bytes"] == 21
    assert (state["source"], state["mode"], state["active_source"]) == ("prng", "pure", "prng")
    resumed = stream()
    resumed.load_state_dict(state)
    assert resumed.epoch == 4
    assert resumed.read(11) == pcg_bytes(epoch_seed(5, 4), 32)[21:]
    prov = resumed.provenance()
    assert prov["delivered_bytes"] == 32
    assert prov["source_bytes"] == state["source_bytes"]  # the skipped bytes are not counted twice


def test_a_state_before_any_epoch_reopens_nothing():
    state = stream().state_dict()
    assert state["epoch"] == -1 and state["epoch_delivered"] == 0
    resumed = stream()
    resumed.load_state_dict({**state, "source_bytes": 7, "delivered_bytes": 3})
    assert resumed.epoch is None and resumed._reader is None
    assert resumed.provenance()["delivered_bytes"] == 3


def test_a_checkpoint_of_another_source_or_mode_is_refused():
    state = stream().state_dict()
    with pytest.raises(ConfigurationError) as info:
        stream(EntropySettings(source="os", mode="pure")).load_state_dict(state)
    assert str(info.value) == (
        "the checkpointed entropy stream used source 'prng', this run asks for 'os': resume with "
        "source='prng' (CLI: --entropy prng) or start a new run in another output folder"
    )
    with pytest.raises(ConfigurationError, match="used mode 'pure', this run asks for 'expanded'"):
        stream(EntropySettings(source="prng", mode="expanded")).load_state_dict(state)
    with pytest.raises(ConfigurationError) as info:
        stream().load_state_dict({**state, "active_source": "os"})
    assert str(info.value) == (
        "the checkpointed entropy stream drew from 'os', this run asks for 'prng': resume with "
        "source='os' (CLI: --entropy os) or start a new run in another output folder"
    )
    switched = {**state, "active_source": "os", "fallback_used": True, "fallback_reason": "down"}
    with pytest.raises(ConfigurationError) as info:
        stream(prng(fallback="aer")).load_state_dict(switched)
    assert str(info.value).startswith(
        "the checkpointed run had switched from entropy source 'prng' to its requested fallback "
        "'os' and continues on it when resumed, but this run's fallback is 'aer': resume with "
        "fallback='os' (CLI: --entropy-fallback os)"
    )
    resumed = stream(prng(fallback="os"))
    resumed.load_state_dict(switched)
    assert resumed.active_source == "os" and resumed.fallback_used
    assert resumed.fallback_reason == "down"
    assert resumed.provenance()["seeded"] is False
    resumed.close()


def test_a_state_without_source_or_mode_keys_is_accepted():
    state = stream().state_dict()
    del state["source"], state["mode"], state["epoch_delivered"]
    state["fallback_reason"] = None
    s = stream()
    s.load_state_dict(state)
    assert s.fallback_reason is None


def test_fresh_sources_skip_nothing_on_resume():
    s = stream(EntropySettings(source="os", mode="pure"))
    s.open_epoch(2)
    s.read(5)
    state = s.state_dict()
    resumed = stream(EntropySettings(source="os", mode="pure"))
    resumed.load_state_dict(state)
    assert resumed._reader.provenance().delivered_bytes == 0
    assert resumed.provenance()["delivered_bytes"] == 5
    resumed.close()


def test_a_failing_source_without_fallback_stops_the_run(dead_qrng):
    s = stream(dead_qrng())
    with pytest.raises(EntropyError) as info:
        s.read(8)
    message = str(info.value)
    assert message.startswith("qrng(")
    assert message.endswith(
        "[entropy source 'qrng' failed; no fallback source was requested (CLI: --entropy-fallback "
        "aer|os|prng), so the run stops rather than silently using other random numbers]"
    )
    assert type(info.value).__name__ == "QRNGUnavailableError"


def test_a_failing_source_switches_once_to_its_fallback(dead_qrng):
    s = stream(dead_qrng(fallback="prng"))
    s.open_epoch(2)
    with pytest.warns(
        RuntimeWarning,
        match="entropy source 'qrng' failed .*; switching to the requested fallback 'prng'",
    ):
        got = s.read(16)
    assert got == pcg_bytes(epoch_seed(5, 2), 16)
    prov = s.provenance()
    assert prov["source"] == "qrng" and prov["active_source"] == "prng"
    assert prov["fallback_used"] is True and "connection failed" in prov["fallback_reason"]
    assert prov["seeded"] is True and prov["delivered_bytes"] == 16
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.open_epoch(3)  # stays on the fallback: no new warning
        assert s.read(4) == pcg_bytes(epoch_seed(5, 3), 4)
    s.close()


def test_unknown_and_device_sources_are_refused():
    with pytest.raises(
        ConfigurationError,
        match=r"unknown entropy source 'fake_manila' for a workflow; choose one of",
    ):
        EntropyStream(settings=EntropySettings(source="fake_manila"), seed=1)


def test_each_rank_draws_its_own_sub_stream(monkeypatch):
    fake = types.SimpleNamespace(
        is_available=lambda: True,
        is_initialized=lambda: True,
        get_world_size=lambda: 2,
        get_rank=lambda: 1,
    )
    monkeypatch.setattr(_ranks, "dist", fake)
    s = stream()
    s.open_epoch(2)
    sub = _ranks.rank_seed(epoch_seed(5, 2))
    assert sub != epoch_seed(5, 2)
    assert s.read(8) == pcg_bytes(sub, 8)
    assert s.name == "prng(PCG64DXSM) [seeded per epoch and rank from run seed 5]"
    prov = s.provenance()
    assert prov["rank"] == 1 and prov["world_size"] == 2
    state = s.state_dict()
    other = stream()
    other.load_state_dict(state)  # rank 1: rank 0's totals are the checkpoint's, not counted here
    assert other.provenance()["delivered_bytes"] == 0
    assert other.read(4) == pcg_bytes(sub, 12)[8:]


def test_with_message_keeps_the_error_class_and_fields():
    exc = EntropyError("old")
    exc.status = 503
    new = _epochs._with_message(exc, "new")
    assert type(new) is EntropyError and str(new) == "new" and new.status == 503
    assert str(exc) == "old"
    assert _epochs._fallbacks() == ("aer", "os", "prng")
    assert _epochs._is_seeded("prng") and not _epochs._is_seeded("os")
