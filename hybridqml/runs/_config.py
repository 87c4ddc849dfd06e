"""The settings of a run: :class:`RunConfig` and the trait configs that extend it.

Every workflow config extends :class:`RunConfig` (the output folder, epochs, seed, batch size,
learning rate, resume/overwrite, progress bars, mid-epoch checkpoints) and, for each group of
shared settings it has (its *traits*), the config of that trait:

* ``"mnist"``: :class:`ImageRunConfig` (MNIST-like images: folder, download, dataset, cap);
* ``"quantum"``: :class:`QuantumRunConfig` (backend, shots, backend options, shot and QPU-time
  budgets);
* ``"entropy"``: :class:`EntropyRunConfig` (where random bytes come from).

They are frozen, keyword-only dataclasses; a workflow config adds its own fields and may give
the shared ones other defaults by declaring them again (``epochs: int = 20``). Each validates
its fields on construction (:class:`~hybridqml.exceptions.ConfigurationError` naming the
setting and its value).

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True, kw_only=True)
    ... class ToyConfig(QuantumRunConfig):
    ...     scale: float = 1.0
    >>> ToyConfig(out_dir="runs/toy", shots=100).shots
    100
    >>> ToyConfig(out_dir="runs/toy", lr=0.0)
    Traceback (most recent call last):
    ...
    hybridqml.exceptions.ConfigurationError: lr must be a finite number > 0, got 0.0
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from hybridqml._validation import check_finite
from hybridqml.exceptions import ConfigurationError

if TYPE_CHECKING:
    from hybridqml.entropy import EntropySettings

__all__ = [
    "RESUME_MUTABLE_FIELDS",
    "TRAIT_CONFIGS",
    "EntropyRunConfig",
    "ImageRunConfig",
    "QuantumRunConfig",
    "RunConfig",
    "check_budget",
    "check_checkpoint_every",
    "trait_fields",
]


RESUME_MUTABLE_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "epochs",  # the new total: resuming with more epochs extends the run
        "resume",  # the resume switch itself
        "overwrite",  # replace an earlier run in out_dir instead of refusing (never with resume)
        "progress",  # progress bars only
        "out_dir",  # where the checkpoint is (any spelling of the folder)
        "data_dir",  # any spelling; the data themselves are compared by fingerprint
        "download",  # only allows fetching missing files; the loaded data are fingerprinted
        "entropy.qrng_retries",  # how often a failed QRNG request is retried, not its bytes
        "checkpoint_every",  # how often the state is saved, not what it is
        "max_shots",  # budgets stop a run, they do not change its steps
        "max_qpu_seconds",
        "tensorboard_dir",  # where the run is logged, not what it computes
    }
)
"""Config fields (dotted for nested settings) any workflow's resumed run may change.

A workflow adds its own (:attr:`hybridqml.workflows.Workflow.resume_mutable`, e.g. the GAN's
``grid_every``).

