"""Hybrid variational QNN vs a classical network of similar size, on concentric circles.

Hybrid: ``Linear(2, q) - Tanh - (x pi) - QuantumLayer(variational(q, layers)) - Linear(q, 2)``:
the classical pre-processing maps each point to ``q`` rotation angles in ``[-pi, pi]``, a real
circuit on Aer (or a fake device / IBM backend) returns ``<Z_i>`` of every qubit, and a linear
layer turns them into two class logits. Classical: ``Linear(2, h) - Tanh - Linear(h, 2)`` with
``h`` chosen so its parameter count is the closest to the hybrid's.

Both are trained *side by side*: in one loop, on the same mini-batches in the same order, with the
same optimizer settings, one checkpoint for both. ``metrics.json`` holds
``hybrid_test_accuracy`` and ``classical_test_accuracy`` (plus per-epoch losses and accuracies and
both parameter counts), and each model gets a decision-boundary plot.

Example:
    >>> import tempfile
    >>> cfg = QNNConfig(out_dir=tempfile.mkdtemp(), epochs=1, n_samples=120, progress=False)
    >>> result = train_qnn(cfg)  # doctest: +SKIP
    >>> result.hybrid_test_accuracy, result.classical_test_accuracy  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch
from torch import nn
from torch.nn import functional as F

from hybridqml._validation import check_finite, positive_int
from hybridqml.circuits import variational
from hybridqml.data import CIRCLES_NOISE, CIRCLES_SAMPLES, load_circles
from hybridqml.nn._layers import QuantumLayer
from hybridqml.runs import QuantumRunConfig
from hybridqml.training import evaluate_classifier, make_loader
from hybridqml.workflows._base import Option, Workflow
from hybridqml.workflows._trainer import RunResult, Trainer

__all__ = [
    "DEFAULT_QNN_EPOCHS",
    "DEFAULT_QNN_LAYERS",
    "DEFAULT_QNN_LR",
    "DEFAULT_QNN_QUBITS",
    "ClassicalNet",
    "HybridQNN",
    "QNNConfig",
    "QNNResult",
    "count_parameters",
    "train_qnn",
]

DEFAULT_QNN_QUBITS: Final[int] = 4
DEFAULT_QNN_LAYERS: Final[int] = 2
DEFAULT_QNN_EPOCHS: Final[int] = 20
DEFAULT_QNN_LR: Final[float] = 0.02
_BOUNDARY_RESOLUTION: Final[int] = 80


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars of ``model``.

    Example:
        >>> count_parameters(nn.Linear(2, 3))
        9
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class HybridQNN(nn.Module):
    """Classical pre-processing, a variational circuit, classical post-processing.

    Args:
        n_qubits: Qubits of the variational circuit (= its inputs and outputs).
        layers: Trainable blocks of the circuit.
        backend: Quantum backend (``"aer"``, ``"fake_<device>"``, ``"ibm:<name>"``).
        shots: Shots per circuit; ``None`` is exact on Aer.
        seed: Seed of the shot sampling.
        backend_options: Extra simulator options, e.g. ``{"device": "GPU"}`` for GPU Aer.
        mitigation: Error mitigation of the quantum layer (see :mod:`hybridqml.mitigation`).

    Example:
        >>> HybridQNN(n_qubits=2, layers=1)(torch.rand(3, 2)).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        *,
        n_qubits: int = DEFAULT_QNN_QUBITS,
        layers: int = DEFAULT_QNN_LAYERS,
        backend: Any = "aer",
        shots: int | None = None,
        seed: int | None = None,
        backend_options: dict[str, Any] | None = None,
        mitigation: Any = None,
    ) -> None:
        super().__init__()
        self.pre = nn.Linear(2, n_qubits)
        self.quantum = QuantumLayer(
            variational(n_qubits, layers),
            backend=backend,
            shots=shots,
            seed=seed,
            backend_options=backend_options,
            mitigation=mitigation,
        )
        self.post = nn.Linear(n_qubits, 2)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, 2)`` for points ``(B, 2)``."""
        angles = math.pi * torch.tanh(self.pre(points))
        return self.post(self.quantum(angles))


class ClassicalNet(nn.Module):
    """``Linear(2, hidden) - Tanh - Linear(hidden, 2)``.

    Args:
        hidden: Hidden units.

    Example:
        >>> count_parameters(ClassicalNet(hidden=6))
        32
    """

    def __init__(self, *, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, 2)``."""
        return self.net(points)

    @staticmethod
    def matching(n_parameters: int) -> ClassicalNet:
        """The net whose parameter count (``5 h + 2``) is closest to ``n_parameters``."""
        return ClassicalNet(hidden=max(1, round((n_parameters - 2) / 5)))


