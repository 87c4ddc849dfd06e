"""Pieces shared by the workflows: entropy streams per epoch, output folders, run settings.

The image loading (:func:`load_image_split`, :data:`DATASET_CHOICES`, :data:`MNIST_HELP`)
lives in :mod:`hybridqml.data.images` and is re-exported here.

:class:`EntropyStream` is the workflows' link to :mod:`hybridqml.entropy`: it opens an
:class:`~hybridqml.entropy.EntropyPool` on the configured source (``aer``, ``qrng``, ``os`` or
``prng``) for every epoch, in ``pure`` mode (every delivered byte read from the source) or
``expanded`` mode (a generator seeded and reseeded from the pool). Seedable sources (``aer``,
``prng``) get the seed :func:`~hybridqml.training.epoch_seed` ``(seed, epoch)``, so the bytes of an
epoch do not depend on what ran before and a resumed run reproduces an uninterrupted one; ``os``
and ``qrng`` bytes are fresh by nature, so resuming with them continues the run but cannot repeat
the noise bit for bit. The stream never silently changes source: a failing source raises (a
:class:`~hybridqml.exceptions.QRNGError` for the QRNG) unless ``fallback`` names another source,
in which case the switch is warned about and recorded in the provenance.

Resuming never changes the source either. Every checkpoint records the run's settings
(:func:`resume_settings`: the whole config except :data:`RESUME_MUTABLE_FIELDS`, plus a
fingerprint of the data), and :func:`~hybridqml.training.run_epochs` refuses to resume with other
values, listing each difference; the stream's own state also records its source and mode and
is refused by a stream with other settings. A run that had switched to its requested fallback
continues on the fallback when resumed with the same settings (it does not retry the failed
source, just as the uninterrupted run would not have).
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch

from hybridqml._validation import epoch_seed, redact_url
from hybridqml.data import DATASET_CHOICES, MNIST_HELP, DatasetSplit, load_image_split
from hybridqml.entropy import AerHadamardSource, EntropyPool, OSSource, PRNGSource, QRNGSource
from hybridqml.exceptions import ConfigurationError, EntropyError

__all__ = [
    "DATASET_CHOICES",
    "ENTROPY_CHOICES",
    "ENTROPY_MODES",
    "MNIST_HELP",
    "RESUME_MUTABLE_FIELDS",
    "EntropySettings",
    "EntropyStream",
    "check_run_settings",
    "config_to_json",
    "load_image_split",
    "prepare_out_dir",
    "resume_settings",
    "write_classifier_outputs",
]

ENTROPY_CHOICES: Final[tuple[str, ...]] = ("aer", "qrng", "os", "prng")
"""Entropy sources a workflow can draw noise or latent vectors from."""
ENTROPY_MODES: Final[tuple[str, ...]] = ("pure", "expanded")
"""``pure``: every byte from the source; ``expanded``: a generator seeded from the source."""
RESUME_MUTABLE_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "epochs",  # the new total: resuming with more epochs extends the run
        "resume",  # the resume switch itself
        "progress",  # progress bars only
        "out_dir",  # where the checkpoint is (any spelling of the folder)
        "data_dir",  # any spelling; the data themselves are compared by fingerprint
        "download",  # only allows fetching missing files; the loaded data are fingerprinted
        "grid_every",  # gan: which epochs save an image grid PNG; no number depends on it
        "entropy.qrng_retries",  # how often a failed QRNG request is retried, not its bytes
    }
)
"""Config fields (dotted for nested settings) that may change when a run resumes.

