"""The QRNG-noise MNIST MLP: 784-128-64-10 whose linear layers get entropy-source input noise.

Each linear layer is a :class:`~hybridqml.nn.NoisyLinear`: in training mode it adds
``noise_std * z`` to its input, ``z`` standard normal drawn from the run's
:class:`~hybridqml.entropy.EntropyStream` (Aer Hadamard bits, an HTTP QRNG, the OS or a
seeded PRNG; pure or expanded), each byte used once. In eval mode the network is deterministic
unless ``eval_noise=True``. Training: Adam, ``ReduceLROnPlateau`` on the validation loss (10% of
the training images held out), the model of the best validation accuracy saved to ``best.pt``,
test accuracy and a confusion matrix (the test set is only measured, never used to choose).

Published paired experiments find no accuracy difference between QRNG and PRNG noise (Heese et
al., Machine Learning 113, 2024); compare sources with several seeds before claiming one.

Example:
    >>> import tempfile
    >>> from hybridqml.entropy import EntropySettings
    >>> cfg = NoisyMLPConfig(out_dir=tempfile.mkdtemp(), dataset="digits", epochs=1,
    ...                      entropy=EntropySettings(source="prng"), progress=False)
    >>> train_noisy_mlp(cfg).test_accuracy > 0.5  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import torch
from torch import nn

from hybridqml._validation import check_finite, nonnegative_float
from hybridqml.data import MNIST_MEAN, MNIST_STD
from hybridqml.entropy import EntropyStream
from hybridqml.nn._entropy_noise import DEFAULT_NOISE_STD, NoisyLinear
from hybridqml.runs import EntropyRunConfig
from hybridqml.workflows._base import Option, Workflow
from hybridqml.workflows._classifier import ClassifierResult, ClassifierRunConfig, ClassifierTrainer

__all__ = [
    "DEFAULT_MLP_BATCH_SIZE",
    "DEFAULT_MLP_EPOCHS",
    "DEFAULT_MLP_LR",
    "NoisyMLP",
    "NoisyMLPConfig",
    "NoisyMLPResult",
    "train_noisy_mlp",
]

DEFAULT_MLP_EPOCHS: Final[int] = 30
DEFAULT_MLP_BATCH_SIZE: Final[int] = 64
DEFAULT_MLP_LR: Final[float] = 1e-3


class NoisyMLP(nn.Module):
    """784-128-64-10 ReLU MLP with dropout 0.2 and entropy noise on every linear layer's input.

    Args:
        source: Entropy source for the noise (``read(n) -> bytes``), or ``None`` to set later.
        noise_std: Standard deviation of the input noise of each linear layer.
        dropout: Dropout probability after each hidden layer.
        eval_noise: Add noise in eval mode too.

    Example:
        >>> from hybridqml.entropy import EntropyPool, PRNGSource
        >>> net = NoisyMLP(source=EntropyPool(PRNGSource(seed=0))).eval()
        >>> x = torch.rand(2, 1, 28, 28)
        >>> torch.equal(net(x), net(x))
        True
    """

    def __init__(
        self,
        *,
        source: Any = None,
        noise_std: float = DEFAULT_NOISE_STD,
        dropout: float = 0.2,
        eval_noise: bool = False,
    ) -> None:
        super().__init__()
        kw = {"source": source, "std": noise_std, "noise_in_eval": eval_noise}
        self.fc1 = NoisyLinear(784, 128, **kw)
        self.fc2 = NoisyLinear(128, 64, **kw)
        self.fc3 = NoisyLinear(64, 10, **kw)
        self.dropout = nn.Dropout(dropout)
        self.act = nn.ReLU()

    def set_source(self, source: Any) -> None:
        """Draw every layer's noise from ``source``."""
        for layer in (self.fc1, self.fc2, self.fc3):
            layer.set_source(source)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, 10)`` for images ``(B, 1, 28, 28)`` or ``(B, 784)``."""
        x = images.flatten(1)
        x = self.dropout(self.act(self.fc1(x)))
        x = self.dropout(self.act(self.fc2(x)))
        return self.fc3(x)


@dataclass(frozen=True, kw_only=True)
class NoisyMLPConfig(ClassifierRunConfig, EntropyRunConfig):
    """Settings of :func:`train_noisy_mlp`: a run with images and an entropy source.

    The shared settings are those of :class:`~hybridqml.runs.RunConfig`,
    :class:`~hybridqml.runs.ImageRunConfig`, :class:`~hybridqml.runs.EntropyRunConfig` and
    :class:`~hybridqml.workflows._classifier.ClassifierRunConfig` (``validation_fraction``).

    Attributes:
        epochs: Training epochs.
        batch_size: Mini-batch size.
        lr: Initial Adam learning rate (``ReduceLROnPlateau`` lowers it when the validation
            loss stops improving).
        noise_std: Input-noise standard deviation of every linear layer (inputs are standardised).
        eval_noise: Keep the noise on at evaluation.
    """

    epochs: int = DEFAULT_MLP_EPOCHS
    batch_size: int = DEFAULT_MLP_BATCH_SIZE
    lr: float = DEFAULT_MLP_LR
    noise_std: float = DEFAULT_NOISE_STD
    eval_noise: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_finite(self.noise_std, "noise_std", at_least=0.0)


@dataclass(frozen=True, kw_only=True)
class NoisyMLPResult(ClassifierResult):
    """Outcome of :func:`train_noisy_mlp`, a classifier result.

    Attributes:
        confusion_matrix: Final test confusion matrix (rows: true digit).
        entropy: Provenance of the noise bytes.
    """

    confusion_matrix: list[list[int]]
    entropy: dict[str, Any]


class _PlateauWithEntropy(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` that also moves the entropy stream to the next epoch.

    :func:`~hybridqml.training.fit_classifier` steps its scheduler once at the end of every epoch
    and checkpoints it, so the stream's epoch (which seeds seedable sources) travels in the
    scheduler's state and a resumed run draws the same noise as an uninterrupted one.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, stream: EntropyStream) -> None:
        super().__init__(optimizer, mode="min", factor=0.5, patience=2)
        self._stream = stream

    def step(self, metrics: Any, epoch: Any = None) -> None:  # type: ignore[override]
        super().step(metrics)
        self._stream.open_epoch((self._stream.epoch or 1) + 1)

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in super().state_dict().items() if k != "_stream"}
        state["entropy_stream"] = self._stream.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        self._stream.load_state_dict(state.pop("entropy_stream"))
        super().load_state_dict(state)


class _NoisyMLPTrainer(ClassifierTrainer):
    """The noisy-MLP run: standardised images, :class:`NoisyMLP` noise from the run's stream."""

    name = "noisy-mlp"
    result_type = NoisyMLPResult
    eval_batch_size = 1024

    def title(self) -> str:
        return "noisy MLP"

    def prepare(self) -> None:
        super().prepare()
        self.train_set, self.val_set, self.test_set = (
            _standardize(part) for part in (self.train_set, self.val_set, self.test_set)
        )

    def build(self) -> dict[str, Any]:
        config, stream = self.config, self.stream
        assert stream is not None  # an EntropyRunConfig: the trainer opened its stream
        model = NoisyMLP(source=stream, noise_std=config.noise_std, eval_noise=config.eval_noise)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        scheduler = _PlateauWithEntropy(optimizer, stream=stream)
        stream.open_epoch(1)
        return {"model": model, "optimizer": optimizer, "scheduler": scheduler}

    def outcome(self, fit: Any) -> dict[str, Any]:
        return super().outcome(fit) | {
            "confusion_matrix": fit.evaluation.confusion_matrix.tolist(),
            "entropy": self.provenance,
        }


