"""Which run settings differ between a checkpoint and the run that wants to resume from it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["config_differences"]

_ABSENT = object()


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Every setting that differs between two (nested) settings mappings, one line each.

    Nested mappings are compared key by key and named with dots (``entropy.source``); a key
    present on one side only counts as a difference.

    Args:
        stored: Settings recorded in a checkpoint.
        current: Settings of the run that wants to resume.

    Returns:
        ``"name: checkpoint <old>, now <new>"`` per difference, sorted by name.

    Example:
        >>> config_differences({"lr": 0.1, "entropy": {"source": "prng"}},
        ...                    {"lr": 0.1, "entropy": {"source": "aer"}})
        ["entropy.source: checkpoint 'prng', now 'aer'"]
    """

    def show(value: Any) -> str:
        return "(not recorded)" if value is _ABSENT else repr(value)

    out: list[str] = []

    def walk(a: Any, b: Any, name: str) -> None:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for key in sorted(set(a) | set(b), key=str):
                walk(a.get(key, _ABSENT), b.get(key, _ABSENT), f"{name}.{key}" if name else key)
        elif _normalise(a) != _normalise(b):
            out.append(f"{name}: checkpoint {show(a)}, now {show(b)}")

    walk(stored, current, "")
    return out


def _normalise(value: Any) -> Any:
    """Compare tuples like lists (a checkpoint may hold either)."""
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value
