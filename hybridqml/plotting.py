"""PNG plots of training results: curves, confusion matrix, decision boundary, image grids.

Figures are built with matplotlib's object API on an Agg canvas (no ``pyplot`` state, no window),
saved as PNG and closed; every function returns the path it wrote. matplotlib is imported inside
the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hybridqml._ranks import is_writer
from hybridqml._storage import write_error
from hybridqml.exceptions import BackendError, InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_GRID_PADDING",
    "DEFAULT_GRID_RESOLUTION",
    "DEFAULT_GRID_ROWS",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_history",
    "save_image_grid",
]

DEFAULT_DPI = 100
"""Resolution of saved figures."""
DEFAULT_GRID_RESOLUTION = 200
"""Points per axis of the decision-boundary grid."""
DEFAULT_GRID_ROWS = 8
"""Images per row of an image grid."""
DEFAULT_GRID_PADDING = 0.5
"""Margin around the data of the decision-boundary grid, in data units."""
_MNIST_SHAPE = (1, 28, 28)


def _new_figure(*, ncols: int = 1, width: float = 6.0, height: float = 4.5) -> tuple[Figure, Any]:
    """A figure on an Agg canvas with ``ncols`` axes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is a core dependency
        raise BackendError("plotting needs matplotlib: pip install matplotlib") from exc
    figure = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, axes


def _save(figure: Figure, path: str | os.PathLike[str], dpi: int) -> Path:
    try:
        return _write_png(Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=dpi))
    finally:
        figure.clear()


def _write_png(target: Path, write: Callable[[Path], Any]) -> Path:
    """``write(tmp)``, then ``tmp`` replaces ``target``: a failed write keeps the old file.

    Raises:
        StorageError: the disk is full or the folder cannot be written (no partial file left).
    """
    if not is_writer():  # data-parallel run: rank 0 draws the run's plots and images
        return target
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise write_error(exc, target) from exc
    finally:
        with contextlib.suppress(OSError):  # e.g. its folder was never made
            tmp.unlink(missing_ok=True)
    return target


def _columns(
    history: Sequence[Mapping[str, float]] | Mapping[str, Sequence[float]],
) -> dict[str, list[Any]]:
    """History as ``{metric: values}`` (accepts records or the ``metrics.json`` columns)."""
    if isinstance(history, Mapping):
        if "history" in history and isinstance(history["history"], Mapping):
            history = history["history"]
        return {k: list(v) for k, v in history.items()}
    keys: list[str] = []
    for record in history:
        keys.extend(k for k in record if k not in keys)
    return {k: [record.get(k) for record in history] for k in keys}