def train_noisy_mlp(config: NoisyMLPConfig, *, callbacks: Sequence[Any] = ()) -> NoisyMLPResult:
    """Train the noise-injected MLP; write metrics, curves, confusion matrix and checkpoints.

    Args:
        config: The run settings.
        callbacks: :class:`~hybridqml.training.Callback` s (loggers) of the run.

    Returns:
        Accuracy, confusion matrix, entropy provenance and the files written.

    Raises:
        DataError: Missing or corrupt data.
        EntropyError: The entropy source failed (``QRNGError`` for the QRNG) and no fallback was
            requested.
        ConfigurationError: Bad settings, or a resume with changed settings (each difference
            listed).
    """
    return _NoisyMLPTrainer.train(config, callbacks=callbacks)


def _standardize(dataset: torch.utils.data.TensorDataset) -> torch.utils.data.TensorDataset:
    images, labels = dataset.tensors
    return torch.utils.data.TensorDataset((images - MNIST_MEAN) / MNIST_STD, labels)


def _summary(r: NoisyMLPResult) -> str:
    return (
        f"noisy-mlp: test_accuracy {r.test_accuracy:.4f} "
        f"(epoch chosen on validation: {r.selected_test_accuracy:.4f}); "
        f"noise from {r.entropy['name']} ({r.entropy['kind']}, {r.entropy['mode']})"
    )


WORKFLOW = Workflow(
    name="noisy-mlp",
    help="MNIST MLP with entropy-source noise injection",
    config=NoisyMLPConfig,
    train=train_noisy_mlp,
    options=(
        Option("--noise-std", "noise_std", {"type": nonnegative_float}),
        Option(
            "--eval-noise",
            "eval_noise",
            {"action": "store_true", "help": "keep the noise on at eval"},
        ),
    ),
    summary=_summary,
    headline=lambda r: {"test_accuracy": round(r.test_accuracy, 4)},
    demo={"epochs": 15, "limit_per_class": 400},
    quick_demo={"epochs": 1, "limit_per_class": 12},
)
"""The noisy-MLP workflow as ``hybridqml train noisy-mlp`` and ``hybridqml demo`` see it."""
