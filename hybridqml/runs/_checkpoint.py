"""Checkpoints: named stateful objects, RNG states and a metric history in one file.

A checkpoint is written atomically (temporary file, fsync, then :func:`os.replace`; see
``hybridqml.runs._files``), so a crash during saving leaves the previous one intact. It
holds every named object's state, the epoch, the metric history, the run settings and all RNG
states (python, numpy, torch, and the generators of submodules with
``random_state()``/``set_random_state()``). A file that is missing, unreadable or not a
hybridqml checkpoint (empty, truncated, random bytes, a foreign pickle) raises
:class:`~hybridqml.exceptions.CheckpointError` naming the file and the cause.

Each checkpoint carries the SHA-256 of its content (``"sha256"``, see ``hybridqml.runs._digest``),
verified on load: a corrupted file that still unpickles (a flipped bit in a weight, an edited
epoch) is refused with a :class:`~hybridqml.exceptions.CheckpointError`, never resumed silently.
Checkpoints written before checksums existed (no ``"sha256"``) are still loaded, with a
``RuntimeWarning`` that their integrity cannot be verified; the next save adds the checksum.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from torch import nn

from hybridqml.exceptions import CheckpointError, ConfigurationError
from hybridqml.runs._digest import DIGEST_KEY, payload_digest
from hybridqml.runs._files import atomic_torch_save, load_torch_file
from hybridqml.runs._seeding import capture_rng_state, restore_rng_state

__all__ = [
    "CHECKPOINT_NAME",
    "Checkpoint",
    "Checkpointer",
    "Stateful",
    "UserState",
]

CHECKPOINT_NAME = "checkpoint.pt"
"""File name of the per-epoch checkpoint inside ``out_dir``."""

_CHECKPOINT_FORMAT = 1


@runtime_checkable
class Stateful(Protocol):
    """Anything that can be checkpointed: models, optimizers, schedulers, :class:`UserState`."""

    def state_dict(self) -> Any:
        """Return the object's state."""

    def load_state_dict(self, state_dict: Any, /) -> Any:
        """Restore the object's state."""


class UserState(dict):
    """A plain dict that can be checkpointed next to models and optimizers.

    Values must be what ``torch.load(weights_only=True)`` accepts: tensors, numbers, strings,
    ``None`` and lists/tuples/dicts of them.

    Example:
        >>> state = UserState(best_accuracy=0.0)
        >>> state["best_accuracy"] = 0.9
        >>> UserState().load_state_dict(state.state_dict()) is None
        True
    """

    def state_dict(self) -> dict[str, Any]:
        """Return a shallow copy of the contents."""
        return dict(self)

    def load_state_dict(self, state_dict: Mapping[str, Any], /) -> None:
        """Replace the contents with ``state_dict``."""
        self.clear()
        self.update(state_dict)


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """What :meth:`Checkpointer.load` found besides the restored objects.

    Attributes:
        epoch: Last completed epoch.
        seed: Run seed recorded at save time (``None`` if not given).
        history: Per-epoch metric records up to ``epoch``.
        extra: The ``extra`` mapping given to :meth:`Checkpointer.save`.
        config: The run settings given to :meth:`Checkpointer.save` (``None`` if not given).
    """

    epoch: int
    seed: int | None
    history: tuple[dict[str, float], ...]
    extra: dict[str, Any]
    config: dict[str, Any] | None = None


