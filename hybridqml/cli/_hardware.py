"""Command-line options of hardware runs: dry runs, budgets, runtime options, step checkpoints.

Every ``hybridqml train`` workflow gets ``--checkpoint-every STEPS``; workflows with a quantum
backend also get

* ``--dry-run``: print what the run would send (calls, circuits, bindings, shots per epoch and
  in total, per gradient rule, and the QPU time on devices with gate durations) and exit
  without training (:func:`hybridqml.estimate_cost`);
* ``--max-shots N`` / ``--max-qpu-seconds S``: refuse to start a run estimated above them and
  stop a run (checkpoint written) before it exceeds them;
* ``--resilience-level {0,1,2}``, ``--twirling``, ``--dynamical-decoupling {off,XX,XpXm,XY4}``:
  error suppression and mitigation of IBM runtime backends (recorded in ``metrics.json`` under
  ``config.backend_options``).

Examples::

    hybridqml train qnn --out runs/qnn --backend fake_manila --shots 1000 --dry-run
    hybridqml train qnn --out runs/qnn --backend ibm:ibm_torino --shots 1000 --max-shots 5000000
    hybridqml train qnn ... --checkpoint-every 5 --twirling --dynamical-decoupling XY4
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from hybridqml._validation import positive_float, positive_int
from hybridqml.hardware._runtime_options import DD_SEQUENCES, RESILIENCE_LEVELS
from hybridqml.workflows._base import Option, Workflow

__all__ = [
    "BUDGET_OPTIONS",
    "CHECKPOINT_OPTIONS",
    "add_hardware_options",
    "print_dry_run",
    "runtime_backend_options",
]

CHECKPOINT_OPTIONS: Final[tuple[Option, ...]] = (
    Option(
        "--checkpoint-every",
        "checkpoint_every",
        {
            "type": positive_int,
            "help": "also checkpoint every STEPS steps inside an epoch (a crash loses at most "
            "that many; --resume continues mid-epoch exactly)",
        },
    ),
)
"""Options of every workflow (fields of every config)."""

BUDGET_OPTIONS: Final[tuple[Option, ...]] = (
    Option(
        "--max-shots",
        "max_shots",
        {
            "type": positive_int,
            "help": "refuse to start a run estimated above N executed shots, and stop (with a "
            "checkpoint) before exceeding them",
        },
    ),
    Option(
        "--max-qpu-seconds",
        "max_qpu_seconds",
        {
            "type": positive_float,
            "help": "the same for QPU seconds (reported by IBM, else estimated from the "
            "device's gate durations)",
        },
    ),
)
"""Options of workflows with a quantum backend (fields of their configs)."""


def add_hardware_options(parser: argparse.ArgumentParser, workflow: Workflow) -> None:
    """``--dry-run`` and the runtime options (workflows with a quantum backend only)."""
    if "quantum" not in workflow.traits:
        return
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what the run would send (calls, circuits, bindings, shots, QPU time) and "
        "exit without training or sending anything",
    )
    parser.add_argument(
        "--resilience-level",
        type=int,
        choices=RESILIENCE_LEVELS,
        default=None,
        help="runtime Estimator error mitigation (IBM runtime backends)",
    )
    parser.add_argument(
        "--twirling",
        action="store_true",
        default=None,
        help="Pauli twirling of gates (IBM runtime backends)",
    )
    parser.add_argument(
        "--dynamical-decoupling",
        choices=("off", *DD_SEQUENCES),
        default=None,
        help="dynamical decoupling sequence (IBM runtime backends)",
    )


def runtime_backend_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``backend_options`` the runtime flags ask for (``None`` when none is given)."""
    options = {
        "resilience_level": getattr(args, "resilience_level", None),
        "twirling": getattr(args, "twirling", None),
        "dynamical_decoupling": getattr(args, "dynamical_decoupling", None),
    }
    options = {k: v for k, v in options.items() if v is not None}
    return options or None


def print_dry_run(workflow: Workflow, config: Any) -> int:
    """``--dry-run``: print the estimate of ``config``'s run; nothing is trained or sent."""
    from hybridqml.workflows._registry import estimate_cost

    print(estimate_cost(config).format())
    return 0
