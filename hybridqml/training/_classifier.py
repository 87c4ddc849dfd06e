"""A classifier recipe on top of the loop: per-epoch evaluation, model selection, ``best.pt``.

:func:`evaluate_classifier` measures accuracy, loss and the confusion matrix;
:func:`fit_classifier` trains with :func:`~hybridqml.training.run_epochs`, selects the best epoch
on a validation set (or, optimistically, on the test set) and records the selection in
``metrics.json``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from hybridqml import _ranks
from hybridqml.exceptions import InputError
from hybridqml.runs import Stateful, atomic_torch_save, write_metrics
from hybridqml.training._collectives import gather_from_ranks
from hybridqml.training._distributed import shard_bounds
from hybridqml.training._loop import TrainConfig, run_epochs

__all__ = [
    "BEST_NAME",
    "ClassifierEvaluation",
    "FitResult",
    "evaluate_classifier",
    "fit_classifier",
]

BEST_NAME = "best.pt"
"""File name of the best model's ``state_dict`` inside ``out_dir`` (:func:`fit_classifier`)."""


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True, kw_only=True)
class ClassifierEvaluation:
    """Accuracy, mean loss and confusion matrix of a classifier on one dataset.

    Attributes:
        accuracy: Share of correct predictions.
        loss: Mean loss per sample.
        confusion_matrix: ``(n_classes, n_classes)`` counts, rows = true class, columns = predicted
            (:func:`sklearn.metrics.confusion_matrix`).
        n_samples: Number of samples evaluated.
    """

    accuracy: float
    loss: float
    confusion_matrix: np.ndarray
    n_samples: int


def _predict(outputs: torch.Tensor) -> torch.Tensor:
    """Class indices from scores: argmax over classes, or ``> 0`` for a single logit."""
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        return (outputs.reshape(-1) > 0).long()
    return outputs.argmax(dim=-1)


