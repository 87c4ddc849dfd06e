"""Backends on the same training run: what shots, device noise and simulators cost.

The textbook (MNIST 0 vs 1, 1-qubit layer) and qnn (circles, variational layer) workflows are
trained with the same seed and data on every backend the library has: Aer exact, Aer with 256 /
1024 / 8192 shots, a noisy fake IBM device (exact noisy values with ``shots=None``, 1024 shots
drawn from the exact noisy distribution, and 1024 shots of Aer's own trajectory sampling, the
path before issue 11), the torch-native simulator, and GPU Aer
when qiskit-aer-gpu and a GPU are present (detected in every mode, reported as skipped
otherwise). ``ibm:<name>`` (IBM Quantum hardware) is listed as skipped: it needs an IBM Quantum
account and network access. For each run: final test accuracy and test loss (mean negative
log-likelihood on the test set, evaluated on the same backend), their change against Aer exact
(the cost of shot and device noise, visible in the loss even when accuracy saturates), wall time
per epoch, circuit evaluations per epoch and per second (counted with
``hybridqml.execution._tracking.Tracker``; on the torch backend with backprop, one evaluation per
sample forward, the backward pass being autograd rather than extra circuit evaluations).

Before the first timed case, every workflow runs once untimed on every backend with a few
examples and one epoch (imports, data loading, Aer and noise-model set-up, first-call costs), so
that the first timed row does not pay them.

Usage:
    python benchmarks/backends_benchmark.py [--quick] [--data-dir ../shared/datasets]
        [--epochs-textbook 3] [--epochs-qnn 8] [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _common
import torch

from hybridqml.execution._tracking import Tracker
from hybridqml.workflows import QNNConfig, TextbookConfig, train_qnn, train_textbook

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
FAKE_DEVICE = "fake_manila"
IBM_SKIP_REASON = (
    "ibm:<name> (IBM Quantum hardware): needs an IBM Quantum account and network access; none here"
)
GPU_SKIP_REASON = "Aer GPU: no qiskit-aer-gpu build or no GPU on this machine"


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
    runs += [
        BackendCase(f"{FAKE_DEVICE} exact noisy", FAKE_DEVICE),
        BackendCase(f"{FAKE_DEVICE} 1024 shots (noisy)", FAKE_DEVICE, 1024),
        BackendCase(
            f"{FAKE_DEVICE} 1024 shots (noisy, Aer trajectories)",
            FAKE_DEVICE,
            1024,
            (("noisy_simulation", "trajectories"),),
        ),
    ]
    skipped = []
    try:
        import hybridqml.backends.torchsim  # noqa: F401

        runs.append(BackendCase("torch exact (backprop)", "torch"))
    except ImportError:
        skipped.append("torch backend: not available in this version")
    if gpu_available():
        runs.append(BackendCase("Aer GPU exact", "aer", None, (("device", "GPU"),)))
    else:
        skipped.append(GPU_SKIP_REASON)
    skipped.append(IBM_SKIP_REASON)
    return runs, skipped


def gpu_available() -> bool:
    """True when this Aer build can simulate on a GPU (qiskit-aer-gpu and a visible GPU)."""
    from qiskit_aer import AerSimulator

    return "GPU" in AerSimulator().available_devices()


def warm_up(workflows: list[str], runs: list[BackendCase], args, out_root: Path) -> float:
    """Run every workflow once, untimed, on every distinct backend with a few examples.

    Returns:
        The wall time spent (reported, not counted in any row).
    """
    small = copy.copy(args)
    small.epochs_textbook = small.epochs_qnn = 1
    small.limit_per_class, small.qnn_samples = 8, 36
    start = time.perf_counter()
    seen = set()
    for workflow in workflows:
        for case in runs:
            key = (workflow, case.backend, case.shots is None, case.options)
            if key in seen or skip_case(workflow, case, args):
                continue
            seen.add(key)
            run_case(workflow, case, small, out_root / "warm-up")
    return time.perf_counter() - start


def skip_case(workflow: str, case: BackendCase, args: argparse.Namespace) -> bool:
    """Cases left out of a --quick smoke run: Aer's noisy trajectories, the noisy qnn with shots."""
    if not args.quick:
        return False
    if dict(case.options).get("noisy_simulation") == "trajectories":
        return True
    return workflow == "qnn" and case.backend.startswith("fake_") and case.shots is not None


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
            loss = result.history[-1]["test_loss"]  # nll_loss of the log-probabilities
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
            loss = result.history[-1]["hybrid_test_loss"]  # cross entropy of the logits
            n_test = json.loads(result.metrics_path.read_text())["n_test"]
        seconds = time.perf_counter() - start
    return {
        "workflow": workflow,
        "backend": case.label,
        "test_accuracy": accuracy,
        "test_loss": float(loss),
        "n_test": n_test,
        "seconds": seconds,
        "seconds_per_epoch": seconds / epochs,
        "evaluations": tracker.evaluations,
        "evaluations_per_epoch": tracker.evaluations / epochs,
        "evaluations_per_second": tracker.evaluations / seconds,
        "primitive_calls": tracker.calls,
    }


