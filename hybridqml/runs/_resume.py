"""What a resumed run must repeat: the settings recorded in a checkpoint, and their differences.

Resuming never changes the settings of a run. Every checkpoint records them
(:func:`resume_settings`: the whole config except :data:`RESUME_MUTABLE_FIELDS` and the
workflow's own mutable fields, plus a fingerprint of the data), and
:func:`~hybridqml.training.run_epochs` refuses to resume with other values, listing each
difference (:func:`config_differences`); the entropy stream's own state also records its source
and mode and is refused by a stream with other settings. :func:`config_to_json` is how a config
is recorded (``metrics.json`` holds it too).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from hybridqml._validation import redact_url
from hybridqml.data import DatasetSplit
from hybridqml.exceptions import ConfigurationError
from hybridqml.runs._checkpoint import Checkpoint
from hybridqml.runs._config import RESUME_MUTABLE_FIELDS

__all__ = [
    "RESUME_MUTABLE_FIELDS",
    "check_resume",
    "config_differences",
    "config_to_json",
    "resume_settings",
]


def config_to_json(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON-ready values (paths as strings, nested dataclasses as dicts).

    QRNG URLs keep only scheme, host and path (a query string or user part may hold secrets).
    Values JSON cannot hold (e.g. a ``NoiseModel`` in ``backend_options``) become their type
    name, so ``metrics.json`` can always be written.

    Example:
        >>> from hybridqml.entropy import EntropySettings
        >>> config_to_json(EntropySettings(source="os"))["source"]
        'os'
    """

    def convert(value: Any) -> Any:
        if isinstance(value, dict) and value.get("qrng_url"):
            value = value | {"qrng_url": redact_url(value["qrng_url"])}
        if isinstance(value, os.PathLike):
            return str(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    # a setting with its own record (EntropySettings.to_record) is recorded as it says
    values = {f.name: getattr(config, f.name) for f in fields(config)}
    records = {k: v.to_record() for k, v in values.items() if hasattr(v, "to_record")}
    return _jsonable(convert(asdict(config) | records))


def resume_settings(
    config: Any, data: DatasetSplit, *, mutable: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """What a run's checkpoint records and a resumed run must repeat.

    :func:`config_to_json` of ``config`` without :data:`RESUME_MUTABLE_FIELDS` and the
    workflow's own ``mutable`` fields, plus ``data``: a fingerprint of the loaded split (source,
    sizes, classes and a SHA-256 of the labels), so a ``data_dir`` spelled differently is fine
    but other data is not. Values that are not JSON (e.g. objects in ``backend_options``) are
    recorded by type name only. Passed to :class:`~hybridqml.training.TrainConfig` as
    ``run_config``.

    Args:
        config: A run config dataclass.
        data: The split the run trains and tests on.
        mutable: More fields that may change (the workflow's ``resume_mutable``).

    Returns:
        JSON-like settings (safe for ``torch.load(weights_only=True)``).

    Example:
        >>> from hybridqml.data import load_image_split
        >>> from hybridqml.runs import RunConfig
        >>> split = load_image_split(dataset="digits", data_dir=None, digits=[0, 1])
        >>> settings = resume_settings(RunConfig(out_dir="run", lr=0.001), split)
        >>> "epochs" in settings, settings["lr"]
        (False, 0.001)
        >>> settings["data"]["source"], settings["data"]["classes"]
        ('sklearn-digits', [0, 1])
    """
    settings = config_to_json(config)
    for dotted in RESUME_MUTABLE_FIELDS | mutable:
        *parents, leaf = dotted.split(".")
        node: Any = settings
        for parent in parents:
            node = node.get(parent) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    digest = hashlib.sha256()
    for part in (data.train, data.test):
        digest.update(part.tensors[1].to(torch.int64).contiguous().numpy().tobytes())
        digest.update(b"|")
    settings["data"] = {
        "source": data.info.source,
        "n_train": int(data.info.n_train),
        "n_test": int(data.info.n_test),
        "classes": [int(c) for c in data.info.classes],
        "labels_sha256": digest.hexdigest()[:16],
    }
    return settings


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


_ABSENT = object()


def check_resume(
    checkpoint: Checkpoint,
    *,
    epochs: int,
    seed: int,
    run_config: Mapping[str, Any] | None,
    path: Path,
) -> None:
    """Refuse a checkpoint made with another seed or other result-determining settings.

    Args:
        checkpoint: What the checkpoint holds (see :meth:`~hybridqml.runs.Checkpointer.load`).
        epochs: The total epochs of the resumed run (at least the checkpoint's).
        seed: The resumed run's seed.
        run_config: Its settings (:func:`resume_settings`); ``None``: only the seed is checked.
        path: The checkpoint file (for the messages).

    Raises:
        ConfigurationError: listing every difference, naming the file and the fix.
    """
    if checkpoint.epoch > epochs:
        raise ConfigurationError(
            f"cannot resume {str(path)!r} with epochs={epochs}: the run already has "
            f"{checkpoint.epoch} completed epochs, so nothing would be trained and the results "
            f"would not be those of a {epochs}-epoch run. Pass --epochs "
            f"{checkpoint.epoch} or more to report or extend it, or start a {epochs}-"
            "epoch run with --overwrite (overwrite=True) or in another output folder"
        )
    differences = []
    if checkpoint.seed is not None and checkpoint.seed != seed:
        differences.append(f"seed: checkpoint {checkpoint.seed!r}, now {seed!r}")
    if run_config is not None:
        if checkpoint.config is None:
            raise ConfigurationError(
                f"checkpoint {str(path)!r} records no run settings (it was written by an older "
                "hybridqml or without run_config), so resuming cannot check that they match: "
                "start a new run in another output folder (CLI: --out)"
            )
        seed_listed = bool(differences)
        for item in config_differences(checkpoint.config, run_config):
            if not (seed_listed and item.startswith("seed:")):
                differences.append(item)
    if differences:
        raise ConfigurationError(
            f"cannot resume from checkpoint {str(path)!r}: it was made with other settings that "
            f"change the results ({'; '.join(differences)}). Resume with the checkpoint's "
            "values, or start a new run with the new ones in another output folder (CLI: --out)"
        )


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