class _BestModel:
    """The best epoch's weights: checkpointed with the epoch, then written to ``best.pt``.

    ``best.pt`` used to be written in the epoch's end hook, before the epoch's checkpoint: a run
    killed in between (with noise a resume cannot replay) left a ``best.pt`` of an epoch that no
    longer existed. Now the weights are part of the checkpoint (this object is checkpointed) and
    ``best.pt`` is written from them only after it: at the next step, or at the end of the run.
    A resumed run rewrites it from its checkpoint, so ``best.pt`` only ever holds the weights of
    a checkpointed epoch.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.epoch: int | None = None
        self.weights: dict[str, torch.Tensor] | None = None
        self.dirty = False

    def update(self, model: nn.Module, epoch: int) -> None:
        self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.epoch, self.dirty = epoch, True

    def write(self) -> None:
        if self.dirty and self.weights is not None:
            atomic_torch_save(self.weights, self.path)
        self.dirty = False

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "weights": self.weights}

    def load_state_dict(self, state: Mapping[str, Any], /) -> None:
        self.epoch, self.weights = state["epoch"], state["weights"]
        self.dirty = self.weights is not None  # rewrite best.pt from the checkpoint


def _model_device(model: nn.Module) -> torch.device:
    return next(iter(model.parameters()), torch.empty(0)).device


def evaluate_classifier(
    model: nn.Module,
    loader: Iterable[Any],
    *,
    loss_fn: LossFn | None = None,
    num_classes: int | None = None,
    progress: bool = False,
    distributed: bool = False,
) -> ClassifierEvaluation:
    """Evaluate a classifier in eval mode without gradients (its mode is restored afterwards).

    Outputs of shape ``(B, C)`` are class scores (argmax); ``(B,)`` or ``(B, 1)`` are binary logits
    (positive means class 1).

    With ``distributed=True`` inside a ``torch.distributed`` process group, each rank evaluates
    its contiguous shard of every batch (as training steps do) and the ranks gather their labels,
    predictions and loss sums, so every rank returns the evaluation of the whole set while each
    sample's circuits run once (on hardware: evaluation shots paid once, not once per rank).
    Call it on every rank then. Without a process group it is the plain evaluation.

    Args:
        model: Maps a batch of inputs to class scores.
        loader: Iterable of ``(inputs, labels)`` batches.
        loss_fn: Mean-reduced loss of ``(outputs, labels)`` (default: cross entropy).
        num_classes: Size of the confusion matrix (default: from the output width, 2 for binary).
        progress: Show a tqdm progress bar.
        distributed: Split the evaluation over the ranks (call on every rank).

    Returns:
        Accuracy, mean loss, confusion matrix and sample count.

    Raises:
        InputError: If the loader yields no samples.

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> from hybridqml.training import make_loader
        >>> data = TensorDataset(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]))
        >>> ev = evaluate_classifier(nn.Identity(), make_loader(data, shuffle=False))
        >>> ev.accuracy, ev.confusion_matrix.tolist()
        (1.0, [[1, 0], [0, 1]])
    """
    loss_fn = nn.functional.cross_entropy if loss_fn is None else loss_fn
    split = distributed and _ranks.is_distributed()
    tally = _evaluation_pass(model, loader, loss_fn, shard=split, progress=progress)
    if split:  # every rank's part, in rank order: the whole set on every rank
        tally = _gather(tally)
    return tally.evaluation(num_classes)


@dataclass
class _Tally:
    """What an evaluation pass saw: loss sum, output width, labels and predictions per batch."""

    loss_sum: float = 0.0
    width: int = 0
    labels: list[torch.Tensor] = field(default_factory=list)
    predictions: list[torch.Tensor] = field(default_factory=list)

    def add(self, outputs: torch.Tensor, targets: torch.Tensor, loss_fn: LossFn) -> None:
        """Count one batch of model outputs and their targets."""
        self.loss_sum += float(loss_fn(outputs, targets)) * len(targets)
        self.width = 1 if outputs.ndim == 1 else outputs.shape[-1]
        self.labels.append(targets.reshape(-1).cpu())
        self.predictions.append(_predict(outputs).cpu())

    def evaluation(self, num_classes: int | None) -> ClassifierEvaluation:
        """Accuracy, mean loss and confusion matrix of what was counted."""
        from sklearn.metrics import accuracy_score, confusion_matrix

        if not self.labels:
            raise InputError("the evaluation loader yielded no batches")
        y_true = torch.cat(self.labels).numpy()
        y_pred = torch.cat(self.predictions).numpy()
        n_classes = num_classes if num_classes is not None else max(self.width, 2)
        return ClassifierEvaluation(
            accuracy=float(accuracy_score(y_true, y_pred)),
            loss=self.loss_sum / len(y_true),
            confusion_matrix=confusion_matrix(y_true, y_pred, labels=list(range(n_classes))),
            n_samples=len(y_true),
        )


def _evaluation_pass(
    model: nn.Module, loader: Iterable[Any], loss_fn: LossFn, *, shard: bool, progress: bool
) -> _Tally:
    """Count ``model``'s outputs over ``loader`` in eval mode without gradients.

    With ``shard``, each batch is cut to this rank's contiguous shard. The model's mode is
    restored afterwards.
    """
    device = _model_device(model)
    was_training = model.training
    model.eval()
    tally = _Tally()
    world, rank = _ranks.world_size(), _ranks.rank()
    try:
        with torch.no_grad():
            for inputs, targets in tqdm(loader, desc="eval", leave=False, disable=not progress):
                if shard:  # this rank's contiguous shard of the batch (may be empty)
                    start, stop = shard_bounds(len(targets), world_size=world, rank=rank)
                    if start == stop:
                        continue
                    inputs, targets = inputs[start:stop], targets[start:stop]
                tally.add(model(inputs.to(device)), targets.to(device), loss_fn)
    finally:
        model.train(was_training)
    return tally


def _gather(tally: _Tally) -> _Tally:
    """Every rank's tally, in rank order (call on every rank)."""
    parts = gather_from_ranks(
        (
            tally.loss_sum,
            tally.width,
            [t.numpy() for t in tally.labels],
            [p.numpy() for p in tally.predictions],
        )
    )
    return _Tally(
        loss_sum=sum(part[0] for part in parts),
        width=max(part[1] for part in parts),
        labels=[torch.from_numpy(t) for part in parts for t in part[2]],
        predictions=[torch.from_numpy(p) for part in parts for p in part[3]],
    )


