"""TensorBoard logging of a run: :class:`TensorBoardLogger`, a :class:`Callback`.

Written through ``torch.utils.tensorboard`` (install the extra: ``pip install
"hybridqml[tensorboard]"``). Every workflow takes it as ``tensorboard_dir=`` in its config
(``hybridqml train ... --tensorboard DIR``); any :func:`~hybridqml.training.run_epochs` run
takes it in :attr:`TrainConfig.callbacks <hybridqml.training.TrainConfig.callbacks>`.

What it writes (tags), all against the run's global step unless said otherwise:

* ``step/<metric>``: every training step's metrics (e.g. ``step/loss``);
* ``epoch/<metric>``: every epoch's record (step means and evaluation metrics, e.g.
  ``epoch/val_accuracy``) at the epoch's last step, and ``epoch/epoch``;
* at the end: the run's config as hparams (the HParams tab; the final metrics as
  ``hparam/<metric>``), the figures as images (``images/<png name>``, e.g.
  ``images/curves``, ``images/decision_boundary_hybrid``, ``images/samples``; the GAN's grids
  as ``images/grids`` with the epoch as step), and text: ``run/config``, ``run/backend``,
  ``run/workflow`` and ``run/entropy`` (the entropy provenance) where the run has them.

Give each run its own folder. A resumed run appends to its folder: the new session's events
go to a new event file and continue the global step where the checkpoint stopped; events the
interrupted session wrote after its last checkpoint are purged from view (``purge_step``), so
the curves show each step once.

Example:
    >>> import tempfile, torch
    >>> from hybridqml.training import TrainConfig, run_epochs
    >>> logdir = tempfile.mkdtemp()
    >>> model = torch.nn.Linear(1, 1)
    >>> def step(batch):
    ...     return {"loss": model(batch).pow(2).mean().item()}
    >>> config = TrainConfig(epochs=1, progress=False, callbacks=(TensorBoardLogger(logdir),))
    >>> _ = run_epochs(config=config, loader=[torch.ones(2, 1)], step=step,
    ...                stateful={"model": model})
    >>> any(p.name.startswith("events.out.tfevents") for p in Path(logdir).iterdir())
    True
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hybridqml.exceptions import MissingDependencyError
from hybridqml.training._callbacks import Callback, EndEvent, EpochEvent, StepEvent

__all__ = ["TensorBoardLogger"]

_INSTALL_HINT = 'TensorBoard logging needs tensorboard: pip install "hybridqml[tensorboard]"'


def _summary_writer() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch raises ImportError when tensorboard is missing
        raise MissingDependencyError(_INSTALL_HINT, package="tensorboard") from exc
    return SummaryWriter


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``{"a.b": value}`` with values TensorBoard's hparams accept."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= _flat(value, prefix=f"{name}.")
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = json.dumps(value, default=str)
    return flat


def _image(path: Path) -> Any:
    """The PNG's RGB pixels as an ``(H, W, 3)`` float array in [0, 1]."""
    from matplotlib import image  # the workflows that wrote the PNG have matplotlib

    pixels = image.imread(path)
    return pixels[..., :3] if pixels.ndim == 3 else pixels[..., None].repeat(3, axis=2)


class TensorBoardLogger(Callback):
    """Writes a run's scalars, config, figures and provenance to a TensorBoard log folder.

    The folder is created, and the event file opened, at the first event (on rank 0 only, as
    every callback); :meth:`on_end` closes it. See the module for the tags.

    Args:
        log_dir: The run's TensorBoard folder (``tensorboard --logdir`` its parent to compare
            runs).

    Raises:
        MissingDependencyError: ``tensorboard`` is not installed (at construction).
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        self._writer_type = _summary_writer()
        self.log_dir = Path(log_dir)
        self._writer: Any = None

    def _open(self, first_step: int) -> Any:
        if self._writer is None:
            # a resumed run: hide what the interrupted session wrote after its checkpoint
            purge = first_step if first_step > 1 else None
            self._writer = self._writer_type(log_dir=str(self.log_dir), purge_step=purge)
        return self._writer

    def on_step(self, event: StepEvent) -> None:
        """``step/<metric>`` at the global step."""
        writer = self._open(event.global_step)
        for name, value in event.metrics.items():
            writer.add_scalar(f"step/{name}", value, event.global_step)

    def on_epoch(self, event: EpochEvent) -> None:
        """``epoch/<metric>`` (and ``epoch/epoch``) at the epoch's last step."""
        writer = self._open(event.global_step + 1)
        writer.add_scalar("epoch/epoch", event.epoch, event.global_step)
        for name, value in event.metrics.items():
            writer.add_scalar(f"epoch/{name}", value, event.global_step)
        writer.flush()

    def on_end(self, event: EndEvent) -> None:
        """Hparams, figures and the run's text; then close the event file."""
        writer = self._open(event.global_step + 1)
        self._hparams(writer, event)
        for path in event.figures:
            tag, step = self._image_tag(path, event)
            writer.add_image(tag, _image(path), step, dataformats="HWC")
        info = event.info
        config = info.get("config")
        texts = {
            "run/workflow": info.get("workflow"),
            "run/backend": config.get("backend") if isinstance(config, Mapping) else None,
            "run/config": config if config is not None else event.run_config,
            "run/entropy": info.get("entropy"),
        }
        for tag, value in texts.items():
            if value is not None:
                text = value if isinstance(value, str) else json.dumps(value, indent=2)
                writer.add_text(tag, f"```\n{text}\n```", event.global_step)
        writer.close()
        self._writer = None

    @staticmethod
    def _hparams(writer: Any, event: EndEvent) -> None:
        from torch.utils.tensorboard.summary import hparams

        settings = event.info.get("config", event.run_config)
        if not settings:
            return
        metrics = {f"hparam/{name}": value for name, value in event.final.items()}
        for summary in hparams(_flat(settings), metrics):
            writer.file_writer.add_summary(summary, event.global_step)
        for name, value in metrics.items():
            writer.add_scalar(name, value, event.global_step)

    @staticmethod
    def _image_tag(path: Path, event: EndEvent) -> tuple[str, int]:
        """The image tag and step of a figure.

        ``images/<name>`` at the last step; a PNG in a subfolder (``grids/epoch_003.png``) is
        ``images/<subfolder>`` at the number in its name.
        """
        number = re.search(r"(\d+)$", path.stem)
        in_out = event.out_dir is not None and path.parent.resolve() == event.out_dir.resolve()
        if not in_out and number is not None:
            return f"images/{path.parent.name}", int(number.group(1))
        return f"images/{path.stem}", event.global_step
