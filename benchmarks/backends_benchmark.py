"""Backends on the same training run: what shots, device noise and simulators cost.

The textbook (MNIST 0 vs 1, 1-qubit layer) and qnn (circles, variational layer) workflows are
trained with the same seed and data on every backend the library has: Aer exact, Aer with 256 /
1024 / 8192 shots, a noisy fake IBM device with shots, the torch-native simulator, and GPU Aer
when qiskit-aer-gpu and a GPU are present (reported as skipped otherwise). For each run: final
test accuracy, its change against Aer exact (the accuracy cost of shot and device noise), wall
time per epoch, circuit evaluations per epoch and per second (counted with
``hybridqml.tracking.Tracker``; on the torch backend with backprop, one evaluation per sample
forward, the backward pass being autograd rather than extra circuit evaluations).

Usage:
    python benchmarks/backends_benchmark.py [--quick] [--data-dir ../shared/datasets]
        [--epochs-textbook 3] [--epochs-qnn 8] [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _common
import torch

from hybridqml.models import QNNConfig, TextbookConfig, train_qnn, train_textbook
from hybridqml.tracking import Tracker

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
FAKE_DEVICE = "fake_manila"


@dataclass(frozen=True)
class BackendCase:
    label: str
    backend: str
    shots: int | None = None
    options: tuple[tuple[str, str], ...] = ()


def cases(quick: bool) -> tuple[list[BackendCase], list[str]]:
    """The backends to run, and the ones skipped with the reason."""
    runs = [BackendCase("Aer exact", "aer")]
    shots = (256,) if quick else (256, 1024, 8192)
    runs += [BackendCase(f"Aer {s} shots", "aer", s) for s in shots]
    runs.append(BackendCase(f"{FAKE_DEVICE} 1024 shots (noisy)", FAKE_DEVICE, 1024))
    skipped = []
    try:
        import hybridqml.torchsim  # noqa: F401

        runs.append(BackendCase("torch exact (backprop)", "torch"))
    except ImportError:
        skipped.append("torch backend: not available in this version")
    if not quick:
        from qiskit_aer import AerSimulator

        if "GPU" in AerSimulator().available_devices():
            runs.append(BackendCase("Aer GPU exact", "aer", None, (("device", "GPU"),)))
        else:
            skipped.append("Aer GPU: no qiskit-aer-gpu build or no GPU on this machine")
    return runs, skipped


def run_case(workflow: str, case: BackendCase, args, out_root: Path) -> dict:
    out = out_root / f"{workflow}-{case.label.replace(' ', '_')}"
    with Tracker() as tracker:
        start = time.perf_counter()
        if workflow == "textbook":
            result = train_textbook(
                TextbookConfig(
                    out_dir=out,
                    data_dir=args.data_dir,
                    dataset=args.dataset,
                    epochs=args.epochs_textbook,
                    seed=args.seed,
                    backend=case.backend,
                    shots=case.shots,
                    backend_options=dict(case.options) or None,
                    limit_per_class=args.limit_per_class,
                    progress=False,
                )
            )
            accuracy, epochs = result.test_accuracy, args.epochs_textbook
            n_test = result.n_test
        else:
            result = train_qnn(
                QNNConfig(
                    out_dir=out,
                    epochs=args.epochs_qnn,
                    seed=args.seed,
                    n_samples=args.qnn_samples,
                    backend=case.backend,
                    shots=case.shots,
                    backend_options=dict(case.options) or None,
                    progress=False,
                )
            )
            accuracy, epochs = result.hybrid_test_accuracy, args.epochs_qnn
            n_test = json.loads(result.metrics_path.read_text())["n_test"]
        seconds = time.perf_counter() - start
    return {
        "workflow": workflow,
        "backend": case.label,
        "test_accuracy": accuracy,
        "n_test": n_test,
        "seconds": seconds,
        "seconds_per_epoch": seconds / epochs,
        "evaluations": tracker.evaluations,
        "evaluations_per_epoch": tracker.evaluations / epochs,
        "evaluations_per_second": tracker.evaluations / seconds,
        "primitive_calls": tracker.calls,
    }


def report(rows: list[dict], skipped: list[str], args, meta: dict) -> str:
    parts = ["## Backends on the same training run", ""]
    for workflow in ("textbook", "qnn"):
        wrows = [r for r in rows if r["workflow"] == workflow]
        if not wrows:
            continue
        exact = next(r["test_accuracy"] for r in wrows if r["backend"] == "Aer exact")
        table = [
            (
                r["backend"],
                f"{r['test_accuracy']:.4f}",
                f"{r['test_accuracy'] - exact:+.4f}",
                f"{r['seconds_per_epoch']:.2f} s",
                f"{r['evaluations_per_epoch']:,.0f}",
                f"{r['evaluations_per_second']:,.0f}",
            )
            for r in wrows
        ]
        epochs = args.epochs_textbook if workflow == "textbook" else args.epochs_qnn
        n_test = wrows[0]["n_test"]
        parts += [
            f"**{workflow}** ({epochs} epochs, seed {args.seed}, {n_test} test examples: one "
            f"example is {1 / n_test:.4f} of accuracy):",
            "",
            _common.markdown_table(
                [
                    "backend",
                    "test accuracy",
                    "vs Aer exact",
                    "time / epoch",
                    "evaluations / epoch",
                    "evaluations / s",
                ],
                table,
            ),
            "",
        ]
    if skipped:
        parts += ["Skipped: " + "; ".join(skipped) + ".", ""]
    parts += [
        "Time per epoch includes the per-epoch test evaluation and the final plots. One seed "
        "per backend, so a difference of an example or two is within seed-to-seed variation; "
        "the paired multi-seed method of noise_benchmark.py is what a claim would need. On the "
        "torch backend an evaluation is one forward simulation per sample (its backward pass "
        "is autograd, not extra circuits).",
        "",
        _common.metadata_line(meta),
    ]
    return "\n".join(parts)


def plot(rows: list[dict], path: str) -> None:
    workflows = [w for w in ("textbook", "qnn") if any(r["workflow"] == w for r in rows)]
    fig, axes = _common.new_figure(len(workflows), width=6.5)
    for ax, workflow in zip(axes, workflows, strict=True):
        wrows = [r for r in rows if r["workflow"] == workflow]
        labels = [r["backend"] for r in wrows]
        ax.barh(labels, [r["test_accuracy"] for r in wrows], color="tab:blue")
        ax.set_xlabel("test accuracy")
        ax.set_xlim(min(r["test_accuracy"] for r in wrows) - 0.05, 1.0)
        ax.set_title(workflow)
        for i, r in enumerate(wrows):
            ax.text(
                ax.get_xlim()[0] + 0.002, i, f"{r['seconds_per_epoch']:.1f} s/epoch", va="center"
            )
    _common.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs-textbook", type=int, default=3)
    p.add_argument("--epochs-qnn", type=int, default=8)
    p.add_argument("--qnn-samples", type=int, default=300)
    p.add_argument("--limit-per-class", type=int, default=None)
    p.add_argument("--workflows", nargs="+", default=["textbook", "qnn"])
    args = p.parse_args(argv)
    args.dataset = "mnist" if Path(args.data_dir).exists() else "digits"
    if args.quick:
        args.epochs_textbook, args.epochs_qnn = 1, 1
        args.limit_per_class, args.qnn_samples = 48, 120
    torch.set_num_threads(1)
    meta = _common.machine_metadata()
    runs, skipped = cases(args.quick)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workflow in args.workflows:
            for case in runs:
                if args.quick and workflow == "qnn" and case.backend.startswith("fake_"):
                    continue  # noisy trajectories at 1024 shots: too slow for a smoke run
                rows.append(run_case(workflow, case, args, Path(tmp)))
                print(f"{workflow} on {case.label}: done", file=sys.stderr)
    text = report(rows, skipped, args, meta)
    _common.emit(args, text, {"meta": meta, "rows": rows, "skipped": skipped, "args": vars(args)})
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