@dataclass(frozen=True, kw_only=True)
class FitResult:
    """Outcome of :func:`fit_classifier`.

    Attributes:
        history: Per-epoch records: ``loss``, ``accuracy`` (training, averaged over batches),
            ``val_loss``, ``val_accuracy`` (with a validation loader), ``test_loss``,
            ``test_accuracy``, ``lr``.
        final: Metrics of the last epoch (as written at the top of ``metrics.json``).
        evaluation: Evaluation of the final model on the test loader.
        selection: ``"validation"`` when a validation loader chose the best epoch, else
            ``"test"`` (then :attr:`best_accuracy` is an optimistic, test-selected number).
        best_accuracy: Best accuracy of the selection set over the epochs.
        best_epoch: Epoch of :attr:`best_accuracy`.
        selected_test_accuracy: Test accuracy of the model saved at :attr:`best_epoch`.
        best_path: ``state_dict`` of the best model, if saved.
        checkpoint_path: Last per-epoch checkpoint, if ``out_dir`` was given.
        metrics_path: ``metrics.json``, if ``out_dir`` was given.
    """

    history: tuple[dict[str, float], ...]
    final: dict[str, float]
    evaluation: ClassifierEvaluation
    selection: str
    best_accuracy: float
    best_epoch: int
    selected_test_accuracy: float
    best_path: Path | None
    checkpoint_path: Path | None
    metrics_path: Path | None


def fit_classifier(
    *,
    model: nn.Module,
    train_loader: Iterable[Any],
    test_loader: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    loss_fn: LossFn | None = None,
    scheduler: Any | None = None,
    save_best: bool = True,
    best_name: str = BEST_NAME,
    val_loader: Iterable[Any] | None = None,
) -> FitResult:
    """Train a classifier with :func:`run_epochs`, evaluating it every epoch.

    Model selection uses ``val_loader`` when given: ``ReduceLROnPlateau`` schedulers step on the
    validation loss and the model's ``state_dict`` is saved to ``out_dir / best_name`` when the
    validation accuracy improves; the test set is only measured. Without ``val_loader`` the
    test set plays both roles, which makes the best accuracy optimistic: pass a validation
    loader (see :func:`hybridqml.data.split_validation`) for an honest one. Other schedulers
    step once per epoch. ``metrics.json`` gets the last epoch's metrics at the top, then
    ``selection``, ``best_epoch``, ``best_<val|test>_accuracy``, ``selected_test_accuracy`` and
    the final ``confusion_matrix``.

    Args:
        model: The classifier (outputs as in :func:`evaluate_classifier`).
        train_loader: ``(inputs, labels)`` batches for training (see :func:`make_loader`).
        test_loader: ``(inputs, labels)`` batches for evaluation.
        optimizer: Optimizer over the model's parameters.
        config: Epochs, seed, ``out_dir``, resume, progress.
        loss_fn: Mean-reduced loss of ``(outputs, labels)`` (default: cross entropy).
        scheduler: Optional learning-rate scheduler (checkpointed with the rest).
        save_best: Save the best model's ``state_dict`` (needs ``out_dir``).
        best_name: File name of the best model inside ``out_dir``.
        val_loader: ``(inputs, labels)`` batches for model selection.

    Returns:
        History, final metrics, final evaluation and best accuracy.

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> from hybridqml.training import make_loader
        >>> x = torch.randn(64, 2); data = TensorDataset(x, (x[:, 0] > 0).long())
        >>> model = nn.Linear(2, 2)
        >>> result = fit_classifier(
        ...     model=model, train_loader=make_loader(data, batch_size=16),
        ...     test_loader=make_loader(data, shuffle=False),
        ...     optimizer=torch.optim.Adam(model.parameters(), lr=0.1),
        ...     config=TrainConfig(epochs=5, progress=False))
        >>> result.final["test_accuracy"] > 0.8
        True
    """
    epochs = _ClassifierEpochs(
        model=model,
        optimizer=optimizer,
        loss_fn=nn.functional.cross_entropy if loss_fn is None else loss_fn,
        scheduler=scheduler,
        val_loader=val_loader,
        test_loader=test_loader,
        best_path=Path(config.out_dir) / best_name if save_best and config.out_dir else None,
    )
    stateful: dict[str, Stateful] = {"model": model, "optimizer": optimizer}
    if scheduler is not None:
        stateful["scheduler"] = scheduler
    if epochs.best is not None:  # the best weights are committed with the epoch's checkpoint
        stateful["best"] = epochs.best
    loop = run_epochs(
        config=config,
        loader=train_loader,
        step=epochs.step,
        stateful=stateful,
        evaluate=epochs.evaluate,
        on_epoch_end=epochs.on_epoch_end,
    )
    return epochs.result(loop, config)


