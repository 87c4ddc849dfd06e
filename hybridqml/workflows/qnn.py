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
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch
from torch import nn
from torch.nn import functional as F

from hybridqml._validation import check_finite, positive_int
from hybridqml.circuits import variational
from hybridqml.data import CIRCLES_NOISE, CIRCLES_SAMPLES, load_circles
from hybridqml.nn.layers import QuantumLayer
from hybridqml.training import (
    METRICS_NAME,
    evaluate_classifier,
    make_loader,
    run_epochs,
    seed_everything,
    write_metrics,
)
from hybridqml.workflows.base import Option, Workflow
from hybridqml.workflows.runs import (
    check_run_settings,
    config_to_json,
    resume_settings,
    run_folder,
    train_config,
)

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
    ) -> None:
        super().__init__()
        self.pre = nn.Linear(2, n_qubits)
        self.quantum = QuantumLayer(
            variational(n_qubits, layers),
            backend=backend,
            shots=shots,
            seed=seed,
            backend_options=backend_options,
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
class QNNConfig:
    """Settings of :func:`train_qnn`.

    Attributes:
        out_dir: Output folder.
        epochs: Training epochs.
        seed: Run seed (data generation, split, initialisation, order).
        n_samples: Points of the circles dataset (a sixth held out for testing).
        noise: Gaussian noise of the circles.
        n_qubits: Qubits of the variational circuit.
        layers: Trainable blocks of the circuit.
        batch_size: Mini-batch size.
        lr: Adam learning rate (both models).
        backend: Quantum backend.
        shots: Shots per circuit (``None``: exact).
        backend_options: Extra simulator options, e.g. ``{"device": "GPU"}`` for GPU Aer.
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
    epochs: int = DEFAULT_QNN_EPOCHS
    seed: int = 0
    n_samples: int = CIRCLES_SAMPLES
    noise: float = CIRCLES_NOISE
    n_qubits: int = DEFAULT_QNN_QUBITS
    layers: int = DEFAULT_QNN_LAYERS
    batch_size: int = 32
    lr: float = DEFAULT_QNN_LR
    backend: str = "aer"
    shots: int | None = None
    backend_options: dict[str, Any] | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    checkpoint_every: int | None = None
    max_shots: int | None = None
    max_qpu_seconds: float | None = None

    def __post_init__(self) -> None:
        check_run_settings(self)
        check_finite(self.noise, "noise", at_least=0.0)


@dataclass(frozen=True, kw_only=True)
class QNNResult:
    """Outcome of :func:`train_qnn`.

    Attributes:
        hybrid_test_accuracy: Final test accuracy of the hybrid QNN.
        classical_test_accuracy: Final test accuracy of the classical net.
        hybrid_parameters: Trainable parameters of the hybrid (classical + circuit angles).
        classical_parameters: Trainable parameters of the classical net.
        history: Per-epoch records for both models.
        seconds: Wall time of this call.
        out_dir: Output folder.
        metrics_path: ``metrics.json``.
        checkpoint_path: Last per-epoch checkpoint.
        plots: PNG files written.
    """

    hybrid_test_accuracy: float
    classical_test_accuracy: float
    hybrid_parameters: int
    classical_parameters: int
    history: tuple[dict[str, float], ...]
    seconds: float
    out_dir: Path
    metrics_path: Path
    checkpoint_path: Path
    plots: tuple[Path, ...]


def train_qnn(config: QNNConfig) -> QNNResult:
    """Train the hybrid QNN and the classical net side by side on circles.

    Args:
        config: The run settings.

    Returns:
        Both test accuracies, parameter counts, history and the files written.

    Raises:
        ConfigurationError: Bad settings, or a resume with changed settings (each difference
            listed).
        BackendError: Unknown quantum backend.
    """
    from hybridqml.plotting import plot_decision_boundary, plot_history

    start = time.perf_counter()
    with run_folder(config) as out:
        split = load_circles(n_samples=config.n_samples, noise=config.noise, seed=config.seed)
        seed_everything(config.seed)
        hybrid = HybridQNN(
            n_qubits=config.n_qubits,
            layers=config.layers,
            backend=config.backend,
            shots=config.shots,
            seed=config.seed,
            backend_options=config.backend_options,
        )
        classical = ClassicalNet.matching(count_parameters(hybrid))
        models = {"hybrid": hybrid, "classical": classical}
        optimizers = {k: torch.optim.Adam(m.parameters(), lr=config.lr) for k, m in models.items()}
        test_loader = make_loader(split.test, batch_size=1024, shuffle=False)
        evaluations: dict[str, Any] = {}

        def step(batch: Any) -> dict[str, float]:
            points, labels = batch
            metrics = {}
            for name, model in models.items():
                optimizers[name].zero_grad()
                logits = model(points)
                loss = F.cross_entropy(logits, labels)
                loss.backward()
                optimizers[name].step()
                metrics[f"{name}_loss"] = loss.item()
                metrics[f"{name}_accuracy"] = (logits.argmax(1) == labels).float().mean().item()
            return metrics

        def evaluate(epoch: int) -> dict[str, float]:
            metrics = {}
            for name, model in models.items():
                evaluations[name] = evaluate_classifier(model, test_loader, distributed=True)
                metrics[f"{name}_test_loss"] = evaluations[name].loss
                metrics[f"{name}_test_accuracy"] = evaluations[name].accuracy
            return metrics

        loop = run_epochs(
            config=train_config(config, out, desc="qnn", run_config=resume_settings(config, split)),
            loader=make_loader(split.train, batch_size=config.batch_size, seed=config.seed),
            step=step,
            stateful={
                "hybrid": hybrid,
                "classical": classical,
                "hybrid_optimizer": optimizers["hybrid"],
                "classical_optimizer": optimizers["classical"],
            },
            evaluate=evaluate,
        )
        if not evaluations:  # resumed a finished run: evaluate the restored models
            evaluate(loop.epochs_completed)
        n_params = {name: count_parameters(model) for name, model in models.items()}
        write_metrics(
            out / METRICS_NAME,
            history=loop.history,
            seed=config.seed,
            extra={
                "workflow": "qnn",
                "data_source": split.info.source,
                "n_train": split.info.n_train,
                "n_test": split.info.n_test,
                "hybrid_parameters": n_params["hybrid"],
                "classical_parameters": n_params["classical"],
                "hybrid_confusion_matrix": evaluations["hybrid"].confusion_matrix.tolist(),
                "classical_confusion_matrix": evaluations["classical"].confusion_matrix.tolist(),
                "config": config_to_json(config),
            },
        )
        test_points, test_labels = split.test.tensors
        plots = [
            plot_history(
                loop.history,
                out / "curves.png",
                metrics=[
                    "hybrid_loss",
                    "classical_loss",
                    "hybrid_test_accuracy",
                    "classical_test_accuracy",
                ],
                title="circles: hybrid QNN vs classical",
            )
        ]
        for name, model in models.items():
            model.eval()
            plots.append(
                plot_decision_boundary(
                    model,
                    test_points,
                    test_labels,
                    out / f"decision_boundary_{name}.png",
                    resolution=_BOUNDARY_RESOLUTION,
                    title=(
                        f"{name} ({n_params[name]} parameters): test accuracy "
                        f"{evaluations[name].accuracy:.3f}"
                    ),
                )
            )
        return QNNResult(
            hybrid_test_accuracy=evaluations["hybrid"].accuracy,
            classical_test_accuracy=evaluations["classical"].accuracy,
            hybrid_parameters=n_params["hybrid"],
            classical_parameters=n_params["classical"],
            history=loop.history,
            seconds=time.perf_counter() - start,
            out_dir=out,
            metrics_path=out / METRICS_NAME,
            checkpoint_path=out / "checkpoint.pt",
            plots=tuple(plots),
        )


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
    traits=frozenset({"quantum"}),
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
