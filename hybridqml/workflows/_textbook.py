"""The Qiskit-textbook hybrid network for MNIST 0 vs 1, done right.

Architecture (as in the textbook): ``Conv2d(1, 6, 5) - ReLU - MaxPool(2) - Conv2d(6, 16, 5) - ReLU -
MaxPool(2) - Dropout2d - Linear(256, 64) - ReLU - Linear(64, 1) - 1-qubit layer - two-class
output``. The quantum layer is :func:`hybridqml.circuits.ry` ``(1)`` (H then RY(x)) on a real
:class:`~hybridqml.QuantumLayer`, gradients by the parameter-shift rule with its factor 1/2.

What the original got wrong and this fixes:

* the class probabilities come from the measured ``<Z>``: ``P(0) = (1 + <Z>) / 2``,
  ``P(1) = (1 - <Z>) / 2``, and the model returns their logarithms, so ``nll_loss`` (or
  ``cross_entropy``) sees proper log-probabilities (the original fed probabilities to ``NLLLoss``);
* real mini-batches (one circuit call per batch) instead of batch size 1;
* a held-out test set (the original reported accuracy on 100 images it also trained on).

Example:
    >>> import tempfile
    >>> cfg = TextbookConfig(out_dir=tempfile.mkdtemp(), dataset="digits", epochs=1,
    ...                      limit_per_class=20, progress=False)
    >>> train_textbook(cfg).test_accuracy > 0.5  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import torch
from torch import nn
from torch.nn import functional as F

from hybridqml.circuits import ry
from hybridqml.exceptions import ConfigurationError
from hybridqml.nn._layers import QuantumLayer
from hybridqml.runs import QuantumRunConfig
from hybridqml.workflows._base import Workflow
from hybridqml.workflows._classifier import ClassifierResult, ClassifierRunConfig, ClassifierTrainer
from hybridqml.workflows._trainer import load_config_images

__all__ = [
    "DEFAULT_TEXTBOOK_BATCH_SIZE",
    "DEFAULT_TEXTBOOK_EPOCHS",
    "DEFAULT_TEXTBOOK_LR",
    "TextbookConfig",
    "TextbookNet",
    "TextbookResult",
    "train_textbook",
]

DEFAULT_TEXTBOOK_EPOCHS: Final[int] = 10
DEFAULT_TEXTBOOK_BATCH_SIZE: Final[int] = 32
DEFAULT_TEXTBOOK_LR: Final[float] = 1e-3
_PROB_FLOOR: Final[float] = 1e-7


class TextbookNet(nn.Module):
    """CNN front end, one-qubit RY circuit, two-class log-probabilities.

    Args:
        backend: Backend of the quantum layer (``"aer"``, ``"fake_<device>"``, ``"ibm:<name>"``).
        shots: Shots per circuit; ``None`` is exact on Aer.
        seed: Seed of the shot sampling.
        dropout: Dropout2d probability after the second pooling.
        backend_options: Extra simulator options for the quantum layer.
        mitigation: Error mitigation of the quantum layer (see :mod:`hybridqml.mitigation`).

    Example:
        >>> net = TextbookNet()
        >>> probs = net(torch.rand(2, 1, 28, 28)).exp()
        >>> torch.allclose(probs.sum(dim=1), torch.ones(2))  # probabilities sum to 1
        True
    """

    def __init__(
        self,
        *,
        backend: Any = "aer",
        shots: int | None = None,
        seed: int | None = None,
        dropout: float = 0.5,
        backend_options: dict[str, Any] | None = None,
        mitigation: Any = None,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.dropout = nn.Dropout2d(dropout)
        self.fc1 = nn.Linear(256, 64)
        self.fc2 = nn.Linear(64, 1)
        self.quantum = QuantumLayer(
            ry(1),
            backend=backend,
            shots=shots,
            seed=seed,
            backend_options=backend_options,
            mitigation=mitigation,
        )

    def expectation(self, images: torch.Tensor) -> torch.Tensor:
        """``<Z>`` of the qubit for each image, shape ``(B, 1)``, in ``[-1, 1]``."""
        x = F.max_pool2d(F.relu(self.conv1(images)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(x).flatten(1)
        x = self.fc2(F.relu(self.fc1(x)))
        return self.quantum(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Log-probabilities ``[log P(0), log P(1)]``, shape ``(B, 2)``, from ``<Z>``."""
        z = self.expectation(images)
        probs = torch.cat(((1 + z) / 2, (1 - z) / 2), dim=1)
        return probs.clamp_min(_PROB_FLOOR).log()


