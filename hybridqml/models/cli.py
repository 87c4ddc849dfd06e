"""``hybridqml train {textbook,noisy-mlp,qnn,gan}`` and ``hybridqml demo``.

Registered by :mod:`hybridqml.cli` through :func:`add_parser`. The QRNG token is read only from
``$HYBRIDQML_QRNG_TOKEN`` (never a command-line value).

Examples::

    hybridqml train textbook --data-dir ../shared/datasets --out runs/textbook --epochs 10
    hybridqml train noisy-mlp --data-dir ../shared/datasets --out runs/mlp --entropy os
    hybridqml train qnn --out runs/qnn --epochs 20 --backend aer
    hybridqml train gan --data-dir ../shared/datasets --out runs/gan --entropy aer \
        --entropy-mode expanded --epochs 60
    hybridqml train gan ... --resume          # continue an interrupted run exactly
    hybridqml train textbook --data-dir data --download --out runs/textbook   # fetch MNIST

``--resume`` refuses a checkpoint made with other settings (each difference is listed); only
those in :data:`~hybridqml.models.common.RESUME_MUTABLE_FIELDS` (``--epochs``, ``--out`` and
``--data-dir`` spelling, ``--download``, ``--no-progress``, ``--grid-every``) may change.
    hybridqml demo --out demo --data-dir ../shared/datasets
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Final

from hybridqml._validation import positive_int, seed_arg
from hybridqml.entropy.sources.qrng import PROVIDERS
from hybridqml.exceptions import ConfigurationError
from hybridqml.models.common import (
    DATASET_CHOICES,
    ENTROPY_CHOICES,
    ENTROPY_FALLBACKS,
    ENTROPY_MODES,
    EntropySettings,
    prepare_out_dir,
)

__all__ = ["DEMO_OUT", "WORKFLOWS", "add_parser", "run_demo", "run_train"]

WORKFLOWS: Final[tuple[str, ...]] = ("textbook", "noisy-mlp", "qnn", "gan")
"""Names accepted by ``hybridqml train``."""
DEMO_OUT: Final[str] = "hybridqml-demo"
"""Default output folder of ``hybridqml demo``."""
_MNIST_WORKFLOWS: Final[frozenset[str]] = frozenset({"textbook", "noisy-mlp", "gan"})
_QUANTUM_WORKFLOWS: Final[frozenset[str]] = frozenset({"textbook", "qnn"})
_ENTROPY_WORKFLOWS: Final[frozenset[str]] = frozenset({"noisy-mlp", "gan"})


def _add_workflow(commands: Any, name: str, help_text: str) -> None:
    p = commands.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--out", required=True, help="output folder (metrics.json, PNGs, checkpoint)")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs")
    p.add_argument("--seed", type=seed_arg, default=0, help="run seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--lr", type=float, default=None, help="learning rate")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    if name in _MNIST_WORKFLOWS:
        p.add_argument("--data-dir", default=None, help="folder holding MNIST/raw (IDX files)")
        p.add_argument(
            "--download",
            action="store_true",
            help="let torchvision download missing MNIST files into --data-dir (needs network)",
        )
        p.add_argument(
            "--dataset",
            choices=DATASET_CHOICES,
            default="mnist",
            help="mnist (needs --data-dir) or digits (scikit-learn 8x8, offline)",
        )
        p.add_argument(
            "--limit", type=positive_int, default=None, help="training images per digit (cap)"
        )
    if name in _QUANTUM_WORKFLOWS:
        p.add_argument("--backend", default="aer", help="aer, torch, fake_<device> or ibm:<name>")
        p.add_argument("--shots", type=positive_int, default=None, help="default: exact")
    if name in _ENTROPY_WORKFLOWS:
        p.add_argument("--entropy", choices=ENTROPY_CHOICES, default="aer")
        p.add_argument("--entropy-mode", choices=ENTROPY_MODES, default="expanded")
        p.add_argument("--qrng-url", default=None, help="QRNG endpoint (--entropy qrng)")
        p.add_argument("--qrng-provider", choices=PROVIDERS, default="eaas")
        p.add_argument(
            "--entropy-fallback",
            choices=ENTROPY_FALLBACKS,
            default=None,
            help="source to switch to if --entropy fails (default: none, stop with an error)",
        )
    if name == "noisy-mlp":
        p.add_argument("--noise-std", type=float, default=None)
        p.add_argument("--eval-noise", action="store_true", help="keep the noise on at eval")
    if name == "qnn":
        p.add_argument("--samples", type=positive_int, default=None, help="circle points")
        p.add_argument("--qubits", type=positive_int, default=None)
        p.add_argument("--layers", type=positive_int, default=None)
    if name == "gan":
        p.add_argument("--grid-every", type=positive_int, default=None)
        p.add_argument("--eval-samples", type=positive_int, default=None)
    p.set_defaults(handler=run_train, workflow=name)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` (one subcommand per workflow) and ``demo`` on ``subparsers``."""
    train = subparsers.add_parser("train", help="train one of the four workflows")
    commands = train.add_subparsers(dest="workflow_command", metavar="WORKFLOW", required=True)
    _add_workflow(commands, "textbook", "CNN + 1-qubit RY hybrid, MNIST 0 vs 1")
    _add_workflow(commands, "noisy-mlp", "MNIST MLP with entropy-source noise injection")
    _add_workflow(commands, "qnn", "variational hybrid QNN vs classical net on circles")
    _add_workflow(commands, "gan", "MNIST GAN with entropy-source latent vectors")
    demo = subparsers.add_parser(
        "demo", help="small, fast versions of all four workflows on offline data"
    )
    demo.add_argument("--out", default=DEMO_OUT, help=f"output folder (default {DEMO_OUT})")
    demo.add_argument("--data-dir", default=None, help="MNIST folder (else sklearn digits)")
    demo.add_argument("--seed", type=seed_arg, default=0)
    demo.add_argument("--no-progress", action="store_true")
    demo.set_defaults(handler=run_demo)
    return train


