"""``metrics.json``: the one writer of the per-run metrics file (final values, history, extras).

Every ``metrics.json`` the package writes goes through :func:`write_metrics`, which writes it
atomically (temporary file, fsync, replace: :func:`~hybridqml.runs.atomic_write`) and
turns non-finite numbers, also nested ones in the extra values, into ``null`` so the file stays
valid JSON.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hybridqml.exceptions import ConfigurationError
from hybridqml.runs._files import atomic_write

__all__ = ["METRICS_NAME", "write_metrics"]

METRICS_NAME = "metrics.json"
"""File name of the metrics file inside ``out_dir``."""

_RESERVED_METRIC_KEYS = frozenset({"history", "epochs_completed", "seed"})


def _json_number(value: Any) -> Any:
    """``value`` with every non-finite float (nested in dicts and lists too) as ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_number(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_number(v) for v in value]
    return value


def _history_columns(history: Sequence[Mapping[str, float]]) -> dict[str, list[Any]]:
    keys: list[str] = []
    for record in history:
        keys.extend(k for k in record if k not in keys)
    return {k: [_json_number(record.get(k)) for record in history] for k in keys}


def write_metrics(
    path: str | os.PathLike[str],
    *,
    history: Sequence[Mapping[str, float]],
    final: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> Path:
    """Write ``metrics.json`` atomically.

    Layout: the final metrics at the top level (e.g. ``"test_accuracy": 0.99``), then
    ``"epochs_completed"``, ``"seed"``, ``"history"`` (one list per metric, one value per epoch,
    including ``"epoch"``) and any ``extra`` keys (e.g. a confusion matrix). Non-finite numbers
    (also inside ``extra``) are written as ``null`` so the file stays valid JSON.

    Args:
        path: Output file.
        history: Per-epoch metric records.
        final: Final metrics (default: the last history record without ``"epoch"``).
        extra: More JSON-serialisable values.
        seed: Run seed.

    Returns:
        The path written.

    Raises:
        ConfigurationError: If a metric name collides with a reserved key.

    Example:
        >>> import tempfile
        >>> history = [{"epoch": 1, "loss": 0.5}]
        >>> p = write_metrics(Path(tempfile.mkdtemp()) / "m.json", history=history)
        >>> json.loads(p.read_text())["history"]["loss"]
        [0.5]
    """
    if final is None:
        final = {k: v for k, v in history[-1].items() if k != "epoch"} if history else {}
    extra = dict(extra or {})
    clash = (set(final) | set(extra)) & _RESERVED_METRIC_KEYS or set(final) & set(extra)
    if clash:
        raise ConfigurationError(f"metric names {sorted(clash)} collide with reserved keys")
    payload: dict[str, Any] = {k: _json_number(v) for k, v in final.items()}
    payload["epochs_completed"] = int(history[-1].get("epoch", len(history))) if history else 0
    payload["seed"] = seed
    payload["history"] = _history_columns(history)
    payload.update(_json_number(extra))
    text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda handle: handle.write(text.encode()))
