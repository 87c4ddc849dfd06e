"""GAN quality from a digit classifier trained on the same data: coverage and Fréchet distance.

A GAN that only draws a few digits (mode collapse) or blurry strokes can still have low losses.
Two numbers catch that, both computed with a small CNN (:class:`DigitClassifier`) trained on the
GAN's own training images:

* **class coverage**: the number of distinct digits the classifier predicts among generated
  samples (1,000 by default); 10 means every digit appears;
* **Fréchet distance** between Gaussians fitted to the classifier's penultimate-layer features of
  real and generated images, ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))`` (the FID of
  Heusel et al., NeurIPS 2017, with this classifier in place of Inception: comparable between runs
  of this library, not with published FID values).

Example:
    >>> a, b = torch.randn(500, 4), torch.randn(500, 4) + 3
    >>> frechet_distance(a, a) < 1e-6 < 30 < frechet_distance(a, b)
    True
"""

from __future__ import annotations

from typing import Final

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset
from tqdm import tqdm

from hybridqml.data import MNIST_SIDE
from hybridqml.exceptions import InputError
from hybridqml.training import make_loader

__all__ = [
    "CLASSIFIER_EPOCHS",
    "FEATURE_DIM",
    "DigitClassifier",
    "class_coverage",
    "frechet_distance",
    "train_digit_classifier",
]

FEATURE_DIM: Final[int] = 128
"""Width of the classifier's feature layer used for the Fréchet distance."""
CLASSIFIER_EPOCHS: Final[int] = 4
"""Training epochs of the quality classifier."""


class DigitClassifier(nn.Module):
    """A small CNN for 28x28 digits in ``[0, 1]``: features (128) and class logits (10).

    Example:
        >>> DigitClassifier()(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.fc = nn.Linear(32 * 5 * 5, FEATURE_DIM)
        self.head = nn.Linear(FEATURE_DIM, 10)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features ``(B, 128)`` of images ``(B, 1, 28, 28)`` or ``(B, 784)``."""
        x = images.reshape(-1, 1, MNIST_SIDE, MNIST_SIDE)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, 10)``."""
        return self.head(self.features(images))


def train_digit_classifier(
    dataset: TensorDataset,
    *,
    epochs: int = CLASSIFIER_EPOCHS,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = 2e-3,
    progress: bool = False,
) -> DigitClassifier:
    """Train a :class:`DigitClassifier` on ``(images in [0, 1], labels)``; returned in eval mode.

    The global torch RNG state is saved and restored around the training, so calling this does
    not change what a seeded run does afterwards.

    Args:
        dataset: ``TensorDataset(images (N, 1, 28, 28) in [0, 1], labels 0..9)``.
        epochs: Training epochs.
        seed: Seed of the initialisation and data order.
        batch_size: Mini-batch size.
        lr: Adam learning rate.
        progress: Show a tqdm progress bar per epoch (``GANConfig.progress`` in the GAN).

    Returns:
        The trained classifier.

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> data = TensorDataset(torch.rand(8, 1, 28, 28), torch.arange(8) % 10)
        >>> train_digit_classifier(data, epochs=1).training
        False
    """
    rng_state = torch.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = DigitClassifier()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        loader = make_loader(dataset, batch_size=batch_size, seed=seed)
        model.train()
        for epoch in range(1, epochs + 1):
            batches = tqdm(
                loader,
                desc=f"quality classifier {epoch}/{epochs}",
                leave=False,
                disable=not progress,
            )
            with batches:
                for images, labels in batches:
                    optimizer.zero_grad()
                    loss = F.cross_entropy(model(images), labels)
                    loss.backward()
                    optimizer.step()
                    if progress:
                        batches.set_postfix(loss=f"{loss.item():.4g}", refresh=False)
    finally:
        torch.set_rng_state(rng_state)
    return model.eval()


def class_coverage(predictions: torch.Tensor | np.ndarray) -> int:
    """Number of distinct predicted classes.

    Example:
        >>> class_coverage(torch.tensor([3, 3, 1, 7]))
        3
    """
    return int(np.unique(np.asarray(torch.as_tensor(predictions).cpu())).size)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``(N, D)`` (float64).

    Args:
        real: Features of real images.
        fake: Features of generated images.

    Returns:
        ``|mu_r - mu_g|^2 + Tr(S_r) + Tr(S_g) - 2 Tr((S_r S_g)^(1/2))``, clipped at 0; ``nan``
        when a feature is NaN or infinite (a diverged generator), which the training loop and
        ``metrics.json`` (``null``) record as such.

    Raises:
        InputError: Feature sets of different widths or fewer than two rows.

    Example:
        >>> frechet_distance(torch.randn(8, 3), torch.full((8, 3), float("nan")))
        nan
    """
    a = torch.as_tensor(real).detach().double().cpu().numpy()
    b = torch.as_tensor(fake).detach().double().cpu().numpy()
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise InputError(f"need two (N >= 2, D) feature sets, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan")  # eigh would raise LinAlgError on a diverged generator's features
    with np.errstate(all="ignore"):  # overflow shows as a non-finite result, checked below
        mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
        # atleast_2d: np.cov of one feature is a 0-d array
        cov_a, cov_b = (np.atleast_2d(np.cov(x, rowvar=False)) for x in (a, b))
    if not (np.isfinite(cov_a).all() and np.isfinite(cov_b).all()):
        return float("nan")  # features so large their covariance overflows
    # Tr((S_a S_b)^(1/2)) = Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)): symmetric PSD, stable with the
    # singular covariances of dead ReLU features (scipy's sqrtm of S_a S_b warns there).
    try:
        with np.errstate(all="ignore"):
            eigval, eigvec = np.linalg.eigh(cov_a)
            root_a = (eigvec * np.sqrt(np.clip(eigval, 0.0, None))) @ eigvec.T
            inner = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
            trace_root = float(np.sqrt(np.clip(inner, 0.0, None)).sum())
            distance = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
    except np.linalg.LinAlgError:  # the product overflowed: as diverged as non-finite input
        return float("nan")
    value = float(distance - 2 * trace_root)
    return max(value, 0.0)
