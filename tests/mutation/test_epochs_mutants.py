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
from _mutmut import reported_at

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


def _as_rank_one_of_two(monkeypatch):
    """Make hybridqml._ranks see an initialized process group of 2 with this process rank 1."""
    fake = types.SimpleNamespace(
        is_available=lambda: True,
        is_initialized=lambda: True,
        get_world_size=lambda: 2,
        get_rank=lambda: 1,
    )
    monkeypatch.setattr(_ranks, "dist", fake)


def test_each_rank_draws_its_own_sub_stream(monkeypatch):
    _as_rank_one_of_two(monkeypatch)
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


# --- survivors of the mutation run (issue 24)


@pytest.fixture
def registered():
    """Register test sources by name; unregistered again after the test."""
    from hybridqml.entropy import _registry

    names = []

    def add(name, **entry):
        _registry.register_source(name, _registry.SourceEntry(**entry))
        names.append(name)

    yield add
    for name in names:
        _registry.unregister_source(name)


def test_a_source_workflows_do_not_offer_is_refused(registered):
    from hybridqml.entropy import PRNGSource

    registered(
        "cmd_only_die", factory=lambda s, *, name, seed: PRNGSource(seed), help="x", workflows=False
    )
    with pytest.raises(ConfigurationError) as info:
        EntropyStream(settings=EntropySettings(source="cmd_only_die"), seed=1)
    assert str(info.value) == (
        "unknown entropy source 'cmd_only_die' for a workflow; choose one of "
        "('aer', 'os', 'prng', 'qrng')"
    )


def test_the_fallback_hint_lists_only_fallbacks_workflows_offer(registered):
    from hybridqml.entropy import OSSource

    registered(
        "cmd_only_os",
        factory=lambda s, *, name, seed: OSSource(),
        help="x",
        fallback=True,
        workflows=False,
    )
    assert _epochs._fallbacks() == ("aer", "os", "prng")


def test_a_read_after_a_failed_open_opens_the_epoch_that_failed(registered):
    from hybridqml.entropy import PRNGSource

    calls = []

    def factory(settings, *, name, seed):
        calls.append(seed)
        if len(calls) == 1:
            raise EntropyError("service not reachable at setup")
        return PRNGSource(seed)

    registered("flaky_die", factory=factory, help="x", seeded=True)
    s = stream(EntropySettings(source="flaky_die", mode="pure"))
    with pytest.raises(EntropyError, match="service not reachable at setup"):
        s.open_epoch(3)
    assert s.epoch == 3
    assert s.read(6) == pcg_bytes(epoch_seed(5, 3), 6)
    assert calls == [epoch_seed(5, 3)] * 2
    s.close()


