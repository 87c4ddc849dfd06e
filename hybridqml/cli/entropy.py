"""``hybridqml entropy ...`` subcommands: ``sample`` (write bytes to a file) and ``test`` (report).

Registered by :mod:`hybridqml.cli` through :func:`add_parser`. The QRNG token is read only from the
environment variable ``HYBRIDQML_QRNG_TOKEN`` (never a command-line value, never printed).

Examples::

    hybridqml entropy sample --source aer --seed 1 --bytes 1048576 --out aer.bin
    hybridqml entropy test --source fake_manila --seed 1 --bytes 262144
    HYBRIDQML_QRNG_TOKEN=... hybridqml entropy test --source qrng --url https://host/entropy \
        --provider eaas --bytes 4096
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any, Final

from hybridqml._validation import positive_int
from hybridqml.entropy.conditioning import CONDITIONING_CHOICES
from hybridqml.entropy.pool import EntropyPool
from hybridqml.entropy.registry import SOURCES, SourceOptions, source_help, source_names
from hybridqml.entropy.registry import make_source as make_registered_source
from hybridqml.entropy.sources import EntropySource
from hybridqml.entropy.sources.qrng import PROVIDERS, TOKEN_ENV_VAR
from hybridqml.entropy.stats import DEFAULT_BLOCK_BITS, PASS_THRESHOLD, randomness_report
from hybridqml.exceptions import ConfigurationError, HealthTestError

__all__ = ["SOURCE_CHOICES", "add_parser", "make_source", "run_sample", "run_test"]

SOURCE_CHOICES: Final[tuple[str, ...]] = source_names()
"""Names ``--source`` accepts (``fake_<device>`` stands for any fake device), from the registry."""
DEFAULT_TEST_BYTES: Final[int] = 1 << 18
#: Command-line flag of each :class:`~hybridqml.entropy.registry.SourceOptions` field.
_FLAGS: Final[dict[str, str]] = {"qrng_url": "--url", "seed": "--seed", "qubits": "--qubits"}


def make_source(
    spec: str,
    *,
    seed: int | None = None,
    url: str | None = None,
    provider: str = "eaas",
    n_qubits: int | None = None,
) -> EntropySource:
    """Build a source from a command-line name (see :mod:`hybridqml.entropy.registry`).

    Args:
        spec: One of :data:`SOURCE_CHOICES` (``"fake_manila"`` for a fake device).
        seed: Seed for seeded sources (``aer``, ``fake_*``, ``prng``).
        url: QRNG endpoint (``qrng`` only); the token comes from ``$HYBRIDQML_QRNG_TOKEN``.
        provider: ``"eaas"`` or ``"anu"``.
        n_qubits: Qubits per shot for ``aer``/``fake_*``.

    Example:
        >>> make_source("prng", seed=3).kind
        'pseudo'
    """
    options = SourceOptions(seed=seed, qubits=n_qubits, qrng_url=url, qrng_provider=provider)
    return make_registered_source(spec, options, flags=_FLAGS)


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    seeded = ", ".join(entry.name for entry in SOURCES if entry.seeded)
    parser.add_argument("--source", required=True, help=source_help())
    parser.add_argument("--bytes", type=positive_int, required=True, dest="n_bytes")
    parser.add_argument("--seed", type=int, default=None, help=f"seed for {seeded}")
    parser.add_argument(
        "--url", default=None, help="QRNG endpoint (token from $" + TOKEN_ENV_VAR + ")"
    )
    parser.add_argument("--provider", choices=PROVIDERS, default="eaas")
    parser.add_argument("--qubits", type=positive_int, default=None, help="qubits per shot")
    parser.add_argument(
        "--no-health-tests", action="store_true", help="skip SP 800-90B health tests"
    )
    parser.add_argument("--conditioning", choices=CONDITIONING_CHOICES, default=None)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``entropy`` group (``sample``, ``test``) on a top-level ``subparsers``."""
    group = subparsers.add_parser("entropy", help="random bytes from entropy sources")
    commands = group.add_subparsers(dest="entropy_command", metavar="SUBCOMMAND", required=True)
    sample = commands.add_parser("sample", help="write N random bytes to a file")
    _add_source_arguments(sample)
    sample.add_argument("--out", required=True, help="output file ('-' for stdout)")
    sample.set_defaults(handler=run_sample)
    test = commands.add_parser("test", help="throughput, health tests and randomness statistics")
    _add_source_arguments(test)
    test.set_defaults(handler=run_test)
    return group