def _delta(x: float) -> str:
    """A signed difference to 4 decimals, without a "-0.0000" for rounding-level negatives."""
    return f"{round(x, 4) + 0.0:+.4f}"


def report(rows: list[dict], skipped: list[str], args, meta: dict, warm_up_seconds: float) -> str:
    parts = ["## Backends on the same training run", ""]
    for workflow in ("textbook", "qnn"):
        wrows = [r for r in rows if r["workflow"] == workflow]
        if not wrows:
            continue
        exact = next(r for r in wrows if r["backend"] == "Aer exact")
        table = [
            (
                r["backend"],
                f"{r['test_accuracy']:.4f}",
                _delta(r["test_accuracy"] - exact["test_accuracy"]),
                f"{r['test_loss']:.4f}",
                _delta(r["test_loss"] - exact["test_loss"]),
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
                    "test loss (NLL)",
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
        "Test loss is the mean negative log-likelihood of the true class on the test set, "
        "evaluated on the same backend (with its shots and device noise); it shows the cost of "
        "noise when accuracy saturates. Time per epoch includes the per-epoch test evaluation "
        "and the final plots; every workflow first ran once untimed on every backend with a few "
        f"examples ({warm_up_seconds:.0f} s of warm-up: imports, data loading, set-up and "
        "first-call costs, counted in no row). One seed "
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
    fig, axes = _common.new_figure(2 * len(workflows), width=5.0)
    for i, workflow in enumerate(workflows):
        wrows = [r for r in rows if r["workflow"] == workflow]
        labels = [r["backend"] for r in wrows]
        ax, loss_ax = axes[2 * i], axes[2 * i + 1]
        ax.barh(labels, [r["test_accuracy"] for r in wrows], color="tab:blue")
        ax.set_xlabel("test accuracy")
        ax.set_xlim(min(r["test_accuracy"] for r in wrows) - 0.05, 1.0)
        ax.set_title(f"{workflow}: accuracy")
        for j, r in enumerate(wrows):
            ax.text(
                ax.get_xlim()[0] + 0.002, j, f"{r['seconds_per_epoch']:.1f} s/epoch", va="center"
            )
        losses = [r["test_loss"] for r in wrows]
        pad = max(0.1 * (max(losses) - min(losses)), 0.01 * max(losses), 1e-3)
        loss_ax.barh(labels, losses, color="tab:orange")
        loss_ax.set_xlim(max(0.0, min(losses) - pad), max(losses) + pad)
        for j, loss in enumerate(losses):
            loss_ax.text(loss_ax.get_xlim()[0], j, f" {loss:.4f}", va="center")
        loss_ax.set_xlabel("test loss (NLL; lower is better; zoomed)")
        loss_ax.set_yticks(range(len(wrows)), [""] * len(wrows))
        loss_ax.set_title(f"{workflow}: test loss")
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
        warm_up_seconds = warm_up(args.workflows, runs, args, Path(tmp))
        print(f"warm-up: {warm_up_seconds:.1f} s", file=sys.stderr)
        for workflow in args.workflows:
            for case in runs:
                if skip_case(workflow, case, args):
                    continue
                rows.append(run_case(workflow, case, args, Path(tmp)))
                print(f"{workflow} on {case.label}: done", file=sys.stderr)
    text = report(rows, skipped, args, meta, warm_up_seconds)
    payload = {
        "meta": meta,
        "rows": rows,
        "skipped": skipped,
        "warm_up_seconds": warm_up_seconds,
        "args": vars(args),
    }
    _common.emit(args, text, payload)
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
