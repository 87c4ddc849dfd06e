import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from workflow_testing import closed_port_url, read_metrics

from hybridqml.entropy import EntropySettings
from hybridqml.exceptions import ConfigurationError, QRNGError
from hybridqml.workflows import _gan as gan_module
from hybridqml.workflows._gan import Discriminator, GANConfig, Generator, train_gan
from hybridqml.workflows._gan_metrics import (
    class_coverage,
    frechet_distance,
    train_digit_classifier,
)


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


def test_frechet_distance_of_1d_gaussians_is_the_closed_form():
    # 1-D: FD = (m1 - m2)^2 + (s1 - s2)^2 with the fitted (ddof=1) standard deviations
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 0.5, size=(300, 1)), rng.normal(-0.5, 2.0, size=(500, 1))
    m1, m2 = a.mean(), b.mean()
    s1, s2 = a.std(ddof=1), b.std(ddof=1)
    expected = (m1 - m2) ** 2 + (s1 - s2) ** 2
    got = frechet_distance(torch.from_numpy(a), torch.from_numpy(b))
    assert got == pytest.approx(expected, rel=1e-9)
    assert got != pytest.approx((m1 - m2) ** 2, rel=1e-3)  # the covariance term matters here


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_frechet_distance_with_unequal_covariances_matches_scipy_sqrtm(seed):
    # the textbook formula with scipy's matrix square root of the (non-symmetric) product
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(seed)
    d = 5
    mix_a, mix_b = rng.normal(size=(d, d)), rng.normal(size=(d, d))  # unequal, correlated
    a = rng.normal(size=(400, d)) @ mix_a + rng.normal(size=d)
    b = rng.normal(size=(600, d)) @ mix_b
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    cross = np.real(sqrtm(cov_a @ cov_b))
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * cross)
    got = frechet_distance(torch.from_numpy(a), torch.from_numpy(b))
    assert got == pytest.approx(expected, rel=1e-8)
    # symmetric in its arguments, like the closed form
    assert frechet_distance(torch.from_numpy(b), torch.from_numpy(a)) == pytest.approx(got)


def test_resume_with_another_entropy_source_is_refused(tmp_path):
    train_gan(_config(tmp_path, epochs=1))
    aer = EntropySettings(source="aer", mode="expanded")
    with pytest.raises(ConfigurationError) as info:
        train_gan(_config(tmp_path, epochs=2, resume=True, entropy=aer, lr=1e-3))
    message = str(info.value)
    assert "entropy.source: checkpoint 'prng', now 'aer'" in message
    assert "entropy.mode: checkpoint 'pure', now 'expanded'" in message
    assert "lr: checkpoint 0.0002, now 0.001" in message
    stored = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert stored["epoch"] == 1 and stored["objects"]["entropy"]["active_source"] == "prng"
    # changing only what may change on resume (epochs, grid_every, progress) is accepted
    result = train_gan(_config(tmp_path, epochs=2, resume=True, grid_every=5))
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert result.entropy["source"] == result.entropy["active_source"] == "prng"


def test_resume_after_a_used_fallback_continues_on_the_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDQML_QRNG_TOKEN", "test-token")
    url = closed_port_url()
    entropy = EntropySettings(source="qrng", qrng_url=url, qrng_retries=0, fallback="prng")
    with pytest.warns(RuntimeWarning, match="switching to the requested fallback"):
        train_gan(_config(tmp_path, entropy=entropy, epochs=1))
    other = EntropySettings(source="qrng", qrng_url=url, qrng_retries=0, fallback="os")
    changed = r"entropy\.fallback: checkpoint 'prng', now 'os'"
    with pytest.raises(ConfigurationError, match=changed):
        train_gan(_config(tmp_path, entropy=other, epochs=2, resume=True))
    # the same settings: no new attempt on the QRNG (no warning), the run stays on the fallback
    result = train_gan(_config(tmp_path, entropy=entropy, epochs=2, resume=True))
    recorded = read_metrics(tmp_path)["entropy"]
    assert result.history[-1]["epoch"] == 2
    assert recorded["source"] == "qrng" and recorded["active_source"] == "prng"
    assert recorded["fallback_used"] is True and "127.0.0.1" in recorded["fallback_reason"]


@pytest.mark.parametrize("progress", [True, False])
def test_quality_classifier_progress_bar_follows_the_setting(capsys, progress):
    data = torch.utils.data.TensorDataset(torch.rand(8, 1, 28, 28), torch.arange(8) % 10)
    train_digit_classifier(data, epochs=2, batch_size=4, progress=progress)
    err = capsys.readouterr().err
    assert ("quality classifier 2/2" in err) is progress


@pytest.mark.parametrize("progress", [True, False])
def test_gan_passes_its_progress_setting_to_the_quality_classifier(tmp_path, monkeypatch, progress):
    seen = {}

    def fake(train, **kw):
        seen.update(kw)
        raise KeyboardInterrupt  # stop before the GAN trains

    monkeypatch.setattr(gan_module, "train_digit_classifier", fake)
    with pytest.raises(KeyboardInterrupt):
        train_gan(_config(tmp_path, progress=progress))
    assert seen["progress"] is progress


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e300])
def test_frechet_distance_of_diverged_features_is_nan_not_a_crash(bad):
    real = torch.rand(64, 8, generator=torch.Generator().manual_seed(0))
    fake = real.clone().double()
    fake[::2] = bad
    assert math.isnan(frechet_distance(real, fake))
