"""Every entropy option, declared once: :class:`EntropySettings`.

One frozen dataclass is the Python API (``EntropySettings(source="qrng", qrng_url=...)``), the
command-line flags of ``hybridqml entropy`` and ``hybridqml train`` (:meth:`~EntropySettings.\
add_arguments` generates them, :meth:`~EntropySettings.from_args` reads them back) and the record
in ``metrics.json`` (:meth:`~EntropySettings.to_record`). Each field's metadata is an
:class:`OptionSpec`: its help text, its flag on each command, its choices and argparse type, the
sources that read it, and whether a run always records it.

Adding an option is one field here; a source reads it in its factory (see
:class:`~hybridqml.entropy.SourceEntry`), and ``required=("field",)`` in the source's entry makes
it mandatory for that source.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> EntropySettings.add_arguments(parser, "train")
    >>> args = parser.parse_args(["--entropy", "prng", "--entropy-mode", "pure"])
    >>> EntropySettings.from_args(args, "train").to_record()["mode"]
    'pure'
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any, Final

from hybridqml._validation import positive_int, redact_url
from hybridqml.entropy._conditioning import CONDITIONING_CHOICES
from hybridqml.entropy._pool import EntropyPool
from hybridqml.entropy._registry import lookup, source_help, source_names
from hybridqml.entropy._sources.base import EntropySource
from hybridqml.entropy._sources.qrng.client import TOKEN_ENV_VAR
from hybridqml.entropy._sources.qrng.providers import PROVIDERS
from hybridqml.exceptions import ConfigurationError

__all__ = ["COMMANDS", "ENTROPY_MODES", "EntropySettings", "OptionSpec", "flag", "make_source"]

COMMANDS: Final[tuple[str, ...]] = ("entropy", "train")
"""Commands whose entropy flags are generated: ``hybridqml entropy ...`` and ``hybridqml train``."""
ENTROPY_MODES: Final[tuple[str, ...]] = ("pure", "expanded")
"""``pure``: every byte from the source; ``expanded``: a generator seeded from the source."""

Choices = tuple[str, ...] | Callable[[str], tuple[str, ...] | None] | None


@dataclass(frozen=True, kw_only=True)
class OptionSpec:
    """The metadata of one :class:`EntropySettings` field.

    Attributes:
        help: What the option does (``--help`` text; a callable gets the command).
        flags: The flag of each command offering the option (``{"entropy": "--url"}``). A
            boolean field defaulting to ``True`` gets a ``--no-...`` flag that turns it off.
        choices: Allowed values (checked by the dataclass and by argparse), or a callable
            ``command -> choices`` for the command line only.
        type: argparse type of the flag (default: ``str``).
        sources: Sources that read the option (named in ``--help``); ``()``: the pool or stream.
        recorded: Always in :meth:`EntropySettings.to_record`; ``False``: only when not default.
        command_defaults: Default on a command when it differs from the field's default.
        required_on: Commands on which the flag must be given.
    """

    help: str | Callable[[str], str]
    flags: Mapping[str, str] = field(default_factory=dict)
    choices: Choices = None
    type: Callable[[str], Any] | None = None
    sources: tuple[str, ...] = ()
    recorded: bool = True
    command_defaults: Mapping[str, Any] = field(default_factory=dict)
    required_on: frozenset[str] = frozenset()


def _option(default: Any, **spec: Any) -> Any:
    return field(default=default, metadata={"option": OptionSpec(**spec)})


def _spec(f: Field[Any]) -> OptionSpec:
    return f.metadata["option"]


@dataclass(frozen=True, kw_only=True)
class EntropySettings:
    """Which entropy source to draw from, and how (every option of every source and command).

    The defaults suit training runs (a workflow's :class:`~hybridqml.entropy.EntropyStream`);
    ``hybridqml entropy`` uses the QRNG client's own, longer, retry and timeout defaults.

    Attributes:
        source: A registered source name (:func:`~hybridqml.entropy.source_names`; workflows
            offer those with ``workflows=True``: ``aer``, ``os``, ``prng``, ``qrng``).
        mode: ``"pure"`` or ``"expanded"``.
        qrng_url: Endpoint of the QRNG service (``source="qrng"``; token from
            ``$HYBRIDQML_QRNG_TOKEN``).
        qrng_provider: ``"eaas"`` or ``"anu"``.
        qrng_retries: Retries per QRNG request (``None``: the client's default).
        qrng_timeout: QRNG ``(connect, read)`` seconds or one number (``None``: the client's).
        qrng_backoff_factor: QRNG backoff base in seconds (``None``: the client's default).
        fallback: Source a stream switches to if ``source`` fails (``None``: never, raise).
        health_tests: Run SP 800-90B health tests on the source bytes.
        qubits: Qubits per shot of a Hadamard source (``None``: the source's default).
        conditioning: ``None``, ``"von-neumann"`` or ``"sha256"`` on the source bytes.

    Example:
        >>> EntropySettings(source="prng", mode="pure").source
        'prng'
    """

    source: str = _option(
        "aer",
        help=lambda command: source_help(workflows=command == "train"),
        flags={"entropy": "--source", "train": "--entropy"},
        choices=lambda command: source_names(workflows=True) if command == "train" else None,
        required_on=frozenset({"entropy"}),
    )
    mode: str = _option(
        "expanded",
        help="pure: every byte from the source; expanded: a generator seeded from it",
        flags={"train": "--entropy-mode"},
        choices=ENTROPY_MODES,
        command_defaults={"entropy": "pure"},
    )
    qrng_url: str | None = _option(
        None,
        help=f"QRNG endpoint (token from ${TOKEN_ENV_VAR})",
        flags={"entropy": "--url", "train": "--qrng-url"},
        sources=("qrng",),
    )
    qrng_provider: str = _option(
        "eaas",
        help="QRNG service format",
        flags={"entropy": "--provider", "train": "--qrng-provider"},
        choices=PROVIDERS,
        sources=("qrng",),
    )
    qrng_retries: int | None = _option(
        2, help="retries per QRNG request", sources=("qrng",), command_defaults={"entropy": None}
    )
    qrng_timeout: float | tuple[float, float] | None = _option(
        (3.0, 30.0),
        help="QRNG (connect, read) timeouts in seconds",
        sources=("qrng",),
        recorded=False,
        command_defaults={"entropy": None},
    )
    qrng_backoff_factor: float | None = _option(
        0.2,
        help="QRNG backoff base in seconds",
        sources=("qrng",),
        recorded=False,
        command_defaults={"entropy": None},
    )
    fallback: str | None = _option(
        None,
        help="source to switch to if --entropy fails (default: none, stop with an error)",
        flags={"train": "--entropy-fallback"},
        choices=lambda command: source_names(workflows=True, fallback=True),
    )
    health_tests: bool = _option(
        True,
        help="run SP 800-90B health tests on the source bytes",
        flags={"entropy": "--no-health-tests"},
    )
    qubits: int | None = _option(
        None,
        help="qubits per shot",
        flags={"entropy": "--qubits"},
        type=positive_int,
        sources=("aer", "fake_<device>"),
        recorded=False,
    )
    conditioning: str | None = _option(
        None,
        help="conditioning of the source bytes",
        flags={"entropy": "--conditioning"},
        choices=CONDITIONING_CHOICES,
        recorded=False,
    )

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not _known(self.source):
            raise ConfigurationError(
                f"unknown entropy source {self.source!r}; choose one of {source_names()}"
            )
        for f in fields(self):
            choices, value = _spec(f).choices, getattr(self, f.name)
            if isinstance(choices, tuple) and value is not None and value not in choices:
                raise ConfigurationError(f"entropy {f.name} must be one of {choices}: {value!r}")
        if self.fallback is not None:
            fallbacks = source_names(workflows=True, fallback=True)
            if self.fallback not in fallbacks:
                raise ConfigurationError(
                    f"entropy fallback must be one of {fallbacks}, got {self.fallback!r}"
                )
            if self.fallback == self.source:
                raise ConfigurationError("the entropy fallback must differ from the source")
        retries = self.qrng_retries
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int)):
            raise ConfigurationError(f"qrng_retries must be an int >= 0: {retries!r}")
        if retries is not None and retries < 0:
            raise ConfigurationError(f"qrng_retries must be an int >= 0: {retries!r}")
        self.check_required(self.source)
        self._check_unused()

    def _check_unused(self) -> None:
        """Refuse an option set for a source that is not used (neither source nor fallback).

        ``EntropySettings(source="os", qrng_url=...)`` would silently ignore the URL.
        """
        used = {lookup(self.source)[0]}
        if self.fallback is not None:
            used.add(lookup(self.fallback)[0])
        for f in fields(self):
            spec = _spec(f)
            if not spec.sources or used & set(spec.sources):
                continue
            value = getattr(self, f.name)
            if any(value == default for default in (f.default, *spec.command_defaults.values())):
                continue
            flags = ", ".join(f"hybridqml {cmd} {flag}" for cmd, flag in spec.flags.items())
            raise ConfigurationError(
                f"entropy option {f.name}={value!r}"
                + (f" (CLI: {flags})" if flags else "")
                + f" is read only by the source(s) {', '.join(spec.sources)}, not by "
                f"{self.source!r}"
                + (f" nor its fallback {self.fallback!r}" if self.fallback else "")
                + ": drop it, or choose a source that uses it"
            )

    def check_required(self, name: str) -> None:
        """Check that these settings set every option the source ``name`` requires.

        Raises:
            ConfigurationError: Unknown name, or a required option is unset.

        Example:
            >>> EntropySettings().check_required("qrng")
            Traceback (most recent call last):
            ...
            hybridqml.exceptions.ConfigurationError: entropy source 'qrng' needs qrng_url \
(CLI: hybridqml entropy --url, hybridqml train --qrng-url)
        """
        for required in lookup(name)[1].required:
            if not getattr(self, required, None):
                flags = _field(required).metadata["option"].flags
                hint = ", ".join(f"hybridqml {cmd} {flag}" for cmd, flag in flags.items())
                hint = f" (CLI: {hint})" if hint else ""
                raise ConfigurationError(f"entropy source {name!r} needs {required}{hint}")

    def open_pool(self, source: EntropySource) -> EntropyPool:
        """An :class:`~hybridqml.entropy.EntropyPool` on ``source`` with these settings."""
        return EntropyPool(source, health_tests=self.health_tests, conditioning=self.conditioning)

    def to_record(self) -> dict[str, Any]:
        """The settings as ``metrics.json`` records them (QRNG URL without secrets).

        Fields with ``recorded=False`` appear only when they differ from their default.

        Example:
            >>> sorted(EntropySettings(source="os").to_record())
            ['fallback', 'health_tests', 'mode', 'qrng_provider', 'qrng_retries', 'qrng_url', \
'source']
        """
        record = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if _spec(f).recorded or getattr(self, f.name) != f.default
        }
        if record.get("qrng_url"):
            record["qrng_url"] = redact_url(record["qrng_url"])
        return record

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, command: str) -> None:
        """Add the flags ``command`` (one of :data:`COMMANDS`) offers to ``parser``."""
        for f in _offered(command):
            spec = _spec(f)
            flag_name, dest = spec.flags[command], _dest(f.name)
            text = spec.help(command) if callable(spec.help) else spec.help
            if spec.sources:
                text += f"; for {', '.join(spec.sources)}"
            if f.type in (bool, "bool") and f.default is True:
                parser.add_argument(
                    flag_name, dest=dest, action="store_false", help="do not " + text
                )
                continue
            choices = spec.choices(command) if callable(spec.choices) else spec.choices
            parser.add_argument(
                flag_name,
                dest=dest,
                type=spec.type,  # type: ignore[arg-type]  # None (no conversion) is fine
                choices=choices,
                metavar=None if choices else flag_name.lstrip("-").upper().replace("-", "_"),
                default=spec.command_defaults.get(command, f.default),
                required=command in spec.required_on,
                help=text,
            )

    @classmethod
    def from_args(cls, args: argparse.Namespace, command: str) -> EntropySettings:
        """The settings parsed by the flags :meth:`add_arguments` added for ``command``.

        Raises:
            ConfigurationError: The values are not valid settings.
        """
        offered = {f.name for f in _offered(command)}
        values = {
            f.name: getattr(args, _dest(f.name))
            if f.name in offered
            else _spec(f).command_defaults[command]
            for f in fields(cls)
            if f.name in offered or command in _spec(f).command_defaults
        }
        return cls(**values)


def _known(name: str) -> bool:
    try:
        lookup(name)
    except ConfigurationError:
        return False
    return True


def _offered(command: str) -> list[Field[Any]]:
    if command not in COMMANDS:
        raise ConfigurationError(f"command must be one of {COMMANDS}, got {command!r}")
    return [f for f in fields(EntropySettings) if command in _spec(f).flags]


def _dest(name: str) -> str:
    return f"entropy_{name}"


def _field(name: str) -> Field[Any]:
    return EntropySettings.__dataclass_fields__[name]


def flag(name: str, command: str = "train") -> str:
    """The flag of the field ``name`` on ``command`` (for messages).

    Example:
        >>> flag("fallback")
        '--entropy-fallback'
    """
    return _spec(_field(name)).flags.get(command, name)


def make_source(
    name: str, settings: EntropySettings | None = None, *, seed: int | None = None
) -> EntropySource:
    """Build the source selected by ``name`` (a registered name, see ``source_names()``).

    Args:
        name: Source name (``"fake_manila"`` for a fake device).
        settings: The options the source reads (default: all defaults). Its ``source`` field is
            not used: ``name`` selects the source.
        seed: Seed of a seeded source (``None``: drawn from the OS, not reproducible).

    Raises:
        ConfigurationError: Unknown name, or an option the source requires is missing.
        EntropyError: The source cannot be set up (e.g. a circuit that does not transpile).
        BackendError: Unknown fake device, or a missing optional package.

    Example:
        >>> make_source("prng", seed=3).kind
        'pseudo'
    """
    _, entry = lookup(name)
    settings = EntropySettings() if settings is None else settings
    settings.check_required(name)
    return entry.factory(settings, name=name, seed=seed)
