"""Divergence: a run whose numbers become NaN or infinite stops, its last checkpoint intact.

:func:`~hybridqml.training.run_epochs` checks every step's metrics (per batch) and, at the end of
each epoch, every floating-point parameter and buffer of its modules (:func:`check_weights`).
The first non-finite value stops the run with a :class:`~hybridqml.exceptions.DivergenceError`
(:func:`divergence_error`) *before* the diverged epoch is checkpointed, so the last good
checkpoint (and ``best.pt``) stays loadable, and ``metrics.json`` records the good epochs plus a
``"diverged"`` note.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from hybridqml.exceptions import DivergenceError, InputError
from hybridqml.runs import write_metrics

__all__ = ["check_weights", "diverged", "divergence_error"]


def check_weights(modules: Mapping[str, nn.Module]) -> None:
    """Raise :class:`DivergenceError` if a parameter or buffer of a module is not finite.

    Example:
        >>> layer = nn.Linear(1, 1)
        >>> check_weights({"model": layer})
        >>> with torch.no_grad():
        ...     layer.bias.fill_(float("nan"))
        Parameter containing:
        tensor([nan], requires_grad=True)
        >>> check_weights({"model": layer})
        Traceback (most recent call last):
        ...
        hybridqml.exceptions.DivergenceError: weights of 'model'
    """
    for name, module in modules.items():
        for tensor in (*module.parameters(), *module.buffers()):
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise DivergenceError(f"weights of {name!r}", metrics=(f"weights of {name}",))


def diverged(
    exc: DivergenceError | InputError, modules: Mapping[str, nn.Module]
) -> DivergenceError:
    """``exc`` as a divergence: an :class:`InputError` only when the weights are not finite.

    A step that made a weight infinite (a learning rate of ``1e308``) usually fails in the next
    step's forward pass, when a quantum layer refuses a non-finite angle: that is a divergence
    of training, not a bad input. An :class:`InputError` with finite weights is re-raised.

    Example:
        >>> layer = nn.Linear(1, 1)
        >>> with torch.no_grad():
        ...     _ = layer.weight.fill_(float("inf"))
        >>> err = diverged(InputError("inputs contain NaN or inf"), {"model": layer})
        >>> type(err).__name__, err.metrics
        ('DivergenceError', ('weights of model',))
    """
    if isinstance(exc, DivergenceError):
        return exc
    try:
        check_weights(modules)
    except DivergenceError as found:
        return DivergenceError(str(found), metrics=found.metrics)  # exc stays the cause
    raise exc


def divergence_error(
    exc: DivergenceError,
    *,
    epoch: int,
    history: Sequence[Mapping[str, float]],
    seed: int | None,
    checkpoint_path: str | os.PathLike[str] | None,
    metrics_path: str | os.PathLike[str] | None,
) -> DivergenceError:
    """The error of a diverged epoch; ``metrics.json`` records the good epochs and a note.

    Args:
        exc: What :func:`check_weights` or the per-batch check found.
        epoch: The diverged epoch.
        history: The good epochs' records.
        seed: Run seed (for ``metrics.json``).
        checkpoint_path: The run's checkpoint file (holding the last good epoch), if any.
        metrics_path: The run's ``metrics.json``, if any.

    Returns:
        A :class:`DivergenceError` naming the epoch, the last good checkpoint and the fix.
    """
    good = int(history[-1]["epoch"]) if history else None
    checkpoint = Path(checkpoint_path) if checkpoint_path is not None and good else None
    kept = (
        f"checkpoint {str(checkpoint)!r} keeps epoch {good}"
        if checkpoint is not None
        else "no epoch completed, so there is no checkpoint"
    )
    note = (
        f"training diverged in epoch {epoch}: {exc} became NaN or infinite; the run stopped "
        f"and {kept}"
    )
    if metrics_path is not None:
        write_metrics(
            metrics_path,
            history=history,
            seed=seed,
            extra={"diverged": {"epoch": epoch, "nonfinite": list(exc.metrics), "note": note}},
        )
    return DivergenceError(
        f"{note}. Lower the learning rate (or check the data) and start again with "
        "--overwrite (overwrite=True) or in another output folder",
        epoch=epoch,
        metrics=exc.metrics,
        checkpoint=checkpoint,
    )
