"""Classifier workflows: a validation split, :func:`~hybridqml.training.fit_classifier`, outputs.

:class:`ClassifierTrainer` is the :class:`~hybridqml.workflows.Trainer` of a workflow
that trains one classifier (the textbook network, the noisy MLP): it holds out
``validation_fraction`` of the training images to choose the best epoch (``best.pt``; the test
set is only measured), trains with :func:`~hybridqml.training.fit_classifier` (the objects
:meth:`~ClassifierTrainer.build` returns are named ``"model"``, ``"optimizer"`` and optionally
``"scheduler"``), records the selection in ``metrics.json`` and draws the curves and the
test confusion matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hybridqml._validation import check_finite
from hybridqml.data import DEFAULT_VALIDATION_FRACTION, split_validation
from hybridqml.runs import ImageRunConfig
from hybridqml.training import TrainConfig, fit_classifier, make_loader
from hybridqml.workflows._trainer import RunResult, Trainer

__all__ = ["ClassifierResult", "ClassifierRunConfig", "ClassifierTrainer"]

_CURVES = ("loss", "val_loss", "test_loss", "accuracy", "val_accuracy", "test_accuracy")


@dataclass(frozen=True, kw_only=True)
class ClassifierRunConfig(ImageRunConfig):
    """An image run training one classifier, the best epoch chosen on held-out images.

    Attributes:
        validation_fraction: Share of the training images held out to choose the best epoch
            (saved to ``best.pt``) and drive a learning-rate schedule; the test set is only
            measured.
    """

    validation_fraction: float = DEFAULT_VALIDATION_FRACTION

    def __post_init__(self) -> None:
        super().__post_init__()
        check_finite(self.validation_fraction, "validation_fraction", above=0.0, below=1.0)


@dataclass(frozen=True, kw_only=True)
class ClassifierResult(RunResult):
    """Outcome of a classifier workflow.

    Attributes:
        test_accuracy: Accuracy of the final model on the held-out test images.
        selected_test_accuracy: Test accuracy of the epoch with the best validation accuracy
            (its weights are in ``best.pt``; the test set never chose it).
        best_val_accuracy: That epoch's validation accuracy.
        data_source: Where the images came from (``mnist-t10k-split``, ``sklearn-digits``, ...).
    """

    test_accuracy: float
    selected_test_accuracy: float
    best_val_accuracy: float
    data_source: str


class ClassifierTrainer(Trainer):
    """A :class:`~hybridqml.workflows.Trainer` for one classifier (see the module)."""

    result_type: ClassVar[type[RunResult]] = ClassifierResult
    eval_batch_size: ClassVar[int] = 256
    """Batch size of the validation and test passes."""
    loss_fn: Any = None
    """Mean-reduced loss of ``(outputs, labels)``; ``None``: cross entropy."""

    def title(self) -> str:
        """Plot title."""
        return self.name

    def class_names(self) -> list[str]:
        """Confusion-matrix tick labels."""
        return [str(c) for c in self.data.info.classes]

    def prepare(self) -> None:
        """Hold out the validation images (seeded, stratified)."""
        config = self.config
        self.train_set, self.val_set = split_validation(
            self.data.train, fraction=config.validation_fraction, seed=config.seed
        )
        self.test_set = self.data.test

    def fit(self, train_config: TrainConfig, objects: Any) -> Any:
        """:func:`~hybridqml.training.fit_classifier` on the split."""
        config, size = self.config, self.eval_batch_size
        return fit_classifier(
            model=objects["model"],
            train_loader=make_loader(
                self.train_set, batch_size=config.batch_size, seed=config.seed
            ),
            val_loader=make_loader(self.val_set, batch_size=size, shuffle=False),
            test_loader=make_loader(self.test_set, batch_size=size, shuffle=False),
            optimizer=objects["optimizer"],
            config=train_config,
            loss_fn=type(self).loss_fn,
            scheduler=objects.get("scheduler"),
        )

    def fit_metrics(self, fit: Any) -> dict[str, Any]:
        """The selection: best epoch, its accuracies, the final confusion matrix."""
        return {
            "selection": fit.selection,
            f"best_{'val' if fit.selection == 'validation' else 'test'}_accuracy": (
                fit.best_accuracy
            ),
            "best_epoch": fit.best_epoch,
            "selected_test_accuracy": fit.selected_test_accuracy,
            "confusion_matrix": fit.evaluation.confusion_matrix.tolist(),
        }

    def sizes(self) -> dict[str, int]:
        """Training (after the hold-out), validation and test images."""
        return {
            "n_train": len(self.train_set),
            "n_val": len(self.val_set),
            "n_test": self.data.info.n_test,
        }

    def draw(self, fit: Any) -> Sequence[Path]:
        """The curves and the test confusion matrix."""
        from hybridqml.plotting import plot_confusion_matrix, plot_history

        title, history = self.title(), fit.history
        curves = [n for n in _CURVES if history and n in history[0]]
        return (
            plot_history(history, self.out / "curves.png", metrics=curves, title=title),
            plot_confusion_matrix(
                fit.evaluation.confusion_matrix,
                self.out / "confusion_matrix.png",
                class_names=self.class_names(),
                title=f"{title}: test set",
            ),
        )

    def outcome(self, fit: Any) -> dict[str, Any]:
        """Final and selected test accuracies and where the images came from."""
        return {
            "test_accuracy": float(fit.final["test_accuracy"]),
            "selected_test_accuracy": fit.selected_test_accuracy,
            "best_val_accuracy": fit.best_accuracy,
            "data_source": self.data.info.source,
        }
