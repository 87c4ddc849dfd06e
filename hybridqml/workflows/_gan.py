"""The quantum-latent MNIST GAN: MLP generator and discriminator, latent vectors from entropy.

Generator ``latent (100) - 256 - 512 - 1024 - 784`` (LeakyReLU 0.2, ``tanh`` output in
``[-1, 1]``); discriminator ``784 - 512 - 256 - 1`` (LeakyReLU 0.2, dropout 0.3, one logit).
Every latent vector is ``normal(stream, (B, latent_dim))``: standard normals by inverse CDF from
bytes of the run's :class:`~hybridqml.entropy.EntropyStream` (Aer Hadamard bits, an HTTP
QRNG, the OS or a seeded PRNG; ``pure`` or ``expanded``). The source never changes silently: if
it fails, training stops with its error (``QRNGError`` for the QRNG) unless a fallback was
requested, and ``metrics.json`` records the provenance either way.

Each epoch records ``d_loss`` and ``g_loss`` (batch means), ``d_real``/``d_fake`` (mean
discriminator probabilities) and two quality numbers from
``hybridqml.workflows._gan_metrics``, computed on a fixed set of evaluation latents (drawn once
from the stream and kept in the checkpoint): ``class_coverage`` (distinct digits among the samples)
and ``frechet_distance`` (to held-out real images, in the quality classifier's feature space). Image
grids are saved to ``OUT/grids/epoch_XXX.png`` and the last one to ``OUT/samples.png``.

Example:
    >>> import tempfile
    >>> from hybridqml.entropy import EntropySettings
    >>> cfg = GANConfig(out_dir=tempfile.mkdtemp(), dataset="digits", epochs=1,
    ...                 entropy=EntropySettings(source="prng"), progress=False)
    >>> train_gan(cfg).history[-1]["class_coverage"] >= 1  # doctest: +SKIP
    True
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch
from torch import nn
from torch.nn import functional as F

from hybridqml._validation import positive_int
from hybridqml.data import MNIST_SIDE
from hybridqml.entropy import normal
from hybridqml.exceptions import ConfigurationError
from hybridqml.runs import (
    EntropyRunConfig,
    ImageRunConfig,
    UserState,
    atomic_torch_save,
    load_torch_file,
)
from hybridqml.training import evaluate_classifier, make_loader, share_from_main
from hybridqml.workflows._base import Option, Workflow
from hybridqml.workflows._gan_metrics import (
    CLASSIFIER_EPOCHS,
    DigitClassifier,
    class_coverage,
    frechet_distance,
    train_digit_classifier,
)
from hybridqml.workflows._trainer import RunResult, Trainer

__all__ = [
    "DEFAULT_GAN_BATCH_SIZE",
    "DEFAULT_GAN_EPOCHS",
    "DEFAULT_GAN_LR",
    "DEFAULT_LATENT_DIM",
    "EVAL_SAMPLES",
    "Discriminator",
    "GANConfig",
    "GANResult",
    "Generator",
    "train_gan",
]

DEFAULT_LATENT_DIM: Final[int] = 100
DEFAULT_GAN_EPOCHS: Final[int] = 50
DEFAULT_GAN_BATCH_SIZE: Final[int] = 64
DEFAULT_GAN_LR: Final[float] = 2e-4
EVAL_SAMPLES: Final[int] = 1000
"""Generated samples per epoch for class coverage and the Fréchet distance."""
_GRID_IMAGES: Final[int] = 64
_REAL_LABEL: Final[float] = 0.9  # one-sided label smoothing
_CLASSIFIER_NAME: Final[str] = "classifier.pt"


class Generator(nn.Module):
    """``latent - 256 - 512 - 1024 - 784`` MLP, LeakyReLU(0.2), ``tanh`` output.

    Args:
        latent_dim: Width of the latent vectors.

    Example:
        >>> Generator()(torch.randn(2, 100)).shape
        torch.Size([2, 784])
    """

    def __init__(self, *, latent_dim: int = DEFAULT_LATENT_DIM) -> None:
        super().__init__()
        widths = (latent_dim, 256, 512, 1024)
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Linear(1024, 784), nn.Tanh())
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Flat images ``(B, 784)`` in ``[-1, 1]`` from latents ``(B, latent_dim)``."""
        return self.net(z)


