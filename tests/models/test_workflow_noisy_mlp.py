import pytest
import torch
from workflow_testing import closed_port_url, read_metrics

from hybridqml.exceptions import ConfigurationError, QRNGError
from hybridqml.models.common import EntropySettings
from hybridqml.models.noisy_mlp import NoisyMLPConfig, train_noisy_mlp


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
    from hybridqml.models.common import config_to_json

    entropy = EntropySettings(source="qrng", qrng_url="https://u:pw@qrng.example/api?key=SECRET")
    recorded = config_to_json(NoisyMLPConfig(out_dir="x", entropy=entropy))
    assert recorded["entropy"]["qrng_url"] == "https://qrng.example/api"
    assert recorded["out_dir"] == "x"
