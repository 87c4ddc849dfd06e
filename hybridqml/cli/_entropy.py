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
from hybridqml.entropy import EntropyPool, EntropySettings, make_source, source_names
from hybridqml.entropy._registry import lookup
from hybridqml.entropy._stats import DEFAULT_BLOCK_BITS, PASS_THRESHOLD, randomness_report
from hybridqml.exceptions import ConfigurationError, HealthTestError

__all__ = ["add_parser", "run_sample", "run_test"]

DEFAULT_TEST_BYTES: Final[int] = 1 << 18


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Entropy options (from :class:`~hybridqml.entropy.EntropySettings`), seed, byte count."""
    EntropySettings.add_arguments(parser, "entropy")
    seeded = ", ".join(name for name in source_names() if lookup(name)[1].seeded)
    parser.add_argument("--seed", type=int, default=None, help=f"seed for {seeded}")
    parser.add_argument("--bytes", type=positive_int, required=True, dest="n_bytes")


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
    settings = EntropySettings.from_args(args, "entropy")
    if args.seed is not None and not lookup(settings.source)[1].seeded:
        seeded = ", ".join(name for name in source_names() if lookup(name)[1].seeded)
        raise ConfigurationError(
            f"--seed is not used by source {settings.source!r} (its bytes cannot be "
            f"reproduced from a seed): drop --seed, or choose a seeded source ({seeded})"
        )
    source = make_source(settings.source, settings, seed=args.seed)
    pool = settings.open_pool(source)
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