@dataclass(frozen=True, kw_only=True)
class QNNConfig(QuantumRunConfig):
    """Settings of :func:`train_qnn`: a run with a quantum backend.

    The shared settings are those of :class:`~hybridqml.runs.RunConfig` and
    :class:`~hybridqml.runs.QuantumRunConfig`.

    Attributes:
        epochs: Training epochs.
        lr: Adam learning rate (both models).
        n_samples: Points of the circles dataset (a sixth held out for testing).
        noise: Gaussian noise of the circles.
        n_qubits: Qubits of the variational circuit.
        layers: Trainable blocks of the circuit.
    """

    epochs: int = DEFAULT_QNN_EPOCHS
    lr: float = DEFAULT_QNN_LR
    n_samples: int = CIRCLES_SAMPLES
    noise: float = CIRCLES_NOISE
    n_qubits: int = DEFAULT_QNN_QUBITS
    layers: int = DEFAULT_QNN_LAYERS

    def __post_init__(self) -> None:
        super().__post_init__()
        check_finite(self.noise, "noise", at_least=0.0)


@dataclass(frozen=True, kw_only=True)
class QNNResult(RunResult):
    """Outcome of :func:`train_qnn` (besides :class:`~hybridqml.workflows.RunResult`).

    Attributes:
        hybrid_test_accuracy: Final test accuracy of the hybrid QNN.
        classical_test_accuracy: Final test accuracy of the classical net.
        hybrid_parameters: Trainable parameters of the hybrid (classical + circuit angles).
        classical_parameters: Trainable parameters of the classical net.
    """

    hybrid_test_accuracy: float
    classical_test_accuracy: float
    hybrid_parameters: int
    classical_parameters: int


