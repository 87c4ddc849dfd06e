"""The quantum-latent MNIST GAN: MLP generator and discriminator, latent vectors from entropy.

Generator ``latent (100) - 256 - 512 - 1024 - 784`` (LeakyReLU 0.2, ``tanh`` output in
``[-1, 1]``); discriminator ``784 - 512 - 256 - 1`` (LeakyReLU 0.2, dropout 0.3, one logit).
Every latent vector is ``normal(stream, (B, latent_dim))``: standard normals by inverse CDF from
bytes of the run's :class:`~hybridqml.workflows.runs.EntropyStream` (Aer Hadamard bits, an HTTP
QRNG, the OS or a seeded PRNG; ``pure`` or ``expanded``). The source never changes silently: if
it fails, training stops with its error (``QRNGError`` for the QRNG) unless a fallback was
requested, and ``metrics.json`` records the provenance either way.

Each epoch records ``d_loss`` and ``g_loss`` (batch means), ``d_real``/``d_fake`` (mean
discriminator probabilities) and two quality numbers from
:mod:`hybridqml.workflows.gan_metrics`, computed on a fixed set of evaluation latents (drawn once
from the stream and kept in the checkpoint): ``class_coverage`` (distinct digits among the samples)
and ``frechet_distance`` (to held-out real images, in the quality classifier's feature space). Image
grids are saved to ``OUT/grids/epoch_XXX.png`` and the last one to ``OUT/samples.png``.

Example:
    >>> import tempfile
    >>> cfg = GANConfig(out_dir=tempfile.mkdtemp(), dataset="digits", epochs=1,
    ...                 entropy=EntropySettings(source="prng"), progress=False)
    >>> train_gan(cfg).history[-1]["class_coverage"] >= 1  # doctest: +SKIP
    True
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import torch
from torch import nn
from torch.nn import functional as F

from hybridqml._validation import positive_int
from hybridqml.data import MNIST_SIDE
from hybridqml.entropy import normal
from hybridqml.exceptions import ConfigurationError
from hybridqml.training import (
    METRICS_NAME,
    UserState,
    atomic_torch_save,
    evaluate_classifier,
    gather_provenance,
    load_torch_file,
    make_loader,
    run_epochs,
    seed_everything,
    write_metrics,
)
from hybridqml.workflows.base import Option, Workflow
from hybridqml.workflows.gan_metrics import (
    CLASSIFIER_EPOCHS,
    DigitClassifier,
    class_coverage,
    frechet_distance,
    train_digit_classifier,
)
from hybridqml.workflows.runs import (
    EntropySettings,
    EntropyStream,
    check_run_settings,
    config_to_json,
    load_config_images,
    resume_settings,
    run_folder,
    train_config,
)

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
class GANConfig:
    """Settings of :func:`train_gan`.

    Attributes:
        out_dir: Output folder.
        data_dir: MNIST folder (``dataset="mnist"``).
        download: Let torchvision download missing MNIST files into ``data_dir`` (needs network
            access; CLI: ``--download``).
        dataset: ``"mnist"`` or ``"digits"``.
        epochs: Training epochs.
        seed: Run seed.
        batch_size: Mini-batch size.
        lr: Adam learning rate of both networks (betas 0.5, 0.999).
        latent_dim: Width of the latent vectors.
        entropy: Where the latent vectors come from.
        grid_every: Save an image grid every this many epochs (and after the last).
        eval_samples: Generated samples for coverage and Fréchet distance.
        classifier_epochs: Training epochs of the quality classifier.
        limit_per_class: Cap on training images per digit (test capped at a fifth of it).
        resume: Continue from ``out_dir``'s checkpoint; every setting except those in
            :data:`~hybridqml.workflows.base.RESUME_MUTABLE_FIELDS` must be unchanged (the
            entropy source included; a run that had switched to its fallback continues on it).
        overwrite: Replace an earlier run in ``out_dir`` (its files are deleted first); without
            it, and without ``resume``, a folder holding a run is refused (CLI: ``--overwrite``).
        progress: Show progress bars (the quality classifier's training included).
        checkpoint_every: Also checkpoint every this many steps inside an epoch (CLI
            ``--checkpoint-every``); resuming continues mid-epoch exactly.
    """

    out_dir: str | os.PathLike[str]
    data_dir: str | os.PathLike[str] | None = None
    download: bool = False
    dataset: str = "mnist"
    epochs: int = DEFAULT_GAN_EPOCHS
    seed: int = 0
    batch_size: int = DEFAULT_GAN_BATCH_SIZE
    lr: float = DEFAULT_GAN_LR
    latent_dim: int = DEFAULT_LATENT_DIM
    entropy: EntropySettings = field(default_factory=EntropySettings)
    grid_every: int = 1
    eval_samples: int = EVAL_SAMPLES
    classifier_epochs: int = CLASSIFIER_EPOCHS
    limit_per_class: int | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    checkpoint_every: int | None = None

    def __post_init__(self) -> None:
        check_run_settings(self)
        for name in ("latent_dim", "grid_every", "classifier_epochs"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_samples < 2:
            raise ConfigurationError(f"eval_samples must be >= 2, got {self.eval_samples}")


@dataclass(frozen=True, kw_only=True)
class GANResult:
    """Outcome of :func:`train_gan`.

    Attributes:
        history: Per-epoch ``d_loss``, ``g_loss``, ``d_real``, ``d_fake``, ``class_coverage``,
            ``frechet_distance``.
        class_coverage: Coverage after the last epoch.
        frechet_distance: Fréchet distance after the last epoch.
        classifier_test_accuracy: Test accuracy of the quality classifier.
        entropy: Provenance of the latent bytes.
        data_source: Where the images came from.
        seconds: Wall time of this call.
        out_dir: Output folder.
        metrics_path: ``metrics.json``.
        checkpoint_path: Last per-epoch checkpoint.
        plots: PNG files written (curves, last grid, every epoch grid).
    """

    history: tuple[dict[str, float], ...]
    class_coverage: int
    frechet_distance: float
    classifier_test_accuracy: float
    entropy: dict[str, Any]
    data_source: str
    seconds: float
    out_dir: Path
    metrics_path: Path
    checkpoint_path: Path
    plots: tuple[Path, ...]


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


def train_gan(config: GANConfig) -> GANResult:
    """Train the GAN with entropy-sourced latents; write metrics, grids, curves and checkpoints.

    Args:
        config: The run settings.

    Returns:
        History, final quality numbers, entropy provenance and the files written.

    Raises:
        DataError: Missing or corrupt data.
        EntropyError: The entropy source failed (``QRNGError`` for the QRNG) and no fallback was
            requested; nothing else is used silently.
        ConfigurationError: Bad settings, or a resume with changed settings (the entropy
            source included; each difference listed).
    """
    from hybridqml.plotting import plot_history, save_image_grid

    start = time.perf_counter()
    with run_folder(config) as out:
        split = load_config_images(config)
        classifier = _classifier(out, split.train, config)
        test_loader = make_loader(split.test, batch_size=1024, shuffle=False)
        classifier_accuracy = evaluate_classifier(classifier, test_loader).accuracy
        with torch.no_grad():
            real_features = classifier.features(split.test.tensors[0][: config.eval_samples])

        seed_everything(config.seed)
        generator = Generator(latent_dim=config.latent_dim)
        discriminator = Discriminator()
        betas = (0.5, 0.999)
        g_opt = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas)
        d_opt = torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=betas)
        stream = EntropyStream(settings=config.entropy, seed=config.seed)
        state = UserState()
        train_cfg = train_config(
            config,
            out,
            desc="gan",
            run_config=resume_settings(config, split, mutable=WORKFLOW.resume_mutable),
        )
        stateful = {
            "generator": generator,
            "discriminator": discriminator,
            "g_optimizer": g_opt,
            "d_optimizer": d_opt,
            "entropy": stream,
            "state": state,
        }
        grids: list[Path] = []
        try:
            if (
                not config.resume
            ):  # evaluation latents: drawn once (epoch 0 of the stream), checkpointed
                stream.open_epoch(0)
                state["eval_z"] = normal(stream, (config.eval_samples, config.latent_dim))
                stream.open_epoch(1)

            def step(batch: Any) -> dict[str, float]:
                real = batch[0].reshape(len(batch[0]), -1) * 2 - 1
                z = normal(stream, (len(real), config.latent_dim))
                fake = generator(z)
                d_opt.zero_grad()
                real_logits = discriminator(real)
                fake_logits = discriminator(fake.detach())
                d_loss = F.binary_cross_entropy_with_logits(
                    real_logits, torch.full_like(real_logits, _REAL_LABEL)
                ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
                d_loss.backward()
                d_opt.step()
                g_opt.zero_grad()
                g_logits = discriminator(fake)
                g_loss = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
                g_loss.backward()
                g_opt.step()
                return {
                    "d_loss": d_loss.item(),
                    "g_loss": g_loss.item(),
                    "d_real": torch.sigmoid(real_logits).mean().item(),
                    "d_fake": torch.sigmoid(fake_logits).mean().item(),
                }

            def evaluate(epoch: int) -> dict[str, float]:
                generator.eval()
                with torch.no_grad():
                    fake = generator(state["eval_z"])
                    images = (fake.reshape(-1, 1, MNIST_SIDE, MNIST_SIDE) + 1) / 2
                    predictions = classifier(images).argmax(dim=1)
                    fake_features = classifier.features(images)
                generator.train()
                if epoch % config.grid_every == 0 or epoch == config.epochs:
                    grids.append(
                        save_image_grid(
                            fake[:_GRID_IMAGES], out / "grids" / f"epoch_{epoch:03d}.png"
                        )
                    )
                return {
                    "class_coverage": class_coverage(predictions),
                    "frechet_distance": frechet_distance(real_features, fake_features),
                }

            def on_epoch_end(epoch: int, *_: Any) -> None:
                stream.open_epoch(epoch + 1)

            loop = run_epochs(
                config=train_cfg,
                loader=make_loader(split.train, batch_size=config.batch_size, seed=config.seed),
                step=step,
                stateful=stateful,
                evaluate=evaluate,
                on_epoch_end=on_epoch_end,
            )
        finally:
            provenance = stream.provenance()
            stream.close()
        provenance = gather_provenance(provenance)  # every rank's bytes (data-parallel runs)
        write_metrics(
            out / METRICS_NAME,
            history=loop.history,
            seed=config.seed,
            extra={
                "workflow": "gan",
                "data_source": split.info.source,
                "n_train": split.info.n_train,
                "n_test": split.info.n_test,
                "classifier_test_accuracy": classifier_accuracy,
                "eval_samples": config.eval_samples,
                "entropy": provenance,
                "config": config_to_json(config),
            },
        )
        plots = [
            plot_history(
                loop.history,
                out / "curves.png",
                metrics=["d_loss", "g_loss", "d_real", "d_fake"],
                title="GAN losses",
            ),
            plot_history(
                loop.history,
                out / "quality.png",
                metrics=["frechet_distance", "class_coverage"],
                title="GAN quality (classifier features)",
            ),
        ]
        last_grid = out / "grids" / f"epoch_{loop.epochs_completed:03d}.png"
        if last_grid.is_file():
            plots.append(Path(shutil.copyfile(last_grid, out / "samples.png")))
        final = loop.history[-1]
        return GANResult(
            history=loop.history,
            class_coverage=int(final["class_coverage"]),
            frechet_distance=float(final["frechet_distance"]),
            classifier_test_accuracy=classifier_accuracy,
            entropy=provenance,
            data_source=split.info.source,
            seconds=time.perf_counter() - start,
            out_dir=out,
            metrics_path=out / METRICS_NAME,
            checkpoint_path=out / "checkpoint.pt",
            plots=(*plots, *grids),
        )


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
    traits=frozenset({"mnist", "entropy"}),
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
    # which epochs save an image grid PNG; no number depends on it
    resume_mutable=frozenset({"grid_every"}),
)
"""The GAN workflow as ``hybridqml train gan`` and ``hybridqml demo`` see it."""