class _ClassifierEpochs:
    """The step, evaluation and epoch end of :func:`fit_classifier`, and its result."""

    def __init__(
        self,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: LossFn,
        scheduler: Any,
        val_loader: Iterable[Any] | None,
        test_loader: Iterable[Any],
        best_path: Path | None,
    ) -> None:
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.best_path = scheduler, best_path
        self.best = None if best_path is None else _BestModel(best_path)
        self.val_loader, self.test_loader = val_loader, test_loader
        self.device = _model_device(model)
        self.prefix = "val" if val_loader is not None else "test"
        self.last: ClassifierEvaluation | None = None

    def step(self, batch: Any) -> dict[str, float]:
        if self.best is not None:  # the previous epoch (and its best weights) is checkpointed
            self.best.write()
        inputs, targets = batch[0].to(self.device), batch[1].to(self.device)
        self.optimizer.zero_grad()
        outputs = self.model(inputs)
        loss = self.loss_fn(outputs, targets)
        loss.backward()
        self.optimizer.step()
        correct = (_predict(outputs.detach()) == targets.reshape(-1)).float().mean()
        return {"loss": loss.item(), "accuracy": correct.item()}

    def _evaluate(self, loader: Iterable[Any]) -> ClassifierEvaluation:
        return evaluate_classifier(self.model, loader, loss_fn=self.loss_fn, distributed=True)

    def evaluate(self, epoch: int) -> dict[str, float]:
        metrics = {}
        if self.val_loader is not None:
            val = self._evaluate(self.val_loader)
            metrics = {"val_loss": val.loss, "val_accuracy": val.accuracy}
        self.last = self._evaluate(self.test_loader)
        return {**metrics, "test_loss": self.last.loss, "test_accuracy": self.last.accuracy}

    def on_epoch_end(
        self, epoch: int, metrics: Mapping[str, float], history: Sequence[Mapping[str, float]]
    ) -> dict[str, float]:
        lr = float(self.optimizer.param_groups[0]["lr"])
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(metrics[f"{self.prefix}_loss"])
        elif self.scheduler is not None:
            self.scheduler.step()
        key = f"{self.prefix}_accuracy"
        best_before = max((h[key] for h in history), default=-math.inf)
        if self.best is not None and metrics[key] > best_before:
            self.best.update(self.model, epoch)  # written once the epoch's checkpoint is
        return {"lr": lr}

    def result(self, loop: Any, config: TrainConfig) -> FitResult:
        """The selection over the epochs, written to ``metrics.json``."""
        if self.best is not None:  # the last epoch is checkpointed by now
            self.best.write()
        evaluation = self.last if self.last is not None else self._evaluate(self.test_loader)
        prefix, key = self.prefix, f"{self.prefix}_accuracy"
        best_record = max(loop.history, key=lambda h: h[key]) if loop.history else {}
        best_accuracy = float(best_record.get(key, evaluation.accuracy))
        best_epoch = int(best_record.get("epoch", 0))
        selected_test = float(best_record.get("test_accuracy", evaluation.accuracy))
        selection = "validation" if prefix == "val" else "test"
        if config.metrics_path is not None:
            write_metrics(
                config.metrics_path,
                history=loop.history,
                seed=config.seed,
                extra={
                    "selection": selection,
                    f"best_{prefix}_accuracy": best_accuracy,
                    "best_epoch": best_epoch,
                    "selected_test_accuracy": selected_test,
                    "confusion_matrix": evaluation.confusion_matrix.tolist(),
                },
            )
        best_path = self.best_path
        return FitResult(
            history=loop.history,
            final=loop.final,
            evaluation=evaluation,
            selection=selection,
            best_accuracy=best_accuracy,
            best_epoch=best_epoch,
            selected_test_accuracy=selected_test,
            best_path=best_path if best_path is not None and best_path.is_file() else None,
            checkpoint_path=loop.checkpoint_path,
            metrics_path=loop.metrics_path,
        )
