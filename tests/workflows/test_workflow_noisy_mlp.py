from dataclasses import replace

import pytest
import torch
from workflow_testing import closed_port_url, read_metrics

from hybridqml.entropy import EntropySettings, EntropyStream
from hybridqml.exceptions import ConfigurationError, QRNGError
from hybridqml.workflows._noisy_mlp import NoisyMLPConfig, train_noisy_mlp


def _config(out, **kw):
    base = dict(
        out_dir=out,
        dataset="digits",
        limit_per_class=20,
        batch_size=32,
        epochs=3,
        entropy=EntropySettings(source="prng", mode="pure"),
        progress=False,
    )
    return NoisyMLPConfig(**(base | kw))


def test_training_lowers_the_loss_and_records_the_noise_provenance(tmp_path):
    result = train_noisy_mlp(_config(tmp_path))
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    metrics = read_metrics(tmp_path)
    assert metrics["test_accuracy"] == result.test_accuracy
    assert len(metrics["confusion_matrix"]) == 10
    entropy = metrics["entropy"]
    assert entropy["kind"] == "pseudo" and entropy["mode"] == "pure"
    # pure mode: every noise byte came from the source, 4 bytes per noise value
    n_train = metrics["n_train"]
    assert entropy["delivered_bytes"] == 3 * n_train * (784 + 128 + 64) * 4
    assert entropy["source_bytes"] >= entropy["delivered_bytes"]
    for name in ("checkpoint.pt", "best.pt", "curves.png", "confusion_matrix.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_resume_with_a_seeded_source_reproduces_the_noise(tmp_path):
    train_noisy_mlp(_config(tmp_path / "full", epochs=2))
    train_noisy_mlp(_config(tmp_path / "part", epochs=1))
    train_noisy_mlp(_config(tmp_path / "part", epochs=2, resume=True))
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["objects"]["model"]
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)["objects"]["model"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # a different seed gives different noise and therefore different weights
    train_noisy_mlp(_config(tmp_path / "other", epochs=2, seed=1))
    c = torch.load(tmp_path / "other" / "checkpoint.pt", weights_only=True)["objects"]["model"]
    assert not torch.equal(a["fc1.weight"], c["fc1.weight"])


def test_unreachable_qrng_stops_with_a_qrng_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDQML_QRNG_TOKEN", "test-token")
    entropy = EntropySettings(source="qrng", qrng_url=closed_port_url(), qrng_retries=0)
    with pytest.raises(QRNGError, match="no fallback"):
        train_noisy_mlp(_config(tmp_path, entropy=entropy, epochs=1))


def test_entropy_settings_are_validated():
    with pytest.raises(ConfigurationError, match="qrng_url"):
        EntropySettings(source="qrng")
    with pytest.raises(ConfigurationError, match="unknown entropy source"):
        EntropySettings(source="dice")
    with pytest.raises(ConfigurationError, match="mode"):
        EntropySettings(source="os", mode="mixed")
    with pytest.raises(ConfigurationError, match="fallback"):
        EntropySettings(source="os", fallback="os")


def test_recorded_config_never_holds_url_secrets():
    from hybridqml.runs import config_to_json

    entropy = EntropySettings(source="qrng", qrng_url="https://u:pw@qrng.example/api?key=SECRET")
    recorded = config_to_json(NoisyMLPConfig(out_dir="x", entropy=entropy))
    assert recorded["entropy"]["qrng_url"] == "https://qrng.example/api"
    assert recorded["out_dir"] == "x"


def test_resume_refuses_another_entropy_source_and_other_noise(tmp_path):
    train_noisy_mlp(_config(tmp_path, epochs=1))
    aer = EntropySettings(source="aer", mode="pure")
    with pytest.raises(ConfigurationError) as info:
        train_noisy_mlp(_config(tmp_path, epochs=2, resume=True, entropy=aer, noise_std=0.5))
    message = str(info.value)
    assert "entropy.source: checkpoint 'prng', now 'aer'" in message
    assert "noise_std: checkpoint 0.1, now 0.5" in message
    assert "another output folder (CLI: --out)" in message
    # the unchanged settings still resume (exactness: test_resume_with_a_seeded_source...)
    result = train_noisy_mlp(_config(tmp_path, epochs=2, resume=True, progress=True))
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert result.entropy["active_source"] == "prng"


def _stream_state(**state):
    stream = EntropyStream(settings=EntropySettings(source="prng", mode="pure"), seed=1)
    stream.open_epoch(1)
    stream.read(8)
    saved = stream.state_dict() | state
    stream.close()
    return saved


def test_stream_state_is_refused_by_a_stream_with_another_source_or_mode():
    state = _stream_state()
    for settings, flag in (
        (EntropySettings(source="os", mode="pure"), "--entropy prng"),
        (EntropySettings(source="prng", mode="expanded"), "--entropy-mode pure"),
    ):
        stream = EntropyStream(settings=settings, seed=1)
        with pytest.raises(ConfigurationError, match=flag):
            stream.load_state_dict(state)
        assert stream.active_source == settings.source


def test_stream_state_after_a_fallback_needs_the_same_fallback(monkeypatch):
    state = _stream_state(
        source="qrng", active_source="prng", fallback_used=True, fallback_reason="down"
    )
    url = "https://qrng.example/api"
    qrng = EntropySettings(source="qrng", mode="pure", qrng_url=url)
    no_fallback = EntropyStream(settings=qrng, seed=1)
    with pytest.raises(ConfigurationError, match="--entropy-fallback prng"):
        no_fallback.load_state_dict(state)
    stream = EntropyStream(settings=replace(qrng, fallback="prng"), seed=1)
    stream.load_state_dict(state)
    provenance = stream.provenance()
    stream.close()
    assert provenance["active_source"] == "prng" and provenance["fallback_reason"] == "down"
    assert provenance["delivered_bytes"] == 8