def _given(args: argparse.Namespace, **mapping: str) -> dict[str, Any]:
    """Config keyword arguments for the options the user actually gave."""
    return {
        key: getattr(args, attr)
        for key, attr in mapping.items()
        if getattr(args, attr, None) is not None
    }


def _entropy(args: argparse.Namespace) -> EntropySettings:
    return EntropySettings(
        source=args.entropy,
        mode=args.entropy_mode,
        qrng_url=args.qrng_url,
        qrng_provider=args.qrng_provider,
        fallback=args.entropy_fallback,
    )


def run_train(args: argparse.Namespace) -> int:
    """``hybridqml train WORKFLOW``: train, print the headline numbers and the output folder."""
    common = {
        "out_dir": args.out,
        "seed": args.seed,
        "resume": args.resume,
        "progress": not args.no_progress,
        **_given(args, epochs="epochs", batch_size="batch_size", lr="lr"),
    }
    if args.lr is not None and not args.lr > 0:
        raise ConfigurationError(f"--lr must be > 0, got {args.lr}")
    if args.workflow in _MNIST_WORKFLOWS:
        common |= {"data_dir": args.data_dir, "dataset": args.dataset, "download": args.download}
        common |= _given(args, limit_per_class="limit")
    if args.workflow in _QUANTUM_WORKFLOWS:
        common |= {"backend": args.backend, "shots": args.shots}
    if args.workflow in _ENTROPY_WORKFLOWS:
        common["entropy"] = _entropy(args)
    summary = _TRAINERS[args.workflow](args, common)
    print(summary)
    print(f"results: {Path(args.out).resolve()}")
    return 0


def _train_textbook(args: argparse.Namespace, kw: dict[str, Any]) -> str:
    from hybridqml.models.textbook import TextbookConfig, train_textbook

    r = train_textbook(TextbookConfig(**kw))
    return f"textbook: test_accuracy {r.test_accuracy:.4f} on {r.n_test} held-out images"


def _train_noisy_mlp(args: argparse.Namespace, kw: dict[str, Any]) -> str:
    from hybridqml.models.noisy_mlp import NoisyMLPConfig, train_noisy_mlp

    kw |= _given(args, noise_std="noise_std")
    r = train_noisy_mlp(NoisyMLPConfig(eval_noise=args.eval_noise, **kw))
    return (
        f"noisy-mlp: test_accuracy {r.test_accuracy:.4f} "
        f"(epoch chosen on validation: {r.selected_test_accuracy:.4f}); "
        f"noise from {r.entropy['name']} ({r.entropy['kind']}, {r.entropy['mode']})"
    )