@dataclass(frozen=True, kw_only=True)
class TextbookConfig(ClassifierRunConfig, QuantumRunConfig):
    """Settings of :func:`train_textbook`: a run with images and a quantum backend.

    The shared settings are those of :class:`~hybridqml.runs.RunConfig`,
    :class:`~hybridqml.runs.ImageRunConfig`, :class:`~hybridqml.runs.QuantumRunConfig` and
    :class:`~hybridqml.workflows._classifier.ClassifierRunConfig` (``validation_fraction``).

    Attributes:
        digits: The two digits to separate (first = class 0).
        epochs: Training epochs.
        batch_size: Mini-batch size.
        lr: Adam learning rate.
    """

    digits: tuple[int, int] = (0, 1)
    epochs: int = DEFAULT_TEXTBOOK_EPOCHS
    batch_size: int = DEFAULT_TEXTBOOK_BATCH_SIZE
    lr: float = DEFAULT_TEXTBOOK_LR

    def __post_init__(self) -> None:
        super().__post_init__()  # field types first
        if len(self.digits) != 2 or self.digits[0] == self.digits[1]:
            raise ConfigurationError(f"digits must be two distinct digits, got {self.digits!r}")


@dataclass(frozen=True, kw_only=True)
class TextbookResult(ClassifierResult):
    """Outcome of :func:`train_textbook`, a classifier result.

    Attributes:
        n_train: Training images (after holding out the validation images).
        n_test: Test images.
    """

    n_train: int
    n_test: int


class _TextbookTrainer(ClassifierTrainer):
    """The textbook run: the two digits, :class:`TextbookNet`, Adam, NLL loss."""

    name = "textbook"
    result_type = TextbookResult
    loss_fn = F.nll_loss

    def title(self) -> str:
        return f"textbook hybrid: digits {self.config.digits[0]} vs {self.config.digits[1]}"

    def class_names(self) -> list[str]:
        return [str(d) for d in self.config.digits]

    def load_data(self) -> Any:
        return load_config_images(self.config, digits=self.config.digits)

    def build(self) -> dict[str, Any]:
        config = self.config
        model = TextbookNet(**config.layer_options())
        return {"model": model, "optimizer": torch.optim.Adam(model.parameters(), lr=config.lr)}

    def outcome(self, fit: Any) -> dict[str, Any]:
        return super().outcome(fit) | {"n_train": len(self.train_set), "n_test": len(self.test_set)}


def train_textbook(config: TextbookConfig, *, callbacks: Sequence[Any] = ()) -> TextbookResult:
    """Train and evaluate the textbook hybrid network; write metrics, plots and checkpoints.

    Args:
        config: The run settings.
        callbacks: :class:`~hybridqml.training.Callback` s (loggers) of the run.

    Returns:
        Test accuracy, history and the files written.

    Raises:
        DataError: Missing or corrupt data.
        ConfigurationError: Bad settings, an output path that is not a folder, or a resume
            with changed settings (each difference listed).
        BackendError: Unknown quantum backend.
    """
    return _TextbookTrainer.train(config, callbacks=callbacks)


def _summary(r: TextbookResult) -> str:
    return f"textbook: test_accuracy {r.test_accuracy:.4f} on {r.n_test} held-out images"


WORKFLOW = Workflow(
    name="textbook",
    help="CNN + 1-qubit RY hybrid, MNIST 0 vs 1",
    config=TextbookConfig,
    train=train_textbook,
    summary=_summary,
    headline=lambda r: {"test_accuracy": round(r.test_accuracy, 4)},
    demo={"epochs": 5, "limit_per_class": 300},
    quick_demo={"epochs": 1, "limit_per_class": 8},
)
"""The textbook workflow as ``hybridqml train textbook`` and ``hybridqml demo`` see it."""