Every other field of a workflow config affects the results and must be repeated unchanged
(seed, lr, batch size, dataset, digits, limit, validation fraction, backend, shots,
backend_options as a whole, noise settings, the whole entropy setting except the retry count,
GAN sizes and classifier epochs, ...); :func:`resume_settings` records them in every checkpoint.
"""


@dataclass(frozen=True, kw_only=True)
class EntropySettings:
    """Which entropy source a workflow draws from, and how.

    Attributes:
        source: ``"aer"`` (Hadamard bits measured on Aer: simulated quantum, seeded), ``"qrng"``
            (HTTP QRNG at ``qrng_url``; token from ``$HYBRIDQML_QRNG_TOKEN``), ``"os"`` or
            ``"prng"`` (seeded PCG64DXSM).
        mode: ``"pure"`` or ``"expanded"``.
        qrng_url: Endpoint of the QRNG service (``source="qrng"`` only).
        qrng_provider: ``"eaas"`` or ``"anu"``.
        qrng_retries: Retries per QRNG request before giving up.
        fallback: Source to switch to if ``source`` fails (``None``: never switch, raise).
        health_tests: Run SP 800-90B health tests on the source bytes.

    Example:
        >>> EntropySettings(source="prng", mode="pure").source
        'prng'
    """

    source: str = "aer"
    mode: str = "expanded"
    qrng_url: str | None = None
    qrng_provider: str = "eaas"
    qrng_retries: int = 2
    fallback: str | None = None
    health_tests: bool = True

    def __post_init__(self) -> None:
        if self.source not in ENTROPY_CHOICES:
            raise ConfigurationError(
                f"unknown entropy source {self.source!r}; choose one of {ENTROPY_CHOICES}"
            )
        if self.mode not in ENTROPY_MODES:
            raise ConfigurationError(f"entropy mode must be one of {ENTROPY_MODES}: {self.mode!r}")
        if self.fallback is not None:
            if self.fallback not in ENTROPY_CHOICES or self.fallback == "qrng":
                raise ConfigurationError(
                    f"entropy fallback must be 'aer', 'os' or 'prng', got {self.fallback!r}"
                )
            if self.fallback == self.source:
                raise ConfigurationError("the entropy fallback must differ from the source")
        if self.source == "qrng" and not self.qrng_url:
            raise ConfigurationError("entropy source 'qrng' needs qrng_url (CLI: --qrng-url)")
        if not isinstance(self.qrng_retries, int) or self.qrng_retries < 0:
            raise ConfigurationError(f"qrng_retries must be an int >= 0: {self.qrng_retries!r}")


class EntropyStream:
    """Per-epoch entropy for a workflow: ``read(n)`` bytes, checkpointable, honest provenance.

    Once the requested fallback has replaced a failed source, the rest of the run (including a
    resumed run: the switch is part of the checkpointed state) draws from the fallback.

    Args:
        settings: Source, mode and fallback.
        seed: Run seed; seedable sources use :func:`~hybridqml.training.epoch_seed` of it.

    Example:
        >>> stream = EntropyStream(settings=EntropySettings(source="prng", mode="pure"), seed=1)
        >>> stream.open_epoch(1); len(stream.read(8))
        8
        >>> stream.provenance()["kind"]
        'pseudo'
        >>> stream.close()
    """

    def __init__(self, *, settings: EntropySettings, seed: int) -> None:
        self.settings = settings
        self.seed = int(seed)
        self.epoch: int | None = None
        self.active_source = settings.source
        self.fallback_used = False
        self.fallback_reason: str | None = None
        self._source: Any = None
        self._pool: EntropyPool | None = None
        self._reader: Any = None
        self._totals = {"source_bytes": 0, "delivered_bytes": 0}
        self._kind = ""
        self._name = ""

    @property
    def name(self) -> str:
        """Name of the current source (no credentials)."""
        return self._name or self.settings.source

    @property
    def kind(self) -> str:
        """Honest kind of the current source (``"simulated-quantum"``, ``"quantum"``, ...)."""
        return self._kind

    def open_epoch(self, epoch: int) -> None:
        """Close the current pool and open a fresh one for ``epoch`` (seeded sources reseeded)."""
        self._close_current()
        self.epoch = int(epoch)
        self._open(self.active_source)

    def read(self, n: int) -> bytes:
        """Return ``n`` fresh bytes (each delivered once).

        Raises:
            EntropyError: The source failed (``QRNGError`` for the QRNG) and no fallback was
                requested.
        """
        if self._reader is None:
            self.open_epoch(1 if self.epoch is None else self.epoch)
        try:
            return self._reader.read(n)
        except EntropyError as exc:
            fallback = self.settings.fallback
            if fallback is None or self.fallback_used:
                raise type(exc)(
                    f"{exc} [entropy source {self.active_source!r} failed; no fallback source "
                    "was requested (CLI: --entropy-fallback os|prng|aer), so the run stops "
                    "rather than silently using other random numbers]"
                ) from exc
            warnings.warn(
                f"entropy source {self.active_source!r} failed ({exc}); switching to the "
                f"requested fallback {fallback!r} (recorded in the provenance)",
                RuntimeWarning,
                stacklevel=2,
            )
            self.fallback_used, self.fallback_reason = True, str(exc)
            self._close_current()
            self.active_source = fallback
            self._open(fallback)
            return self._reader.read(n)

    def provenance(self) -> dict[str, Any]:
        """Accounting over the whole run so far, for ``metrics.json``."""
        totals = dict(self._totals)
        if self._reader is not None:
            prov = self._reader.provenance()
            totals["source_bytes"] += prov.source_bytes
            totals["delivered_bytes"] += prov.delivered_bytes
        delivered = totals["delivered_bytes"]
        ratio = totals["source_bytes"] / delivered if delivered else None
        return {
            "source": self.settings.source,
            "active_source": self.active_source,
            "name": self.name,
            "kind": self.kind,
            "mode": self.settings.mode,
            "seeded": self.active_source in ("aer", "prng"),
            "health_tests": self.settings.health_tests,
            "source_bytes": totals["source_bytes"],
            "delivered_bytes": totals["delivered_bytes"],
            "source_to_delivered": ratio,
            "fallback": self.settings.fallback,
            "fallback_used": self.fallback_used,
            "fallback_reason": self.fallback_reason,
        }

    def state_dict(self) -> dict[str, Any]:
        """Epoch, sources, fallback and byte totals (the bytes themselves are never stored)."""
        prov = self.provenance()
        return {
            "epoch": -1 if self.epoch is None else self.epoch,
            "source": self.settings.source,
            "mode": self.settings.mode,
            "active_source": self.active_source,
            "fallback_used": self.fallback_used,
            "fallback_reason": self.fallback_reason,
            "source_bytes": prov["source_bytes"],
            "delivered_bytes": prov["delivered_bytes"],
        }

    def load_state_dict(self, state: dict[str, Any], /) -> None:
        """Restore the accounting and reopen the source at the stored epoch.

        The state must come from a stream with the same source and mode. If that stream had
        switched to its fallback, this one continues on the fallback, which must therefore be
        this stream's fallback too.

        Raises:
            ConfigurationError: The state was recorded with another source, mode or fallback.
        """
        settings = self.settings
        for key, flag in (("source", "--entropy"), ("mode", "--entropy-mode")):
            recorded = state.get(key, getattr(settings, key))
            if recorded != getattr(settings, key):
                raise ConfigurationError(
                    f"the checkpointed entropy stream used {key} {recorded!r}, this run asks "
                    f"for {getattr(settings, key)!r}: resume with {key}={recorded!r} "
                    f"(CLI: {flag} {recorded}) or start a new run in another output folder"
                )
        active = str(state["active_source"])
        fallback_used = bool(state["fallback_used"])
        if active != settings.source and not fallback_used:
            raise ConfigurationError(
                f"the checkpointed entropy stream drew from {active!r}, this run asks for "
                f"{settings.source!r}: resume with source={active!r} (CLI: --entropy {active}) "
                "or start a new run in another output folder"
            )
        if active != settings.source and active != settings.fallback:
            raise ConfigurationError(
                f"the checkpointed run had switched from entropy source {settings.source!r} to "
                f"its requested fallback {active!r} and continues on it when resumed, but this "
                f"run's fallback is {settings.fallback!r}: resume with fallback={active!r} "
                f"(CLI: --entropy-fallback {active}) or start a new run in another output folder"
            )
        self._close_current()
        self._totals = {
            "source_bytes": int(state["source_bytes"]),
            "delivered_bytes": int(state["delivered_bytes"]),
        }
        self.active_source = active
        self.fallback_used = fallback_used
        reason = state.get("fallback_reason")
        self.fallback_reason = None if reason is None else str(reason)
        self.epoch = None if int(state["epoch"]) < 0 else int(state["epoch"])
        if self.epoch is not None:
            self._open(self.active_source)

    def close(self) -> None:
        """Close the current pool and source."""
        self._close_current()

    # ------------------------------------------------------------------ internals
    def _open(self, name: str) -> None:
        epoch = 0 if self.epoch is None else self.epoch
        seed = epoch_seed(self.seed, epoch)
        if name == "aer":
            source: Any = AerHadamardSource(seed=seed)
        elif name == "prng":
            source = PRNGSource(seed)
        elif name == "os":
            source = OSSource()
        else:
            source = QRNGSource(
                self.settings.qrng_url,  # type: ignore[arg-type]
                None,
                provider=self.settings.qrng_provider,  # type: ignore[arg-type]
                max_retries=self.settings.qrng_retries,
                backoff_factor=0.2,
                timeout=(3.0, 30.0),
            )
        self._source = source
        self._pool = EntropyPool(source, health_tests=self.settings.health_tests)
        self._reader = self._pool.generator() if self.settings.mode == "expanded" else self._pool
        raw_name = str(getattr(self._reader, "name", type(source).__name__))
        name = re.sub(r",? seed=\d+", "", raw_name)  # the per-epoch seed is an internal detail
        if name != raw_name:
            name += f" [seeded per epoch from run seed {self.seed}]"
        self._name = name
        self._kind = str(getattr(source, "kind", ""))

    def _close_current(self) -> None:
        if self._reader is not None:
            prov = self._reader.provenance()
            self._totals["source_bytes"] += prov.source_bytes
            self._totals["delivered_bytes"] += prov.delivered_bytes
        if self._pool is not None:
            self._pool.close()
        if self._source is not None:
            self._source.close()
        self._source = self._pool = self._reader = None


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create the output folder (and parents) and return it.

    Raises:
        ConfigurationError: ``out_dir`` exists and is not a folder, or cannot be created.

    Example:
        >>> import tempfile
        >>> prepare_out_dir(Path(tempfile.mkdtemp()) / "run").is_dir()
        True
    """
    path = Path(out_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigurationError(f"output folder {str(path)!r} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot create output folder {str(path)!r}: {exc}") from exc
    return path


def write_classifier_outputs(
    *,
    out_dir: Path,
    fit: Any,
    seed: int,
    extra: dict[str, Any],
    title: str,
    class_names: Sequence[str],
) -> tuple[Path, ...]:
    """Rewrite ``metrics.json`` with the run's extra keys and draw curves + confusion matrix.

    Args:
        out_dir: Output folder.
        fit: The :class:`~hybridqml.training.FitResult`.
        seed: Run seed.
        extra: More JSON values (configuration, data source, provenance).
        title: Plot title.
        class_names: Confusion-matrix tick labels.

    Returns:
        The PNG paths written.
    """
    from hybridqml.plotting import plot_confusion_matrix, plot_history
    from hybridqml.training import METRICS_NAME, write_metrics

    write_metrics(
        out_dir / METRICS_NAME,
        history=fit.history,
        seed=seed,
        extra={
            "selection": fit.selection,
            f"best_{'val' if fit.selection == 'validation' else 'test'}_accuracy": (
                fit.best_accuracy
            ),
            "best_epoch": fit.best_epoch,
            "selected_test_accuracy": fit.selected_test_accuracy,
            "confusion_matrix": fit.evaluation.confusion_matrix.tolist(),
            **extra,
        },
    )
    curves = plot_history(
        fit.history, out_dir / "curves.png", metrics=_curve_metrics(fit.history), title=title
    )
    matrix = plot_confusion_matrix(
        fit.evaluation.confusion_matrix,
        out_dir / "confusion_matrix.png",
        class_names=list(class_names),
        title=f"{title}: test set",
    )
    return (curves, matrix)


def _curve_metrics(history: Sequence[dict[str, float]]) -> list[str]:
    names = ("loss", "val_loss", "test_loss", "accuracy", "val_accuracy", "test_accuracy")
    return [n for n in names if history and n in history[0]]


def check_run_settings(config: Any) -> None:
    """Validate the settings every workflow config shares (those it has).

    ``lr > 0``, ``batch_size >= 1``, ``limit_per_class`` ``None`` or ``>= 1`` and
    ``validation_fraction`` in (0, 1).

    Raises:
        ConfigurationError: naming the setting and its value.

    Example:
        >>> from types import SimpleNamespace
        >>> check_run_settings(SimpleNamespace(lr=0.0))
        Traceback (most recent call last):
        ...
        hybridqml.exceptions.ConfigurationError: lr must be > 0, got 0.0
    """
    lr = getattr(config, "lr", None)
    if lr is not None and not lr > 0:
        raise ConfigurationError(f"lr must be > 0, got {lr}")
    batch_size = getattr(config, "batch_size", None)
    if batch_size is not None and batch_size < 1:
        raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
    limit = getattr(config, "limit_per_class", None)
    if limit is not None and limit < 1:
        raise ConfigurationError(f"limit_per_class must be >= 1, got {limit}")
    fraction = getattr(config, "validation_fraction", None)
    if fraction is not None and not 0.0 < fraction < 1.0:
        raise ConfigurationError(f"validation_fraction must be in (0, 1), got {fraction}")


def config_to_json(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON-ready values (paths as strings, nested dataclasses as dicts).

    QRNG URLs keep only scheme, host and path (a query string or user part may hold secrets).
    Values JSON cannot hold (e.g. a ``NoiseModel`` in ``backend_options``) become their type
    name, so ``metrics.json`` can always be written.

    Example:
        >>> config_to_json(EntropySettings(source="os"))["source"]
        'os'
    """
    from dataclasses import asdict

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

    return _jsonable(convert(asdict(config)))


def resume_settings(config: Any, data: DatasetSplit) -> dict[str, Any]:
    """What a workflow's checkpoint records and a resumed run must repeat.

    :func:`config_to_json` of ``config`` without :data:`RESUME_MUTABLE_FIELDS`, plus ``data``: a
    fingerprint of the loaded split (source, sizes, classes and a SHA-256 of the labels), so a
    ``data_dir`` spelled differently is fine but other data is not. Values that are not JSON
    (e.g. objects in ``backend_options``) are recorded by type name only. Passed to
    :class:`~hybridqml.training.TrainConfig` as ``run_config``.

    Args:
        config: A workflow config dataclass.
        data: The split the run trains and tests on.

    Returns:
        JSON-like settings (safe for ``torch.load(weights_only=True)``).

    Example:
        >>> from hybridqml.models.noisy_mlp import NoisyMLPConfig
        >>> split = load_image_split(dataset="digits", data_dir=None, digits=[0, 1])
        >>> settings = resume_settings(NoisyMLPConfig(out_dir="run", dataset="digits"), split)
        >>> "epochs" in settings, "qrng_retries" in settings["entropy"], settings["lr"]
        (False, False, 0.001)
        >>> settings["data"]["source"], settings["data"]["classes"]
        ('sklearn-digits', [0, 1])
    """
    settings = config_to_json(config)
    for dotted in RESUME_MUTABLE_FIELDS:
        *parents, leaf = dotted.split(".")
        node = settings
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
