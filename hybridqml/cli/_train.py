"""``hybridqml train <workflow>`` and ``hybridqml demo``, generated from the workflow registry.

Every workflow in ``hybridqml.workflows._registry`` gets a ``train`` subcommand: the options
every run has, the options of each of its traits (MNIST data, a quantum backend, an entropy
source) and its own :class:`~hybridqml.workflows.Option` s; ``hybridqml demo`` runs each
workflow's small ``demo`` settings. The QRNG token is read only from ``$HYBRIDQML_QRNG_TOKEN``
(never a command-line value).

Examples::

    hybridqml train textbook --data-dir ../shared/datasets --out runs/textbook --epochs 10
    hybridqml train noisy-mlp --data-dir ../shared/datasets --out runs/mlp --entropy os
    hybridqml train qnn --out runs/qnn --epochs 20 --backend aer
    hybridqml train qnn --out runs/qnn --backend torch --device fake_manila   # noisy, backprop
    hybridqml train qnn --out runs/qnn --epochs 20 --nproc 2   # 2 data-parallel ranks
    hybridqml train qnn --out runs/qnn --tensorboard runs/tb/qnn   # tensorboard --logdir runs/tb
    hybridqml train gan --data-dir ../shared/datasets --out runs/gan --entropy aer \
        --entropy-mode expanded --epochs 60
    hybridqml train gan ... --resume          # continue an interrupted run exactly
    hybridqml train textbook --data-dir data --download --out runs/textbook   # fetch MNIST
    hybridqml demo --out demo --data-dir ../shared/datasets

Each run locks its ``--out`` folder (a second run into it fails at once; a lock left by a killed
run is taken over with a warning) and refuses to replace an earlier run there unless
``--overwrite`` is given; ``--resume`` needs a checkpoint in ``--out`` and refuses ``--epochs``
below the epochs the run already has.

``--resume`` refuses a checkpoint made with other settings (each difference is listed); only
those in :data:`~hybridqml.runs.RESUME_MUTABLE_FIELDS` (``--epochs``, ``--out`` and
``--data-dir`` spelling, ``--download``, ``--no-progress``) and a workflow's own
``resume_mutable`` fields (the GAN's ``--grid-every``) may change.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Final

from hybridqml._validation import positive_float, positive_int, seed_arg
from hybridqml.cli._distributed import add_nproc_option, distributed_run, is_launcher, launch
from hybridqml.cli._hardware import (
    BUDGET_OPTIONS,
    CHECKPOINT_OPTIONS,
    add_hardware_options,
    print_dry_run,
    runtime_backend_options,
)
from hybridqml.data import DATASET_CHOICES
from hybridqml.entropy import EntropySettings
from hybridqml.exceptions import ConfigurationError
from hybridqml.execution._registry import registered_backends
from hybridqml.mitigation._options import MITIGATION_CHOICES
from hybridqml.runs import prepare_out_dir
from hybridqml.workflows._base import Option, Workflow
from hybridqml.workflows._registry import workflow_names, workflows

__all__ = ["DEMO_OUT", "TRAIT_OPTIONS", "WORKFLOWS", "add_parser", "run_demo", "run_train"]

WORKFLOWS: Final[tuple[str, ...]] = workflow_names()
"""Names accepted by ``hybridqml train``."""
DEMO_OUT: Final[str] = "hybridqml-demo"
"""Default output folder of ``hybridqml demo``."""

_RUN_OPTIONS: Final[tuple[Option, ...]] = (
    Option("--epochs", "epochs", {"type": positive_int, "help": "training epochs"}),
    Option("--batch-size", "batch_size", {"type": positive_int}),
    Option("--lr", "lr", {"type": positive_float, "help": "learning rate (finite, > 0)"}),
    *CHECKPOINT_OPTIONS,
    Option(
        "--tensorboard",
        "tensorboard_dir",
        {"metavar": "DIR", "help": "also log to TensorBoard in DIR (needs the tensorboard extra)"},
    ),
)
TRAIT_OPTIONS: Final[dict[str, tuple[Option, ...]]] = {
    "mnist": (
        Option("--data-dir", "data_dir", {"help": "folder holding MNIST/raw (IDX files)"}),
        Option(
            "--download",
            "download",
            {
                "action": "store_true",
                "help": "let torchvision download missing MNIST files into --data-dir "
                "(needs network)",
            },
        ),
        Option(
            "--dataset",
            "dataset",
            {
                "choices": DATASET_CHOICES,
                "default": "mnist",
                "help": "mnist (needs --data-dir) or digits (scikit-learn 8x8, offline)",
            },
        ),
        Option(
            "--limit",
            "limit_per_class",
            {"type": positive_int, "help": "training images per digit (cap)"},
        ),
    ),
    "quantum": (
        Option(
            "--backend",
            "backend",
            {"default": "aer", "help": "one of: " + ", ".join(registered_backends(by_name=True))},
        ),
        Option("--shots", "shots", {"type": positive_int, "help": "default: exact"}),
        *BUDGET_OPTIONS,
        Option(
            "--mitigation",
            "mitigation",
            {
                "choices": MITIGATION_CHOICES,
                "help": "error mitigation of the quantum layer: readout (M3), zne (zero-noise "
                "extrapolation, 3 folded circuits per circuit) or both; noisy backends only; "
                "IBM runtime backends use the runtime Estimator's own TREX/ZNE",
            },
        ),
    ),
}
"""Options of each trait that map straight onto config fields (entropy options build one
:class:`~hybridqml.entropy.EntropySettings`, see :func:`_add_entropy_options`)."""


def _add(parser: argparse.ArgumentParser, option: Option) -> None:
    kwargs = dict(option.kwargs)
    if "action" not in kwargs:
        kwargs.setdefault("default", None)
        if "choices" not in kwargs:  # show --limit as LIMIT, not as its config field
            kwargs.setdefault("metavar", option.flag.lstrip("-").upper().replace("-", "_"))
    parser.add_argument(option.flag, dest=option.field, **kwargs)


def _add_entropy_options(p: argparse.ArgumentParser) -> None:
    EntropySettings.add_arguments(p, "train")  # generated from the settings' fields


def _add_workflow(commands: Any, workflow: Workflow) -> None:
    p = commands.add_parser(workflow.name, help=workflow.help, description=workflow.help)
    p.add_argument("--out", required=True, help="output folder (metrics.json, PNGs, checkpoint)")
    p.add_argument("--seed", type=seed_arg, default=0, help="run seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an earlier run in OUT (its files)"
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_nproc_option(p)
    options = [*_RUN_OPTIONS, *workflow.options]
    for trait in sorted(workflow.traits):
        options.extend(TRAIT_OPTIONS.get(trait, ()))
    for option in options:
        _add(p, option)
    if "entropy" in workflow.traits:
        _add_entropy_options(p)
    if "quantum" in workflow.traits:
        p.add_argument(
            "--device",
            dest="noise_device",
            default=None,
            metavar="FAKE_DEVICE",
            help="with --backend torch: simulate this fake device's noise (e.g. fake_manila: "
            "its gate errors, relaxation, readout error and layout) as exact density matrices "
            "in torch, gradients by backprop; recorded in metrics.json as "
            "config.backend_options.device",
        )
    add_hardware_options(p, workflow)
    p.set_defaults(handler=run_train, workflow=workflow, options=tuple(options))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` (one subcommand per registered workflow) and ``demo``."""
    train = subparsers.add_parser("train", help="train one of the registered workflows")
    commands = train.add_subparsers(dest="workflow_command", metavar="WORKFLOW", required=True)
    for workflow in workflows():
        _add_workflow(commands, workflow)
    demo = subparsers.add_parser(
        "demo", help="small, fast versions of every workflow on offline data"
    )
    demo.add_argument("--out", default=DEMO_OUT, help=f"output folder (default {DEMO_OUT})")
    demo.add_argument("--data-dir", default=None, help="MNIST folder (else sklearn digits)")
    demo.add_argument("--seed", type=seed_arg, default=0)
    demo.add_argument("--no-progress", action="store_true")
    demo.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test of a few seconds per workflow (one epoch, tiny data; numbers mean "
        "nothing)",
    )
    demo.add_argument(
        "--overwrite", action="store_true", help="replace the runs of an earlier demo in OUT"
    )
    demo.set_defaults(handler=run_demo)
    return train


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """Config keyword arguments from the parsed options (options not given are left out)."""
    settings: dict[str, Any] = {
        "out_dir": args.out,
        "seed": args.seed,
        "resume": args.resume,
        "overwrite": args.overwrite,
        "progress": not args.no_progress,
    }
    for option in args.options:
        value = getattr(args, option.field)
        if value is not None:
            settings[option.field] = value
    if "entropy" in args.workflow.traits:
        settings["entropy"] = EntropySettings.from_args(args, "train")
    backend_options = dict(runtime_backend_options(args) or {})
    device = getattr(args, "noise_device", None)
    if device is not None:
        if settings.get("backend", "aer") != "torch":
            raise ConfigurationError(
                f"--device {device} selects the noisy torch engine: add --backend torch "
                f"(or use --backend {device} for the same device on Aer)"
            )
        backend_options["device"] = device
    if backend_options:
        settings["backend_options"] = backend_options
    return settings


