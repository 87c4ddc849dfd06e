"""Error mitigation inside training: output error against noiseless values, and test loss.

Part 1, outputs: a ``variational(4, 2)`` layer at random inputs and weights on ``fake_manila``
(5 qubits) and ``fake_guadalupe`` (16 qubits), each Pauli ``<Z_i>`` against qiskit's
``Statevector`` (noiseless), with mitigation none / readout / zne / readout+zne, exact noisy
values (``shots=None``) and with shots; the shot cost of one evaluation (executed shots per
binding, calibration circuits counted separately).

Part 2, training: the qnn workflow on ``fake_manila`` (exact noisy values) with each
mitigation, seeds paired with the noiseless run (Aer exact) of the same seed. The metric is the
gap ``|test loss - noiseless test loss|`` per seed; mitigation vs none is a paired comparison
(mean difference of the gaps with its 95% CI, ``hybridqml.analysis.compare_paired``), reported
whatever the outcome.

Usage::

    python benchmarks/mitigation_benchmark.py [--quick] [--seeds 5] [--epochs 8]
        [--samples 300] [--modes readout readout+zne] [--json OUT] [--markdown OUT]
        [--plot OUT.png]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import emit, machine_metadata, markdown_table, metadata_line, new_figure, parser
from qiskit.quantum_info import Statevector

import hybridqml as hq
from hybridqml.analysis import compare_paired
from hybridqml.workflows import QNNConfig, train_qnn

MODES = ("none", "readout", "zne", "readout+zne")
DEVICES = ("fake_manila", "fake_guadalupe")


def _noiseless(spec, x, w):
    rows = []
    for row in x:
        values = dict(zip(spec.parameters, [*row, *w], strict=True))
        state = Statevector(spec.circuit.assign_parameters(values))
        rows.append([state.expectation_value(o).real for o in spec.observables])
    return np.array(rows)


def output_errors(devices, shots_list, n_points: int) -> list[dict]:
    """Mean |error| of <Z_i> vs Statevector per device, mode and shots, with the shot cost."""
    rng = np.random.default_rng(0)
    spec = hq.circuits.variational(4, 2)
    w = rng.uniform(-np.pi, np.pi, spec.n_weights)
    x = rng.uniform(-np.pi, np.pi, (n_points, 4))
    ref = _noiseless(spec, x, w)
    rows = []
    for device in devices:
        for shots in shots_list:
            for mode in MODES:
                start = time.perf_counter()
                with hq.Tracker() as build:
                    layer = hq.QuantumLayer(
                        spec,
                        backend=device,
                        shots=shots,
                        seed=1,
                        mitigation=None if mode == "none" else mode,
                        init=torch.tensor(w),
                    )
                with hq.Tracker() as run, torch.no_grad():
                    out = layer(torch.tensor(x)).numpy()
                rows.append(
                    {
                        "device": device,
                        "shots": shots,
                        "mode": mode,
                        "mean_abs_error": float(np.abs(out - ref).mean()),
                        "circuits_per_binding": run.circuits,
                        "executed_shots_per_binding": run.executed_shots / n_points,
                        "calibration_shots": build.executed_shots,
                        "seconds": time.perf_counter() - start,
                    }
                )
    return rows


def qnn_losses(seeds, modes, epochs: int, samples: int, qubits: int, layers: int) -> list[dict]:
    """Final hybrid test loss of the qnn workflow per seed and setting."""
    settings = [("aer exact (noiseless)", "aer", None)]
    settings += [(f"fake_manila {m}", "fake_manila", None if m == "none" else m) for m in modes]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for label, backend, mitigation in settings:
                start = time.perf_counter()
                with hq.Tracker() as tracker:
                    result = train_qnn(
                        QNNConfig(
                            out_dir=Path(tmp) / f"{seed}-{label}",
                            epochs=epochs,
                            n_samples=samples,
                            n_qubits=qubits,
                            layers=layers,
                            seed=seed,
                            backend=backend,
                            mitigation=mitigation,
                            progress=False,
                        )
                    )
                rows.append(
                    {
                        "seed": seed,
                        "setting": label,
                        "test_loss": float(result.history[-1]["hybrid_test_loss"]),
                        "test_accuracy": result.hybrid_test_accuracy,
                        "circuits": tracker.circuits,
                        "seconds": time.perf_counter() - start,
                    }
                )
    return rows


def comparisons(rows: list[dict], modes) -> list[dict]:
    """Paired: gap to noiseless without mitigation vs with it (positive: mitigation closer)."""
    by = {(r["seed"], r["setting"]): r["test_loss"] for r in rows}
    seeds = sorted({r["seed"] for r in rows})
    ref = [by[(s, "aer exact (noiseless)")] for s in seeds]
    raw = [abs(by[(s, "fake_manila none")] - r) for s, r in zip(seeds, ref, strict=True)]
    out = []
    for mode in modes:
        if mode == "none":
            continue
        gap = [abs(by[(s, f"fake_manila {mode}")] - r) for s, r in zip(seeds, ref, strict=True)]
        cmp = compare_paired(
            raw,
            gap,
            names=("no mitigation", mode),
            metric="|test loss - noiseless test loss|",
            higher_is_better=False,
        )
        out.append(
            {
                "mode": mode,
                "gap_none": raw,
                "gap_mitigated": gap,
                "mean_difference": cmp.difference.mean,
                "ci": [cmp.difference.ci_low, cmp.difference.ci_high],
                "p_value": cmp.t_pvalue,
                "status": cmp.status,
                "conclusion": cmp.conclusion(),
            }
        )
    return out


def report(meta, errors, losses, compared, args, seconds) -> str:
    lines = ["## Error mitigation (readout M3, zero-noise extrapolation)", ""]
    lines.append(
        f"{seconds:.0f} s in all on a shared machine (2 cores used by 8 engineers at once: "
        "times are indicative; errors and losses are not affected)"
    )
    lines += ["", metadata_line(meta), ""]
    lines.append(
        "**Outputs**: `variational(4, 2)`, mean |<Z_i> - noiseless| over "
        f"{args.points} random inputs x 4 qubits (Statevector reference), ZNE scale factors "
        "1, 3, 5 with Richardson extrapolation; calibration from the device's noise model "
        "(free) unless shown:"
    )
    lines.append("")
    table = [
        (
            r["device"],
            "exact" if r["shots"] is None else f"{r['shots']:,}",
            r["mode"],
            f"{r['mean_abs_error']:.4f}",
            r["circuits_per_binding"],
            f"{r['executed_shots_per_binding']:,.0f}",
            f"{r['calibration_shots']:,}",
        )
        for r in errors
    ]
    lines.append(
        markdown_table(
            (
                "device",
                "shots",
                "mitigation",
                "mean abs error",
                "circuits / evaluation",
                "executed shots / evaluation",
                "calibration shots",
            ),
            table,
        )
    )
    lines += ["", f"**Training**: qnn on fake_manila (exact noisy), {args.epochs} epochs,"]
    lines[-1] += f" variational({args.qubits}, {args.layers}),"
    lines[-1] += f" {args.samples} samples, seeds {', '.join(map(str, args.seeds))}:"
    lines.append("")
    settings = list(dict.fromkeys(r["setting"] for r in losses))
    rows = []
    for setting in settings:
        values = [r["test_loss"] for r in losses if r["setting"] == setting]
        circuits = np.mean([r["circuits"] for r in losses if r["setting"] == setting])
        rows.append(
            (setting, ", ".join(f"{v:.4f}" for v in values), f"{np.mean(values):.4f}", circuits)
        )
    lines.append(markdown_table(("setting", "test loss per seed", "mean", "circuits / run"), rows))
    lines.append("")
    for c in compared:
        lo, hi = c["ci"]
        lines.append(
            f"- {c['mode']} vs none: gap to the noiseless loss reduced by "
            f"{c['mean_difference']:+.4f} on average (95% CI [{lo:+.4f}, {hi:+.4f}], paired t "
            f"p = {c['p_value']:.3g}; {c['status']}). {c['conclusion']}"
        )
    return "\n".join(lines)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--points", type=int, default=8)
    p.add_argument("--modes", nargs="+", default=["none", "readout", "readout+zne"])
    p.add_argument("--shots", type=int, default=4000)
    p.add_argument("--qubits", type=int, default=4, help="qnn circuit qubits")
    p.add_argument("--layers", type=int, default=2, help="qnn circuit layers")
    args = p.parse_args()
    if args.quick:
        args.seeds, args.epochs, args.samples, args.points = [0, 1], 1, 16, 2
        args.modes, args.qubits, args.layers = ["none", "readout"], 2, 1
    start = time.perf_counter()
    meta = machine_metadata()
    devices = DEVICES[:1] if args.quick else DEVICES
    errors = output_errors(devices, [None] if args.quick else [None, args.shots], args.points)
    modes = ["none", *[m for m in args.modes if m != "none"]]
    losses = qnn_losses(args.seeds, modes, args.epochs, args.samples, args.qubits, args.layers)
    compared = comparisons(losses, modes)
    seconds = time.perf_counter() - start
    text = report(meta, errors, losses, compared, args, seconds)
    payload = {"meta": meta, "errors": errors, "losses": losses, "comparisons": compared}
    emit(args, text, payload)
    if args.plot:
        fig, (ax,) = new_figure()
        for device in devices:
            exact = [r for r in errors if r["device"] == device and r["shots"] is None]
            ax.bar(
                [f"{device}\n{r['mode']}" for r in exact],
                [r["mean_abs_error"] for r in exact],
            )
        ax.set_ylabel("mean |<Z_i> - noiseless|")
        ax.tick_params(axis="x", labelsize=6)
        fig.tight_layout()
        fig.savefig(args.plot)


if __name__ == "__main__":
    main()