@dataclass(frozen=True)
class _Drawn:
    data: bytes
    seconds: float
    pool: EntropyPool


def _draw(args: argparse.Namespace) -> _Drawn:
    source = make_source(
        args.source, seed=args.seed, url=args.url, provider=args.provider, n_qubits=args.qubits
    )
    pool = EntropyPool(
        source, health_tests=not args.no_health_tests, conditioning=args.conditioning
    )
    try:
        start = time.perf_counter()
        data = pool.read(args.n_bytes)
        seconds = time.perf_counter() - start
    finally:
        pool.close()
        source.close()
    return _Drawn(data, seconds, pool)


def run_sample(args: argparse.Namespace) -> int:
    """``hybridqml entropy sample``: write the bytes, print provenance on stderr."""
    drawn = _draw(args)
    if args.out == "-":
        sys.stdout.buffer.write(drawn.data)
        sys.stdout.flush()
    else:
        try:
            with open(args.out, "wb") as handle:
                handle.write(drawn.data)
        except OSError as exc:
            raise ConfigurationError(f"cannot write {args.out}: {exc.strerror}") from exc
    prov = drawn.pool.provenance()
    print(
        f"wrote {len(drawn.data)} bytes from {prov.source_name} (kind {prov.kind}, "
        f"mode {prov.mode}, {prov.source_bytes} source bytes) to {args.out}",
        file=sys.stderr,
    )
    return 0


def run_test(args: argparse.Namespace) -> int:
    """``hybridqml entropy test``: print a report; exit 1 if a health test failed."""
    try:
        drawn = _draw(args)
    except HealthTestError as exc:
        print(f"health tests: FAILED: {exc}")
        return 1
    data, pool = drawn.data, drawn.pool
    prov = pool.provenance()
    rate = len(data) / drawn.seconds if drawn.seconds > 0 else float("inf")
    lines = [
        f"source:            {prov.source_name}",
        f"kind:              {prov.kind} (mode {prov.mode}, conditioning {prov.conditioning})",
        f"bytes:             {len(data)} delivered, {prov.source_bytes} read from the source "
        f"in {prov.requests} requests",
        f"throughput:        {rate / 1e6:.3f} MB/s ({drawn.seconds:.3f} s)",
    ]
    health = pool.health
    if health is None:
        lines.append("health tests:      skipped")
    else:
        lines.append(
            f"health tests:      passed (start-up + continuous; RCT cutoff {health.rct_cutoff}, "
            f"longest run {health.max_run}; APT cutoff {health.apt_cutoff}/{health.window}, "
            f"largest count {health.max_window_count}; H={health.claimed_entropy:g} bits/byte, "
            f"alpha=2^{_log2(health.alpha):g}; intermittent alarms {prov.health_alarms})"
        )
    if len(data) * 8 >= DEFAULT_BLOCK_BITS:
        report = randomness_report(data)
        lines += [
            f"MCV min-entropy:   {report.mcv_min_entropy:.4f} bits/byte",
            f"SP 800-22 monobit:         p = {report.monobit_p:.4f} {_verdict(report.monobit_p)}",
            f"SP 800-22 block-frequency: p = {report.block_frequency_p:.4f} "
            f"{_verdict(report.block_frequency_p)} (M = {DEFAULT_BLOCK_BITS})",
            f"SP 800-22 runs:            p = {report.runs_p:.4f} {_verdict(report.runs_p)}",
        ]
    else:
        lines.append(f"statistics:        skipped (need >= {DEFAULT_BLOCK_BITS // 8} bytes)")
    print("\n".join(lines))
    return 0


def _verdict(p: float) -> str:
    return "pass" if p >= PASS_THRESHOLD else "FAIL"


def _log2(x: float) -> float:
    import math

    return round(math.log2(x), 3)
