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

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch
from torch import nn
from torch.nn import functional as F

from hybridqml.circuits import ry
from hybridqml.data import DEFAULT_VALIDATION_FRACTION, split_validation
from hybridqml.exceptions import ConfigurationError
from hybridqml.nn.layers import QuantumLayer
from hybridqml.training import (
    METRICS_NAME,
    fit_classifier,
    make_loader,
    seed_everything,
)
from hybridqml.workflows.base import Workflow
from hybridqml.workflows.runs import (
    check_run_settings,
    config_to_json,
    load_config_images,
    resume_settings,
    run_folder,
    train_config,
    write_classifier_outputs,
)

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
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.dropout = nn.Dropout2d(dropout)
        self.fc1 = nn.Linear(256, 64)
        self.fc2 = nn.Linear(64, 1)
        self.quantum = QuantumLayer(
            ry(1), backend=backend, shots=shots, seed=seed, backend_options=backend_options
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
class TextbookConfig:
    """Settings of :func:`train_textbook`.

    Attributes:
        out_dir: Output folder (metrics.json, checkpoint.pt, best.pt, PNGs).
        data_dir: MNIST folder (``dataset="mnist"``).
        download: Let torchvision download missing MNIST files into ``data_dir`` (needs network
            access; CLI: ``--download``).
        dataset: ``"mnist"`` or ``"digits"`` (scikit-learn 8x8 digits upscaled, offline).
        digits: The two digits to separate (first = class 0).
        epochs: Training epochs.
        seed: Run seed.
        batch_size: Mini-batch size.
        lr: Adam learning rate.
        backend: Quantum layer backend.
        shots: Shots per circuit (``None``: exact).
        backend_options: Extra simulator options, e.g. ``{"device": "GPU"}`` for GPU Aer.
        validation_fraction: Share of the training images held out to choose the best epoch
            (saved to ``best.pt``; the test set is only measured).
        limit_per_class: Cap on training images per digit (test capped at a fifth of it).
        resume: Continue from ``out_dir``'s checkpoint; every setting except those in
            :data:`~hybridqml.workflows.base.RESUME_MUTABLE_FIELDS` must be unchanged.
        overwrite: Replace an earlier run in ``out_dir`` (its files are deleted first); without
            it, and without ``resume``, a folder holding a run is refused (CLI: ``--overwrite``).
        progress: Show progress bars.
        checkpoint_every: Also checkpoint every this many steps inside an epoch (CLI
            ``--checkpoint-every``); resuming continues mid-epoch exactly.
        max_shots: Refuse to start above this many executed shots (estimated) and stop
            with a checkpoint before exceeding it (CLI ``--max-shots``).
        max_qpu_seconds: The same for estimated/reported QPU seconds (``--max-qpu-seconds``).
    """

    out_dir: str | os.PathLike[str]
    data_dir: str | os.PathLike[str] | None = None
    download: bool = False
    dataset: str = "mnist"
    digits: tuple[int, int] = (0, 1)
    epochs: int = DEFAULT_TEXTBOOK_EPOCHS
    seed: int = 0
    batch_size: int = DEFAULT_TEXTBOOK_BATCH_SIZE
    lr: float = DEFAULT_TEXTBOOK_LR
    backend: str = "aer"
    shots: int | None = None
    backend_options: dict[str, Any] | None = None
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    limit_per_class: int | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    checkpoint_every: int | None = None
    max_shots: int | None = None
    max_qpu_seconds: float | None = None

    def __post_init__(self) -> None:
        if len(self.digits) != 2 or self.digits[0] == self.digits[1]:
            raise ConfigurationError(f"digits must be two distinct digits, got {self.digits!r}")
        check_run_settings(self)


@dataclass(frozen=True, kw_only=True)
class TextbookResult:
    """Outcome of :func:`train_textbook`.

    Attributes:
        test_accuracy: Accuracy of the final model on the held-out test images.
        selected_test_accuracy: Test accuracy of the epoch with the best validation accuracy
            (its weights are in ``best.pt``; the test set never chose it).
        best_val_accuracy: That epoch's validation accuracy.
        history: Per-epoch metric records.
        data_source: Where the images came from (``mnist-t10k-split``, ``sklearn-digits``, ...).
        n_train: Training images (after holding out the validation images).
        n_test: Test images.
        seconds: Wall time of this call.
        out_dir: Output folder.
        metrics_path: ``metrics.json``.
        checkpoint_path: Last per-epoch checkpoint.
        plots: PNG files written.
    """

    test_accuracy: float
    selected_test_accuracy: float
    best_val_accuracy: float
    history: tuple[dict[str, float], ...]
    data_source: str
    n_train: int
    n_test: int
    seconds: float
    out_dir: Path
    metrics_path: Path
    checkpoint_path: Path
    plots: tuple[Path, ...]


def train_textbook(config: TextbookConfig) -> TextbookResult:
    """Train and evaluate the textbook hybrid network; write metrics, plots and checkpoints.

    Args:
        config: The run settings.

    Returns:
        Test accuracy, history and the files written.

    Raises:
        DataError: Missing or corrupt data.
        ConfigurationError: Bad settings, an output path that is not a folder, or a resume
            with changed settings (each difference listed).
        BackendError: Unknown quantum backend.
    """
    start = time.perf_counter()
    with run_folder(config) as out:
        split = load_config_images(config, digits=config.digits)
        train_cfg = train_config(
            config, out, desc="textbook", run_config=resume_settings(config, split)
        )
        seed_everything(config.seed)
        model = TextbookNet(
            backend=config.backend,
            shots=config.shots,
            seed=config.seed,
            backend_options=config.backend_options,
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        train, val = split_validation(
            split.train, fraction=config.validation_fraction, seed=config.seed
        )
        fit = fit_classifier(
            model=model,
            train_loader=make_loader(train, batch_size=config.batch_size, seed=config.seed),
            val_loader=make_loader(val, batch_size=256, shuffle=False),
            test_loader=make_loader(split.test, batch_size=256, shuffle=False),
            optimizer=optimizer,
            config=train_cfg,
            loss_fn=F.nll_loss,
        )
        plots = write_classifier_outputs(
            out_dir=out,
            fit=fit,
            seed=config.seed,
            extra={
                "workflow": "textbook",
                "data_source": split.info.source,
                "n_train": len(train),
                "n_val": len(val),
                "n_test": split.info.n_test,
                "config": config_to_json(config),
            },
            title=f"textbook hybrid: digits {config.digits[0]} vs {config.digits[1]}",
            class_names=[str(d) for d in config.digits],
        )
        return TextbookResult(
            test_accuracy=float(fit.final["test_accuracy"]),
            selected_test_accuracy=fit.selected_test_accuracy,
            best_val_accuracy=fit.best_accuracy,
            history=fit.history,
            data_source=split.info.source,
            n_train=len(train),
            n_test=split.info.n_test,
            seconds=time.perf_counter() - start,
            out_dir=out,
            metrics_path=out / METRICS_NAME,
            checkpoint_path=out / "checkpoint.pt",
            plots=plots,
        )


def _summary(r: TextbookResult) -> str:
    return f"textbook: test_accuracy {r.test_accuracy:.4f} on {r.n_test} held-out images"


WORKFLOW = Workflow(
    name="textbook",
    help="CNN + 1-qubit RY hybrid, MNIST 0 vs 1",
    config=TextbookConfig,
    train=train_textbook,
    traits=frozenset({"mnist", "quantum"}),
    summary=_summary,
    headline=lambda r: {"test_accuracy": round(r.test_accuracy, 4)},
    demo={"epochs": 5, "limit_per_class": 300},
    quick_demo={"epochs": 1, "limit_per_class": 8},
)
"""The textbook workflow as ``hybridqml train textbook`` and ``hybridqml demo`` see it."""
