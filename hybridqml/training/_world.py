"""The world's budget: cores and memory for ALL the ranks of a launch, checked before any starts.

Each rank checks its own memory once it runs, but ranks that start together each see the same
free memory, so each check passes while the ranks together do not fit. ``hybridqml train ...
--nproc N`` therefore checks the whole world first (:func:`check_world`):

* cores: at most :data:`MAX_RANKS_PER_CORE` ranks per CPU core this process may use (a rank is
  a process with at least one thread; beyond that the ranks only wait for each other and for
  memory);
* memory: ``N x (`` :data:`RANK_BASE_BYTES` ``+ one state of the register )`` must fit in the
  memory available now (one dense ``complex128`` statevector of ``n_qubits``, a lower bound of
  what a simulating rank holds).

Both refusals name the numbers and the fix. Inside the ranks the simulators' own checks use
:func:`~hybridqml.execution._memory.rank_memory_share` (the available memory divided by the
ranks on the machine), so a launch by ``torchrun`` itself is bounded too.

Example:
    >>> check_world(2, cores=2, available=8 << 30, n_qubits=4)
    >>> try:
    ...     check_world(64, cores=2, available=8 << 30)
    ... except ConfigurationError as exc:
    ...     print(str(exc)[:58])
    --nproc 64 asks for 64 ranks, but this machine has 2 CPU c
"""

from __future__ import annotations

import os
from typing import Final

from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._memory import available_memory_bytes, human_bytes

__all__ = ["MAX_RANKS_PER_CORE", "RANK_BASE_BYTES", "check_world", "usable_cores"]

MAX_RANKS_PER_CORE: Final[int] = 2
"""Ranks per CPU core a launch may start (so ``--nproc 3`` runs on 2 cores, 64 does not)."""
RANK_BASE_BYTES: Final[int] = 500 << 20
"""Memory of one rank before it simulates anything: python, torch, qiskit, Aer and the data.

Measured: 64 ranks of ``hybridqml train qnn`` held 31 GiB together (about 500 MiB each).
"""


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where known).

    Example:
        >>> usable_cores() >= 1
        True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_world(
    nproc: int,
    *,
    n_qubits: int | None = None,
    cores: int | None = None,
    available: int | None = None,
) -> None:
    """Refuse a launch of ``nproc`` ranks on this machine that its cores or memory cannot hold.

    Args:
        nproc: Ranks to start on this machine.
        n_qubits: Qubits of the run's register, if it simulates one (a dense statevector per
            rank is counted).
        cores: Usable CPU cores (default: :func:`usable_cores`).
        available: Bytes of memory available (default: what the system reports now; unknown
            skips the memory check).

    Raises:
        ConfigurationError: More ranks than :data:`MAX_RANKS_PER_CORE` per core, or the ranks
            together need more memory than is available (the numbers and the fix are named).
    """
    cores = usable_cores() if cores is None else cores
    most = MAX_RANKS_PER_CORE * cores
    if nproc > most:
        raise ConfigurationError(
            f"--nproc {nproc} asks for {nproc} ranks, but this machine has {cores} CPU core(s) "
            f"(at most {most} ranks, {MAX_RANKS_PER_CORE} per core; each rank is a process of "
            f"about {human_bytes(RANK_BASE_BYTES)}): use --nproc {cores} (one rank per core), "
            "or spread the ranks over several machines with torchrun (see the distributed guide)"
        )
    available = available_memory_bytes() if available is None else available
    if available is None:
        return
    state = 16 << n_qubits if n_qubits else 0
    need = nproc * (RANK_BASE_BYTES + state)
    if need > available:
        fits = available // (RANK_BASE_BYTES + state)
        register = (
            f" plus one {n_qubits}-qubit statevector of {human_bytes(state)}" if state else ""
        )
        fix = f"use at most --nproc {fits}, fewer qubits" if fits >= 1 else "use fewer qubits"
        raise ConfigurationError(
            f"{nproc} ranks need at least {human_bytes(need)} together (each about "
            f"{human_bytes(RANK_BASE_BYTES)}{register}), but {human_bytes(available)} of memory "
            f"is available: {fix} or more machines (torchrun, see the distributed guide)"
        )
