"""``hybridqml train ... --nproc N``: launch ``N`` ranks on this machine through ``torchrun``.

The launcher re-runs the same command without ``--nproc`` under ``torch.distributed.run`` with a
rendezvous on ``127.0.0.1`` (a free port, no network), ``N`` processes, and
``OMP_NUM_THREADS = cores // N`` unless already set (Aer's and torch's thread pools then share
the cores instead of oversubscribing them). Each rank joins the process group through
:func:`~hybridqml.training.init_distributed` in :func:`distributed_run`, after binding its life
to the launcher's (``_lifeline``: killing the launcher, even with ``SIGKILL``, kills its ranks,
so none is left training and holding the run lock).

Many nodes use ``torchrun`` directly with its usual rendezvous flags::

    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d \
        --rdzv-endpoint head-node:29400 --rdzv-id qnn-run -m hybridqml train qnn --out runs/q

Example:
    >>> strip_nproc(["train", "qnn", "--nproc", "2", "--out", "r"])
    ['train', 'qnn', '--out', 'r']
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from hybridqml._validation import positive_int
from hybridqml.cli._lifeline import bind_to_launcher, launcher_env
from hybridqml.exceptions import ConfigurationError
from hybridqml.training._distributed import (
    RankInfo,
    init_distributed,
    shutdown_distributed,
    threads_per_rank,
)
from hybridqml.training._world import check_world

__all__ = ["add_nproc_option", "distributed_run", "is_launcher", "launch", "strip_nproc"]


def add_nproc_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--nproc N`` (ranks on this machine) to a ``train`` subcommand."""
    parser.add_argument(
        "--nproc",
        type=positive_int,
        default=1,
        metavar="N",
        help="data-parallel ranks on this machine, launched through torch.distributed.run "
        "(default 1; many nodes: use torchrun -m hybridqml train ..., see the distributed guide)",
    )


def strip_nproc(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N``."""
    out: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token == "--nproc":
            skip = True
        elif not token.startswith("--nproc="):
            out.append(token)
    return out


def launch(nproc: int, argv: Sequence[str], *, n_qubits: int | None = None) -> int:
    """Run ``python -m hybridqml <argv without --nproc>`` as ``nproc`` ranks; the exit status.

    Before any rank starts, the whole world's cores and memory are checked
    (:func:`~hybridqml.training._world.check_world`; ``n_qubits``: the run's register).

    Raises:
        ConfigurationError: Called inside a ``torchrun`` launch (use its ``--nproc-per-node``),
            or more ranks than the machine's cores or memory hold.
    """
    if "WORLD_SIZE" in os.environ:
        raise ConfigurationError(
            "--nproc launches torchrun itself and cannot be used inside a torchrun launch: drop "
            "--nproc and set the ranks with torchrun's --nproc-per-node"
        )
    check_world(nproc, n_qubits=n_qubits)
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_rank(nproc)))
    saved = {key: os.environ.get(key) for key in launcher_env()}
    os.environ.update(launcher_env())  # the ranks die with this process
    torchrun_args = [
        "--nnodes=1",
        f"--nproc-per-node={nproc}",
        "--rdzv-backend=c10d",
        "--rdzv-endpoint=127.0.0.1:0",
        f"--rdzv-id={uuid.uuid4().hex}",
        "--max-restarts=0",
        "--monitor-interval=0.2",
        "-m",
        "hybridqml",
        *strip_nproc(argv),
    ]
    try:
        run(parse_args(torchrun_args))
    except ChildFailedError as exc:
        ranks = ", ".join(str(r) for r in sorted(exc.failures))
        print(
            f"hybridqml: error: {len(exc.failures)} of {nproc} ranks failed (rank(s) {ranks}); "
            "their messages are above",
            file=sys.stderr,
        )
        return 1
    except SignalException as exc:  # SIGTERM / SIGINT: torchrun has stopped the ranks
        print(f"hybridqml: stopped by {exc.sigval.name}; the ranks were stopped", file=sys.stderr)
        return 128 + int(exc.sigval)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return 0


@contextlib.contextmanager
def distributed_run() -> Iterator[RankInfo]:
    """Join ``torchrun``'s process group for the body (a single process outside torchrun).

    A rank of an ``--nproc`` launch first binds its life to the launcher's (``_lifeline``).
    """
    bind_to_launcher()
    info = init_distributed()
    try:
        yield info
    finally:
        shutdown_distributed()


def is_launcher(args: Any) -> bool:
    """``True`` when ``args`` ask for more than one rank and this process must launch them."""
    return int(getattr(args, "nproc", 1) or 1) > 1
