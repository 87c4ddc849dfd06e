"""Error mitigation inside training: output error against noiseless values, and test loss.

Part 1, outputs: a ``variational(4, 2)`` layer at random inputs and weights on ``fake_manila``
(5 qubits) and ``fake_guadalupe`` (16 qubits), each Pauli ``<Z_i>`` against qiskit's
``Statevector`` (noiseless), with mitigation none / readout / zne / readout+zne, exact noisy
values (``shots=None``) and with shots; the shot cost of one evaluation (executed shots per
binding, calibration circuits counted separately).

Part 2, training: the qnn and textbook workflows on ``fake_manila`` (exact noisy values) with
each mitigation, seeds paired with the noiseless run of the same seed. The metric is the gap
``|test loss - noiseless test loss|`` per seed; mitigation vs none is a paired comparison (mean
difference of the gaps with its 95% CI, ``hybridqml.analysis.compare_paired``), reported
whatever the outcome. ``--engine torch`` (default) trains on the noisy torch engine
(``backend="torch", backend_options={"device": "fake_manila"}``: the same circuits, channels and
mitigated values as ``backend="fake_manila"``, checked to 1e-10 before training, and exact
backprop gradients of the mitigated values); ``--engine aer`` trains on ``backend="fake_manila"``
(parameter shift; exact through ZNE with the default per-copy rule). The shot cost of a
training setting is measured by a dry run of the same run on ``fake_manila`` with 1,000 shots
and parameter shift, as on a device: its executed shots over the unmitigated run's.

Usage::

    python benchmarks/mitigation_benchmark.py [--quick] [--seeds 0 1 2 3 4] [--epochs 8]
        [--samples 300] [--modes none readout zne readout+zne] [--engine torch|aer]
        [--workflows qnn textbook] [--textbook-per-class 100] [--textbook-epochs 3]
        [--skip-outputs] [--json OUT] [--markdown OUT] [--plot OUT.png]
"""

from __future__ import annotations

import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from _common import emit, machine_metadata, markdown_table, metadata_line, new_figure, parser
from qiskit.quantum_info import Statevector

import hybridqml as hq
from hybridqml.analysis import compare_paired
from hybridqml.workflows import QNNConfig, TextbookConfig, train_qnn, train_textbook

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


DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def _device(engine: str, mitigation: str | None) -> dict:
    """Backend settings of a fake_manila run on ``engine`` ("torch" or "aer")."""
    if engine == "torch":
        return {"backend": "torch", "backend_options": {"device": "fake_manila"}}
    return {"backend": "fake_manila"}


def check_engines_agree(modes) -> float:
    """Max |torch engine - fake_manila backend| of mitigated outputs (they must be equal)."""
    rng = np.random.default_rng(3)
    spec = hq.circuits.variational(4, 2)
    w = torch.tensor(rng.uniform(-np.pi, np.pi, spec.n_weights))
    x = torch.tensor(rng.uniform(-np.pi, np.pi, (4, 4)))
    worst = 0.0
    for mode in modes:
        m = None if mode == "none" else mode
        with torch.no_grad():
            a = hq.QuantumLayer(spec, mitigation=m, init=w, **_device("torch", m))(x)
            b = hq.QuantumLayer(spec, mitigation=m, init=w, **_device("aer", m))(x)
        worst = max(worst, float((a - b).abs().max()))
    if worst > 1e-10:
        raise SystemExit(f"the torch engine and fake_manila disagree by {worst:.2e}")
    return worst


def _workflow(workflow: str, args):
    """(train function, config factory with the workflow's settings, test-loss history key)."""
    if workflow == "qnn":
        settings = {"epochs": args.epochs, "n_samples": args.samples}
        settings |= {"n_qubits": args.qubits, "layers": args.layers}
        return train_qnn, partial(QNNConfig, **settings), "hybrid_test_loss"
    settings = {"epochs": args.textbook_epochs, "limit_per_class": args.textbook_per_class}
    settings |= {"data_dir": args.data_dir, "dataset": args.dataset}
    return train_textbook, partial(TextbookConfig, **settings), "test_loss"