Every other field of a workflow config affects the results and must be repeated unchanged
(seed, lr, batch size, dataset, digits, limit, validation fraction, backend, shots,
backend_options as a whole, noise settings, the whole entropy setting except the retry count,
GAN sizes and classifier epochs, ...); :func:`resume_settings` records them in every checkpoint.
"""


def check_budget(value: Any, name: str) -> Any:
    """``None`` or a positive number (an int for shots).

    Example:
        >>> check_budget(100, "max_shots"), check_budget(None, "max_qpu_seconds")
        (100, None)
    """
    if value is None:
        return None
    integral = name == "max_shots"
    ok = not isinstance(value, bool) and isinstance(value, int if integral else (int, float))
    if not ok or not value > 0 or value != value or value == float("inf"):
        kind = "a positive integer" if integral else "a positive, finite number of seconds"
        raise ConfigurationError(f"{name} must be {kind} or None, got {value!r}")
    return value


def check_checkpoint_every(value: Any) -> int | None:
    """``None`` (epoch-end checkpoints only) or a step count >= 1.

    Example:
        >>> check_checkpoint_every(10), check_checkpoint_every(None)
        (10, None)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"checkpoint_every must be a number of steps >= 1 or None, got {value!r}"
        )
    return value


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """What every run has: where it writes, how long it trains, how it resumes.

    Attributes:
        out_dir: Output folder (metrics.json, checkpoint.pt, PNGs, jobs.jsonl).
        epochs: Training epochs (when resuming: the new total).
        seed: Run seed (data order, initialisation, shots, seeded entropy).
        batch_size: Mini-batch size.
        lr: Learning rate (finite, > 0).
        resume: Continue from ``out_dir``'s checkpoint; every setting except those in
            :data:`~hybridqml.runs.RESUME_MUTABLE_FIELDS` must be unchanged (the entropy
            source included; a run that had switched to its fallback continues on it).
        overwrite: Replace an earlier run in ``out_dir`` (its files are deleted first); without
            it, and without ``resume``, a folder holding a run is refused (CLI: ``--overwrite``).
        progress: Show progress bars.
        checkpoint_every: Also checkpoint every this many steps inside an epoch (CLI
            ``--checkpoint-every``); resuming continues mid-epoch exactly.
        tensorboard_dir: Also log the run to TensorBoard in this folder (CLI ``--tensorboard``;
            needs the ``tensorboard`` extra; see :class:`~hybridqml.training.TensorBoardLogger`).
    """

    out_dir: str | os.PathLike[str]
    epochs: int = 10
    seed: int = 0
    batch_size: int = 32
    lr: float = 1e-3
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    checkpoint_every: int | None = None
    tensorboard_dir: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        _check_field_types(self)
        check_finite(self.lr, "lr", above=0.0)
        if self.batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.resume and self.overwrite:
            raise ConfigurationError("resume and overwrite exclude each other: choose one")
        check_checkpoint_every(self.checkpoint_every)


@dataclass(frozen=True, kw_only=True)
class ImageRunConfig(RunConfig):
    """A run on MNIST-like images (trait ``"mnist"``).

    Attributes:
        data_dir: MNIST folder (``dataset="mnist"``).
        download: Let torchvision download missing MNIST files into ``data_dir`` (needs network
            access; CLI: ``--download``).
        dataset: ``"mnist"`` or ``"digits"`` (scikit-learn 8x8 digits upscaled, offline).
        limit_per_class: Cap on training images per digit (test capped at a fifth of it).
    """

    data_dir: str | os.PathLike[str] | None = None
    download: bool = False
    dataset: str = "mnist"
    limit_per_class: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.limit_per_class is not None and self.limit_per_class < 1:
            raise ConfigurationError(f"limit_per_class must be >= 1, got {self.limit_per_class}")


