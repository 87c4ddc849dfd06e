"""EntropySettings: one dataclass behind the Python API, both commands' flags and the record."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from hybridqml.entropy import EntropySettings, EntropyStream
from hybridqml.entropy._settings import COMMANDS, flag
from hybridqml.exceptions import ConfigurationError

RECORD_KEYS = {
    "source",
    "mode",
    "qrng_url",
    "qrng_provider",
    "qrng_retries",
    "fallback",
    "health_tests",
}  # what metrics.json recorded before the options were declared once


def parser_for(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    EntropySettings.add_arguments(parser, command)
    return parser


def flags_of(command: str) -> set[str]:
    return {s for a in parser_for(command)._actions for s in a.option_strings} - {"-h", "--help"}


def test_the_existing_flag_names_are_generated():
    assert flags_of("entropy") == {
        "--source",
        "--url",
        "--provider",
        "--no-health-tests",
        "--qubits",
        "--conditioning",
    }
    assert flags_of("train") == {
        "--entropy",
        "--entropy-mode",
        "--qrng-url",
        "--qrng-provider",
        "--entropy-fallback",
    }


def test_every_field_is_documented_and_every_flag_maps_back_to_its_field():
    for field in dataclasses.fields(EntropySettings):
        spec = field.metadata["option"]
        assert spec.help and set(spec.flags) <= set(COMMANDS), field.name
    args = parser_for("train").parse_args(
        ["--entropy", "qrng", "--entropy-mode", "pure", "--qrng-url", "https://q.example/e",
         "--qrng-provider", "anu", "--entropy-fallback", "prng"]
    )  # fmt: skip
    assert EntropySettings.from_args(args, "train") == EntropySettings(
        source="qrng", mode="pure", qrng_url="https://q.example/e", qrng_provider="anu",
        fallback="prng",
    )  # fmt: skip
    args = parser_for("entropy").parse_args(
        ["--source", "fake_manila", "--qubits", "3", "--no-health-tests", "--conditioning",
         "sha256"]
    )  # fmt: skip
    settings = EntropySettings.from_args(args, "entropy")
    assert (settings.source, settings.qubits, settings.health_tests) == ("fake_manila", 3, False)
    assert settings.conditioning == "sha256"
    # the entropy command keeps its own defaults: pure bytes, the QRNG client's tuning
    assert settings.mode == "pure" and settings.qrng_retries is None
    assert settings.qrng_timeout is None and settings.qrng_backoff_factor is None


def test_defaults_of_the_train_flags_are_the_dataclass_defaults():
    settings = EntropySettings.from_args(parser_for("train").parse_args([]), "train")
    assert settings == EntropySettings()


def test_choices_come_from_the_metadata():
    with pytest.raises((SystemExit, argparse.ArgumentError)):
        parser_for("train").parse_args(["--entropy-mode", "mixed"])
    with pytest.raises(ConfigurationError, match="mode"):
        EntropySettings(mode="mixed")
    with pytest.raises(ConfigurationError, match="conditioning"):
        EntropySettings(conditioning="md5")
    with pytest.raises(ConfigurationError, match="qrng_provider"):
        EntropySettings(qrng_provider="dice")
    with pytest.raises(ConfigurationError, match="qrng_retries"):
        EntropySettings(qrng_retries=-1)
    with pytest.raises(ConfigurationError, match="command"):
        EntropySettings.add_arguments(argparse.ArgumentParser(), "serve")


def test_the_record_keeps_its_keys_and_adds_options_only_when_set():
    assert set(EntropySettings().to_record()) == RECORD_KEYS
    record = EntropySettings(source="aer", qubits=8, conditioning="sha256").to_record()
    assert set(record) == RECORD_KEYS | {"qubits", "conditioning"}
    url = EntropySettings(source="qrng", qrng_url="https://u:pw@q.example/api?k=SECRET")
    assert url.to_record()["qrng_url"] == "https://q.example/api"


def test_workflow_config_records_the_entropy_settings_through_to_record():
    from hybridqml.runs import config_to_json

    @dataclasses.dataclass(frozen=True)
    class Config:
        lr: float = 0.1
        entropy: EntropySettings = dataclasses.field(
            default_factory=lambda: EntropySettings(source="aer", qubits=4)
        )

    recorded = config_to_json(Config())
    assert set(recorded["entropy"]) == RECORD_KEYS | {"qubits"} and recorded["lr"] == 0.1


def test_messages_name_the_flags_of_both_commands():
    assert flag("fallback") == "--entropy-fallback" and flag("qrng_url", "entropy") == "--url"
    with pytest.raises(ConfigurationError, match="--url, hybridqml train --qrng-url"):
        EntropySettings(source="qrng")


def test_the_stream_honours_the_pool_and_source_options():
    settings = EntropySettings(source="aer", mode="pure", qubits=4, conditioning="sha256")
    stream = EntropyStream(settings=settings, seed=0)
    stream.open_epoch(1)
    try:
        assert len(stream.read(64)) == 64
        assert stream._source.n_qubits == 4 and stream._pool.conditioner.name == "sha256"
    finally:
        stream.close()