class Checkpointer:
    """Save and restore named stateful objects, RNG states and a metric history in one file.

    Args:
        path: Checkpoint file.
        objects: Named objects with ``state_dict``/``load_state_dict`` (models, optimizers,
            schedulers, :class:`UserState`). Names must match between save and load.

    Example:
        >>> import tempfile
        >>> model = nn.Linear(2, 1)
        >>> ckpt = Checkpointer(path=Path(tempfile.mkdtemp()) / "c.pt", objects={"model": model})
        >>> _ = ckpt.save(epoch=1)
        >>> ckpt.load().epoch
        1
    """

    def __init__(self, *, path: str | os.PathLike[str], objects: Mapping[str, Stateful]) -> None:
        for name, obj in objects.items():
            if not isinstance(obj, Stateful):
                raise ConfigurationError(
                    f"object {name!r} ({type(obj).__name__}) has no state_dict/load_state_dict"
                )
        self._path = Path(path)
        self._objects = dict(objects)

    @property
    def path(self) -> Path:
        """The checkpoint file."""
        return self._path

    def exists(self) -> bool:
        """Whether a checkpoint file is present."""
        return self._path.is_file()

    def save(
        self,
        *,
        epoch: int,
        history: Sequence[Mapping[str, float]] = (),
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write the checkpoint atomically (temporary file in the same folder, then replace).

        Args:
            epoch: Last completed epoch.
            history: Per-epoch metric records.
            seed: Run seed, checked on resume.
            extra: More ``weights_only``-loadable values to keep.
            config: The run's settings (JSON-like values), compared on resume by
                :func:`run_epochs`.

        Returns:
            The checkpoint path.
        """
        payload: dict[str, Any] = {
            "format": _CHECKPOINT_FORMAT,
            "epoch": int(epoch),
            "seed": seed,
            "history": [dict(record) for record in history],
            "extra": dict(extra or {}),
            "config": None if config is None else dict(config),
            "objects": {name: obj.state_dict() for name, obj in self._objects.items()},
            "rng": capture_rng_state(),
            "module_rng": {name: _module_random_states(obj) for name, obj in self._objects.items()},
        }
        payload[DIGEST_KEY] = payload_digest(payload)
        atomic_torch_save(payload, self._path)
        return self._path

    def load(
        self,
        *,
        restore_rng: bool = True,
        check: Callable[[Checkpoint], None] | None = None,
    ) -> Checkpoint:
        """Restore every named object (and the RNG states) from the checkpoint.

        Args:
            restore_rng: Also restore python/numpy/torch RNG states (needed for exact resume).
            check: Called with the stored epoch, seed, history, extra values and settings
                *before* anything is restored; raise from it to refuse the checkpoint (the
                objects and RNG states are then left untouched).

        Returns:
            The epoch, seed, history, extra values and settings stored with the objects.

        Raises:
            CheckpointError: If the file is missing, unreadable or not a hybridqml checkpoint
                (a :class:`~hybridqml.exceptions.DataError`; its ``path`` is the file).
            ConfigurationError: If the stored object names or shapes do not match.
        """
        path = self._path
        fix = (
            "Restore it from a backup, or start the run again with --overwrite "
            "(overwrite=True) or in another output folder"
        )
        payload = load_torch_file(path, what="checkpoint", fix=fix)
        if not isinstance(payload, dict) or payload.get("format") != _CHECKPOINT_FORMAT:
            raise CheckpointError(f"{str(path)!r} is not a hybridqml checkpoint. {fix}", path=path)
        _verify(payload, path, fix)
        try:
            checkpoint = Checkpoint(
                epoch=int(payload["epoch"]),
                seed=payload["seed"],
                history=tuple(dict(record) for record in payload["history"]),
                extra=dict(payload["extra"]),
                config=None if payload.get("config") is None else dict(payload["config"]),
            )
            stored = dict(payload["objects"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(
                f"checkpoint {str(path)!r} is incomplete (no valid {exc}). {fix}", path=path
            ) from exc
        if check is not None:
            check(checkpoint)
        if set(stored) != set(self._objects):
            raise ConfigurationError(
                f"checkpoint {str(self._path)!r} holds {sorted(stored)}, "
                f"expected {sorted(self._objects)}"
            )
        for name, obj in self._objects.items():
            try:
                obj.load_state_dict(stored[name])
            except (RuntimeError, KeyError, ValueError) as exc:
                raise ConfigurationError(
                    f"cannot restore {name!r} from {str(self._path)!r}: {exc}"
                ) from exc
        if restore_rng:
            restore_rng_state(payload["rng"])
            for name, states in payload.get("module_rng", {}).items():
                _restore_module_random_states(self._objects[name], states)
        return checkpoint


def _verify(payload: dict[str, Any], path: Path, fix: str) -> None:
    """Refuse a checkpoint whose content does not match its checksum."""
    stored = payload.get(DIGEST_KEY)
    if stored is None:
        warnings.warn(
            f"checkpoint {str(path)!r} has no checksum (written by an older hybridqml): its "
            "integrity cannot be verified; the next checkpoint of the run will carry one",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    try:
        actual = payload_digest(payload)
    except Exception as exc:  # a value of an unexpected kind: not what save() wrote
        actual = f"not computable ({type(exc).__name__})"
    if actual != stored:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt: its content does not match its checksum "
            f"(stored sha256 {str(stored)[:12]}..., content {actual[:12]}...); it was damaged "
            f"on disk or edited, and resuming from it would continue from wrong weights. {fix}",
            path=path,
        )


def _random_state_holders(obj: Any) -> dict[str, Any]:
    """Submodules of ``obj`` with their own generators (e.g. a QuantumLayer's shot seeds)."""
    if not isinstance(obj, nn.Module):
        return {}
    return {
        path: module
        for path, module in obj.named_modules()
        if callable(getattr(module, "random_state", None))
        and callable(getattr(module, "set_random_state", None))
    }


def _module_random_states(obj: Any) -> dict[str, Any]:
    states = {path: module.random_state() for path, module in _random_state_holders(obj).items()}
    return {path: state for path, state in states.items() if state}


def _restore_module_random_states(obj: Any, states: Mapping[str, Any]) -> None:
    holders = _random_state_holders(obj)
    for path, state in states.items():
        if path in holders:
            holders[path].set_random_state(state)