class Discriminator(nn.Module):
    """``784 - 512 - 256 - 1`` MLP, LeakyReLU(0.2), dropout 0.3, one logit (real > 0).

    Example:
        >>> Discriminator()(torch.rand(2, 784)).shape
        torch.Size([2, 1])
    """

    def __init__(self, *, dropout: float = 0.3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(784, 512),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(256, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 1)`` for flat images ``(B, 784)`` in ``[-1, 1]``."""
        return self.net(images.reshape(len(images), -1))


@dataclass(frozen=True, kw_only=True)
class GANConfig(ImageRunConfig, EntropyRunConfig):
    """Settings of :func:`train_gan`: a run with images and an entropy source (the latents).

    The shared settings are those of :class:`~hybridqml.runs.RunConfig`,
    :class:`~hybridqml.runs.ImageRunConfig` and :class:`~hybridqml.runs.EntropyRunConfig`
    (a resumed run keeps its entropy source; one that had switched to its fallback continues on
    it); ``progress`` covers the quality classifier's training too.

    Attributes:
        epochs: Training epochs.
        batch_size: Mini-batch size.
        lr: Adam learning rate of both networks (betas 0.5, 0.999).
        latent_dim: Width of the latent vectors.
        grid_every: Save an image grid every this many epochs (and after the last).
        eval_samples: Generated samples for coverage and Fréchet distance.
        classifier_epochs: Training epochs of the quality classifier.
    """

    epochs: int = DEFAULT_GAN_EPOCHS
    batch_size: int = DEFAULT_GAN_BATCH_SIZE
    lr: float = DEFAULT_GAN_LR
    latent_dim: int = DEFAULT_LATENT_DIM
    grid_every: int = 1
    eval_samples: int = EVAL_SAMPLES
    classifier_epochs: int = CLASSIFIER_EPOCHS

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("latent_dim", "grid_every", "classifier_epochs"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_samples < 2:
            raise ConfigurationError(f"eval_samples must be >= 2, got {self.eval_samples}")


@dataclass(frozen=True, kw_only=True)
class GANResult(RunResult):
    """Outcome of :func:`train_gan` (besides :class:`~hybridqml.workflows.RunResult`).

    Attributes:
        class_coverage: Coverage after the last epoch.
        frechet_distance: Fréchet distance after the last epoch.
        classifier_test_accuracy: Test accuracy of the quality classifier.
        entropy: Provenance of the latent bytes.
        data_source: Where the images came from.
    """

    class_coverage: int
    frechet_distance: float
    classifier_test_accuracy: float
    entropy: dict[str, Any]
    data_source: str


class _GANTrainer(Trainer):
    """The GAN run: a quality classifier first, then generator and discriminator in turns."""

    name = "gan"
    result_type = GANResult
    # which epochs save an image grid PNG; no number depends on it
    resume_mutable = frozenset({"grid_every"})

    def prepare(self) -> None:
        """The quality classifier, its test accuracy and the real images' features."""
        config, split = self.config, self.data
        self.classifier = _classifier(self.out, split.train, config)
        test_loader = make_loader(split.test, batch_size=1024, shuffle=False)
        self.classifier_accuracy = evaluate_classifier(self.classifier, test_loader).accuracy
        with torch.no_grad():
            self.real_features = self.classifier.features(
                split.test.tensors[0][: config.eval_samples]
            )
        self.grids: list[Path] = []

    def build(self) -> dict[str, Any]:
        config, stream = self.config, self.stream
        assert stream is not None  # an EntropyRunConfig: the trainer opened its stream
        self.generator = Generator(latent_dim=config.latent_dim)
        self.discriminator = Discriminator()
        betas = (0.5, 0.999)
        self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=betas)
        self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr, betas=betas)
        self.state = UserState()
        if not config.resume:  # evaluation latents: drawn once (stream epoch 0), checkpointed
            stream.open_epoch(0)
            # rank 0's latents on every rank (data-parallel): one evaluation, one set of metrics
            self.state["eval_z"] = share_from_main(
                lambda: normal(stream, (config.eval_samples, config.latent_dim)),
                lambda latents: latents,
                key=lambda latents: latents,
            )
            stream.open_epoch(1)
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "g_optimizer": self.g_opt,
            "d_optimizer": self.d_opt,
            "entropy": stream,
            "state": self.state,
        }

    def step(self, batch: Any) -> dict[str, float]:
        generator, discriminator = self.generator, self.discriminator
        real = batch[0].reshape(len(batch[0]), -1) * 2 - 1
        fake = generator(normal(self.stream, (len(real), self.config.latent_dim)))
        self.d_opt.zero_grad()
        real_logits = discriminator(real)
        fake_logits = discriminator(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(
            real_logits, torch.full_like(real_logits, _REAL_LABEL)
        ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        d_loss.backward()
        self.d_opt.step()
        self.g_opt.zero_grad()
        g_logits = discriminator(fake)
        g_loss = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
        g_loss.backward()
        self.g_opt.step()
        return {
            "d_loss": d_loss.item(),
            "g_loss": g_loss.item(),
            "d_real": torch.sigmoid(real_logits).mean().item(),
            "d_fake": torch.sigmoid(fake_logits).mean().item(),
        }

    def evaluate(self, epoch: int) -> dict[str, float]:
        from hybridqml.plotting import save_image_grid

        config, generator = self.config, self.generator
        generator.eval()
        with torch.no_grad():
            fake = generator(self.state["eval_z"])
            images = (fake.reshape(-1, 1, MNIST_SIDE, MNIST_SIDE) + 1) / 2
            predictions = self.classifier(images).argmax(dim=1)
            fake_features = self.classifier.features(images)
        generator.train()
        if epoch % config.grid_every == 0 or epoch == config.epochs:
            path = self.out / "grids" / f"epoch_{epoch:03d}.png"
            self.grids.append(save_image_grid(fake[:_GRID_IMAGES], path))
        return {
            "class_coverage": class_coverage(predictions),
            "frechet_distance": frechet_distance(self.real_features, fake_features),
        }

    def on_epoch_end(self, epoch: int, *_: Any) -> None:
        assert self.stream is not None  # an EntropyRunConfig: the trainer opened its stream
        self.stream.open_epoch(epoch + 1)

    def metrics(self, fit: Any) -> dict[str, Any]:
        return {
            "classifier_test_accuracy": self.classifier_accuracy,
            "eval_samples": self.config.eval_samples,
        }

    def draw(self, fit: Any) -> Sequence[Path]:
        from hybridqml.plotting import plot_history

        plots = [
            plot_history(fit.history, self.out / name, metrics=metrics, title=title)
            for name, metrics, title in (
                ("curves.png", ["d_loss", "g_loss", "d_real", "d_fake"], "GAN losses"),
                (
                    "quality.png",
                    ["frechet_distance", "class_coverage"],
                    "GAN quality (classifier features)",
                ),
            )
        ]
        last_grid = self.out / "grids" / f"epoch_{fit.epochs_completed:03d}.png"
        if last_grid.is_file():
            plots.append(Path(shutil.copyfile(last_grid, self.out / "samples.png")))
        return (*plots, *self.grids)

    def outcome(self, fit: Any) -> dict[str, Any]:
        final = fit.history[-1]
        return {
            "class_coverage": int(final["class_coverage"]),
            "frechet_distance": float(final["frechet_distance"]),
            "classifier_test_accuracy": self.classifier_accuracy,
            "entropy": self.provenance,
            "data_source": self.data.info.source,
        }


def _classifier(out: Path, train: Any, config: GANConfig) -> DigitClassifier:
    """The quality classifier: reloaded from ``out`` when resuming, else trained and saved."""
    path = out / _CLASSIFIER_NAME
    if config.resume and path.is_file():
        model = DigitClassifier()
        fix = "Delete it to retrain the quality classifier when resuming"
        model.load_state_dict(load_torch_file(path, what="quality classifier", fix=fix))
        return model.eval()
    model = train_digit_classifier(
        train, epochs=config.classifier_epochs, seed=config.seed, progress=config.progress
    )
    atomic_torch_save(model.state_dict(), path)
    return model


def train_gan(config: GANConfig, *, callbacks: Sequence[Any] = ()) -> GANResult:
    """Train the GAN with entropy-sourced latents; write metrics, grids, curves and checkpoints.

    Args:
        config: The run settings.
        callbacks: :class:`~hybridqml.training.Callback` s (loggers) of the run.

    Returns:
        History, final quality numbers, entropy provenance and the files written.

    Raises:
        DataError: Missing or corrupt data.
        EntropyError: The entropy source failed (``QRNGError`` for the QRNG) and no fallback was
            requested; nothing else is used silently.
        ConfigurationError: Bad settings, or a resume with changed settings (the entropy
            source included; each difference listed).
    """
    return _GANTrainer.train(config, callbacks=callbacks)


def _summary(r: GANResult) -> str:
    last = r.history[-1]
    return (
        f"gan: d_loss {last['d_loss']:.3f}, g_loss {last['g_loss']:.3f}, class_coverage "
        f"{r.class_coverage}/10, frechet_distance {r.frechet_distance:.1f}; latents from "
        f"{r.entropy['name']} ({r.entropy['kind']}, {r.entropy['mode']})"
    )


def _headline(r: GANResult) -> dict[str, Any]:
    return {"class_coverage": r.class_coverage, "frechet_distance": round(r.frechet_distance, 1)}


WORKFLOW = Workflow(
    name="gan",
    help="MNIST GAN with entropy-source latent vectors",
    config=GANConfig,
    train=train_gan,
    options=(
        Option("--grid-every", "grid_every", {"type": positive_int}),
        Option("--eval-samples", "eval_samples", {"type": positive_int}),
    ),
    summary=_summary,
    headline=_headline,
    demo={
        "epochs": 40,
        "batch_size": 32,
        "limit_per_class": 150,
        "eval_samples": 500,
        "classifier_epochs": 3,
    },
    quick_demo={"epochs": 1, "limit_per_class": 12, "eval_samples": 50, "classifier_epochs": 1},
    resume_mutable=_GANTrainer.resume_mutable,
)
"""The GAN workflow as ``hybridqml train gan`` and ``hybridqml demo`` see it."""
