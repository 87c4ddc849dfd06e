import math

import pytest
import torch
from torch.nn import functional as F
from workflow_testing import closed_port_url, read_metrics

from hybridqml.exceptions import QRNGError
from hybridqml.models.common import EntropySettings
from hybridqml.models.gan import Discriminator, GANConfig, Generator, train_gan
from hybridqml.models.gan_metrics import class_coverage, frechet_distance


def _config(out, **kw):
    base = dict(
        out_dir=out,
        dataset="digits",
        limit_per_class=12,
        batch_size=30,
        epochs=2,
        eval_samples=64,
        classifier_epochs=1,
        entropy=EntropySettings(source="prng", mode="pure"),
        progress=False,
    )
    return GANConfig(**(base | kw))


def test_both_losses_go_down_when_trained_against_a_fixed_opponent():
    torch.manual_seed(0)
    g, d = Generator(), Discriminator(dropout=0.0)
    real = torch.rand(32, 784) * 2 - 1
    z = torch.randn(32, 100)
    d_opt = torch.optim.Adam(d.parameters(), lr=2e-4)
    d_losses = []
    for _ in range(5):
        d_opt.zero_grad()
        fake = g(z).detach()
        loss = F.binary_cross_entropy_with_logits(d(real), torch.ones(32, 1)) + (
            F.binary_cross_entropy_with_logits(d(fake), torch.zeros(32, 1))
        )
        loss.backward()
        d_opt.step()
        d_losses.append(loss.item())
    g_opt = torch.optim.Adam(g.parameters(), lr=2e-4)
    g_losses = []
    for _ in range(5):
        g_opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(d(g(z)), torch.ones(32, 1))
        loss.backward()
        g_opt.step()
        g_losses.append(loss.item())
    assert d_losses[-1] < d_losses[0]
    assert g_losses[-1] < g_losses[0]


def test_gan_run_writes_per_epoch_metrics_grids_and_provenance(tmp_path):
    result = train_gan(_config(tmp_path))
    metrics = read_metrics(tmp_path)
    for key in ("d_loss", "g_loss", "class_coverage", "frechet_distance"):
        values = metrics["history"][key]
        assert len(values) == 2 and all(math.isfinite(v) for v in values), key
    assert 1 <= result.class_coverage <= 10
    assert metrics["entropy"]["source"] == "prng" and not metrics["entropy"]["fallback_used"]
    # pure mode: eval latents + one latent vector per training image per epoch, 4 bytes each
    n = 64 + 2 * metrics["n_train"]
    assert metrics["entropy"]["delivered_bytes"] == n * 100 * 4
    for name in (
        "checkpoint.pt",
        "classifier.pt",
        "curves.png",
        "quality.png",
        "samples.png",
        "grids/epoch_001.png",
        "grids/epoch_002.png",
    ):
        assert (tmp_path / name).stat().st_size > 0


def test_resume_with_a_seeded_source_is_exact(tmp_path):
    train_gan(_config(tmp_path / "full"))
    train_gan(_config(tmp_path / "part", epochs=1))
    train_gan(_config(tmp_path / "part", resume=True))
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["objects"]
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)["objects"]
    for key, value in a["generator"].items():
        assert torch.equal(value, b["generator"][key]), key
    assert torch.equal(a["state"]["eval_z"], b["state"]["eval_z"])


def test_unreachable_qrng_is_an_error_never_a_silent_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDQML_QRNG_TOKEN", "test-token")
    entropy = EntropySettings(source="qrng", qrng_url=closed_port_url(), qrng_retries=0)
    with pytest.raises(QRNGError, match="no fallback source was requested"):
        train_gan(_config(tmp_path, entropy=entropy, epochs=1))
    assert not (tmp_path / "checkpoint.pt").exists()


def test_fallback_only_when_requested_and_then_warned_and_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDQML_QRNG_TOKEN", "test-token")
    entropy = EntropySettings(
        source="qrng", qrng_url=closed_port_url(), qrng_retries=0, fallback="prng"
    )
    with pytest.warns(RuntimeWarning, match="switching to the requested fallback 'prng'"):
        train_gan(_config(tmp_path, entropy=entropy, epochs=1))
    recorded = read_metrics(tmp_path)["entropy"]
    assert recorded["source"] == "qrng" and recorded["active_source"] == "prng"
    assert recorded["fallback_used"] is True and "127.0.0.1" in recorded["fallback_reason"]


def test_quality_measures():
    assert class_coverage(torch.tensor([0, 0, 9, 4])) == 3
    a = torch.randn(400, 6, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shifted = frechet_distance(a, a + 2.0)
    assert shifted == pytest.approx(6 * 4.0, rel=1e-9)  # |mu shift|^2, same covariance
