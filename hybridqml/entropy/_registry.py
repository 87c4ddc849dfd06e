"""The one map from a source name to an entropy source.

Every place that selects a source by name (the ``hybridqml entropy`` command, a workflow's
:class:`~hybridqml.entropy.stream.EntropySettings` and
:class:`~hybridqml.entropy.stream.EntropyStream`) looks the name up here. An entry says how to
build the source from one :class:`SourceOptions`, and what callers need to know about it:

* ``seeded``: the bytes are reproducible from ``options.seed`` (``aer``, ``fake_<device>``,
  ``prng``); a stream reseeds such a source per epoch and records ``seeded`` in its provenance;
* ``fallback``: the source may replace a failed one (local sources that need no service);
* ``workflows``: workflows offer it as ``--entropy`` (fake devices are for the entropy command);
* ``required``: options that must be set (``qrng`` needs ``qrng_url``).

Adding a source selectable by name is one module under :mod:`hybridqml.entropy.sources` and one
:class:`SourceEntry` in :data:`SOURCES`.

Example:
    >>> make_source("prng", SourceOptions(seed=3)).kind
    'pseudo'
    >>> lookup("fake_manila").name, lookup("prng").seeded
    ('fake_<device>', True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Final

from hybridqml.entropy.sources import (
    AerHadamardSource,
    EntropySource,
    OSSource,
    PRNGSource,
    QRNGSource,
)
from hybridqml.exceptions import ConfigurationError

__all__ = [
    "SOURCES",
    "SourceEntry",
    "SourceOptions",
    "check_required",
    "is_seeded",
    "lookup",
    "make_source",
    "source_help",
    "source_names",
]


@dataclass(frozen=True, kw_only=True)
class SourceOptions:
    """Everything a source factory may use; each source takes the fields it needs.

    Attributes:
        seed: Seed of a seeded source (``None``: drawn from the OS, not reproducible).
        qubits: Qubits per shot of a Hadamard source (``None``: the source's default).
        device: Fake device name (``"fake_manila"``); set from the source name by
            :func:`make_source` for prefix entries.
        qrng_url: QRNG endpoint.
        qrng_provider: ``"eaas"`` or ``"anu"``.
        qrng_token: QRNG token (``None``: from ``$HYBRIDQML_QRNG_TOKEN``).
        qrng_retries: Retries per QRNG request (``None``: the client's default).
        qrng_timeout: ``(connect, read)`` seconds or one number (``None``: the client's default).
        qrng_backoff_factor: Backoff base in seconds (``None``: the client's default).

    Example:
        >>> SourceOptions(seed=1).qrng_provider
        'eaas'
    """

    seed: int | None = None
    qubits: int | None = None
    device: str | None = None
    qrng_url: str | None = None
    qrng_provider: str = "eaas"
    qrng_token: str | None = None
    qrng_retries: int | None = None
    qrng_timeout: float | tuple[float, float] | None = None
    qrng_backoff_factor: float | None = None


@dataclass(frozen=True, kw_only=True)
class SourceEntry:
    """One selectable source.

    Attributes:
        name: The name users type; for a prefix entry, its pattern (``"fake_<device>"``).
        factory: Builds the source from :class:`SourceOptions`.
        help: One line for ``--help``.
        seeded: Reproducible from ``options.seed``.
        fallback: May replace a failed source.
        workflows: Offered to workflows.
        prefix: Names starting with this select the entry (``"fake_"``); ``None``: exact name.
        required: :class:`SourceOptions` fields that must be set.
    """

    name: str
    factory: Callable[[SourceOptions], EntropySource]
    help: str
    seeded: bool
    fallback: bool
    workflows: bool
    prefix: str | None = None
    required: tuple[str, ...] = ()


def _hadamard(options: SourceOptions) -> EntropySource:
    backend = None
    if options.device is not None:
        from hybridqml.backends.devices import fake_device

        backend = fake_device(options.device)
    return AerHadamardSource(n_qubits=options.qubits, backend=backend, seed=options.seed)


def _qrng(options: SourceOptions) -> EntropySource:
    tuning = {
        "max_retries": options.qrng_retries,
        "timeout": options.qrng_timeout,
        "backoff_factor": options.qrng_backoff_factor,
    }
    return QRNGSource(
        options.qrng_url,  # type: ignore[arg-type]
        options.qrng_token,
        provider=options.qrng_provider,  # type: ignore[arg-type]
        **{key: value for key, value in tuning.items() if value is not None},  # type: ignore[arg-type]
    )


SOURCES: Final[tuple[SourceEntry, ...]] = (
    SourceEntry(
        name="aer",
        factory=_hadamard,
        help="Hadamard bits measured on Aer (simulated quantum, seeded)",
        seeded=True,
        fallback=True,
        workflows=True,
    ),
    SourceEntry(
        name="fake_<device>",
        factory=_hadamard,
        help="Hadamard bits on a fake IBM device, e.g. fake_manila (readout-biased, seeded)",
        seeded=True,
        fallback=False,
        workflows=False,
        prefix="fake_",
    ),
    SourceEntry(
        name="os",
        factory=lambda options: OSSource(),
        help="the operating system CSPRNG",
        seeded=False,
        fallback=True,
        workflows=True,
    ),
    SourceEntry(
        name="prng",
        factory=lambda options: PRNGSource(options.seed),
        help="seeded PCG64DXSM (reproducible baseline)",
        seeded=True,
        fallback=True,
        workflows=True,
    ),
    SourceEntry(
        name="qrng",
        factory=_qrng,
        help="an HTTP QRNG service (token from $HYBRIDQML_QRNG_TOKEN)",
        seeded=False,
        fallback=False,
        workflows=True,
        required=("qrng_url",),
    ),
)
"""Every source selectable by name, in the order help texts list them."""


def source_names(*, workflows: bool = False, fallback: bool = False) -> tuple[str, ...]:
    """Names (patterns for prefix entries) of the sources, optionally only some of them.

    Args:
        workflows: Only sources workflows offer.
        fallback: Only sources that may replace a failed one.

    Example:
        >>> source_names(fallback=True)
        ('aer', 'os', 'prng')
    """
    return tuple(
        entry.name
        for entry in SOURCES
        if (entry.workflows or not workflows) and (entry.fallback or not fallback)
    )


def lookup(name: str) -> SourceEntry:
    """The entry selected by ``name`` (an exact name, or a prefix entry's prefix + anything).

    Raises:
        ConfigurationError: No entry matches.
    """
    for entry in SOURCES:
        if entry.prefix is None and name == entry.name:
            return entry
        if entry.prefix is not None and isinstance(name, str) and name.startswith(entry.prefix):
            return entry
    raise ConfigurationError(f"unknown source {name!r}; choose one of {', '.join(source_names())}")


def is_seeded(name: str) -> bool:
    """``True`` if the source ``name`` is reproducible from a seed.

    Example:
        >>> is_seeded("aer"), is_seeded("os")
        (True, False)
    """
    return lookup(name).seeded


def check_required(
    name: str, values: object, *, flags: Mapping[str, str] | None = None, what: str = "source"
) -> None:
    """Check that ``values`` sets every option the source ``name`` requires.

    Args:
        name: Source name.
        values: A :class:`SourceOptions`, or any object with attributes of the same names
            (such as :class:`~hybridqml.entropy.stream.EntropySettings`).
        flags: Command-line flag of each option, named in the message.
        what: How the message names the source.

    Raises:
        ConfigurationError: Unknown name, or a required option is unset.

    Example:
        >>> check_required("qrng", SourceOptions(), flags={"qrng_url": "--url"})
        Traceback (most recent call last):
        ...
        hybridqml.exceptions.ConfigurationError: source 'qrng' needs qrng_url (CLI: --url)
    """
    for field in lookup(name).required:
        if not getattr(values, field, None):
            flag = (flags or {}).get(field)
            hint = f" (CLI: {flag})" if flag else ""
            raise ConfigurationError(f"{what} {name!r} needs {field}{hint}")


def make_source(
    name: str, options: SourceOptions | None = None, *, flags: Mapping[str, str] | None = None
) -> EntropySource:
    """Build the source selected by ``name`` from ``options``.

    Args:
        name: Source name (:func:`source_names`; ``"fake_manila"`` for a fake device).
        options: What the source needs (default: all defaults).
        flags: Command-line flag of each option, for the message about a missing one.

    Raises:
        ConfigurationError: Unknown name, or an option the source requires is missing.
        EntropyError: The source cannot be set up (e.g. a circuit that does not transpile).
        BackendError: Unknown fake device, or a missing optional package.
    """
    entry = lookup(name)
    options = SourceOptions() if options is None else options
    check_required(name, options, flags=flags)
    if entry.prefix is not None:
        options = replace(options, device=name)
    return entry.factory(options)


def source_help(*, workflows: bool = False) -> str:
    """``name: help; ...`` for a ``--help`` line.

    Example:
        >>> source_help().split("; ")[0]
        'aer: Hadamard bits measured on Aer (simulated quantum, seeded)'
    """
    return "; ".join(
        f"{entry.name}: {entry.help}" for entry in SOURCES if entry.workflows or not workflows
    )
