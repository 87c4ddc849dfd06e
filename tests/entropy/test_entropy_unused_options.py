"""Options the chosen entropy source never reads are errors, not silently ignored."""

from __future__ import annotations

import pytest

from hybridqml.cli import main
from hybridqml.entropy import EntropySettings
from hybridqml.exceptions import ConfigurationError


@pytest.mark.parametrize(
    ("source", "option", "value"),
    [
        ("os", "qrng_url", "https://qrng.example/api/entropy"),
        ("prng", "qrng_provider", "anu"),
        ("aer", "qrng_retries", 7),
        ("os", "qrng_timeout", (1.0, 2.0)),
        ("prng", "qubits", 4),
        ("os", "qubits", 2),
    ],
)
def test_an_option_the_source_never_reads_is_refused(source, option, value):
    with pytest.raises(ConfigurationError, match=rf"{option}=.*not by '{source}'.*drop it"):
        EntropySettings(source=source, **{option: value})


def test_options_of_the_source_or_its_fallback_are_accepted():
    url = "https://qrng.example/api/entropy"
    assert EntropySettings(source="qrng", qrng_url=url, qrng_retries=7).qrng_retries == 7
    assert EntropySettings(source="aer", qubits=4).qubits == 4
    # the fallback reads them: accepted
    assert EntropySettings(source="os", fallback="aer", qubits=3).qubits == 3
    # defaults of either command are not "set by the user"
    assert EntropySettings(source="os", qrng_retries=None, qrng_timeout=None).source == "os"


def test_the_entropy_command_refuses_seed_and_url_of_sources_that_ignore_them(capsys, tmp_path):
    out = str(tmp_path / "bytes.bin")
    assert main(["entropy", "sample", "--source", "os", "--seed", "3", "--bytes", "8",
                 "--out", out]) == 1  # fmt: skip
    assert "--seed is not used by source 'os'" in capsys.readouterr().err
    assert main(["entropy", "sample", "--source", "os", "--url", "https://q.example/e",
                 "--bytes", "8", "--out", out]) == 1  # fmt: skip
    assert "qrng_url" in capsys.readouterr().err
    assert main(["entropy", "sample", "--source", "prng", "--seed", "3", "--bytes", "8",
                 "--out", out]) == 0  # fmt: skip