class _QNNTrainer(Trainer):
    """The QNN run: the hybrid and the classical net trained side by side on the same batches."""

    name = "qnn"
    result_type = QNNResult

    def load_data(self) -> Any:
        config = self.config
        return load_circles(n_samples=config.n_samples, noise=config.noise, seed=config.seed)

    def build(self) -> dict[str, Any]:
        config = self.config
        hybrid = HybridQNN(n_qubits=config.n_qubits, layers=config.layers, **config.layer_options())
        self.models = {
            "hybrid": hybrid,
            "classical": ClassicalNet.matching(count_parameters(hybrid)),
        }
        self.optimizers = {
            k: torch.optim.Adam(m.parameters(), lr=config.lr) for k, m in self.models.items()
        }
        self.test_loader = make_loader(self.data.test, batch_size=1024, shuffle=False)
        self.evaluations: dict[str, Any] = {}
        return {
            **self.models,
            **{f"{name}_optimizer": opt for name, opt in self.optimizers.items()},
        }

    def step(self, batch: Any) -> dict[str, float]:
        points, labels = batch
        metrics = {}
        for name, model in self.models.items():
            self.optimizers[name].zero_grad()
            logits = model(points)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            self.optimizers[name].step()
            metrics[f"{name}_loss"] = loss.item()
            metrics[f"{name}_accuracy"] = (logits.argmax(1) == labels).float().mean().item()
        return metrics

    def evaluate(self, epoch: int) -> dict[str, float]:
        metrics = {}
        for name, model in self.models.items():
            self.evaluations[name] = evaluate_classifier(model, self.test_loader, distributed=True)
            metrics[f"{name}_test_loss"] = self.evaluations[name].loss
            metrics[f"{name}_test_accuracy"] = self.evaluations[name].accuracy
        return metrics

    def metrics(self, fit: Any) -> dict[str, Any]:
        if not self.evaluations:  # resumed a finished run: evaluate the restored models
            self.evaluate(fit.epochs_completed)
        self.n_params = {name: count_parameters(model) for name, model in self.models.items()}
        return {
            "hybrid_parameters": self.n_params["hybrid"],
            "classical_parameters": self.n_params["classical"],
            **{
                f"{name}_confusion_matrix": self.evaluations[name].confusion_matrix.tolist()
                for name in self.models
            },
        }

    def draw(self, fit: Any) -> Sequence[Path]:
        from hybridqml.plotting import plot_decision_boundary, plot_history

        curves = [
            "hybrid_loss",
            "classical_loss",
            "hybrid_test_accuracy",
            "classical_test_accuracy",
        ]
        title = "circles: hybrid QNN vs classical"
        plots = [plot_history(fit.history, self.out / "curves.png", metrics=curves, title=title)]
        test_points, test_labels = self.data.test.tensors
        for name, model in self.models.items():
            model.eval()
            accuracy = self.evaluations[name].accuracy
            plots.append(
                plot_decision_boundary(
                    model,
                    test_points,
                    test_labels,
                    self.out / f"decision_boundary_{name}.png",
                    resolution=_BOUNDARY_RESOLUTION,
                    title=f"{name} ({self.n_params[name]} parameters): "
                    f"test accuracy {accuracy:.3f}",
                )
            )
        return plots

    def outcome(self, fit: Any) -> dict[str, Any]:
        return {
            "hybrid_test_accuracy": self.evaluations["hybrid"].accuracy,
            "classical_test_accuracy": self.evaluations["classical"].accuracy,
            "hybrid_parameters": self.n_params["hybrid"],
            "classical_parameters": self.n_params["classical"],
        }


def train_qnn(config: QNNConfig, *, callbacks: Sequence[Any] = ()) -> QNNResult:
    """Train the hybrid QNN and the classical net side by side on circles.

    Args:
        config: The run settings.
        callbacks: :class:`~hybridqml.training.Callback` s (loggers) of the run.

    Returns:
        Both test accuracies, parameter counts, history and the files written.

    Raises:
        ConfigurationError: Bad settings, or a resume with changed settings (each difference
            listed).
        BackendError: Unknown quantum backend.
    """
    return _QNNTrainer.train(config, callbacks=callbacks)


def _summary(r: QNNResult) -> str:
    return (
        f"qnn: hybrid_test_accuracy {r.hybrid_test_accuracy:.4f} ({r.hybrid_parameters} "
        f"parameters), classical_test_accuracy {r.classical_test_accuracy:.4f} "
        f"({r.classical_parameters} parameters)"
    )


def _headline(r: QNNResult) -> dict[str, Any]:
    return {
        "hybrid_test_accuracy": round(r.hybrid_test_accuracy, 4),
        "classical_test_accuracy": round(r.classical_test_accuracy, 4),
    }


WORKFLOW = Workflow(
    name="qnn",
    help="variational hybrid QNN vs classical net on circles",
    config=QNNConfig,
    train=train_qnn,
    options=(
        Option("--samples", "n_samples", {"type": positive_int, "help": "circle points"}),
        Option("--qubits", "n_qubits", {"type": positive_int}),
        Option("--layers", "layers", {"type": positive_int}),
    ),
    summary=_summary,
    headline=_headline,
    demo={"epochs": 12, "n_samples": 400},
    quick_demo={"epochs": 1, "n_samples": 60},
)
"""The QNN workflow as ``hybridqml train qnn`` and ``hybridqml demo`` see it."""
