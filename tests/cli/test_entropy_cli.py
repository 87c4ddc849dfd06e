"""The `hybridqml entropy` command line."""

from __future__ import annotations

import pytest
from entropy_testing import TOKEN

from hybridqml.cli import main
from hybridqml.entropy import PRNGSource
from hybridqml.entropy._sources.qrng.client import TOKEN_ENV_VAR


def test_sample_writes_the_pool_stream(tmp_path, capsys):
    out = tmp_path / "prng.bin"
    code = main(["entropy", "sample", "--source", "prng", "--seed", "3", "--bytes", "1000",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    assert out.read_bytes() == PRNGSource(seed=3).read(1000)
    assert "wrote 1000 bytes" in capsys.readouterr().err


def test_test_report_contents(capsys):
    assert main(["entropy", "test", "--source", "os", "--bytes", "65536"]) == 0
    report = capsys.readouterr().out
    for needle in ("throughput", "health tests:      passed", "MCV min-entropy", "monobit",
                   "block-frequency", "runs", "kind:              os"):  # fmt: skip
        assert needle in report


def test_test_report_for_aer(capsys):
    args = ["entropy", "test", "--source", "aer", "--seed", "1", "--bytes", "20000"]
    assert main([*args, "--qubits", "8"]) == 0
    assert "simulated-quantum" in capsys.readouterr().out


def test_qrng_via_cli_reads_token_from_env_only(qrng_server, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(TOKEN_ENV_VAR, TOKEN)
    out = tmp_path / "q.bin"
    args = ["entropy", "sample", "--source", "qrng", "--url", qrng_server.url, "--bytes", "700"]
    assert main([*args, "--out", str(out)]) == 0
    assert out.read_bytes() == bytes(qrng_server.served[:700])
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    with pytest.raises(SystemExit):
        main([*args, "--out", str(out), "--token", TOKEN])  # no such option


def test_hybridqml_errors_print_one_line_and_exit_nonzero(qrng_server, monkeypatch, capsys):
    monkeypatch.setenv(TOKEN_ENV_VAR, TOKEN)
    qrng_server.script.append(("status", 401))
    code = main(["entropy", "test", "--source", "qrng", "--url", qrng_server.url, "--bytes", "64"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and "401" in captured.err
    assert "Traceback" not in captured.err and TOKEN not in captured.err
    assert main(["entropy", "test", "--source", "bogus", "--bytes", "8"]) == 1
    assert main(["entropy", "test", "--source", "fake_nosuchdevice", "--bytes", "8"]) == 1
    monkeypatch.delenv(TOKEN_ENV_VAR)
    assert main(["entropy", "test", "--source", "qrng", "--url", qrng_server.url,
                 "--bytes", "8"]) == 1  # fmt: skip
    assert TOKEN_ENV_VAR in capsys.readouterr().err


def test_health_failure_makes_test_exit_nonzero(monkeypatch, capsys):
    from entropy_testing import ScriptedSource

    import hybridqml.cli._entropy as entropy_cli

    monkeypatch.setattr(
        entropy_cli, "make_source", lambda *a, **k: ScriptedSource(lambda n, off: bytes(n))
    )
    assert main(["entropy", "test", "--source", "os", "--bytes", "4096"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as info:
        main(["entropy"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["entropy", "sample", "--source", "os", "--bytes", "0", "--out", "x"])


def test_foreign_source_errors_print_one_line(monkeypatch, capsys):
    from entropy_testing import ScriptedSource

    import hybridqml.cli._entropy as entropy_cli

    def broken(n, offset):
        raise OSError("device unplugged")

    monkeypatch.setattr(entropy_cli, "make_source", lambda *a, **k: ScriptedSource(broken))
    assert main(["entropy", "test", "--source", "os", "--bytes", "4096"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "OSError: device unplugged" in err


def test_entropy_test_fails_on_a_qrng_replaying_its_reply(qrng_server, monkeypatch, capsys):
    # a service that answers every request with the same block looks random block by block
    monkeypatch.setenv(TOKEN_ENV_VAR, TOKEN)
    qrng_server.script.extend([("ok",)] + [("replay",)] * 50)
    code = main(
        ["entropy", "test", "--source", "qrng", "--url", qrng_server.url, "--bytes", "8192"]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "replay check failed" in captured.out + captured.err
    assert TOKEN not in captured.out + captured.err
