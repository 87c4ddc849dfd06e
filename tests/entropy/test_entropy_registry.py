"""The source registry: one table, filled from entry points, behind the entropy command and the
workflows' stream; public registration at run time."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
from entropy_testing import ScriptedSource, prng_bytes

from hybridqml.entropy import (
    EntropySettings,
    EntropyStream,
    SourceEntry,
    make_source,
    register_source,
    source_names,
    unregister_source,
)
from hybridqml.entropy._registry import lookup
from hybridqml.exceptions import ConfigurationError


@pytest.fixture
def registered():
    """Register entries for one test; restore the table afterwards."""
    replaced: dict[str, SourceEntry | None] = {}

    def register(name, entry):
        if name not in replaced:
            replaced[name] = unregister_source(name) if name in source_names() else None
        register_source(name, entry, replace=True)

    yield register
    for name, old in replaced.items():
        unregister_source(name)
        if old is not None:
            register_source(name, old)


def _choices(command: str, flag: str) -> tuple[str, ...]:
    parser = argparse.ArgumentParser()
    EntropySettings.add_arguments(parser, command)
    action = next(a for a in parser._actions if flag in a.option_strings)
    return tuple(action.choices or ())


def test_every_consumer_lists_the_registry_names():
    assert source_names() == ("aer", "fake_<device>", "os", "prng", "qrng")
    assert _choices("train", "--entropy") == source_names(workflows=True)
    assert _choices("train", "--entropy-fallback") == source_names(workflows=True, fallback=True)
    assert set(source_names(workflows=True)) == {"aer", "qrng", "os", "prng"}  # no fake devices
    assert set(source_names(workflows=True, fallback=True)) == {"aer", "os", "prng"}


def test_the_builtins_come_from_hybridqmls_own_entry_points():
    from importlib.metadata import distributions

    declared = {
        point.name
        for dist in distributions()
        if dist.metadata["Name"] == "hybridqml"  # a stale egg-info may come first: read all
        for point in dist.entry_points.select(group="hybridqml.entropy_sources")
    }
    assert {"aer", "fake_<device>", "os", "prng", "qrng"} <= declared


@pytest.mark.parametrize(
    ("name", "kind", "seeded"),
    [("aer", "simulated-quantum", True), ("os", "os", False), ("prng", "pseudo", True)],
)
def test_local_entries_build_their_source(name, kind, seeded):
    source = make_source(name, EntropySettings(qubits=8), seed=4)
    assert source.kind == kind and lookup(name)[1].seeded is seeded
    if seeded:
        again = make_source(name, EntropySettings(qubits=8), seed=4)
        assert source.read(32) == again.read(32)


def test_fake_device_entry_passes_the_device_name():
    source = make_source("fake_manila", EntropySettings(qubits=2), seed=1)
    assert "manila" in source.name and source.n_qubits == 2
    assert lookup("fake_manila")[0] == "fake_<device>"


def test_qrng_entry_needs_a_url_and_takes_the_stream_tuning(monkeypatch):
    from hybridqml.entropy._sources.qrng.client import TOKEN_ENV_VAR

    with pytest.raises(ConfigurationError, match="qrng_url"):
        make_source("qrng")
    with pytest.raises(ConfigurationError, match="--url"):  # the entropy command's flag
        EntropySettings(source="qrng")
    monkeypatch.setenv(TOKEN_ENV_VAR, "t")
    settings = EntropySettings(source="qrng", qrng_url="https://qrng.example/api", qrng_retries=1)
    source = make_source("qrng", settings)
    assert source.retry.total == 1 and source.kind == "quantum"


def test_unknown_names_are_refused_everywhere():
    with pytest.raises(ConfigurationError, match="unknown source 'dice'"):
        make_source("dice")
    with pytest.raises(ConfigurationError, match="unknown entropy source 'dice'"):
        EntropySettings(source="dice")
    with pytest.raises(ConfigurationError, match="unknown entropy source"):
        # fake devices are for the entropy command, not offered to workflows
        EntropyStream(settings=EntropySettings(source="fake_manila"), seed=0)
    with pytest.raises(ConfigurationError, match="fallback"):
        EntropySettings(source="os", fallback="qrng")


def test_a_registered_entry_is_selectable_by_name(registered, capsys):
    from hybridqml.cli import main

    registered(
        "dice",
        SourceEntry(
            factory=lambda settings, *, name, seed: ScriptedSource(
                prng_bytes(seed or 0), name="dice"
            ),
            help="scripted dice",
            seeded=True,
            fallback=True,
        ),
    )
    assert make_source("dice", seed=2).name == "dice"
    assert "dice" in source_names(workflows=True, fallback=True)
    assert main(["entropy", "test", "--source", "dice", "--seed", "2", "--bytes", "4096"]) == 0
    assert "source:            dice" in capsys.readouterr().out
    stream = EntropyStream(settings=EntropySettings(source="dice", mode="pure"), seed=0)
    stream.open_epoch(1)
    assert stream.read(8) and stream.provenance()["seeded"] is True
    stream.close()


def test_registration_is_checked_and_reversible(registered):
    entry = SourceEntry(factory=lambda settings, **_: ScriptedSource(prng_bytes(0)), help="x")
    with pytest.raises(ConfigurationError, match="already registered"):
        register_source("os", entry)
    with pytest.raises(ConfigurationError, match="SourceEntry"):
        register_source("dice", object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="no entropy source 'dice'"):
        unregister_source("dice")
    with pytest.raises(ConfigurationError, match="callable"):
        SourceEntry(factory="nope", help="x")  # type: ignore[arg-type]
    registered("dice", entry)
    assert "dice" in source_names()
    assert unregister_source("dice") is entry
    assert "dice" not in source_names()
    register_source("dice", entry)  # the fixture removes it again


def test_stream_seeded_flag_follows_the_registry(registered):
    stream = EntropyStream(settings=EntropySettings(source="os", mode="pure"), seed=0)
    assert stream.provenance()["seeded"] is False
    registered("os", dataclasses.replace(lookup("os")[1], seeded=True))
    assert stream.provenance()["seeded"] is True