def run_train(args: argparse.Namespace) -> int:
    """``hybridqml train WORKFLOW``: train, print the headline numbers and the output folder."""
    workflow: Workflow = args.workflow
    if is_launcher(args):  # --nproc N: run this command as N ranks under torchrun
        config = workflow.make_config(**_settings(args))  # settings refused before any rank
        argv = getattr(args, "argv", None) or sys.argv[1:]
        return launch(args.nproc, argv, n_qubits=getattr(config, "n_qubits", None))
    if getattr(args, "dry_run", False):
        return print_dry_run(workflow, workflow.make_config(**_settings(args)))
    config = workflow.make_config(**_settings(args))
    with distributed_run() as rank:  # joins torchrun's process group, if any
        result = workflow.train(config)
    if rank.is_main:
        print(workflow.summary(result))
        print(f"results: {Path(args.out).resolve()}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """``hybridqml demo``: every workflow, small and fast, on offline data."""
    out = prepare_out_dir(args.out)
    data = {"dataset": "mnist", "data_dir": args.data_dir}
    if args.data_dir is None:
        data = {"dataset": "digits", "data_dir": None}
        print(
            "demo: no --data-dir given, using scikit-learn's bundled 8x8 digits upscaled to "
            "28x28 as an offline stand-in for MNIST (pass --data-dir for real MNIST)"
        )
    common = {"seed": args.seed, "progress": not args.no_progress, "overwrite": args.overwrite}
    summary: dict[str, Any] = {}
    for workflow in workflows():
        quick = workflow.quick_demo if args.quick else {}
        settings = {"out_dir": out / workflow.name, **workflow.demo, **quick, **common}
        if "mnist" in workflow.traits:
            settings |= data
        if "entropy" in workflow.traits:
            settings["entropy"] = EntropySettings(source="aer", mode="expanded")
        start = time.perf_counter()
        print(f"demo: {workflow.name} ...", flush=True)
        result = workflow.train(workflow.make_config(**settings))
        seconds = time.perf_counter() - start
        summary[workflow.name] = workflow.headline(result) | {"seconds": round(seconds, 1)}
        print(
            f"demo: {workflow.name} done in {seconds:.0f} s: {summary[workflow.name]}", flush=True
        )
    summary["data"] = "mnist" if args.data_dir else "sklearn-digits (offline stand-in)"
    summary["quick"] = bool(args.quick)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"demo: results in {out.resolve()} (summary.json, one folder per workflow)")
    return 0
