"""The source registry: one table behind the entropy command and the workflows' stream."""

from __future__ import annotations

import dataclasses

import pytest
from entropy_testing import ScriptedSource, prng_bytes

import hybridqml.cli.entropy as entropy_cli
from hybridqml.entropy import registry
from hybridqml.entropy.registry import SourceEntry, SourceOptions, make_source, source_names
from hybridqml.entropy.stream import (
    ENTROPY_CHOICES,
    ENTROPY_FALLBACKS,
    EntropySettings,
    EntropyStream,
)
from hybridqml.exceptions import ConfigurationError


def test_every_consumer_lists_the_registry_names():
    assert source_names() == entropy_cli.SOURCE_CHOICES
    assert source_names(workflows=True) == ENTROPY_CHOICES
    assert source_names(workflows=True, fallback=True) == ENTROPY_FALLBACKS
    assert set(ENTROPY_CHOICES) == {"aer", "qrng", "os", "prng"}  # no fake devices in workflows
    assert set(ENTROPY_FALLBACKS) == {"aer", "os", "prng"}


@pytest.mark.parametrize(
    ("name", "kind", "seeded"),
    [("aer", "simulated-quantum", True), ("os", "os", False), ("prng", "pseudo", True)],
)
def test_local_entries_build_their_source(name, kind, seeded):
    source = make_source(name, SourceOptions(seed=4, qubits=8))
    assert source.kind == kind and registry.is_seeded(name) is seeded
    if seeded:
        again = make_source(name, SourceOptions(seed=4, qubits=8))
        assert source.read(32) == again.read(32)


def test_fake_device_entry_passes_the_device_name():
    source = make_source("fake_manila", SourceOptions(seed=1, qubits=2))
    assert "manila" in source.name and source.n_qubits == 2
    assert registry.lookup("fake_manila").name == "fake_<device>"


def test_qrng_entry_needs_a_url_and_takes_the_stream_tuning():
    with pytest.raises(ConfigurationError, match="qrng_url"):
        make_source("qrng")
    with pytest.raises(ConfigurationError, match="--url"):
        entropy_cli.make_source("qrng")
    options = SourceOptions(qrng_url="https://qrng.example/api", qrng_token="t", qrng_retries=1)
    source = make_source("qrng", options)
    assert source.retry.total == 1 and source.kind == "quantum"


def test_unknown_names_are_refused_everywhere():
    with pytest.raises(ConfigurationError, match="unknown source 'dice'"):
        make_source("dice")
    with pytest.raises(ConfigurationError, match="unknown entropy source"):
        EntropySettings(source="fake_manila")  # fake devices are not offered to workflows
    with pytest.raises(ConfigurationError, match="fallback"):
        EntropySettings(source="os", fallback="qrng")


def test_a_new_entry_is_selectable_by_name(monkeypatch, capsys):
    from hybridqml.cli import main

    entry = SourceEntry(
        name="dice",
        factory=lambda options: ScriptedSource(prng_bytes(options.seed or 0), name="dice"),
        help="scripted dice",
        seeded=True,
        fallback=True,
        workflows=True,
    )
    monkeypatch.setattr(registry, "SOURCES", (*registry.SOURCES, entry))
    assert make_source("dice", SourceOptions(seed=2)).name == "dice"
    assert main(["entropy", "test", "--source", "dice", "--seed", "2", "--bytes", "4096"]) == 0
    assert "source:            dice" in capsys.readouterr().out


def test_stream_seeded_flag_follows_the_registry(monkeypatch):
    seeded = dataclasses.replace(registry.lookup("os"), seeded=True)
    table = tuple(seeded if e.name == "os" else e for e in registry.SOURCES)
    stream = EntropyStream(settings=EntropySettings(source="os", mode="pure"), seed=0)
    assert stream.provenance()["seeded"] is False
    monkeypatch.setattr(registry, "SOURCES", table)
    assert stream.provenance()["seeded"] is True