@dataclass(frozen=True, kw_only=True)
class QuantumRunConfig(RunConfig):
    """A run with a quantum backend (trait ``"quantum"``).

    Attributes:
        backend: Quantum backend (``"aer"``, ``"fake_<device>"``, ``"ibm:<name>"``, ...).
        shots: Shots per circuit (``None``: exact).
        backend_options: Extra backend options, e.g. ``{"device": "GPU"}`` for GPU Aer.
        max_shots: Refuse to start above this many executed shots (estimated) and stop
            with a checkpoint before exceeding it (CLI ``--max-shots``).
        max_qpu_seconds: The same for estimated/reported QPU seconds (``--max-qpu-seconds``).
        mitigation: Error mitigation of the quantum layer: ``None``, ``"readout"``, ``"zne"``
            or ``"readout+zne"`` (CLI ``--mitigation``; see :mod:`hybridqml.mitigation`).
    """

    backend: str | Any = "aer"  # a name, or a BackendV2 / primitive instance
    shots: int | None = None
    backend_options: dict[str, Any] | None = None
    max_shots: int | None = None
    max_qpu_seconds: float | None = None
    mitigation: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_budget(self.max_shots, "max_shots")
        check_budget(self.max_qpu_seconds, "max_qpu_seconds")
        if self.mitigation is not None:
            from hybridqml.mitigation._options import as_mitigation

            label = as_mitigation(self.mitigation)
            object.__setattr__(self, "mitigation", None if label is None else label.label)

    def layer_options(self) -> dict[str, Any]:
        """The quantum-layer keyword arguments of the run (shots seeded with the run seed).

        The exact simulators ``"aer"`` and ``"torch"`` without shots get no seed (they would
        refuse it: nothing random to seed).

        Example:
            >>> QuantumRunConfig(out_dir="run", shots=100, seed=3).layer_options()
            {'backend': 'aer', 'shots': 100, 'seed': 3, 'backend_options': None}
            >>> QuantumRunConfig(out_dir="run", mitigation="zne").layer_options()["mitigation"]
            'zne'
        """
        exact = self.shots is None and self.backend in ("aer", "torch")
        options = {
            "backend": self.backend,
            "shots": self.shots,
            "seed": None if exact else self.seed,  # an exact simulator refuses a useless seed
            "backend_options": self.backend_options,
        }
        if self.mitigation is not None:
            options["mitigation"] = self.mitigation
        return options


_TYPE_CHECKS: Final[dict[str, Any]] = {
    "int": lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "None": lambda v: v is None,
    "os.PathLike": lambda v: isinstance(v, os.PathLike),
    "dict": lambda v: isinstance(v, Mapping),
    "tuple": lambda v: isinstance(v, tuple),
    "list": lambda v: isinstance(v, list),
}


def _check_field_types(config: Any) -> None:
    """Check each field against its annotation (``epochs="3"`` is refused, not a TypeError).

    Plain annotations are checked (``int``, ``float``, ``bool``, ``str``, ``None``, paths,
    ``dict``/``tuple``/``list`` and unions of them); a field annotated with anything else is
    left to the config's own checks.

    Example:
        >>> RunConfig(out_dir="run", epochs="3")
        Traceback (most recent call last):
        ...
        hybridqml.exceptions.ConfigurationError: epochs must be int, got '3' (a str)
    """
    for f in fields(config):
        annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        kinds = [part.strip().split("[")[0] for part in annotation.split("|")]
        if not kinds or any(kind not in _TYPE_CHECKS for kind in kinds):
            continue  # Any, EntropySettings, ...: not a plain type
        value = getattr(config, f.name)
        if not any(_TYPE_CHECKS[kind](value) for kind in kinds):
            raise ConfigurationError(
                f"{f.name} must be {annotation}, got {value!r} (a {type(value).__name__})"
            )


def _entropy_settings() -> EntropySettings:
    from hybridqml.entropy import EntropySettings  # loads torch: only when needed

    return EntropySettings()


@dataclass(frozen=True, kw_only=True)
class EntropyRunConfig(RunConfig):
    """A run drawing random bytes from an entropy source (trait ``"entropy"``).

    Attributes:
        entropy: Where the bytes come from (source, mode, fallback, QRNG settings).
    """

    entropy: EntropySettings = field(default_factory=_entropy_settings)


TRAIT_CONFIGS: Final = MappingProxyType(
    {"mnist": ImageRunConfig, "quantum": QuantumRunConfig, "entropy": EntropyRunConfig}
)
"""Trait name -> the config class holding that trait's shared settings."""


def trait_fields(trait: str) -> tuple[str, ...]:
    """Field names of a trait (``"run"``: those of :class:`RunConfig`), in declaration order.

    Example:
        >>> trait_fields("entropy")
        ('entropy',)
    """
    if trait == "run":
        return tuple(f.name for f in fields(RunConfig))
    run = set(trait_fields("run"))
    return tuple(f.name for f in fields(TRAIT_CONFIGS[trait]) if f.name not in run)