_DEVICE_SHOTS: dict[tuple[str, str | None], int] = {}


def device_cost(workflow: str, mitigation: str | None, args) -> float:
    """Executed shots of the run on a device over the unmitigated run's (dry runs, cached).

    A device run takes parameter-shift gradients (ZNE: one binding per folded copy of a
    shifted rotation), 1,000 shots per binding; calibration circuits included.
    """
    _, config, _ = _workflow(workflow, args)
    for m in (None, mitigation):
        if (workflow, m) not in _DEVICE_SHOTS:
            with tempfile.TemporaryDirectory() as tmp:
                settings = {"seed": 0, "progress": False, "mitigation": m, "shots": 1000}
                run = config(out_dir=Path(tmp) / "dry", backend="fake_manila", **settings)
                _DEVICE_SHOTS[workflow, m] = hq.estimate_cost(run).total.executed_shots
    return _DEVICE_SHOTS[workflow, mitigation] / _DEVICE_SHOTS[workflow, None]


def train_losses(workflow: str, seeds, modes, engine: str, args) -> list[dict]:
    """Final test loss of ``workflow`` per seed and setting (noiseless first)."""
    settings = [("noiseless (exact)", {"backend": "torch"}, None)]
    settings += [
        (f"fake_manila {m}", _device(engine, m), None if m == "none" else m) for m in modes
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for label, backend, mitigation in settings:
                start = time.perf_counter()
                out_dir = Path(tmp) / f"{workflow}-{seed}-{label}"
                common = {"out_dir": out_dir, "seed": seed, "mitigation": mitigation}
                common |= {"progress": False, **backend}
                train, config, key = _workflow(workflow, args)
                with hq.Tracker() as tracker:
                    result = train(config(**common))
                loss = float(result.history[-1][key])
                rows.append(
                    {
                        "workflow": workflow,
                        "seed": seed,
                        "setting": label,
                        "test_loss": loss,
                        "circuits": tracker.circuits,
                        "cost_multiplier": device_cost(workflow, mitigation, args),
                        "seconds": time.perf_counter() - start,
                    }
                )
                print(f"{workflow} seed {seed} {label}: {loss:.4f}", flush=True)
    return rows


def comparisons(rows: list[dict], modes) -> list[dict]:
    """Paired: gap to noiseless without mitigation vs with it (positive: mitigation closer)."""
    out = []
    for workflow in dict.fromkeys(r["workflow"] for r in rows):
        mine = [r for r in rows if r["workflow"] == workflow]
        out += [c | {"workflow": workflow} for c in _compare(mine, modes)]
    return out


def _compare(rows: list[dict], modes) -> list[dict]:
    by = {(r["seed"], r["setting"]): r["test_loss"] for r in rows}
    seeds = sorted({r["seed"] for r in rows})
    ref = [by[(s, "noiseless (exact)")] for s in seeds]
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
        f"{seconds:.0f} s in all on a shared 2-core machine (load average in the line below: "
        "times are indicative; errors and losses are not affected)"
    )
    lines += ["", metadata_line(meta), ""]
    if errors:
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
    engine = (
        "the noisy torch engine (backend='torch', device fake_manila; backprop, exact gradients "
        f"of the mitigated values; its mitigated outputs equal backend='fake_manila' to "
        f"{args.agreement:.1e} in this run)"
        if args.engine == "torch"
        else "backend='fake_manila' (parameter shift)"
    )
    for workflow in dict.fromkeys(r["workflow"] for r in losses):
        mine = [r for r in losses if r["workflow"] == workflow]
        if workflow == "qnn":
            what = (
                f"qnn, {args.epochs} epochs, variational({args.qubits}, {args.layers}), "
                f"{args.samples} samples"
            )
        else:
            what = (
                f"textbook (MNIST 0 vs 1, {args.textbook_per_class} images per class, "
                f"{args.textbook_epochs} epochs)"
            )
        lines += [
            "",
            f"**Training**: {what} on fake_manila, exact noisy values, on {engine}; seeds "
            f"{', '.join(map(str, args.seeds))}. Shot cost: the executed shots the same run "
            "would send to a device (parameter shift, 1,000 shots per binding; ZNE: one "
            "circuit per scale factor forward, one binding per folded copy of a shifted "
            "rotation backward; readout calibration counted), over the unmitigated run's, "
            "from dry runs:",
            "",
        ]
        rows = []
        for setting in dict.fromkeys(r["setting"] for r in mine):
            values = [r["test_loss"] for r in mine if r["setting"] == setting]
            circuits = np.mean([r["cost_multiplier"] for r in mine if r["setting"] == setting])
            seconds = np.median([r["seconds"] for r in mine if r["setting"] == setting])
            rows.append(
                (
                    setting,
                    ", ".join(f"{v:.4f}" for v in values),
                    f"{np.mean(values):.4f}",
                    f"{circuits:.2f}x",
                    f"{seconds:.1f}",
                )
            )
        lines.append(
            markdown_table(
                (
                    "setting",
                    "test loss per seed",
                    "mean",
                    "shot cost",
                    "s / run (median)",
                ),
                rows,
            )
        )
        lines.append("")
        for c in compared:
            if c["workflow"] != workflow:
                continue
            lo, hi = c["ci"]
            lines.append(
                f"- {workflow}, {c['mode']} vs none: gap to the noiseless loss reduced by "
                f"{c['mean_difference']:+.4f} on average (95% CI [{lo:+.4f}, {hi:+.4f}], paired "
                f"t p = {c['p_value']:.3g}; {c['status']}). {c['conclusion']}"
            )
    return "\n".join(lines)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--points", type=int, default=8)
    p.add_argument("--modes", nargs="+", default=list(MODES))
    p.add_argument("--shots", type=int, default=4000)
    p.add_argument("--qubits", type=int, default=4, help="qnn circuit qubits")
    p.add_argument("--layers", type=int, default=2, help="qnn circuit layers")
    p.add_argument("--engine", choices=("torch", "aer"), default="torch")
    p.add_argument(
        "--workflows", nargs="+", choices=("qnn", "textbook"), default=["qnn", "textbook"]
    )
    p.add_argument("--textbook-per-class", type=int, default=100)
    p.add_argument("--textbook-epochs", type=int, default=3)
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--skip-outputs", action="store_true", help="training part only")
    args = p.parse_args()
    if args.quick:
        args.seeds, args.epochs, args.samples, args.points = [0, 1], 1, 16, 2
        args.modes, args.qubits, args.layers = ["none", "readout"], 2, 1
        args.textbook_per_class, args.textbook_epochs = 8, 1
    args.dataset = "mnist" if Path(args.data_dir).exists() else "digits"
    torch.set_num_threads(1)  # small tensors: one thread is fastest, and fair on a shared machine
    start = time.perf_counter()
    meta = machine_metadata()
    devices = DEVICES[:1] if args.quick else DEVICES
    errors = []
    if not args.skip_outputs:
        errors = output_errors(devices, [None] if args.quick else [None, args.shots], args.points)
    modes = ["none", *[m for m in args.modes if m != "none"]]
    args.agreement = check_engines_agree(modes) if args.engine == "torch" else 0.0
    losses = [
        row
        for workflow in args.workflows
        for row in train_losses(workflow, args.seeds, modes, args.engine, args)
    ]
    compared = comparisons(losses, modes)
    seconds = time.perf_counter() - start
    text = report(meta, errors, losses, compared, args, seconds)
    payload = {"meta": meta, "errors": errors, "losses": losses, "comparisons": compared}
    emit(args, text, payload)
    if args.plot and errors:
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