def test_the_fallback_warning_points_at_the_caller(dead_qrng):
    s = stream(dead_qrng(fallback="prng"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s.read(4)  # this line is the one the warning names
    (warning,) = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert reported_at(warning.filename, __file__)
    s.close()


def test_the_provenance_names_the_source_and_a_switch_survives_a_checkpoint(dead_qrng):
    s = stream()
    s.open_epoch(1)
    assert s.provenance()["name"] == "prng(PCG64DXSM) [seeded per epoch from run seed 5]"
    s.close()
    failing = stream(dead_qrng(fallback="prng"))
    with pytest.warns(RuntimeWarning):
        failing.read(4)
    state = failing.state_dict()
    reason = failing.fallback_reason
    assert "connection failed" in reason
    assert state["fallback_reason"] == reason and state["fallback_used"] is True
    resumed = stream(dead_qrng(fallback="prng"))
    resumed.load_state_dict(state)
    assert resumed.fallback_reason == reason
    assert resumed.provenance()["fallback_reason"] == reason
    failing.close()
    resumed.close()


def test_other_ranks_start_from_zero_source_bytes(monkeypatch):
    s = stream()
    s.open_epoch(2)
    s.read(8)
    state = s.state_dict()
    assert state["source_bytes"] >= 8
    _as_rank_one_of_two(monkeypatch)
    other = stream()
    other.load_state_dict(state)
    prov = other.provenance()
    assert prov["source_bytes"] == 0 and prov["delivered_bytes"] == 0


def test_an_epoch_zero_checkpoint_resumes_epoch_zero():
    s = stream()
    s.open_epoch(0)
    s.read(6)
    state = s.state_dict()
    assert state["epoch"] == 0
    resumed = stream()
    resumed.load_state_dict(state)
    assert resumed.epoch == 0
    assert resumed.read(4) == pcg_bytes(epoch_seed(5, 0), 10)[6:]


def test_an_old_checkpoint_without_epoch_delivered_resumes_at_the_epoch_start():
    s = stream()
    s.open_epoch(2)
    s.read(3)
    state = s.state_dict()
    del state["epoch_delivered"]
    resumed = stream()
    resumed.load_state_dict(state)
    assert resumed.read(5) == pcg_bytes(epoch_seed(5, 2), 5)


def test_a_checkpoint_after_one_byte_skips_that_byte():
    s = stream()
    s.open_epoch(2)
    s.read(1)
    resumed = stream()
    resumed.load_state_dict(s.state_dict())
    assert resumed.read(3) == pcg_bytes(epoch_seed(5, 2), 4)[1:]


def test_each_epochs_source_is_closed(registered):
    from hybridqml.entropy import PRNGSource

    closed = []

    class Recorded(PRNGSource):
        def close(self):
            closed.append(self.seed_value)

    def factory(settings, *, name, seed):
        source = Recorded(seed)
        source.seed_value = seed
        return source

    registered("closing_die", factory=factory, help="x", seeded=True)
    s = stream(EntropySettings(source="closing_die", mode="pure"))
    s.open_epoch(1)
    s.open_epoch(2)
    assert closed == [epoch_seed(5, 1)]
    s.close()
    assert closed == [epoch_seed(5, 1), epoch_seed(5, 2)]


def test_expanded_mode_delivers_a_generator_seeded_from_32_source_bytes():
    s = stream(EntropySettings(source="prng", mode="expanded"))
    s.open_epoch(2)
    got = s.read(64)
    seed = int.from_bytes(pcg_bytes(epoch_seed(5, 2), 32), "little")
    words = np.random.PCG64DXSM(np.random.SeedSequence(entropy=seed)).random_raw(8)
    assert got == np.asarray(words, dtype="<u8").tobytes()
    prov = s.provenance()
    assert (prov["source_bytes"], prov["delivered_bytes"]) == (32, 64)
    assert prov["name"] == "expanded(prng(PCG64DXSM)) [seeded per epoch from run seed 5]"
    s.close()


def test_a_source_that_states_no_kind_is_recorded_without_one(registered):
    class Duck:  # a plugin source that is not an EntropySource subclass and names no kind
        name = "duck"

        def read(self, n):
            return bytes(i % 256 for i in range(n))

        def close(self):
            pass

    registered("duck", factory=lambda s, *, name, seed: Duck(), help="x")
    s = stream(EntropySettings(source="duck", mode="pure", health_tests=False))
    s.open_epoch(1)
    assert s.read(3) == b"\x00\x01\x02"
    assert s.kind == "" and s.provenance()["kind"] == ""
    s.close()


def test_totals_add_up_over_three_epochs():
    s = stream()
    for epoch, n in ((1, 16), (2, 24), (3, 8)):
        s.open_epoch(epoch)
        s.read(n)
    s.open_epoch(4)  # closes epoch 3
    prov = s.provenance()
    assert prov["delivered_bytes"] == 48
    one = stream()
    one.open_epoch(1)
    one.read(24)  # the largest read: every epoch's pool fetched the same first block
    assert prov["source_bytes"] == 3 * one.provenance()["source_bytes"]
    one.close()
    s.close()