def plot_history(
    history: Sequence[Mapping[str, float]] | Mapping[str, Sequence[float]],
    path: str | os.PathLike[str],
    *,
    metrics: Sequence[str] | None = None,
    title: str | None = None,
    dpi: int = DEFAULT_DPI,
) -> Path:
    """Plot per-epoch curves: losses left, accuracies (names containing ``acc``) right.

    Args:
        history: Per-epoch records (``LoopResult.history``), columns ``{metric: values}``, or a
            loaded ``metrics.json`` (its ``"history"`` is used).
        path: PNG file to write.
        metrics: Metrics to draw (default: every metric except ``epoch`` and ``lr``).
        title: Figure title.
        dpi: Resolution.

    Returns:
        The path written.

    Raises:
        InputError: If there is nothing to plot.

    Example:
        >>> import tempfile
        >>> history = [{"epoch": 1, "loss": 0.9, "accuracy": 0.6},
        ...            {"epoch": 2, "loss": 0.5, "accuracy": 0.8}]
        >>> plot_history(history, Path(tempfile.mkdtemp()) / "curves.png").stat().st_size > 0
        True
    """
    from matplotlib.ticker import MaxNLocator

    columns = _columns(history)
    names = (
        list(metrics) if metrics is not None else [k for k in columns if k not in ("epoch", "lr")]
    )
    missing = [n for n in names if n not in columns]
    if not names or missing or not any(columns[n] for n in names):
        raise InputError(f"nothing to plot: metrics {names}, missing {missing}")
    n_points = max(len(columns[n]) for n in names)
    epochs = columns.get("epoch") or list(range(1, n_points + 1))
    groups = [
        [n for n in names if "acc" not in n.lower()],
        [n for n in names if "acc" in n.lower()],
    ]
    groups = [g for g in groups if g]
    figure, axes = _new_figure(ncols=len(groups), width=5.0, height=4.0)
    for ax, group in zip(axes, groups, strict=True):
        for name in group:
            values = np.array([np.nan if v is None else v for v in columns[name]], dtype=float)
            ax.plot(epochs[: len(values)], values, marker="o", label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("accuracy" if "acc" in group[0].lower() else "value")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    return _save(figure, path, dpi)


def plot_confusion_matrix(
    matrix: np.ndarray | Sequence[Sequence[int]],
    path: str | os.PathLike[str],
    *,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    title: str | None = None,
    dpi: int = DEFAULT_DPI,
) -> Path:
    """Draw a confusion matrix with :class:`sklearn.metrics.ConfusionMatrixDisplay`.

    Args:
        matrix: ``(C, C)`` counts, rows = true class, columns = predicted.
        path: PNG file to write.
        class_names: Tick labels (default ``0 .. C-1``).
        normalize: Show each row as fractions of the true class.
        title: Axes title.
        dpi: Resolution.

    Returns:
        The path written.

    Raises:
        InputError: If the matrix is not square or the names do not match its size.

    Example:
        >>> import tempfile
        >>> p = plot_confusion_matrix([[5, 1], [0, 6]], Path(tempfile.mkdtemp()) / "cm.png")
        >>> p.suffix
        '.png'
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    cm = np.asarray(matrix, dtype=float if normalize else None)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise InputError(f"a confusion matrix must be square and non-empty, got shape {cm.shape}")
    if class_names is not None and len(class_names) != cm.shape[0]:
        raise InputError(f"{len(class_names)} class names for a {cm.shape[0]}-class matrix")
    if normalize:
        rows = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    size = 2.0 + 0.5 * cm.shape[0]
    figure, axes = _new_figure(width=size + 1.0, height=size)
    display = ConfusionMatrixDisplay(cm, display_labels=class_names)
    display.plot(ax=axes[0], values_format=".2f" if normalize else "g", colorbar=True)
    if title:
        axes[0].set_title(title)
    return _save(figure, path, dpi)


def plot_decision_boundary(
    predict: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    path: str | os.PathLike[str],
    *,
    resolution: int = DEFAULT_GRID_RESOLUTION,
    padding: float = DEFAULT_GRID_PADDING,
    title: str | None = None,
    dpi: int = DEFAULT_DPI,
) -> Path:
    """Draw the predicted class over a grid around 2-D data, with the data on top.

    The grid is evaluated in one call of ``predict`` under ``torch.no_grad()`` and drawn with
    :class:`sklearn.inspection.DecisionBoundaryDisplay`.

    Args:
        predict: Maps an ``(N, 2)`` float tensor to class scores ``(N, C)`` (argmax) or binary
            logits ``(N,)``/``(N, 1)`` (positive = class 1), e.g. a model in eval mode.
        inputs: ``(N, 2)`` points to scatter.
        labels: ``(N,)`` integer classes of the points.
        path: PNG file to write.
        resolution: Grid points per axis.
        padding: Margin around the data, in data units.
        title: Axes title.
        dpi: Resolution.

    Returns:
        The path written.

    Raises:
        InputError: On inputs that are not ``(N, 2)`` or labels of another length.

    Example:
        >>> import tempfile
        >>> x = torch.randn(20, 2); y = (x[:, 0] > 0).long()
        >>> plot_decision_boundary(lambda t: t[:, 0], x, y, Path(tempfile.mkdtemp()) / "b.png").name
        'b.png'
    """
    from sklearn.inspection import DecisionBoundaryDisplay

    if not is_writer():  # data-parallel run: rank 0 evaluates the grid and draws it
        return Path(path)
    points, classes = _points_and_classes(inputs, labels)
    xx0, xx1 = _grid_around(points, padding=padding, resolution=resolution)
    predicted, n_classes = _predicted_classes(predict, xx0, xx1)
    n_classes = max(n_classes, int(classes.max()) + 1)
    figure, axes = _new_figure(width=5.5, height=5.0)
    display = DecisionBoundaryDisplay(
        xx0=xx0,
        xx1=xx1,
        n_classes=n_classes,
        response=predicted,
        xlabel="x0",
        ylabel="x1",
    )
    cmap = _draw_regions(display, axes[0], n_classes)
    axes[0].scatter(
        points[:, 0],
        points[:, 1],
        c=classes,
        cmap=cmap,
        vmin=0,
        vmax=n_classes - 1,
        edgecolors="k",
        s=15,
    )
    if title:
        axes[0].set_title(title)
    return _save(figure, path, dpi)


def _points_and_classes(
    inputs: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(N, 2)`` points and ``(N,)`` classes as numpy arrays, their shapes checked."""
    points = torch.as_tensor(inputs).detach().cpu().numpy()
    classes = torch.as_tensor(labels).detach().cpu().numpy().reshape(-1)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise InputError(f"inputs must have shape (N, 2), got {points.shape}")
    if len(classes) != len(points):
        raise InputError(f"{len(classes)} labels for {len(points)} points")
    return points, classes


def _grid_around(
    points: np.ndarray, *, padding: float, resolution: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(resolution, resolution)`` coordinate grids spanning ``points`` plus ``padding``."""
    if resolution < 2:
        raise InputError(f"resolution must be >= 2, got {resolution}")
    lo, hi = points.min(axis=0) - padding, points.max(axis=0) + padding
    xx, yy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    return xx, yy


def _predicted_classes(
    predict: Callable[[torch.Tensor], torch.Tensor], xx0: np.ndarray, xx1: np.ndarray
) -> tuple[np.ndarray, int]:
    """``predict``'s class at every grid point (one call, no gradients), and the class count.

    Scores ``(N, C)`` give the argmax and ``C``; a logit ``(N,)`` or ``(N, 1)`` gives ``> 0``
    and 2.
    """
    grid = torch.as_tensor(np.c_[xx0.ravel(), xx1.ravel()], dtype=torch.float32)
    with torch.no_grad():
        scores = torch.as_tensor(predict(grid)).detach().cpu()
    if scores.ndim == 1 or scores.shape[-1] == 1:
        predicted, n_classes = (scores.reshape(-1) > 0).long(), 2
    else:
        predicted, n_classes = scores.argmax(dim=-1), scores.shape[-1]
    return predicted.numpy().reshape(xx0.shape), n_classes


def _draw_regions(display: Any, ax: Any, n_classes: int) -> Any:
    """Draw the predicted regions on ``ax``; return the colormap that gives points their colors."""
    if n_classes == 2:
        cmap = "coolwarm"
        display.plot(ax=ax, alpha=0.4, cmap=cmap, levels=[-0.5, 0.5, 1.5])
        return cmap
    from matplotlib.colors import ListedColormap

    display.plot(ax=ax, alpha=0.4)
    return ListedColormap(display.multiclass_colors_)


def save_image_grid(
    images: torch.Tensor,
    path: str | os.PathLike[str],
    *,
    nrow: int = DEFAULT_GRID_ROWS,
    image_shape: Sequence[int] = _MNIST_SHAPE,
    value_range: tuple[float, float] | None = (-1.0, 1.0),
) -> Path:
    """Save a batch of images as one PNG grid (:func:`torchvision.utils.save_image`).

    Args:
        images: ``(N, C, H, W)`` images or ``(N, C*H*W)`` flat vectors (e.g. a GAN generator's
            ``tanh`` output).
        path: PNG file to write.
        nrow: Images per row.
        image_shape: ``(C, H, W)`` used to reshape flat vectors.
        value_range: Range mapped to black..white (``(-1, 1)`` for ``tanh`` outputs); ``None``
            uses each grid's min/max.

    Returns:
        The path written.

    Raises:
        InputError: If the images cannot be reshaped to ``image_shape`` or the batch is empty.

    Example:
        >>> import tempfile
        >>> p = save_image_grid(torch.rand(16, 784) * 2 - 1, Path(tempfile.mkdtemp()) / "g.png")
        >>> p.stat().st_size > 0
        True
    """
    from torchvision.utils import save_image

    batch = torch.as_tensor(images).detach().cpu().float()
    if batch.ndim == 2:
        if batch.shape[1] != int(np.prod(image_shape)):
            raise InputError(f"cannot reshape {tuple(batch.shape)} images to {tuple(image_shape)}")
        batch = batch.reshape(-1, *image_shape)
    if batch.ndim != 4 or batch.shape[0] == 0:
        raise InputError(f"images must be (N, C, H, W) or (N, C*H*W), got {tuple(batch.shape)}")
    return _write_png(
        Path(path),
        lambda tmp: save_image(
            batch, tmp, nrow=nrow, normalize=True, value_range=value_range, format="png"
        ),
    )