def _train_qnn(args: argparse.Namespace, kw: dict[str, Any]) -> str:
    from hybridqml.models.qnn import QNNConfig, train_qnn

    kw |= _given(args, n_samples="samples", n_qubits="qubits", layers="layers")
    r = train_qnn(QNNConfig(**kw))
    return (
        f"qnn: hybrid_test_accuracy {r.hybrid_test_accuracy:.4f} ({r.hybrid_parameters} "
        f"parameters), classical_test_accuracy {r.classical_test_accuracy:.4f} "
        f"({r.classical_parameters} parameters)"
    )


def _train_gan(args: argparse.Namespace, kw: dict[str, Any]) -> str:
    from hybridqml.models.gan import GANConfig, train_gan

    kw |= _given(args, grid_every="grid_every", eval_samples="eval_samples")
    r = train_gan(GANConfig(**kw))
    last = r.history[-1]
    return (
        f"gan: d_loss {last['d_loss']:.3f}, g_loss {last['g_loss']:.3f}, class_coverage "
        f"{r.class_coverage}/10, frechet_distance {r.frechet_distance:.1f}; latents from "
        f"{r.entropy['name']} ({r.entropy['kind']}, {r.entropy['mode']})"
    )


_TRAINERS = {
    "textbook": _train_textbook,
    "noisy-mlp": _train_noisy_mlp,
    "qnn": _train_qnn,
    "gan": _train_gan,
}


def run_demo(args: argparse.Namespace) -> int:
    """``hybridqml demo``: all four workflows, small and fast, on offline data."""
    from hybridqml.models.gan import GANConfig, train_gan
    from hybridqml.models.noisy_mlp import NoisyMLPConfig, train_noisy_mlp
    from hybridqml.models.qnn import QNNConfig, train_qnn
    from hybridqml.models.textbook import TextbookConfig, train_textbook

    out = prepare_out_dir(args.out)
    data = {"dataset": "mnist", "data_dir": args.data_dir}
    if args.data_dir is None:
        data = {"dataset": "digits", "data_dir": None}
        print(
            "demo: no --data-dir given, using scikit-learn's bundled 8x8 digits upscaled to "
            "28x28 as an offline stand-in for MNIST (pass --data-dir for real MNIST)"
        )
    common = {"seed": args.seed, "progress": not args.no_progress}
    entropy = EntropySettings(source="aer", mode="expanded")
    steps = [
        (
            "textbook",
            lambda: train_textbook(
                TextbookConfig(
                    out_dir=out / "textbook", epochs=5, limit_per_class=300, **data, **common
                )
            ),
        ),
        (
            "noisy-mlp",
            lambda: train_noisy_mlp(
                NoisyMLPConfig(
                    out_dir=out / "noisy-mlp",
                    epochs=15,
                    limit_per_class=400,
                    entropy=entropy,
                    **data,
                    **common,
                )
            ),
        ),
        (
            "qnn",
            lambda: train_qnn(QNNConfig(out_dir=out / "qnn", epochs=12, n_samples=400, **common)),
        ),
        (
            "gan",
            lambda: train_gan(
                GANConfig(
                    out_dir=out / "gan",
                    epochs=40,
                    batch_size=32,
                    limit_per_class=150,
                    eval_samples=500,
                    classifier_epochs=3,
                    entropy=entropy,
                    **data,
                    **common,
                )
            ),
        ),
    ]
    summary: dict[str, Any] = {}
    for name, run in steps:
        start = time.perf_counter()
        print(f"demo: {name} ...", flush=True)
        result = run()
        seconds = time.perf_counter() - start
        summary[name] = _headline(name, result) | {"seconds": round(seconds, 1)}
        print(f"demo: {name} done in {seconds:.0f} s: {summary[name]}", flush=True)
    summary["data"] = "mnist" if args.data_dir else "sklearn-digits (offline stand-in)"
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"demo: results in {out.resolve()} (summary.json, one folder per workflow)")
    return 0


def _headline(name: str, result: Any) -> dict[str, Any]:
    if name == "qnn":
        return {
            "hybrid_test_accuracy": round(result.hybrid_test_accuracy, 4),
            "classical_test_accuracy": round(result.classical_test_accuracy, 4),
        }
    if name == "gan":
        return {
            "class_coverage": result.class_coverage,
            "frechet_distance": round(result.frechet_distance, 1),
        }
    return {"test_accuracy": round(result.test_accuracy, 4)}
