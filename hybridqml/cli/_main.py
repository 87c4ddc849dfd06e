"""The ``hybridqml`` command: a thin dispatcher over subcommand groups.

Each group lives in its own module and registers itself with ``add_parser(subparsers)``; the
parser it adds sets ``handler`` (a function ``args -> int``) via ``set_defaults``. To add a group
(for instance ``train`` or ``demo``), write a module such as ``hybridqml/cli/_train.py`` with
``add_parser`` and list it in :data:`COMMAND_GROUPS`.

Errors derived from :class:`~hybridqml.exceptions.HybridQMLError` print one line on stderr and exit
with status 1 (no traceback); bad usage exits with status 2 (argparse).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Final

from hybridqml._version import __version__
from hybridqml.exceptions import HybridQMLError

__all__ = ["COMMAND_GROUPS", "build_parser", "main"]

#: Modules providing ``add_parser(subparsers)``, one per subcommand group.
COMMAND_GROUPS: Final[tuple[str, ...]] = ("hybridqml.cli._entropy", "hybridqml.cli._train")

EXIT_ERROR: Final[int] = 1


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand group."""
    parser = argparse.ArgumentParser(
        prog="hybridqml", description="Hybrid quantum-classical machine learning tools."
    )
    parser.add_argument("--version", action="version", version=f"hybridqml {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_GROUPS:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hybridqml`` command line.

    Args:
        argv: Arguments without the program name; ``None`` uses ``sys.argv[1:]``.

    Returns:
        The process exit status.

    Example:
        >>> main(["entropy", "sample", "--source", "prng", "--seed", "1", "--bytes", "8",
        ...       "--out", "-"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for launchers (--nproc)
    try:
        return int(args.handler(args))
    except HybridQMLError as exc:
        print(f"hybridqml: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("hybridqml: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
